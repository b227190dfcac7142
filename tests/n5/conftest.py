"""Shared helpers of the N5 tests."""

from __future__ import annotations

from typing import Any

import numpy as np

#: every N5 data type we support
DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64")

#: one compression object per compression N5 knows (each with non-default parameters where it has any)
COMPRESSIONS: dict[str, dict[str, Any]] = {
    "raw": {"type": "raw"},
    "gzip": {"type": "gzip", "level": 5, "useZlib": False},
    "gzip-zlib": {"type": "gzip", "level": 3, "useZlib": True},
    "bzip2": {"type": "bzip2", "blockSize": 5},
    "xz": {"type": "xz", "preset": 2},
    "blosc": {"type": "blosc", "cname": "zstd", "clevel": 4, "shuffle": 2, "blocksize": 0, "nthreads": 1},
    "zstd": {"type": "zstd", "level": 5},
    "lz4": {"type": "lz4", "blockSize": 1024},
}


def sample(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Data of ``dtype`` using its range (extremes included), so byte-order mistakes show."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        data = rng.standard_normal(shape).astype(dt) * 1e3
        data.flat[0] = np.finfo(dt).max
    else:
        info = np.iinfo(dt)
        data = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
        data.flat[0] = info.max
        data.flat[-1] = info.min
    return data
