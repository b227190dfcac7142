"""The pool's non-blocking pieces: start_indexed and the fetch/decode pipeline of remote reads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

import zarr_engine
from zarr_engine.core import pool
from zarr_engine.core.pool import pipelined, set_pool_size, start_indexed
from tests.support import sample


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_start_indexed_gives_results_in_order(threads):
    set_pool_size(threads)
    try:
        finish = start_indexed(lambda i: i * i, 100)
        assert finish() == [i * i for i in range(100)]
        assert start_indexed(lambda i: i, 0)() == []
    finally:
        set_pool_size(None)


def test_pipelined_overlaps_fetch_with_work_and_holds_two_batches():
    set_pool_size(2)
    held = 0
    most = 0
    lock = threading.Lock()
    order: list[str] = []
    release = threading.Event()

    def fetch(b: int) -> int:
        nonlocal held, most
        order.append(f"fetch {b}")
        if b == 1:
            # batch 0's work is still running (it waits for this event): the fetch overlaps it
            assert release.wait(0) is False
            release.set()
        with lock:
            held += 1
            most = max(most, held)
        return b

    def process(b: int, fetched: int):
        def work(i: int) -> None:
            nonlocal held
            if b == 0:
                assert release.wait(10)
            time.sleep(0.001)

        finish = start_indexed(work, 4)

        def done() -> None:
            nonlocal held
            finish()
            order.append(f"done {b}")
            with lock:
                held -= 1

        return done

    try:
        pipelined(range(4), fetch, process)
    finally:
        set_pool_size(None)
    assert order == ["fetch 0", "fetch 1", "done 0", "fetch 2", "done 1", "fetch 3", "done 2", "done 3"]
    assert most == 2


def test_a_failed_fetch_waits_for_started_work_then_raises_its_error():
    set_pool_size(2)
    finished = []

    def fetch(b: int) -> int:
        if b == 2:
            raise OSError("fetch 2 failed")
        return b

    def process(b: int, fetched: int):
        def work(i: int) -> None:
            time.sleep(0.01)
            finished.append((b, i))

        return start_indexed(work, 3)

    try:
        with pytest.raises(OSError, match="fetch 2 failed"):
            pipelined(range(4), fetch, process)
    finally:
        set_pool_size(None)
    assert sorted(finished) == [(b, i) for b in (0, 1) for i in range(3)]  # nothing left running


def test_a_failing_task_raises_from_the_pipeline():
    set_pool_size(2)

    def process(b: int, fetched: int):
        def work(i: int) -> None:
            if b == 1 and i == 2:
                raise ValueError("task failed")

        return start_indexed(work, 4)

    try:
        with pytest.raises(ValueError, match="task failed"):
            pipelined(range(3), lambda b: b, process)
    finally:
        set_pool_size(None)


@pytest.mark.parametrize("shards", [None, (32, 64, 64)])
def test_remote_reads_in_many_batches_equal_numpy(monkeypatch, shards):
    # memory:// through fsspec batches like a remote store; small batches force the pipeline
    monkeypatch.setattr(pool, "BATCH_BYTES", 1 << 18)
    import zarr_engine.core.engine as engine
    import zarr_engine.core.sharded as sharded

    monkeypatch.setattr(engine, "BATCH_BYTES", 1 << 18)
    monkeypatch.setattr(sharded, "BATCH_BYTES", 1 << 18)
    data = sample("float32", (64, 128, 128), seed=2)
    from zarr_engine.storage import FsspecStore

    store = FsspecStore(f"memory://pipeline/{uuid.uuid4().hex}.zarr")
    arr = zarr_engine.create_array(store, shape=data.shape, chunks=(16, 64, 64), shards=shards, dtype="float32",
                                   compressors=[{"name": "zstd", "configuration": {"level": 1}}])
    assert arr.store.prefers_batches
    arr[...] = data
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(arr[5:60, 3:100, 7:128], data[5:60, 3:100, 7:128])


def test_run_probed_keeps_quick_items_on_the_calling_thread():
    set_pool_size(2)
    try:
        seen: list[tuple[int, int, str]] = []
        pool.run_probed(lambda lo, hi: seen.append((lo, hi, threading.current_thread().name)), 1000)
        assert [(lo, hi) for lo, hi, _ in seen] == [(0, pool.PROBE_ITEMS), (pool.PROBE_ITEMS, 1000)]
        assert {name for _, _, name in seen} == {threading.current_thread().name}
    finally:
        set_pool_size(None)


def test_run_probed_splits_slow_items_across_the_pool():
    set_pool_size(2)
    try:
        done = np.zeros(300, dtype=int)
        names: set[str] = set()

        def part(lo: int, hi: int) -> None:
            names.add(threading.current_thread().name)
            for i in range(lo, hi):
                time.sleep(pool.SLOW_ITEM_SECONDS * 1.5)  # a slow store call
                done[i] += 1

        pool.run_probed(part, 300)
        assert (done == 1).all()  # every item once
        assert any(n.startswith("zarr-engine") for n in names)
        assert threading.current_thread().name in names  # the probe ran here
    finally:
        set_pool_size(None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_importing_the_engine_lets_chunk_sized_buffers_be_reused_without_page_faults() -> None:
    # what a compressor does per chunk: allocate the worst case (8 MiB), fill part
    # of it (2 MiB), shrink it to that and free it. glibc raises its mmap
    # threshold only to the size of the (shrunk) block freed, so without the
    # adaptation every round is a fresh mapping whose filled pages all fault
    code = (
        "import resource, zarr_engine\n"
        "def faults(): return resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "part = b'x' * (2 << 20)\n"
        "def chunk():\n"
        "    b = bytearray(8 << 20)\n"
        "    b[: 2 << 20] = part\n"
        "    del b[2 << 20 :]\n"
        "chunk()\n"
        "before = faults()\n"
        "for _ in range(20): chunk()\n"
        "print(faults() - before)\n"
    )

    def faults(adapt: str) -> int:
        # a MALLOC_* variable turns glibc's adaptive threshold off altogether (a
        # distributed.LocalCluster started by an earlier test leaves
        # MALLOC_TRIM_THRESHOLD_ in this process's environment for its workers)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
        env["ZARR_ENGINE_MALLOC_ADAPT"] = adapt
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return int(out.stdout.strip().splitlines()[-1])

    adapted, left_alone = faults("1"), faults("0")
    assert left_alone > 20 * 512 // 2  # 512 faults a round: 2 MiB of fresh pages
    assert adapted < left_alone // 10, (adapted, left_alone)
