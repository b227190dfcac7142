"""LocalStore: conformance plus folder-specific behaviour."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from zarr_engine.errors import ReadOnlyError, StoreError
from zarr_engine.storage import LocalStore
from zarr_engine.storage.conformance import StoreConformance
from zarr_engine.storage.local import TEMP_SUFFIX


class TestLocalConformance(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        return LocalStore(tmp_path / "store.zarr")


def test_url_and_layout(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "x")
    assert store.url == "file://" + str(tmp_path / "x")
    store.set("a/b/c", b"1")
    assert (tmp_path / "x" / "a" / "b" / "c").read_bytes() == b"1"


def test_temp_files_hidden_and_not_left(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("k", b"v")
    (tmp_path / f".k.deadbeef{TEMP_SUFFIX}").write_bytes(b"half written")
    assert list(store.list()) == ["k"]
    assert store.list_dir("") == (["k"], [])
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"k", f".k.deadbeef{TEMP_SUFFIX}"}


def test_delete_prunes_empty_folders_but_not_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalStore(root)
    store.set("a/b/c/0", b"x")
    store.set("a/keep", b"y")
    store.delete("a/b/c/0")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "keep").exists()
    store.delete("a/keep")
    assert root.is_dir() and list(root.iterdir()) == []


def test_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(StoreError, match="file"):
        LocalStore(f)


def test_pickle_keeps_options(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, read_only=True, fsync=True)
    clone = pickle.loads(pickle.dumps(store))
    assert clone.read_only and clone.fsync and clone.root == store.root


def test_symlinked_folder_listed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "k").write_bytes(b"1")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(real, root / "link")
    assert list(LocalStore(root).list()) == ["link/k"]


# -- the loops the engine uses for many small chunks ------------------------------------------


def test_read_each_into_counts_each_key_in_order(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set_many([("c/0/0", b"abcd"), ("c/0/1", b"xy"), ("c/1/0", b"longer than four")])
    (tmp_path / "c" / "1" / "1").mkdir()  # a folder where a value would be: absent
    keys = ["c/0/0", "c/0/1", "c/9/9", "c/1/0", "c/1/1", "c/0/0/deeper"]
    bufs = [bytearray(4) for _ in keys]
    got = list(store.read_each_into(keys, [memoryview(b) for b in bufs]))
    assert got == [4, 2, None, 5, None, None]  # 5: longer than its 4-byte view
    assert bytes(bufs[0]) == b"abcd" and bytes(bufs[1][:2]) == b"xy"
    assert store.read_exact_into("c/0/1", memoryview(bytearray(8))) == 2


def test_a_folder_where_a_value_would_be_is_absent_for_every_read(tmp_path: Path) -> None:
    # os.open opens a folder too; a range read of one raised a bare IsADirectoryError
    store = LocalStore(tmp_path)
    (tmp_path / "c" / "0").mkdir(parents=True)
    assert store.get("c/0") is None
    assert store.get_range("c/0", 0, 4) is None
    assert store.get_range("c/0", -4, None) is None
    assert store.get_ranges([("c/0", 0, 4)]) == [None]
    assert store.read_exact_into("c/0", memoryview(bytearray(4))) is None
    assert not store.exists("c/0") and store.getsize("c/0") is None


def test_read_each_into_refuses_a_bad_key_naming_it(tmp_path: Path) -> None:
    from zarr_engine.errors import InvalidKeyError

    store = LocalStore(tmp_path)
    with pytest.raises(InvalidKeyError, match=r"\.\./x"):
        list(store.read_each_into(["ok", "../x"], [memoryview(bytearray(4))] * 2))


def test_set_many_writes_each_pair_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("c/0", b"old")
    store.set_many((f"c/{i}", bytes([i]) * i) for i in range(5))
    assert [store.get(f"c/{i}") for i in range(5)] == [bytes([i]) * i for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [str(i) for i in range(5)]
    with pytest.raises(ReadOnlyError, match="read-only"):
        store.with_read_only().set_many({"c/9": b"x"})
    assert store.get("c/9") is None


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_dir_fds = pytest.mark.skipif(
    not __import__("zarr_engine.storage.local", fromlist=["_DIR_FDS"])._DIR_FDS or not os.path.isdir("/proc/self/fd"),
    reason="runs of keys are opened relative to their folder only where os.open takes dir_fd",
)


@needs_dir_fds
def test_runs_in_one_folder_go_through_a_folder_descriptor_and_close_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zarr_engine.storage import local

    store = LocalStore(tmp_path)
    before = _open_descriptors()
    relative: list[str] = []
    real_open = os.open

    def spying_open(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if dir_fd is not None:
            relative.append(path)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(local.os, "open", spying_open)
    # two runs of three keys and a lone key in a third folder
    items = [(f"c/{r}/{i}", bytes([r, i]) * (i + 1)) for r in range(2) for i in range(3)] + [("d/0", b"lone")]
    store.set_many(items)
    views = [memoryview(bytearray(8)) for _ in items]
    got = list(store.read_each_into([k for k, _ in items], views))
    monkeypatch.undo()
    assert got == [len(v) for _, v in items]
    assert [bytes(view[:n]) for view, n in zip(views, got)] == [v for _, v in items]
    # the second and third key of each run, written (temporary name) and read by their names alone
    assert [n for n in relative if not n.startswith(".")] == ["1", "2", "1", "2"]
    assert sum(n.startswith(".") for n in relative) == 4
    assert _open_descriptors() == before
    assert sorted(p.name for p in (tmp_path / "c" / "0").iterdir()) == ["0", "1", "2"]
    # a reader that stops early still closes its folder
    reader = store.read_each_into(["c/0/0", "c/0/1", "c/0/2"], [memoryview(bytearray(8)) for _ in range(3)])
    assert [next(reader), next(reader)] == [2, 4]
    reader.close()
    assert _open_descriptors() == before


@needs_dir_fds
def test_a_folder_removed_in_the_middle_of_a_run_is_made_again(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)

    def items():  # type: ignore[no-untyped-def]
        yield "c/0", b"0"
        yield "c/1", b"1"  # the run's folder is open from here
        store.delete_many(["c/0", "c/1"])  # and now gone: the folder was left empty
        assert not (tmp_path / "c").exists()
        yield "c/2", b"2"
        yield "c/3", b"3"

    store.set_many(items())
    assert [store.get(f"c/{i}") for i in range(4)] == [None, None, b"2", b"3"]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["2", "3"]


@needs_dir_fds
def test_a_run_refuses_a_folder_and_a_temporary_shaped_key_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / "c" / "1").mkdir(parents=True)
    with pytest.raises(StoreError, match=r"'c/1'.*it is a folder"):
        store.set_many([("c/0", b"0"), ("c/1", b"1")])
    with pytest.raises(StoreError, match="temporary file"):
        store.set_many([("c/2", b"2"), (f"c/.x.y{TEMP_SUFFIX}", b"3")])
    with pytest.raises(TypeError):
        store.set_many([("c/3", b"3"), ("c/4", object())])  # type: ignore[list-item]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["0", "1", "2", "3"]
    assert store.get("c/4") is None


@needs_dir_fds
def test_read_each_into_a_run_in_a_missing_folder_reads_absent(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set_many([("c/0/0", b"a"), ("c/0/1", b"b")])
    (tmp_path / "f").write_bytes(b"a file where a folder would be")
    keys = ["c/9/0", "c/9/1", "c/9/2", "c/0/0", "c/0/1", "f/0", "f/1"]
    got = list(store.read_each_into(keys, [memoryview(bytearray(4)) for _ in keys]))
    assert got == [None, None, None, 1, 1, None, None]


def test_a_leftover_temporary_file_with_the_next_name_is_stepped_around(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itertools

    from zarr_engine.storage import local

    store = LocalStore(tmp_path)
    store.set("k", b"1")
    # the name the next write of "k" would draw, taken by a writer that crashed
    upcoming = next(local._temp_counter)
    monkeypatch.setattr(local, "_temp_counter", itertools.count(upcoming))
    stale = tmp_path / f".k.{local._temp_token}{upcoming:x}{TEMP_SUFFIX}"
    stale.write_bytes(b"half written")
    store.set("k", b"2")
    assert store.get("k") == b"2"
    assert stale.read_bytes() == b"half written"  # not ours to remove, and not listed
    assert list(store.list()) == ["k"]


def test_a_forked_child_draws_other_temporary_names(tmp_path: Path) -> None:
    from zarr_engine.storage import local

    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its token, then leave without running pytest's teardown
        os.write(write, local._temp_token.encode())
        os._exit(0)
    os.close(write)
    child_token = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_token and child_token != local._temp_token
