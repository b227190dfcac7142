"""W1-W4: whole-array writes and reads, sharded arrays, random windows, many small chunks.

Every engine writes its own copy (timed writes); every engine then reads the
copy zarr_engine wrote, so reads compare engines on identical bytes.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from . import limit
from .common import LIMIT, US, Context, Row, mbps, random_chunks, random_windows, round_robin, timed_read
from .engines import Adapter, Loc


def _ours(ctx: Context) -> Adapter:
    return next(a for a in ctx.adapters if a.name == US)


def ensure_store(ctx: Context, group: str, codec: str, data: np.ndarray, chunks: tuple[int, ...],
                 shards: tuple[int, ...] | None, root: Loc | None = None) -> Loc:
    """zarr_engine's copy of an array (written untimed if no workload wrote it yet)."""
    key = ("store", group, codec)
    if key not in ctx.cache:
        loc = (root or Loc(ctx.workdir)).child(f"{group}/{codec}/{US}")
        _ours(ctx).write(loc, data, chunks, shards, codec)
        ctx.cache[key] = loc
    return ctx.cache[key]


def write_read(ctx: Context, workload: str, codec: str, data: np.ndarray, chunks: tuple[int, ...],
               shards: tuple[int, ...] | None, root: Loc | None = None) -> list[Row]:
    """A timed whole write per engine, then a timed whole read of zarr_engine's copy per engine,
    then (local folders only) the decode limit on the same chunks."""
    s = ctx.sizes
    root = root or Loc(ctx.workdir)
    tag = f"{codec}" + (" sharded" if shards else "")
    wrow = Row(workload, f"write {tag}", "MB/s")
    rrow = Row(workload, f"read {tag}", "MB/s")
    writers: dict[str, Any] = {}
    for ad in ctx.adapters:
        loc = root.child(f"{workload}/{codec}/{ad.name}")
        writers[ad.name] = lambda ad=ad, loc=loc: _trials(ad, loc, data, chunks, shards, codec)
        if ad.name == US:
            ctx.cache.setdefault(("store", workload, codec), loc)
    round_robin(wrow, writers, s.write_repeats, lambda t: mbps(data.nbytes, t), ctx.log, s.row_seconds)
    if not wrow.values.get(US):
        ctx.cache.pop(("store", workload, codec), None)
    ours = ensure_store(ctx, workload, codec, data, chunks, shards, root)

    def reader(ad: Adapter) -> Any:
        h = ad.open(ours)
        timed_read(lambda: ad.read(h), 1, data)  # warm-up and correctness check
        return lambda: timed_read(lambda: ad.read(h), 1, None)

    readers: dict[str, Any] = {ad.name: lambda ad=ad: reader(ad) for ad in ctx.adapters}
    if not root.is_s3:
        readers[LIMIT] = lambda: _limit_trial(ours, codec, data, chunks, shards)
    round_robin(rrow, readers, s.repeats, lambda t: mbps(data.nbytes, t), ctx.log, s.row_seconds)
    return [wrow, rrow]


def _trials(ad: Adapter, loc: Loc, data: np.ndarray, chunks: tuple[int, ...], shards: tuple[int, ...] | None,
            codec: str) -> Any:
    """One engine's timed write trials: the first writes ``loc``, each later one a
    new sibling folder (local folders), and nothing is deleted until the run's
    folder is removed.

    On this machine's ext4 (no journal) creating a file scans past every inode
    freed in the last one to six minutes (the kernel's ``recently_deleted``
    check), so a write that first deletes the previous trial's 4,096 small
    files, or follows any large delete, spends 300-500 us a file in that scan,
    which swamps the engines being compared. The price is disk space: a full
    run keeps about 9 GB in its folder (4.3 GB when trials overwrote)."""
    count = itertools.count()

    def trial() -> float:
        k = next(count)
        # (an S3 bucket in moto's memory has no such scan: there each trial overwrites)
        target = loc if k == 0 or loc.is_s3 else Loc(f"{loc.path}~{k}")
        return _timed(lambda: ad.write(target, data, chunks, shards, codec))

    return trial


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _limit_trial(ours: Loc, codec: str, data: np.ndarray, chunks: tuple[int, ...],
                 shards: tuple[int, ...] | None) -> Any:
    """The decode limit as a trial: chunks loaded once (untimed), each trial decodes them all."""
    if shards:
        blobs, regions = limit.load_sharded(ours.path, data.shape, shards, chunks)
    else:
        blobs = limit.load_chunks(ours.path, data.shape, chunks)
        regions = [r for _, r in limit.chunk_slices(data.shape, chunks)]
    check = np.empty(data.shape, data.dtype)
    limit.decode_all(blobs, regions, codec, check, chunks, limit.shared_pool())
    if not np.array_equal(check, data):
        raise AssertionError("the decode limit decoded different values")
    del check
    return lambda: limit.limit_seconds(blobs, regions, codec, data.shape, data.dtype, chunks, 1)


def w1(ctx: Context) -> list[Row]:
    """W1: float32 whole write and read, zstd level 1 and blosc lz4 + shuffle."""
    s = ctx.sizes
    data = ctx.data(s.w1_shape, "float32")
    rows: list[Row] = []
    for codec in ("zstd1", "lz4shuffle"):
        rows += write_read(ctx, "W1", codec, data, s.w1_chunks, None)
    return rows


def _window_reads(ctx: Context, row: Row, loc: Loc, windows: list[tuple[slice, ...]], data: np.ndarray) -> None:
    def prepare(ad: Adapter) -> Any:
        h = ad.open(loc)
        for sel in windows[:3]:  # warm-up and a correctness check, untimed
            if not np.array_equal(ad.read(h, sel), data[sel]):
                raise AssertionError(f"window {sel} read back wrong values")

        def trial() -> float:
            t0 = time.perf_counter()
            for sel in windows:
                ad.read(h, sel)
            return time.perf_counter() - t0

        return trial

    round_robin(row, {ad.name: lambda ad=ad: prepare(ad) for ad in ctx.adapters}, min(2, ctx.sizes.repeats),
                lambda t: len(windows) / t, ctx.log)


def w2(ctx: Context) -> list[Row]:
    """W2: W1 sharded (zstd level 1): whole write and read, then random inner-chunk reads."""
    s = ctx.sizes
    data = ctx.data(s.w1_shape, "float32")
    rows = write_read(ctx, "W2", "zstd1", data, s.w1_chunks, s.w2_shards)
    loc = ensure_store(ctx, "W2", "zstd1", data, s.w1_chunks, s.w2_shards)
    row = Row("W2", f"{s.w2_random} random inner chunks", "ops/s")
    _window_reads(ctx, row, loc, random_chunks(s.w1_shape, s.w1_chunks, s.w2_random), data)
    return rows + [row]


def w3(ctx: Context) -> list[Row]:
    """W3: random windows read one at a time from W1's (zstd level 1) and W2's stores."""
    s = ctx.sizes
    data = ctx.data(s.w1_shape, "float32")
    windows = random_windows(s.w1_shape, s.w3_window, s.w3_count)
    rows = []
    for group, shards in (("W1", None), ("W2", s.w2_shards)):
        loc = ensure_store(ctx, group, "zstd1", data, s.w1_chunks, shards)
        label = "sharded" if shards else "chunked"
        row = Row("W3", f"{s.w3_count} windows {'x'.join(map(str, s.w3_window))} {label}", "ops/s")
        _window_reads(ctx, row, loc, windows, data)
        rows.append(row)
    return rows


def w4(ctx: Context) -> list[Row]:
    """W4: uint8 with many small chunks, uncompressed and zstd level 1: whole write and read."""
    s = ctx.sizes
    data = ctx.data(s.w4_shape, "uint8")
    rows: list[Row] = []
    for codec in ("none", "zstd1"):
        rows += write_read(ctx, "W4", codec, data, s.w4_chunks, None)
    return rows


WORKLOADS: dict[str, Any] = {"W1": w1, "W2": w2, "W3": w3, "W4": w4}
