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
