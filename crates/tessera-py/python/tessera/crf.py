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
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _tessera
from ._convert import to_label_map, to_library_image

__all__ = ["label", "CrfResult"]


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
