"""The one bounded thread pool per process that does the engine's CPU work.

numcodecs releases the GIL in blosc, zstd, lz4 and zlib, and local file reads
release it too, so threads give real parallelism. The pool is re-created after
a fork (dask worker processes) and its size follows ``ZARR_ENGINE_THREADS`` or
the number of usable cores. Work submitted to the pool never waits on the pool.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from .._env import switched_off

T = TypeVar("T")

#: see :func:`_adapt_allocator`: just under glibc's largest dynamic mmap threshold (32 MiB)
_ADAPT_BYTES = 31 << 20


def _adapt_allocator() -> None:
    """Let glibc keep chunk-sized buffers in its heap instead of mapping each afresh.

    glibc gives every allocation above its mmap threshold (128 KiB at first) a
    fresh mapping, and the compressors allocate their worst case for each chunk
    (numcodecs' blosc and zstd: the chunk's size plus a margin) and then shrink
    it: every chunk of a few MiB written cost an mmap, a page fault and a zeroed
    page per 4 KiB it filled, an mremap and an munmap; 10-15% of a blosc-lz4
    write (W1 in benchmarks/). glibc raises the threshold by itself to the size
    of the largest mapped block a program frees (up to 32 MiB), so long-running
    processes end up without that cost anyway, at an unpredictable moment.
    Freeing one 31 MiB block (never touched) at import gets there at once, with
    glibc's own mechanism. ``ZARR_ENGINE_MALLOC_ADAPT=0`` leaves the allocator
    alone. Where a ``MALLOC_*`` variable is set (dask's nanny sets
    ``MALLOC_TRIM_THRESHOLD_`` for its workers) glibc keeps its thresholds
    fixed and this changes nothing."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    if switched_off("ZARR_ENGINE_MALLOC_ADAPT"):
        return
    import numpy as np

    block = np.empty(_ADAPT_BYTES, dtype=np.uint8)  # malloc'd as its own mapping, pages untouched
    del block  # freed: glibc's threshold is now this block's size


_adapt_allocator()

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_size_override: int | None = None


def pool_size() -> int:
    if _size_override is not None:
        return _size_override
    env = os.environ.get("ZARR_ENGINE_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, n)


def set_pool_size(n: int | None) -> None:
    """Use ``n`` threads from now on (None: back to the default)."""
    global _size_override, _pool
    with _lock:
        _size_override = n
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _lock:
            if _pool is None or _pool_pid != pid:
                _pool = ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="zarr-engine")
                _pool_pid = pid
    return _pool


def in_pool_thread() -> bool:
    return threading.current_thread().name.startswith("zarr-engine")


#: items (chunks) smaller than this, uncompressed, are processed on the calling
#: thread: their work is mostly Python, and threads contending for the GIL run
#: slower than one thread alone. Measured on 2 cores, zstd-1 uint8 chunks read
#: on one thread / two: 4 KiB 163 / 68 MB/s, 16 KiB 292 / 221, 64 KiB 1247 / 851,
#: 256 KiB 1389 / 1998.
PARALLEL_MIN_BYTES = 128 << 10
#: about this many bytes of (uncompressed) chunks or shards per batch of a remote read
BATCH_BYTES = 64 << 20


def run_indexed(
    fn: Callable[[int], T], n: int, *, min_per_task: int = 1, item_bytes: int | None = None
) -> list[T]:
    """``[fn(0), ..., fn(n-1)]`` computed on the pool, in contiguous runs of indices.

    Runs inline when there is one item, when the items are smaller than
    :data:`PARALLEL_MIN_BYTES` (``item_bytes``: an item's uncompressed size), or
    when called from a pool thread (so that pool work never waits on the pool).
    """
    return start_indexed(fn, n, min_per_task=min_per_task, item_bytes=item_bytes)()


def start_indexed(
    fn: Callable[[int], T], n: int, *, min_per_task: int = 1, item_bytes: int | None = None
) -> Callable[[], list[T]]:
    """:func:`run_indexed` without waiting: the work starts on the pool and the
    returned function waits for it and gives the results (raising the first
    error). Where the work runs inline, it is done before this returns. The
    caller must call the result, also when it fails otherwise."""
    workers = pool_size()
    small = item_bytes is not None and item_bytes < PARALLEL_MIN_BYTES
    if n <= 1 or workers == 1 or small or in_pool_thread():
        done = [fn(i) for i in range(n)]
        return lambda: done
    ntasks = min(n, max(1, n // max(1, min_per_task)), workers * 4)
    bounds = [round(k * n / ntasks) for k in range(ntasks + 1)]
    results: list[Any] = [None] * n

    def run(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            results[i] = fn(i)

    futures = [get_pool().submit(run, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]

    def finish() -> list[T]:
        _wait_all(futures)
        return results

    return finish


#: a loop over many small items (:func:`run_probed`) stays on the calling thread
#: unless its first items took longer than this each
SLOW_ITEM_SECONDS = 100e-6
#: how many items :func:`run_probed` times before it decides
PROBE_ITEMS = 64


def run_probed(fn: Callable[[int, int], None], n: int) -> None:
    """``fn(lo, hi)`` handles items ``lo`` to ``hi - 1``; call it over ``range(n)``.

    The first :data:`PROBE_ITEMS` run on this thread and are timed. When they
    were quick, the rest run here too: such items are mostly Python (a small
    chunk's file on a local disk), and threads would only take turns holding
    the GIL, which made writes of 4 KiB chunks 1.6-2x slower than one thread.
    When they were slow (storage that makes each call wait), the rest is split
    into one part per pool thread, so that the waits overlap."""
    head = min(n, PROBE_ITEMS)
    t0 = time.perf_counter()
    fn(0, head)
    if head == n:
        return
    per_item = (time.perf_counter() - t0) / head
    workers = pool_size()
    if per_item < SLOW_ITEM_SECONDS or workers == 1 or in_pool_thread():
        fn(head, n)
        return
    parts = min(workers, n - head)
    bounds = [head + round(k * (n - head) / parts) for k in range(parts + 1)]
    run_indexed(lambda k: fn(bounds[k], bounds[k + 1]), parts)


def pipelined(batches: Sequence[Any], fetch: Callable[[Any], Any],
              process: Callable[[Any, Any], Callable[[], Any]]) -> None:
    """For each batch: ``fetch(batch)`` on this thread, then ``process(batch,
    fetched)``, which starts pool work and returns its waiter. The fetch of one
    batch overlaps the pool's work on the one before; at most two batches are
    held. Every started batch is waited for before this returns or raises."""
    pending: Callable[[], Any] | None = None
    try:
        for batch in batches:
            fetched = fetch(batch)
            if pending is not None:
                waiter, pending = pending, None
                waiter()
            pending = process(batch, fetched)
            del fetched
        if pending is not None:
            waiter, pending = pending, None
            waiter()
    finally:
        if pending is not None:  # a fetch failed: let the started work end before raising
            try:
                pending()
            except BaseException:  # noqa: BLE001 - the fetch's error is the one raised
                pass


def _wait_all(futures: Sequence[Future]) -> None:
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for f in done:
        exc = f.exception()
        if exc is not None:
            for p in pending:
                p.cancel()
            wait(pending)
            raise exc
