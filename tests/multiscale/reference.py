"""Plain-numpy reference downsampling for the multiscale tests: reshape every axis
into (windows, window) pairs and reduce the window axes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def windows(a: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """``a`` trimmed to whole windows, as shape ``(*out_shape, prod(factors))``."""
    out = tuple(n // f for n, f in zip(a.shape, factors))
    trimmed = a[tuple(slice(0, o * f) for o, f in zip(out, factors))]
    split = trimmed.reshape([x for o, f in zip(out, factors) for x in (o, f)])
    nd = len(out)
    moved = split.transpose([2 * i for i in range(nd)] + [2 * i + 1 for i in range(nd)])
    return moved.reshape(out + (-1,))


def ref_mean(a: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    w = windows(a, factors).astype(np.float64)
    m = w.mean(axis=-1)
    if a.dtype.kind in "ui":
        return np.floor(m + 0.5).astype(a.dtype)
    return m.astype(a.dtype)


def ref_nearest(a: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    return windows(a, factors)[..., 0].copy()


def ref_mode(a: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    w = windows(a, factors)
    flat = w.reshape(-1, w.shape[-1])
    out = np.empty(flat.shape[0], dtype=a.dtype)
    for i, row in enumerate(flat):
        counts = Counter(row.tolist())
        top = max(counts.values())
        out[i] = min(v for v, c in counts.items() if c == top)
    return out.reshape(w.shape[:-1])


REFERENCE = {"mean": ref_mean, "nearest": ref_nearest, "mode": ref_mode}


def reference_pyramid(a: np.ndarray, space: Sequence[bool], method: str, n_levels: int,
                      factor: int = 2) -> list[np.ndarray]:
    """Levels 0..n_levels-1: each from the one before, space axes divided by ``factor``
    while they are at least that long."""
    levels = [a]
    while len(levels) < n_levels:
        prev = levels[-1]
        factors = [factor if s and n >= factor else 1 for s, n in zip(space, prev.shape)]
        levels.append(REFERENCE[method](prev, factors))
    return levels
