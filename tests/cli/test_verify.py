"""``zarr-engine verify``: missing chunks are reported, corrupt ones fail the run."""

from __future__ import annotations

import zipfile

import pytest



def test_verify_clean_store(run, hierarchy):
    r = run("verify", hierarchy, "--json")
    assert r.code == 0, r.err
    rep = r.json()
    assert rep["ok"] is True and rep["corrupt_count"] == 0
    by_path = {a["path"]: a for a in rep["arrays"]}
    assert by_path["/temperature"]["stored"] == 18
    assert by_path["/obs/count"]["missing_count"] == 6
    assert by_path["/obs/count"]["missing"] == [f"obs/count/c/{i}" for i in range(4, 10)]
    assert by_path["/obs/station"]["stored_unit"] == "shard"


def test_verify_finds_corrupt_chunks(run, hierarchy):
    (hierarchy / "temperature/c/1/0/2").write_bytes(b"not zstd at all")
    shard = hierarchy / "obs/station/c/1/1"
    blob = bytearray(shard.read_bytes())
    blob[-3] ^= 0xFF  # inside the shard index: its crc32c no longer matches
    shard.write_bytes(bytes(blob))
    r = run("verify", hierarchy, "--json")
    assert r.code == 1
    rep = r.json()
    assert rep["ok"] is False and rep["corrupt_count"] == 2
    keys = {c["key"] for a in rep["arrays"] for c in a["corrupt"]}
    assert keys == {"temperature/c/1/0/2", "obs/station/c/1/1"}
    text = run("verify", hierarchy)
    assert text.code == 1
    assert "CORRUPT temperature/c/1/0/2" in text.out and text.out.rstrip().splitlines()[-1].startswith("FAILED")
    # reading a corrupt chunk elsewhere is exit 1 too, with one line on stderr
    got = run("get", hierarchy / "temperature", "-s", "8:16, 0:16, 32:40")
    assert got.code == 1 and len(got.err.strip().splitlines()) == 1 and "ChunkCorruptError" in got.err


def test_verify_truncated_chunk_of_one_array(run, hierarchy):
    key = hierarchy / "temperature/c/0/0/0"
    key.write_bytes(key.read_bytes()[:10])
    r = run("verify", hierarchy / "temperature")
    assert r.code == 1 and "1 corrupt" in r.out


def test_fail_on_missing(run, hierarchy):
    assert run("verify", hierarchy / "obs/count").code == 0
    r = run("verify", hierarchy / "obs/count", "--fail-on-missing", "--list-missing")
    assert r.code == 1 and "missing c/9" in r.out


def _zip_of(folder, archive):
    """``folder``'s files zipped from within it, as a zip store of its hierarchy."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return archive


def test_verify_zip_store(run, hierarchy, tmp_path):
    archive = _zip_of(hierarchy, tmp_path / "h.zip")
    r = run("verify", f"zip://{archive}", "--json")
    assert r.code == 0, r.err
    assert sum(a["stored"] for a in r.json()["arrays"]) == 18 + 4 + 4
    assert run("verify", tmp_path / "absent.zip").code in (3, 4)


def test_verify_zip_member_failing_its_crc_is_reported_corrupt(run, hierarchy, tmp_path):
    # zipfile's BadZipFile used to escape: an internal error (exit 70) instead of a report
    archive = _zip_of(hierarchy, tmp_path / "h.zip")
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("temperature/c/0/0/0")
    blob = bytearray(archive.read_bytes())
    blob[info.header_offset + 30 + len(info.filename) + len(info.extra) + 7] ^= 0xFF
    archive.write_bytes(bytes(blob))
    r = run("verify", f"zip://{archive}", "--json")
    assert r.code == 1, r.err
    rep = r.json()
    assert rep["corrupt_count"] == 1
    (corrupt,) = [c for a in rep["arrays"] for c in a["corrupt"]]
    assert corrupt["key"] == "temperature/c/0/0/0" and "Bad CRC-32" in corrupt["error"]


@pytest.mark.timeout(60)
def test_verify_a_sparse_array_of_a_trillion_chunks(run, tmp_path):
    """The missing chunks are counted, not enumerated: a (10**9, 10**9) array of
    (1000, 1000) chunks with one chunk written is verified at once (the whole
    grid was walked before, which never ended)."""
    import zarr

    path = tmp_path / "sparse.zarr"
    z = zarr.create_array(str(path), shape=(10**9, 10**9), chunks=(1000, 1000), dtype="f4", fill_value=0)
    z[5, 5] = 1.0
    r = run("verify", path, "--json")
    assert r.code == 0, r.err
    (rep,) = r.json()["arrays"]
    assert (rep["total"], rep["stored"], rep["missing_count"]) == (10**12, 1, 10**12 - 1)
    assert rep["missing"][:2] == ["c/0/1", "c/0/2"] and len(rep["missing"]) == 100


@pytest.mark.parametrize("fmt,sep", [(2, "."), (2, "/"), (3, "/"), (3, ".")])
def test_verify_counts_the_chunks_zarr_python_wrote(run, tmp_path, fmt, sep):
    """Stored chunks are found from the store's listing for every key encoding,
    0-d arrays included, and stray files are not taken for chunks."""
    import numpy as np
    import zarr

    root = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=fmt)
    enc = {"name": "v2" if fmt == 2 else "default", "separator": sep}
    a = root.create_array("a", shape=(7, 5), chunks=(2, 2), dtype="i4", fill_value=0, chunk_key_encoding=enc)
    a[:4] = np.arange(20).reshape(4, 5) + 1  # chunk rows 0 and 1 stored, rows 2 and 3 missing
    s = root.create_array("s", shape=(), dtype="f8", fill_value=0, chunk_key_encoding=enc)
    s[()] = 2.5
    (tmp_path / "g.zarr" / "a" / "notes.txt").write_text("not a chunk")
    r = run("verify", tmp_path / "g.zarr", "--json")
    assert r.code == 0, r.err
    by_path = {x["path"]: x for x in r.json()["arrays"]}
    assert (by_path["/a"]["total"], by_path["/a"]["stored"], by_path["/a"]["missing_count"]) == (12, 6, 6)
    first_missing = "a/" + ("c" + sep if fmt == 3 else "") + sep.join(["2", "0"])
    assert by_path["/a"]["missing"][0] == first_missing
    assert (by_path["/s"]["total"], by_path["/s"]["stored"]) == (1, 1)


def test_verify_reads_neighbouring_chunks_together_and_names_each_corrupt_one(run, tmp_path, monkeypatch):
    """Chunks next to each other along the last axis are read in one call (a
    call per chunk of a few KiB cost ten times the decode); a run holding a
    corrupt chunk is read again chunk by chunk, so exactly the corrupt ones
    are named."""
    import numpy as np
    import zarr

    import zarr_engine as ze
    from zarr_engine.cli.verify import verify_array

    path = tmp_path / "row.zarr"
    z = zarr.create_array(str(path), shape=(3, 400), chunks=(1, 10), dtype="i4", fill_value=0)
    z[:] = np.arange(1200).reshape(3, 400) + 1
    z[1, 100:110] = 0  # chunk (1, 10) all fill: not stored, splits row 1 into two runs
    for key in ("c/0/7", "c/2/39"):
        (path / key).write_bytes(b"garbage")
    calls = []
    real = ze.Array.__getitem__

    def counting(self, sel):
        calls.append(sel)
        return real(self, sel)

    monkeypatch.setattr(ze.Array, "__getitem__", counting)
    rep = verify_array(ze.open_array(path, mode="r"), jobs=1, progress=False)
    assert (rep["stored"], rep["missing"]) == (119, ["c/1/10"])
    assert sorted(c["key"] for c in rep["corrupt"]) == ["c/0/7", "c/2/39"]
    # one call per run (row 0, row 1 before and after the gap, row 2), then one
    # per chunk of the two runs that failed
    assert len(calls) == 4 + 40 + 40
