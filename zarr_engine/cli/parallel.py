"""Running dask work for the CLI: which scheduler, and a progress bar either way.

The local threaded scheduler reports through a tqdm bar driven by dask's
callbacks; a distributed cluster through distributed's own progress bar
(sent to stderr so that stdout stays clean for results).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import dask
import dask.array as da
from dask.callbacks import Callback

from ..core.array import Array


class TqdmCallback(Callback):
    """A tqdm progress bar for dask's local schedulers, counting finished tasks."""

    def __init__(self, desc: str, *, disable: bool = False) -> None:
        super().__init__()
        self._desc = desc
        self._disable = disable
        self._bar: Any = None

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        from tqdm.auto import tqdm

        total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self._bar = tqdm(total=total, desc=self._desc, unit="task", file=sys.stderr, disable=self._disable,
                         dynamic_ncols=True, leave=True)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def default_workers() -> int:
    """Worker processes for a LocalCluster: one per core, at most 8 (2 at least)."""
    return max(2, min(8, os.cpu_count() or 2))


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    processes: bool = True,
    start_cluster: bool = False,
) -> Iterator[Any]:
    """Yield a ``distributed.Client`` (or None for dask's local threaded scheduler).

    ``scheduler``: the address of an existing cluster (``tcp://host:8786``).
    Otherwise a ``LocalCluster`` is started when ``workers`` is given or
    ``start_cluster`` is true (worker processes unless ``processes=False``,
    which ``memory://`` stores need: worker processes do not share memory).
    """
    if not scheduler and not workers and not start_cluster:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or default_workers()
    threads = max(1, (os.cpu_count() or 1) // n)
    with LocalCluster(
        n_workers=n, threads_per_worker=threads, processes=processes, dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster) as client:
        yield client


def compute(obj: Any, client: Any, *, desc: str, progress: bool = True) -> Any:
    """Compute a dask collection (or Delayed) with a progress bar on stderr."""
    if client is None:
        with TqdmCallback(desc, disable=not progress):
            return dask.compute(obj, scheduler="threads")[0]
    future = client.compute(obj)
    if progress and sys.stderr.isatty():
        from distributed import progress as dist_progress

        print(f"{desc} on {client.scheduler.address}", file=sys.stderr)
        # distributed draws its bar on stdout; keep stdout for results
        with contextlib.redirect_stdout(sys.stderr):
            dist_progress(future)
        print(file=sys.stderr)
    elif progress:
        # not a terminal (a log, a pipe): one line rather than a redrawn bar
        print(f"{desc} on {client.scheduler.address} ...", file=sys.stderr, flush=True)
    return future.result()


def write_blocks(target: Array, max_block_bytes: int = 128 * 2**20) -> tuple[int, ...]:
    """A dask block shape for writing ``target``: whole stored units (shards, or
    chunks), several along the leading axes up to ``max_block_bytes``, so each
    block owns the units it writes (the lock-free rule) and tasks are not tiny."""
    unit = list(target.shards or target.chunks)
    shape = target.shape
    itemsize = max(1, target.dtype.itemsize)
    block = [min(u, s) if s else u for u, s in zip(unit, shape)]
    for ax in range(len(block)):
        per = itemsize
        for b in block:
            per *= max(1, b)
        if block[ax] >= shape[ax] or per * 2 > max_block_bytes:
            continue
        factor = max(1, max_block_bytes // per)
        block[ax] = min(shape[ax], unit[ax] * factor)
        break
    return tuple(max(1, b) for b in block)


def read_array(source: Array, blocks: tuple[int, ...]) -> da.Array:
    """``source`` as a dask array with ``blocks``, through zarr_engine.dask when present.

    When every block is made of whole stored chunks of ``source``, each task
    reads its block in one call. Otherwise the source is read one task per
    stored chunk and rechunked, so that no chunk is decoded twice; that costs
    a task per chunk, which on an array of many small chunks (10,000 of 1.6
    KB) took four times as long as the copy itself.
    """
    try:
        from ..dask import from_zarr  # type: ignore[attr-defined]
    except ImportError:
        from_zarr = None
    if from_zarr is not None:
        if all(b % c == 0 or b >= s for b, c, s in zip(blocks, source.chunks, source.shape)):
            return from_zarr(source, chunks=blocks)
        x = from_zarr(source)
        return x.rechunk(blocks) if x.chunksize != blocks else x
    return da.from_array(source, chunks=blocks, name=f"zarr-engine-read-{uuid.uuid4().hex}", lock=False,
                         asarray=False, fancy=False)


def store_array(x: da.Array, target: Array) -> Any:
    """A Delayed that writes ``x`` into ``target`` without locks.

    Uses ``zarr_engine.dask.to_zarr`` (which proves chunk ownership, rechunking
    with ``align=True``) when present; else ``dask.array.store`` with blocks
    already made of whole stored units by :func:`write_blocks`.
    """
    try:
        from ..dask import to_zarr  # type: ignore[attr-defined]
    except ImportError:
        to_zarr = None
    if to_zarr is not None:
        return to_zarr(x, target, compute=False, align=True)
    return da.store(x, target, lock=False, compute=False)
