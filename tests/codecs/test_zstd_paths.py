"""zstd with and without the optional ``zstandard`` package: the same answers."""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest

from zarr_engine.codecs import ChunkSpec, CodecChain, bytes_codecs
from zarr_engine.errors import ChunkCorruptError

SPECS = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 1}}]


@pytest.fixture(params=["zstandard", "numcodecs only"])
def backend(request, monkeypatch):
    if request.param == "numcodecs only":
        monkeypatch.setattr(bytes_codecs, "_zstandard", None)
    elif bytes_codecs._zstandard is None:
        pytest.skip("zstandard is not installed")
    return request.param


@pytest.mark.parametrize("n", [1, 1000, 300_000])
def test_content_size_and_round_trip(backend, n):
    data = (np.arange(n) % 97).astype("i4")
    frame = numcodecs.Zstd(level=1).encode(data)
    assert bytes_codecs.zstd_content_size(frame) == data.nbytes
    assert bytes_codecs.zstd_content_size(b"not a zstd frame") is None
    chain = CodecChain.from_specs(SPECS, ChunkSpec((n,), np.dtype("i4"), 0))
    out = np.empty(n, "i4")
    np.testing.assert_array_equal(chain.decode(chain.encode(data), out=out), data)
    np.testing.assert_array_equal(out, data)
    np.testing.assert_array_equal(chain.decode(frame), data)  # numcodecs' frames read the same


def test_trailing_bytes_and_wrong_sizes_are_corrupt(backend):
    chain = CodecChain.from_specs(SPECS, ChunkSpec((100,), np.dtype("i4"), 0))
    good = bytes(chain.encode(np.arange(100, dtype="i4")))
    with pytest.raises(ChunkCorruptError, match="k1"):
        chain.decode(good + b"junk", key="k1")
    other = bytes(numcodecs.Zstd(level=1).encode(np.arange(50, dtype="i4")))
    with pytest.raises(ChunkCorruptError, match="k2"):
        chain.decode(other, key="k2")


# -- the quick coders of loops over many small chunks ------------------------------------------

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}


@pytest.mark.parametrize("checksum", [False, True])
def test_quick_coders_encode_as_the_chain_and_decode_what_it_wrote(checksum):
    if bytes_codecs._zstandard is None:
        pytest.skip("zstandard is not installed")
    spec = ChunkSpec((16, 16), np.dtype("<u2"), 0)
    chain = CodecChain.from_specs([BYTES, {"name": "zstd", "configuration": {"level": 3, "checksum": checksum}}], spec)
    quick = chain.quick_coders()
    assert quick is not None
    chunk = (np.arange(256, dtype="<u2") * 7 % 1000).reshape(16, 16)
    frame = quick.encode(chunk)
    assert bytes(frame) == bytes(chain.encode(chunk))
    np.testing.assert_array_equal(numcodecs.Zstd().decode(frame, out=np.empty(256, "<u2")), chunk.ravel())
    out = np.zeros(256, dtype="<u2")
    assert quick.decode(memoryview(frame), memoryview(out).cast("B"))
    np.testing.assert_array_equal(out.reshape(16, 16), chunk)


def test_quick_decode_leaves_anything_odd_to_the_checked_path():
    if bytes_codecs._zstandard is None:
        pytest.skip("zstandard is not installed")
    spec = ChunkSpec((64,), np.dtype("u1"), 0)
    chain = CodecChain.from_specs([BYTES, {"name": "zstd", "configuration": {"level": 1}}], spec)
    quick = chain.quick_coders()
    good = bytes(quick.encode(np.arange(64, dtype="u1")))
    odd = {
        "trailing bytes": good + b"junk",
        "truncated": good[:-3],
        "another size": bytes(numcodecs.Zstd(level=1).encode(np.arange(65, dtype="u1"))),
        "no size recorded": bytes(numcodecs.Zstd(level=1).encode(np.arange(64, dtype="u1")))[:4] + b"\x00" * 8,
        "not zstd": b"\x00" * 40,
    }
    for name, data in odd.items():
        assert not quick.decode(data, memoryview(bytearray(64))), name
        with pytest.raises(ChunkCorruptError):
            chain.decode(data, key="c/0")


def test_only_native_single_compressor_chains_have_quick_coders():
    spec = ChunkSpec((8,), np.dtype("<i4"), 0)
    raw = CodecChain.from_specs([BYTES], spec).quick_coders()
    assert raw is not None
    chunk = np.arange(8, dtype="<i4")
    assert raw.encode(chunk) == chunk.tobytes()
    out = bytearray(32)
    assert raw.decode(chunk.tobytes(), memoryview(out)) and bytes(out) == chunk.tobytes()
    assert not raw.decode(b"short", memoryview(out))
    big = {"name": "bytes", "configuration": {"endian": "big"}}
    assert CodecChain.from_specs([big], spec).quick_coders() is None
    crc = {"name": "crc32c", "configuration": {}}
    assert CodecChain.from_specs([BYTES, {"name": "zstd", "configuration": {"level": 1}}, crc], spec).quick_coders() is None
    gz = {"name": "gzip", "configuration": {"level": 1}}
    assert CodecChain.from_specs([BYTES, gz], spec).quick_coders() is None
