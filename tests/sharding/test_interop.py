"""Sharded arrays written by us read by zarr-python and the reverse: index at
start and end, with and without crc32c, inner chains with and without
compression and transpose, nested sharding, ragged edge shards, sparse shards,
and every data type of the core."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import zarr_engine as ze
from tests.support import assert_same, sample

SHAPE = (10, 13)  # shards of (8, 12): ragged along both axes
SHARD = (8, 12)
INNER = (2, 3)  # 4 x 4 inner chunks per shard, stored in Morton order

LAYOUTS = {
    "end-crc-zstd": dict(codecs=[zc.BytesCodec(), zc.ZstdCodec(level=1)]),
    "start-crc-raw": dict(codecs=[zc.BytesCodec()], index_location="start"),
    "end-nocrc-transpose-gzip": dict(
        codecs=[zc.TransposeCodec(order=(1, 0)), zc.BytesCodec(), zc.GzipCodec(level=1)],
        index_codecs=[zc.BytesCodec()],
    ),
    "start-nocrc-transpose-blosc-big": dict(
        codecs=[zc.TransposeCodec(order=(1, 0)), zc.BytesCodec(endian="big"), zc.BloscCodec(cname="lz4")],
        index_codecs=[zc.BytesCodec()],
        index_location="start",
    ),
    "nested": dict(
        chunk_shape=(4, 6),
        codecs=[zc.ShardingCodec(chunk_shape=INNER, codecs=[zc.BytesCodec(), zc.ZstdCodec(level=1)])],
    ),
    "nested-start": dict(
        chunk_shape=(4, 6),
        codecs=[zc.ShardingCodec(chunk_shape=INNER, codecs=[zc.BytesCodec()], index_location="start")],
        index_location="start",
    ),
}


def zarr_create(path: Path, layout: str, dtype: str = "int32", fill=0):
    cfg = dict(LAYOUTS[layout])
    cfg.setdefault("chunk_shape", INNER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.create_array(
            str(path), shape=SHAPE, dtype=dtype, chunks=SHARD, serializer=zc.ShardingCodec(**cfg),
            compressors=None, fill_value=fill,
        )


def sparse_data(seed: int = 0) -> np.ndarray:
    x = sample("int32", SHAPE, seed=seed)
    x[0:2, 0:3] = 0  # one inner chunk of shard (0, 0) missing
    x[2:6, 6:12] = 0  # four more, in the middle of the shard
    x[8:10, 12:13] = 0  # shard (1, 1) all fill: not stored at all
    return x


def chunk_keys(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.name != "zarr.json"}


def zarr_read(path: Path, sel=Ellipsis) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_array(str(path), mode="r")[sel]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_we_write_zarr_python_reads(tmp_path, layout):
    x = sparse_data()
    zarr_create(tmp_path / "ours", layout)
    zarr_create(tmp_path / "theirs", layout)[...] = x
    ours = ze.open_array(str(tmp_path / "ours"), mode="r+")
    ours[...] = x
    assert_same(zarr_read(tmp_path / "ours"), x)
    # the same shards stored (shard (1, 1) left out by both)
    assert chunk_keys(tmp_path / "ours") == chunk_keys(tmp_path / "theirs")
    assert "c/1/1" not in chunk_keys(tmp_path / "ours")
    # partial writes: inside one inner chunk, across shards, strided
    ours[1, 1] = -5
    x[1, 1] = -5
    ours[5:10, 4:13] = 17
    x[5:10, 4:13] = 17
    ours[::3, ::4] = np.arange(16, dtype="int32").reshape(4, 4)
    x[::3, ::4] = np.arange(16, dtype="int32").reshape(4, 4)
    assert_same(zarr_read(tmp_path / "ours"), x)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zarr_python_writes_we_read(tmp_path, layout):
    x = sparse_data(seed=1)
    z = zarr_create(tmp_path / "theirs", layout)
    z[...] = x
    z[3:7, 5:11] = 42  # a partial write through zarr-python's own read-modify-write
    x[3:7, 5:11] = 42
    ours = ze.open_array(str(tmp_path / "theirs"), mode="r")
    assert ours.chunks == ((4, 6) if layout.startswith("nested") else INNER)
    assert ours.shards == SHARD
    assert_same(ours[...], x)
    assert_same(ours[1:9, 2:12], x[1:9, 2:12])
    assert_same(ours[0:2, 0:3], x[0:2, 0:3])
    assert_same(ours[::-3, 1::5], x[::-3, 1::5])
    assert_same(ours.oindex[[9, 0, 4], [12, 0, 7]], x[[9, 0, 4]][:, [12, 0, 7]])
    assert_same(ours.vindex[[9, 0, 4, 8], [12, 0, 7, 12]], x[[9, 0, 4, 8], [12, 0, 7, 12]])


def test_our_create_array_with_shards_reads_in_zarr_python(tmp_path):
    x = sparse_data()
    a = ze.create_array(str(tmp_path / "a"), shape=SHAPE, dtype="int32", chunks=INNER, shards=SHARD, fill_value=0)
    a[...] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.open_array(str(tmp_path / "a"), mode="r")
        assert z.shards == SHARD and z.chunks == INNER
        assert_same(z[...], x)


DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128",
          "datetime64[s]", "timedelta64[ms]", "str"]


def dtype_data(dt: str) -> np.ndarray:
    x = sample(dt, SHAPE, seed=7)
    if dt != "str":
        x[0:2, 0:3] = np.zeros((), dtype=x.dtype)  # a missing inner chunk (fill value 0)
    else:
        x[0:2, 0:3] = ""
    return x


@pytest.mark.parametrize("dt", DTYPES)
def test_dtypes_both_ways(tmp_path, dt):
    x = dtype_data(dt)
    fill = "" if dt == "str" else (False if dt == "bool" else 0)
    ours = ze.create_array(str(tmp_path / "ours"), shape=SHAPE, dtype=dt, chunks=INNER, shards=SHARD, fill_value=fill)
    ours[...] = x
    ours[9, 12] = x[0, 5]
    expected = x.copy()
    expected[9, 12] = x[0, 5]
    assert_same(zarr_read(tmp_path / "ours"), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = zarr.create_array(
            str(tmp_path / "theirs"), shape=SHAPE, dtype=dt, chunks=INNER, shards=SHARD, fill_value=fill
        )
        theirs[...] = x
    back = ze.open_array(str(tmp_path / "theirs"), mode="r")
    assert_same(back[...], x)
    assert_same(back[1:9, 2:7], x[1:9, 2:7])


def test_many_whole_shards_of_small_inner_chunks_read_as_zarr_python_wrote_them(tmp_path):
    """A read of several whole shards from a folder decodes their inner chunks in
    runs on the pool (16 inner chunks of 8 KiB a run here, 4 runs a shard): the
    runs, ragged edge shards, absent inner chunks and an absent shard all read
    as zarr-python wrote them."""
    from zarr_engine.core import pool

    data = sample("float64", (600, 600), seed=3)
    data[32:64, 0:256] = -1.0  # inner chunks of fill in shard (0, 0): not stored
    data[256:512, 256:512] = -1.0  # shard (1, 1) all fill: no file at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.create_array(str(tmp_path / "a"), shape=data.shape, dtype="float64", chunks=(32, 32),
                              shards=(256, 256), fill_value=-1.0)
    z[:] = data
    assert not (tmp_path / "a" / "c" / "1" / "1").exists()
    pool.set_pool_size(2)  # the pipelined path needs more than one pool thread
    try:
        a = ze.open_array(tmp_path / "a", mode="r")
        np.testing.assert_array_equal(a[:], z[:])
        np.testing.assert_array_equal(a[:512, 100:600], z[:512, 100:600])
    finally:
        pool.set_pool_size(None)
