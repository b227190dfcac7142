"""Downsampling one block of an image by whole windows: mean, nearest and mode.

A block of shape ``s`` becomes one of shape ``s // f`` per axis: the last
``s % f`` samples of an axis, which do not fill a window, are dropped (the
edge is trimmed, as ngff-zarr's coarsening and ITK's bin-shrink do), so that
every output sample is computed from a full window and the result never
depends on how the image was cut into blocks.

* ``mean``: the window's mean, accumulated exactly (integers in a wider
  integer, floats in float64); integer results are rounded half up,
  ``floor(mean + 0.5)``, as ngff-zarr's bin-shrink does.
* ``nearest``: the window's first sample (index ``f * j``), so the output
  grid sits on input samples.
* ``mode``: the window's most frequent value, the smallest on a tie; for
  label images, whose values are identities rather than intensities.

These are plain numpy functions; the pyramid builder maps them over dask blocks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np

METHODS = ("mean", "nearest", "mode")


def _trimmed(block: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    return block[tuple(slice(0, (n // f) * f) for n, f in zip(block.shape, factors))]


def _window_views(block: np.ndarray, factors: Sequence[int]) -> Iterator[np.ndarray]:
    """One strided view per position inside the window; view ``k`` holds that
    position's sample of every window, so the views line up with the output."""
    trimmed = _trimmed(block, factors)
    for offsets in itertools.product(*(range(f) for f in factors)):
        yield trimmed[tuple(slice(o, None, f) for o, f in zip(offsets, factors))]


def _out_shape(shape: Sequence[int], factors: Sequence[int]) -> tuple[int, ...]:
    return tuple(n // f for n, f in zip(shape, factors))


def _int_accumulator(dtype: np.dtype, count: int) -> np.dtype | None:
    """An integer type holding ``2 * sum + count`` of ``count`` samples exactly,
    as narrow as possible (narrow sums move less memory), or None for 64-bit input."""
    info = np.iinfo(dtype)
    worst = count * (2 * max(abs(int(info.min)), int(info.max)) + 1)
    if dtype.kind == "u" and worst < 2**32:
        return np.dtype("u4")
    if worst < 2**31:
        return np.dtype("i4")
    if worst < 2**63:
        return np.dtype("i8")
    return None


def mean_block(block: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """The mean of every window of ``factors`` in ``block`` (edge trimmed), in ``block``'s dtype."""
    dtype = block.dtype
    count = math.prod(factors)
    shape = _out_shape(block.shape, factors)
    if count == 1:
        return np.array(_trimmed(block, factors), copy=True)
    if dtype.kind in "ui":
        acc_t = _int_accumulator(dtype, count)
        if acc_t is None:
            return _mean_wide_int(block, factors, count, shape)
        acc = np.zeros(shape, dtype=acc_t)
        for view in _window_views(block, factors):
            np.add(acc, view, out=acc, casting="unsafe")
        # floor(sum / n + 1/2) in integers: (2 * sum + n) // (2 * n)
        acc *= 2
        acc += count
        acc //= 2 * count
        return acc.astype(dtype)
    if dtype.kind == "f":
        acc = np.zeros(shape, dtype=np.float64)
        for view in _window_views(block, factors):
            np.add(acc, view, out=acc)
        acc /= count
        return acc.astype(dtype)
    if dtype.kind == "b":
        # a boolean mask: a window is true when most of it is (ties round up, like integers)
        acc = np.zeros(shape, dtype=np.int64)
        for view in _window_views(block, factors):
            acc += view
        return 2 * acc >= count
    raise TypeError(f"mean downsampling needs a numeric dtype, got {dtype}")


def _mean_wide_int(block: np.ndarray, factors: Sequence[int], count: int, shape: tuple[int, ...]) -> np.ndarray:
    """Rounded mean of 64-bit integers without overflow or float rounding.

    Each sample is split as ``n * q + r`` with ``0 <= r < n`` (floor division),
    so the sum is ``n * sum(q) + sum(r)`` and the rounded mean is
    ``sum(q) + (2 * sum(r) + n) // (2 * n)``; neither partial sum can overflow.
    """
    n = block.dtype.type(count)
    q = np.zeros(shape, dtype=block.dtype)
    r = np.zeros(shape, dtype=block.dtype)
    for view in _window_views(block, factors):
        q += view // n
        r += view % n
    two = block.dtype.type(2)
    return q + (two * r + n) // (two * n)


def nearest_block(block: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """The first sample of every window of ``factors`` in ``block`` (edge trimmed)."""
    return np.ascontiguousarray(next(_window_views(block, factors)))


def mode_block(block: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """The most frequent value of every window of ``factors`` in ``block``
    (edge trimmed); the smallest of the most frequent values on a tie."""
    count = math.prod(factors)
    if count == 1:
        return np.array(_trimmed(block, factors), copy=True)
    stacked = np.stack(list(_window_views(block, factors)))
    stacked.sort(axis=0)
    # how often each (sorted) sample occurs in its window; argmax takes the first
    # maximum, which after sorting is the smallest of the most frequent values
    counts = np.zeros(stacked.shape, dtype=np.min_scalar_type(count))
    for k in range(count):
        counts[k] = (stacked == stacked[k]).sum(axis=0, dtype=counts.dtype)
    best = counts.argmax(axis=0)[np.newaxis]
    return np.take_along_axis(stacked, best, axis=0)[0]


_FUNCS = {"mean": mean_block, "nearest": nearest_block, "mode": mode_block}


def downsample_block(block: np.ndarray, factors: Sequence[int], method: str) -> np.ndarray:
    """Downsample ``block`` by ``factors`` with ``method`` (``mean``, ``nearest`` or ``mode``)."""
    try:
        func = _FUNCS[method]
    except KeyError:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}") from None
    return func(np.asarray(block), tuple(int(f) for f in factors))


def shifts_grid(method: str) -> bool:
    """Whether ``method`` moves the sample centres by half a window (so the
    level needs a translation): true for window statistics, false for ``nearest``."""
    return method != "nearest"
