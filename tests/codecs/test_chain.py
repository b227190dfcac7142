"""The codec chain: ordering, decode into out, corruption, sizes, pickling, threads."""

from __future__ import annotations

import pickle
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numcodecs
import numpy as np
import pytest

from zarr_engine.codecs import ChunkSpec, CodecChain
from zarr_engine.errors import ChunkCorruptError, CodecError

B_LE = {"name": "bytes", "configuration": {"endian": "little"}}
B_BE = {"name": "bytes", "configuration": {"endian": "big"}}
ZSTD = {"name": "zstd", "configuration": {"level": 1, "checksum": False}}
BLOSC = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 8, "blocksize": 0}}
GZIP = {"name": "gzip", "configuration": {"level": 1}}
CRC = {"name": "crc32c", "configuration": {}}
T10 = {"name": "transpose", "configuration": {"order": [1, 0]}}

SPEC = ChunkSpec((20, 30), np.dtype("<f8"))
DATA = np.arange(600, dtype="<f8").reshape(20, 30) / 7


def chain(*specs, spec=SPEC):
    return CodecChain.from_specs(list(specs), spec, path="grp/arr")


@pytest.mark.parametrize(
    "specs",
    [[B_LE], [B_BE], [B_LE, ZSTD], [B_BE, BLOSC], [B_LE, GZIP], [B_LE, CRC], [B_BE, ZSTD, CRC], [T10, B_LE, ZSTD],
     [T10, B_BE, BLOSC, CRC], [{"name": "numcodecs.delta", "configuration": {}}, B_LE, ZSTD]],
    ids=lambda s: "+".join(x["name"] for x in s),
)
def test_decode_into_out(specs) -> None:
    c = chain(*specs)
    enc = c.encode(DATA)
    out = np.full_like(DATA, -1.0)
    res = c.decode(enc, out=out, key="c/0/0")
    assert res is out
    np.testing.assert_array_equal(out, DATA)
    fresh = c.decode(enc)
    np.testing.assert_array_equal(fresh, DATA)
    assert fresh.flags.writeable and fresh.dtype == SPEC.dtype


def test_direct_path_writes_the_stored_bytes_once() -> None:
    # [bytes(big), zstd] into a little-endian out: decompressed into out's buffer, swapped in place
    c = chain(B_BE, ZSTD)
    enc = numcodecs.Zstd(level=1).encode(DATA.astype(">f8").tobytes())
    out = np.empty_like(DATA)
    assert c.decode(enc, out=out, key="k") is out
    np.testing.assert_array_equal(out, DATA)


@pytest.mark.parametrize(
    ("dtype", "endian"),
    [(">i2", "little"), ("<u4", "big"), (">c8", "big"), ("<c16", "big"), (">M8[ms]", "little"), (">U3", "little"),
     ("bool", None), ("S2", None), ([("x", ">i4"), ("y", ">f4")], "little"), ([("x", "<i2"), ("y", ">f8")], "big"),
     ([("x", "<i2"), ("y", ">f8")], None)],
    ids=str,
)
@pytest.mark.parametrize("compress", [False, True])
def test_byte_orders_and_structured(dtype, endian, compress) -> None:
    dt = np.dtype(dtype)
    shape = (3, 4) if dt.subdtype is None else (3,)
    full = np.zeros(shape, dtype=dt)
    raw = np.arange(full.nbytes, dtype=np.uint8) % 251
    data = raw.view(dt).reshape(full.shape).copy() if dt.kind not in "bUM" else None
    if dt.kind == "b":
        data = (np.arange(12) % 3 == 0).reshape(shape)
    elif dt.kind == "U":
        data = np.array([["ab", "ü", "xyz", ""]] * 3, dtype=dt)
    elif dt.kind == "M":
        data = np.arange(12).astype(dt).reshape(shape)
    spec = ChunkSpec(data.shape, data.dtype)
    bytes_spec = {"name": "bytes", "configuration": {"endian": endian} if endian else {}}
    c = chain(bytes_spec, *([ZSTD] if compress else []), spec=spec)
    enc = c.encode(data)
    payload = numcodecs.Zstd().decode(enc) if compress else enc
    if endian is None:
        expected = data.tobytes()
    else:
        expected = data.astype(data.dtype.newbyteorder("<" if endian == "little" else ">")).tobytes()
    assert bytes(payload) == expected  # the serialised layout numpy itself gives
    out = np.empty_like(data)
    assert c.decode(enc, out=out, key="k") is out
    assert out.tobytes() == data.tobytes()


def test_zero_d_and_empty_chunks() -> None:
    c = chain(B_LE, ZSTD, spec=ChunkSpec((), np.dtype("<i4")))
    assert c.decode(c.encode(np.array(7, "<i4")))[()] == 7
    c = chain(B_LE, BLOSC, spec=ChunkSpec((0, 3), np.dtype("<f8")))
    assert c.decode(c.encode(np.zeros((0, 3)))).shape == (0, 3)


def test_encode_without_compressor_does_not_alias_input() -> None:
    c = chain(B_LE)
    data = DATA.copy()
    enc = c.encode(data)
    data[0, 0] = 1e9
    assert np.frombuffer(bytes(enc), "<f8")[0] == 0.0


def test_encode_checks_shape() -> None:
    with pytest.raises(CodecError, match="shape"):
        chain(B_LE, ZSTD).encode(np.zeros((2, 2)))


def test_out_must_match() -> None:
    c = chain(B_LE, ZSTD)
    with pytest.raises(CodecError):
        c.decode(c.encode(DATA), out=np.empty((20, 30), "<f4"))
    with pytest.raises(CodecError):
        c.decode(c.encode(DATA), out=np.empty((30, 20)).T)


# -- ordering -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "match"),
    [([ZSTD], "before the array->bytes"), ([ZSTD, B_LE], "before the array->bytes"), ([B_LE, T10], "after the array->bytes"),
     ([B_LE, B_LE], "more than one"), ([B_LE, {"name": "vlen-utf8"}], "more than one"),
     ([T10], "no array->bytes"), ([{"name": "transpose", "configuration": {"order": [0, 1, 2]}}, B_LE], "axes")],
)
def test_ordering_rules(specs, match) -> None:
    with pytest.raises(CodecError, match=match) as info:
        chain(*specs)
    assert "grp/arr" in str(info.value)


def test_bytes_refuses_object_dtype() -> None:
    with pytest.raises(CodecError, match="object"):
        chain(B_LE, spec=ChunkSpec((3,), np.dtype(object)))


# -- corruption -----------------------------------------------------------------


def _flip(b: bytes, at: int) -> bytes:
    x = bytearray(b)
    x[at] ^= 0x5A
    return bytes(x)


@pytest.mark.parametrize(
    ("specs", "mangle", "what"),
    [
        ([B_LE, CRC], lambda b: _flip(b, 10), "crc32c"),
        ([B_LE, CRC], lambda b: _flip(b, len(b) - 1), "checksum"),
        ([B_LE, ZSTD, CRC], lambda b: _flip(b, 3), "checksum mismatch"),
        ([B_LE, GZIP], lambda b: _flip(b, len(b) - 6), "gzip"),
        ([B_LE, GZIP], lambda b: b[: len(b) // 2], "truncated"),
        ([B_LE, ZSTD], lambda b: b[: len(b) // 2], "zstd"),
        ([B_LE, ZSTD], lambda b: b"garbage" * 3, "zstd"),
        ([B_LE, BLOSC], lambda b: b[: len(b) - 10], "blosc"),
        ([B_LE, BLOSC], lambda b: b[:8], "blosc"),
        ([B_LE], lambda b: b[:-1], "expected 4800"),
        ([B_LE], lambda b: b + b"\0", "expected 4800"),
        ([T10, B_LE, ZSTD], lambda b: b[:-3], "zstd"),
        ([B_LE, {"name": "numcodecs.zlib", "configuration": {"level": 1}}], lambda b: b[:-5], "numcodecs.zlib"),
        ([B_LE, {"name": "numcodecs.lz4", "configuration": {"acceleration": 1}}], lambda b: b[:-5], "numcodecs.lz4"),
        ([B_LE, {"name": "numcodecs.bz2", "configuration": {"level": 1}}], lambda b: b[:-5], "numcodecs.bz2"),
        ([B_LE, {"name": "numcodecs.adler32", "configuration": {}}], lambda b: _flip(b, 40), "numcodecs.adler32"),
    ],
)
def test_corrupt_chunks_raise_naming_the_key(specs, mangle, what) -> None:
    c = chain(*specs)
    bad = mangle(bytes(c.encode(DATA)))
    for out in (None, np.empty_like(DATA)):
        with pytest.raises(ChunkCorruptError) as info:
            c.decode(bad, out=out, key="c/4/2")
        msg = str(info.value)
        assert "c/4/2" in msg and "grp/arr" in msg and what in msg, msg


def test_vlen_corruption() -> None:
    c = chain({"name": "vlen-utf8"}, spec=ChunkSpec((2,), np.dtype(object)))
    enc = bytes(c.encode(np.array(["ab", "cde"], dtype=object)))
    with pytest.raises(ChunkCorruptError, match="holds 3 items, expected 2"):
        c.decode(struct.pack("<I", 3) + enc[4:], key="k")
    with pytest.raises(ChunkCorruptError, match="'k'"):
        c.decode(enc[:-2], key="k")


def test_decompression_bombs_are_refused_before_decoding() -> None:
    big = np.zeros(10_000_000, dtype=np.uint8)
    c = chain(B_LE, ZSTD)
    with pytest.raises(ChunkCorruptError, match="announces 10000000"):
        c.decode(numcodecs.Zstd().encode(big), key="bomb")
    c = chain(B_LE, BLOSC)
    with pytest.raises(ChunkCorruptError, match="announces 10000000"):
        c.decode(numcodecs.Blosc().encode(big), key="bomb")
    c = chain(B_LE, GZIP)
    with pytest.raises(ChunkCorruptError, match="more than the expected 4800"):
        c.decode(numcodecs.GZip().encode(big), key="bomb")
    c = chain(B_LE, {"name": "numcodecs.zlib", "configuration": {"level": 1}})
    with pytest.raises(ChunkCorruptError, match="more than"):
        c.decode(zlib.compress(big.tobytes()), key="bomb")


def test_short_zstd_stream_is_not_garbage() -> None:
    # a valid frame of the wrong length must not leave part of out uninitialised
    c = chain(B_LE, ZSTD)
    with pytest.raises(ChunkCorruptError, match="expected 4800"):
        c.decode(numcodecs.Zstd().encode(np.zeros(100, "<f8")), out=np.empty_like(DATA), key="short")


# -- sizes, pickling, threads -----------------------------------------------------


def test_fixed_size_chains() -> None:
    assert chain(B_LE, CRC).is_fixed_size and chain(B_LE, CRC).encoded_size() == 4800 + 4
    assert chain(T10, B_LE).encoded_size() == 4800
    assert chain(B_LE, {"name": "numcodecs.crc32", "configuration": {}}).encoded_size() == 4804
    assert len(chain(B_LE, CRC).encode(DATA)) == 4804
    assert not chain(B_LE, ZSTD).is_fixed_size
    with pytest.raises(CodecError):
        chain(B_LE, ZSTD).encoded_size()


def test_properties_and_pickle() -> None:
    c = chain(T10, B_LE, {"name": "blosc", "configuration": {"cname": "zstd"}})
    assert [x.name for x in c.codecs] == ["transpose", "bytes", "blosc"]
    assert c.array_bytes_codec.name == "bytes" and c.chunk_spec == SPEC
    # blosc's open typesize/shuffle are filled from the dtype, as zarr-python does
    assert c.to_json()[2]["configuration"] == {"typesize": 8, "cname": "zstd", "clevel": 5, "shuffle": "shuffle", "blocksize": 0}
    c2 = pickle.loads(pickle.dumps(c))
    assert c2.to_json() == c.to_json()
    np.testing.assert_array_equal(c2.decode(c.encode(DATA)), DATA)
    for codec in c.codecs:
        assert pickle.loads(pickle.dumps(codec)) == codec
        with pytest.raises(AttributeError):
            codec.foo = 1


def test_thread_safety() -> None:
    c = chain(B_BE, BLOSC, CRC)
    arrays = [DATA * i for i in range(64)]
    encoded = [c.encode(a) for a in arrays]

    def work(i: int) -> bool:
        out = np.empty_like(DATA)
        c.decode(encoded[i], out=out, key=str(i))
        return np.array_equal(out, arrays[i]) and bytes(c.encode(arrays[i])) == bytes(encoded[i])

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(64)))


def test_v2_bytes_filter_position() -> None:
    # a v2 array may list a bytes->bytes numcodecs codec (shuffle) among its filters
    specs = [{"name": "numcodecs.delta", "configuration": {"dtype": "<i2"}},
             {"name": "numcodecs.shuffle", "configuration": {"elementsize": 2}}, B_LE,
             {"name": "numcodecs.zlib", "configuration": {"level": 1}}]
    data = np.arange(40, dtype="<i2").reshape(5, 8)
    c = chain(*specs, spec=ChunkSpec((5, 8), np.dtype("<i2")))
    expected = numcodecs.Zlib(1).encode(numcodecs.Shuffle(2).encode(numcodecs.Delta("<i2").encode(data)))
    assert bytes(c.encode(data)) == bytes(expected)
    np.testing.assert_array_equal(c.decode(expected), data)
