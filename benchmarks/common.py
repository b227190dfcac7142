"""Shared pieces of the benchmark suite: sizes, generated data, timing, result rows.

Every figure the suite reports is a :class:`Row`: one workload case, the metric
it is measured in, and one value per engine (``zarr_engine``, each peer, and
``limit`` where a decode limit applies). Ratios are computed from the values
by :mod:`benchmarks.run`, always oriented so that > 1 means zarr_engine wins.
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the engine under test; every other key of ``Row.values`` is a peer or the limit
US = "zarr_engine"
LIMIT = "limit"
SEED = 20240611


@dataclass(frozen=True)
class Sizes:
    """The dimensions of every workload for one run size (full, quick or micro)."""

    name: str
    w1_shape: tuple[int, int, int]
    w1_chunks: tuple[int, int, int]
    w2_shards: tuple[int, int, int]
    w3_window: tuple[int, int, int]
    w3_count: int  # random windows read per store
    w2_random: int  # random inner-chunk reads
    w4_shape: tuple[int, int]
    w4_chunks: tuple[int, int]
    w5_arrays: int
    w6_w4_shape: tuple[int, int]
    w6_w2_shape: tuple[int, int, int]
    w6_w2_shards: tuple[int, int, int]
    repeats: int  # timed repeats of a whole read (at most 2 of a window series); the best is kept
    write_repeats: int
    #: seconds each engine's trials of a whole read or write should add up to:
    #: an engine below it after its repeats takes more turns (see :func:`round_robin`)
    row_seconds: float = 0.0


FULL = Sizes(
    name="full", w1_shape=(256, 1024, 1024), w1_chunks=(64, 128, 128), w2_shards=(128, 512, 512),
    w3_window=(32, 32, 32), w3_count=2000, w2_random=2000, w4_shape=(4096, 4096), w4_chunks=(64, 64),
    w5_arrays=500, w6_w4_shape=(4096, 4096), w6_w2_shape=(256, 1024, 1024), w6_w2_shards=(128, 512, 512),
    repeats=3, write_repeats=2, row_seconds=3.0,
)
#: about two minutes on 2 cores: W1 is 128 MiB (32 chunks), shards hold 4 inner chunks
QUICK = Sizes(
    name="quick", w1_shape=(128, 512, 512), w1_chunks=(64, 128, 128), w2_shards=(64, 256, 256),
    w3_window=(32, 32, 32), w3_count=200, w2_random=300, w4_shape=(2048, 2048), w4_chunks=(64, 64),
    w5_arrays=100, w6_w4_shape=(1024, 1024), w6_w2_shape=(64, 512, 512), w6_w2_shards=(64, 256, 256),
    repeats=3, write_repeats=2, row_seconds=0.5,
)
#: seconds: only for the smoke test of the machinery
MICRO = Sizes(
    name="micro", w1_shape=(32, 64, 64), w1_chunks=(16, 32, 32), w2_shards=(32, 64, 64),
    w3_window=(8, 8, 8), w3_count=10, w2_random=10, w4_shape=(256, 256), w4_chunks=(64, 64),
    w5_arrays=5, w6_w4_shape=(128, 128), w6_w2_shape=(16, 64, 64), w6_w2_shards=(16, 64, 64),
    repeats=1, write_repeats=1,
)
SIZES = {s.name: s for s in (FULL, QUICK, MICRO)}


@dataclass
class Row:
    """One measured case: ``values`` maps engine name to the figure (None: not run/failed)."""

    workload: str
    case: str
    metric: str  # "MB/s", "ops/s" or "x array size"
    higher_is_better: bool = True
    values: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        """zarr_engine against every other engine, > 1 meaning zarr_engine is better."""
        ours = self.values.get(US)
        out: dict[str, float] = {}
        if not ours:
            return out
        for name, v in self.values.items():
            if name == US or not v:
                continue
            out[name] = ours / v if self.higher_is_better else v / ours
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload, "case": self.case, "metric": self.metric,
            "higher_is_better": self.higher_is_better, "values": dict(self.values),
            "ratios": self.ratios(), "notes": dict(self.notes),
        }


def cores() -> int:
    """Cores this process may run on (the pool size every engine gets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def smooth_field(shape: tuple[int, ...], dtype: Any, seed: int = SEED) -> np.ndarray:
    """A smooth field plus noise, with a fixed seed: compressible but not trivially.

    Floats are rounded to 1/256 so the low mantissa bits are zero (as in real
    measured data); integers take the field scaled onto their range.
    """
    rng = np.random.default_rng(seed)
    # a separable sum of sines: cheap to build for a 1 GiB array, one pass per axis
    out = np.zeros(shape, dtype=np.float32)
    for ax, n in enumerate(shape):
        k = rng.uniform(1.0, 4.0)
        phase = rng.uniform(0, 2 * math.pi)
        line = np.sin(np.linspace(0, k * math.pi, n, dtype=np.float32) + phase).astype(np.float32)
        out += line.reshape([n if i == ax else 1 for i in range(len(shape))])
    noise = rng.standard_normal(size=shape, dtype=np.float32)
    noise *= 0.05
    out += noise
    del noise
    dt = np.dtype(dtype)
    if dt.kind == "f":
        out *= 256
        np.round(out, out=out)
        out /= 256
        return out.astype(dt, copy=False)
    lo, hi = float(out.min()), float(out.max())
    info = np.iinfo(dt)
    out -= lo
    out *= (info.max - info.min) / max(hi - lo, 1e-9)
    out += info.min
    return out.astype(dt)


def best_of(fn: Callable[[], Any], repeats: int, before: Callable[[], Any] | None = None) -> float:
    """The shortest wall time in seconds of ``repeats`` calls of ``fn`` (``before`` untimed)."""
    best = math.inf
    for _ in range(max(1, repeats)):
        if before is not None:
            before()
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        del result
        best = min(best, dt)
    return best


def mbps(nbytes: int, seconds: float) -> float:
    """Throughput in MB/s (10**6 bytes) of uncompressed array data."""
    return nbytes / 1e6 / seconds if seconds > 0 else float("inf")


def random_windows(shape: tuple[int, ...], window: tuple[int, ...], count: int, seed: int = SEED) -> list[tuple[slice, ...]]:
    """``count`` random windows of ``window``'s shape inside ``shape``, fixed seed."""
    rng = np.random.default_rng(seed + 1)
    starts = [rng.integers(0, s - w + 1, size=count) for s, w in zip(shape, window)]
    return [tuple(slice(int(st[i]), int(st[i]) + w) for st, w in zip(starts, window)) for i in range(count)]


def random_chunks(shape: tuple[int, ...], chunks: tuple[int, ...], count: int, seed: int = SEED) -> list[tuple[slice, ...]]:
    """``count`` random whole chunks (as slices) of a grid of ``chunks`` over ``shape``."""
    rng = np.random.default_rng(seed + 2)
    grid = [-(-s // c) for s, c in zip(shape, chunks)]
    idx = [rng.integers(0, g, size=count) for g in grid]
    return [
        tuple(slice(int(ix[i]) * c, min(int(ix[i]) * c + c, s)) for ix, c, s in zip(idx, chunks, shape))
        for i in range(count)
    ]


@dataclass
class Context:
    """What every workload module gets: sizes, adapters, a scratch folder, a logger,
    and a cache of generated data and already written stores shared between workloads."""

    sizes: Sizes
    adapters: list[Any]
    workdir: str
    log: Callable[[str], None]
    cache: dict[Any, Any] = field(default_factory=dict)

    def data(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """The generated array of ``shape`` and ``dtype`` (built once per run)."""
        key = ("data", tuple(shape), np.dtype(dtype).str)
        if key not in self.cache:
            self.cache[key] = smooth_field(shape, dtype)
        return self.cache[key]

    def path(self, *parts: str) -> str:
        return os.path.join(self.workdir, *parts)


def attempt(row: Row, engine: str, fn: Callable[[], float], log: Callable[[str], None]) -> None:
    """Store ``fn()`` as ``engine``'s value in ``row``; a failure becomes None and a note."""
    try:
        row.values[engine] = fn()
    except Exception as e:  # noqa: BLE001 - a peer failing must not stop the run
        row.values[engine] = None
        msg = f"{type(e).__name__}: {e}"
        row.notes[engine] = msg[:300]
        log(f"  ! {row.workload} {row.case} {engine}: {msg[:200]}")


def timed_read(fn: Callable[[], np.ndarray], repeats: int, expect: np.ndarray | None) -> float:
    """Best time of ``repeats`` calls of ``fn``; the first result is checked against ``expect``."""
    best = math.inf
    for i in range(max(1, repeats)):
        gc.collect()
        t0 = time.perf_counter()
        got = fn()
        dt = time.perf_counter() - t0
        if i == 0 and expect is not None and not np.array_equal(np.asarray(got), expect):
            raise AssertionError("read back different values than were written")
        del got
        best = min(best, dt)
    return best


#: rounds of :func:`round_robin` taken so far in this run (where the next one starts)
_ROUNDS = itertools.count()


#: the most trials :func:`round_robin` gives one engine in one row
MAX_TRIALS = 8


def round_robin(row: Row, prepare: dict[str, Callable[[], Callable[[], float]]], repeats: int,
                value: Callable[[float], float], log: Callable[[str], None], min_seconds: float = 0.0) -> None:
    """Fill ``row`` with each engine's best of at least ``repeats`` trials, taken in turns.

    ``prepare[name]()`` (untimed: open, warm up, check) returns a function that
    runs one trial and returns its seconds. The engines take turns within each
    round, so that a change in the machine's load during the run falls on all
    of them alike rather than on whichever engine happened to run then. Each
    round (counted over the whole run) starts one engine further along: the
    first trial of a row pays most for what ran just before it (a file create
    after a large delete, memory the VM's host has to supply again), and with
    a fixed order that was always the same engine.

    A trial of a tenth of a second is easily thrown by a moment of the VM's
    load, so after ``repeats`` rounds an engine whose trials add up to less
    than ``min_seconds`` keeps taking turns (with the others still short of
    it) until they do, up to :data:`MAX_TRIALS` trials.
    """
    trials: dict[str, Callable[[], float]] = {}
    for name, prep in prepare.items():
        log(f"  {row.workload} {row.case}: {name}")
        attempt(row, name, lambda prep=prep, name=name: trials.__setitem__(name, prep()) or 0.0, log)
    best = {name: math.inf for name in trials}
    spent = {name: 0.0 for name in trials}
    for k in range(max(1, repeats, MAX_TRIALS if min_seconds > 0 else 0)):
        names = [n for n in trials if k < repeats or spent[n] < min_seconds]
        if not names:
            break
        turn = next(_ROUNDS) % len(names)
        for name in names[turn:] + names[:turn]:
            gc.collect()

            def one(name: str = name) -> float:
                seconds = trials[name]()
                best[name] = min(best[name], seconds)
                spent[name] += seconds
                return 0.0

            attempt(row, name, one, log)
            if row.values.get(name) is None:
                trials.pop(name)
                best.pop(name)
    for name in prepare:
        if name in best and math.isfinite(best[name]):
            row.values[name] = value(best[name])
