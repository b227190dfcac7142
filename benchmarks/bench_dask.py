"""Benchmark of issue 5: a float32 zstd array read to a sum through our dask graph.

Reads the same array (about ``--size-mb`` MiB of float32, inner chunks
(64, 128, 128), zstd level 1, written once by zarr_engine, unsharded and
sharded with shards (128, 512, 512) as in the sharding issue) four ways:

* our direct read: ``ze.open_array(...)[...]`` then ``numpy.sum``;
* our dask graph, threaded scheduler: ``zarr_engine.dask.from_zarr(...).sum()``;
* our dask graph on a ``distributed.LocalCluster`` (2 worker processes x 1 thread);
* ``dask.array.from_zarr`` over zarr-python, threaded scheduler (one task per inner chunk);
* for the sharded layout also our dask graph with one task per inner chunk.

It prints throughput in MB/s (best of ``--repeats``) and the issue's ratios,
and the time to build the read graph of a 10^6-chunk array. Not a test::

    python benchmarks/bench_dask.py --quick          # ~128 MiB
    python benchmarks/bench_dask.py --size-mb 1024   # the issue's 1 GiB
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np

import zarr_engine as ze
from zarr_engine.dask import from_zarr

CHUNKS = (64, 128, 128)
SHARDS = (128, 512, 512)
ZSTD = [{"name": "zstd", "configuration": {"level": 1, "checksum": False}}]


def make_data(size_mb: int) -> np.ndarray:
    """Smooth fields plus noise (compressible like measured data, not like zeros), shape (n, 512, 512)."""
    n = max(64, size_mb * 2**20 // (4 * 512 * 512) // 64 * 64)
    rng = np.random.default_rng(5)
    y = np.linspace(0, 6 * np.pi, 512, dtype=np.float32)
    base = np.sin(y)[:, None] * np.cos(y)[None, :]
    out = np.empty((n, 512, 512), dtype=np.float32)
    for i in range(n):
        out[i] = base * (1 + i / n) + rng.standard_normal((512, 512), dtype=np.float32) * 0.01
    return np.round(out, 3)


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Fastest wall time of ``repeats`` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def graph_build_seconds() -> float:
    arr = ze.create_array("memory://bench-million", shape=(1000, 1000), dtype="u1", chunks=(1, 1), overwrite=True)
    t0 = time.perf_counter()
    x = from_zarr(arr)
    elapsed = time.perf_counter() - t0
    assert x.numblocks == (1000, 1000)
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="array size in MiB (default 1024)")
    parser.add_argument("--quick", action="store_true", help="about 128 MiB")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="folder for the arrays (default: a temporary folder)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster runs")
    args = parser.parse_args(argv)
    size_mb = 128 if args.quick else args.size_mb

    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-dask-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        run(root, size_mb, args.repeats, not args.no_cluster)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


def run(root: Path, size_mb: int, repeats: int, with_cluster: bool) -> None:
    data = make_data(size_mb)
    mb = data.nbytes / 1e6
    expected = float(data.sum(dtype=np.float64))
    print(f"array {data.shape} float32 = {data.nbytes / 2**20:.0f} MiB, chunks {CHUNKS}, zstd level 1")
    paths = {"plain": str(root / "plain.zarr"), "sharded": str(root / "sharded.zarr")}
    for layout, path in paths.items():
        shards = SHARDS if layout == "sharded" and data.shape[0] >= SHARDS[0] else None
        if layout == "sharded" and shards is None:
            shards = (data.shape[0], 512, 512)
        arr = ze.create_array(path, shape=data.shape, dtype="f4", chunks=CHUNKS, shards=shards, compressors=ZSTD)
        arr[...] = data
    del data

    def check(value: float) -> None:
        assert abs(value - expected) <= 1e-6 * abs(expected) + 1e-3, (value, expected)

    results: dict[str, dict[str, float]] = {}
    client = None
    if with_cluster:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster, set_as_default=False)
    try:
        for layout, path in paths.items():
            row: dict[str, float] = {}

            def direct() -> float:
                return float(ze.open_array(path, mode="r")[...].sum(dtype=np.float64))

            def ours_threads() -> float:
                return float(from_zarr(path).sum(dtype=np.float64).compute(scheduler="threads"))

            def zarr_python() -> float:
                import zarr

                return float(da.from_zarr(zarr.open_array(path, mode="r")).sum(dtype=np.float64)
                             .compute(scheduler="threads"))

            cases: list[tuple[str, Callable[[], float]]] = [
                ("direct", direct), ("dask-threads", ours_threads), ("zarr-python-dask", zarr_python),
            ]
            if layout == "sharded":
                def ours_inner() -> float:
                    # one task per inner chunk: shows what per-shard tasks cost when shards are few
                    x = from_zarr(path, chunks=CHUNKS)
                    return float(x.sum(dtype=np.float64).compute(scheduler="threads"))

                cases.append(("dask-threads-inner", ours_inner))
            if client is not None:
                def ours_cluster() -> float:
                    return float(client.compute(from_zarr(path).sum(dtype=np.float64)).result())

                cases.insert(2, ("dask-cluster", ours_cluster))
            for name, fn in cases:
                seconds, value = best(fn, repeats)
                check(value)
                row[name] = mb / seconds
            results[layout] = row
    finally:
        if client is not None:
            client.close()
            client.cluster.close()  # type: ignore[union-attr]

    columns = list(dict.fromkeys(c for row in results.values() for c in row))
    print(f"\n{'layout':<9}" + "".join(f"{c:>20}" for c in columns) + "   (MB/s)")
    for layout, row in results.items():
        print(f"{layout:<9}" + "".join(f"{row[c]:>20.0f}" if c in row else f"{'-':>20}" for c in columns))
    print()
    for layout, row in results.items():
        print(f"{layout}: dask-threads / direct = {row['dask-threads'] / row['direct']:.2f} (target >= 0.85); "
              f"dask-threads / zarr-python = {row['dask-threads'] / row['zarr-python-dask']:.2f} (target >= 1.5)"
              + (f"; cluster / direct = {row['dask-cluster'] / row['direct']:.2f}" if "dask-cluster" in row else ""))
    print(f"graph build, 10^6 chunks: {graph_build_seconds() * 1000:.1f} ms (target < 1000 ms)")
    print(f"dask {dask.__version__}, zarr_engine {ze.__version__}")


if __name__ == "__main__":
    main()
