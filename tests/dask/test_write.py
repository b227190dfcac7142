"""to_zarr under the threaded scheduler: creation, regions, the ownership proof, align=True,
compute=False, appending, dask's own store(), and what zarr-python reads back."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from dask.delayed import Delayed

import zarr_engine as ze
from tests.support import sample
from zarr_engine.dask import WriteResult, aligned_chunks, check_alignment, from_zarr, to_zarr
from zarr_engine.errors import AlignmentError, ArgumentError, ContainsNodeError, MetadataError, ShapeMismatchError

pytestmark = pytest.mark.usefixtures("threaded")


def chunk_keys(arr: ze.Array) -> list[str]:
    """The stored chunk keys of ``arr`` (metadata documents left out)."""
    meta = {"zarr.json", ".zarray", ".zattrs", ".zgroup"}
    prefix = f"{arr.path}/" if arr.path else ""
    return [k for k in arr.store.list_prefix(prefix) if k[len(prefix):] not in meta]


def test_round_trip_to_a_new_array_uses_the_dask_chunks(tmp_path, target):
    url, options = target
    data = sample("f4", (45, 30), seed=10)
    x = da.from_array(data, chunks=(10, 15))
    result = to_zarr(x, url, storage_options=options, compressors=[{"name": "zstd", "configuration": {"level": 1}}])
    assert result == WriteResult(chunks_written=10, chunks_empty=0)
    arr = ze.open_array(url, mode="r", storage_options=options)
    assert arr.chunks == (10, 15) and arr.dtype == np.float32
    assert arr[...].tobytes() == data.tobytes()  # bit-exact: NaN, inf, -0.0
    assert from_zarr(url, storage_options=options).compute().tobytes() == data.tobytes()


def test_creation_arguments_are_honoured(tmp_path):
    data = sample("i2", (40,), seed=11)
    to_zarr(da.from_array(data, chunks=20), str(tmp_path / "c.zarr"), chunks=(10,), dtype="i4",
            zarr_format=2, fill_value=5)
    arr = ze.open_array(str(tmp_path / "c.zarr"), mode="r")
    assert (arr.zarr_format, arr.chunks, arr.dtype, arr.fill_value) == (2, (10,), np.dtype("i4"), 5)
    np.testing.assert_array_equal(arr[...], data.astype("i4"))


def test_existing_target_refused_without_overwrite(tmp_path):
    where = str(tmp_path / "o.zarr")
    ze.create_array(where, shape=(4,), dtype="u1", chunks=(2,))
    x = da.ones(4, chunks=2, dtype="u1")
    with pytest.raises(ContainsNodeError):
        to_zarr(x, where)
    to_zarr(x, where, overwrite=True)
    np.testing.assert_array_equal(ze.open_array(where)[...], np.ones(4, "u1"))


def test_misaligned_write_is_refused_before_anything_is_written(tmp_path):
    arr = ze.create_array(str(tmp_path / "m.zarr"), shape=(60, 40), dtype="f8", chunks=(10, 20))
    x = da.from_array(sample("f8", (60, 40)), chunks=(15, 20))
    with pytest.raises(AlignmentError) as info:
        to_zarr(x, arr)
    message = str(info.value)
    assert "axis 0" in message and "index 15" in message and "[10, 20)" in message and "multiples of 10" in message
    assert chunk_keys(arr) == []


def test_misaligned_write_to_a_new_path_writes_not_even_metadata(tmp_path):
    where = tmp_path / "new.zarr"
    x = da.ones((30,), chunks=(12,))
    with pytest.raises(AlignmentError, match="axis 0"):
        to_zarr(x, str(where), chunks=(10,))
    assert not where.exists() or not any(where.iterdir())


def test_irregular_dask_chunks_without_chunks_argument_are_refused(tmp_path):
    where = tmp_path / "irr.zarr"
    x = da.ones((13,), chunks=((5, 3, 5),))
    with pytest.raises(AlignmentError, match="multiples of 5"):
        to_zarr(x, str(where))
    assert not where.exists() or not any(where.iterdir())


def test_region_offset_is_part_of_the_proof(tmp_path):
    arr = ze.create_array(str(tmp_path / "r.zarr"), shape=(50,), dtype="i4", chunks=(10,))
    x = da.arange(20, chunks=10, dtype="i4")
    with pytest.raises(AlignmentError, match="region starting at 5"):
        to_zarr(x, arr, region=(slice(5, 25),))  # boundary at 15 splits stored chunk [10, 20)
    assert chunk_keys(arr) == []


def test_align_true_rechunks_onto_the_stored_grid(tmp_path):
    data = sample("f4", (60, 40), seed=12)
    arr = ze.create_array(str(tmp_path / "al.zarr"), shape=(60, 40), dtype="f4", chunks=(10, 20))
    result = to_zarr(da.from_array(data, chunks=(15, 7)), arr, align=True)
    assert result.chunks_written == 12
    np.testing.assert_array_equal(arr[...], data)


def test_align_true_with_a_region_offset(tmp_path):
    arr = ze.create_array(str(tmp_path / "alr.zarr"), shape=(100,), dtype="i8", chunks=(8,), fill_value=-1)
    values = np.arange(70, dtype="i8")
    to_zarr(da.from_array(values, chunks=13), arr, region=(slice(3, 73),), align=True)
    expected = np.full(100, -1, dtype="i8")
    expected[3:73] = values
    np.testing.assert_array_equal(arr[...], expected)


def test_partial_chunks_at_region_edges_keep_their_neighbours(tmp_path):
    arr = ze.create_array(str(tmp_path / "e.zarr"), shape=(40,), dtype="i4", chunks=(10,))
    arr[...] = np.arange(40, dtype="i4")
    x = da.full((22,), -1, chunks=((7, 10, 5),), dtype="i4")  # covers [3, 25): edges at 3 and 25 are partial
    to_zarr(x, arr, region=(slice(3, 25),))
    expected = np.arange(40, dtype="i4")
    expected[3:25] = -1
    np.testing.assert_array_equal(arr[...], expected)


def test_region_shape_must_match(tmp_path):
    arr = ze.create_array(str(tmp_path / "s.zarr"), shape=(20,), dtype="i4", chunks=(10,))
    with pytest.raises(ShapeMismatchError):
        to_zarr(da.ones(5, chunks=5), arr, region=(slice(0, 10),))


def test_compute_false_writes_nothing_until_computed_and_reports_empty_chunks(tmp_path):
    arr = ze.create_array(str(tmp_path / "d.zarr"), shape=(40,), dtype="f4", chunks=(10,), fill_value=0.0)
    data = np.zeros(40, dtype="f4")
    data[:15] = 1.5
    delayed = to_zarr(da.from_array(data, chunks=10), arr, compute=False)
    assert isinstance(delayed, Delayed)
    assert chunk_keys(arr) == []
    result = delayed.compute()
    assert result == WriteResult(chunks_written=2, chunks_empty=2)
    assert result.as_dict() == {"chunks_written": 2, "chunks_empty": 2}
    assert len(chunk_keys(arr)) == 2
    np.testing.assert_array_equal(arr[...], data)


def test_metadata_is_written_once_by_the_client_before_compute(tmp_path):
    where = str(tmp_path / "meta.zarr")
    delayed = to_zarr(da.ones((8, 8), chunks=4), where, compute=False, attributes={"units": "m"})
    arr = ze.open_array(where, mode="r")  # exists before any task ran
    assert arr.shape == (8, 8) and arr.attrs["units"] == "m" and chunk_keys(arr) == []
    delayed.compute()
    assert len(chunk_keys(arr)) == 4


def test_initialise_then_regions_then_append(tmp_path):
    where = str(tmp_path / "app.zarr")
    arr = ze.create_array(where, shape=(0, 6), dtype="i4", chunks=(5, 6))
    parts = [np.full((10, 6), i, dtype="i4") for i in range(3)]
    for part in parts:  # appending: resize, then write the new region
        start = arr.shape[0]
        arr.resize((start + 10, 6))
        to_zarr(da.from_array(part, chunks=(5, 6)), arr, region=(slice(start, start + 10),))
    np.testing.assert_array_equal(ze.open_array(where)[...], np.concatenate(parts))


def test_retried_write_rewrites_the_same_bytes(tmp_path):
    data = sample("f8", (30,), seed=13)
    arr = ze.create_array(str(tmp_path / "idem.zarr"), shape=(30,), dtype="f8", chunks=(10,))
    x = da.from_array(data, chunks=10)
    to_zarr(x, arr)
    first = {k: arr.store.get(k) for k in chunk_keys(arr)}
    to_zarr(x, arr)
    assert {k: arr.store.get(k) for k in chunk_keys(arr)} == first


def test_from_zarr_to_zarr_pipeline_fuses_read_and_write(tmp_path):
    data = sample("i8", (40, 40), seed=14)
    src = ze.create_array(str(tmp_path / "src.zarr"), shape=data.shape, dtype=data.dtype, chunks=(10, 10))
    src[...] = data
    delayed = to_zarr(from_zarr(src) * 2, str(tmp_path / "dst.zarr"), compute=False)
    graph = dict(delayed.__dask_graph__())
    # 16 fused read+multiply+write tasks, the two handles, and the small sum tree: no separate read tasks
    assert not any(isinstance(k, tuple) and k[0].startswith("from-zarr") for k in graph)
    delayed.compute()
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "dst.zarr"))[...], data * 2)


def test_dask_store_without_lock(tmp_path):
    data = sample("u4", (30, 20), seed=15)
    arr = ze.create_array(str(tmp_path / "st.zarr"), shape=data.shape, dtype=data.dtype, chunks=(10, 10))
    da.store(da.from_array(data, chunks=(10, 10)), arr, lock=False)
    np.testing.assert_array_equal(arr[...], data)


def test_zarr_python_reads_what_we_wrote(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = sample("f8", (25, 18), seed=16)
    for fmt in (2, 3):
        where = str(tmp_path / f"ours{fmt}.zarr")
        to_zarr(da.from_array(data, chunks=(5, 9)), where, zarr_format=fmt)
        z = zarr.open_array(where, mode="r")
        assert z.chunks == (5, 9)
        np.testing.assert_array_equal(z[...], data)


def test_alignment_helpers():
    check_alignment(((10, 10, 5),), (10,))
    check_alignment(((5, 10, 3),), (10,), (5,))
    check_alignment(((10, 0, 10),), (10,))  # empty blocks own nothing
    with pytest.raises(AlignmentError, match="axis 1"):
        check_alignment(((10,), (4, 4)), (10, 5))
    assert aligned_chunks(((15, 15, 15),), (10,), (3,)) == ((17, 20, 8),)
    assert aligned_chunks(((7, 7),), (10,), (0,)) == ((10, 4),)


def test_shards_are_the_unit_of_ownership(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = sample("f4", (40, 24), seed=17)
    arr = ze.create_array(str(tmp_path / "sh.zarr"), shape=data.shape, dtype="f4", chunks=(5, 6), shards=(20, 12))
    assert tuple(arr.metadata.chunk_shape) == (20, 12)
    x = da.from_array(data, chunks=(10, 12))  # whole inner chunks, but two blocks per shard
    with pytest.raises(AlignmentError, match="multiples of 20"):
        to_zarr(x, arr)
    assert chunk_keys(arr) == []
    result = to_zarr(x, arr, align=True)
    assert result == WriteResult(chunks_written=4, chunks_empty=0)  # one write per shard
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "sh.zarr"), mode="r")[...], data)


def test_new_sharded_array_from_creation_arguments(tmp_path):
    data = sample("i4", (30, 30), seed=18)
    where = str(tmp_path / "nsh.zarr")
    to_zarr(da.from_array(data, chunks=(15, 15)), where, chunks=(5, 5), shards=(15, 15))
    arr = ze.open_array(where, mode="r")
    assert arr.shards == (15, 15) and arr.chunks == (5, 5)
    np.testing.assert_array_equal(from_zarr(arr).compute(), data)


def test_region_write_into_an_existing_array_named_by_url(tmp_path, target):
    url, options = target
    arr = ze.create_array(url, shape=(30, 8), dtype="i2", chunks=(10, 8), fill_value=-1, storage_options=options)
    to_zarr(da.full((10, 8), 4, chunks=(10, 8), dtype="i2"), url, region=(slice(10, 20),), storage_options=options)
    expected = np.full((30, 8), -1, dtype="i2")
    expected[10:20] = 4
    np.testing.assert_array_equal(ze.open_array(url, mode="r", storage_options=options)[...], expected)
    with pytest.raises(ArgumentError, match="creation arguments"):
        to_zarr(da.ones((10, 8), chunks=(10, 8)), arr, chunks=(5, 8))


def test_unknown_chunk_sizes_are_refused_with_advice(tmp_path):
    data = np.arange(100.0).reshape(20, 5)
    x = da.from_array(data, chunks=(5, 5))
    y = x[x[:, 0] > 20]  # boolean mask: row counts per block are unknown
    where = tmp_path / "u.zarr"
    with pytest.raises(ArgumentError, match=r"axis 0 are unknown \(NaN\).*compute_chunk_sizes\(\)"):
        to_zarr(y, str(where))
    assert not where.exists() or not any(where.iterdir())
    arr = ze.create_array(str(tmp_path / "e.zarr"), shape=(15, 5), dtype="f8", chunks=(5, 5))
    with pytest.raises(ArgumentError, match="compute_chunk_sizes"):
        to_zarr(y, arr)
    assert chunk_keys(arr) == []
    to_zarr(y.compute_chunk_sizes(), arr, align=True)  # the advice works
    np.testing.assert_array_equal(arr[...], data[data[:, 0] > 20])


@pytest.mark.parametrize("align", [False, True])
def test_creation_arguments_are_checked_before_the_alignment(tmp_path, align):
    zarr = pytest.importorskip("zarr")
    x = da.from_array(sample("f8", (20, 5)), chunks=(5, 5))  # would not align on shards of 10
    where = tmp_path / "v2s.zarr"
    with pytest.raises(MetadataError, match="sharding needs zarr_format=3"):
        to_zarr(x, str(where), zarr_format=2, chunks=(5, 5), shards=(10, 5), align=align)
    assert not where.exists() or not any(where.iterdir())
    with pytest.raises(ValueError):  # zarr-python refuses the same arguments
        zarr.create_array(str(tmp_path / "zp.zarr"), shape=(20, 5), dtype="f8", chunks=(5, 5), shards=(10, 5),
                          zarr_format=2)
    with pytest.raises(ArgumentError, match="unexpected keyword argument 'chunk_shape'"):
        to_zarr(x, str(where), chunk_shape=(5, 5), align=align)
    assert not where.exists() or not any(where.iterdir())


def test_name_is_the_path_of_the_new_array(tmp_path):
    data = sample("i2", (10,), seed=19)
    to_zarr(da.from_array(data, chunks=5), str(tmp_path / "g.zarr"), name="sub/arr")
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "g.zarr"), path="sub/arr")[...], data)


@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda x, a, url: to_zarr(x, a, chunks=(5, 5)), r"creation arguments \(chunks\)"),
        (lambda x, a, url: to_zarr(x, url, region=(slice(0, 20),), shards=(10, 5)), r"creation arguments \(shards\)"),
        (lambda x, a, url: to_zarr(x, a, overwrite=True), r"creation arguments \(overwrite\)"),
        (lambda x, a, url: to_zarr(x, a, path="p"), "path= and storage_options= apply to a URL or path target"),
        (lambda x, a, url: to_zarr(x, url + "2", data=np.zeros((20, 5))), "data= is not an argument of to_zarr"),
        (lambda x, a, url: from_zarr(a, path="p"), "path= and storage_options= apply to a URL or path source"),
    ],
)
def test_argument_mistakes_raise_argument_error_and_write_nothing(tmp_path, mistake, message):
    url = str(tmp_path / "a.zarr")
    arr = ze.create_array(url, shape=(20, 5), chunks=(5, 5), dtype="f8", fill_value=1.5)
    with pytest.raises(ArgumentError, match=message):
        mistake(da.zeros((20, 5), chunks=(5, 5)), arr, url)
    assert chunk_keys(arr) == []
    np.testing.assert_array_equal(ze.open_array(url)[...], np.full((20, 5), 1.5))
    assert not (tmp_path / "a.zarr2").exists()


@pytest.mark.parametrize("src, dst", [("c8", "f4"), ("U3", "i4")])
def test_a_dtype_the_array_cannot_take_is_refused_before_any_task_runs(tmp_path, src, dst):
    from zarr_engine.errors import DTypeError

    a = ze.create_array(str(tmp_path / "a.zarr"), shape=(40, 30), chunks=(10, 10), dtype=dst)
    a[...] = np.ones((40, 30), dtype=dst)

    def never(block):
        raise AssertionError("a block was computed")

    x = da.zeros((40, 30), chunks=10, dtype=src).map_blocks(never, dtype=src)
    with pytest.raises(DTypeError, match=rf"dtype {np.dtype(src)} and shape \(40, 30\) in array .* of dtype {np.dtype(dst)}"):
        to_zarr(x, a)
    np.testing.assert_array_equal(a[...], np.ones((40, 30), dtype=dst))
    with pytest.raises(DTypeError, match="cannot store"):  # the refusal a[...] = value gives for the same data
        a[...] = np.zeros((40, 30), dtype=src)


def test_a_new_array_whose_dtype_cannot_take_the_data_is_not_created(tmp_path):
    from zarr_engine.errors import DTypeError

    x = da.ones((40, 40), chunks=10, dtype="c8")
    with pytest.raises(DTypeError, match="complex64 and shape \\(40, 40\\).*float32: complex values"):
        to_zarr(x, str(tmp_path / "new.zarr"), dtype="f4")
    assert not (tmp_path / "new.zarr").exists()
