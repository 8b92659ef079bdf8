"""Label superpixels with classes through a conditional random field, as the CLI's
``tessera label`` does.

>>> import numpy as np
>>> from tessera import crf
>>> img = np.zeros((8, 8, 3)); img[:, 4:] = 1.0
>>> labels = np.repeat(np.arange(4), 2)[np.newaxis].repeat(8, axis=0)
>>> probs = np.zeros((8, 8, 2), dtype=np.float32)
>>> probs[:, :4, 0] = 0.9; probs[:, :4, 1] = 0.1
>>> probs[:, 4:, 0] = 0.2; probs[:, 4:, 1] = 0.8
>>> result = crf.label(img, labels, probs=probs, smoothness=0.1)
>>> result.classes[0].tolist()
[0, 0, 0, 0, 1, 1, 1, 1]

Learned models, as ``tessera learn`` trains them: :func:`features` describes superpixels,
:func:`fit` learns a :class:`Model` from them (a structured SVM), ``Model.predict`` labels
new superpixels, and ``Model.save`` / ``Model.load`` use the CLI's model file.

>>> rng = np.random.default_rng(0)
>>> def scene():  # red left half (class 0), blue right half (class 1)
...     im = rng.uniform(0.0, 0.1, (16, 16, 3)).astype(np.float32)
...     im[:, :8, 0] += 0.8; im[:, 8:, 2] += 0.8
...     return im
>>> truth = np.zeros((16, 16), dtype=np.uint8); truth[:, 8:] = 1
>>> samples = [(crf.features(scene(), n_segments=8), truth) for _ in range(3)]
>>> model = crf.fit(samples, n_classes=2, c=1.0)
>>> model.predict_image(scene())[0, ::4].tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _tessera
from ._convert import check_float, check_int, to_label_map, to_library_image

__all__ = [
    "label",
    "CrfResult",
    "features",
    "learn_textons",
    "fit",
    "Features",
    "Textons",
    "Model",
]

#: The features of one image's superpixels (made by :func:`features`): ``nodes`` (n, d)
#: float32, ``sizes`` (n,) uint32, ``edges`` (m, 2) uint32, ``edge_features`` (m, 6)
#: float32, ``labels`` (M, N) uint32 (the superpixels, renumbered ``0..n``),
#: ``feature_names``, ``textons``, ``segmentation``; it pickles, so features computed on
#: worker processes can come back to :func:`fit`.
Features = _tessera.Features
#: A texton dictionary (made by :func:`learn_textons`): ``centres`` (k, 17), ``scale`` (17,),
#: ``len()``; it pickles, and ``Textons(bytes(t))`` rebuilds it.
Textons = _tessera.Textons
#: A learned model (made by :func:`fit` or ``Model.load(path)``): ``predict(features)``,
#: ``predict_image(image)``, ``save(path)``, ``unary_only()``, ``n_classes``, ``pairwise``,
#: ``inference``, ``report``, ``segmentation``, ``textons``, ``feature_params``; it pickles
#: (bit for bit, so it travels to multiprocessing and Dask workers).
Model = _tessera.Model


class CrfResult(NamedTuple):
    """What :func:`label` returns."""

    #: (M, N) int64: the class of every pixel.
    classes: np.ndarray
    #: (n_superpixels,) uint32: the class of every superpixel (of ``labels`` renumbered
    #: in order of first appearance).
    superpixel_classes: np.ndarray
    #: The energy of the labelling.
    energy: float
    #: A lower bound on the minimum energy (None for solvers without one).
    bound: float | None


def label(
    image,
    labels,
    *,
    scribbles=None,
    probs=None,
    solver: str = "expansion",
    smoothness: float | None = None,
    pairwise: str = "contrast",
) -> CrfResult:
    """Classes for the superpixels ``labels`` of ``image``.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        The image.
    labels : (M, N) ndarray of int
        Superpixels.
    scribbles : (M, N) ndarray of int, optional
        ``-1`` where not scribbled, else the pixel's class (``0..K``); the classes' colour
        models are learnt from the scribbled pixels.
    probs : (M, N, K) ndarray, optional
        Per-pixel class probabilities. Give exactly one of ``scribbles`` and ``probs``.
    solver : {"expansion", "trws", "bp", "icm"}
        Energy minimiser.
    smoothness : float, optional
        Weight of the pairwise term (the CLI's default when omitted).
    pairwise : {"contrast", "potts"}
        Contrast-sensitive or plain Potts.

    Returns
    -------
    CrfResult
    """
    if (scribbles is None) == (probs is None):
        raise ValueError("give exactly one of scribbles and probs")
    img = to_library_image(image)
    lab = to_label_map(labels)
    s = None
    p = None
    if scribbles is not None:
        sc = np.asarray(scribbles)
        if sc.dtype.kind not in "iu":
            raise TypeError(f"scribbles must have an integer dtype, got {sc.dtype}")
        if sc.size and sc.min() < -1:
            raise ValueError(f"scribbles must be -1 or a class >= 0, got {sc.min()}")
        s = (sc.astype(np.int64) + 1).astype(np.uint32)
    if probs is not None:
        p = np.asarray(probs, dtype=np.float32)
        if p.ndim != 3:
            raise ValueError(f"probs must be (rows, columns, classes), got shape {p.shape}")
    classes, per_sp, energy, bound = _tessera.label(
        img,
        lab,
        scribbles=s,
        probs=p,
        solver=solver,
        smoothness=smoothness,
        pairwise=pairwise,
    )
    return CrfResult(classes, per_sp, energy, bound)


def _image_2d(image, name: str = "image") -> np.ndarray:
    img = to_library_image(image, name)
    if img.ndim != 3:
        raise ValueError(f"{name} must be (rows, columns[, channels]), got shape {img.shape}")
    return img


def features(
    image,
    labels=None,
    *,
    textons: Textons | None = None,
    n_segments: int = 400,
    compactness: float = 10.0,
    l_bins: int = 8,
    ab_bins: int = 8,
    orientation_bins: int = 8,
    context: bool = True,
    texton_map: str = "hellinger",
) -> Features:
    """The features of the superpixels of ``image`` (``tessera_crf::features``).

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        The image (grey or RGB).
    labels : (M, N) ndarray of int, optional
        The superpixels (renumbered in order of first appearance, as :func:`label` does).
        Without them, SLIC's superpixels (``n_segments``, ``compactness``) are used, as
        ``tessera learn`` does; only models fit on those can label whole images
        (``Model.predict_image``) and be saved.
    textons : Textons, optional
        A texton dictionary (:func:`learn_textons`): adds the three texton-histogram blocks.
    n_segments, compactness
        SLIC's parameters when ``labels`` is None.
    l_bins, ab_bins, orientation_bins, context, texton_map
        The feature parameters (``FeatureParams``); ``texton_map`` is ``"identity"``,
        ``"hellinger"`` or ``"chi2"``.

    Returns
    -------
    Features
    """
    img = _image_2d(image)
    lab = None if labels is None else to_label_map(labels)
    if textons is not None and not isinstance(textons, Textons):
        raise TypeError(f"textons must be a Textons (learn_textons), got {type(textons)}")
    if not isinstance(context, (bool, np.bool_)):
        raise TypeError(f"context must be a bool, got {context!r}")
    return _tessera.features(
        img,
        lab,
        textons=textons,
        n_segments=check_int("n_segments", n_segments, 1),
        compactness=check_float("compactness", compactness, 0.0, strict=True),
        l_bins=check_int("l_bins", l_bins, 1),
        ab_bins=check_int("ab_bins", ab_bins, 1),
        orientation_bins=check_int("orientation_bins", orientation_bins, 1),
        context=bool(context),
        texton_map=texton_map,
    )


def learn_textons(images, k: int = 200, stride: int = 8, seed: int = 0, iterations: int = 20):
    """A texton dictionary of ``k`` centres: k-means on the 17 filter responses of every
    ``stride``-th pixel of every ``stride``-th row of ``images`` (as ``tessera learn``).

    Parameters
    ----------
    images : sequence of (M, N[, C]) ndarray
    k : int
        Number of textons.
    stride : int
        Subsampling step in rows and columns.
    seed : int
        Seed of the k-means initialisation.
    iterations : int
        k-means iterations.

    Returns
    -------
    Textons
    """
    if isinstance(images, np.ndarray) and images.ndim <= 3:
        images = [images]
    imgs = [_image_2d(im, f"images[{i}]") for i, im in enumerate(images)]
    if not imgs:
        raise ValueError("images is empty")
    return _tessera.learn_textons(
        imgs,
        check_int("k", k, 1),
        check_int("stride", stride, 1),
        check_int("seed", seed, 0),
        check_int("iterations", iterations, 1),
    )


def fit(
    samples,
    *,
    n_classes: int,
    c: float = 0.003,
    unary_c: float | None = None,
    pairwise: bool = True,
    class_weight_power: float = 0.5,
    pairwise_scale: float = 1.0,
    max_passes: int = 60,
    tolerance: float = 0.01,
    eval_every: int = 5,
    seed: int = 0,
    inference: str = "expansion",
) -> Model:
    """Learns a superpixel CRF (or, with ``pairwise=False``, a unary-only model) with a
    structured SVM (``tessera_crf::learn::fit``; the parameters are ``LearnParams`` and
    ``SsvmParams``, with their defaults).

    Parameters
    ----------
    samples : sequence of (Features, classes)
        ``classes`` is either ``(n,)``: the class of each superpixel, or ``(M, N)``: the
        pixels' ground truth (each superpixel gets its majority class). Values outside
        ``0..n_classes`` (255, -1) are void: void superpixels are left out.
    n_classes : int
        Number of classes (2 to 256).
    c : float
        The regularisation constant ``C`` (the default: the best for the CRF on MSRC-21 val
        with the default features, as ``tessera learn``'s first).
    unary_c : float, optional
        Also train the unary-only baseline with this ``C`` (what ``Model.unary_only()`` and
        the saved file's ``unary_only`` then hold; ``tessera learn`` always trains it).
    pairwise : bool
        Learn pairwise weights (a CRF).
    class_weight_power : float
        Exponent of the inverse class frequency in the loss weights (0 none, 1 balanced;
        the default 0.5 is the best on MSRC-21 val, as ``tessera learn``'s).
    pairwise_scale : float
        Edge features are multiplied by this in training (the scores do not change).
    max_passes, tolerance, eval_every, seed
        The solver's passes, relative duality-gap target, primal evaluation period and
        visiting-order seed.
    inference : {"expansion", "expansion-only", "trws"}
        The loss-augmented inference solver (``"expansion-only"`` predicts with
        ``"expansion"``).

    Returns
    -------
    Model
        With ``model.report``: passes, primal, dual, gap, converged, oracle_calls, trace.
    """
    try:
        pairs = list(samples)
    except TypeError:
        raise TypeError(
            f"samples must be a sequence of (Features, classes), got {samples!r}"
        ) from None
    if not pairs:
        raise ValueError("samples is empty")
    checked = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"samples[{i}] must be a (Features, classes) pair")
        f, classes = pair
        if not isinstance(f, Features):
            raise TypeError(f"samples[{i}][0] must be Features (crf.features), got {type(f)}")
        y = np.asarray(classes)
        if y.dtype == np.bool_:
            y = y.astype(np.uint8)
        if y.dtype.kind not in "iu":
            raise TypeError(f"samples[{i}][1] must have an integer dtype, got {y.dtype}")
        if y.ndim not in (1, 2):
            raise ValueError(
                f"samples[{i}][1] must be (superpixels,) or (rows, columns), got shape {y.shape}"
            )
        big = np.iinfo(np.int64).max
        if y.dtype == np.uint64 and y.size and int(y.max()) > big:
            y = np.minimum(y, big)
        checked.append((f, np.ascontiguousarray(y, dtype=np.int64)))
    n_classes = check_int("n_classes", n_classes, 2)
    if n_classes > 256:
        raise ValueError(f"n_classes must be at most 256, got {n_classes}")
    if not isinstance(pairwise, (bool, np.bool_)):
        raise TypeError(f"pairwise must be a bool, got {pairwise!r}")
    return _tessera.fit(
        checked,
        n_classes=n_classes,
        c=check_float("c", c, 0.0, strict=True),
        unary_c=None if unary_c is None else check_float("unary_c", unary_c, 0.0, strict=True),
        pairwise=bool(pairwise),
        class_weight_power=check_float("class_weight_power", class_weight_power),
        pairwise_scale=check_float("pairwise_scale", pairwise_scale, 0.0, strict=True),
        max_passes=check_int("max_passes", max_passes, 1),
        tolerance=check_float("tolerance", tolerance, 0.0),
        eval_every=check_int("eval_every", eval_every, 1),
        seed=check_int("seed", seed, 0),
        inference=inference,
    )
