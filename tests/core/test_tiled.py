"""The slab read path for many small chunks (core/tiled.py), checked against numpy and zarr-python."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr

import zarr_engine
from zarr_engine.core import tiled
from zarr_engine.core.indexing import OrthogonalPlan
from zarr_engine.errors import ChunkCorruptError
from tests.support import sample

ZSTD = [{"name": "zstd", "configuration": {"level": 1, "checksum": False}}]


def _engaged(arr, selection) -> bool:
    return tiled.applies(arr._io, OrthogonalPlan(selection, arr.shape, arr.metadata.chunk_shape))


SELECTIONS = [
    np.s_[...],
    np.s_[3:250, 5:199],  # unaligned start and stop on both axes
    np.s_[64:192, :],  # aligned rows, all columns
    np.s_[:, 17:18],  # one column across every chunk row
    np.s_[250:, 190:],  # the ragged corner chunks only, too few for the slab path
    np.s_[1:-1, 1:-1],
]


@pytest.mark.parametrize("compressors", [None, ZSTD], ids=["raw", "zstd"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", ">f8", "complex64", "bool"])
def test_box_reads_of_small_chunks_equal_numpy(tmp_path, compressors, dtype):
    data = sample(dtype, (253, 201), seed=3)  # ragged: neither axis a multiple of the chunk
    path = str(tmp_path / "a.zarr")
    arr = zarr_engine.create_array(path, shape=data.shape, chunks=(8, 8), dtype=data.dtype, compressors=compressors)
    arr[...] = data
    assert _engaged(arr, np.s_[...])
    for sel in SELECTIONS:
        np.testing.assert_array_equal(arr[sel], data[sel], err_msg=str(sel))
    # zarr-python reads what we wrote the same way
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)


def test_missing_chunks_read_as_fill_value(tmp_path):
    path = tmp_path / "a.zarr"
    arr = zarr_engine.create_array(str(path), shape=(128, 128), chunks=(8, 8), dtype="int32", fill_value=-7,
                                   compressors=None)
    data = sample("int32", (128, 128))
    data[40:80, :] = -7  # whole chunk rows of fill value: not stored
    arr[...] = data
    assert not (path / "c" / "6" / "0").exists()
    expected = data.copy()
    os.remove(path / "c" / "0" / "3")  # one more chunk gone: fill value too
    expected[0:8, 24:32] = -7
    assert _engaged(arr, np.s_[...])
    np.testing.assert_array_equal(arr[...], expected)
    np.testing.assert_array_equal(arr[5:77, 3:120], expected[5:77, 3:120])


def test_three_dimensions_v2_fortran_order_and_slabs(tmp_path, monkeypatch):
    data = sample("float32", (30, 40, 50), seed=5)
    path = str(tmp_path / "f.zarr")
    z = zarr.create_array(path, shape=data.shape, chunks=(4, 5, 6), dtype="float32", zarr_format=2,
                          order="F", compressors=None)
    z[...] = data
    arr = zarr_engine.open_array(path)
    monkeypatch.setattr(tiled, "SLAB_BYTES", 4 * 5 * 6 * 4 * 3)  # a few chunks a slab: many slabs
    assert _engaged(arr, np.s_[...])
    for sel in (np.s_[...], np.s_[3:29, 1:39, 7:44], np.s_[8:12, :, :]):
        np.testing.assert_array_equal(arr[sel], data[sel])


def test_into_a_caller_supplied_non_contiguous_out(tmp_path):
    data = sample("uint16", (96, 96))
    arr = zarr_engine.create_array(str(tmp_path / "a.zarr"), shape=data.shape, chunks=(8, 8), dtype="uint16",
                                   compressors=None)
    arr[...] = data
    big = np.zeros((96, 192), dtype="uint16")
    out = big[:, ::2]
    assert not out.flags.c_contiguous
    arr.get_basic_selection(Ellipsis, out=out)
    np.testing.assert_array_equal(out, data)
    assert not big[:, 1::2].any()


@pytest.mark.parametrize("compressors", [None, ZSTD], ids=["raw", "zstd"])
@pytest.mark.parametrize("change", ["truncate", "extend"])
def test_a_chunk_of_the_wrong_size_raises_naming_it_and_leaves_out_untouched(tmp_path, compressors, change):
    path = tmp_path / "a.zarr"
    arr = zarr_engine.create_array(str(path), shape=(128, 128), chunks=(8, 8), dtype="uint8", compressors=compressors)
    arr[...] = sample("uint8", (128, 128))
    victim = path / "c" / "9" / "4"
    raw = victim.read_bytes()
    victim.write_bytes(raw[:-5] if change == "truncate" else raw + b"junk")
    out = np.full((128, 128), 42, dtype="uint8")
    with pytest.raises(ChunkCorruptError, match=r"c/9/4"):
        arr.get_basic_selection(Ellipsis, out=out)
    assert (out == 42).all()


def test_selections_that_are_not_boxes_take_the_general_path(tmp_path):
    data = sample("uint8", (128, 128))
    arr = zarr_engine.create_array(str(tmp_path / "a.zarr"), shape=data.shape, chunks=(8, 8), dtype="uint8",
                                   compressors=None)
    arr[...] = data
    for sel in (np.s_[::2, :], np.s_[::-1, :], np.s_[5, :], np.s_[[1, 5, 9], :]):
        assert not _engaged(arr, sel)
        np.testing.assert_array_equal(arr.oindex[sel] if isinstance(sel[0], list) else arr[sel], data[sel])


# -- zstd chunks decoded a slab at a time on the pool ----------------------------------------


@pytest.fixture
def two_threads():
    from zarr_engine.core import pool

    pool.set_pool_size(2)
    yield
    pool.set_pool_size(None)


def _count_batches(monkeypatch) -> list[int]:
    """Count the slabs the batch decode is given (the path is engaged)."""
    calls: list[int] = []
    real = tiled._read_quick_ahead

    def spy(io, each, coders, slabs, place):
        many = coders.decode_many

        def counted(src, offsets, sizes, out):
            calls.append(len(offsets))
            return many(src, offsets, sizes, out)

        return real(io, each, coders._replace(decode_many=counted), slabs, place)

    monkeypatch.setattr(tiled, "_read_quick_ahead", spy)
    return calls


def test_zstd_chunks_of_every_origin_decode_a_slab_at_a_time(tmp_path, monkeypatch, two_threads):
    import zstandard

    data = sample("int16", (160, 120), seed=8)
    path = tmp_path / "z.zarr"
    z = zarr.create_array(str(path), shape=data.shape, chunks=(8, 8), dtype="int16", fill_value=-1,
                          compressors=zarr.codecs.ZstdCodec(level=3, checksum=True))
    z[...] = data
    expected = data.copy()
    os.remove(path / "c" / "3" / "7")  # absent: fill value
    expected[24:32, 56:64] = -1
    # another encoder's frame: no content size, a raw (stored) block of incompressible bytes
    raw = np.random.default_rng(1).integers(-2**15, 2**15, (8, 8), dtype="int16")
    (path / "c" / "11" / "2").write_bytes(zstandard.ZstdCompressor(write_content_size=False).compress(raw.tobytes()))
    expected[88:96, 16:24] = raw
    # an RLE block: all one value
    (path / "c" / "19" / "14").write_bytes(zstandard.ZstdCompressor().compress(np.full(64, 5, "int16").tobytes()))
    expected[152:160, 112:120] = 5
    # two frames back to back (a valid zstd stream; the batch leaves it to the checked decode)
    halves = sample("int16", (8, 8), seed=9)
    cctx = zstandard.ZstdCompressor()
    (path / "c" / "15" / "9").write_bytes(cctx.compress(halves[:4].tobytes()) + cctx.compress(halves[4:].tobytes()))
    expected[120:128, 72:80] = halves
    arr = zarr_engine.open_array(str(path))
    monkeypatch.setattr(tiled, "SLAB_BYTES", 3 * 15 * 128)  # three chunk rows a slab: seven slabs
    calls = _count_batches(monkeypatch)
    np.testing.assert_array_equal(arr[...], expected)
    assert calls == [45] * 6 + [30]
    np.testing.assert_array_equal(arr[5:151, 3:117], expected[5:151, 3:117])


@pytest.mark.parametrize("damage", ["trailing", "truncated", "garbage", "claims more"])
def test_a_bad_zstd_chunk_in_a_later_slab_raises_naming_it(tmp_path, monkeypatch, two_threads, damage):
    import zstandard

    path = tmp_path / "a.zarr"
    arr = zarr_engine.create_array(str(path), shape=(128, 128), chunks=(8, 8), dtype="uint8", compressors=ZSTD)
    arr[...] = sample("uint8", (128, 128))
    victim = path / "c" / "13" / "4"
    stored = victim.read_bytes()
    cctx = zstandard.ZstdCompressor()
    victim.write_bytes({
        "trailing": stored + b"\0\0",
        "truncated": stored[:-3],
        "garbage": bytes(np.random.default_rng(2).integers(0, 256, len(stored), dtype="uint8")),
        "two frames": cctx.compress(bytes(32)) + cctx.compress(bytes(32)),
        "claims more": cctx.compress(bytes(1 << 20)),
    }[damage])
    monkeypatch.setattr(tiled, "SLAB_BYTES", 2 * 16 * 64)  # two chunk rows a slab: the victim in the seventh
    calls = _count_batches(monkeypatch)
    with pytest.raises(ChunkCorruptError, match=r"c/13/4"):
        arr[...]
    assert len(calls) >= 7
    # a read of that chunk alone (the general path) says the same
    with pytest.raises(ChunkCorruptError, match=r"c/13/4"):
        arr[104:112, 32:40]


def test_single_frame_check_agrees_with_a_strict_decode():
    import zstandard

    from zarr_engine.codecs.bytes_codecs import zstd_single_frames

    rng = np.random.default_rng(4)
    payloads = [bytes(4096), rng.integers(0, 4, 4096, dtype="uint8").tobytes(), rng.bytes(4096), b"x"]
    values = []
    for level in (1, 19):
        for checksum in (False, True):
            for size in (False, True):
                cctx = zstandard.ZstdCompressor(level=level, write_checksum=checksum, write_content_size=size)
                values += [cctx.compress(p) for p in payloads]
    one = values[5]
    values += [one + b"\0", one[:-1], one[:4], b"", b"\x28\xb5\x2f\xfd" + bytes(20), one + one,
               b"\x50\x2a\x4d\x18\x00\x00\x00\x00" + one]  # a skippable frame first
    src = np.frombuffer(b"".join(values), dtype=np.uint8)
    sizes = np.array([len(v) for v in values], dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.uint64)
    got = zstd_single_frames(src, offsets, sizes)
    assert got[:32].all()  # everything libzstd writes for a small chunk
    assert not got[32:].any()
    for value in values[:32]:  # each one whole frame: a decode that refuses extra bytes takes it
        zstandard.ZstdDecompressor().decompress(value, max_output_size=4096, allow_extra_data=False)


# -- writes ---------------------------------------------------------------------------------


def _write_engaged(arr, selection) -> bool:
    return tiled.write_applies(arr._io, OrthogonalPlan(selection, arr.shape, arr.metadata.chunk_shape))


@pytest.mark.parametrize("compressors", [None, ZSTD], ids=["raw", "zstd"])
@pytest.mark.parametrize("dtype", ["uint8", ">i2", "float32", "complex128", "bool"])
def test_box_writes_of_small_chunks_read_back_equal_by_zarr_python(tmp_path, compressors, dtype):
    data = sample(dtype, (253, 201), seed=4)
    path = str(tmp_path / "w.zarr")
    arr = zarr_engine.create_array(path, shape=data.shape, chunks=(8, 8), dtype=data.dtype, compressors=compressors)
    assert _write_engaged(arr, np.s_[...])
    arr[...] = data
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)
    # an aligned inner box, and one reaching the ragged edge
    patch = sample(dtype, (64, 96), seed=9)
    assert _write_engaged(arr, np.s_[64:128, 32:128])
    arr[64:128, 32:128] = patch
    data[64:128, 32:128] = patch
    edge = sample(dtype, (253 - 200, 201 - 192), seed=10)
    arr[200:, 192:] = edge  # too few chunks for the slab path: the general one, same result
    data[200:, 192:] = edge
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)
    np.testing.assert_array_equal(arr[...], data)


def test_all_fill_chunks_are_deleted_unless_write_empty_chunks(tmp_path):
    path = tmp_path / "e.zarr"
    data = sample("float64", (128, 128))
    data[0:16, :] = np.nan  # two whole chunk rows of the NaN fill value
    arr = zarr_engine.create_array(str(path), shape=data.shape, chunks=(8, 8), dtype="float64",
                                   fill_value=np.nan, compressors=None)
    arr[...] = data
    assert not (path / "c" / "0" / "0").exists() and not (path / "c" / "1" / "15").exists()
    assert (path / "c" / "2" / "0").exists()
    np.testing.assert_array_equal(arr[...], data)
    arr[...] = np.full(data.shape, np.nan)
    assert not (path / "c").exists() or not any(p.is_file() for p in (path / "c").rglob("*"))
    full = zarr_engine.create_array(str(tmp_path / "f.zarr"), shape=(128, 128), chunks=(8, 8), dtype="int16",
                                    fill_value=3, compressors=None, write_empty_chunks=True)
    full[...] = np.full((128, 128), 3, dtype="int16")
    assert len([p for p in (tmp_path / "f.zarr" / "c").rglob("*") if p.is_file()]) == 256


def test_writes_in_many_slabs_and_misaligned_boxes(tmp_path, monkeypatch):
    data = sample("uint16", (40, 50, 60), seed=6)
    path = str(tmp_path / "s.zarr")
    arr = zarr_engine.create_array(path, shape=data.shape, chunks=(4, 5, 6), dtype="uint16", compressors=ZSTD)
    monkeypatch.setattr(tiled, "WRITE_SLAB_BYTES", 4 * 5 * 6 * 2 * 7)
    arr[...] = data
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)
    assert not _write_engaged(arr, np.s_[1:, :, :])  # starts inside a chunk: read-modify-write
    arr[1:, 3:47, :] = data[1:, 3:47, :][::-1]
    data[1:, 3:47, :] = data[1:, 3:47, :][::-1].copy()
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)


@pytest.mark.parametrize("compressor", [None, "zstd"])
def test_n5_blocks_cropped_at_the_edge_read_through_the_slab_path(tmp_path, compressor):
    import tensorstore as ts

    data = sample("uint16", (101, 97), seed=12)
    arr = zarr_engine.create_array(str(tmp_path / "x.n5"), path="vol", shape=data.shape, chunks=(8, 4),
                                   dtype="uint16", zarr_format="n5", compressor=compressor)
    arr[...] = data
    assert _engaged(arr, np.s_[...]) and not _write_engaged(arr, np.s_[...])  # writes crop edge blocks themselves
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(arr[3:99, 5:90], data[3:99, 5:90])
    stored = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / "x.n5" / "vol")}}).result()
    np.testing.assert_array_equal(stored.read().result().T, data)  # tensorstore exposes N5's own axis order


def test_writes_encoding_ahead_across_slabs_equal_zarr_python(tmp_path, monkeypatch):
    from zarr_engine.core import pool

    pool.set_pool_size(2)
    try:
        calls = []
        real = tiled._store_encoding_ahead
        monkeypatch.setattr(tiled, "_store_encoding_ahead", lambda *a: calls.append(len(a[3])) or real(*a))
        monkeypatch.setattr(tiled, "WRITE_SLAB_BYTES", 2 * 16 * 16 * 4 * 4 * 4 * 2)  # two chunk rows a slab
        data = sample("uint16", (64, 64, 64), seed=8)
        data[8:12, :, :] = 0  # a chunk row all fill value: deleted, not stored
        path = str(tmp_path / "a.zarr")
        arr = zarr_engine.create_array(path, shape=data.shape, chunks=(4, 4, 4), dtype="uint16", compressors=ZSTD)
        arr[...] = data
        if not calls:
            pytest.skip("zstandard's batch encoder is not installed")
        assert len(calls) == 8 and sorted(calls)[0] == 256  # 8 slabs; the one with the empty row stores half
        np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)
        assert not (tmp_path / "a.zarr" / "c" / "2").exists()
        # the frames are the ones the chain's own encode makes
        chunk = np.ascontiguousarray(data[4:8, 8:12, 12:16])
        assert (tmp_path / "a.zarr" / "c" / "1" / "2" / "3").read_bytes() == bytes(arr._io.chain.encode(chunk))
    finally:
        pool.set_pool_size(None)


def test_a_store_failing_while_encoding_ahead_raises_its_error(tmp_path, monkeypatch):
    from zarr_engine.core import pool
    from zarr_engine.storage import LocalStore

    class Failing(LocalStore):
        def set_many(self, items):
            for key, value in items:
                if key == "c/9/9":
                    raise OSError(28, "No space left on device")
                self.set(key, value)

    pool.set_pool_size(2)
    try:
        store = Failing(tmp_path / "a.zarr")
        arr = zarr_engine.create_array(store, shape=(128, 128), chunks=(8, 8), dtype="uint8", compressors=ZSTD)
        with pytest.raises(OSError, match="No space left"):
            arr[...] = sample("uint8", (128, 128))
        assert store.get("c/9/8") is not None and store.get("c/9/9") is None
    finally:
        pool.set_pool_size(None)
