"""Decoded-chunk cache: random windows read twice, with and without a cache.

W3's workload (random (32, 32, 32) windows from a float32 zstd-1 array with
chunks (64, 128, 128)), read as two passes over the same windows, the way a
viewer or a notebook comes back to the same region. Each engine gets a fresh
handle; the first pass starts with an empty cache, the second finds what the
first kept.

* ``zarr_engine``: no cache, then ``chunk_cache_bytes`` = a quarter of the
  array and the whole array;
* ``tensorstore``: the same two budgets as its ``cache_pool``
  ``total_bytes_limit``, with ``recheck_cached_data: false`` (like ours, it
  then trusts what it kept instead of asking the store again);
* ``zarr-python``: no cache (it has none for decoded chunks).

Not a test: prints windows per second for each pass.

    python -m benchmarks.bench_cache [--quick] [--windows N] [--dir D]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import random_windows, smooth_field

CHUNKS = (64, 128, 128)
WINDOW = (32, 32, 32)


def passes(read: Callable[[tuple[slice, ...]], np.ndarray], windows: list[tuple[slice, ...]],
           data: np.ndarray) -> tuple[float, float]:
    """Windows per second of a first and a second pass over ``windows`` (the first checked)."""
    rates = []
    for n in range(2):
        gc.collect()
        t0 = time.perf_counter()
        for w in windows:
            got = read(w)
        dt = time.perf_counter() - t0
        rates.append(len(windows) / dt)
        if n == 0:
            np.testing.assert_array_equal(got, data[windows[-1]])
    return rates[0], rates[1]


def engines(path: Path, nbytes: int) -> dict[str, Callable[[], Callable[[tuple[slice, ...]], Any]]]:
    import zarr_engine as ze

    def ours(budget: int) -> Callable[[], Callable[[tuple[slice, ...]], Any]]:
        def make() -> Callable[[tuple[slice, ...]], Any]:
            a = ze.open_array(str(path), mode="r", chunk_cache_bytes=budget)
            return a.__getitem__
        return make

    found: dict[str, Callable[[], Callable[[tuple[slice, ...]], Any]]] = {
        "zarr_engine, no cache": ours(0),
        "zarr_engine, cache 1/4 array": ours(nbytes // 4),
        "zarr_engine, cache = array": ours(nbytes),
    }
    try:
        import tensorstore as ts
    except ImportError:
        ts = None
    if ts is not None:
        def theirs(budget: int) -> Callable[[], Callable[[tuple[slice, ...]], Any]]:
            def make() -> Callable[[tuple[slice, ...]], Any]:
                spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path) + "/"},
                        "recheck_cached_data": False}
                context = ts.Context({"cache_pool": {"total_bytes_limit": budget}})
                h = ts.open(spec, read=True, context=context).result()
                return lambda w: h[w].read().result()
            return make

        found["tensorstore, no cache"] = theirs(0)
        found["tensorstore, cache 1/4 array"] = theirs(nbytes // 4)
        found["tensorstore, cache = array"] = theirs(nbytes)
    try:
        import zarr
    except ImportError:
        zarr = None
    if zarr is not None:
        def zp() -> Callable[[tuple[slice, ...]], Any]:
            return zarr.open_array(str(path), mode="r").__getitem__

        found["zarr-python (no cache)"] = zp
    return found


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="(128, 512, 512), 128 MiB, instead of (256, 1024, 1024)")
    ap.add_argument("--windows", type=int, default=None, help="windows per pass (default 2000, --quick 300)")
    ap.add_argument("--dir", default=None, help="where to write the array (default: a temporary folder)")
    args = ap.parse_args(argv)
    shape = (128, 512, 512) if args.quick else (256, 1024, 1024)
    count = args.windows or (300 if args.quick else 2000)
    root = Path(tempfile.mkdtemp(prefix="bench_cache_", dir=args.dir))
    try:
        import zarr_engine as ze

        data = smooth_field(shape, "float32")
        path = root / "a.zarr"
        a = ze.create_array(str(path), shape=shape, chunks=CHUNKS, dtype="float32", fill_value=0,
                            compressors=[{"name": "zstd", "configuration": {"level": 1, "checksum": False}}])
        a[...] = data
        windows = random_windows(shape, WINDOW, count)
        print(f"array {shape} float32, chunks {CHUNKS}, zstd 1; {count} random {WINDOW} windows a pass")
        print(f"{'engine':32} {'pass 1 (windows/s)':>20} {'pass 2 (windows/s)':>20}")
        for name, make in engines(path, data.nbytes).items():
            first, second = passes(make(), windows, data)
            print(f"{name:32} {first:20.0f} {second:20.0f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
