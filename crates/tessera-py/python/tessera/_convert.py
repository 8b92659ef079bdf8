"""Array plumbing shared by the public modules: numpy in any layout to what the
extension module takes (native byte order, ``(rows, columns, channels)``)."""

from __future__ import annotations

import numbers

import numpy as np

from . import _tessera

UNLABELLED = _tessera.UNLABELLED


def native(a: np.ndarray) -> np.ndarray:
    """``a`` with its byte order made native (a copy only when it was not)."""
    if a.dtype.byteorder not in ("=", "|") and a.dtype.byteorder != _native_order():
        return a.astype(a.dtype.newbyteorder("="))
    return a


def _native_order() -> str:
    return "<" if np.little_endian else ">"


def to_library_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """A ``(rows, columns, channels)`` or ``(slices, rows, columns, channels)`` array of
    uint8, uint16 or float32 for the library.

    uint8 and uint16 are passed as they are (the library scales them to 0..1 exactly);
    bool becomes 0/255 uint8; every other numeric dtype becomes float32.
    """
    a = native(np.asarray(image))
    if a.ndim == 2:
        a = a[..., np.newaxis]
    if a.ndim not in (3, 4):
        raise ValueError(
            f"{name} must be (rows, columns[, channels]) or (slices, rows, columns, "
            f"channels), got shape {a.shape}"
        )
    if a.dtype == np.bool_:
        return a.view(np.uint8) * np.uint8(255)
    if a.dtype in (np.uint8, np.uint16):
        return a
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must have a numeric dtype, got {a.dtype}")
    return a.astype(np.float32, copy=False)


def to_label_map(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    """A 2-D uint32 label map; negative labels and non-integer dtypes are refused."""
    a = native(np.asarray(labels))
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype, got {a.dtype}")
    if a.size and a.dtype.kind == "i" and a.min() < 0:
        raise ValueError(f"{name} must not hold negative values, got {a.min()}")
    if a.size and int(a.max()) >= UNLABELLED:
        raise ValueError(f"{name} holds {a.max()}, more than the largest label {UNLABELLED - 1}")
    return a.astype(np.uint32, copy=False)


def check_int(name: str, value, minimum: int | None = None) -> int:
    """``value`` as an int, or ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_float(name: str, value, minimum: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float, or ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be {op} {minimum}, got {value}")
    return value
