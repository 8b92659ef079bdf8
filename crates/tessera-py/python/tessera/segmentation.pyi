"""Type stubs of tessera.segmentation (scikit-image 0.26's signatures)."""

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "slic",
    "felzenszwalb",
    "quickshift",
    "mark_boundaries",
    "find_boundaries",
    "relabel_sequential",
]

_Labels = npt.NDArray[np.int64]

def slic(
    image: npt.ArrayLike,
    n_segments: int = 100,
    compactness: float = 10.0,
    max_num_iter: int = 10,
    sigma: float | Sequence[float] = 0,
    spacing: Sequence[float] | None = None,
    convert2lab: bool | None = None,
    enforce_connectivity: bool = True,
    min_size_factor: float = 0.5,
    max_size_factor: float = 3,
    slic_zero: bool = False,
    start_label: int = 1,
    mask: npt.ArrayLike | None = None,
    *,
    channel_axis: int | None = -1,
    distance: Literal["euclidean", "manhattan"] = "euclidean",
    subsample: int = 1,
) -> _Labels: ...
def felzenszwalb(
    image: npt.ArrayLike,
    scale: float = 1,
    sigma: float = 0.8,
    min_size: int = 20,
    *,
    channel_axis: int | None = -1,
) -> _Labels: ...
def quickshift(
    image: npt.ArrayLike,
    ratio: float = 1.0,
    kernel_size: float = 5,
    max_dist: float = 10,
    return_tree: bool = False,
    sigma: float = 0,
    convert2lab: bool = True,
    rng: int | None = 42,
    *,
    channel_axis: int | None = -1,
) -> _Labels | tuple[_Labels, _Labels]: ...
def find_boundaries(
    label_img: npt.ArrayLike,
    connectivity: int = 1,
    mode: Literal["thick", "inner", "outer", "subpixel"] = "thick",
    background: int = 0,
) -> npt.NDArray[np.bool_]: ...
def mark_boundaries(
    image: npt.ArrayLike,
    label_img: npt.ArrayLike,
    color: Sequence[float] = (1, 1, 0),
    outline_color: Sequence[float] | None = None,
    mode: Literal["thick", "inner", "outer", "subpixel"] = "outer",
    background_label: int = 0,
) -> npt.NDArray[np.floating]: ...

class ArrayMap:
    in_values: np.ndarray
    out_values: np.ndarray
    def __init__(self, in_values: npt.ArrayLike, out_values: npt.ArrayLike) -> None: ...
    def __len__(self) -> int: ...
    def __array__(self, dtype: npt.DTypeLike = None, copy: bool | None = None) -> np.ndarray: ...
    @property
    def dtype(self) -> np.dtype: ...
    def __call__(self, arr: npt.ArrayLike) -> np.ndarray: ...
    def __getitem__(self, index: object) -> np.ndarray: ...
    def __setitem__(self, indices: object, values: object) -> None: ...

def relabel_sequential(
    label_field: npt.ArrayLike, offset: int = 1
) -> tuple[np.ndarray, ArrayMap, ArrayMap]: ...
