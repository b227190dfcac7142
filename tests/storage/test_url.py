"""resolve_store and store_from_url."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_engine.errors import StoreError
from zarr_engine.storage import LocalStore, MemoryStore, Store, ZipStore, resolve_store, store_from_url


def test_local_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for like in ("data.zarr", str(tmp_path / "data.zarr"), f"file://{tmp_path}/data.zarr", tmp_path / "data.zarr"):
        store, path = resolve_store(like, mode="a")
        assert isinstance(store, LocalStore) and path == "" and not store.read_only
        assert store.root == tmp_path / "data.zarr"
    store, _ = resolve_store("data.zarr")
    assert store.read_only


def test_store_instance_passes_through() -> None:
    mem = MemoryStore()
    assert resolve_store(mem) == (mem, "")
    assert resolve_store(mem)[0] is mem


def test_modes(tmp_path: Path) -> None:
    for mode, ro in (("r", True), ("r+", False), ("a", False), ("w", False), ("w-", False)):
        store, _ = resolve_store(tmp_path, mode=mode)
        assert store.read_only is ro
    with pytest.raises(ValueError):
        resolve_store(tmp_path, mode="rw")


def test_zip_write_then_read(tmp_path: Path) -> None:
    url = f"zip://{tmp_path}/out.zip"
    store, inner = resolve_store(url, mode="w")
    assert isinstance(store, ZipStore) and inner == ""
    store.set("zarr.json", b"{}")
    store.close()
    again, inner = resolve_store(url)
    assert again.get("zarr.json") == b"{}" and inner == ""
    assert store_from_url(store.url, read_only=True) == again


@pytest.mark.parametrize(
    "factory",
    [lambda p: LocalStore(p / "s"), lambda p: MemoryStore(), lambda p: ZipStore(p / "z.zip", "w")],
)
def test_store_from_url_round_trip(tmp_path: Path, factory) -> None:
    store: Store = factory(tmp_path)
    store.set("k", b"v")
    store.close()
    for ro in (True, False):
        again = store_from_url(store.url, None, ro)
        assert type(again) is type(store) and again.url == store.url and again.read_only is ro
        assert again.get("k") == b"v"
        again.close()


def test_unknown_scheme_and_options() -> None:
    with pytest.raises(StoreError, match="unknown protocol 'nosuchproto'"):
        resolve_store("nosuchproto://bucket/x")
    with pytest.raises(StoreError, match="storage_options"):
        resolve_store("memory://x", storage_options={"anon": True})


def test_missing_package_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import fsspec  # noqa: F401 - loads the registry module

    registry = sys.modules["fsspec.registry"]
    # Pretend s3fs is not installed: fsspec then raises ImportError for "s3".
    monkeypatch.setitem(registry.known_implementations, "s3",
                        {"class": "no_such_module_xyz.S3FileSystem", "err": "Install s3fs to access S3"})
    monkeypatch.delitem(registry._registry, "s3", raising=False)
    with pytest.raises(StoreError, match=r"s3fs.*") as info:
        resolve_store("s3://bucket/data.zarr")
    assert "s3://bucket/data.zarr" in str(info.value)


def test_a_plain_path_to_a_node_inside_a_zip_or_sqlite_file_opens_that_node(tmp_path: Path) -> None:
    # "data.zip/t2m" names the array t2m inside the zip, as "zip://.../data.zip/t2m" does;
    # no folder can exist below a file, so a folder store there could only report "nothing"
    import numpy as np
    import zarr

    import zarr_engine as ze
    from zarr_engine.storage import SQLiteStore

    data = np.arange(12, dtype="f4").reshape(3, 4)
    zipped = zarr.storage.ZipStore(tmp_path / "data.zip", mode="w")
    zarr.create_array(zipped, name="grp/t2m", shape=data.shape, chunks=(2, 2), dtype="f4")[...] = data
    zipped.close()
    g = ze.open_group(f"sqlite://{tmp_path}/data.sqlite", mode="w")
    g.create_array("grp/t2m", shape=data.shape, chunks=(2, 2), dtype="f4")[...] = data + 1
    g.store.close()

    for name, kind, expected in (("data.zip", ZipStore, data), ("data.sqlite", SQLiteStore, data + 1)):
        store, inner = resolve_store(str(tmp_path / name / "grp" / "t2m"), mode="r")
        assert isinstance(store, kind) and inner == "grp/t2m"
        np.testing.assert_array_equal(ze.open_array(str(tmp_path / name / "grp/t2m"), mode="r")[...], expected)
        assert isinstance(ze.open(str(tmp_path / name / "grp"), mode="r"), ze.Group)
        with pytest.raises(ze.errors.NodeNotFoundError, match=r"/grp/none in .*" + kind.__name__):
            ze.open(str(tmp_path / name / "grp/none"), mode="r")
    # a plain file above the path: refused as not a zip, and left as it was
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StoreError, match="not a zip file"):
        ze.open(str(tmp_path / "notes.txt" / "x"), mode="r")
    assert (tmp_path / "notes.txt").read_text() == "hello"
