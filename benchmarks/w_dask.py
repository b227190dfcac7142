"""W7: W1's zstd array read through dask, by the threaded scheduler and by a LocalCluster.

Each engine builds its own dask array over zarr_engine's copy of W1, one task
per stored chunk: ``zarr_engine.dask.from_zarr``, ``dask.array.from_zarr``
for zarr-python, and ``dask.array.from_array`` over a small picklable
tensorstore wrapper. The timed step is ``persist`` (every chunk read into the
workers' memory and kept there), so what is measured is the reading and not
the gathering of one big result into the client, the same for every engine.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from .common import US, Context, Row, attempt, mbps
from .engines import Loc
from .w_local import ensure_store


class TensorStoreBlocks:
    """A numpy-like view of a zarr3 array through tensorstore, picklable as its spec."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: Any) -> None:
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)
        self._arr: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "shape": self.shape, "dtype": self.dtype}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["shape"], state["dtype"])  # type: ignore[misc]

    def __getitem__(self, sel: Any) -> np.ndarray:
        if self._arr is None:
            import tensorstore as ts

            spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": self.path + "/"}}
            self._arr = ts.open(spec, read=True).result()
        return self._arr[sel].read().result()


def _dask_array(engine: str, loc: Loc, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Any:
    """A fresh dask array (a new graph name each call, so that a cluster still
    holding the last repeat's chunks cannot answer from memory)."""
    import dask.array as da

    name = f"w7-{engine}-{uuid.uuid4().hex}"
    if engine == US:
        import zarr_engine as ze
        from zarr_engine.dask import from_zarr

        return from_zarr(ze.open_array(loc.path, mode="r"), name=name)
    if engine == "zarr-python":
        import zarr

        return da.from_zarr(zarr.open_array(loc.path, mode="r"), name=name)
    if engine == "tensorstore":
        return da.from_array(TensorStoreBlocks(loc.path, shape, "float32"), chunks=chunks, asarray=False, name=name)
    raise KeyError(engine)


ENGINES = (US, "zarr-python", "tensorstore")


def _timed_persist(make: Any, persist: Any, repeats: int, expect: np.ndarray) -> float:
    """Best time of ``persist(make())`` (graph building untimed); the first result is checked."""
    first = persist(make())
    if not np.array_equal(first[:1, :16, :16].compute(), expect[:1, :16, :16]):
        raise AssertionError("dask read back wrong values")
    del first
    best = float("inf")
    for _ in range(max(1, repeats)):
        x = make()
        t0 = time.perf_counter()
        y = persist(x)
        best = min(best, time.perf_counter() - t0)
        del x, y
    return best


@contextlib.contextmanager
def _environ_kept() -> Iterator[None]:
    """Give ``os.environ`` back as it was. Starting a LocalCluster sets variables
    for its workers in this process's own environment and leaves them there
    (``MALLOC_TRIM_THRESHOLD_``, ``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED`` and
    more); every later child process, such as W8's, would inherit them. With
    ``MALLOC_TRIM_THRESHOLD_`` set glibc's thresholds stay fixed, which moved
    W8's figures by up to 4 MiB an engine, in both directions."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def w7(ctx: Context) -> list[Row]:
    """W7: whole W1 read through dask (threaded; LocalCluster of 2 single-threaded worker processes)."""
    import dask
    from dask.distributed import Client, LocalCluster, wait

    s = ctx.sizes
    data = ctx.data(s.w1_shape, "float32")
    loc = ensure_store(ctx, "W1", "zstd1", data, s.w1_chunks, None)
    names = [e for e in ENGINES if e == US or e in {a.name for a in ctx.adapters}]
    threaded = Row("W7", "dask threaded read zstd1", "MB/s")
    for name in names:
        ctx.log(f"  W7 threaded: {name}")

        def run(name: str = name) -> float:
            return mbps(data.nbytes, _timed_persist(
                lambda: _dask_array(name, loc, s.w1_shape, s.w1_chunks),
                lambda x: dask.persist(x, scheduler="threads")[0], s.repeats, data))

        attempt(threaded, name, run, ctx.log)
    cluster_row = Row("W7", "dask LocalCluster(2) read zstd1", "MB/s")
    with _environ_kept(), LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:

        def on_cluster(x: Any) -> Any:
            y = client.persist(x)
            wait(y)
            return y

        for name in names:
            ctx.log(f"  W7 cluster: {name}")

            def run_c(name: str = name) -> float:
                return mbps(data.nbytes, _timed_persist(
                    lambda: _dask_array(name, loc, s.w1_shape, s.w1_chunks), on_cluster, s.repeats, data))

            attempt(cluster_row, name, run_c, ctx.log)
    return [threaded, cluster_row]


WORKLOADS: dict[str, Any] = {"W7": w7}
