"""Reads of part of a chunk decode only the part of its zstd stream they need."""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest
import zarr

import zarr_engine
from zarr_engine.codecs import ChunkSpec, CodecChain, bytes_codecs
from zarr_engine.core.indexing import prefix_elements
from zarr_engine.errors import ChunkCorruptError
from tests.support import sample

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}


def zstd(checksum: bool = False) -> list[dict]:
    return [{"name": "zstd", "configuration": {"level": 1, "checksum": checksum}}]


@pytest.fixture(autouse=True)
def _needs_zstandard():
    if bytes_codecs._zstandard is None:
        pytest.skip("zstandard is not installed")


@pytest.mark.parametrize("sel", [
    (slice(0, 1), slice(0, 1), slice(0, 1)),
    (slice(2, 5), slice(1, 7, 3), slice(0, 9)),
    (3, np.array([0, 6, 2]), slice(4, 5)),
    (slice(None, None, -1), slice(0, 2), 8),
    (np.array([1]), slice(7, 8), np.array([8, 0])),
])
def test_prefix_elements_is_one_past_the_last_selected_flat_index(sel):
    shape = (6, 8, 9)
    flat = np.arange(np.prod(shape)).reshape(shape)
    picked = flat[tuple(np.ix_(*[np.arange(n)[s].reshape(-1) for s, n in zip(sel, shape)]))]
    assert prefix_elements(sel, shape) == picked.max() + 1


def test_prefix_elements_of_empty_selections_and_scalars_is_the_whole_chunk():
    assert prefix_elements((slice(3, 3), slice(0, 2)), (4, 4)) == 16
    assert prefix_elements((np.array([], dtype=int), 1), (4, 4)) == 16
    assert prefix_elements((), ()) == 1


def test_zstd_prefix_decode_fills_the_prefix_and_declines_what_it_cannot_check():
    data = (np.arange(300_000) % 251).astype("u1")
    spec = ChunkSpec((300_000,), np.dtype("u1"), 0)
    chain = CodecChain.from_specs([BYTES, *zstd()], spec)
    frame = bytes(chain.encode(data))
    out = np.zeros(300_000, dtype="u1")
    assert chain.decode_prefix(frame, out, 140_000)
    np.testing.assert_array_equal(out[:140_000], data[:140_000])
    assert not chain.decode_prefix(frame, out, 300_000)  # the whole chunk: decode it whole
    checked = CodecChain.from_specs([BYTES, *zstd(checksum=True)], spec)
    assert not checked.decode_prefix(bytes(checked.encode(data)), out, 10)  # the checksum covers all of it
    other = bytes(numcodecs.Zstd(level=1).encode(data[:299_999]))
    assert not chain.decode_prefix(other, out, 10)  # announces another size
    assert not chain.decode_prefix(b"\x00" * 64, out, 10)
    cut = frame[: len(frame) // 3]
    assert not chain.decode_prefix(cut, out, 290_000)  # the part needed is not all there
    gz = CodecChain.from_specs([BYTES, {"name": "gzip", "configuration": {"level": 1}}], spec)
    assert not gz.decode_prefix(bytes(gz.encode(data)), out, 10)


@pytest.mark.parametrize("checksum", [False, True])
@pytest.mark.parametrize("shards", [None, (16, 32, 32)], ids=["chunked", "sharded"])
def test_windows_equal_numpy_and_zarr_python(tmp_path, checksum, shards):
    data = sample("float32", (32, 64, 64), seed=12)
    path = str(tmp_path / "a.zarr")
    arr = zarr_engine.create_array(path, shape=data.shape, chunks=(8, 16, 16), shards=shards, dtype="float32",
                                   compressors=zstd(checksum))
    arr[...] = data
    theirs = zarr.open_array(path, mode="r")
    rng = np.random.default_rng(3)
    for _ in range(40):
        lo = [int(rng.integers(0, n - 1)) for n in data.shape]
        hi = [int(rng.integers(a + 1, n + 1)) for a, n in zip(lo, data.shape)]
        sel = tuple(slice(a, b) for a, b in zip(lo, hi))
        np.testing.assert_array_equal(arr[sel], data[sel], err_msg=str(sel))
        np.testing.assert_array_equal(arr[sel], theirs[sel], err_msg=str(sel))
    np.testing.assert_array_equal(arr.oindex[[0, 9, 31], 3, ::-5], data[[0, 9, 31], 3, ::-5])


def test_a_chunk_cut_short_fails_when_a_read_needs_the_missing_part(tmp_path):
    data = sample("float32", (16, 64, 64), seed=13)
    path = tmp_path / "a.zarr"
    arr = zarr_engine.create_array(str(path), shape=data.shape, chunks=(16, 64, 64), dtype="float32",
                                   compressors=zstd())
    arr[...] = data
    victim = path / "c" / "0" / "0" / "0"
    whole = victim.read_bytes()
    victim.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ChunkCorruptError, match="c/0/0/0"):
        arr[...]
    with pytest.raises(ChunkCorruptError, match="c/0/0/0"):
        arr[15:, :, :]  # the last rows: past what is left of the stream
    # the first rows are whole in what is left: a read of them alone decodes only them
    np.testing.assert_array_equal(arr[:1, :2, :3], data[:1, :2, :3])
