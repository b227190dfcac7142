"""SQLiteStore: conformance, several processes at once, fork safety."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from zarr_engine.errors import StoreError
from zarr_engine.storage import SQLiteStore, resolve_store
from zarr_engine.storage.conformance import StoreConformance


class TestSQLiteConformance(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path):
        store = SQLiteStore(tmp_path / "store.db")
        yield store
        store.close()


def _write_keys(path: str, worker: int, n: int) -> None:
    store = SQLiteStore(path)
    for i in range(n):
        if i % 5 == 0:
            store.set_many({f"w{worker}/{i}/{j}": bytes([worker, i % 256, j]) * 100 for j in range(3)})
        else:
            store.set(f"w{worker}/{i}", bytes([worker, i % 256]) * 500)
    store.close()


def _expected(workers: int, n: int) -> dict[str, bytes]:
    out = {}
    for w in range(workers):
        for i in range(n):
            if i % 5 == 0:
                out.update({f"w{w}/{i}/{j}": bytes([w, i % 256, j]) * 100 for j in range(3)})
            else:
                out[f"w{w}/{i}"] = bytes([w, i % 256]) * 500
    return out


def test_processes_write_disjoint_keys(tmp_path: Path) -> None:
    path = str(tmp_path / "multi.db")
    SQLiteStore(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_keys, args=(path, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = SQLiteStore(path, read_only=True)
    expected = _expected(4, 60)
    assert list(store.list()) == sorted(expected)
    assert store.get_many(list(expected)) == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_uses_fresh_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "fork.db")
    store.set("parent", b"1")
    ctx = mp.get_context("fork")
    # The child reuses *this* store object, inherited across fork.
    p = ctx.Process(target=_child_writes, args=(store,))
    p.start()
    p.join(30)
    assert p.exitcode == 0
    assert store.get("child") == b"2"
    assert store.get("parent") == b"1"


def _child_writes(store: SQLiteStore) -> None:
    assert store.get("parent") == b"1"
    store.set("child", b"2")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_store_the_child_only_collects_never_closes_the_parents_connection(tmp_path: Path) -> None:
    # A store the parent left for garbage collection is inherited by a forked child.
    # Were the child to close its connection when collecting it, the close would drop
    # the POSIX locks of the child's own connection to the same file.
    from zarr_engine.storage import sqlite as sqlite_module

    path = tmp_path / "gc.db"
    left = SQLiteStore(path)
    left.set("parent", b"1")
    inherited = list(left._all)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report, then leave without running pytest's teardown
        ok = left._all == [] and all(any(c is i for i in sqlite_module._INHERITED) for c in inherited)
        del left
        import gc

        gc.collect()
        mine = SQLiteStore(path)
        mine.set("child", b"2")
        ok = ok and mine.get("parent") == b"1"
        os.write(write, b"ok" if ok else b"no")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 8)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"ok"
    assert left.get("child") == b"2"  # the parent's connection still works, and sees the child's commit


def test_pickle_to_subprocess(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    store.set("a/b", b"from parent")
    code = (
        "import pickle, sys; s = pickle.loads(sys.stdin.buffer.read()); "
        "assert s.get('a/b') == b'from parent'; s.set('c', b'from child'); print(s.url)"
    )
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(store), capture_output=True, check=True, cwd=tmp_path)
    assert out.stdout.decode().strip() == store.url
    assert store.get("c") == b"from child"


def test_file_layout_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SQLiteStore(path)
    store.set("k", b"v")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # zarr-python 2's SQLiteStore table: each library opens the other's files
        assert [r[1] for r in conn.execute("PRAGMA table_info(zarr)")] == ["k", "v"]
        assert conn.execute("SELECT k, v FROM zarr").fetchall() == [("k", b"v")]
    assert store.url == f"sqlite://{path}"
    again, inner = resolve_store(f"sqlite://{path}/grp/arr", mode="r")
    assert isinstance(again, SQLiteStore) and again.read_only and inner == "grp/arr"


def test_read_only_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        SQLiteStore(tmp_path / "missing.db", read_only=True)


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="bad.db"):
        SQLiteStore(bad)


def test_unusual_prefix_characters(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    keys = ["a\U0010ffff/x", "a\U0010ffffz", "a\ud7ff/y", "b"]
    store.set_many({k: b"1" for k in keys})
    assert list(store.list_prefix("a\U0010ffff")) == ["a\U0010ffff/x", "a\U0010ffffz"]
    assert list(store.list_prefix("a\ud7ff")) == ["a\ud7ff/y"]
    store.delete_prefix("a\U0010ffff")
    assert list(store.list()) == ["a\ud7ff/y", "b"]


def test_a_store_that_is_gone_has_closed_its_connections(tmp_path: Path) -> None:
    # A sqlite3 connection is in a reference cycle with its statement cache: left to
    # the garbage collector it outlives its store, and a child forked before the
    # collector ran inherited an open connection that no fork hook knew of (in
    # tests/reliability/test_conditional.py six such children lost every commit).
    import threading

    store = SQLiteStore(tmp_path / "gone.db")
    store.set("a", b"1")
    worker = threading.Thread(target=lambda: store.set("b", b"2"))
    worker.start()
    worker.join()
    conns = list(store._all)
    assert len(conns) == 2  # one a thread
    store.close()
    store.set("c", b"3")  # close() then reuse: the new connection is watched too
    conns += store._all
    del store, worker
    for conn in conns:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")
    assert SQLiteStore(tmp_path / "gone.db").get_many(["a", "b", "c"]) == {"a": b"1", "b": b"2", "c": b"3"}


@pytest.mark.parametrize("name", ["s.db", "no_suffix"])
def test_a_plain_path_to_a_database_opens_it(tmp_path: Path, name: str) -> None:
    import numpy as np

    import zarr_engine as ze

    path = tmp_path / name
    ze.create_array(f"sqlite://{path}", path="x", shape=(3,), chunks=(2,), dtype="i2")[:] = [7, 8, 9]
    for mode in ("r", "a"):
        g = ze.open_group(str(path), mode=mode)
        assert isinstance(g.store, SQLiteStore) and g.store.url == f"sqlite://{path}"
        np.testing.assert_array_equal(g["x"][:], np.array([7, 8, 9], dtype="i2"))
    with open(path, "rb") as f:
        assert f.read(16) == b"SQLite format 3\0"  # still a database: no zip appended to it


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_opening_a_missing_database_creates_nothing(tmp_path: Path, mode: str) -> None:
    import zarr_engine as ze

    path = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="missing.db.*no such file"):
        ze.open_group(f"sqlite://{path}", mode=mode)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


# -- rows written by other tools ------------------------------------------------


def _edit_rows(path: Path, sql: str, *params: object) -> None:
    """Change the database as a user would with the sqlite3 shell."""
    with sqlite3.connect(path) as conn:
        conn.execute(sql, params)
    conn.close()


def test_metadata_inserted_as_text_reads_as_its_utf8_bytes(tmp_path: Path) -> None:
    # `INSERT INTO zarr VALUES ('zarr.json', '{...}')` in the sqlite3 shell stores TEXT,
    # which bytes() refused with a bare TypeError
    import numpy as np

    import zarr_engine as ze

    path = tmp_path / "h.db"
    data = np.arange(12, dtype="i4").reshape(3, 4)
    ze.create_array(f"sqlite://{path}/a", shape=(3, 4), chunks=(2, 2), dtype="i4",
                    attributes={"title": "température"})[...] = data
    store = SQLiteStore(path)
    document = store.get("a/zarr.json").decode()
    store.close()
    _edit_rows(path, "UPDATE zarr SET v = ? WHERE k = 'a/zarr.json'", document)
    store = SQLiteStore(path)
    assert store.get("a/zarr.json") == document.encode()
    assert store.getsize("a/zarr.json") == len(document.encode())
    assert store.get_range("a/zarr.json", 2, 40) == document.encode()[2:40]  # bytes, not characters
    assert store.get_range("a/zarr.json", -30, None) == document.encode()[-30:]
    store.close()
    arr = ze.open_array(f"sqlite://{path}/a", mode="r")
    np.testing.assert_array_equal(arr[...], data)
    assert arr.attrs["title"] == "température"


@pytest.mark.parametrize("value,what", [(None, "NULL"), (400, "an SQLite integer"), (1.5, "an SQLite real")])
def test_a_value_that_is_not_bytes_is_a_corrupt_key_never_zeros(tmp_path: Path, value: object, what: str) -> None:
    """bytes(400) is 400 zero bytes: an integer in place of an uncompressed 400-byte
    chunk read as zeros, silently; NULL raised a bare TypeError."""
    import numpy as np

    import zarr_engine as ze
    from zarr_engine.errors import ChunkCorruptError

    path = tmp_path / "h.db"
    table = "CREATE TABLE zarr (key TEXT PRIMARY KEY, value BLOB)"  # as another tool made it: NULL allowed
    with sqlite3.connect(path) as conn:
        conn.execute(table)
    conn.close()
    data = np.arange(1, 201, dtype="u1").reshape(2, 100)
    ze.create_array(f"sqlite://{path}", shape=(2, 200), chunks=(2, 200), dtype="u1",
                    compressors=None)[:, :100] = data
    _edit_rows(path, "UPDATE zarr SET value = ? WHERE key = 'c/0/0'", value)
    store = SQLiteStore(path)
    for read in (lambda: store.get("c/0/0"), lambda: store.get_many(["c/0/0"]),
                 lambda: store.get_range("c/0/0", 0, 10), lambda: store.get_range("c/0/0", -10, None)):
        with pytest.raises(ChunkCorruptError, match=f"key 'c/0/0' in sqlite://.* holds {what}"):
            read()
    store.close()
    arr = ze.open_array(f"sqlite://{path}", mode="r")
    with pytest.raises(ChunkCorruptError, match="c/0/0"):
        arr[...]


def _rows_of_folder(folder: Path) -> list[tuple[str, bytes]]:
    """Every key of a folder store with its bytes, as a key-value store holds them."""
    return [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def test_a_file_in_zarr_python_2s_table_layout_is_read_and_written(tmp_path: Path) -> None:
    # zarr-python 2's SQLiteStore keeps each key in zarr(k TEXT PRIMARY KEY, v BLOB);
    # here a v2 hierarchy zarr-python wrote is put into that table, as that store does
    import numpy as np
    import zarr

    import zarr_engine as ze

    data = np.arange(60, dtype="<f8").reshape(6, 10)
    root = zarr.open_group(tmp_path / "src.zarr", mode="w", zarr_format=2)
    root.create_array("t2m", shape=data.shape, chunks=(4, 4), dtype="<f8", attributes={"units": "K"})[...] = data
    path = tmp_path / "legacy.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS zarr(k TEXT PRIMARY KEY, v BLOB)")
        conn.executemany("INSERT INTO zarr VALUES (?, ?)", _rows_of_folder(tmp_path / "src.zarr"))
    conn.close()

    arr = ze.open_array(str(path), path="t2m", mode="r+")
    np.testing.assert_array_equal(arr[...], data)
    assert arr.attrs["units"] == "K"
    arr[1:3, 2:9] = -1.0
    expected = data.copy()
    expected[1:3, 2:9] = -1.0
    store = SQLiteStore(path, read_only=True)
    assert sorted(store.list_prefix("t2m/")) == sorted(k for k, _ in _rows_of_folder(tmp_path / "src.zarr")
                                                         if k.startswith("t2m/"))
    # the rows are where that layout keeps them, in the same columns: copied back out, zarr-python reads them
    with sqlite3.connect(path) as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(zarr)")] == ["k", "v"]
        for key, value in conn.execute("SELECT k, v FROM zarr"):
            (tmp_path / "out.zarr" / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "out.zarr" / key).write_bytes(value)
    conn.close()
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "out.zarr", path="t2m", mode="r")[...], expected)


def test_a_file_with_the_earlier_key_value_columns_keeps_working(tmp_path: Path) -> None:
    import numpy as np

    import zarr_engine as ze

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE zarr (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
    conn.close()
    data = np.arange(24, dtype="i2").reshape(4, 6)
    ze.create_array(f"sqlite://{path}", shape=data.shape, chunks=(2, 3), dtype="i2")[...] = data
    arr = ze.open_array(f"sqlite://{path}", mode="r+")
    arr[0] = 7
    expected = data.copy()
    expected[0] = 7
    np.testing.assert_array_equal(ze.open_array(str(path), mode="r")[...], expected)
    with sqlite3.connect(path) as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(zarr)")] == ["key", "value"]
        assert conn.execute("SELECT count(*) FROM zarr WHERE key LIKE 'c/%'").fetchone()[0] == 4
    conn.close()


def test_a_zarr_table_of_other_columns_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE zarr (name TEXT, data BLOB)")
    conn.close()
    for read_only in (True, False):
        with pytest.raises(StoreError, match=r"other.db: its table 'zarr' has columns \['name', 'data'\]"):
            SQLiteStore(path, read_only=read_only)
