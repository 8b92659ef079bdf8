"""Type stubs of tessera.dask (tiled SLIC on Dask)."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy.typing as npt

__all__ = ["slic", "map_files"]

def slic(
    image: Any,
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
    tile: int = 2048,
    seams: Literal["exact", "fast"] = "exact",
    halo: int | None = None,
    client: Any = None,
) -> Any: ...
def map_files(
    func: Callable[..., Any] | str,
    paths: Iterable[Any],
    *,
    reader: Callable[[Any], Any] | None = None,
    client: Any = None,
    gather: bool = True,
    **kwargs: Any,
) -> list[Any]: ...
