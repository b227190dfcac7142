"""LocalStore: conformance plus folder-specific behaviour."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from zarr_engine.errors import StoreError
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
