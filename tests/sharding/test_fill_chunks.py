"""Which chunks are left out as "all fill value" (write_empty_chunks False),
compared with zarr-python on the same writes: plain arrays written one chunk
at a time and in many-chunk slabs, inner chunks of shards, and a shard encoded
by the codec alone. A zero of the other sign than a float fill is data (it
must read back with its sign), NaN matches NaN and NaT matches NaT."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from zarr_engine.codecs import ChunkSpec
from zarr_engine.codecs.sharding import MISSING, ShardLayout, all_fill
from zarr_engine.codecs.registry import get_codec
from zarr_engine.core.engine import is_all_fill
from zarr_engine.core.tiled import _rows_all_fill

NZ, NAN, NAT = -0.0, float("nan"), "NaT"

#: (dtype, fill value, the value written where a chunk could be left out)
CASES = {
    "f8 fill 0, -0 written": ("float64", 0.0, NZ),
    "f8 fill -0, 0 written": ("float64", NZ, 0.0),
    "f8 fill -0, -0 written": ("float64", NZ, NZ),
    "f8 fill 0, 0 written": ("float64", 0.0, 0.0),
    "f4 fill 0, -0 written": ("float32", 0.0, NZ),
    "f2 fill -0, 0 written": ("float16", NZ, 0.0),
    "c16 fill 0, -0 written": ("complex128", 0.0, complex(NZ, NZ)),  # zarr-python: value equality
    "f8 fill nan, nan written": ("float64", NAN, NAN),
    "M8 fill NaT, NaT written": ("datetime64[s]", NAT, NAT),
    "m8 fill NaT, NaT written": ("timedelta64[ms]", NAT, NAT),
    "i4 fill 0, 0 written": ("int32", 0, 0),
}


def _data(dtype: str, value, n_chunks: int, chunk: int) -> np.ndarray:
    """Every even chunk all ``value``, every odd one holding ``value`` and a 1."""
    x = np.full(n_chunks * chunk, value, dtype=dtype)
    one = np.array(1).astype(dtype) if np.dtype(dtype).kind not in "mM" else np.array(1, dtype=dtype)
    x[chunk::2 * chunk] = one
    return x


def _stored(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.name != "zarr.json"}


def _same_values(got: np.ndarray, want: np.ndarray) -> None:
    """Equal, NaN/NaT in the same places, and every zero (real and imaginary parts) with the same sign."""
    np.testing.assert_array_equal(got, want)
    if want.dtype.kind in "fc":
        for part in (np.real, np.imag):
            np.testing.assert_array_equal(np.signbit(part(got)), np.signbit(part(want)))


def _zarr_create(path: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.create_array(str(path), config={"write_empty_chunks": False}, compressors=None, **kw)


def _zarr_read(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_array(str(path), mode="r")[...]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n_chunks", [1, 2, 128], ids=["one-chunk", "two-chunks", "slabs"])
def test_stored_chunks_match_zarr_python(tmp_path, case, n_chunks):
    # 128 chunks of 2 take the many-small-chunks (slab) writer, one or two the chunk-by-chunk one
    dtype, fill, value = CASES[case]
    x = _data(dtype, value, n_chunks, 2)
    kw = dict(shape=x.shape, chunks=(2,), dtype=dtype, fill_value=fill)
    _zarr_create(tmp_path / "theirs", **kw)[...] = x
    ze.create_array(str(tmp_path / "ours"), compressors=None, write_empty_chunks=False, **kw)[...] = x
    assert _stored(tmp_path / "ours") == _stored(tmp_path / "theirs")
    want = _zarr_read(tmp_path / "theirs")  # a complex -0 under a 0 fill reads back as 0 there too
    np.testing.assert_array_equal(want, x)
    _same_values(ze.open_array(str(tmp_path / "ours"))[...], want)
    _same_values(_zarr_read(tmp_path / "ours"), want)


def _present_inner(shard: bytes, n_inner: int) -> set[int]:
    """C-order indices of the inner chunks a shard stores (index at the end, bytes + crc32c)."""
    index = np.frombuffer(shard[-(16 * n_inner + 4) : -4], dtype="<u8").reshape(n_inner, 2)
    return {i for i in range(n_inner) if index[i, 0] != MISSING}


@pytest.mark.parametrize("case", CASES)
def test_stored_inner_chunks_match_zarr_python(tmp_path, case):
    dtype, fill, value = CASES[case]
    x = _data(dtype, value, 8, 2).reshape(4, 4)  # inner chunks (2, 2): two of them hold a 1
    kw = dict(shape=(4, 8), chunks=(2, 2), shards=(4, 4), dtype=dtype, fill_value=fill)
    full = np.full((4, 8), value, dtype=dtype)
    full[:, :4] = x  # shard (0, 1) all `value`
    _zarr_create(tmp_path / "theirs", **kw)[...] = full
    ours = ze.create_array(str(tmp_path / "ours"), compressors=None, write_empty_chunks=False, **kw)
    ours[...] = full
    assert _stored(tmp_path / "ours") == _stored(tmp_path / "theirs")
    for key in _stored(tmp_path / "theirs"):
        mine = (tmp_path / "ours" / key).read_bytes()
        theirs = (tmp_path / "theirs" / key).read_bytes()
        assert _present_inner(mine, 4) == _present_inner(theirs, 4)
    want = _zarr_read(tmp_path / "theirs")
    np.testing.assert_array_equal(want, full)
    _same_values(ours[...], want)
    _same_values(_zarr_read(tmp_path / "ours"), want)


@pytest.mark.parametrize("case", CASES)
def test_every_fill_test_agrees(case):
    # the chunk writer, the slab writer (per row) and the shard codec decide alike
    dtype, fill, value = CASES[case]
    for n in (4, 1000):  # below and above the size where a sample is looked at first
        chunk = np.full(n, value, dtype=dtype)
        want = _zarr_all_equal(chunk, fill)
        assert is_all_fill(chunk, fill) is want
        assert all_fill(chunk, fill) is want
        assert _rows_all_fill(chunk.reshape(2, -1), fill).tolist() == [want, want]


def _zarr_all_equal(chunk: np.ndarray, fill) -> bool:
    from zarr.core.buffer.cpu import NDBuffer

    return bool(NDBuffer.from_numpy_array(chunk).all_equal(np.asarray(fill, dtype=chunk.dtype)[()]))


def test_shard_codec_keeps_a_zero_of_the_other_sign():
    codec = get_codec({"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}})
    layout: ShardLayout = codec.evolve(ChunkSpec((4,), np.dtype("f8"), 0.0)).layout
    shard = layout.encode_shard(np.array([NZ, NZ, 0.0, 0.0]))
    index, _ = layout.split(shard)
    assert index[0, 0] != MISSING and index[1, 0] == MISSING
    assert np.signbit(layout.decode_shard(shard)).tolist() == [True, True, False, False]
