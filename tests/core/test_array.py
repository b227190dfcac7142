"""Array behaviour against numpy as the model."""

from __future__ import annotations

import json
import math
import pickle
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarr_engine as ze
from zarr_engine.errors import (
    DTypeError,
    ReadOnlyError,
    SelectionError,
    ShapeMismatchError,
)
from tests.core.test_indexing import basic_selection, numpy_orthogonal, orthogonal_selection
from tests.support import assert_same, sample


@pytest.fixture(params=["memory", "local"])
def where(request, tmp_path):
    if request.param == "memory":
        return f"memory://arr-{id(request)}-{np.random.default_rng().integers(1 << 60)}"
    return str(tmp_path / "a.zarr")


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize(
    "dtype",
    ["bool", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16",
     "M8[ns]", "m8[s]", "U5", "str"],
)
def test_round_trip_every_dtype(where, fmt, dtype):
    data = sample(dtype, (9, 7), seed=3)
    a = ze.create_array(where, shape=data.shape, chunks=(4, 3), dtype=dtype, zarr_format=fmt)
    a[...] = data
    b = ze.open_array(where, mode="r")
    assert b.dtype == a.dtype
    assert_same(b[...], data)
    assert_same(b[2:7, 1:], data[2:7, 1:])


def test_missing_chunks_read_as_fill_value(where):
    a = ze.create_array(where, shape=(10, 10), chunks=(3, 3), dtype="f4", fill_value=np.nan)
    a[0:3, 0:3] = 1.0
    out = a[...]
    assert np.all(out[:3, :3] == 1.0)
    assert np.isnan(out[3:, :]).all() and np.isnan(out[:, 3:]).all()
    assert a.nchunks_initialized == 1


def test_write_empty_chunks(tmp_path):
    a = ze.create_array(str(tmp_path / "a"), shape=(8,), chunks=(4,), dtype="i4", fill_value=5)
    a[...] = 1
    assert a.nchunks_initialized == 2
    a[0:4] = 5  # becomes all fill value: deleted, not stored
    assert a.nchunks_initialized == 1
    assert not (tmp_path / "a" / "c" / "0").exists()
    np.testing.assert_array_equal(a[...], [5, 5, 5, 5, 1, 1, 1, 1])
    b = ze.open_array(str(tmp_path / "a"), write_empty_chunks=True)
    b[0:4] = 5
    assert (tmp_path / "a" / "c" / "0").exists()
    assert b.nchunks_initialized == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reads_and_writes_agree_with_numpy(data):
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.integers(1, 9)) for _ in range(ndim))
    chunks = tuple(data.draw(st.integers(1, 4)) for _ in range(ndim))
    fmt = data.draw(st.sampled_from([2, 3]))
    model = np.arange(int(np.prod(shape)), dtype="i4").reshape(shape)
    a = ze.create_array(f"memory://h{np.random.default_rng().integers(1 << 60)}", shape=shape, chunks=chunks,
                        dtype="i4", zarr_format=fmt, fill_value=-1)
    a[...] = model
    for _ in range(3):
        kind = data.draw(st.sampled_from(["basic", "oindex", "vindex"]))
        if kind == "basic":
            sel = data.draw(basic_selection(shape))
            np.testing.assert_array_equal(a[sel], model[sel])
            value = -np.arange(int(np.prod(model[sel].shape)), dtype="i4").reshape(model[sel].shape) - 2
            a[sel] = value
            model[sel] = value
        elif kind == "oindex":
            sel = data.draw(orthogonal_selection(shape))
            expected = numpy_orthogonal(model, sel)
            np.testing.assert_array_equal(a.oindex[sel], expected)
            value = np.full(expected.shape, 77, dtype="i4")
            a.oindex[sel] = value
            # apply the same orthogonal write to the model
            idx = []
            for s, n in zip(sel, shape):
                if isinstance(s, (int, np.integer)):
                    idx.append([s % n])
                elif isinstance(s, slice):
                    idx.append(list(range(n))[s])
                else:
                    s = np.asarray(s)
                    idx.append(list(np.flatnonzero(s)) if s.dtype == bool else [int(i) % n for i in s])
            model[np.ix_(*idx)] = 77
        else:
            npts = data.draw(st.integers(0, 6))
            coords = tuple(
                np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=npts, max_size=npts)), dtype=int)
                for n in shape
            )
            np.testing.assert_array_equal(a.vindex[coords], model[coords])
            # distinct points, so the write has one answer
            uniq = sorted(set(zip(*[c.tolist() for c in coords])))
            if uniq:
                pts = tuple(np.array(p) for p in zip(*uniq))
                a.vindex[pts] = 55
                model[pts] = 55
        np.testing.assert_array_equal(a[...], model)


def test_scalar_and_zero_d(where):
    a = ze.create_array(where, shape=(), dtype="f8", fill_value=1.5)
    assert a[()] == 1.5
    a[()] = 2.5
    assert a[()] == 2.5 and isinstance(a[()], np.floating)
    assert a[...].shape == ()
    b = ze.create_array(where + "x", shape=(3, 4), chunks=(2, 2), dtype="i2")
    b[...] = np.arange(12).reshape(3, 4)
    assert b[1, 2] == 6 and isinstance(b[1, 2], np.integer)
    assert b[-1, -1] == 11


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("dtype, value", [("f8", 2.5), ("i8", np.int64(-3)), (str, "héllo"), ("U5", "ab"),
                                          ("M8[ns]", np.datetime64(5, "ns"))])
def test_zero_d_coordinate_writes_store_the_element(tmp_path, fmt, dtype, value):
    import zarr

    path = str(tmp_path / "a")
    a = ze.create_array(path, shape=(), dtype=dtype, zarr_format=fmt)
    a.vindex[()] = value
    assert zarr.open_array(path, mode="r")[()] == value
    expected = np.array(value, dtype=a.dtype)
    assert_same(a.vindex[()], expected)
    a.set_coordinate_selection((), np.asarray(a.fill_value))  # a 0-d array value, all fill: the chunk goes
    assert_same(zarr.open_array(path, mode="r")[...], np.asarray(a.fill_value, dtype=a.dtype))
    assert a.nchunks_initialized == 0


def test_resize_shrink_then_grow_shows_no_stale_data(where):
    a = ze.create_array(where, shape=(10, 10), chunks=(4, 4), dtype="i4", fill_value=0)
    a[...] = 1
    a.resize((5, 6))
    assert a.shape == (5, 6)
    assert a.nchunks_initialized == 4
    a.resize(10, 10)
    expected = np.zeros((10, 10), "i4")
    expected[:5, :6] = 1
    np.testing.assert_array_equal(a[...], expected)
    assert ze.open_array(where).shape == (10, 10)


def test_append(where):
    a = ze.create_array(where, shape=(3, 4), chunks=(2, 2), dtype="f4")
    a[...] = 1
    assert a.append(np.full((2, 4), 2.0, "f4")) == (5, 4)
    assert a.append(np.full((5, 1), 3.0, "f4"), axis=1) == (5, 5)
    expected = np.ones((5, 5), "f4")
    expected[3:, :4] = 2
    expected[:, 4] = 3
    np.testing.assert_array_equal(a[...], expected)
    with pytest.raises(ShapeMismatchError, match="along axis 0"):
        a.append(np.zeros((1, 3)))


def _stored(root):
    """Every file below ``root`` with its bytes."""
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


@pytest.mark.parametrize("fmt, shards", [(2, None), (3, None), (3, (4,))], ids=["v2", "v3", "v3-sharded"])
def test_a_refused_append_leaves_shape_and_store_unchanged(tmp_path, fmt, shards):
    import zarr

    root = tmp_path / "ap.zarr"
    a = ze.create_array(str(root), shape=(3,), chunks=(2,), shards=shards, dtype="u1", fill_value=9,
                        zarr_format=fmt)
    a[:] = [1, 2, 3]
    before = _stored(root)
    for bad, error in [(np.array(["a", "b"]), DTypeError), (np.array([1 + 2j, 3j]), DTypeError),
                       (["a", "b"], DTypeError), (np.array([[1, 2]]), ShapeMismatchError)]:
        with pytest.raises(error, match="array /"):
            a.append(bad)
        assert a.shape == (3,)
        assert _stored(root) == before
    assert_same(ze.open_array(str(root), mode="r")[...], np.array([1, 2, 3], "u1"))
    # an accepted append grows the array as numpy concatenates, and zarr-python reads it so
    assert a.append(np.array([4, 5, 6], "i8")) == (6,)
    expected = np.concatenate([np.array([1, 2, 3], "u1"), np.array([4, 5, 6], "i8").astype("u1")])
    assert_same(a[...], expected)
    assert_same(zarr.open_array(str(root), mode="r")[...], expected)


def test_blocks(where):
    data = np.arange(70).reshape(7, 10)
    a = ze.create_array(where, shape=data.shape, chunks=(3, 4), dtype="i8", data=None)
    a[...] = data
    np.testing.assert_array_equal(a.blocks[1, 2], data[3:6, 8:10])
    np.testing.assert_array_equal(a.blocks[-1, :2], data[6:7, 0:8])
    a.blocks[0, 0] = -1
    assert (a[0:3, 0:4] == -1).all()


@pytest.mark.parametrize("sel", [(1, 2), (-1, slice(None, 2)), (slice(1, None), -2), (Ellipsis, 0)], ids=repr)
def test_block_selection_methods_match_zarr_python(tmp_path, sel):
    import zarr

    data = np.arange(70).reshape(7, 10)
    zpath, path = str(tmp_path / "z"), str(tmp_path / "a")
    z = zarr.create_array(zpath, shape=data.shape, chunks=(3, 4), dtype="i8")
    z[...] = data
    a = ze.create_array(path, shape=data.shape, chunks=(3, 4), dtype="i8")
    a[...] = data
    assert_same(a.get_block_selection(sel), z.get_block_selection(sel))
    out = np.empty_like(z.get_block_selection(sel))
    a.get_block_selection(sel, out=out)
    assert_same(out, z.get_block_selection(sel))
    value = -np.arange(out.size).reshape(out.shape)
    z.set_block_selection(sel, value)
    a.set_block_selection(sel, value)
    assert_same(zarr.open_array(path, mode="r")[...], z[...])


def test_attrs_persist(where):
    a = ze.create_array(where, shape=(2,), dtype="u1", attributes={"a": 1})
    a.attrs["b"] = [1, 2]
    a.attrs.update({"c": {"d": None}})
    del a.attrs["a"]
    again = ze.open_array(where)
    assert dict(again.attrs) == {"b": [1, 2], "c": {"d": None}}


def test_info_and_sizes(tmp_path):
    a = ze.create_array(str(tmp_path / "a"), shape=(100, 100), chunks=(10, 10), dtype="f8")
    a[:50] = 1.0
    assert a.nchunks == 100
    assert a.nbytes == 80000
    assert a.nchunks_initialized == 50
    assert 0 < a.nbytes_stored < 80000
    text = repr(a.info_complete())
    assert "Shape" in text and "(100, 100)" in text and "50/100" in text
    assert "zstd" in repr(a.info)


def test_pickle_round_trip(tmp_path):
    a = ze.create_array(str(tmp_path / "p"), shape=(4, 4), chunks=(2, 2), dtype="i4")
    a[...] = np.arange(16).reshape(4, 4)
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(b[...], np.arange(16).reshape(4, 4))
    assert b == a


def test_errors(tmp_path):
    a = ze.create_array(str(tmp_path / "e"), shape=(4, 4), chunks=(2, 2), dtype="f4")
    with pytest.raises(SelectionError, match="out of bounds for axis 1 with size 4"):
        a[0, 4]
    with pytest.raises(ShapeMismatchError, match=r"shape \(3,\) to a selection of shape \(2, 2\) in array /"):
        a[:2, :2] = np.zeros(3)
    with pytest.raises(DTypeError, match="of dtype float32"):
        a[0, 0] = "not a number"
    r = ze.open_array(str(tmp_path / "e"), mode="r")
    with pytest.raises(ReadOnlyError, match="read-only"):
        r[0, 0] = 1
    with pytest.raises(ReadOnlyError):
        r.attrs["x"] = 1
    with pytest.raises(ze.errors.NodeNotFoundError, match="no array or group at /nothing"):
        ze.open_array(str(tmp_path / "e"), path="nothing", mode="r")
    with pytest.raises(ze.errors.ContainsNodeError, match="already exists at /"):
        ze.create_array(str(tmp_path / "e"), shape=(1,), dtype="i1")
    # nothing was written by the failed calls
    np.testing.assert_array_equal(a[...], np.zeros((4, 4), "f4"))


@pytest.mark.parametrize(
    "refused, message",
    [
        (lambda a: a[4], "index 4 is out of bounds for axis 0 with size 4"),
        (lambda a: a.__setitem__((0, -6), 1.0), "index -6 is out of bounds for axis 1"),
        (lambda a: a[::0], "slice step cannot be zero"),
        (lambda a: a[1, 2, 3], "too many indices"),
        (lambda a: a.oindex[[0, 9], :], "index 9 is out of bounds for axis 0"),
        (lambda a: a.oindex[[True, False]], r"boolean index on axis 0 has shape \(2,\)"),
        (lambda a: a.vindex[[0, 1], [0, 5]], "index 5 is out of bounds for axis 1"),
        (lambda a: a.vindex.__setitem__(([0, 1],), 1.0), "vindex needs one coordinate array per axis"),
        (lambda a: a.get_mask_selection(np.ones((3, 3), bool)), r"boolean mask of shape \(3, 3\) does not match"),
        (lambda a: a.blocks[2], "block index 2 is out of bounds"),
        (lambda a: a.set_block_selection((0, 7), 1.0), "block index 7 is out of bounds"),
    ],
)
def test_refused_selections_name_the_array(refused, message):
    g = ze.open_group("memory://refused-selections", mode="w")
    a = g.create_array("era5/t2m", shape=(4, 5), chunks=(2, 3), dtype="f4")
    with pytest.raises(SelectionError, match=f"array /era5/t2m: {message}") as info:
        refused(a)
    assert isinstance(info.value, IndexError)
    assert a.nchunks_initialized == 0  # a refused write wrote nothing


def test_malformed_metadata_names_the_path(tmp_path):
    ze.create_array(str(tmp_path / "m"), path="x/y", shape=(2,), dtype="i1")
    (tmp_path / "m" / "x" / "y" / "zarr.json").write_text("{not json")
    with pytest.raises(ze.errors.MetadataError, match="/x/y"):
        ze.open_array(str(tmp_path / "m"), path="x/y")


def test_write_validates_before_touching_the_store(tmp_path):
    a = ze.create_array(str(tmp_path / "v"), shape=(6,), chunks=(2,), dtype="i4")
    a[...] = 1
    before = sorted(p.name for p in (tmp_path / "v" / "c").iterdir())
    with pytest.raises(ShapeMismatchError):
        a[:] = np.arange(5)
    after = sorted(p.name for p in (tmp_path / "v" / "c").iterdir())
    assert before == after
    np.testing.assert_array_equal(a[...], np.ones(6))


@pytest.mark.parametrize("shards", [None, (4, 6)])
@pytest.mark.parametrize(
    "kind, sel, value",
    [
        ("basic", (0,), np.arange(6).reshape(1, 6)),  # a time step written from a (1, ny) block
        ("basic", (slice(1, 3), slice(None)), np.full((1, 1, 2, 6), 7)),
        ("basic", Ellipsis, np.arange(30).reshape(1, 5, 6)),
        ("oindex", ([0, 3], [1, 5]), np.array([[[1, 2], [3, 4]]])),
        ("vindex", ([0, 3], [1, 5]), np.array([[8, 9]])),
        ("basic", (2, slice(None)), np.array([[5]])),  # broadcast after the unit axis goes
    ],
    ids=repr,
)
def test_values_with_leading_axes_of_length_one_are_assigned_like_numpy(tmp_path, shards, kind, sel, value):
    import zarr

    d = np.arange(30, dtype="i4").reshape(5, 6)
    path = str(tmp_path / "a")
    a = ze.create_array(path, shape=d.shape, chunks=(2, 3), shards=shards, dtype="i4")
    a[...] = d
    expected = d.copy()
    if kind == "oindex":
        expected[np.ix_(*sel)] = value
        a.oindex[sel] = value
    elif kind == "vindex":
        expected[sel] = value
        a.vindex[sel] = value
    else:
        expected[sel] = value
        a[sel] = value
    assert_same(zarr.open_array(path, mode="r")[...], expected)


def test_values_with_extra_axes_longer_than_one_are_refused_with_nothing_written(tmp_path):
    a = ze.create_array(str(tmp_path / "a"), shape=(5, 6), chunks=(2, 3), dtype="i4")
    a[...] = 1
    before = sorted(p.name for p in (tmp_path / "a" / "c").rglob("*"))
    for sel, value in [((0,), np.zeros((2, 6))), ((slice(0, 2),), np.zeros((2, 1, 6))), ((1, 1), np.zeros((2, 1)))]:
        with pytest.raises(ShapeMismatchError, match="in array /"):
            a[sel] = value
    assert sorted(p.name for p in (tmp_path / "a" / "c").rglob("*")) == before
    assert_same(a[...], np.ones((5, 6), "i4"))


def test_selection_too_large_for_memory_is_a_clear_error():
    a = ze.create_array("memory://huge-sel", shape=(2**62,), chunks=(2**20,), dtype="f8")
    with pytest.raises(ze.errors.ResourceError, match="reading /: cannot allocate"):
        a[...]


@pytest.mark.parametrize("dtype,fill", [("float32", 0.0), ("float64", float("nan")), ("int16", -3), ("complex64", 0j)])
def test_all_fill_test_sees_one_element_its_sample_skips(dtype, fill):
    # is_all_fill first looks at 64 elements spread over the chunk; a chunk that
    # differs only between them must still be found not to be all fill
    from zarr_engine.core.engine import is_all_fill

    chunk = np.full((64, 64, 4), fill, dtype=dtype)
    assert is_all_fill(chunk, fill)
    step = chunk.size // 64
    sampled = set(range(0, chunk.size, step))
    hidden = next(i for i in range(1, chunk.size) if i not in sampled)
    chunk.flat[hidden] = 1
    assert not is_all_fill(chunk, fill)
    chunk.flat[hidden] = fill
    chunk.flat[step] = 7  # one the sample sees
    assert not is_all_fill(chunk, fill)


def test_whole_chunk_writes_from_a_strided_value_equal_numpy(tmp_path):
    # whole chunks are copied into one reused buffer per thread before encoding:
    # every chunk must hold its own data, not the buffer's last content
    import zarr

    data = sample("float32", (40, 48, 56), seed=11)
    value = np.asfortranarray(data)  # no chunk of it is contiguous
    path = str(tmp_path / "a.zarr")
    arr = ze.create_array(path, shape=data.shape, chunks=(20, 16, 28), dtype="float32",
                          compressors=[{"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5,
                                                                            "shuffle": "shuffle", "typesize": 4}}])
    arr[...] = value
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], data)
    raw = ze.create_array(str(tmp_path / "r.zarr"), shape=data.shape, chunks=(20, 16, 28), dtype="float32",
                          compressors=None)
    raw[...] = value
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "r.zarr"), mode="r")[...], data)


def test_a_local_write_holds_only_the_chunks_being_encoded(tmp_path):
    """Each pool task stores its chunk and lets go of the encoded bytes: a write of
    64 MiB of incompressible chunks never holds them all (it used to, until the end)."""
    import tracemalloc

    value = np.random.default_rng(0).integers(0, 2**32, size=(64, 256, 1024), dtype="u4")  # 64 MiB
    a = ze.create_array(str(tmp_path / "a"), shape=value.shape, chunks=(1, 256, 1024), dtype="u4",
                        compressors={"name": "zstd", "configuration": {"level": 1}})
    tracemalloc.start()
    try:
        a[...] = value
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert a.nbytes_stored > 60 * 2**20  # the chunks did not compress: each stored ~1 MiB
    # each pool thread holds a chunk copy and its encoded bytes (1 MiB each) at a time
    from zarr_engine.core.pool import pool_size

    limit = min(48, 4 * (pool_size() + 1)) * 2**20
    assert peak < limit, f"{peak / 2**20:.1f} MiB held during the write (limit {limit / 2**20:.0f})"
    assert_same(ze.open_array(str(tmp_path / "a"), mode="r")[...], value)


# -- plain a[...] with several index arrays --------------------------------------------------------


def _twins(d: np.ndarray, name: str):
    """The same data in a zarr_engine array and a zarr-python array."""
    import zarr

    a = ze.create_array(f"memory://{name}", shape=d.shape, chunks=(2,) * d.ndim, dtype=d.dtype)
    a[...] = d
    z = zarr.create_array(zarr.storage.MemoryStore(), shape=d.shape, chunks=(2,) * d.ndim, dtype=d.dtype)
    z[...] = d
    return a, z


@pytest.mark.parametrize(
    "sel",
    [
        ([0, 2], 1, [1, 2]),
        (np.array([0, 2]), np.int64(-3), np.array([4, 0])),
        (2, [0, 3], [1, 4]),
        ([0, 2], [1, 3], [0, 4]),
        ([1], [0, 3], 2),
    ],
    ids=repr,
)
def test_integers_beside_several_index_arrays_select_points(sel):
    d = np.arange(60).reshape(3, 4, 5)
    a, z = _twins(d, f"points-{abs(hash(repr(sel)))}")
    expected = d[sel]
    assert_same(a[sel], expected)
    assert_same(z[sel], expected)
    n = d.copy()
    n[sel] = -1
    a[sel] = -1
    z[sel] = -1
    assert_same(a[...], n)  # only the selected points changed
    assert_same(z[...], n)
    a[sel] = np.arange(expected.size).reshape(expected.shape) + 100
    n[sel] = np.arange(expected.size).reshape(expected.shape) + 100
    assert_same(a[...], n)


@pytest.mark.parametrize(
    "shape, sel",
    [
        ((3, 4, 5), (1, np.array([[0, 3], [2, 1]]), -1)),
        ((4, 5), (np.int64(-1), [[4, 0, 1], [2, 3, -2]])),
        ((7,), np.array([[6, 0], [-2, 3], [2, 1]])),
        ((7,), [[1, 5], [0, 4]]),
        ((7,), (np.array([[6], [0]]),)),
    ],
    ids=repr,
)
def test_one_index_array_of_several_dimensions_with_an_integer_per_other_axis_selects_points(shape, sel):
    d = np.arange(math.prod(shape)).reshape(shape)
    a, z = _twins(d, f"points-nd-{abs(hash(repr(sel)))}")
    expected = d[sel]
    assert expected.ndim >= 2  # numpy keeps the index array's shape
    # zarr-python takes the nested lists as arrays only
    zsel = tuple(np.asarray(s) if isinstance(s, list) else s for s in sel) if isinstance(sel, tuple) else np.asarray(sel)
    assert_same(z[zsel], expected)
    assert_same(a[sel], expected)
    n = d.copy()
    value = -np.arange(expected.size).reshape(expected.shape) - 1
    n[sel] = value
    a[sel] = value
    z[zsel] = value
    assert_same(z[...], n)
    assert_same(a[...], n)


def test_index_arrays_with_an_ellipsis_standing_for_no_axis_select_points():
    d = np.arange(20).reshape(4, 5)
    a, _ = _twins(d, "points-ellipsis")
    assert_same(a[[0, 3], ..., [1, 4]], d[[0, 3], ..., [1, 4]])
    assert_same(a[..., [0, 3], [1, 4]], d[..., [0, 3], [1, 4]])


@pytest.mark.parametrize(
    "sel",
    [
        (slice(None), [0, 1], [1, 2]),
        ([0, 2], slice(1, 3), [1, 2]),
        ([0, 2], [1, 2]),  # the last axis left out
        ([0, 2], [1, 2], Ellipsis),
        ([True, False, True], slice(None), [1, 2]),
        ([True, False, True], 2, [1, 2]),
    ],
    ids=repr,
)
def test_several_index_arrays_beside_slices_are_refused_like_zarr_python(sel):
    d = np.arange(60).reshape(3, 4, 5)
    a, z = _twins(d, f"refused-{abs(hash(repr(sel)))}")
    assert np.asarray(d[sel]).shape != a.oindex[sel].shape  # numpy would not give the per-axis result
    with pytest.raises(IndexError):
        z[sel]
    with pytest.raises(SelectionError, match=r"array /.*\.oindex.*\.vindex"):
        a[sel]
    with pytest.raises(SelectionError, match=r"array /.*\.oindex.*\.vindex"):
        a[sel] = -1
    assert_same(a[...], d)  # the refused write changed nothing


@pytest.mark.parametrize(
    "sel",
    [
        ([0, 2], slice(None), 1),
        (1, [3, 0], slice(1, 4)),
        (Ellipsis, [0, 4]),
        ([True, False, True], 2, slice(None)),
        ([0, 2], [True, False, True, False], [1, 2]),  # an array per axis, one boolean: zarr-python's rule
    ],
    ids=repr,
)
def test_one_index_array_beside_slices_selects_per_axis_like_zarr_python(sel):
    d = np.arange(60).reshape(3, 4, 5)
    a, z = _twins(d, f"ortho-{abs(hash(repr(sel)))}")
    expected = numpy_orthogonal(d, sel if Ellipsis not in sel else (slice(None), slice(None), [0, 4]))
    assert_same(a[sel], expected)
    if Ellipsis not in sel:
        assert_same(z[sel], expected)


# -- values converted to the array's dtype ---------------------------------------------------------


def _zarr_python_array(dtype, shape=(3,)):
    import zarr

    return zarr.create_array(zarr.storage.MemoryStore(), shape=shape, chunks=(2,), dtype=dtype)


@pytest.mark.parametrize(
    "dtype, value, problem",
    [
        ("u1", 300, "Python integer 300 out of bounds for uint8"),
        ("u1", -1, "Python integer -1 out of bounds for uint8"),
        ("u1", [256, 1], "Python integer 256 out of bounds for uint8"),
        ("u8", -1, "out of bounds for uint64"),
        ("i8", 2**70, "too large"),
        ("f8", 1 + 2j, "complex values would lose their imaginary part"),
        ("i4", float("nan"), "cannot convert float NaN to integer"),
        ("M8[s]", "garbage", "Error parsing datetime string"),
    ],
    ids=repr,
)
def test_python_values_the_dtype_cannot_hold_are_refused_like_numpy(dtype, value, problem):
    with pytest.raises((OverflowError, TypeError, ValueError)):
        np.asarray(value, dtype=dtype)
    with pytest.raises((OverflowError, TypeError, ValueError)):
        _zarr_python_array(dtype)[:2] = value
    a = ze.create_array(f"memory://refuse-{abs(hash((dtype, repr(value))))}", shape=(3,), chunks=(2,), dtype=dtype,
                        fill_value=0)
    before = a[...]
    with pytest.raises(DTypeError, match=rf"cannot store .* in array / of dtype .*: .*{problem}"):
        a[:2] = value
    with pytest.raises(DTypeError):
        a[0] = value if not isinstance(value, list) else value[0]
    assert_same(a[...], before)
    assert a.nchunks_initialized == 0


@pytest.mark.parametrize("dtype, value", [("u1", 255), ("u1", [0, 255]), ("i8", -(2**63)), ("u8", 2**64 - 1),
                                          ("i2", 2.9), ("f4", 2**70), ("bool", 2), ("f8", None)], ids=repr)
def test_python_values_the_dtype_holds_are_stored_as_numpy_converts_them(dtype, value):
    a = ze.create_array(f"memory://hold-{abs(hash((dtype, repr(value))))}", shape=(2,), chunks=(2,), dtype=dtype)
    a[:] = value
    expected = np.zeros(2, dtype)
    expected[:] = value
    assert_same(a[...], expected)


def test_numpy_arrays_keep_numpy_assignment_casting_but_complex_into_real_is_refused():
    a = ze.create_array("memory://np-cast", shape=(3,), chunks=(2,), dtype="u1")
    value = np.array([300, -1, 7])
    a[:] = value
    n = np.zeros(3, "u1")
    n[:] = value  # numpy wraps arrays around, as it always has
    assert_same(a[...], n)
    a[0] = np.int64(258)
    n[0] = np.int64(258)
    assert_same(a[...], n)
    f = ze.create_array("memory://np-complex", shape=(2,), chunks=(2,), dtype="f8")
    with pytest.warns(np.exceptions.ComplexWarning):  # numpy keeps the real part, and only warns
        np.zeros(2, "f8")[:] = np.array([1 + 2j, 3 + 0j])
    with pytest.raises(DTypeError, match=r"an array of dtype complex128 .* in array / of dtype float64: complex"):
        f[:] = np.array([1 + 2j, 3 + 0j])
    with pytest.raises(DTypeError, match="imaginary part"):
        f[0] = np.complex64(1)
    assert f.nchunks_initialized == 0


@pytest.mark.parametrize("dtype", ["M8[D]", "M8[ns]", "m8[s]"])
def test_strings_are_parsed_into_datetimes_like_numpy_and_zarr_python(dtype):
    texts = ["2020-01-01", "NaT"] if dtype.startswith("M") else ["5", "NaT"]
    a = ze.create_array(f"memory://dt-text-{dtype}", shape=(3,), chunks=(2,), dtype=dtype)
    z = _zarr_python_array(dtype)
    n = np.zeros(3, dtype)
    for target in (a, z, n):
        target[0] = texts[0]
        target[1:] = [texts[1], texts[0]]
    assert_same(a[...], n)
    assert_same(z[...], n)
    a[:] = np.array(texts + texts[:1])  # a numpy array of text is parsed as well
    assert_same(a[...], n)
    message = rf"cannot store 'yesterday' \(str\) in array / of dtype {re.escape(str(np.dtype(dtype)))}"
    with pytest.raises(DTypeError, match=message):
        a[0] = "yesterday"
    assert_same(a[...], n)


def test_a_datetime_too_long_for_a_fixed_length_string_is_a_dtype_error():
    a = ze.create_array("memory://dt-into-text", shape=(2,), chunks=(2,), dtype="U3")
    with pytest.raises(DTypeError, match=r"np.datetime64\('2020-01-01'\) \(datetime64\) in array / of dtype <U3"):
        a[0] = np.datetime64("2020-01-01")
    b = ze.create_array("memory://dt-into-text-long", shape=(2,), chunks=(2,), dtype="U10")
    b[0] = np.datetime64("2020-01-01")
    n = np.zeros(2, "U10")
    n[0] = np.datetime64("2020-01-01")
    assert_same(b[...], n)


@pytest.mark.parametrize("dtype, good, bad", [(str, "c", 5), (str, "c", b"c"), (bytes, b"c", "c")])
def test_variable_length_elements_are_checked_before_any_chunk_is_written(dtype, good, bad):
    a = ze.create_array(f"memory://vlen-{dtype.__name__}-{bad!r}", shape=(4,), chunks=(2,), dtype=dtype)
    kind = "strings" if dtype is str else "bytes"
    with pytest.raises(DTypeError, match=rf"array / holds variable-length {kind}: element 3 of the value is "
                                         rf"{type(bad).__name__} {re.escape(repr(bad))}, not {dtype.__name__}"):
        a[:] = np.array([good, good, good, bad], dtype=object)
    assert a.nchunks_initialized == 0  # the first chunk was not written either
    b = ze.create_array(f"memory://vlen2-{dtype.__name__}-{bad!r}", shape=(2, 2), chunks=(1, 2), dtype=dtype)
    with pytest.raises(DTypeError, match=r"element \(1, 0\) of the value"):
        b[...] = [[good, good], [bad, good]]
    assert b.nchunks_initialized == 0
    a[:] = [good, None, good, good]  # None is taken as the empty value, as before
    assert list(a[...]) == [good, good[:0], good, good]


@pytest.mark.parametrize("fmt", [2, 3])
def test_bytes_arrays_are_serialised_with_vlen_bytes_like_zarr_python(tmp_path, fmt):
    import zarr
    from zarr.core.dtype import VariableLengthBytes

    path = str(tmp_path / "b.zarr")
    a = ze.create_array(path, shape=(3,), chunks=(2,), dtype=bytes, zarr_format=fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr-python's own warnings about its data types
        zarr.create_array(str(tmp_path / "zp.zarr"), shape=(3,), chunks=(2,), dtype=VariableLengthBytes(),
                          zarr_format=fmt)
    doc = "zarr.json" if fmt == 3 else ".zarray"
    ours, theirs = (json.loads((tmp_path / n / doc).read_text()) for n in ("b.zarr", "zp.zarr"))
    key = "codecs" if fmt == 3 else "filters"
    assert ours[key][0] == theirs[key][0]  # vlen-bytes, not vlen-utf8
    value = np.array([b"a", b"\x00\xff", b""], dtype=object)
    a[:] = value
    assert_same(a[...], value)
    assert_same(zarr.open_array(path, mode="r")[...], value)


# -- create_array: data and shards="auto" --------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(shape=(5,), data=np.arange(4)), ShapeMismatchError, r"data has shape \(4,\), but shape \(5,\) was given"),
        (dict(shape=(1, 4), data=np.arange(4)), ShapeMismatchError, r"data has shape \(4,\), but shape \(1, 4\)"),
        (dict(dtype="u1", data=[1, 300]), DTypeError, "Python integer 300 out of bounds for uint8"),
        (dict(dtype=str, data=["a", 5]), DTypeError, "element 1 of the value is int 5"),
        (dict(data=[[1], [1, 2]]), DTypeError, "data cannot be read as an array"),
    ],
    ids=["short", "no-broadcast", "overflow", "vlen", "ragged"],
)
def test_create_array_refuses_bad_data_before_touching_the_store(tmp_path, kwargs, error, message):
    import zarr

    if "shape" in kwargs:  # zarr-python refuses shape beside data outright
        with pytest.raises(ValueError), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zarr.create_array(str(tmp_path / "zp.zarr"), **kwargs)
    path = tmp_path / "a.zarr"
    with pytest.raises(error, match=message):
        ze.create_array(str(path), **kwargs)
    assert not path.exists() or not any(path.iterdir())  # no array left behind
    ze.create_array(str(path), data=np.arange(4))  # so a retry does not find one in the way
    np.testing.assert_array_equal(ze.open_array(str(path), mode="r")[...], np.arange(4))


def test_create_array_with_data_of_the_given_shape_and_dtype_stores_it(tmp_path):
    data = [[1, 2], [3, 255]]
    a = ze.create_array(str(tmp_path / "a.zarr"), shape=(2, 2), dtype="u1", data=data)
    assert_same(a[...], np.array(data, dtype="u1"))


@pytest.mark.parametrize(
    "shape, chunks, dtype, expected",
    [
        ((100,), (10,), "i4", (80,)),  # doubled while it fits: 20, 40, 80
        ((1000,), (1,), "u1", (64,)),  # at most 64 chunks
        ((64, 64, 64), (4, 4, 4), "f4", (16, 16, 16)),  # round the axes: 4 x 4 x 4 chunks
        ((4096, 512, 512), (64, 128, 64), "f8", (256, 512, 128)),  # the bytes cap: 32 chunks of 4 MiB
        ((7, 1000), (8, 10), "f4", (8, 640)),  # an axis shorter than its chunk stays one chunk
        ((5,), (10,), "f4", (10,)),
        ((0, 4), (1, 2), "i2", (1, 4)),
        ((), (), "f8", ()),
    ],
)
def test_auto_shards_follow_the_documented_rule(tmp_path, shape, chunks, dtype, expected):
    import zarr

    from zarr_engine.core.api import AUTO_SHARD_BYTES, AUTO_SHARD_CHUNKS

    path = str(tmp_path / "a.zarr")
    a = ze.create_array(path, shape=shape, chunks=chunks, dtype=dtype, shards="auto")
    assert a.shards == expected and a.chunks == tuple(chunks)
    per_shard = [s // c for s, c in zip(expected, chunks)]
    assert all(s % c == 0 for s, c in zip(expected, chunks))
    assert all(s <= max(n, c) for s, n, c in zip(expected, shape, chunks))
    assert np.prod(per_shard) <= AUTO_SHARD_CHUNKS
    assert np.prod(expected) * np.dtype(dtype).itemsize <= max(AUTO_SHARD_BYTES, np.prod(chunks) * 8)
    data = sample(dtype, shape, seed=5) if np.prod(shape) <= 10**5 else None
    if data is not None:
        a[...] = data
        z = zarr.open_array(path, mode="r")
        assert z.shards == expected
        assert_same(z[...], data)
        assert_same(ze.open_array(path, mode="r")[...], data)


def test_shards_that_are_not_a_shape_are_a_metadata_error():
    for bad in ("big", 2.5, True):
        with pytest.raises(ze.errors.MetadataError, match=r"array /: shards must be a shape, an int or 'auto'"):
            ze.create_array("memory://bad-shards", shape=(10,), chunks=(2,), dtype="f4", shards=bad)


def test_codecs_that_do_not_fit_the_chunks_are_refused_before_writing(tmp_path):
    import zarr

    # a transpose of three axes on 2-d chunks: zarr-python refuses it when creating, and so do we
    kw = dict(shape=(4, 6), chunks=(2, 3), dtype="f4", filters=[{"name": "transpose", "configuration": {"order": [0, 1, 2]}}])
    with pytest.raises(ze.errors.CodecError, match=r"array '/a': codec 'transpose': order \[0, 1, 2\] has 3 axes, the chunk has 2"):
        ze.create_array(str(tmp_path), name="a", **kw)
    assert list(tmp_path.iterdir()) == []
    with warnings.catch_warnings(), pytest.raises(ValueError):
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), **kw)


def test_keyword_names_a_zarr_python_user_writes_work_as_in_zarr_python(tmp_path):
    # update_attributes(new_attributes=), get/set_mask_selection(mask=), resize(new_shape=):
    # the same calls on a zarr-python array and on ours give the same data and attributes
    import zarr

    data = np.arange(24, dtype="i4").reshape(4, 6)
    mask = (data % 5) == 0
    arrays = [zarr.create_array(str(tmp_path / "ref.zarr"), shape=data.shape, chunks=(2, 4), dtype="i4"),
              ze.create_array(str(tmp_path / "ours.zarr"), shape=data.shape, chunks=(2, 4), dtype="i4")]
    results = []
    for a in arrays:
        a[...] = data
        a.update_attributes(new_attributes={"units": "K"})
        a.set_mask_selection(mask=mask, value=-1)
        picked = a.get_mask_selection(mask=mask)
        a.resize(new_shape=(5, 5))
        results.append((picked, a[...], dict(a.attrs), a.shape))
    (ref_picked, ref_all, ref_attrs, ref_shape), (picked, whole, attrs, shape) = results
    assert_same(picked, ref_picked)
    assert_same(whole, ref_all)
    assert attrs == ref_attrs and shape == ref_shape
    # the lengths as separate arguments keep working
    arrays[1].resize(3, 2)
    assert_same(arrays[1][...], ref_all[:3, :2])


def test_shrinking_resets_edge_chunks_decoded_in_parallel_batches(tmp_path, monkeypatch):
    """The chunks a shrink leaves on the new edge are reset to the fill value beyond
    it in batches (fetched together, decoded and encoded on the pool): growing
    again shows the fill value there, as numpy's view of the data says, an edge
    chunk absent stays absent and one left all fill is deleted."""
    from zarr_engine.core import array as array_mod
    from zarr_engine.core import pool

    monkeypatch.setattr(array_mod, "BATCH_BYTES", 2 * 64 * 256 * 8)  # two edge chunks a batch
    data = np.arange(300 * 512, dtype="f8").reshape(300, 512) + 1
    data[64:128] = -1.0  # chunk row 1: all fill, never stored
    data[128:130, :200] = -1.0  # what chunk (2, 0) keeps is all fill
    a = ze.create_array(str(tmp_path / "r.zarr"), shape=data.shape, chunks=(64, 256), dtype="f8", fill_value=-1.0)
    a[:] = data
    pool.set_pool_size(2)  # chunks of 128 KiB: decoded on the pool when it has more than one thread
    try:
        a.resize((130, 200))
    finally:
        pool.set_pool_size(None)
    keys = sorted(p.relative_to(tmp_path / "r.zarr").as_posix() for p in (tmp_path / "r.zarr" / "c").rglob("*") if p.is_file())
    assert keys == ["c/0/0"]
    a.resize((300, 512))
    want = np.full(data.shape, -1.0)
    want[:130, :200] = data[:130, :200]
    np.testing.assert_array_equal(a[:], want)
