"""The optional compare-and-set store API: ``get_versioned`` / ``set_if``.

Semantics on every store that offers it, then the hard part: several
processes incrementing one counter key with compare-and-set lose no
increment (local folder: flock-guarded compare and rename; SQLite: one
IMMEDIATE transaction).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

import pytest

from zarr_engine.errors import ConflictError, ReadOnlyError, StoreError
from zarr_engine.storage import LocalStore, MemoryStore, Store, ZipStore
from zarr_engine.storage.sqlite import SQLiteStore

from ._util import scaled


def _make(kind: str, tmp_path: Path) -> Store:
    if kind == "local":
        return LocalStore(tmp_path / "cas.zarr")
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "cas.db")
    return MemoryStore()


@pytest.mark.parametrize("kind", ["local", "sqlite", "memory", "s3"])
def test_compare_and_set_semantics(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "s3":  # ETags as versions, PUT with If-Match / If-None-Match (moto)
        from zarr_engine.storage import FsspecStore

        store: Store = FsspecStore(request.getfixturevalue("s3_bucket_url"),
                                   request.getfixturevalue("s3_store_options"))
    else:
        store = _make(kind, tmp_path)
    assert store.supports_conditional_writes
    assert store.get_versioned("a/k") == (None, None)
    v1 = store.set_if("a/k", b"one", expected=None)
    with pytest.raises(ConflictError):
        store.set_if("a/k", b"again", expected=None)  # must-not-exist fails once it exists
    value, version = store.get_versioned("a/k")
    assert (value, version) == (b"one", v1)
    v2 = store.set_if("a/k", b"two", expected=v1)
    assert v2 != v1
    with pytest.raises(ConflictError):
        store.set_if("a/k", b"three", expected=v1)  # stale version
    assert store.get("a/k") == b"two"
    store.set("a/k", b"plain")  # a plain write moves the version too
    with pytest.raises(ConflictError):
        store.set_if("a/k", b"four", expected=v2)
    assert store.get("a/k") == b"plain"
    assert list(store.list()) == ["a/k"]  # lock files and temporaries never show
    if kind == "local":
        leftovers = [p for p in (tmp_path / "cas.zarr" / "a").iterdir() if p.name != "k"]
        assert leftovers == []  # a refused set_if removes its temporary file


def test_read_only_and_unsupported_stores_refuse(tmp_path: Path) -> None:
    LocalStore(tmp_path / "ro").set("k", b"v")
    ro = LocalStore(tmp_path / "ro", read_only=True)
    with pytest.raises(ReadOnlyError):
        ro.set_if("k", b"w", expected=None)
    with ZipStore(tmp_path / "z.zip", "w") as zs:
        assert not zs.supports_conditional_writes
        with pytest.raises(StoreError, match="conditional"):
            zs.set_if("k", b"v", expected=None)


def _increment(kind: str, where: str, n: int, barrier: Any) -> None:
    store = LocalStore(where) if kind == "local" else SQLiteStore(where)
    barrier.wait()
    for _ in range(n):
        while True:
            value, version = store.get_versioned("counter")
            count = int(value) if value is not None else 0
            try:
                store.set_if("counter", str(count + 1).encode(), expected=version)
                break
            except ConflictError:
                continue


@pytest.mark.parametrize("kind", ["local", "sqlite"])
def test_concurrent_increments_lose_nothing(kind: str, tmp_path: Path) -> None:
    where = str(tmp_path / ("c.zarr" if kind == "local" else "c.db"))
    if kind == "sqlite":
        SQLiteStore(where)  # create the file and table before the race
    procs_n, per = 6, scaled(60, 400)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs_n)
    procs = [ctx.Process(target=_increment, args=(kind, where, per, barrier)) for _ in range(procs_n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = LocalStore(where) if kind == "local" else SQLiteStore(where)
    assert int(store.get("counter")) == procs_n * per
    if kind == "local":
        assert [n for n in os.listdir(where) if not n.startswith(".zelock-")] == ["counter"]
