"""tessera: fast, deterministic superpixels, their metrics, region graphs and CRF labelling.

numpy arrays in, numpy arrays out. The top level holds tessera's own API with tessera's
defaults; :mod:`tessera.segmentation` is a drop-in for six functions of
``skimage.segmentation``.

>>> import numpy as np
>>> import tessera
>>> img = np.zeros((32, 32, 3), dtype=np.uint8)
>>> img[:, 16:] = 255
>>> labels = tessera.slic(img, n_segments=4)
>>> labels.shape, labels.dtype
((32, 32), dtype('int64'))
>>> bool((labels[:, :16, None] != labels[:, None, 16:]).all())
True
"""

from __future__ import annotations

import numpy as np

from . import _tessera, crf, metrics, segmentation
from ._convert import UNLABELLED, check_float, check_int, to_label_map, to_library_image

__all__ = [
    "slic",
    "kmeans",
    "meanshift",
    "felzenszwalb",
    "quickshift",
    "etps",
    "compare",
    "rag",
    "set_num_threads",
    "get_num_threads",
    "metrics",
    "crf",
    "segmentation",
]


def set_num_threads(n: int) -> None:
    """Sets how many threads tessera computes with (0: all cores).

    The default is the environment variable ``TESSERA_NUM_THREADS``, else all cores.
    Results do not depend on it.

    >>> import tessera
    >>> tessera.set_num_threads(2)
    >>> tessera.get_num_threads()
    2
    >>> tessera.set_num_threads(0)
    """
    _tessera.set_num_threads(check_int("n", n, 0))


def get_num_threads() -> int:
    """The number of threads tessera computes with."""
    return _tessera.get_num_threads()


def _labels(out: np.ndarray) -> np.ndarray:
    """uint32 labels from the library to int64, -1 outside a mask."""
    res = out.astype(np.int64)
    res[out == UNLABELLED] = -1
    return res


def _image(image, channel_axis):
    """(rows, columns, channels) or (slices, rows, columns, channels) for the library: a
    grey image or volume (``channel_axis=None``) gets a channel axis; a 2-D array is grey
    whatever ``channel_axis`` says."""
    a = np.asarray(image)
    if a.ndim == 2 or channel_axis is None:
        a = a[..., np.newaxis]
    else:
        a = np.moveaxis(a, channel_axis, -1)
    return to_library_image(a)


def slic(
    image,
    n_segments: int = 100,
    *,
    compactness: float = 10.0,
    max_iterations: int = 10,
    sigma: float = 0.0,
    spacing=(1.0, 1.0),
    convert_to_lab: bool | None = None,
    enforce_connectivity: bool = True,
    min_size_factor: float = 0.5,
    max_size_factor: float = 3.0,
    slic_zero: bool = False,
    perturb_seeds: bool = False,
    distance: str = "euclidean",
    subsample: int = 1,
    mask=None,
    channel_axis: int | None = -1,
) -> np.ndarray:
    """SLIC superpixels with tessera's defaults (CIELAB for grey and colour, merges of
    small fragments into the neighbour of nearest mean colour).

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        uint8 and uint16 are scaled to 0..1; floats are used as they are.
    n_segments : int
        About how many superpixels.
    compactness, max_iterations, sigma, spacing, convert_to_lab, enforce_connectivity,
    min_size_factor, max_size_factor, slic_zero, perturb_seeds, distance, subsample
        As the Rust library's ``Slic``.
    mask : (M, N) bool ndarray, optional
        Pixels to segment; the others get -1.
    channel_axis : int or None
        Where the channels are (``None``: a grey image).

    Returns
    -------
    labels : (M, N) ndarray of int64
        ``0..n`` (each used), -1 outside ``mask``.

    Examples
    --------
    >>> import numpy as np, tessera
    >>> int(tessera.slic(np.zeros((8, 8)), n_segments=1, channel_axis=None).max())
    0
    """
    m = None
    if mask is not None:
        m = np.ascontiguousarray(np.asarray(mask), dtype=bool)
    out = _tessera.slic(
        _image(image, channel_axis),
        n_segments=check_int("n_segments", n_segments, 1),
        compactness=check_float("compactness", compactness, 0.0, strict=True),
        max_iterations=check_int("max_iterations", max_iterations, 1),
        sigma=(check_float("sigma", sigma, 0.0),) * 3,
        spacing=_spacing3(spacing),
        convert_to_lab=convert_to_lab,
        enforce_connectivity=bool(enforce_connectivity),
        min_size_factor=check_float("min_size_factor", min_size_factor, 0.0),
        max_size_factor=check_float("max_size_factor", max_size_factor, 0.0, strict=True),
        slic_zero=bool(slic_zero),
        perturb_seeds=bool(perturb_seeds),
        distance=distance,
        subsample=check_int("subsample", subsample, 1),
        mask=m,
    )
    return _labels(out)


def _spacing3(spacing) -> tuple[float, float, float]:
    sp = tuple(check_float("spacing", v, 0.0, strict=True) for v in spacing)
    if len(sp) == 2:
        return (1.0, *sp)
    if len(sp) == 3:
        return sp
    raise ValueError(f"spacing must have 2 or 3 entries, got {len(sp)}")


def kmeans(image, n_segments: int = 400, *, channel_axis: int | None = -1, **params):
    """k-means superpixels (tessera's ``KMeans``; ``params``: compactness,
    max_iterations, tolerance, init="grid"|"k-means++", seed, enforce_connectivity,
    min_size_factor, max_size_factor).

    >>> import numpy as np, tessera
    >>> tessera.kmeans(np.zeros((16, 16)), n_segments=4, channel_axis=None).shape
    (16, 16)
    """
    return _labels(
        _tessera.kmeans(
            _image(image, channel_axis),
            n_segments=check_int("n_segments", n_segments, 1),
            **params,
        )
    )


def meanshift(image, *, channel_axis: int | None = -1, **params):
    """Mean-shift segmentation (tessera's ``MeanShift``; ``params``: hs, hr, min_size,
    max_iterations, tolerance, basin_speedup).

    >>> import numpy as np, tessera
    >>> int(tessera.meanshift(np.zeros((16, 16)), channel_axis=None).max())
    0
    """
    return _labels(_tessera.meanshift(_image(image, channel_axis), **params))


def felzenszwalb(
    image,
    n_segments: int | None = None,
    *,
    scale: float = 1.0,
    sigma: float = 0.8,
    min_size: int = 20,
    enforce_connectivity: bool = True,
    channel_axis: int | None = -1,
    return_scale: bool = False,
):
    """Felzenszwalb-Huttenlocher segmentation; with ``n_segments`` the scale is searched
    for about that many segments (``return_scale=True`` also returns the scale used).

    >>> import numpy as np, tessera
    >>> img = np.zeros((16, 16)); img[8:] = 1
    >>> labels, scale = tessera.felzenszwalb(img, 2, channel_axis=None, return_scale=True)
    >>> int(labels.max()) + 1
    2
    """
    out, used = _tessera.felzenszwalb(
        _image(image, channel_axis),
        scale=check_float("scale", scale, 0.0),
        sigma=check_float("sigma", sigma, 0.0),
        min_size=check_int("min_size", min_size, 0),
        n_segments=None if n_segments is None else check_int("n_segments", n_segments, 1),
        enforce_connectivity=bool(enforce_connectivity),
    )
    return (_labels(out), used) if return_scale else _labels(out)


def quickshift(image, *, channel_axis: int | None = -1, **params):
    """Quickshift (tessera's ``Quickshift``; ``params``: ratio, kernel_size, max_dist,
    sigma, convert_to_lab, seed, min_size, enforce_connectivity).

    >>> import numpy as np, tessera
    >>> int(tessera.quickshift(np.zeros((16, 16, 3)), kernel_size=2).max())
    0
    """
    return _labels(_tessera.quickshift(_image(image, channel_axis), **params))


def etps(image, n_segments: int = 400, *, channel_axis: int | None = -1, **params):
    """ETPS superpixels (tessera's ``Etps``; ``params``: compactness, boundary_weight,
    size_weight, min_size_factor, max_iterations, max_block_size).

    >>> import numpy as np, tessera
    >>> tessera.etps(np.zeros((16, 16, 3)), n_segments=4).shape
    (16, 16)
    """
    return _labels(
        _tessera.etps(
            _image(image, channel_axis),
            n_segments=check_int("n_segments", n_segments, 1),
            **params,
        )
    )


def compare(a, b) -> dict:
    """How far apart two label maps are, as ``tessera compare`` reports it.

    Returns a dict with ``changed_pixels``, ``changed_fraction``,
    ``variation_of_information``, ``adjusted_rand_index`` and ``changed`` (bool mask).

    >>> import numpy as np, tessera
    >>> tessera.compare(np.array([[0, 0, 1]]), np.array([[5, 5, 7]]))["changed_pixels"]
    0
    """
    return _tessera.compare(to_label_map(a, "a"), to_label_map(b, "b"))


def rag(image, labels, *, channel_axis: int | None = -1) -> dict:
    """The region adjacency graph of ``labels`` over ``image``, as numpy arrays.

    Returns a dict: ``edges`` (E, 2) node pairs ``a < b``; ``boundary_lengths`` (E,)
    4-neighbour pixel pairs across each edge; ``contrast`` (E,) squared CIELAB distance of
    the mean colours; ``sizes`` (N,); ``centroids`` (N, 2) as (row, column);
    ``mean_colours`` (N, 3) CIELAB; ``labels``, the label map renumbered ``0..N`` that
    the node indices refer to.

    >>> import numpy as np, tessera
    >>> g = tessera.rag(np.zeros((2, 4)), np.array([[0, 0, 1, 1], [0, 0, 1, 1]]),
    ...                 channel_axis=None)
    >>> g["edges"].tolist(), g["boundary_lengths"].tolist(), g["sizes"].tolist()
    ([[0, 1]], [2], [4, 4])
    """
    return _tessera.rag(_image(image, channel_axis), to_label_map(labels))
