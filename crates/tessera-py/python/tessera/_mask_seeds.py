"""Seeds of masked SLIC placed as scikit-image places them.

scikit-image's masked ``slic`` starts from centroids it draws inside the mask: a fixed
``numpy.random.RandomState(123)`` picks ``n_segments`` mask pixels (and a denser sample of
them), and five rounds of k-means (``scipy.cluster.vq.kmeans2``) spread the picks over the
mask. Segment numbers follow these centroids, so the drop-in draws the very same ones here,
with numpy alone (the k-means rounds are written out rather than taken from scipy, which is
not a dependency), and hands them to the library as seeds.
"""

from __future__ import annotations

import warnings

import numpy as np

# Distances computed per block of sample points, so that a block's (points x centroids)
# table stays near this many entries.
_BLOCK_ENTRIES = 1 << 22


def mask_centroids(mask: np.ndarray, n_segments: int, multichannel: bool) -> np.ndarray:
    """The starting centroids, ``(n, 3)`` (slice, row, column), of scikit-image's masked
    SLIC for a boolean ``mask`` of shape ``(slices, rows, columns)`` (one slice for an
    image)."""
    coord = np.array(np.nonzero(mask), dtype=float).T
    rng = np.random.RandomState(123)
    idx_full = np.arange(len(coord), dtype=int)
    idx = np.sort(rng.choice(idx_full, min(n_segments, len(coord)), replace=False))
    # scikit-image counts the channel axis out of a 3-axis mask when the image has one.
    ndim_spatial = mask.ndim - 1 if multichannel else mask.ndim
    n_dense = int((10**ndim_spatial) * n_segments)
    if len(coord) > n_dense:
        data = coord[np.sort(rng.choice(idx_full, n_dense, replace=False))]
    else:
        data = coord
    return _kmeans_rounds(data, coord[idx], rounds=5)


def _kmeans_rounds(data: np.ndarray, centroids: np.ndarray, rounds: int) -> np.ndarray:
    """Lloyd's k-means from ``centroids``: each point to its nearest centroid (the first of
    equal distances), each centroid to its points' mean; a centroid that gets no point
    stays where it was, with scipy's warning."""
    k = len(centroids)
    block = max(1, _BLOCK_ENTRIES // max(k, 1))
    for _ in range(rounds):
        nearest = np.empty(len(data), dtype=np.intp)
        for s in range(0, len(data), block):
            chunk = data[s : s + block]
            d = ((chunk[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
            nearest[s : s + block] = d.argmin(axis=1)
        counts = np.bincount(nearest, minlength=k)
        sums = np.stack(
            [np.bincount(nearest, weights=data[:, a], minlength=k) for a in range(data.shape[1])],
            axis=1,
        )
        has = counts > 0
        if not has.all():
            warnings.warn(
                "One of the clusters is empty. Re-run kmeans with a different initialization.",
                UserWarning,
                stacklevel=4,
            )
        new = centroids.copy()
        new[has] = sums[has] / counts[has, None]
        centroids = new
    return centroids
