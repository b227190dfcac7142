"""The decode limit: the best any engine could do for a whole-array read.

The compressed chunks are already in memory (read from the engine's own
output, untimed); the timed part decodes them with numcodecs on one thread per
core into one preallocated array. A chunk whose place in the output is
contiguous is decoded straight there; any other is decoded into the thread's
scratch buffer and copied once, which is the least work a C-ordered output
allows. No store, no engine, no per-chunk planning.
"""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .common import cores


def _codec(codec: str) -> Any:
    import numcodecs

    if codec == "zstd1":
        return numcodecs.Zstd(level=1)
    if codec == "lz4shuffle":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    return None


def chunk_slices(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """(grid coordinates, region in the array) of every chunk, in C order."""
    grid = [range(-(-s // c)) for s, c in zip(shape, chunks)]
    return [
        (coords, tuple(slice(i * c, min(i * c + c, s)) for i, c, s in zip(coords, chunks, shape)))
        for coords in itertools.product(*grid)
    ]


def load_chunks(folder: str, shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[bytes]:
    """The stored bytes of every chunk of a v3 array (default key encoding ``c/i/j/k``), C order."""
    return [_read(os.path.join(folder, "c", *map(str, coords))) for coords, _ in chunk_slices(shape, chunks)]


def load_sharded(folder: str, shape: tuple[int, ...], shards: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[list[Any], list[tuple[slice, ...]]]:
    """The inner chunks' bytes of a sharded v3 array (index at the end, crc32c), as
    views of the shard files, with each inner chunk's region in the array."""
    blobs: list[Any] = []
    regions: list[tuple[slice, ...]] = []
    per_shard = [s // c for s, c in zip(shards, chunks)]
    n_inner = int(np.prod(per_shard))
    for coords, region in chunk_slices(shape, shards):
        raw = memoryview(_read(os.path.join(folder, "c", *map(str, coords))))
        index = np.frombuffer(raw[len(raw) - 16 * n_inner - 4 : len(raw) - 4], dtype="<u8").reshape(-1, 2)
        for k, inner in enumerate(itertools.product(*(range(p) for p in per_shard))):
            off, size = int(index[k, 0]), int(index[k, 1])
            if off == 2**64 - 1:
                continue  # an empty inner chunk: nothing to decode
            blobs.append(raw[off : off + size])
            regions.append(tuple(slice(r.start + i * c, r.start + i * c + c) for r, i, c in zip(region, inner, chunks)))
    return blobs, regions


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def decode_all(blobs: list[Any], regions: list[tuple[slice, ...]], codec: str, out: np.ndarray,
               chunks: tuple[int, ...], pool: ThreadPoolExecutor) -> None:
    """Decode every blob into its region of ``out``, one contiguous run of blobs per thread."""
    dec = _codec(codec)
    n = len(blobs)
    workers = pool._max_workers  # noqa: SLF001 - the size we built it with
    bounds = [round(k * n / workers) for k in range(workers + 1)]

    def run(lo: int, hi: int) -> None:
        scratch = np.empty(chunks, dtype=out.dtype)
        flat = scratch.reshape(-1).view(np.uint8)
        for i in range(lo, hi):
            target = out[regions[i]]
            direct = target.flags.c_contiguous and target.shape == scratch.shape
            buf = target.reshape(-1).view(np.uint8) if direct else flat
            if dec is None:
                buf[...] = np.frombuffer(blobs[i], dtype=np.uint8)
            else:
                dec.decode(blobs[i], out=buf)
            if not direct:
                target[...] = scratch[tuple(slice(0, e) for e in target.shape)]

    futures = [pool.submit(run, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
    for f in futures:
        f.result()


_pool: ThreadPoolExecutor | None = None


def shared_pool() -> ThreadPoolExecutor:
    """One thread per core, kept for the whole run (as an engine keeps its pool)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="decode-limit")
    return _pool


def limit_seconds(blobs: list[Any], regions: list[tuple[slice, ...]], codec: str, shape: tuple[int, ...],
                  dtype: Any, chunks: tuple[int, ...], repeats: int) -> float:
    """Best wall time of decoding ``blobs`` into a fresh preallocated array of ``shape``."""
    best = float("inf")
    for _ in range(max(1, repeats)):
        out = np.empty(shape, dtype=dtype)
        t0 = time.perf_counter()
        decode_all(blobs, regions, codec, out, chunks, shared_pool())
        best = min(best, time.perf_counter() - t0)
        del out
    return best
