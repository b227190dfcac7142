"""ZipStore: conformance, duplicate/deleted members, both fixture layouts, unsafe archives."""

from __future__ import annotations

import threading
import warnings
import zipfile
from pathlib import Path

import pytest

from zarr_engine.errors import InvalidKeyError, StoreError
from zarr_engine.storage import ZipStore, resolve_store
from zarr_engine.storage.conformance import StoreConformance

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "zarrita-js"


def fixture_zip(version: str, layout: str) -> Path:
    path = FIXTURES / version / f"data.zipped_from_{layout}.zarr.zip"
    if not path.is_file():
        pytest.skip(f"fixture {path} is not available")
    return path


class TestZipConformance(StoreConformance):
    overwrite_rounds = 20

    @pytest.fixture
    def store(self, tmp_path: Path):
        store = ZipStore(tmp_path / "store.zip", mode="w")
        yield store
        store.close()


def test_duplicate_key_kept_latest_and_compacted(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zipfile's "Duplicate name" warning must not appear
        with ZipStore(path, "w") as store:
            store.set("a", b"first")
            store.set("a", b"second")
            store.set("b", b"keep")
            assert store.get("a") == b"second"
        with zipfile.ZipFile(path) as zf:
            assert sorted(zf.namelist()) == ["a", "b"]
            assert zf.read("a") == b"second"
            assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_delete_survives_close(tmp_path: Path) -> None:
    path = tmp_path / "del.zip"
    with ZipStore(path, "w") as store:
        store.set_many({"x/0": b"0", "x/1": b"1", "y": b"2"})
    with ZipStore(path, "a") as store:
        store.delete("x/0")
        assert list(store.list()) == ["x/1", "y"]
    with ZipStore(path, "r") as store:
        assert list(store.list()) == ["x/1", "y"]
        assert store.get("x/0") is None


def test_reopen_after_close_appends(tmp_path: Path) -> None:
    path = tmp_path / "lazy.zip"
    store = ZipStore(path, "w")
    store.set("a", b"1")
    store.close()
    store.set("b", b"2")  # lazily reopened in append mode, not truncated
    store.close()
    assert list(ZipStore(path).list()) == ["a", "b"]


@pytest.mark.parametrize("version", ["v2", "v3"])
@pytest.mark.parametrize("layout", ["parent", "within"])
def test_fixture_layouts(version: str, layout: str) -> None:
    path = fixture_zip(version, layout)
    store, inner = resolve_store(f"zip://{path}")
    assert isinstance(store, ZipStore) and store.read_only
    expected_root = "data.zarr" if layout == "parent" else ""
    assert inner == expected_root == store.root
    meta = "zarr.json" if version == "v3" else ".zgroup"
    prefix = f"{inner}/" if inner else ""
    assert store.get(prefix + meta) is not None
    assert store.get(prefix + "my group with spaces/" + meta) is not None
    keys, dirs = store.list_dir(inner)
    assert "my group with spaces" in dirs
    # plain local paths ending in .zip resolve the same way
    store2, inner2 = resolve_store(str(path))
    assert isinstance(store2, ZipStore) and inner2 == inner
    # an explicit inner path wins over detection
    store3, inner3 = resolve_store(f"zip://{path}/{prefix}my group with spaces")
    assert inner3 == f"{prefix}my group with spaces"


@pytest.mark.parametrize("member", ["../evil", "/etc/passwd", "a\\..\\b", "C:/win", "ok/../../x"])
def test_unsafe_members_refused(tmp_path: Path, member: str) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fine", b"1")
        zf.writestr(zipfile.ZipInfo(member), b"2")
    with pytest.raises(InvalidKeyError, match="unsafe member"):
        ZipStore(path)


def test_missing_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        ZipStore(tmp_path / "none.zip")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(StoreError):
        ZipStore(junk)
    with pytest.raises(StoreError, match="exists"):
        ZipStore(junk, "x")
    with pytest.raises(StoreError):
        ZipStore(tmp_path / "none2.zip", "r+")


def test_threaded_reads(tmp_path: Path) -> None:
    path = tmp_path / "t.zip"
    data = {f"k/{i}": bytes([i]) * (1000 + i) for i in range(64)}
    with ZipStore(path, "w") as store:
        store.set_many(data)
    store = ZipStore(path)
    errors: list[str] = []

    def read() -> None:
        for _ in range(5):
            for k, v in data.items():
                if store.get(k) != v or store.get_range(k, 10, 20) != v[10:20]:
                    errors.append(k)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
