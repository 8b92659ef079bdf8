"""Superpixel quality metrics, computed as ``tessera eval`` computes them.

>>> import numpy as np
>>> from tessera import metrics
>>> labels = np.array([[0, 0, 1, 1]] * 4)
>>> gt = np.array([[0, 0, 0, 1]] * 4)
>>> round(metrics.evaluate(labels, [gt])["asa"], 3)
0.75
"""

from __future__ import annotations

import numpy as np

from . import _tessera
from ._convert import to_label_map, to_library_image

__all__ = [
    "evaluate",
    "boundary_recall",
    "boundary_precision",
    "undersegmentation_error",
    "asa",
    "explained_variation",
    "compactness",
]


def evaluate(
    labels,
    ground_truths,
    image=None,
    *,
    boundary: str = "thin",
    tolerance: int = 2,
    aggregation: str = "mean",
) -> dict:
    """Every score of ``labels`` against one or more ground truths, as ``tessera eval``.

    Parameters
    ----------
    labels : (M, N) ndarray of int
        The superpixels (any non-negative values; each value is one segment).
    ground_truths : ndarray or sequence of ndarrays
        Human segmentations of the same shape.
    image : (M, N[, C]) ndarray, optional
        For explained variation (NaN without it).
    boundary : {"thin", "thick"}
        Which pixels are boundary pixels.
    tolerance : int
        Boundary match tolerance in pixels.
    aggregation : {"mean", "worst", "best"}
        How the ground truths' scores are combined.

    Returns
    -------
    dict
        ``boundary_recall``, ``boundary_precision``, ``undersegmentation_error``, ``asa``,
        ``explained_variation``, ``compactness``, ``segments``, ``disconnected``.
    """
    if isinstance(ground_truths, np.ndarray) and ground_truths.ndim == 2:
        ground_truths = [ground_truths]
    gts = [to_label_map(g, f"ground_truths[{i}]") for i, g in enumerate(ground_truths)]
    img = None if image is None else to_library_image(image)
    return _tessera.evaluate(
        to_label_map(labels),
        gts,
        img,
        boundary=boundary,
        tolerance=int(tolerance),
        aggregation=aggregation,
    )


def boundary_recall(labels, ground_truths, **options) -> float:
    """Fraction of ground-truth boundary pixels within ``tolerance`` of a superpixel
    boundary."""
    return evaluate(labels, ground_truths, **options)["boundary_recall"]


def boundary_precision(labels, ground_truths, **options) -> float:
    """Fraction of superpixel boundary pixels within ``tolerance`` of a ground-truth
    boundary."""
    return evaluate(labels, ground_truths, **options)["boundary_precision"]


def undersegmentation_error(labels, ground_truths, **options) -> float:
    """Undersegmentation error (Neubert and Protzel's formulation)."""
    return evaluate(labels, ground_truths, **options)["undersegmentation_error"]


def asa(labels, ground_truths, **options) -> float:
    """Achievable segmentation accuracy."""
    return evaluate(labels, ground_truths, **options)["asa"]


def explained_variation(labels, image) -> float:
    """Fraction of the image's colour variance explained by the superpixel means.

    >>> import numpy as np
    >>> from tessera import metrics
    >>> img = np.array([[0.0, 0.0, 1.0, 1.0]])
    >>> metrics.explained_variation(np.array([[0, 0, 1, 1]]), img)
    1.0
    """
    return _tessera.explained_variation(to_label_map(labels), to_library_image(image))


def compactness(labels) -> float:
    """Compactness (Schick et al. 2012): area-weighted isoperimetric quotient."""
    return _tessera.compactness(to_label_map(labels))
