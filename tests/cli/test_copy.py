"""``zarr-engine copy``: format conversion, new chunks/shards/compressor, groups, stores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from tests.cli.conftest import TEMPERATURE
from zarr_engine.cli.copy import parse_compressor
from zarr_engine.cli._common import UsageError


def test_copy_v2_to_v3_with_new_chunks_reads_equal_in_zarr_python(run, v2_array, tmp_path):
    src, data = v2_array
    dst = tmp_path / "v3.zarr"
    r = run("copy", src, dst, "--zarr-format", "3", "--chunks", "20,25", "--no-progress")
    assert r.code == 0, r.err
    ref = zarr.open_array(str(dst), mode="r")
    assert ref.metadata.zarr_format == 3
    assert ref.chunks == (20, 25)
    np.testing.assert_array_equal(ref[...], data)
    assert dict(ref.attrs) == {"source": "v2"}
    meta = json.loads((dst / "zarr.json").read_text())
    assert meta["codecs"][-1]["name"] == "numcodecs.zlib"  # the compressor carried over


def test_copy_v3_group_to_v2_recursively(run, hierarchy, tmp_path):
    dst = tmp_path / "v2.zarr"
    r = run("copy", hierarchy, dst, "--zarr-format", "2", "--compressor", "gzip:4", "--no-progress")
    assert r.code == 0, r.err
    g = zarr.open_group(str(dst), mode="r")
    assert g.metadata.zarr_format == 2
    assert dict(g.attrs) == {"title": "CLI test", "version": 3}
    assert dict(g["obs"].attrs) == {"kind": "observations"}
    np.testing.assert_array_equal(g["temperature"][...], TEMPERATURE)
    assert g["temperature"].metadata.compressor.get_config() == {"id": "gzip", "level": 4}
    # the sharded array becomes plain chunks of its inner shape
    assert g["obs/station"].chunks == (8, 8)
    np.testing.assert_array_equal(g["obs/station"][...], np.arange(64 * 64, dtype="u2").reshape(64, 64))
    count = g["obs/count"]
    np.testing.assert_array_equal(count[...], np.r_[np.arange(35), np.full(65, -1)])
    # missing chunks stay missing: nothing is written for them
    assert ze.open(str(dst / "obs/count"), mode="r").nchunks_initialized == 4


def test_copy_to_zip_with_shards_and_back(run, hierarchy, tmp_path):
    zipped = tmp_path / "h.zip"
    r = run("copy", hierarchy / "temperature", zipped, "--shards", "16,32,32", "--compressor", "blosc:lz4:5",
            "--no-progress")
    assert r.code == 0, r.err
    info = run("info", f"zip://{zipped}", "--json").json()
    assert info["shards"] == [16, 32, 32] and info["chunks"] == [8, 16, 16]
    inner = info["serializer"]["configuration"]["codecs"]
    assert inner[-1]["name"] == "blosc" and inner[-1]["configuration"]["cname"] == "lz4"
    ref = zarr.open_array(zarr.storage.ZipStore(str(zipped), mode="r"), mode="r")
    np.testing.assert_array_equal(ref[...], TEMPERATURE)
    back = tmp_path / "back.zarr"
    assert run("copy", zipped, back, "--shards", "none", "--no-progress").code == 0
    assert ze.open(str(back), mode="r").shards is None
    np.testing.assert_array_equal(ze.open(str(back), mode="r")[...], TEMPERATURE)


def test_copy_refuses_to_overwrite_without_the_flag(run, v2_array, tmp_path):
    src, data = v2_array
    dst = tmp_path / "once.zarr"
    assert run("copy", src, dst, "--no-progress").code == 0
    again = run("copy", src, dst, "--no-progress")
    assert again.code == 2 and "--overwrite" in again.err
    assert "overwrite=True" not in again.err and again.err.count("--overwrite") == 1  # the hint said once
    assert run("copy", src, dst, "--overwrite", "--chunks", "50,60", "--no-progress").code == 0
    assert ze.open(str(dst), mode="r").chunks == (50, 60)


def _tree(url) -> dict[str, list]:
    """Every array below the group at ``url``, read by zarr-python."""
    store = zarr.storage.ZipStore(str(url), mode="r") if str(url).endswith(".zip") else str(url)
    g = zarr.open_group(store, mode="r")
    return {name: a[...].tolist() for name, a in g.arrays()} | {
        f"{name}/{sub}": a[...].tolist() for name, grp in g.groups() for sub, a in grp.arrays()}


@pytest.fixture
def small_group(tmp_path):
    """A v3 group with /a and /sub/b, in a folder."""
    g = ze.create_group(str(tmp_path / "data.zarr"))
    g.create_array("a", shape=(4,), chunks=(2,), dtype="i4")[...] = [1, 2, 3, 4]
    g.create_group("sub").create_array("b", shape=(2,), chunks=(2,), dtype="i4")[...] = [5, 6]
    return tmp_path / "data.zarr"


@pytest.mark.parametrize("src, dst, says", [
    ("data.zarr", "data.zarr", "same node"),
    ("data.zarr", "./data.zarr/", "same node"),
    ("data.zarr", "link.zarr", "same node"),  # a symbolic link to the source
    ("data.zarr/sub", "data.zarr", "holds SRC"),
    ("data.zarr/sub/b", "file://{tmp}/data.zarr/sub", "holds SRC"),
    ("data.zarr", "data.zarr/nested", "is inside SRC"),
    ("data.zarr", "link.zarr/sub/b", "is inside SRC"),
])
@pytest.mark.parametrize("overwrite", [True, False])
def test_copy_refuses_a_destination_that_overlaps_the_source(run, small_group, tmp_path, monkeypatch, src, dst,
                                                              says, overwrite):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.zarr").symlink_to(small_group)
    before = _tree(small_group)
    r = run("copy", src, dst.format(tmp=tmp_path), "--no-progress", *(["--overwrite"] if overwrite else []))
    assert r.code == 2 and says in r.err, r.err
    assert _tree(small_group) == before == {"a": [1, 2, 3, 4], "sub/b": [5, 6]}
    assert sorted(p.name for p in small_group.iterdir()) == ["a", "sub", "zarr.json"]  # nothing written


def test_copy_refuses_overlaps_inside_one_zip_whatever_the_url_form(run, small_group, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("copy", small_group, "g.zip", "--no-progress").code == 0
    before = (tmp_path / "g.zip").read_bytes()
    for src, dst in (("g.zip", f"zip://{tmp_path}/g.zip"), (f"zip://{tmp_path}/g.zip/sub", "g.zip"),
                     ("g.zip", f"zip://{tmp_path}/g.zip/sub/c")):
        r = run("copy", src, dst, "--overwrite", "--no-progress")
        assert r.code == 2 and "SRC" in r.err, r.err
        assert (tmp_path / "g.zip").read_bytes() == before
    assert _tree(tmp_path / "g.zip") == {"a": [1, 2, 3, 4], "sub/b": [5, 6]}
    # siblings in one zip do not overlap
    r = run("copy", f"zip://{tmp_path}/g.zip/sub", f"zip://{tmp_path}/g.zip/sub2", "--no-progress")
    assert r.code == 0, r.err
    assert _tree(tmp_path / "g.zip") == {"a": [1, 2, 3, 4], "sub/b": [5, 6], "sub2/b": [5, 6]}


def test_copy_to_a_sibling_or_a_similar_name_is_not_an_overlap(run, small_group, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("copy", "data.zarr/sub", "data.zarr/sub2", "--no-progress").code == 0
    assert run("copy", "data.zarr", "data.zarr2", "--no-progress").code == 0  # a prefix of the name only
    assert _tree(small_group) == {"a": [1, 2, 3, 4], "sub/b": [5, 6], "sub2/b": [5, 6]}
    assert _tree(tmp_path / "data.zarr2") == _tree(small_group)


def test_copy_usage_errors(run, v2_array, tmp_path):
    src, _ = v2_array
    r = run("copy", src, tmp_path / "x.zarr", "--zarr-format", "2", "--shards", "10,10")
    assert r.code == 2 and "format 3" in r.err
    r = run("copy", src, tmp_path / "y.zarr", "--chunks", "0,4")
    assert r.code == 2 and "positive" in r.err
    assert run("copy", tmp_path / "absent.zarr", tmp_path / "z.zarr").code == 3


def test_copy_keeps_consolidation(run, hierarchy, tmp_path):
    assert run("consolidate", hierarchy).code == 0
    dst = tmp_path / "c.zarr"
    assert run("copy", hierarchy, dst, "--no-progress").code == 0
    doc = json.loads((dst / "zarr.json").read_text())
    assert set(doc["consolidated_metadata"]["metadata"]) == {"temperature", "obs", "obs/count", "obs/station"}


@pytest.mark.cluster
def test_copy_on_an_existing_cluster(run, hierarchy, tmp_path):
    from distributed import Client, LocalCluster

    dst = tmp_path / "cluster.zarr"
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        r = run("copy", hierarchy, dst, "--scheduler", cluster.scheduler_address, "--chunks", "10,10,40")
        with Client(cluster) as client:
            # the tasks ran on the cluster's workers, not in this process
            prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
            assert "from-zarr" in prefixes and "zarr-target" in prefixes, prefixes
    assert r.code == 0, r.err
    assert cluster.scheduler_address.split("//")[1] in r.err  # the progress bar names the cluster
    g = zarr.open_group(str(dst), mode="r")
    assert g["temperature"].chunks == (10, 10, 40)
    np.testing.assert_array_equal(g["temperature"][...], TEMPERATURE)


def test_parse_compressor():
    assert parse_compressor(None) == "keep"
    assert parse_compressor("none") is None
    assert parse_compressor("zstd:7") == {"id": "zstd", "level": 7}
    assert parse_compressor("blosc") == {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}
    assert parse_compressor('{"id": "lz4"}') == {"id": "lz4"}
    for bad in ("zstd:x", "{not json", "zstd:1:2"):
        with pytest.raises(UsageError):
            parse_compressor(bad)


def test_copy_strings_between_formats(run, tmp_path):
    words = np.array(["a", "bb", "", "naïve", "日本語", "x" * 30, "g"], dtype=object)
    src = tmp_path / "s3.zarr"
    ze.create_array(str(src), shape=words.shape, chunks=(3,), dtype=str)[...] = words
    assert run("copy", src, tmp_path / "s2.zarr", "--zarr-format", "2", "--no-progress").code == 0
    assert run("copy", tmp_path / "s2.zarr", tmp_path / "back.zarr", "--zarr-format", "3", "--no-progress").code == 0
    for name in ("s2.zarr", "back.zarr"):
        got = zarr.open_array(str(tmp_path / name), mode="r")[...]
        assert list(got) == list(words), name


@pytest.mark.parametrize("compression", ["gzip", "zlib", "bzip2", "xz", "blosc", "zstd", "lz4", None])
def test_copy_n5_to_zarr_writes_real_zarr_and_back(run, tmp_path, compression):
    """An N5 array becomes an ordinary Zarr array (its compression as a compressor
    zarr-python knows), and Zarr becomes N5 that tensorstore reads."""
    import tensorstore as ts

    data = np.arange(23 * 17, dtype="uint16").reshape(23, 17)
    src = tmp_path / "src.n5"
    a = ze.create_array(str(src), shape=data.shape, chunks=(10, 6), dtype="uint16", zarr_format="n5",
                        compressor=compression, attributes={"origin": "n5"})
    a[...] = data
    for fmt in ("3", "2"):
        dst = tmp_path / f"v{fmt}.zarr"
        r = run("copy", src, dst, "--zarr-format", fmt, "--no-progress")
        assert r.code == 0, r.err
        ref = zarr.open_array(str(dst), mode="r")
        np.testing.assert_array_equal(ref[...], data)
        assert ref.chunks == (10, 6)
        assert dict(ref.attrs) == {"origin": "n5"}
        meta = json.loads((dst / ("zarr.json" if fmt == "3" else ".zarray")).read_text())
        codecs = meta["codecs"] if fmt == "3" else [meta["compressor"] or {}, *(meta["filters"] or [])]
        # no N5-only codec leaks into the Zarr metadata
        assert all(c.get("name", c.get("id")) != "n5" for c in codecs), codecs
    back = tmp_path / "back.n5"
    r = run("copy", tmp_path / "v3.zarr", back, "--zarr-format", "n5", "--no-progress")
    assert r.code == 0, r.err
    assert json.loads((back / "attributes.json").read_text())["dimensions"] == [17, 23]
    if compression == "lz4":  # tensorstore's n5 driver has no lz4: the original data is the reference
        np.testing.assert_array_equal(ze.open_array(str(back), mode="r")[...], data)
        return
    store = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(back)}}).result()
    # tensorstore keeps N5's stored (reversed) dimension order; we expose C order
    np.testing.assert_array_equal(store.read().result(), data.T)


def test_copy_to_n5_refuses_shards(run, hierarchy, tmp_path):
    r = run("copy", hierarchy, tmp_path / "x.n5", "--zarr-format", "n5", "--shards", "10,10")
    assert r.code == 2
    assert "format n5" in r.err


def test_copy_reads_a_block_of_whole_chunks_in_one_task(run, tmp_path):
    """An array of many small chunks is read one task per written block when the
    blocks are made of whole source chunks, not one task per chunk and a
    rechunk (10,000 chunks of 1.6 KB took four times as long that way); the
    copy still equals what zarr-python wrote."""
    from zarr_engine.cli.parallel import read_array, write_blocks

    data = np.arange(60 * 50, dtype="f4").reshape(60, 50)
    src = tmp_path / "small.zarr"
    z = zarr.create_array(str(src), shape=data.shape, chunks=(4, 5), dtype="f4")
    z[:] = data
    a = ze.open_array(src, mode="r")
    x = read_array(a, (60, 5))  # 10 blocks of 15 whole chunks each
    assert x.numblocks == (1, 10)
    assert len([k for k in dict(x.__dask_graph__()) if isinstance(k, tuple)]) == 10
    np.testing.assert_array_equal(x.compute(), data)
    y = read_array(a, (25, 10))  # blocks that cut source chunks: read per chunk, then rechunked
    assert y.numblocks == (3, 5)
    np.testing.assert_array_equal(y.compute(), data)
    for extra in ([], ["--chunks", "6,25"]):
        dst = tmp_path / f"copy{len(extra)}.zarr"
        r = run("copy", src, dst, "--no-progress", *extra)
        assert r.code == 0, r.err
        np.testing.assert_array_equal(zarr.open_array(str(dst), mode="r")[...], data)
    assert write_blocks(ze.open_array(tmp_path / "copy0.zarr")) == (60, 5)
