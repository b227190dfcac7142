"""The chain refuses stored bytes too few to decode to a whole chunk, before a
chunk buffer is allocated, and never refuses a chunk that does decode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from zarr_engine.codecs import ChunkSpec, CodecChain
from zarr_engine.errors import ChunkCorruptError
from zarr_engine.storage import LocalStore, MemoryStore
from tests.support import assert_refused_without_allocating

B_LE = {"name": "bytes", "configuration": {"endian": "little"}}


def nc(cid: str, **config) -> dict:
    return {"name": f"numcodecs.{cid}", "configuration": config}


# every compressor that gives a bound, at its densest setting, and two that do not
BOUNDED = {
    "gzip9": [B_LE, {"name": "gzip", "configuration": {"level": 9}}],
    "zstd22": [B_LE, {"name": "zstd", "configuration": {"level": 22, "checksum": False}}],
    "zstd-fast": [B_LE, {"name": "zstd", "configuration": {"level": -5, "checksum": True}}],
    "blosc-zstd": [B_LE, {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 9, "shuffle": "shuffle",
                                                               "typesize": 4, "blocksize": 0}}],
    "zstd+crc32c": [B_LE, {"name": "zstd", "configuration": {"level": 3, "checksum": False}},
                    {"name": "crc32c", "configuration": {}}],
    "numcodecs.zlib9": [B_LE, nc("zlib", level=9)],
    "numcodecs.gzip9": [B_LE, nc("gzip", level=9)],
    "numcodecs.zstd": [B_LE, nc("zstd", level=19)],
    "numcodecs.lz4": [B_LE, nc("lz4", acceleration=1)],
    "numcodecs.blosc": [B_LE, nc("blosc", cname="lz4", clevel=9, shuffle=1)],
    "numcodecs.zlib+crc32": [B_LE, nc("zlib", level=9), nc("crc32")],
}
UNBOUNDED = {"numcodecs.bz2": [B_LE, nc("bz2", level=9)], "numcodecs.lzma": [B_LE, nc("lzma")]}


@pytest.mark.parametrize("name", list(BOUNDED) + list(UNBOUNDED))
@pytest.mark.parametrize("fill", ["zeros", "ramp"])
def test_no_real_chunk_is_refused(name: str, fill: str) -> None:
    # all zeros is as compressible as data gets: every bound must still hold
    shape = (1024, 1024)  # 4 MiB, more than 32 zstd blocks
    data = np.zeros(shape, "<i4") if fill == "zeros" else np.arange(shape[0] * shape[1], dtype="<i4").reshape(shape)
    chain = CodecChain.from_specs({**BOUNDED, **UNBOUNDED}[name], ChunkSpec(shape, np.dtype("<i4")))
    stored = chain.encode(data)
    chain.check_stored_size(stored, "c/0/0")
    np.testing.assert_array_equal(chain.decode(stored, key="c/0/0"), data)


@pytest.mark.parametrize("name", list(BOUNDED))
def test_a_cut_chunk_is_refused_naming_the_key_before_allocating(name: str) -> None:
    shape = (2048, 2048)  # 16 MiB: no stored prefix of a few bytes can make it
    chain = CodecChain.from_specs(BOUNDED[name], ChunkSpec(shape, np.dtype("<i4")))
    stored = bytes(chain.encode(np.zeros(shape, "<i4")))
    cut = stored[:16]  # headers intact: blosc and lz4 still announce the full size
    if name in ("blosc-zstd", "numcodecs.blosc"):
        cut = stored[:4] + b"\x00" * 12  # a header announcing nothing
    if name == "numcodecs.lz4":
        cut = (16).to_bytes(4, "little") + stored[4:16]  # a prefix announcing 16 bytes
    assert_refused_without_allocating(lambda: chain.decode(cut, key="a/c/1/2"), ChunkCorruptError,
                                      r"chunk 'a/c/1/2': 16 stored bytes cannot decode to the "
                                      r"16777216 bytes of a whole chunk")


@pytest.mark.parametrize("name", list(UNBOUNDED))
def test_compressors_without_a_bound_leave_it_to_the_decode(name: str) -> None:
    chain = CodecChain.from_specs(UNBOUNDED[name], ChunkSpec((64, 64), np.dtype("<i4")))
    chain.check_stored_size(b"\x00" * 8, "k")  # no bound: nothing said here
    with pytest.raises(ChunkCorruptError, match="'k'"):
        chain.decode(b"\x00" * 8, key="k")


def test_lz4_is_bounded_by_its_ratio_when_its_prefix_lies() -> None:
    # numcodecs' lz4 prefix announces 16 MiB, but 20 bytes of LZ4 cannot make it
    chain = CodecChain.from_specs(BOUNDED["numcodecs.lz4"], ChunkSpec((2048, 2048), np.dtype("<i4")))
    with pytest.raises(ChunkCorruptError, match="20 stored bytes cannot decode"):
        chain.check_stored_size((16 << 20).to_bytes(4, "little") + b"\x00" * 16, "k")
    small = CodecChain.from_specs(BOUNDED["numcodecs.lz4"], ChunkSpec((64,), np.dtype("<i4")))
    with pytest.raises(ChunkCorruptError, match="cannot decode to the 256 bytes.*at most 16 of them"):
        small.check_stored_size((16).to_bytes(4, "little") + b"\x00" * 16, "k")


def test_the_bound_applies_to_a_bytes_serialiser_only() -> None:
    # a variable-length serialiser has no fixed size to compare with
    chain = CodecChain.from_specs([{"name": "vlen-utf8", "configuration": {}},
                                   {"name": "zstd", "configuration": {"level": 1, "checksum": False}}],
                                  ChunkSpec((10**6,), np.dtype("O"), ""))
    chain.check_stored_size(b"\x00" * 8, "k")


def test_a_sharded_inner_chunk_too_small_is_refused_naming_shard_and_inner_chunk(tmp_path) -> None:
    # zarr-python writes the shard; one inner chunk is then replaced by 9 bytes of a cut frame
    z = zarr.create_array(str(tmp_path / "s.zarr"), shape=(4, 1 << 20), chunks=(1, 1 << 20), shards=(4, 1 << 20),
                          dtype="<i4", compressors=[{"name": "zstd", "configuration": {"level": 1}}], fill_value=0)
    data = np.arange(4 << 20, dtype="<i4").reshape(4, 1 << 20)
    z[...] = data
    shard_path = tmp_path / "s.zarr" / "c" / "0" / "0"
    raw = bytearray(shard_path.read_bytes())
    index = np.frombuffer(bytes(raw[-(16 * 4 + 4):-4]), "<u8").reshape(4, 2)
    off = int(index[2, 0])
    raw[off:off + 9] = raw[off:off + 9]  # keep the frame's head...
    index = index.copy()
    index[2, 1] = 9  # ...and say the inner chunk is 9 bytes long
    import crc32c

    raw[-(16 * 4 + 4):] = index.tobytes() + crc32c.crc32c(index.tobytes()).to_bytes(4, "little")
    shard_path.write_bytes(bytes(raw))
    arr = ze.open_array(LocalStore(tmp_path / "s.zarr"), mode="r")
    np.testing.assert_array_equal(arr[1, :100], data[1, :100])  # the other inner chunks are intact
    for read in (lambda: arr[2, 5], lambda: arr[2, 10:20]):
        assert_refused_without_allocating(read, ChunkCorruptError,
                                          r"c/0/0 \(inner chunk \(2, 0\)\).*9 stored bytes")


def test_store_read_refuses_before_allocating() -> None:
    # through the public API: v3 gzip, chunks of 8 MB, a 12-byte stored chunk
    store = MemoryStore()
    doc = {"zarr_format": 3, "node_type": "array", "shape": [4096, 512], "data_type": "float32",
           "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4096, 512]}},
           "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
           "fill_value": 0, "codecs": [B_LE, {"name": "gzip", "configuration": {"level": 1}}]}
    store.set("zarr.json", json.dumps(doc).encode())
    store.set("c/0/0", b"\x1f\x8b" + b"\x00" * 10)
    arr = ze.open_array(store, mode="r+")
    for touch in (lambda: arr[7, 7], lambda: arr.__setitem__((7, 7), 1.0)):
        assert_refused_without_allocating(touch, ChunkCorruptError,
                                          r"chunk 'c/0/0': 12 stored bytes cannot decode to the "
                                          r"8388608 bytes of a whole chunk \(gzip can make at most")
    assert store.get("c/0/0") == b"\x1f\x8b" + b"\x00" * 10  # the failed write lost nothing
