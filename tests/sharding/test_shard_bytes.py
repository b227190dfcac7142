"""Shards byte for byte as zarr-python writes them: inner chunks laid out in
its Morton order, for grids of inner chunks with sides that are and are not
powers of two, in 2 and 3 dimensions, with inner chunks left out as fill, the
index at the start or the end, whole writes, partial rewrites and nested
shards."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import zarr_engine as ze
from tests.support import sample
from zarr_engine.codecs.sharding import morton_order

#: inner-chunk grid of a shard -> (inner chunk shape, shards per axis)
GRIDS = {
    "2x2": ((2, 3), (2, 2)),
    "4x4": ((2, 2), (4, 4)),
    "3x5": ((3, 2), (3, 5)),
    "2x3x4": ((2, 2, 1), (2, 3, 4)),
}


def _geometry(grid: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(array shape, shard shape, inner chunk shape): two shards along the first
    axis, the last one ragged."""
    inner, per = GRIDS[grid]
    shard = tuple(i * p for i, p in zip(inner, per))
    shape = (2 * shard[0] - 1,) + shard[1:]
    return shape, shard, inner


def _data(shape: tuple[int, ...], inner: tuple[int, ...], sparse: bool) -> np.ndarray:
    x = sample("int32", shape, seed=3)
    x[x == 0] = 1
    if sparse:  # inner chunks of fill: the first one, and every third one in C order
        grid = [-(-s // c) for s, c in zip(shape, inner)]
        for n, coords in enumerate(np.ndindex(*grid)):
            if n % 3 == 0:
                x[tuple(slice(c * i, (c + 1) * i) for c, i in zip(coords, inner))] = 0
    return x


def _files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*")
            if p.is_file() and p.name != "zarr.json"}


def _zarr(path: Path, shape, shard, inner, index_location: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.create_array(
            str(path), shape=shape, dtype="int32", chunks=shard, fill_value=0, compressors=None,
            serializer=zc.ShardingCodec(chunk_shape=inner, codecs=[zc.BytesCodec()], index_location=index_location),
            **kw,
        )


def _ours(path: Path, shape, shard, inner, index_location: str):
    _zarr(path, shape, shard, inner, index_location)  # the same metadata, from the same calls
    return ze.open_array(str(path), mode="r+")


def _assert_same_files(ours: Path, theirs: Path) -> None:
    mine, want = _files(ours), _files(theirs)
    assert sorted(mine) == sorted(want)
    for key in want:
        assert mine[key] == want[key], f"shard {key} differs"


@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("grid", GRIDS)
def test_shards_are_zarr_pythons_bytes(tmp_path, grid, sparse, location):
    shape, shard, inner = _geometry(grid)
    x = _data(shape, inner, sparse)
    _ours(tmp_path / "ours", shape, shard, inner, location)[...] = x
    _zarr(tmp_path / "theirs", shape, shard, inner, location)[...] = x
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "ours"))[...], x)


@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("grid", GRIDS)
def test_partial_rewrite_of_a_shard_is_zarr_pythons_bytes(tmp_path, grid, location):
    shape, shard, inner = _geometry(grid)
    x = _data(shape, inner, sparse=True)
    # a box over parts of several inner chunks of shard 0: some were left out
    # before, and the one at its corner becomes all fill
    box = tuple(slice(1, s - 1) for s in shard)
    new = np.full([b.stop - b.start for b in box], 7, dtype="int32")
    new[(slice(0, inner[0] - 1),) + tuple(slice(0, i - 1) for i in inner[1:])] = 0
    ours = _ours(tmp_path / "ours", shape, shard, inner, location)
    ours[...] = x
    ours[box] = new
    theirs = _zarr(tmp_path / "theirs", shape, shard, inner, location)
    theirs[...] = x
    theirs[box] = new
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    x[box] = new
    np.testing.assert_array_equal(ours[...], x)
    # our rewrite of shards zarr-python wrote gives its bytes too
    _zarr(tmp_path / "mixed", shape, shard, inner, location)[...] = _data(shape, inner, sparse=True)
    ze.open_array(str(tmp_path / "mixed"), mode="r+")[box] = new
    _assert_same_files(tmp_path / "mixed", tmp_path / "theirs")


def test_nested_shards_are_zarr_pythons_bytes(tmp_path):
    # the inner shards are encoded by the codec itself (the generic chain path)
    x = _data((8, 12), (2, 3), sparse=True)
    kw = dict(shape=(8, 12), dtype="int32", chunks=(8, 12), fill_value=0, compressors=None,
              serializer=zc.ShardingCodec(chunk_shape=(4, 6), codecs=[
                  zc.ShardingCodec(chunk_shape=(2, 3), codecs=[zc.BytesCodec()])]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "ours"), **kw)
        zarr.create_array(str(tmp_path / "theirs"), **kw)[...] = x
    ze.open_array(str(tmp_path / "ours"), mode="r+")[...] = x
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")


def test_morton_order_of_small_grids():
    # C-order indices in storage order: the first axis varies fastest at each bit
    assert morton_order((2, 2)).tolist() == [0, 2, 1, 3]
    assert morton_order((2, 3)).tolist() == [0, 3, 1, 4, 2, 5]
    assert morton_order((3, 1)).tolist() == [0, 1, 2]
    assert morton_order(()).tolist() == [0]
    order = morton_order((3, 5, 2))
    assert sorted(order.tolist()) == list(range(30))


# -- ze.create_array with a sharding codec as the serializer -------------------
# There `chunks` is the shard shape (the chunk grid of the array), as in
# zarr-python's create_array; it is the way to choose index_location there.

SER_GEOMETRY = _geometry("3x5")  # shape (17, 10), shards (9, 10), inner chunks (3, 2)

#: inner chains: given as dicts and as zarr-python objects; blosc's typesize and
#: shuffle are left open, to be set from the dtype
SER_INNER = {
    "raw": ([{"name": "bytes", "configuration": {"endian": "little"}}], lambda: [zc.BytesCodec()]),
    "blosc": ([{"name": "bytes"}, {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3}}],
              lambda: [zc.BytesCodec(), zc.BloscCodec(cname="zstd", clevel=3)]),
}


def _sharding_serializer(form: str, inner_codecs: str, location: str, chunk_shape=None):
    chunk_shape = SER_GEOMETRY[2] if chunk_shape is None else chunk_shape
    as_dicts, as_objects = SER_INNER[inner_codecs]
    if form == "dict":
        return {"name": "sharding_indexed", "configuration": {
            "chunk_shape": list(chunk_shape), "codecs": as_dicts,
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
            "index_location": location}}
    return zc.ShardingCodec(chunk_shape=chunk_shape, codecs=as_objects(), index_location=location)


def _zarr_codecs(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_array(str(path), mode="r").metadata.codecs


@pytest.mark.parametrize("compressors", [None, "auto"], ids=["no-compressor", "zstd-after"])
@pytest.mark.parametrize("inner_codecs", SER_INNER)
@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("form", ["dict", "zarr-python"])
def test_create_array_with_a_sharding_serializer_writes_zarr_pythons_shards(
    tmp_path, form, location, inner_codecs, compressors
):
    shape, shard, inner = SER_GEOMETRY
    x = _data(shape, inner, sparse=True)
    kw = dict(shape=shape, dtype="int32", chunks=shard, fill_value=0, compressors=compressors)
    ours = ze.create_array(str(tmp_path / "ours"), serializer=_sharding_serializer(form, inner_codecs, location), **kw)
    ours[...] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = zarr.create_array(
            str(tmp_path / "theirs"), serializer=_sharding_serializer(form, inner_codecs, location), **kw
        )
        theirs[...] = x
    assert _zarr_codecs(tmp_path / "ours") == _zarr_codecs(tmp_path / "theirs")
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "ours"), mode="r")[...], x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "ours"), mode="r")[...], x)
    # the grid of stored objects is the chunks given
    assert ours.metadata.chunk_shape == shard


def test_sharding_serializer_with_shards_nests_as_zarr_python(tmp_path):
    # chunks are then the shards of the sharding serializer, inside the outer shards
    shape, _, inner = SER_GEOMETRY
    x = _data(shape, inner, sparse=True)
    kw = dict(shape=shape, dtype="int32", chunks=(9, 4), shards=(18, 8), fill_value=0, compressors=None)
    ze.create_array(str(tmp_path / "ours"), serializer=_sharding_serializer("dict", "raw", "start"), **kw)[...] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), serializer=_sharding_serializer("dict", "raw", "start"), **kw)[...] = x
    assert _zarr_codecs(tmp_path / "ours") == _zarr_codecs(tmp_path / "theirs")
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "ours"), mode="r")[...], x)


@pytest.mark.parametrize(
    "chunk_shape, message",
    [
        ((4, 2), r"the shard shape \(9, 10\) is not a multiple of the inner chunk shape \(4, 2\)"),
        ((3, 3), r"the shard shape \(9, 10\) is not a multiple of the inner chunk shape \(3, 3\)"),
        ((3,), r"chunk_shape \[3\] has 1 axes, the shard \(9, 10\) has 2"),
        ((3, 2, 1), r"chunk_shape \[3, 2, 1\] has 3 axes, the shard \(9, 10\) has 2"),
    ],
)
@pytest.mark.parametrize("form", ["dict", "zarr-python"])
def test_sharding_serializer_that_does_not_tile_the_chunks_is_refused_before_writing(
    tmp_path, form, chunk_shape, message
):
    shape, shard, _ = SER_GEOMETRY
    kw = dict(shape=shape, dtype="int32", chunks=shard, compressors=None)
    with pytest.raises(ze.errors.CodecError, match=r"array '/a': codec 'sharding_indexed': " + message) as info:
        ze.create_array(str(tmp_path), name="a", serializer=_sharding_serializer(form, "raw", "end", chunk_shape), **kw)
    assert "chunks is the shard shape" in str(info.value)
    assert not (tmp_path / "a").exists() and not (tmp_path / "zarr.json").exists()
    with warnings.catch_warnings(), pytest.raises(ValueError):  # zarr-python refuses it too
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), serializer=_sharding_serializer(form, "raw", "end", chunk_shape), **kw)


@pytest.mark.parametrize("location", ["start", "end"])
def test_shards_dict_chooses_the_index_location_as_zarr_python(tmp_path, location):
    shape, shard, inner = SER_GEOMETRY
    x = _data(shape, inner, sparse=True)
    kw = dict(shape=shape, dtype="int32", chunks=inner, fill_value=0,
              shards={"shape": shard, "index_location": location})
    ze.create_array(str(tmp_path / "ours"), **kw)[...] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), **kw)[...] = x
    assert _zarr_codecs(tmp_path / "ours") == _zarr_codecs(tmp_path / "theirs")
    assert _zarr_codecs(tmp_path / "ours")[0].index_location.value == location
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "ours"), mode="r")[...], x)


def test_shards_dict_without_index_location_puts_it_at_the_end(tmp_path):
    shape, shard, inner = SER_GEOMETRY
    x = _data(shape, inner, sparse=True)
    kw = dict(shape=shape, dtype="int32", chunks=inner, fill_value=0)
    ze.create_array(str(tmp_path / "ours"), shards={"shape": shard}, **kw)[...] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), shards=shard, **kw)[...] = x
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")


@pytest.mark.parametrize(
    "shards, message",
    [
        ({"shape": (9, 10), "index_location": "middle"}, r"shards index_location must be 'start' or 'end', got 'middle'"),
        ({"shap": (9, 10)}, r"a shards dict takes 'shape' \(required\) and 'index_location', got keys \['shap'\]"),
        ({"shape": (9, 10), "index": "start"}, r"a shards dict takes 'shape' \(required\) and 'index_location'"),
        ({"shape": (8, 10), "index_location": "start"}, r"shard shape \(8, 10\) must be positive multiples"),
    ],
)
def test_bad_shards_dict_is_refused_before_writing(tmp_path, shards, message):
    with pytest.raises(ze.errors.MetadataError, match=r"array /a: " + message):
        ze.create_array(str(tmp_path), name="a", shape=(17, 10), dtype="int32", chunks=(3, 2), shards=shards)
    assert not (tmp_path / "a").exists() and not (tmp_path / "zarr.json").exists()
