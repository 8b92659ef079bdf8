"""Seeds of masked SLIC placed as scikit-image places them.

scikit-image's masked ``slic`` starts from centroids it draws inside the mask: a fixed
``numpy.random.RandomState(123)`` picks ``n_segments`` mask pixels (and a denser sample of
them), and five rounds of k-means (``scipy.cluster.vq.kmeans2``) spread the picks over the
mask. Segment numbers follow these centroids, so the drop-in draws the very same ones, with
numpy's generator and the library's k-means rounds (scipy, whose ``kmeans2`` scikit-image
calls, is not a dependency), and hands them to the library as seeds.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _tessera


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
    """Lloyd's k-means from ``centroids`` (the library's ``SlicSeeds::lloyd_rounds``, the
    same arithmetic as scipy's ``kmeans2``); a centroid that gets no point stays where it
    was, with scipy's warning."""
    out, empty = _tessera.lloyd_rounds(
        np.ascontiguousarray(data, dtype=np.float64),
        np.ascontiguousarray(centroids, dtype=np.float64),
        rounds,
    )
    if empty:
        warnings.warn(
            "One of the clusters is empty. Re-run kmeans with a different initialization.",
            UserWarning,
            stacklevel=4,
        )
    return out
