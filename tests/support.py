"""Helpers shared by the test modules."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    """``../shared/fixtures`` beside the project; skips the test cleanly when absent."""
    path = PROJECT.parent / "shared" / "fixtures"
    if not path.is_dir():
        pytest.skip(f"conformance fixtures not found at {path} (they live in ../shared/fixtures)")
    return path


WORDS = ["", "a", "zarr", "naïve", "日本語", "x" * 40, "tab\there", "emoji 🌍"]


def sample(dtype: str | np.dtype, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Deterministic, non-trivial data of ``dtype`` (NaNs and extremes included where they exist)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype in ("str", str, "string"):
        return np.array([WORDS[i % len(WORDS)] + str(i % 7) for i in rng.permutation(n)], dtype=object).reshape(shape)
    if dtype in ("bytes", bytes):
        return np.array([(b"\x00\xff" * (i % 5)) + bytes([i % 256]) for i in range(n)], dtype=object).reshape(shape)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        a = rng.integers(max(info.min, -(2**40)), min(info.max, 2**40), size=shape, dtype=np.int64).astype(dt)
        flat = a.reshape(-1)
        if n > 2:
            flat[0], flat[1] = info.min, info.max
        return a
    if dt.kind == "f":
        a = (rng.standard_normal(shape) * 1000).astype(dt)
        flat = a.reshape(-1)
        if n > 3:
            flat[0], flat[1], flat[2] = np.nan, np.inf, -0.0
        return a
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "M":
        return (np.datetime64("2020-01-01", "s") + rng.integers(0, 10**8, size=shape)).astype(dt)
    if dt.kind == "m":
        return rng.integers(-(10**6), 10**6, size=shape).astype(dt)
    if dt.kind == "U":
        return np.array([WORDS[i % len(WORDS)][: dt.itemsize // 4] for i in range(n)], dtype=dt).reshape(shape)
    if dt.kind == "S":
        return np.array([bytes([65 + i % 26]) * (i % dt.itemsize + 1) for i in range(n)], dtype=dt).reshape(shape)
    raise NotImplementedError(dtype)


def assert_same(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal values (NaN equal to NaN), equal shapes."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if expected.dtype.kind in "fc":
        np.testing.assert_array_equal(got, expected)  # treats NaN == NaN
    elif expected.dtype.kind == "O" or got.dtype.kind in "OT":
        assert [*(np.asarray(got, dtype=object).reshape(-1))] == [*(expected.astype(object).reshape(-1))]
    else:
        np.testing.assert_array_equal(got, expected)


def assert_refused_without_allocating(fn: Callable[[], Any], error: type[BaseException], match: str,
                                      limit: int = 1_000_000) -> None:
    """``fn()`` raises ``error`` matching ``match`` while Python allocates less than ``limit`` bytes at its peak."""
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak} bytes (limit {limit}) before {error.__name__}: {match}"
