"""``zarr-engine verify``: missing chunks are reported, corrupt ones fail the run."""

from __future__ import annotations

import zipfile



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


def test_verify_zip_store(run, hierarchy, tmp_path):
    archive = tmp_path / "h.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(hierarchy.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(hierarchy).as_posix())
    r = run("verify", f"zip://{archive}", "--json")
    assert r.code == 0, r.err
    assert sum(a["stored"] for a in r.json()["arrays"]) == 18 + 4 + 4
    assert run("verify", tmp_path / "absent.zip").code in (3, 4)


def test_verify_zip_member_failing_its_crc_is_reported_corrupt(run, hierarchy, tmp_path):
    # zipfile's BadZipFile used to escape: an internal error (exit 70) instead of a report
    archive = tmp_path / "h.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(hierarchy.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(hierarchy).as_posix())
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
