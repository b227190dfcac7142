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
