"""The sharding_indexed codec on its own: configuration, layout, index
validation, assembly, and corrupt shards read through an array."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.codecs import ChunkSpec, CodecChain, get_codec
from zarr_engine.codecs.sharding import MISSING, ShardingCodec
from zarr_engine.core.sharded import coalesce
from zarr_engine.errors import ChunkCorruptError, CodecError, MetadataError
from zarr_engine.storage.memory import MemoryStore

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
CRC = {"name": "crc32c", "configuration": {}}


def spec(location="end", index=(BYTES, CRC), inner=(BYTES,), chunk_shape=(2, 3)):
    return {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": list(chunk_shape),
            "codecs": list(inner),
            "index_codecs": list(index),
            "index_location": location,
        },
    }


def chain(s, shape=(4, 6), dtype="int32", fill=0) -> CodecChain:
    return CodecChain.from_specs([s], ChunkSpec(shape, np.dtype(dtype), fill))


def test_configuration_round_trips_and_pickles():
    c = get_codec(spec("start"))
    assert isinstance(c, ShardingCodec)
    assert c.to_json() == spec("start")
    assert pickle.loads(pickle.dumps(c)) == c
    ch = chain(spec())
    assert pickle.loads(pickle.dumps(ch)).to_json() == ch.to_json()


@pytest.mark.parametrize(
    "config,match",
    [
        ({"chunk_shape": [0, 3], "codecs": [BYTES]}, "positive"),
        ({"chunk_shape": [2, 3], "codecs": [BYTES], "index_location": "middle"}, "index_location"),
        ({"chunk_shape": [2, 3], "codecs": []}, "must not be empty"),
        ({"chunk_shape": [2, 3], "codecs": [BYTES], "bogus": 1}, "bogus"),
        ({"codecs": [BYTES]}, "chunk_shape"),
    ],
)
def test_bad_configuration_is_refused(config, match):
    with pytest.raises(MetadataError, match=match):
        get_codec({"name": "sharding_indexed", "configuration": config})


def test_shard_shape_must_be_a_multiple_of_the_inner_chunks():
    with pytest.raises(CodecError, match="multiple"):
        chain(spec(chunk_shape=(3, 3)))
    with pytest.raises(CodecError, match="axes"):
        chain(spec(chunk_shape=(2,)))


def test_variable_size_index_codecs_are_refused():
    with pytest.raises(CodecError, match="fixed size"):
        chain(spec(index=(BYTES, {"name": "zstd", "configuration": {"level": 1}})))


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("crc", [True, False])
def test_encode_decode_and_index_layout(location, crc):
    ch = chain(spec(location, (BYTES, CRC) if crc else (BYTES,)))
    layout = ch.codecs[0].layout
    assert layout.index_size == 4 * 16 + (4 if crc else 0)
    a = np.arange(24, dtype="int32").reshape(4, 6) + 1
    a[2:4, 0:3] = 0  # inner chunk (1, 0) all fill: left out
    data = bytes(memoryview(ch.encode(a)).cast("B"))
    assert len(data) == 3 * 24 + layout.index_size
    index, _ = layout.split(data)
    assert tuple(index[2]) == (MISSING, MISSING)
    first = layout.index_size if location == "start" else 0
    assert sorted(int(o) for o in index[:, 0] if o != MISSING) == [first, first + 24, first + 48]
    np.testing.assert_array_equal(ch.decode(data), a)


def test_all_fill_shard_encodes_to_an_index_only():
    ch = chain(spec())
    data = ch.encode(np.zeros((4, 6), "int32"))
    assert len(data) == ch.codecs[0].layout.index_size
    np.testing.assert_array_equal(ch.decode(data), np.zeros((4, 6), "int32"))


def test_inner_chunks_in_any_order_are_read():
    ch = chain(spec())
    layout = ch.codecs[0].layout
    a = np.arange(24, dtype="int32").reshape(4, 6)
    index, view = layout.split(ch.encode(a))
    pieces = [bytes(layout.piece(view, index, i)) for i in range(layout.n_inner)]
    # store them in reverse order, with some junk between, and point the index at them
    body, new_index = b"", np.zeros_like(index)
    for i in reversed(range(layout.n_inner)):
        body += b"junk"
        new_index[i] = (len(body), len(pieces[i]))
        body += pieces[i]
    shard = body + bytes(memoryview(layout.index_chain.encode(new_index.reshape(2, 2, 2))).cast("B"))
    np.testing.assert_array_equal(ch.decode(shard), a)


@pytest.mark.parametrize(
    "spans,gap,size,expected",
    [
        ([(0, 10), (10, 20)], 0, 100, [(0, 20, [0, 1])]),
        ([(30, 40), (0, 10)], 5, 100, [(0, 10, [1]), (30, 40, [0])]),
        ([(0, 10), (15, 20)], 5, 100, [(0, 20, [0, 1])]),
        ([(0, 10), (10, 20), (20, 30)], 0, 20, [(0, 20, [0, 1]), (20, 30, [2])]),
        ([(0, 50), (5, 10)], 0, 100, [(0, 50, [0, 1])]),
    ],
)
def test_coalesce(spans, gap, size, expected):
    assert coalesce(spans, gap, size) == expected


# -- corrupt shards through an array --------------------------------------------


def sharded_array(index_codecs=(BYTES, CRC), location="end"):
    mem = MemoryStore()
    a = ze.create_array(mem, shape=(8, 8), dtype="int32", chunks=(2, 2), shards=(4, 4), fill_value=0, compressors=None)
    doc = json.loads(mem.get("zarr.json"))
    cfg = doc["codecs"][0]["configuration"]
    cfg["index_codecs"], cfg["index_location"] = list(index_codecs), location
    mem.set("zarr.json", json.dumps(doc).encode())
    a = ze.open_array(mem)
    a[...] = np.arange(64, dtype="int32").reshape(8, 8) + 1
    return a, mem


READS = {"whole shard": (slice(0, 4), slice(0, 4)), "one inner chunk": (slice(0, 2), slice(0, 2))}


@pytest.mark.parametrize("read", READS)
def test_bad_crc32c_names_the_shard(read):
    a, mem = sharded_array()
    raw = bytearray(mem.get("c/0/0"))
    raw[-10] ^= 0xFF  # inside the index
    mem.set("c/0/0", bytes(raw))
    with pytest.raises(ChunkCorruptError, match=r"c/0/0.*crc32c|crc32c.*c/0/0"):
        a[READS[read]]
    np.testing.assert_array_equal(a[4:8, 4:8], np.arange(64).reshape(8, 8)[4:8, 4:8] + 1)  # others unharmed


@pytest.mark.parametrize("read", READS)
def test_truncated_shard_names_the_shard(read):
    a, mem = sharded_array()
    mem.set("c/0/1", mem.get("c/0/1")[:-20])
    with pytest.raises(ChunkCorruptError, match="c/0/1"):
        a[0:4, 4:8][:2, :2] if read == "whole shard" else a[0:2, 4:6]
    mem.set("c/0/1", b"\x00" * 7)  # shorter than the index itself
    with pytest.raises(ChunkCorruptError, match=r"c/0/1"):
        a[0:4, 4:8] if read == "whole shard" else a[0:2, 4:6]


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("read", READS)
def test_offsets_past_the_end_name_the_shard(location, read):
    a, mem = sharded_array(index_codecs=(BYTES,), location=location)
    raw = bytearray(mem.get("c/1/0"))
    at = 0 if location == "start" else len(raw) - 64
    index = np.frombuffer(bytes(raw[at : at + 64]), "<u8").copy().reshape(4, 2)
    index[0] = (len(raw) - 8, 16)  # inner chunk (0, 0) runs 8 bytes past the end
    raw[at : at + 64] = index.astype("<u8").tobytes()
    mem.set("c/1/0", bytes(raw))
    with pytest.raises(ChunkCorruptError, match=r"c/1/0"):
        a[READS[read][0].start + 4 : READS[read][0].stop + 4, READS[read][1]]


def test_half_missing_index_entry_is_corrupt():
    a, mem = sharded_array(index_codecs=(BYTES,))
    raw = bytearray(mem.get("c/0/0"))
    raw[-64 : -64 + 8] = (2**64 - 1).to_bytes(8, "little")  # offset missing, length not
    mem.set("c/0/0", bytes(raw))
    with pytest.raises(ChunkCorruptError, match="c/0/0.*only one of offset"):
        a[0:2, 0:2]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("damage", ["index", "inner chunk"])
def test_damage_inside_a_shard_of_a_group_member_does_not_name_the_root_array(read, damage):
    """A shard layout's chains are shared by the arrays using it: their errors said
    "of array '/'" for an array at 'obs/station'; they name the key, which holds its path."""
    mem = MemoryStore()
    g = ze.create_group(mem, zarr_format=3)
    a = g.create_array("obs/station", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="int32",
                       compressors={"name": "zstd", "configuration": {"level": 1}})
    a[...] = np.arange(64, dtype="int32").reshape(8, 8)
    raw = bytearray(mem.get("obs/station/c/0/0"))
    raw[-10 if damage == "index" else 4] ^= 0xFF
    mem.set("obs/station/c/0/0", bytes(raw))
    with pytest.raises(ChunkCorruptError, match=r"obs/station/c/0/0") as info:
        ze.open_array(mem, path="obs/station", mode="r")[READS[read]]
    assert "array '/'" not in str(info.value)
