"""Type stubs of the compiled extension module (crates/tessera-py/src)."""

import os
from collections.abc import Callable

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
    seeds: npt.NDArray[np.float64] | None = ...,
    settle_seeds: bool = ...,
) -> _Labels: ...
def lloyd_rounds(
    points: npt.NDArray[np.float64], centroids: npt.NDArray[np.float64], rounds: int
) -> tuple[npt.NDArray[np.float64], bool]: ...
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

# Learned models (src/learn.rs): the validated arguments of tessera.crf.features / fit.
class Textons:
    def __init__(self, data: bytes) -> None: ...
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...
    @property
    def centres(self) -> npt.NDArray[np.float32]: ...
    @property
    def scale(self) -> npt.NDArray[np.float32]: ...

class Features:
    @staticmethod
    def _from_state(data: bytes) -> Features: ...
    def __reduce__(self) -> tuple[Callable[[bytes], Features], tuple[bytes]]: ...
    def __len__(self) -> int: ...
    @property
    def nodes(self) -> npt.NDArray[np.float32]: ...
    @property
    def sizes(self) -> npt.NDArray[np.uint32]: ...
    @property
    def edges(self) -> npt.NDArray[np.uint32]: ...
    @property
    def edge_features(self) -> npt.NDArray[np.float32]: ...
    @property
    def labels(self) -> npt.NDArray[np.uint32]: ...
    @property
    def feature_names(self) -> list[str]: ...
    @property
    def textons(self) -> Textons | None: ...
    @property
    def segmentation(self) -> dict[str, object] | None: ...

class Model:
    @staticmethod
    def load(path: str | os.PathLike[str]) -> Model: ...
    @staticmethod
    def _from_state(data: bytes) -> Model: ...
    def __reduce__(self) -> tuple[Callable[[bytes], Model], tuple[bytes]]: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def predict(self, features: Features) -> npt.NDArray[np.uint32]: ...
    def predict_image(self, image: _Image) -> npt.NDArray[np.int64]: ...
    def unary_only(self) -> Model: ...
    @property
    def n_classes(self) -> int: ...
    @property
    def pairwise(self) -> bool: ...
    @property
    def inference(self) -> str: ...
    @property
    def report(self) -> dict[str, object] | None: ...
    @property
    def segmentation(self) -> dict[str, object] | None: ...
    @property
    def textons(self) -> Textons | None: ...
    @property
    def feature_params(self) -> dict[str, object]: ...

def features(
    image: _Image,
    labels: _Labels | None,
    *,
    textons: Textons | None,
    n_segments: int,
    compactness: float,
    l_bins: int,
    ab_bins: int,
    orientation_bins: int,
    context: bool,
    texton_map: str,
) -> Features: ...
def learn_textons(
    images: list[_Image], k: int, stride: int, seed: int, iterations: int
) -> Textons: ...
def fit(
    samples: list[tuple[Features, npt.NDArray[np.int64]]],
    *,
    n_classes: int,
    c: float,
    unary_c: float | None,
    pairwise: bool,
    class_weight_power: float,
    pairwise_scale: float,
    max_passes: int,
    tolerance: float,
    eval_every: int,
    seed: int,
    inference: str,
) -> Model: ...

# The tiled plan (src/tiles.rs): tiled SLIC step by step, for tessera.dask. A rectangle is
# (y0, x0, rows, columns); parts are opaque, pickle, and `bytes(part)` rebuilds with
# `Part(data)`.
_Rect = tuple[int, int, int, int]
_Window = npt.NDArray[np.uint8] | npt.NDArray[np.uint16] | npt.NDArray[np.float32]

class SeedPart:
    def __init__(self, data: bytes) -> None: ...
    def __bytes__(self) -> bytes: ...

class MovePart:
    def __init__(self, data: bytes) -> None: ...
    def __bytes__(self) -> bytes: ...

class TileState:
    def __init__(self, data: bytes) -> None: ...
    def __bytes__(self) -> bytes: ...

class FinalPart:
    def __init__(self, data: bytes) -> None: ...
    def __bytes__(self) -> bytes: ...
    def summary(self) -> FinalPart: ...

class FinalNumbering:
    def __init__(self, data: bytes) -> None: ...
    def __bytes__(self) -> bytes: ...
    def count(self) -> int: ...

class TilePlan:
    def __init__(
        self,
        shape: tuple[int, int],
        channels: int,
        tile: int = ...,
        seams: str = ...,
        halo: int | None = ...,
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
    ) -> None: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def channels(self) -> int: ...
    @property
    def tile(self) -> int: ...
    @property
    def seams(self) -> str: ...
    def tile_count(self) -> int: ...
    def core(self, t: int) -> _Rect: ...
    def window(self, t: int, pass_name: str) -> _Rect: ...
    def passes(self) -> int: ...
    def needs_range(self) -> bool: ...
    def update_passes(self) -> int: ...
    def range(self, t: int, pixels: _Window) -> tuple[float, float]: ...
    def seeds(self, t: int, pixels: _Window, range: tuple[float, float] = ...) -> SeedPart: ...
    def start(self, parts: list[SeedPart]) -> TileState: ...
    def iterate(
        self, state: TileState, t: int, pixels: _Window, range: tuple[float, float] = ...
    ) -> MovePart: ...
    def advance(self, state: TileState, parts: list[MovePart]) -> TileState: ...
    def fast(self, t: int, pixels: _Window, range: tuple[float, float] = ...) -> MovePart: ...
    def start_fast(self, parts: list[MovePart]) -> TileState: ...
    def last(
        self, state: TileState, t: int, pixels: _Window, range: tuple[float, float] = ...
    ) -> FinalPart: ...
    def stitch(self, parts: list[FinalPart]) -> FinalNumbering: ...
    def paint(self, numbering: FinalNumbering, part: FinalPart, t: int) -> _Labels: ...
