"""ZipStore: conformance, duplicate/deleted members, both fixture layouts, unsafe archives."""

from __future__ import annotations

import shutil
import threading
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from zarr_engine.errors import ChunkCorruptError, ContainsNodeError, InvalidKeyError, StoreError
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


# -- opening a file that is not a zip -----------------------------------------
def _sqlite_bytes(tmp_path: Path) -> bytes:
    import sqlite3

    path = tmp_path / "made.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    return path.read_bytes()


def _cut_zip_bytes(tmp_path: Path) -> bytes:
    a = ze.create_array(str(tmp_path / "whole.zip"), shape=(100,), chunks=(10,), dtype="i4")
    a[:] = np.arange(100)
    a.store.close()
    return (tmp_path / "whole.zip").read_bytes()[:-30]  # the end record is lost


@pytest.mark.parametrize("kind", ["text", "sqlite", "cut zip"])
@pytest.mark.parametrize("mode", ["r", "r+", "a", "w", "w-"])
def test_a_file_that_is_not_a_zip_is_refused_and_left_unchanged(tmp_path: Path, kind: str, mode: str) -> None:
    content = {"text": lambda: b"hi", "sqlite": lambda: _sqlite_bytes(tmp_path),
               "cut zip": lambda: _cut_zip_bytes(tmp_path)}[kind]()
    path = tmp_path / "other.zip"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="is not a zip file") as info:
        ze.open_group(f"zip://{path}", mode=mode)
    assert str(path) in str(info.value)
    if kind == "sqlite":
        assert f"sqlite://{path}" in str(info.value)  # the form that opens it
    with pytest.raises(StoreError, match="is not a zip file"):
        ZipStore(path, "a" if mode in ("w", "w-") else mode)
    assert path.read_bytes() == content


def test_a_plain_path_to_a_file_that_is_not_a_zip_is_left_unchanged(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hi")
    with pytest.raises(StoreError, match="notes.txt is not a zip file"):
        ze.open_group(str(notes), mode="a")
    assert notes.read_bytes() == b"hi"


def test_an_empty_file_opens_as_an_empty_archive(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    path.touch()  # as tempfile.NamedTemporaryFile(suffix=".zip") leaves it
    a = ze.open_array(str(path), mode="a", shape=(3,), chunks=(3,), dtype="i2")
    a[:] = [4, 5, 6]
    a.store.close()
    ref = zarr.open_array(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
    np.testing.assert_array_equal(ref[:], [4, 5, 6])


# -- the mode is the node's, not the file's -----------------------------------
def _zip_with_keep(path: Path) -> None:
    g = ze.open_group(str(path), mode="w")
    g.create_array("keep", shape=(3,), chunks=(3,), dtype="i4")[:] = [1, 2, 3]
    g.create_group("sub").attrs["old"] = True
    g.store.close()


def _members(path: Path) -> list[str]:
    return sorted(zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r").keys())


@pytest.mark.parametrize("how", ["path", "url"])
def test_mode_w_on_a_node_inside_a_zip_replaces_only_that_node(tmp_path: Path, how: str) -> None:
    path = tmp_path / "g.zip"
    _zip_with_keep(path)
    if how == "path":
        new = ze.open_group(str(path), path="sub", mode="w")
    else:
        new = ze.open_group(f"zip://{path}/sub", mode="w")
    assert dict(new.attrs) == {}
    new.store.close()
    y = ze.open_array(str(path), path="new", mode="w", shape=(2,), chunks=(2,), dtype="i4")
    y[:] = [8, 9]
    y.store.close()
    assert _members(path) == ["keep", "new", "sub"]
    ref = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
    np.testing.assert_array_equal(ref["keep"][:], [1, 2, 3])
    np.testing.assert_array_equal(ref["new"][:], [8, 9])
    assert dict(ref["sub"].attrs) == {}


def test_mode_w_minus_inside_a_zip_refuses_only_an_existing_node(tmp_path: Path) -> None:
    path = tmp_path / "h.zip"
    _zip_with_keep(path)
    a = ze.open_array(str(path), path="other", mode="w-", shape=(2,), chunks=(2,), dtype="i4")
    a[:] = [5, 6]
    a.store.close()
    before = path.read_bytes()
    with pytest.raises(ContainsNodeError, match="/keep"):
        ze.open_array(f"zip://{path}/keep", mode="w-", shape=(2,), dtype="i4")
    with pytest.raises(ContainsNodeError, match="at /"):
        ze.open_group(str(path), mode="w-")
    assert path.read_bytes() == before
    assert _members(path) == ["keep", "other", "sub"]
    ref = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
    np.testing.assert_array_equal(ref["other"][:], [5, 6])


def test_mode_w_on_the_root_of_a_zip_replaces_everything(tmp_path: Path) -> None:
    path = tmp_path / "r.zip"
    _zip_with_keep(path)
    ze.open_group(str(path), mode="w", attributes={"fresh": 1}).store.close()
    ref = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
    assert list(ref.keys()) == [] and dict(ref.attrs) == {"fresh": 1}
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["zarr.json"]


# -- a zip made from the parent folder of a store ---------------------------------
def _parent_zip(tmp_path: Path) -> Path:
    g = ze.open_group(str(tmp_path / "data.zarr"), mode="w")
    g.create_array("t", shape=(4,), chunks=(4,), dtype="i4")[:] = np.arange(4)
    g.create_group("sub").create_array("u", shape=(2,), chunks=(2,), dtype="i4")[:] = [5, 6]
    # like `zip -r parent.zip data.zarr`: every member under data.zarr/
    return Path(shutil.make_archive(str(tmp_path / "parent"), "zip", str(tmp_path), "data.zarr"))


@pytest.mark.parametrize("mode", ["a", "r+"])
def test_writing_to_a_zip_made_from_the_parent_folder_stays_under_its_top_folder(tmp_path: Path, mode: str) -> None:
    path = _parent_zip(tmp_path)
    g = ze.open_group(str(path), mode=mode)
    g.create_array("new", shape=(2,), chunks=(2,), dtype="i1")[:] = [1, 2]
    g.create_group("deep/er")  # a missing parent below the root is created, none above it
    g.store.close()
    with zipfile.ZipFile(path) as zf:
        assert all(n.startswith("data.zarr/") for n in zf.namelist())
    ref = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), path="data.zarr", mode="r")
    assert sorted(ref.keys()) == ["deep", "new", "sub", "t"]
    np.testing.assert_array_equal(ref["new"][:], [1, 2])
    # the root is found again, so the old paths still work
    np.testing.assert_array_equal(ze.open_array(str(path), path="t", mode="r")[:], np.arange(4))
    assert sorted(ze.open_group(str(path), mode="r").keys()) == ["deep", "new", "sub", "t"]


def test_an_inner_path_of_a_zip_made_from_the_parent_folder_is_below_its_top_folder(tmp_path: Path) -> None:
    path = _parent_zip(tmp_path)
    for url in (f"zip://{path}/sub/u", f"zip://{path}/data.zarr/sub/u"):
        a = ze.open_array(url, mode="r")
        assert a.path == "data.zarr/sub/u"
        np.testing.assert_array_equal(a[:], [5, 6])
    np.testing.assert_array_equal(ze.open_array(str(path), path="sub/u", mode="r")[:], [5, 6])
    ze.open_group(f"zip://{path}/sub/v", mode="w").store.close()
    with zipfile.ZipFile(path) as zf:
        assert "data.zarr/sub/v/zarr.json" in zf.namelist()


def _flip_member_byte(archive: Path, name: str, offset: int) -> None:
    """Flip one byte of member ``name``'s stored data, leaving the zip's directory intact."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(name)
    blob = bytearray(archive.read_bytes())
    # the data follows the 30-byte local header, the name and the extra field
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    blob[start + offset] ^= 0xFF
    archive.write_bytes(bytes(blob))


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_member_failing_the_zips_own_crc_is_a_corrupt_chunk_naming_the_key(tmp_path: Path, compression: int) -> None:
    """zarr-python (and zipfile) raise BadZipFile for a member whose bytes no longer
    match the zip's CRC-32, or zlib.error when they no longer inflate; a chunk or shard damaged so is ChunkCorruptError naming
    the key, for whole and partial reads, and the other chunks read as numpy says."""
    folder = tmp_path / "h.zarr"
    data = np.arange(400, dtype="i4").reshape(20, 20)
    g = zarr.open_group(str(folder), mode="w", zarr_format=3)
    g.create_array("raw", shape=(20, 20), chunks=(10, 10), dtype="i4", compressors=None)[...] = data
    g.create_array("sharded", shape=(20, 20), chunks=(5, 5), shards=(10, 10), dtype="i4")[...] = data
    archive = tmp_path / "h.zip"
    with zipfile.ZipFile(archive, "w", compression) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    _flip_member_byte(archive, "raw/c/0/0", 5)
    _flip_member_byte(archive, "sharded/c/0/0", 3)
    with pytest.raises((zipfile.BadZipFile, zlib.error)):
        zarr.open_array(zarr.storage.ZipStore(archive, mode="r"), path="raw", mode="r")[...]
    for name in ("raw", "sharded"):
        arr = ze.open_array(f"zip://{archive}/{name}", mode="r")
        for read in (lambda: arr[...], lambda: arr[2:8, 3:9]):
            with pytest.raises(ChunkCorruptError, match=f"key '{name}/c/0/0' in zip file .*is damaged"):
                read()
        np.testing.assert_array_equal(arr[10:, :], data[10:, :])
        np.testing.assert_array_equal(arr[:10, 10:], data[:10, 10:])
