"""Type stubs of the compiled extension module (crates/tessera-py/src)."""

import numpy as np
import numpy.typing as npt

UNLABELLED: int

_Image = npt.NDArray[np.uint8] | npt.NDArray[np.uint16] | npt.NDArray[np.float32]
_Labels = npt.NDArray[np.uint32]

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def slic(
    image: _Image,
    *,
    n_segments: int | None = ...,
    compactness: float | None = ...,
    max_iterations: int | None = ...,
    sigma: tuple[float, float, float] | None = ...,
    spacing: tuple[float, float, float] | None = ...,
    convert_to_lab: bool | None = ...,
    enforce_connectivity: bool | None = ...,
    min_size_factor: float | None = ...,
    max_size_factor: float | None = ...,
    slic_zero: bool | None = ...,
    perturb_seeds: bool | None = ...,
    distance: str | None = ...,
    subsample: int | None = ...,
    mask: npt.NDArray[np.bool_] | None = ...,
) -> _Labels: ...
def kmeans(
    image: _Image,
    *,
    n_segments: int | None = ...,
    compactness: float | None = ...,
    max_iterations: int | None = ...,
    tolerance: float | None = ...,
    init: str | None = ...,
    seed: int | None = ...,
    enforce_connectivity: bool | None = ...,
    min_size_factor: float | None = ...,
    max_size_factor: float | None = ...,
) -> _Labels: ...
def meanshift(
    image: _Image,
    *,
    hs: float | None = ...,
    hr: float | None = ...,
    min_size: int | None = ...,
    max_iterations: int | None = ...,
    tolerance: float | None = ...,
    basin_speedup: bool | None = ...,
) -> _Labels: ...
def felzenszwalb(
    image: _Image,
    *,
    scale: float | None = ...,
    sigma: float | None = ...,
    spacing: tuple[float, float, float] | None = ...,
    faces_only: bool | None = ...,
    min_size: int | None = ...,
    n_segments: int | None = ...,
    enforce_connectivity: bool | None = ...,
) -> tuple[_Labels, float]: ...
def quickshift(
    image: _Image,
    *,
    ratio: float | None = ...,
    kernel_size: float | None = ...,
    max_dist: float | None = ...,
    sigma: float | None = ...,
    convert_to_lab: bool | None = ...,
    seed: int | None = ...,
    min_size: int | None = ...,
    enforce_connectivity: bool | None = ...,
) -> _Labels: ...
def quickshift_forest(
    image: _Image,
    *,
    ratio: float | None = ...,
    kernel_size: float | None = ...,
    max_dist: float | None = ...,
    sigma: float | None = ...,
    convert_to_lab: bool | None = ...,
    seed: int | None = ...,
) -> _Labels: ...
def etps(
    image: _Image,
    *,
    n_segments: int | None = ...,
    compactness: float | None = ...,
    boundary_weight: float | None = ...,
    size_weight: float | None = ...,
    min_size_factor: float | None = ...,
    max_iterations: int | None = ...,
    max_block_size: int | None = ...,
) -> _Labels: ...
def panic_for_tests() -> None: ...
def evaluate(
    labels: _Labels,
    ground_truths: list[_Labels],
    image: _Image | None = ...,
    *,
    boundary: str = ...,
    tolerance: int = ...,
    aggregation: str = ...,
) -> dict[str, float]: ...
def compare(a: _Labels, b: _Labels) -> dict[str, object]: ...
def compactness(labels: _Labels) -> float: ...
def explained_variation(labels: _Labels, image: _Image) -> float: ...
def rag(image: _Image, labels: _Labels) -> dict[str, np.ndarray]: ...
def label(
    image: _Image,
    labels: _Labels,
    *,
    scribbles: _Labels | None = ...,
    probs: npt.NDArray[np.float32] | None = ...,
    solver: str = ...,
    smoothness: float | None = ...,
    pairwise: str = ...,
) -> tuple[npt.NDArray[np.int64], _Labels, float, float | None]: ...
