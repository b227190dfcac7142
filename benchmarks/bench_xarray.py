"""Benchmark: engine="zarr_engine" beside engine="zarr" (zarr-python) in the same run.

1. open a consolidated store of 200 variables (xr.open_dataset, metadata only);
2. compute the time mean of one chunked float32 variable (~1 GiB, --quick ~128 MiB)
   with dask (chunks={}), on the threaded scheduler.

Both stores are written once by zarr-python (xr.Dataset.to_zarr), so both engines
read identical bytes. Prints best-of-N times and the ratio zarr / zarr_engine
(above 1 means zarr_engine is faster). Not a test: nothing fails.

    python benchmarks/bench_xarray.py --quick
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings

import dask
import dask.array as da
import numpy as np
import xarray as xr


def make_many_vars(path: str, n_vars: int) -> None:
    """A consolidated store of ``n_vars`` small variables sharing three dimensions."""
    coords = {"time": np.arange(10), "y": np.arange(8), "x": np.arange(8)}
    data = {f"var{i:03d}": (("time", "y", "x"), np.full((10, 8, 8), i, dtype="f4"), {"units": "K", "i": i})
            for i in range(n_vars)}
    xr.Dataset(data, coords=coords).to_zarr(path, mode="w", consolidated=True)


def make_big(path: str, nbytes: int) -> tuple[int, ...]:
    """One float32 variable of about ``nbytes`` (time, y, x), chunks of ~8 MiB, written with dask."""
    ny, nx = 512, 512
    nt = max(8, nbytes // (4 * ny * nx))
    ct = 8
    arr = da.random.random((nt, ny, nx), chunks=(ct, ny, nx)).astype("f4")
    ds = xr.Dataset({"t2m": (("time", "y", "x"), arr)}, coords={"time": np.arange(nt)})
    ds.to_zarr(path, mode="w", consolidated=True, encoding={"t2m": {"chunks": (ct, ny, nx)}})
    return (nt, ny, nx)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~128 MiB variable instead of ~1 GiB")
    ap.add_argument("--vars", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to write the stores (default: a temporary folder)")
    args = ap.parse_args()
    nbytes = (128 if args.quick else 1024) * 2**20
    root = args.dir or tempfile.mkdtemp(prefix="bench_xarray_")
    many, big = os.path.join(root, "many.zarr"), os.path.join(root, "big.zarr")
    warnings.simplefilter("ignore")
    try:
        make_many_vars(many, args.vars)
        shape = make_big(big, nbytes)
        print(f"stores in {root}: {args.vars} variables; t2m {shape} float32 = {np.prod(shape) * 4 / 2**20:.0f} MiB")
        engines = ["zarr_engine", "zarr"]
        results: dict[str, dict[str, float]] = {e: {} for e in engines}
        means = {}
        for engine in engines:
            results[engine]["open"] = best(lambda: xr.open_dataset(many, engine=engine).close(), args.repeat + 2)
        with dask.config.set(scheduler="threads"):
            for engine in engines:
                def run() -> None:
                    with xr.open_dataset(big, engine=engine, chunks={}) as ds:
                        means[engine] = ds["t2m"].mean("time").values
                results[engine]["mean"] = best(run, args.repeat)
        np.testing.assert_allclose(means["zarr_engine"], means["zarr"], rtol=1e-6)
        print(f"{'step':<28}{'zarr_engine':>14}{'zarr':>14}{'zarr/ours':>12}")
        for step, label in (("open", f"open {args.vars} vars (consol.)"), ("mean", "time mean (dask, threads)")):
            ours, theirs = results["zarr_engine"][step], results["zarr"][step]
            print(f"{label:<28}{ours * 1e3:>12.1f}ms{theirs * 1e3:>12.1f}ms{theirs / ours:>11.2f}x")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
