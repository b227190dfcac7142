"""Helpers shared by the reliability tests: stress scaling and generation-stamped chunks."""

from __future__ import annotations

import os

import numpy as np

#: ZARR_ENGINE_STRESS=1 multiplies iterations; the default keeps the whole directory under a few minutes.
STRESS = os.environ.get("ZARR_ENGINE_STRESS", "") not in ("", "0")


def scaled(default: int, stress: int) -> int:
    """``stress`` when ZARR_ENGINE_STRESS is set, else ``default``."""
    return stress if STRESS else default


def stamp(chunk_index: int, generation: int, shape: tuple[int, ...], dtype: str = "i8") -> np.ndarray:
    """A chunk whose every element says which chunk and which write generation it came from.

    Element ``j`` holds ``chunk_index * 10**9 + generation * 10**4 + j``, so a
    chunk mixing two generations, or bytes of another chunk, is recognisable.
    """
    n = int(np.prod(shape))
    return (chunk_index * 10**9 + generation * 10**4 + np.arange(n, dtype=np.int64)).reshape(shape).astype(dtype)


def generation_of(chunk: np.ndarray, chunk_index: int) -> int | None:
    """The generation a stored chunk belongs to, or None when it is not one clean generation."""
    flat = np.asarray(chunk, dtype=np.int64).reshape(-1)
    base = flat - np.arange(flat.size, dtype=np.int64) - chunk_index * 10**9
    if flat.size == 0 or not (base == base[0]).all() or base[0] % 10**4:
        return None
    return int(base[0] // 10**4)
