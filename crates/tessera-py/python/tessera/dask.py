"""SLIC on images larger than memory, on a Dask cluster: the same superpixels as in memory.

:func:`slic` takes a dask array (or a zarr array, or anything ``dask.array.from_array``
takes) and returns a dask array of labels that is *the same partition with the same
numbers* as ``tessera.segmentation.slic`` on the whole image in memory, whatever the tile
size and the number of workers (``seams="exact"``, the default). It runs tessera's tiled
SLIC (``tessera::tiled::TilePlan`` in the Rust library) step by step as Dask tasks:

- every task reads only its own window of the image (the dask array sliced, so it pulls
  only the chunks it needs), converts it the way the in-memory function converts the whole
  image, and runs one step on one tile with the GIL released;
- between passes, only small parts travel to the driver (the seeds and the moved centres
  of each tile, then a summary of each tile's regions); the state of the centres goes back
  to the workers once per pass (``client.scatter(..., broadcast=True)``);
- the last pass's parts, which hold the tiles' labels, stay on the workers: the labels are
  painted there, lazily, when the returned array is computed.

The image is read once for its minimum and maximum, then once per pass, each task with a
halo around its tile: ``max_num_iter + 1`` passes in exact mode, 2 in fast mode, and one
more for the channels' range when they are not clustered in CIELAB. It should therefore
come from a chunked store (zarr, ``tifffile.aszarr``, a dask array built from reads), not
from a numpy array in the driver.

:func:`map_files` maps a function (any ``tessera.segmentation`` function by name, or your
own) over many image files on the cluster, each file read on the worker that processes it.

>>> import numpy as np
>>> import dask.array as da
>>> from tessera import segmentation
>>> import tessera.dask
>>> rng = np.random.default_rng(0)
>>> img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
>>> labels = tessera.dask.slic(da.from_array(img, chunks=32), n_segments=30, tile=32)
>>> labels.chunks
((32, 28), (32, 32, 16))
>>> bool((labels.compute() == segmentation.slic(img, n_segments=30)).all())
True
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from . import _tessera
from ._convert import check_int, native
from .segmentation import _as_float, _gaussian, _spacing_and_sigmas, _supported_float_type

__all__ = ["slic", "map_files"]


# --- the scheduler -------------------------------------------------------------------


def _current_client(client):
    """``client``, else the current distributed client, else ``None`` (dask's local
    scheduler)."""
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


class _Scheduler:
    """The three things a run needs of Dask, on a distributed client or locally."""

    def __init__(self, client):
        self.client = client

    def compute(self, tasks: list) -> list:
        """The values of ``tasks``, brought to the driver."""
        if self.client is None:
            return list(dask.compute(*tasks))
        return self.client.gather(self.client.compute(tasks))

    def keep(self, tasks: list) -> list:
        """``tasks`` computed, their values left where they are (on the workers)."""
        if self.client is None:
            return list(dask.persist(*tasks))
        return self.client.compute(tasks)

    def share(self, value):
        """``value`` as one task argument for many tasks: sent to every worker once."""
        if self.client is None:
            return dask.delayed(value, name=f"tessera-shared-{uuid.uuid4().hex}")
        return self.client.scatter(value, broadcast=True, hash=False)


# --- what a task does ----------------------------------------------------------------


@dataclass(frozen=True)
class _Feed:
    """How a raw window becomes the pixels the library gets: what
    ``tessera.segmentation.slic`` does to the whole image, pixel by pixel."""

    #: The 8-bit RGB path: the window goes as it is.
    eight_bit: bool
    #: The image's minimum and maximum after ``_as_float`` (numpy scalars of its dtype).
    imin: object
    imax: object
    #: Gaussian sigmas (rows, columns), or ``None``.
    smooth: tuple | None
    #: The kernel radius (rows, columns): how far beyond a window a task reads.
    radius: tuple[int, int]


def _pixels(raw, feed: _Feed, crop) -> np.ndarray:
    """The library's pixels for a window, from ``raw`` (the window grown by the kernel's
    radius, clipped to the image; ``crop`` is the window within it)."""
    raw = native(np.asarray(raw))
    if feed.eight_bit:
        return raw
    out = _as_float(raw).astype(np.float64, copy=True)
    out -= feed.imin
    if feed.imax != feed.imin:
        out /= feed.imax - feed.imin
    if feed.smooth is not None:
        # The in-memory call smooths the whole image with symmetric borders; a window
        # grown by the radius holds every pixel its kernels reach (the reflections, where
        # it touches the image's border, are the whole image's), so the same sums in the
        # same order give the same bits inside the window.
        out = _gaussian(out, feed.smooth)
        y, x, h, w = crop
        out = out[y : y + h, x : x + w]
    return out.astype(np.float32)


def _range_task(plan, t, raw, feed, crop):
    return plan.range(t, _pixels(raw, feed, crop))


def _seeds_task(plan, t, raw, feed, crop, span):
    return plan.seeds(t, _pixels(raw, feed, crop), span)


def _iterate_task(plan, state, t, raw, feed, crop, span):
    return plan.iterate(state, t, _pixels(raw, feed, crop), span)


def _fast_task(plan, t, raw, feed, crop, span):
    return plan.fast(t, _pixels(raw, feed, crop), span)


def _last_task(plan, state, t, raw, feed, crop, span):
    return plan.last(state, t, _pixels(raw, feed, crop), span)


def _summary_task(part):
    return part.summary()


def _paint_task(plan, numbering, part, t, start_label):
    labels = plan.paint(numbering, part, t)
    if start_label:
        labels += np.uint32(start_label)
    return labels


# --- slic ----------------------------------------------------------------------------


def _as_dask(image):
    if isinstance(image, da.Array):
        return image
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        image = np.asarray(image)
    return da.from_array(image)


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
    tile=2048,
    seams="exact",
    halo=None,
    client=None,
):
    """SLIC on a dask array, tile by tile: ``tessera.segmentation.slic``'s superpixels.

    The arguments are :func:`tessera.segmentation.slic`'s (2-D images only, no mask),
    and with ``seams="exact"`` the labels are the same partition with the same numbers as
    ``tessera.segmentation.slic(np.asarray(image), ...)``, for any ``tile`` and any
    number of workers.

    Parameters
    ----------
    image : (M, N[, C]) dask array, zarr array or array-like
        Grey or multichannel image (any numeric dtype); anything else goes through
        ``dask.array.from_array``. Each task reads only its window of it.
    n_segments, compactness, max_num_iter, sigma, spacing, convert2lab, \
enforce_connectivity, min_size_factor, max_size_factor, slic_zero, start_label, \
channel_axis, distance, subsample
        As :func:`tessera.segmentation.slic`.
    mask : None
        Not supported (``ValueError``): masked SLIC is not tiled.
    tile : int, keyword-only
        Tile side in pixels (at least 16; default 2048). It sets the output's chunks and
        the tasks' size, not the result (in exact mode). A task holds about 28 bytes a
        pixel of its tile and halo.
    seams : {"exact", "fast"}, keyword-only
        "exact" (default): the in-memory partition. "fast": each tile clusters alone
        with a halo, then one shared labelling pass: 3 reads of the image instead of
        ``max_num_iter + 2`` (one more each when not in CIELAB), no seams, every pixel
        labelled, segments connected and numbered ``start_label ..`` without gaps, but a
        small fraction of pixels near tile borders in other segments than the in-memory
        run.
    halo : int, keyword-only
        Fast mode's halo in pixels (default: four grid steps).
    client : distributed.Client, keyword-only
        The cluster to run on; by default the current client, else dask's local
        scheduler.

    Returns
    -------
    labels : (M, N) dask array of uint32
        Chunked by tile. Labels are computed up to the last pass when this returns; the
        last pass's parts wait on the workers and are painted when the array is computed
        (with ``client.compute(labels)`` when ``client`` is not the default client). Not
        the drop-in's int64: 4 bytes a pixel, for images that do not fit in memory.

    Raises
    ------
    ValueError, TypeError
        As :func:`tessera.segmentation.slic` for the same arguments; ``ValueError`` for a
        mask, a volume, a bad ``tile``, ``seams`` or ``halo``.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import tessera.dask
    >>> img = da.zeros((40, 40), chunks=20)
    >>> labels = tessera.dask.slic(img, n_segments=4, channel_axis=None, tile=20)
    >>> labels.dtype, labels.chunks
    (dtype('uint32'), ((20, 20), (20, 20)))
    >>> np.unique(labels.compute()).tolist()
    [1, 2, 3, 4]
    """
    arr = _as_dask(image)
    if arr.ndim == 2 and channel_axis is not None:
        raise ValueError(
            f"channel_axis={channel_axis} indicates multichannel, which is not "
            "supported for a two-dimensional image; use channel_axis=None if "
            "the image is grayscale"
        )
    if start_label not in [0, 1]:
        raise ValueError("start_label should be 0 or 1.")
    if mask is not None:
        raise ValueError(
            "tessera.dask.slic does not take a mask (masked SLIC is not tiled): use "
            "tessera.segmentation.slic on the image in memory"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"image must have a numeric dtype, got {arr.dtype}")
    if channel_axis is None:
        img = arr[..., np.newaxis]
    else:
        if not isinstance(channel_axis, (int, np.integer)) or isinstance(channel_axis, bool):
            raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
        if not -arr.ndim <= channel_axis < arr.ndim:
            raise ValueError(
                f"channel_axis={channel_axis} is out of range for an image of {arr.ndim} dimensions"
            )
        img = da.moveaxis(arr, channel_axis, -1)
    if img.ndim == 4:
        raise ValueError(
            "tessera.dask.slic takes 2-D images, (rows, columns[, channels]): volumes are "
            "not tiled; use tessera.segmentation.slic on the volume in memory"
        )
    if img.ndim != 3:
        raise ValueError(
            f"slic takes a 2-D or 3-D image (with channel_axis, one more axis), got "
            f"{arr.ndim} dimensions"
        )
    if seams not in ("exact", "fast"):
        raise ValueError(f"seams must be 'exact' or 'fast', got {seams!r}")
    tile = check_int("tile", tile, 16)
    if halo is not None:
        if seams != "fast":
            raise ValueError("halo is fast mode's: give it with seams='fast' only")
        halo = check_int("halo", halo, 0)
    rows, columns, channels = (int(n) for n in img.shape)
    if rows * columns * channels == 0:
        raise ValueError(f"image has no pixel (shape {tuple(arr.shape)})")

    multichannel = channel_axis is not None
    lab = False
    if multichannel and (convert2lab or convert2lab is None):
        if channels != 3 and convert2lab:
            raise ValueError("Lab colorspace conversion requires a RGB image.")
        lab = channels == 3
    float_dtype = _supported_float_type(_as_float(np.zeros(1, arr.dtype)).dtype)
    spacing_used, sigmas = _spacing_and_sigmas(spacing, sigma, True, float_dtype, stacklevel=3)
    if int(n_segments) < 1:
        raise ValueError(f"n_segments must be >= 1, got {int(n_segments)}")

    run = _Scheduler(_current_client(client))
    raw_min, raw_max = run.compute([img.min(), img.max()])
    limits = _as_float(np.array([raw_min, raw_max], dtype=img.dtype))
    imin, imax = limits[0], limits[1]
    if np.isnan(imin) or np.isnan(imax):
        raise ValueError("unmasked NaN values in image are not supported")
    if np.isinf(imin) or np.isinf(imax):
        raise ValueError("unmasked infinite values in image are not supported")

    # The in-memory call's own shortcut for 8-bit RGB (tessera.segmentation's
    # `_slic_8bit_colour`): it hands the library the 8-bit samples, not floats, so this
    # must too to get its numbers.
    eight_bit = (
        img.dtype == np.uint8
        and multichannel
        and spacing is None
        and np.isscalar(sigma)
        and sigma == 0
        and convert2lab in (None, True)
        and isinstance(n_segments, (int, np.integer))
        and channels == 3
        and raw_min == 0
        and raw_max == 255
    )
    smooth = sigmas[1:]
    smoothing = not eight_bit and bool((smooth > 0).any())
    radius = tuple(int(4.0 * float(s) + 0.5) if s > 0 else 0 for s in smooth)
    feed = _Feed(
        eight_bit=eight_bit,
        imin=imin,
        imax=imax,
        smooth=tuple(float(s) for s in smooth) if smoothing else None,
        radius=radius if smoothing else (0, 0),
    )
    plan = _tessera.TilePlan(
        (rows, columns),
        channels,
        tile,
        seams,
        halo,
        n_segments=int(n_segments),
        compactness=float(compactness),
        max_iterations=int(max_num_iter),
        sigma=(0.0, 0.0, 0.0),
        spacing=(1.0, 1.0, 1.0) if eight_bit else tuple(float(s) for s in spacing_used),
        convert_to_lab=True if eight_bit else lab,
        enforce_connectivity=bool(enforce_connectivity),
        min_size_factor=float(min_size_factor),
        max_size_factor=float(max_size_factor),
        slic_zero=bool(slic_zero),
        distance=distance,
        subsample=int(subsample),
    )
    return _run(plan, img, feed, run, int(start_label))


def _window(img, plan, feed: _Feed, t: int, pass_name: str):
    """The dask slice tile ``t`` reads for ``pass_name``, and its window inside it."""
    y0, x0, h, w = plan.window(t, pass_name)
    ry, rx = feed.radius
    rows, columns = plan.shape
    ty, tx = max(0, y0 - ry), max(0, x0 - rx)
    by, bx = min(rows, y0 + h + ry), min(columns, x0 + w + rx)
    return img[ty:by, tx:bx], (y0 - ty, x0 - tx, h, w)


def _run(plan, img, feed: _Feed, run: _Scheduler, start_label: int):
    """The passes of a tiled run, then the lazy label map."""
    tiles = range(plan.tile_count())
    shared_plan = run.share(plan)

    def each(step, pass_name, *before, after=()):
        tasks = []
        for t in tiles:
            raw, crop = _window(img, plan, feed, t, pass_name)
            tasks.append(dask.delayed(step)(shared_plan, *before, t, raw, feed, crop, *after))
        return tasks

    span = (0.0, 0.0)
    if plan.needs_range():
        ranges = run.compute(each(_range_task, "range"))
        span = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    if plan.seams == "exact":
        state = plan.start(run.compute(each(_seeds_task, "seeds", after=(span,))))
        for _ in range(plan.update_passes()):
            moved = run.compute(each(_iterate_task, "iterate", run.share(state), after=(span,)))
            state = plan.advance(state, moved)
    else:
        state = plan.start_fast(run.compute(each(_fast_task, "fast", after=(span,))))
    parts = run.keep(each(_last_task, "last", run.share(state), after=(span,)))
    del state
    summaries = run.compute([dask.delayed(_summary_task)(p) for p in parts])
    numbering = run.share(plan.stitch(summaries))
    del summaries

    across = -(-plan.shape[1] // plan.tile)
    blocks = []
    for t, part in zip(tiles, parts, strict=True):
        _, _, h, w = plan.core(t)
        painted = dask.delayed(_paint_task)(shared_plan, numbering, part, t, start_label)
        block = da.from_delayed(painted, shape=(h, w), dtype=np.uint32)
        if t % across == 0:
            blocks.append([])
        blocks[-1].append(block)
    return da.block(blocks)


# --- map_files -----------------------------------------------------------------------


def _read_image(path) -> np.ndarray:
    """The default reader of :func:`map_files`: ``.npy`` with numpy, anything else with
    scikit-image's ``imread`` (else Pillow), whichever is installed on the worker."""
    path = str(path)
    if path.endswith(".npy"):
        return np.load(path)
    try:
        from skimage.io import imread
    except ImportError:
        try:
            from PIL import Image
        except ImportError as e:
            raise ImportError(
                f"cannot read {path}: install scikit-image or Pillow on the workers, or "
                "give map_files a reader"
            ) from e
        with Image.open(path) as im:
            return np.asarray(im)
    return imread(path)


def _apply(func, reader, path, kwargs):
    return func(reader(path), **kwargs)


def map_files(
    func: Callable | str,
    paths: Iterable,
    *,
    reader: Callable | None = None,
    client=None,
    gather: bool = True,
    **kwargs,
):
    """Maps ``func`` over image files on the cluster, each file read on its worker.

    One task per file: it reads the file where it runs (the driver sends only the path),
    calls ``func(image, **kwargs)`` and keeps the result there until it is gathered. For
    results that are large (label maps of big images), let ``func`` write its output
    beside the input and return the output's path.

    Parameters
    ----------
    func : callable or str
        A function of an image, or the name of one of :mod:`tessera.segmentation`'s
        (``"slic"``, ``"felzenszwalb"``, ``"quickshift"``).
    paths : iterable of str or path-like
        The files, which every worker must be able to read (a shared file system or an
        object store path that ``reader`` understands).
    reader : callable, keyword-only
        ``reader(path) -> ndarray``; by default numpy for ``.npy`` files, else
        scikit-image's ``imread`` (else Pillow) on the worker.
    client : distributed.Client, keyword-only
        The cluster; by default the current client, else dask's local scheduler.
    gather : bool, keyword-only
        True (default): wait and return the results, in the order of ``paths``. False:
        return at once the futures (with a client) or ``dask.delayed`` objects (without),
        in that order.
    **kwargs
        Keyword arguments of ``func``.

    Returns
    -------
    list
        The results, or their futures or delayed objects (``gather=False``).

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> import tessera.dask
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     np.save(os.path.join(folder, f"{i}.npy"), np.full((8, 8), i, np.uint8))
    >>> paths = [os.path.join(folder, f"{i}.npy") for i in range(3)]
    >>> [int(m) for m in tessera.dask.map_files(np.max, paths)]
    [0, 1, 2]
    >>> out = tessera.dask.map_files("slic", paths, n_segments=4, channel_axis=None)
    >>> [o.shape for o in out]
    [(8, 8), (8, 8), (8, 8)]
    """
    if isinstance(func, str):
        from . import segmentation

        name = func
        if name.startswith("_") or name not in segmentation.__all__:
            raise ValueError(
                f"func must be a callable or one of {segmentation.__all__}, got {name!r}"
            )
        func = getattr(segmentation, name)
    if not callable(func):
        raise TypeError(f"func must be callable or a name, got {func!r}")
    reader = _read_image if reader is None else reader
    if not callable(reader):
        raise TypeError(f"reader must be callable, got {reader!r}")
    if isinstance(paths, (str, bytes)):
        raise TypeError("paths must be an iterable of paths, not one path")
    paths = list(paths)
    client = _current_client(client)
    if client is not None:
        futures = client.map(
            _apply,
            [func] * len(paths),
            [reader] * len(paths),
            paths,
            [kwargs] * len(paths),
            pure=False,
        )
        return client.gather(futures) if gather else futures
    tasks = [dask.delayed(_apply)(func, reader, p, kwargs) for p in paths]
    return list(dask.compute(*tasks)) if gather else tasks
