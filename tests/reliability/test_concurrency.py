"""Many processes writing one array at once.

* disjoint chunks (the layout the dask writer guarantees): exact, on a local
  folder and on SQLite;
* overlapping partial writes into the same chunks: exact with
  ``optimistic=True`` (compare-and-set per chunk), and a deterministic
  demonstration that the default read-modify-write loses an update.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.storage import LocalStore, MemoryStore, Store
from zarr_engine.storage.faults import FaultyStore, RetryingStore
from zarr_engine.storage.sqlite import SQLiteStore

from ._util import scaled, stamp

SHAPE = (24, 30)
CHUNK = (6, 5)
GRID = (4, 6)
PROCS = 6


def _open(kind: str, where: str) -> Store:
    return LocalStore(where) if kind == "local" else SQLiteStore(where)


def _disjoint_writer(kind: str, where: str, me: int, rounds: int, barrier: Any) -> None:
    arr = ze.open_array(_open(kind, where), mode="r+")
    barrier.wait()
    for gen in range(1, rounds + 1):
        for c in range(me, GRID[0] * GRID[1], PROCS):  # chunks c = me, me+P, ... are ours alone
            i, j = divmod(c, GRID[1])
            arr[i * CHUNK[0]:(i + 1) * CHUNK[0], j * CHUNK[1]:(j + 1) * CHUNK[1]] = stamp(c, gen, CHUNK)


@pytest.mark.parametrize("kind", ["local", "sqlite"])
def test_disjoint_chunks_from_many_processes_are_exact(kind: str, tmp_path: Path) -> None:
    where = str(tmp_path / ("a.zarr" if kind == "local" else "a.db"))
    ze.create_array(_open(kind, where), shape=SHAPE, chunks=CHUNK, dtype="i8", compressors="auto")
    rounds = scaled(3, 20)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(PROCS)
    procs = [ctx.Process(target=_disjoint_writer, args=(kind, where, me, rounds, barrier)) for me in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    data = ze.open_array(_open(kind, where), mode="r")[...]
    for c in range(GRID[0] * GRID[1]):
        i, j = divmod(c, GRID[1])
        np.testing.assert_array_equal(
            data[i * CHUNK[0]:(i + 1) * CHUNK[0], j * CHUNK[1]:(j + 1) * CHUNK[1]], stamp(c, rounds, CHUNK)
        )


def _mine(me: int) -> np.ndarray:
    """The elements process ``me`` owns: a checkerboard-like interleave inside every chunk."""
    r, c = np.indices(SHAPE)
    return (r * SHAPE[1] + c) % PROCS == me


def _overlapping_writer(kind: str, where: str, me: int, barrier: Any, faulty: bool) -> None:
    store = _open(kind, where)
    if faulty:  # conflicts and injected faults at once
        store = RetryingStore(FaultyStore(store, seed=me, error_rate=0.1, lost_reply_rate=0.1), base=0.0005)
    arr = ze.open_array(store, mode="r+", optimistic=True)
    mask = _mine(me)
    barrier.wait()
    # One row at a time: each write is a partial update of every chunk on that
    # row band, so all processes keep colliding on the same chunks.
    for r in range(SHAPE[0]):
        cols = np.nonzero(mask[r])[0]
        arr.oindex[r, cols] = (me + 1) * 1000 + r
    # And single elements via coordinate selection on a second pass.
    rr, cc = np.nonzero(mask)
    arr.vindex[rr[::7], cc[::7]] = -(me + 1)


def _expected() -> np.ndarray:
    want = np.zeros(SHAPE, dtype="i8")
    rows = np.arange(SHAPE[0])[:, None]
    for me in range(PROCS):
        mask = _mine(me)
        want[mask] = np.broadcast_to((me + 1) * 1000 + rows, SHAPE)[mask]
        rr, cc = np.nonzero(mask)
        want[rr[::7], cc[::7]] = -(me + 1)
    return want


@pytest.mark.parametrize("kind,faulty", [("local", False), ("sqlite", False), ("local", True)])
def test_optimistic_overlapping_partial_writes_lose_nothing(kind: str, faulty: bool, tmp_path: Path) -> None:
    where = str(tmp_path / ("o.zarr" if kind == "local" else "o.db"))
    ze.create_array(_open(kind, where), shape=SHAPE, chunks=CHUNK, dtype="i8", fill_value=0,
                    compressors=[{"name": "zstd", "configuration": {"level": 1}}])
    ctx = mp.get_context("fork")
    for _ in range(scaled(1, 5)):
        barrier = ctx.Barrier(PROCS)
        procs = [ctx.Process(target=_overlapping_writer, args=(kind, where, me, barrier, faulty))
                 for me in range(PROCS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(180)
            assert p.exitcode == 0
        np.testing.assert_array_equal(ze.open_array(_open(kind, where), mode="r")[...], _expected())


class _Interleaver(Store):
    """Makes two writer threads read a chunk before either writes it back:
    the schedule that loses an update without compare-and-set."""

    def __init__(self, inner: Store, *, one_put_at_a_time: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.barrier = threading.Barrier(2)
        self.armed = True
        self.supports_conditional_writes = inner.supports_conditional_writes
        # moto checks a PUT's precondition and stores it without a lock, so two
        # simultaneous conditional PUTs could both pass there; issuing them one
        # after the other keeps the lost-update schedule (both read first)
        self._put_lock = threading.Lock() if one_put_at_a_time else None

    def _meet(self) -> None:
        if self.armed and threading.current_thread().name.startswith("writer"):
            try:
                self.barrier.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass  # a retry after a conflict reads alone

    def get(self, key: str) -> bytes | None:
        value = self.inner.get(key)
        if key.startswith("c/"):
            self._meet()
        return value

    def get_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        got = self.inner.get_versioned(key)
        if key.startswith("c/"):
            self._meet()
            self.armed = False  # only the first read of each writer is forced together
        return got

    def set(self, key: str, value: bytes) -> None:
        self.inner.set(key, value)

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        if self._put_lock is None:
            return self.inner.set_if(key, value, expected=expected)
        with self._put_lock:
            return self.inner.set_if(key, value, expected=expected)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list_prefix(self, prefix: str) -> Any:
        return self.inner.list_prefix(prefix)


@pytest.mark.parametrize("where", ["memory", "s3"])
@pytest.mark.parametrize("optimistic", [False, True])
def test_two_writers_same_chunk(optimistic: bool, where: str, request: pytest.FixtureRequest) -> None:
    """Default mode: documented as unsafe for overlapping chunks (an update is lost);
    optimistic mode: both updates survive the same schedule (S3: If-Match on moto)."""
    if where == "s3":
        from zarr_engine.storage import FsspecStore

        inner: Store = FsspecStore(request.getfixturevalue("s3_bucket_url"),
                                   request.getfixturevalue("s3_store_options"))
    else:
        inner = MemoryStore()
    # Not the fill value: the chunk is stored, so both writers must read it.
    ze.create_array(inner, shape=(10,), chunks=(10,), dtype="i4", fill_value=0)[...] = 5
    store = _Interleaver(inner, one_put_at_a_time=where == "s3")
    arr = ze.open_array(store, mode="r+", optimistic=optimistic)

    def write(i: int) -> None:
        arr[i] = i + 1

    threads = [threading.Thread(target=write, args=(i,), name=f"writer-{i}") for i in (2, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    got = ze.open_array(inner, mode="r")[...]
    both = np.full(10, 5, dtype="i4")
    both[2], both[7] = 3, 8
    if optimistic:
        np.testing.assert_array_equal(got, both)
    else:
        assert (got[2], got[7]) in {(3, 5), (5, 8)}, got  # exactly one update survived


def test_optimistic_through_open_loses_no_update_as_through_open_array() -> None:
    """``ze.open(..., optimistic=True)`` on an array is ``open_array``'s optimistic mode,
    not a plain handle that silently loses one of two overlapping updates."""
    inner = MemoryStore()
    ze.create_array(inner, shape=(10,), chunks=(10,), dtype="i4", fill_value=0)[...] = 5
    arr = ze.open(_Interleaver(inner), mode="r+", optimistic=True)
    threads = [threading.Thread(target=arr.__setitem__, args=(i, i + 1), name=f"writer-{i}") for i in (2, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    both = np.full(10, 5, dtype="i4")
    both[2], both[7] = 3, 8
    np.testing.assert_array_equal(ze.open_array(inner, mode="r")[...], both)


def test_optimistic_mode_refuses_stores_without_conditional_writes(tmp_path: Path) -> None:
    from zarr_engine.errors import StoreError
    from zarr_engine.storage import ZipStore

    with ZipStore(tmp_path / "z.zip", "w") as zs:
        ze.create_array(zs, shape=(4,), chunks=(2,), dtype="i2")
        with pytest.raises(StoreError, match="conditional writes"):
            ze.open_array(zs, mode="r+", optimistic=True)
        with pytest.raises(StoreError, match="conditional writes"):
            ze.open(zs, mode="r+", optimistic=True)
