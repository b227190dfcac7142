"""Small helpers shared by the codec modules (not public)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import CodecConfigError


class FrozenConfig:
    """Mixin: instances are immutable after ``__init__`` and pickle as (class, configuration).

    Pickling through the configuration keeps pickles small and free of the
    numcodecs objects some codecs cache, which are rebuilt on unpickling.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **values: Any) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.to_config()))  # type: ignore[attr-defined]


def _rebuild(cls: Any, config: dict[str, Any]) -> Any:
    return cls.from_config(config)


def check_keys(name: str, config: Any, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """Validate that ``config`` is a dict with only ``allowed`` and all ``required`` keys."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise CodecConfigError(f"codec {name!r}: configuration must be an object, got {config!r}")
    extra = set(config) - allowed
    if extra:
        raise CodecConfigError(
            f"codec {name!r}: unknown configuration field(s) {sorted(extra)}; "
            f"allowed: {sorted(allowed)}"
        )
    missing = required - set(config)
    if missing:
        raise CodecConfigError(f"codec {name!r}: configuration lacks {sorted(missing)}")
    return config


def check_int(name: str, field: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Validate an integer configuration field (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise CodecConfigError(f"codec {name!r}: {field} must be an integer, got {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise CodecConfigError(f"codec {name!r}: {field} must be in [{lo}, {hi}], got {value}")
    return value


def as_numpy_dtype(dtype: Any) -> np.dtype:
    """A numpy dtype from a numpy dtype, a dtype-like, or an object with
    ``numpy_dtype`` (our DataType) or ``to_native_dtype()`` (zarr-python's)."""
    if isinstance(dtype, np.dtype):
        return dtype
    nd = getattr(dtype, "numpy_dtype", None)
    if nd is not None:
        return np.dtype(nd)
    to_native = getattr(dtype, "to_native_dtype", None)
    if callable(to_native):
        return np.dtype(to_native())
    return np.dtype(dtype)


def byte_view(data: Any) -> np.ndarray:
    """A 1-d uint8 view (no copy) of any contiguous bytes-like object."""
    if isinstance(data, np.ndarray):
        if data.dtype == np.uint8 and data.ndim == 1:
            return data
        if data.flags.c_contiguous:
            return data.reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def has_byte_order(dtype: np.dtype) -> bool:
    """Whether serialising ``dtype`` depends on an endianness."""
    if dtype.fields is not None:
        return any(has_byte_order(f[0]) for f in dtype.fields.values())
    if dtype.subdtype is not None:
        return has_byte_order(dtype.subdtype[0])
    return dtype.byteorder not in ("|",) and dtype.itemsize > 1 and dtype.kind not in "SVbO"
