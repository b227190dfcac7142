"""Round trips through zarr_engine's writer and reader, and across to xarray's zarr-python
engine, for Zarr formats 2 and 3."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")

from xarray.tests.test_dataset import create_test_data  # noqa: E402

import zarr_engine as ze  # noqa: E402
import zarr_engine.xarray as zx  # noqa: E402
from zarr_engine.errors import AlignmentError  # noqa: E402
from zarr_engine.xarray.array import ZarrEngineBackendArray  # noqa: E402

FORMATS = [2, 3]


def mixed_dataset() -> xr.Dataset:
    """Every kind of variable the CF encoders treat differently."""
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {
            "f8": (("t", "x"), rng.normal(size=(6, 4))),
            "f4nan": (("t", "x"), np.where(rng.random((6, 4)) > 0.7, np.nan, 1.5).astype("f4")),
            "i2": ("x", np.array([1, -2, 3, 0], dtype="i2")),
            "u1": ("x", np.array([0, 1, 2, 255], dtype="u1")),
            "b": ("x", np.array([True, False, True, False])),
            "c16": ("x", np.array([1 + 2j, 0, -1j, 3], dtype="c16")),
            "vlen": ("x", np.array(["a", "bb", "", "dddd"], dtype=object)),
            "fixed": ("x", np.array(["a", "bb", "c", "dd"])),
            "bytes": ("x", np.array([b"a", b"bb", b"", b"dd"])),
            "when": ("t", pd.date_range("2001-01-01", periods=6, freq="6h")),
            "gap": ("t", pd.to_timedelta(np.arange(6), unit="min")),
            "scalar": ((), 3.5, {"units": "K"}),
        },
        coords={
            "t": np.arange(6),
            "x": [10.0, 20.0, 30.0, 40.0],
            "label": ("x", ["p", "q", "r", "s"]),  # a non-index coordinate
            "lat": (("t", "x"), np.arange(24.0).reshape(6, 4)),
        },
        attrs={"title": "mixed", "numbers": [1, 2, 3], "nested": {"a": 1}},
    )


def open_ours(path, **kwargs) -> xr.Dataset:
    return xr.open_dataset(path, engine="zarr_engine", **kwargs)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("make", [create_test_data, mixed_dataset], ids=["create_test_data", "mixed"])
def test_roundtrip_ours_and_cross(tmp_path, fmt, make):
    """ours->ours, ours->zarr-python and zarr-python->ours all give back the dataset."""
    ds = make()
    ours = tmp_path / "ours.zarr"
    theirs = tmp_path / "theirs.zarr"
    zx.to_zarr(ds, ours, zarr_format=fmt)
    ds.to_zarr(theirs, zarr_format=fmt)
    with open_ours(ours) as a, xr.open_zarr(ours) as b, open_ours(theirs) as c, xr.open_zarr(theirs) as d:
        xr.testing.assert_identical(a.load(), ds)
        xr.testing.assert_identical(b.load(), ds)
        xr.testing.assert_identical(c.load(), ds)
        # our reading of zarr-python's store equals zarr-python's, dtypes and encodings included
        xr.testing.assert_identical(c, d)
        for name in c.variables:
            assert c[name].dtype == d[name].dtype, name
            for key in ("chunks", "preferred_chunks", "shards", "dtype", "units", "calendar", "_FillValue"):
                assert str(c[name].encoding.get(key)) == str(d[name].encoding.get(key)), (name, key)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mask_scale_and_time_encoding(tmp_path, fmt):
    """_FillValue, scale_factor/add_offset, dtype and units/calendar encodings are applied
    on disk and undone on reading, by both engines."""
    ds = xr.Dataset(
        {
            "temp": ("x", np.array([270.15, np.nan, 300.0, 255.5])),
            "when": ("x", pd.date_range("2010-01-01", periods=4, freq="D")),
        }
    )
    enc = {
        "temp": {"dtype": "i2", "scale_factor": 0.05, "add_offset": 273.15, "_FillValue": -32768},
        "when": {"units": "hours since 2010-01-01", "calendar": "standard", "dtype": "i4"},
    }
    path = tmp_path / "cf.zarr"
    zx.to_zarr(ds, path, zarr_format=fmt, encoding=enc)
    raw = ze.open_group(str(path), mode="r")
    assert raw["temp"].dtype == np.dtype("i2")
    assert raw["temp"][1] == -32768
    assert raw["when"].dtype == np.dtype("i4")
    np.testing.assert_array_equal(raw["when"][:], [0, 24, 48, 72])
    for opened in (open_ours(path), xr.open_zarr(path)):
        with opened as back:
            np.testing.assert_allclose(back["temp"].values, ds["temp"].values, atol=0.03)
            assert np.isnan(back["temp"].values[1])
            xr.testing.assert_identical(back["when"], ds["when"])
            assert back["temp"].encoding["scale_factor"] == 0.05
            assert back["when"].encoding["units"] == "hours since 2010-01-01"
    with open_ours(path, mask_and_scale=False, decode_times=False) as undecoded:
        assert undecoded["temp"].dtype == np.dtype("i2")
        assert undecoded["when"].attrs["units"] == "hours since 2010-01-01"


@pytest.mark.parametrize("fmt", FORMATS)
def test_nan_fill_value_and_nonfinite_attributes(tmp_path, fmt):
    """A NaN _FillValue and NaN/Infinity attributes (missing_value...) read back as floats,
    through both engines, exactly as when xarray's zarr-python writer wrote them."""
    ds = xr.Dataset(
        {"v": ("x", np.array([1.0, np.nan, 3.0], "f4"), {"missing_value": np.nan, "valid_max": np.inf})},
        attrs={"history_nan": float("nan")},
    )
    ds["v"].encoding["_FillValue"] = np.float32(np.nan)
    ours, theirs = tmp_path / "ours.zarr", tmp_path / "theirs.zarr"
    zx.to_zarr(ds, ours, zarr_format=fmt)
    ds.to_zarr(theirs, zarr_format=fmt)
    with open_ours(theirs) as expected:
        expected = expected.load()
    assert expected["v"].encoding["missing_value"] != expected["v"].encoding["missing_value"]  # a float NaN
    assert expected["v"].attrs["valid_max"] == np.inf
    for opened in (open_ours(ours), xr.open_zarr(ours)):
        with opened as back:
            back = back.load()
            xr.testing.assert_identical(back, expected)
            for key in ("_FillValue", "missing_value"):
                value = back["v"].encoding[key]
                assert isinstance(value, (float, np.floating)) and np.isnan(value), key
            assert back["v"].attrs["valid_max"] == np.inf
            assert np.isnan(back.attrs["history_nan"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_dimension_names_layout(tmp_path, fmt):
    """v2 keeps dims in _ARRAY_DIMENSIONS (hidden on read), v3 in dimension_names."""
    ds = xr.Dataset({"v": (("a", "b"), np.zeros((2, 3)))})
    path = tmp_path / "d.zarr"
    zx.to_zarr(ds, path, zarr_format=fmt)
    arr = ze.open_group(str(path), mode="r")["v"]
    if fmt == 2:
        assert arr.attrs["_ARRAY_DIMENSIONS"] == ["a", "b"]
        assert "dimension_names" not in (str(path / "v" / ".zarray") and (path / "v" / ".zarray").read_text())
    else:
        assert tuple(arr.dimension_names) == ("a", "b")
        assert "_ARRAY_DIMENSIONS" not in arr.attrs
    with open_ours(path) as back:
        assert back["v"].dims == ("a", "b")
        assert "_ARRAY_DIMENSIONS" not in back["v"].attrs


def test_sharded_preferred_chunks_and_encoding(tmp_path):
    """A sharded array: chunks={} gives one dask chunk per shard, and the encoding
    (chunks, shards, codecs) writes back to the same layout."""
    ds = xr.Dataset({"v": (("y", "x"), np.arange(400.0).reshape(20, 20))})
    path = tmp_path / "s.zarr"
    zx.to_zarr(ds, path, encoding={"v": {"chunks": (5, 5), "shards": (10, 20)}})
    with open_ours(path, chunks={}) as back:
        assert back["v"].chunks == ((10, 10), (20,))
        assert back["v"].encoding["chunks"] == (5, 5)
        assert back["v"].encoding["shards"] == (10, 20)
        assert back["v"].encoding["preferred_chunks"] == {"y": 10, "x": 20}
        xr.testing.assert_identical(back, ds)
        again = tmp_path / "again.zarr"
        zx.to_zarr(back, again)
    arr = ze.open_group(str(again), mode="r")["v"]
    assert arr.shards == (10, 20) and arr.chunks == (5, 5)
    with xr.open_zarr(again) as z:
        xr.testing.assert_identical(z, ds)


@pytest.mark.parametrize("fmt", FORMATS)
def test_groups_and_datatree(tmp_path, fmt):
    """Datasets written to groups come back as a DataTree, equal to zarr-python's reading."""
    path = tmp_path / "tree.zarr"
    root = xr.Dataset({"r": ("x", [1, 2])}, attrs={"level": "root"})
    a = xr.Dataset({"va": ("y", [1.5, 2.5, 3.5])}, attrs={"level": "a"})
    ab = xr.Dataset({"vab": ("z", ["u", "v"])})
    zx.to_zarr(root, path, zarr_format=fmt, mode="w")
    zx.to_zarr(a, path, group="a", mode="a")
    zx.to_zarr(ab, path, group="a/b", mode="a")
    tree = xr.open_datatree(path, engine="zarr_engine")
    assert set(tree.groups) == {"/", "/a", "/a/b"}
    xr.testing.assert_identical(tree["a"].to_dataset(), a)
    xr.testing.assert_identical(tree["a/b"].to_dataset(), ab)
    xr.testing.assert_identical(tree.to_dataset(), root)
    xr.testing.assert_identical(tree, xr.open_datatree(path, engine="zarr"))
    sub = xr.open_datatree(path, engine="zarr_engine", group="a")
    assert set(sub.groups) == {"/", "/b"}
    with open_ours(path, group="a/b") as one:
        xr.testing.assert_identical(one, ab)


@pytest.mark.parametrize("fmt", FORMATS)
def test_modes_append_and_region(tmp_path, fmt):
    """w-, a (new variable), append_dim, r+ with region, and their refusals."""
    path = tmp_path / "m.zarr"
    ds = xr.Dataset({"v": (("t", "x"), np.arange(12.0).reshape(4, 3))}, coords={"t": [0, 1, 2, 3]})
    zx.to_zarr(ds, path, zarr_format=fmt)
    with pytest.raises(FileExistsError):
        zx.to_zarr(ds, path, mode="w-")
    more = xr.Dataset({"v": (("t", "x"), np.arange(6.0).reshape(2, 3) + 100)}, coords={"t": [4, 5]})
    zx.to_zarr(more, path, append_dim="t")
    zx.to_zarr(xr.Dataset({"w": ("x", [7, 8, 9])}), path, mode="a")
    patch = xr.Dataset({"v": (("t", "x"), np.full((2, 3), -1.0))})
    zx.to_zarr(patch, path, region={"t": slice(1, 3)})
    with pytest.raises(ValueError, match="non-pre-existing"):
        zx.to_zarr(xr.Dataset({"new": ("x", [1, 2, 3])}), path, mode="r+")
    expected = xr.concat([ds, more], dim="t")
    expected["v"][1:3] = -1.0
    expected["w"] = ("x", [7, 8, 9])
    with open_ours(path) as back, xr.open_zarr(path) as z:
        xr.testing.assert_identical(back.load(), expected)
        xr.testing.assert_identical(z.load(), expected)
    assert ze.open_group(str(path), mode="r").zarr_format == fmt


def test_consolidated_metadata_written_and_used(tmp_path):
    path = tmp_path / "c.zarr"
    ds = create_test_data()
    zx.to_zarr(ds, path)
    assert ze.open_group(str(path), mode="r").metadata.consolidated is not None
    with open_ours(path, consolidated=True) as back:
        xr.testing.assert_identical(back, ds)
    plain = tmp_path / "plain.zarr"
    zx.to_zarr(ds, plain, consolidated=False)
    assert ze.open_group(str(plain), mode="r").metadata.consolidated is None
    with pytest.raises(ValueError):
        open_ours(plain, consolidated=True)
    with pytest.warns(RuntimeWarning, match="consolidated"):
        open_ours(plain).close()


def test_lazy_indexing_kinds_and_pickle(tmp_path):
    """Basic, outer and vectorized indexing read only what is asked and equal numpy's;
    the backend array survives pickling."""
    data = np.arange(60.0).reshape(6, 10)
    ds = xr.Dataset({"v": (("y", "x"), data)})
    path = tmp_path / "i.zarr"
    zx.to_zarr(ds, path, encoding={"v": {"chunks": (2, 3)}})
    with open_ours(path) as back:
        v = back["v"]
        np.testing.assert_array_equal(v[1:5:2, ::3].values, data[1:5:2, ::3])
        np.testing.assert_array_equal(v.isel(y=[0, 5, 2], x=[9, 1]).values, data[np.ix_([0, 5, 2], [9, 1])])
        pts = v.isel(y=xr.DataArray([0, 3, 5], dims="p"), x=xr.DataArray([1, 9, 4], dims="p"))
        np.testing.assert_array_equal(pts.values, data[[0, 3, 5], [1, 9, 4]])
        backend = v.variable._data
        while not isinstance(backend, ZarrEngineBackendArray):
            backend = backend.array  # through xarray's lazy/copy-on-write wrappers
        clone = pickle.loads(pickle.dumps(backend))
        assert clone.shape == (6, 10)
        np.testing.assert_array_equal(clone.get_array()[...], data)


def test_dask_alignment_error_and_align_chunks(tmp_path):
    """Unaligned dask chunks are refused before any data is written; align_chunks=True writes them."""
    ds = xr.Dataset({"v": ("x", np.arange(10.0))}).chunk({"x": 3})
    path = tmp_path / "a.zarr"
    with pytest.raises(AlignmentError):
        zx.to_zarr(ds, path, encoding={"v": {"chunks": (4,)}})
    path2 = tmp_path / "b.zarr"
    zx.to_zarr(ds, path2, encoding={"v": {"chunks": (4,)}}, align_chunks=True)
    with open_ours(path2) as back:
        xr.testing.assert_identical(back, ds)
        assert back["v"].encoding["chunks"] == (4,)


def test_compute_false_returns_delayed_and_accessor(tmp_path):
    from dask.delayed import Delayed

    ds = xr.Dataset({"v": ("x", np.arange(8.0))}).chunk({"x": 4})
    path = tmp_path / "d.zarr"
    delayed = ds.zarr_engine.to_zarr(path, compute=False)
    assert isinstance(delayed, Delayed)
    with open_ours(path) as before:  # metadata is there, data is not yet: all fill value
        assert before["v"].isnull().all()
    delayed.compute()
    with open_ours(path) as after:
        xr.testing.assert_identical(after, ds)
    assert ze.to_zarr is zx.to_zarr


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_empty_chunks(tmp_path, fmt):
    ds = xr.Dataset({"v": ("x", np.array([np.nan] * 4 + [1.0] * 4))})
    counts = {}
    for flag in (False, True):
        path = tmp_path / f"e{flag}.zarr"
        zx.to_zarr(ds, path, zarr_format=fmt, write_empty_chunks=flag, encoding={"v": {"chunks": (4,)}})
        counts[flag] = ze.open_group(str(path), mode="r")["v"].nchunks_initialized
        with open_ours(path) as back:
            xr.testing.assert_identical(back, ds)
    assert counts == {False: 1, True: 2}


def test_entrypoint_is_registered_and_guesses(tmp_path):
    engines = xr.backends.list_engines()
    assert "zarr_engine" in engines
    ep = engines["zarr_engine"]
    assert ep.description and ep.url
    path = tmp_path / "g.zarr"
    zx.to_zarr(xr.Dataset({"v": ("x", [1])}), path)
    assert ep.guess_can_open(str(path))
    assert not ep.guess_can_open(str(tmp_path / "file.nc"))


@pytest.mark.parametrize("compute", [True, False])
def test_zip_url_is_complete_when_to_zarr_returns(tmp_path, compute):
    """A zip file is readable only once its central directory is written. Writing to a
    ``zip://`` URL closes the store we opened for it when the write ends (after the
    delayed write with ``compute=False``), as xarray's own writer does, so that
    zarr-python's ZipStore reads the dataset back while the returned store is still
    held; a store object passed in is left open for its owner to close."""
    import zarr
    from zarr_engine.storage.zip import ZipStore

    ds = xr.Dataset(
        {"tas": (("time", "x"), np.arange(24.0).reshape(6, 4), {"units": "K"})},
        coords={"time": pd.date_range("2000-01-01", periods=6)},
    )
    file = tmp_path / "data.zip"
    held = zx.to_zarr(ds.chunk(time=2), f"zip://{file}", mode="w", compute=compute)
    if not compute:
        held.compute()
    with zarr.storage.ZipStore(file, mode="r") as z, xr.open_zarr(z, consolidated=False) as back:
        xr.testing.assert_identical(back.compute(), ds)
    with open_ours(f"zip://{file}") as back:
        xr.testing.assert_identical(back.load(), ds)

    theirs = ZipStore(tmp_path / "own.zip", "w")
    zx.to_zarr(ds, theirs, compute=compute)
    assert theirs._st.zf is not None  # still open: the caller closes what the caller opened
    theirs.close()
    with zarr.storage.ZipStore(tmp_path / "own.zip", mode="r") as z, xr.open_zarr(z, consolidated=False) as back:
        xr.testing.assert_identical(back.compute(), ds)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("group", [None, "/", "a", "/a/", "a/b"])
def test_open_groups_keys_match_xarrays_engine(tmp_path, fmt, group):
    """xr.open_groups keys the datasets as engine="zarr" does: absolute paths without
    ``group``, paths relative to it ("." for the group itself) with one, so code indexing
    the result works with either engine."""
    path = tmp_path / "tree.zarr"
    xr.Dataset({"r": ("x", [1, 2])}).to_zarr(path, zarr_format=fmt, mode="w")
    xr.Dataset({"va": ("y", [1.5, 2.5])}).to_zarr(path, group="a", mode="a")
    xr.Dataset({"vab": ("z", ["u", "v"])}).to_zarr(path, group="a/b", mode="a")
    theirs = xr.open_groups(path, engine="zarr", group=group)
    ours = xr.open_groups(path, engine="zarr_engine", group=group)
    assert list(ours) == list(theirs)
    for key in theirs:
        xr.testing.assert_identical(ours[key].load(), theirs[key].load())
    xr.testing.assert_identical(
        xr.open_datatree(path, engine="zarr_engine", group=group).load(),
        xr.open_datatree(path, engine="zarr", group=group).load(),
    )


@pytest.mark.parametrize("edit,error", [
    ({"compressor": {"id": "nosuchzip"}}, "UnknownCodecError"),
    ({"compressor": {"id": "zlib", "level": 1, "bogus": 2}}, "CodecConfigError"),
    ({"filters": [{"id": "nosuchfilter"}]}, "UnknownCodecError"),
])
def test_v2_codec_numcodecs_refuses_is_an_engine_error_naming_the_array(tmp_path, edit, error):
    """A hand-edited .zarray whose compressor or filter numcodecs cannot build:
    xarray's zarr engine fails with numcodecs' own exception (a bare TypeError for
    a stray key); ours raises the engine's error naming the array, as a read does."""
    import json
    import warnings

    from zarr_engine.errors import ZarrEngineError

    path = tmp_path / "edited.zarr"
    xr.Dataset({"v": ("x", np.arange(4.0))}).to_zarr(path, zarr_format=2, consolidated=False)
    meta_path = path / "v" / ".zarray"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **edit}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            xr.open_dataset(path, engine="zarr", consolidated=False)
    assert not isinstance(theirs.value, ZarrEngineError)
    with pytest.raises(ZarrEngineError, match=r"array 'v'") as ours:
        xr.open_dataset(path, engine="zarr_engine", consolidated=False)
    assert type(ours.value).__name__ == error
