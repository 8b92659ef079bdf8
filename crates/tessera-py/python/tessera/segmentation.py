"""Drop-in replacements for six functions of ``skimage.segmentation`` (scikit-image 0.26).

Replace ``from skimage import segmentation`` by ``from tessera import segmentation``: the
signatures, defaults, accepted inputs, return dtypes and shapes, errors and warnings are
scikit-image's, and the work is done by tessera's Rust library. tessera's own improvements
are extra keyword-only arguments (``distance="manhattan"``, ``subsample``).

>>> import numpy as np
>>> from tessera import segmentation
>>> img = np.zeros((20, 20, 3))
>>> img[:, 10:] = 1.0
>>> labels = segmentation.slic(img, n_segments=4, start_label=1)
>>> labels.dtype, labels.shape, int(labels.min()), int(labels.max())
(dtype('int64'), (20, 20), 1, 4)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from . import _tessera
from ._convert import UNLABELLED, native
from ._mask_seeds import mask_centroids

__all__ = [
    "slic",
    "felzenszwalb",
    "quickshift",
    "mark_boundaries",
    "find_boundaries",
    "relabel_sequential",
]


# --- helpers -------------------------------------------------------------------------


def _supported_float_type(dtype) -> np.dtype:
    """float16 computes as float32, every other float keeps its type, the rest float64."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype.kind == "f":
        return dtype
    return np.dtype(np.float64)


def _as_float(image: np.ndarray) -> np.ndarray:
    """scikit-image's ``img_as_float``: integers scaled by their dtype's maximum (signed
    ones to -1..1), bool to 0/1, floats kept."""
    a = native(np.asarray(image))
    if a.dtype.kind == "f":
        return a
    if a.dtype == np.bool_:
        return a.astype(np.float64)
    if a.dtype.kind == "u":
        return a.astype(np.float64) * (1.0 / np.iinfo(a.dtype).max)
    if a.dtype.kind == "i":
        out = a.astype(np.float64) * (1.0 / np.iinfo(a.dtype).max)
        return np.maximum(out, -1.0)
    raise TypeError(f"image must have a numeric dtype, got {a.dtype}")


def _gaussian(a: np.ndarray, sigmas) -> np.ndarray:
    """Separable Gaussian smoothing along the first ``len(sigmas)`` axes, reflecting at the
    borders (the half-sample symmetric extension) and truncating the kernel at 4 sigma."""
    out = np.asarray(a, dtype=np.float64)
    for axis, s in enumerate(sigmas):
        s = float(s)
        if s <= 0:
            continue
        radius = int(4.0 * s + 0.5)
        x = np.arange(-radius, radius + 1, dtype=np.float64)
        kernel = np.exp(-0.5 * (x / s) ** 2)
        kernel /= kernel.sum()
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="symmetric")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for i, k in enumerate(kernel):
            acc += k * np.take(padded, np.arange(i, i + n), axis=axis)
        out = acc
    return out


def _channels_last(image: np.ndarray, channel_axis) -> np.ndarray:
    if channel_axis is None:
        return image[..., np.newaxis]
    if not isinstance(channel_axis, (int, np.integer)) or isinstance(channel_axis, bool):
        raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
    if not -image.ndim <= channel_axis < image.ndim:
        raise ValueError(
            f"channel_axis={channel_axis} is out of range for an image of {image.ndim} dimensions"
        )
    return np.moveaxis(image, channel_axis, -1)


def _spacing_and_sigmas(spacing, sigma, is_2d: bool, float_dtype, stacklevel: int = 2):
    """slic's ``spacing`` and ``sigma`` as ``[slices, rows, columns]`` float arrays, as
    scikit-image makes them (with its warnings and errors; ``stacklevel`` points the
    warnings at the user's call). Shared with :mod:`tessera.dask`."""
    if spacing is None:
        spacing = np.ones(3)
    elif isinstance(spacing, Iterable):
        spacing = np.asarray(spacing, dtype=float_dtype).astype(float)
        if is_2d:
            if spacing.size == 3:
                warnings.warn(
                    "Input image is 2D: spacing number of elements must be 2. In the "
                    "future, a ValueError will be raised.",
                    FutureWarning,
                    stacklevel=stacklevel,
                )
            elif spacing.size == 2:
                spacing = np.insert(spacing, 0, 1.0)
            else:
                raise ValueError(
                    f"Input image is 2D, but spacing has {spacing.size} elements (expected 2)."
                )
        elif spacing.size != 3:
            raise ValueError(
                f"Input image is 3D, but spacing has {spacing.size} elements (expected 3)."
            )
    else:
        raise TypeError("spacing must be None or iterable.")
    if np.isscalar(sigma):
        sigmas = np.array([sigma, sigma, sigma], dtype=float) / spacing
    elif isinstance(sigma, Iterable):
        sigmas = np.asarray(sigma, dtype=float)
        if is_2d:
            if sigmas.size == 3:
                warnings.warn(
                    "Input image is 2D: sigma number of elements must be 2. In the future, "
                    "a ValueError will be raised.",
                    FutureWarning,
                    stacklevel=stacklevel,
                )
            elif sigmas.size == 2:
                sigmas = np.insert(sigmas, 0, 0.0)
            else:
                raise ValueError(
                    f"Input image is 2D, but sigma has {sigmas.size} elements (expected 2)."
                )
        elif sigmas.size != 3:
            raise ValueError(
                f"Input image is 3D, but sigma has {sigmas.size} elements (expected 3)."
            )
    else:
        raise TypeError(f"sigma must be a number or a sequence, got {sigma!r}")
    if np.any(spacing <= 0) or not np.all(np.isfinite(spacing)):
        raise ValueError(f"spacing must be finite and > 0, got {spacing.tolist()}")
    return spacing, sigmas


# --- slic ----------------------------------------------------------------------------


def slic(
    image,
    n_segments=100,
    compactness=10.0,
    max_num_iter=10,
    sigma=0,
    spacing=None,
    convert2lab=None,
    enforce_connectivity=True,
    min_size_factor=0.5,
    max_size_factor=3,
    slic_zero=False,
    start_label=1,
    mask=None,
    *,
    channel_axis=-1,
    distance="euclidean",
    subsample=1,
):
    """Segments an image with k-means clustering in colour-(x, y) space (SLIC).

    scikit-image's ``skimage.segmentation.slic``, computed by tessera.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        Grey or multichannel image (any numeric dtype). It is rescaled to 0..1 first
        (masked values ignored).
    n_segments : int, optional
        The approximate number of labels.
    compactness : float, optional
        Balances colour proximity and space proximity; higher is more square.
    max_num_iter : int, optional
        Iterations of k-means.
    sigma : float or array-like, optional
        Width of a Gaussian smoothing kernel per axis (scalar: divided by `spacing`).
    spacing : array-like of 2 floats, optional
        Pixel spacing along each spatial axis (default 1).
    convert2lab : bool, optional
        Cluster in CIELAB; ``None`` converts 3-channel images only.
    enforce_connectivity : bool, optional
        Make every segment connected.
    min_size_factor, max_size_factor : float, optional
        Segments smaller than ``min_size_factor`` times the nominal size are merged,
        and larger than ``max_size_factor`` times it are cut.
    slic_zero : bool, optional
        SLIC-zero (adaptive compactness).
    start_label : int, optional
        0 or 1: the first label.
    mask : (M, N) ndarray, optional
        Only pixels where it is true are segmented; the others get label 0.
    channel_axis : int or None, optional
        The channel axis; ``None`` for a grey image.
    distance : {"euclidean", "manhattan"}, keyword-only
        tessera extra: "manhattan" uses fast-slic's city-block distance.
    subsample : int, keyword-only
        tessera extra: row subsampling of the iterations (1 = exact SLIC).

    Returns
    -------
    labels : (M, N) ndarray of int64

    Examples
    --------
    >>> import numpy as np
    >>> from tessera.segmentation import slic
    >>> img = np.zeros((10, 10))
    >>> img[:, 5:] = 1
    >>> slic(img, n_segments=4, channel_axis=None, start_label=0)[0]
    array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    image = np.asarray(image)
    if image.ndim == 2 and channel_axis is not None:
        raise ValueError(
            f"channel_axis={channel_axis} indicates multichannel, which is not "
            "supported for a two-dimensional image; use channel_axis=None if "
            "the image is grayscale"
        )
    if start_label not in [0, 1]:
        raise ValueError("start_label should be 0 or 1.")
    fast = _slic_8bit_colour(
        image,
        n_segments,
        compactness,
        max_num_iter,
        sigma,
        spacing,
        convert2lab,
        enforce_connectivity,
        min_size_factor,
        max_size_factor,
        slic_zero,
        start_label,
        mask,
        channel_axis,
        distance,
        subsample,
    )
    if fast is not None:
        return fast
    # 8- and 16-bit images stay integers until their feed is made through a table of their
    # levels (below): the same values as scaling every sample, for a fraction of the work.
    raw = native(image)
    levels = raw.dtype in (np.dtype(np.uint8), np.dtype(np.uint16))
    image = raw if levels else _as_float(image)
    float_dtype = _supported_float_type(image.dtype)
    multichannel = channel_axis is not None
    img = _channels_last(image, channel_axis)
    is_2d = img.ndim == 3
    if img.ndim not in (3, 4):
        raise ValueError(
            f"slic takes a 2-D or 3-D image (with channel_axis, one more axis), got "
            f"{image.ndim} dimensions"
        )
    spatial = img.shape[:-1]
    if mask is not None:
        mask = np.ascontiguousarray(native(np.asarray(mask)), dtype=bool)
        if mask.shape != spatial:
            raise ValueError("image and mask should have the same shape.")
        values = img[mask]
    else:
        values = img
    if values.size == 0:
        raise ValueError("the mask selects no pixel")
    imin = values.min()
    imax = values.max()
    if levels:
        # `_as_float` of every level; its scaling is increasing, so it maps the extremes to
        # the extremes.
        scaled = _as_float(np.arange(np.iinfo(raw.dtype).max + 1, dtype=raw.dtype))
        imin, imax = scaled[imin], scaled[imax]
    if np.isnan(imin):
        raise ValueError("unmasked NaN values in image are not supported")
    if np.isinf(imin) or np.isinf(imax):
        raise ValueError("unmasked infinite values in image are not supported")

    channels = img.shape[-1]
    lab = False
    if multichannel and (convert2lab or convert2lab is None):
        if channels != 3 and convert2lab:
            raise ValueError("Lab colorspace conversion requires a RGB image.")
        lab = channels == 3

    spacing, sigmas = _spacing_and_sigmas(spacing, sigma, is_2d, float_dtype, stacklevel=3)

    # The image the library sees: rescaled to 0..1 jointly (as scikit-image), smoothed
    # here when asked.
    smooth = sigmas[1:] if is_2d else sigmas
    smoothing = bool((smooth > 0).any())
    if levels and not smoothing:
        # Each level rescaled once, by the very operations the samples would get.
        table = scaled - imin
        if imax != imin:
            table /= imax - imin
        feed = np.take(table.astype(np.float32), img)
    else:
        feed = _as_float(img) if levels else img.astype(np.float64, copy=True)
        feed -= imin
        if imax != imin:
            feed /= imax - imin
        if smoothing:
            feed = _gaussian(feed, smooth)
    if mask is not None:
        # Values outside the mask take no part; NaN or infinity there is allowed.
        feed[~mask] = 0.0
    feed = feed.astype(np.float32, copy=False)
    n_segments = int(n_segments)
    if n_segments < 1:
        raise ValueError(f"n_segments must be >= 1, got {n_segments}")
    # With a mask, the centroids start where scikit-image's start (drawn in the mask, then
    # settled by position alone), so that segments come out under its numbers; the library
    # works on the mask's bounding box, the pixels outside it taking no part.
    box = None
    lib_mask = None
    seeds = None
    if mask is not None:
        mask3 = mask if mask.ndim == 3 else mask[np.newaxis]
        seeds = mask_centroids(mask3, n_segments, multichannel)
        box = tuple(
            slice(idx[0], idx[-1] + 1)
            for idx in (
                np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != ax)))
                for ax in range(mask.ndim)
            )
        )
        feed = np.ascontiguousarray(feed[box])
        lib_mask = np.ascontiguousarray(mask[box])
        offset = [0.0] + [float(b.start) for b in box] if is_2d else [float(b.start) for b in box]
        seeds = np.ascontiguousarray(seeds - np.asarray(offset), dtype=np.float64)
    labels = _tessera.slic(
        feed,
        n_segments=n_segments,
        compactness=float(compactness),
        max_iterations=int(max_num_iter),
        sigma=(0.0, 0.0, 0.0),
        spacing=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
        convert_to_lab=lab,
        enforce_connectivity=bool(enforce_connectivity),
        min_size_factor=float(min_size_factor),
        max_size_factor=float(max_size_factor),
        slic_zero=bool(slic_zero),
        distance=distance,
        subsample=int(subsample),
        mask=lib_mask,
        seeds=seeds,
        settle_seeds=seeds is not None,
    )
    if box is not None:
        full = np.full(mask.shape, UNLABELLED, dtype=labels.dtype)
        full[box] = labels
        labels = full
    return _finish(labels, start_label, mask is not None)


def _slic_8bit_colour(
    image,
    n_segments,
    compactness,
    max_num_iter,
    sigma,
    spacing,
    convert2lab,
    enforce_connectivity,
    min_size_factor,
    max_size_factor,
    slic_zero,
    start_label,
    mask,
    channel_axis,
    distance,
    subsample,
):
    """The common case without a copy: an 8-bit RGB image spanning 0..255, no mask, no
    smoothing, unit spacing. scikit-image's rescale to 0..1 is then its 8-bit scaling,
    which the library applies itself (with exact 8-bit colour tables); ``None`` when the
    call is not of that kind."""
    if not (
        image.dtype == np.uint8
        and image.ndim == 3
        and channel_axis is not None
        and mask is None
        and spacing is None
        and np.isscalar(sigma)
        and sigma == 0
        and convert2lab in (None, True)
        and isinstance(n_segments, (int, np.integer))
        and n_segments >= 1
    ):
        return None
    img = _channels_last(image, channel_axis)
    if img.shape[-1] != 3 or img.size == 0 or img.min() != 0 or img.max() != 255:
        return None
    labels = _tessera.slic(
        img,
        n_segments=int(n_segments),
        compactness=float(compactness),
        max_iterations=int(max_num_iter),
        sigma=(0.0, 0.0, 0.0),
        spacing=(1.0, 1.0, 1.0),
        convert_to_lab=True,
        enforce_connectivity=bool(enforce_connectivity),
        min_size_factor=float(min_size_factor),
        max_size_factor=float(max_size_factor),
        slic_zero=bool(slic_zero),
        distance=distance,
        subsample=int(subsample),
    )
    return _int64_labels(labels, start_label)


def _finish(labels: np.ndarray, start_label: int, masked: bool) -> np.ndarray:
    if masked:
        out = np.add(labels, 1, dtype=np.int64)
        out[labels == UNLABELLED] = 0
        return out
    return _int64_labels(labels, start_label)


def _int64_labels(labels: np.ndarray, start_label: int) -> np.ndarray:
    """``labels`` as int64 from ``start_label`` on, in one pass."""
    if start_label:
        return np.add(labels, start_label, dtype=np.int64)
    return labels.astype(np.int64)


# --- felzenszwalb --------------------------------------------------------------------


def felzenszwalb(image, scale=1, sigma=0.8, min_size=20, *, channel_axis=-1):
    """Felzenszwalb and Huttenlocher's graph-based segmentation.

    scikit-image's ``skimage.segmentation.felzenszwalb``, computed by tessera.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        Input image.
    scale : float
        Free parameter; higher means larger clusters.
    sigma : float
        Width (standard deviation) of the Gaussian pre-smoothing.
    min_size : int
        Minimum component size, enforced by post-processing.
    channel_axis : int or None, optional
        The channel axis; ``None`` for a grey image.

    Returns
    -------
    segment_mask : (M, N) ndarray of int64

    Examples
    --------
    >>> import numpy as np
    >>> from tessera.segmentation import felzenszwalb
    >>> img = np.zeros((10, 10))
    >>> img[5:] = 1
    >>> len(np.unique(felzenszwalb(img, sigma=0, min_size=5)))
    2
    """
    image = np.asarray(image)
    if channel_axis is None and image.ndim > 2:
        raise ValueError("This algorithm works only on single or multi-channel 2d images. ")
    if image.ndim == 2:
        img = image[..., np.newaxis]
    else:
        img = _channels_last(image, channel_axis)
    if img.ndim != 3:
        raise ValueError("This algorithm works only on single or multi-channel 2d images. ")
    if img.shape[-1] > 3:
        warnings.warn(
            f"Got image with third dimension of {img.shape[-1]}. This image will be "
            "interpreted as a multichannel 2d image, which may not be intended.",
            RuntimeWarning,
            stacklevel=2,
        )
    feed = _as_float(img).astype(np.float32)
    if not np.isfinite(feed).all():
        raise ValueError("image holds NaN or infinite values")
    labels, _ = _tessera.felzenszwalb(
        feed,
        scale=float(scale),
        sigma=float(sigma),
        min_size=int(min_size),
        enforce_connectivity=False,
    )
    return labels.astype(np.int64)


# --- quickshift ----------------------------------------------------------------------


def quickshift(
    image,
    ratio=1.0,
    kernel_size=5,
    max_dist=10,
    return_tree=False,
    sigma=0,
    convert2lab=True,
    rng=42,
    *,
    channel_axis=-1,
):
    """Quickshift mode-seeking segmentation in colour-(x, y) space.

    scikit-image's ``skimage.segmentation.quickshift``, computed by tessera.

    Parameters
    ----------
    image : (M, N, C) ndarray
        Input image.
    ratio : float, optional
        Between 0 and 1: the weight of colour against space.
    kernel_size : float, optional
        Width of the Gaussian kernel of the density estimate.
    max_dist : float, optional
        Cut-off of the links between pixels.
    return_tree : bool, optional
        Also return the forest (the parent of every pixel, flat index).
    sigma : float, optional
        Width of a Gaussian pre-smoothing.
    convert2lab : bool, optional
        Convert to CIELAB first (needs 3 channels).
    rng : int, optional
        Seed of the tie-breaking order.
    channel_axis : int or None, optional
        The channel axis.

    Returns
    -------
    segment_mask : (M, N) ndarray of int64

    Examples
    --------
    >>> import numpy as np
    >>> from tessera.segmentation import quickshift
    >>> img = np.zeros((10, 10, 3))
    >>> img[5:] = 1
    >>> len(np.unique(quickshift(img, kernel_size=2, max_dist=3)))
    2
    """
    image = _as_float(np.asarray(image))
    img = _channels_last(image, channel_axis) if image.ndim > 2 else image[..., None]
    if img.ndim > 3:
        raise ValueError("Only 2D color images are supported")
    if convert2lab and img.shape[-1] != 3:
        raise ValueError("Only RGB images can be converted to Lab space.")
    if kernel_size < 1:
        raise ValueError("`kernel_size` should be >= 1.")
    seed = 42 if rng is None else rng
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"rng must be an integer seed, got {rng!r}")
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    parent = _tessera.quickshift_forest(
        img.astype(np.float32),
        ratio=float(ratio),
        sigma=sigma,
        kernel_size=float(kernel_size),
        max_dist=float(max_dist),
        convert_to_lab=bool(convert2lab),
        seed=int(seed) & 0xFFFF_FFFF_FFFF_FFFF,
    ).astype(np.int64)
    # Segments are the trees, numbered in the order of their roots' indices (as
    # scikit-image numbers them).
    roots = parent
    while True:
        up = roots[roots]
        if np.array_equal(up, roots):
            break
        roots = up
    labels = np.unique(roots, return_inverse=True)[1].reshape(img.shape[:2])
    if return_tree:
        return labels, parent.reshape(img.shape[:2])
    return labels


# --- boundaries ----------------------------------------------------------------------


def _shifted(a: np.ndarray, offset, fill) -> np.ndarray:
    """``a`` moved by ``offset`` (one int per axis), ``fill`` where nothing moves in."""
    out = np.full_like(a, fill)
    src = []
    dst = []
    for o, n in zip(offset, a.shape, strict=True):
        if o >= 0:
            src.append(slice(0, n - o))
            dst.append(slice(o, n))
        else:
            src.append(slice(-o, n))
            dst.append(slice(0, n + o))
    out[tuple(dst)] = a[tuple(src)]
    return out


def _offsets(ndim: int, connectivity: int):
    grid = np.indices((3,) * ndim).reshape(ndim, -1).T - 1
    return [tuple(o) for o in grid if np.abs(o).sum() <= connectivity]


def _dilate(a: np.ndarray, offsets) -> np.ndarray:
    lo = np.iinfo(a.dtype).min if a.dtype.kind in "iu" else -np.inf
    out = a.copy()
    for o in offsets:
        np.maximum(out, _shifted(a, o, lo), out=out)
    return out


def _erode(a: np.ndarray, offsets) -> np.ndarray:
    hi = np.iinfo(a.dtype).max if a.dtype.kind in "iu" else np.inf
    out = a.copy()
    for o in offsets:
        np.minimum(out, _shifted(a, o, hi), out=out)
    return out


def find_boundaries(label_img, connectivity=1, mode="thick", background=0):
    """The boundaries between labelled regions, as a boolean array.

    scikit-image's ``skimage.segmentation.find_boundaries``.

    Parameters
    ----------
    label_img : ndarray of int or bool
        The label image.
    connectivity : int in 1..label_img.ndim, optional
        Which neighbours count (1: the 4-neighbourhood in 2-D).
    mode : {"thick", "inner", "outer", "subpixel"}, optional
        Which pixels of a boundary are marked.
    background : int, optional
        The background label, for "inner" and "outer".

    Returns
    -------
    boundaries : ndarray of bool
        The same shape as ``label_img`` (for "subpixel", ``2 * n - 1`` along each axis).

    Examples
    --------
    >>> import numpy as np
    >>> from tessera.segmentation import find_boundaries
    >>> find_boundaries(np.array([[0, 0, 1, 1]])).astype(int)
    array([[0, 1, 1, 0]])
    """
    label_img = native(np.asarray(label_img))
    if label_img.dtype == np.bool_:
        label_img = label_img.astype(np.uint8)
    ndim = label_img.ndim
    if mode not in ("thick", "inner", "outer", "subpixel"):
        raise ValueError(f"mode must be 'thick', 'inner', 'outer' or 'subpixel', got {mode!r}")
    if mode == "subpixel":
        return _subpixel_boundaries(label_img)
    fp = _offsets(ndim, connectivity)
    boundaries = _dilate(label_img, fp) != _erode(label_img, fp)
    if mode == "inner":
        boundaries &= label_img != background
    elif mode == "outer":
        max_label = np.iinfo(label_img.dtype).max if label_img.dtype.kind in "iu" else np.inf
        background_image = label_img == background
        full = _offsets(ndim, ndim)
        inverted = np.array(label_img, copy=True)
        inverted[background_image] = max_label
        adjacent = (_dilate(label_img, full) != _erode(inverted, full)) & ~background_image
        boundaries &= background_image | adjacent
    return boundaries


def _subpixel_boundaries(label_img: np.ndarray) -> np.ndarray:
    """Boundaries on the grid with one point interposed between every two pixels: an
    interposed point is a boundary when the pixels of its 3x3 window (edges replicated)
    hold more than one label."""
    ndim = label_img.ndim
    shape = tuple(2 * s - 1 for s in label_img.shape)
    pixels = (slice(None, None, 2),) * ndim
    lo = np.full(shape, np.inf)
    lo[pixels] = label_img
    hi = np.full(shape, -np.inf)
    hi[pixels] = label_img
    lo = np.pad(lo, 1, mode="edge")
    hi = np.pad(hi, 1, mode="edge")
    wmin = np.full(shape, np.inf)
    wmax = np.full(shape, -np.inf)
    for o in np.indices((3,) * ndim).reshape(ndim, -1).T:
        sl = tuple(slice(int(x), int(x) + s) for x, s in zip(o, shape, strict=True))
        np.minimum(wmin, lo[sl], out=wmin)
        np.maximum(wmax, hi[sl], out=wmax)
    interposed = np.ones(shape, dtype=bool)
    interposed[pixels] = False
    return interposed & (wmin != wmax)


def mark_boundaries(
    image,
    label_img,
    color=(1, 1, 0),
    outline_color=None,
    mode="outer",
    background_label=0,
):
    """The image with the boundaries between labelled regions drawn in ``color``.

    scikit-image's ``skimage.segmentation.mark_boundaries``.

    Parameters
    ----------
    image : (M, N[, 3]) ndarray
        Grey or RGB image.
    label_img : (M, N) ndarray of int
        Label array.
    color : length-3 sequence, optional
        RGB colour of the boundaries (0..1).
    outline_color : length-3 sequence, optional
        When given, boundaries are surrounded by a one-pixel outline of this colour.
    mode : str, optional
        As :func:`find_boundaries`.
    background_label : int, optional
        As ``background`` in :func:`find_boundaries`.

    Returns
    -------
    marked : (M, N, 3) ndarray of float
        float32 for float16/float32 input, else float64 (``2M - 1, 2N - 1`` for
        "subpixel").

    Examples
    --------
    >>> import numpy as np
    >>> from tessera.segmentation import mark_boundaries
    >>> out = mark_boundaries(np.zeros((1, 4)), np.array([[0, 0, 1, 1]]), mode="thick")
    >>> out[0, :, 0]
    array([0., 1., 1., 0.])
    """
    image = np.asarray(image)
    float_dtype = _supported_float_type(image.dtype)
    marked = np.array(_as_float(image), dtype=float_dtype, copy=True)
    if marked.ndim == 2:
        marked = np.stack([marked] * 3, axis=-1)
    if mode == "subpixel":
        marked = _upsample(marked)
    boundaries = find_boundaries(label_img, mode=mode, background=background_label)
    if outline_color is not None:
        outlines = _dilate(boundaries.astype(np.uint8), _offsets(2, 2)).astype(bool)
        marked[outlines] = outline_color
    marked[boundaries] = color
    return marked


def _mirrored(coef: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``coef[k]`` along the first axis, indices mirrored about both ends."""
    n = coef.shape[0]
    k = np.abs(k)
    k = np.where(k > n - 1, 2 * (n - 1) - k, k)
    return coef[k]


def _upsample(marked: np.ndarray) -> np.ndarray:
    """Interposes one line of pixels between every two along the spatial axes, filled by
    cubic B-spline interpolation with mirrored borders (what scikit-image gets from
    ``scipy.ndimage.zoom(..., mode="mirror")``): original pixels keep their values, an
    interposed one is ``(c[i-1] + 23 c[i] + 23 c[i+1] + c[i+2]) / 48`` of the spline
    coefficients ``c`` of its line."""
    out = np.asarray(marked, dtype=np.float64)
    for axis in range(marked.ndim - 1):
        n = out.shape[axis]
        if n == 1:
            continue
        # Spline coefficients: (c[i-1] + 4 c[i] + c[i+1]) / 6 = f[i], with c[-1] = c[1] and
        # c[n] = c[n-2] (whole-sample mirror), solved as a small dense system.
        system = np.zeros((n, n))
        i = np.arange(n)
        system[i, i] = 4.0
        system[i[1:], i[:-1]] = 1.0
        system[i[:-1], i[1:]] = 1.0
        system[0, 1] = 2.0
        system[n - 1, n - 2] = 2.0
        moved = np.moveaxis(out, axis, 0)
        coef = np.linalg.solve(system / 6.0, moved.reshape(n, -1)).reshape(moved.shape)

        j = np.arange(n - 1)
        mid = (
            _mirrored(coef, j - 1)
            + 23.0 * _mirrored(coef, j)
            + 23.0 * _mirrored(coef, j + 1)
            + _mirrored(coef, j + 2)
        ) / 48.0
        up = np.empty((2 * n - 1,) + moved.shape[1:])
        up[0::2] = moved
        up[1::2] = mid
        out = np.moveaxis(up, 0, axis)
    return out.astype(marked.dtype, copy=False)


# --- relabel_sequential --------------------------------------------------------------


class ArrayMap:
    """A map from one array of values to another, as scikit-image's ``ArrayMap``.

    ``m[x]`` maps the values of ``x`` (those not in ``in_values`` map to 0), and
    ``np.asarray(m)`` is the dense lookup table of length ``max(in_values) + 1``.
    """

    def __init__(self, in_values, out_values):
        self.in_values = np.asarray(in_values)
        self.out_values = np.asarray(out_values)
        self._max_str_lines = 4
        self._array = None

    def __len__(self):
        return int(np.max(self.in_values)) + 1 if self.in_values.size else 0

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            dtype = self.out_values.dtype
        output = np.zeros(len(self), dtype=dtype)
        output[self.in_values] = self.out_values
        return output

    @property
    def dtype(self):
        return self.out_values.dtype

    def __repr__(self):
        return f"ArrayMap(\n    {self.in_values!r},\n    {self.out_values!r}\n)"

    def __str__(self):
        rows = [f"{i} → {o}" for i, o in zip(self.in_values, self.out_values, strict=True)]
        if len(rows) > self._max_str_lines:
            half = self._max_str_lines // 2
            rows = rows[:half] + ["..."] + rows[-half:]
        return "ArrayMap:\n  " + "\n  ".join(rows)

    def __call__(self, arr):
        return self.__getitem__(arr)

    def __getitem__(self, index):
        scalar = np.isscalar(index)
        if scalar:
            index = np.array([index])
        elif isinstance(index, slice):
            start = index.start or 0
            stop = index.stop if index.stop is not None else len(self)
            step = index.step
            index = np.arange(start, stop, step)
        index = np.asarray(index)
        if index.dtype == np.bool_:
            index = np.flatnonzero(index)
        out = _map_values(index, self.in_values, self.out_values)
        return out[0] if scalar else out

    def __setitem__(self, indices, values):
        if self._array is None:
            self._array = self.__array__()
        self._array[indices] = values
        self.in_values = np.flatnonzero(self._array)
        self.out_values = self._array[self.in_values]


def _map_values(arr, in_vals, out_vals, out=None):
    arr = np.asarray(arr)
    order = np.argsort(in_vals, kind="stable")
    sorted_in = np.asarray(in_vals)[order]
    sorted_out = np.asarray(out_vals)[order]
    flat = arr.ravel()
    pos = np.searchsorted(sorted_in, flat)
    pos_c = np.minimum(pos, max(len(sorted_in) - 1, 0))
    found = (
        (pos < len(sorted_in)) & (sorted_in[pos_c] == flat)
        if len(sorted_in)
        else (np.zeros(flat.shape, bool))
    )
    if out is None:
        out = np.zeros(arr.shape, dtype=sorted_out.dtype)
    res = np.zeros(flat.shape, dtype=out.dtype)
    if len(sorted_in):
        res[found] = sorted_out[pos_c[found]]
    out.reshape(-1)[...] = res
    return out


def relabel_sequential(label_field, offset=1):
    """Relabels arbitrary labels to ``offset, offset + 1, ...`` (0 stays 0).

    scikit-image's ``skimage.segmentation.relabel_sequential``.

    Parameters
    ----------
    label_field : ndarray of int
        Non-negative labels.
    offset : int, optional
        The first label given (> 0).

    Returns
    -------
    relabeled : ndarray of int
    forward_map : ArrayMap
        From the original labels to the new ones.
    inverse_map : ArrayMap
        From the new labels to the original ones.

    Examples
    --------
    >>> import numpy as np
    >>> from tessera.segmentation import relabel_sequential
    >>> relab, fw, inv = relabel_sequential(np.array([1, 1, 5, 5, 8, 99, 42]))
    >>> relab
    array([1, 1, 2, 2, 3, 5, 4])
    """
    if offset <= 0:
        raise ValueError("Offset must be strictly positive.")
    label_field = native(np.asarray(label_field))
    if label_field.size and np.min(label_field) < 0:
        raise ValueError("Cannot relabel array that contains negative values.")
    offset = int(offset)
    in_vals = np.unique(label_field)
    if in_vals.size and in_vals[0] == 0:
        out_vals = np.concatenate([[0], np.arange(offset, offset + len(in_vals) - 1)])
    else:
        out_vals = np.arange(offset, offset + len(in_vals))
    input_type = label_field.dtype
    if input_type.kind not in "iu":
        raise TypeError("label_field must have an integer dtype")
    top = out_vals[-1] if out_vals.size else 0
    required_type = np.min_scalar_type(top)
    if input_type.itemsize < required_type.itemsize:
        output_type = required_type
    elif top < np.iinfo(input_type).max:
        output_type = input_type
    else:
        output_type = required_type
    out_array = np.empty(label_field.shape, dtype=output_type)
    out_vals = out_vals.astype(output_type)
    _map_values(label_field, in_vals, out_vals, out=out_array)
    return out_array, ArrayMap(in_vals, out_vals), ArrayMap(out_vals, in_vals)
