"""Every mistake the xarray writer and reader refuse raises a ZarrEngineError that is also the
builtin xarray's own zarr backend raises (ValueError, KeyError, TypeError, NotImplementedError),
with a message naming what is wrong and where."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

xr = pytest.importorskip("xarray")

import zarr_engine as ze  # noqa: E402
import zarr_engine.xarray as zx  # noqa: E402
from zarr_engine.errors import (  # noqa: E402
    AlignmentError,
    ContainsNodeError,
    DatasetKeyError,
    DatasetTypeError,
    DatasetUnsupportedError,
    DatasetWriteError,
    DimensionLengthError,
    DimensionNamesError,
    InvalidAttributeError,
    MetadataError,
    ZarrEngineError,
)
from zarr_engine.xarray.store import ZarrEngineStore  # noqa: E402
from zarr_engine.xarray.writer import ChunkWriter  # noqa: E402

FORMATS = [2, 3]


def expect(info: pytest.ExceptionInfo, builtin: type[BaseException], *needles: str) -> None:
    """The error is ours, is also ``builtin``, and its message contains each of ``needles``."""
    e = info.value
    assert isinstance(e, ZarrEngineError), type(e).__mro__
    assert isinstance(e, builtin), type(e).__mro__
    text = str(e)
    for needle in needles:
        assert needle in text, (needle, text)


def small() -> xr.Dataset:
    return xr.Dataset({"v": (("t", "x"), np.arange(6.0).reshape(2, 3))}, coords={"t": [10, 20]})


@pytest.fixture(params=FORMATS)
def stored(request, tmp_path):
    """(path, dataset) of a small dataset already written in each Zarr format."""
    path = tmp_path / "s.zarr"
    ds = small()
    zx.to_zarr(ds, path, zarr_format=request.param)
    return path, ds


# -- arguments of to_zarr -------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"mode": "x"}, "mode='x'"),
        ({"mode": "w", "append_dim": "t"}, "cannot set append_dim unless"),
        ({"mode": "w", "region": {"t": slice(None)}}, "cannot set region unless"),
    ],
    ids=["unknown", "append_dim", "region"],
)
def test_bad_mode(tmp_path, kwargs, needle):
    path = tmp_path / "m.zarr"
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(small(), path, **kwargs)
    expect(info, ValueError, needle, str(path))
    assert not path.exists()  # refused before anything is created


@pytest.mark.parametrize("group", [None, "g"])
def test_existing_store_with_mode_w_minus_names_the_modes(stored, group):
    """Writing where a group exists (the default mode 'w-') is refused with xarray's
    advice, the modes 'w' and 'a', not the core's overwrite=True that to_zarr lacks."""
    path, ds = stored
    if group:
        zx.to_zarr(ds, path, group=group, mode="a")
    with pytest.raises(ContainsNodeError) as info:
        zx.to_zarr(ds, path, group=group)
    expect(info, FileExistsError, "already exists", "mode='w-'", "use mode='w' to replace it", "mode='a'")
    assert "overwrite=True" not in str(info.value)
    assert str(info.value).count("mode='w'") == 1  # one piece of advice, not the core's and xarray's
    back = xr.open_dataset(path, engine="zarr_engine", group=group)
    xr.testing.assert_identical(back.load(), ds)


def test_bad_variable_names(tmp_path):
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(xr.Dataset({"": ("x", [1])}), tmp_path / "a.zarr")
    expect(info, ValueError, "Invalid name ''")
    with pytest.raises(DatasetTypeError) as info:
        zx.to_zarr(xr.Dataset({1: ("x", [1])}), tmp_path / "b.zarr")
    expect(info, TypeError, "Invalid name 1", "must be either a string or None")


def test_region_not_a_dict(stored):
    path, ds = stored
    with pytest.raises(DatasetTypeError) as info:
        zx.to_zarr(ds, path, region=slice(None))
    expect(info, TypeError, "``region`` must be a dict", "group '/'", "s.zarr")


def test_region_value_not_a_slice(stored):
    path, ds = stored
    with pytest.raises(DatasetTypeError) as info:
        zx.to_zarr(ds.drop_vars("t"), path, region={"t": [0, 1]})
    expect(info, TypeError, "must be slice objects", "'t' maps to list")


def test_region_step(stored):
    path, ds = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds.drop_vars("t"), path, region={"t": slice(None, None, 2)})
    expect(info, ValueError, "step on all slices", "'t' has step 2")


def test_region_key_not_a_dimension(stored):
    path, ds = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, path, region={"y": slice(None)})
    expect(info, ValueError, "all keys in ``region`` are not in Dataset dimensions", "'y' is not a dimension")


def test_region_variable_outside(stored):
    path, ds = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds.drop_vars("t").assign(other=("x", [1, 2, 3])), path, region={"t": slice(0, 2)})
    expect(info, ValueError, "at least one dimension in common", "['other']", ".drop_vars(['other'])")


def test_region_and_append_dim_same_dimension(stored):
    path, ds = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, path, region={"t": slice(None)}, append_dim="t")
    expect(info, ValueError, "cannot list the same dimension in both", "got t in both")


def test_region_auto_needs_mode_r_plus_or_a(stored):
    path, ds = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, path, region="auto", mode="a-")
    expect(info, ValueError, "``mode`` must be 'r+' or 'a'", "got 'a-'")


def test_region_auto_values_not_stored(stored):
    path, ds = stored
    with pytest.raises(DatasetKeyError) as info:
        zx.to_zarr(ds.assign_coords(t=[10, 99]), path, region="auto")
    expect(info, KeyError, "Not all values of coordinate 't'", "group '/'")
    assert str(info.value).startswith("Not all")  # no quotes around a KeyError's message


def test_region_auto_non_contiguous(tmp_path):
    path = tmp_path / "c.zarr"
    ds = xr.Dataset({"v": ("t", np.arange(4.0))}, coords={"t": [1, 2, 3, 4]})
    zx.to_zarr(ds, path)
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds.isel(t=[0, 2]), path, region="auto")
    expect(info, ValueError, "coordinate 't'", "non-contiguous indices")


def test_region_auto_coordinate_not_stored(tmp_path):
    path = tmp_path / "n.zarr"
    zx.to_zarr(xr.Dataset({"v": ("t", np.arange(4.0))}), path)  # no coordinate 't' stored
    with pytest.raises(DatasetKeyError) as info:
        zx.to_zarr(xr.Dataset({"v": ("t", [1.0, 2.0])}, coords={"t": [0, 1]}), path, region="auto")
    expect(info, KeyError, "stored coordinate 't'", "has no array 't'")


def test_append_dim_not_a_dimension(stored):
    path, ds = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, path, append_dim="nowhere")
    expect(info, ValueError, "append_dim='nowhere' does not match any existing dataset dimensions", "group '/'")


def test_new_variable_with_mode_r_plus(stored):
    path, _ = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(xr.Dataset({"new": ("x", [1, 2, 3])}), path, mode="r+")
    expect(info, ValueError, "non-pre-existing variables ['new']", "mode='r+'", "group '/'")


# -- encoding ---------------------------------------------------------------------


def test_encoding_for_existing_variable(stored):
    path, ds = stored
    more = ds.assign_coords(t=[30, 40])
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(more, path, append_dim="t", encoding={"v": {"chunks": (1, 3)}})
    expect(info, ValueError, "variable 'v' already exists", "but encoding was provided")


def test_encoding_for_absent_variable(tmp_path):
    with pytest.raises(DatasetKeyError) as info:
        zx.to_zarr(small(), tmp_path / "e.zarr", encoding={"nope": {"chunks": (1,)}})
    expect(info, KeyError, "encoding names ['nope']", "not variables of the dataset")
    assert str(info.value).startswith("encoding names")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unexpected_encoding_key(tmp_path, fmt):
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(small(), tmp_path / "e.zarr", zarr_format=fmt, encoding={"v": {"bogus": 1}})
    expect(info, ValueError, "unexpected encoding parameters", "'bogus'", "variable 'v'")


def test_encoding_chunks_of_wrong_type(tmp_path):
    with pytest.raises(DatasetTypeError) as info:
        zx.to_zarr(small(), tmp_path / "e.zarr", encoding={"v": {"chunks": ("a", "b")}})
    expect(info, TypeError, "encoding['chunks']", "variable named 'v'")


def test_encoding_dtype_not_understood(tmp_path):
    with pytest.raises(DatasetTypeError) as info:
        zx.to_zarr(small(), tmp_path / "e.zarr", encoding={"v": {"dtype": "nonsense"}})
    expect(info, TypeError, "'nonsense'", "encoding variable 'v'")


def test_encoding_time_units(tmp_path):
    ds = xr.Dataset({"when": ("t", pd.date_range("2000-01-01", periods=2))})
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, tmp_path / "e.zarr", encoding={"when": {"units": "parsecs"}})
    expect(info, ValueError, "parsecs", "encoding variable 'when'")


def test_fill_value_not_encodable(tmp_path):
    ds = xr.Dataset({"s": ("x", np.array(["a", "b"], dtype=object))})
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, tmp_path / "f.zarr", zarr_format=3, encoding={"s": {"_FillValue": 1}})
    expect(info, ValueError, "fill_value", "_FillValue of variable 's'")


def test_fill_value_left_in_encoding(tmp_path):
    """CF encoding moves _FillValue into the attributes; a variable handed to the store with it
    still in its encoding is refused."""
    store = ZarrEngineStore.open_group(str(tmp_path / "f.zarr"), "w", zarr_format=3)
    v = xr.Variable("x", [1.0, 2.0], encoding={"_FillValue": 0.0})
    with pytest.raises(DatasetWriteError) as info:
        store.set_variables({"v": v}, set(), ChunkWriter())
    expect(info, ValueError, "Zarr does not support _FillValue in encoding", "variable 'v'")


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_empty_chunks_conflict(tmp_path, fmt):
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(
            small(), tmp_path / "w.zarr", zarr_format=fmt, write_empty_chunks=True,
            encoding={"v": {"write_empty_chunks": False}},
        )
    expect(info, ValueError, 'Differing "write_empty_chunks"', "variable 'v'")


# -- the dataset against what is stored ------------------------------------------


def test_different_dimension_names(stored):
    path, _ = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(xr.Dataset({"v": (("t", "y"), np.zeros((2, 3)))}), path, mode="a")
    expect(info, ValueError, "variable 'v' already exists with different dimension names", "group '/'")


def test_different_dimension_sizes(stored):
    path, _ = stored
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(xr.Dataset({"v": (("t", "x"), np.zeros((2, 5)))}), path, mode="a")
    expect(info, ValueError, "variable 'v' already exists with different dimension sizes")


@pytest.mark.parametrize("fmt", FORMATS)
def test_append_mismatched_string_dtype(tmp_path, fmt):
    path = tmp_path / "s.zarr"
    zx.to_zarr(xr.Dataset({"s": ("t", np.array([b"ab", b"cd"]))}), path, zarr_format=fmt)
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(xr.Dataset({"s": ("t", np.array([b"abcde"]))}), path, append_dim="t")
    expect(info, ValueError, "Mismatched dtypes for variable s", "|S2", "|S5")


def test_unlimited_dimensions(tmp_path):
    store = ZarrEngineStore.open_group(str(tmp_path / "u.zarr"), "w")
    with pytest.raises(DatasetUnsupportedError) as info:
        small().dump_to_store(store, unlimited_dims=["t"])
    expect(info, NotImplementedError, "no unlimited dimensions", "['t']", "group '/'")


# -- attributes ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_dataset_attribute(tmp_path, fmt):
    path = tmp_path / "a.zarr"
    ds = small()
    ds.attrs["bad"] = xr.DataArray()
    with pytest.raises(InvalidAttributeError) as info:
        zx.to_zarr(ds, path, zarr_format=fmt)
    expect(info, TypeError, "Invalid attribute in Dataset.attrs.", "'bad'", "is not JSON")
    assert isinstance(info.value, MetadataError)  # what the core raised for it before
    assert "v" not in ze.open_group(str(path), mode="r")  # refused before any array was written


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_variable_attribute(tmp_path, fmt):
    path = tmp_path / "a.zarr"
    ds = small()
    ds["v"].attrs["bad"] = object()
    with pytest.raises(InvalidAttributeError) as info:
        zx.to_zarr(ds, path, zarr_format=fmt)
    expect(info, TypeError, "Invalid attribute in the attrs of variable 'v'", "'bad'")
    assert "v" not in ze.open_group(str(path), mode="r")


# -- reading ------------------------------------------------------------------------


def test_array_without_dimension_names(tmp_path):
    path = tmp_path / "r.zarr"
    ze.create_group(str(path), zarr_format=2).create_array("v", shape=(3,), dtype="f8")
    with pytest.raises(DimensionNamesError) as info:
        xr.open_dataset(path, engine="zarr_engine", consolidated=False)
    expect(info, KeyError, "array /v has neither v3 dimension_names nor the attribute '_ARRAY_DIMENSIONS'")
    assert isinstance(info.value, MetadataError)
    assert str(info.value).startswith("array /v")


def test_array_with_wrong_number_of_dimension_names(tmp_path):
    path = tmp_path / "r.zarr"
    g = ze.create_group(str(path), zarr_format=2)
    g.create_array("v", shape=(2, 3), dtype="f8", attributes={"_ARRAY_DIMENSIONS": ["x"]})
    with pytest.raises(DimensionNamesError) as info:
        xr.open_dataset(path, engine="zarr_engine", consolidated=False)
    expect(info, KeyError, "array /v has 2 dimensions but names ('x',)")


@pytest.mark.parametrize("names", ["xy", "x", None, 5, [["x"], ["y"]]], ids=repr)
def test_dimension_names_attribute_that_is_not_a_list_of_names(tmp_path, names):
    """A hand-edited _ARRAY_DIMENSIONS that is not a list of names: xarray's zarr engine
    refuses each (ValueError or TypeError); we said ("x", "y") for the string "xy" and
    leaked a bare TypeError for null and 5."""
    path = tmp_path / "r.zarr"
    g = ze.create_group(str(path), zarr_format=2)
    g.create_array("v", shape=(2, 3), dtype="f8", attributes={"_ARRAY_DIMENSIONS": names})
    with pytest.raises((ValueError, TypeError)):
        xr.open_dataset(path, engine="zarr", consolidated=False)
    with pytest.raises(DimensionNamesError) as info:
        xr.open_dataset(path, engine="zarr_engine", consolidated=False)
    expect(info, KeyError, "array /v: attribute '_ARRAY_DIMENSIONS' must be a list of dimension names",
           f"got {names!r}")


def test_conflicting_dimension_lengths(tmp_path):
    """Appending along a dimension without a stored coordinate reads the stored dimensions,
    which must agree between arrays."""
    path = tmp_path / "r.zarr"
    g = ze.create_group(str(path), zarr_format=2)
    g.create_array("a", shape=(2,), dtype="f8", attributes={"_ARRAY_DIMENSIONS": ["x"]})
    g.create_array("b", shape=(3,), dtype="f8", attributes={"_ARRAY_DIMENSIONS": ["x"]})
    with pytest.raises(DimensionLengthError) as info:
        zx.to_zarr(xr.Dataset({"a": ("x", [1.0])}), path, append_dim="x")
    expect(info, ValueError, "conflicting lengths for dimension x (3 != 2)", "array /b", "group '/'")
    assert isinstance(info.value, MetadataError)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_opening_arrays_that_disagree_on_a_dimension_names_both(tmp_path, zarr_format):
    g = ze.open_group(str(tmp_path / "clash.zarr"), mode="w", zarr_format=zarr_format)
    kw = {"dimension_names": ["x"]} if zarr_format == 3 else {"attributes": {"_ARRAY_DIMENSIONS": ["x"]}}
    g.create_array("a", shape=(4,), dtype="f4", **kw)[...] = 1
    g.create_array("b", shape=(5,), dtype="f4", **kw)[...] = 2
    with pytest.raises(DimensionLengthError) as info:
        xr.open_dataset(str(tmp_path / "clash.zarr"), engine="zarr_engine")
    expect(info, ValueError, "conflicting sizes for dimension 'x'", "'a'", "'b'", "5", "4", "clash.zarr")
    # leaving one of them out opens the rest
    ds = xr.open_dataset(str(tmp_path / "clash.zarr"), engine="zarr_engine", drop_variables=["a"])
    assert list(ds.data_vars) == ["b"] and ds.sizes["x"] == 5


# -- a refused write leaves the store as it was --------------------------------------


def files_of(path) -> dict[str, bytes]:
    """Every file below ``path`` with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def seven_days() -> xr.Dataset:
    t = pd.date_range("2000-01-01", periods=10, freq="D")
    return xr.Dataset(
        {"a": (("time", "x"), np.arange(30.0).reshape(10, 3)), "b": (("time", "x"), np.arange(30.0).reshape(10, 3) + 100)},
        coords={"time": t},
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_refused_append_grows_no_array(tmp_path, fmt):
    """An append whose dask chunks straddle stored chunks is refused before any array
    grows; the corrected retry then leaves every array of the dimension the same length."""
    import zarr

    path = tmp_path / "ap.zarr"
    ds = seven_days()
    zx.to_zarr(ds.isel(time=slice(0, 5)).chunk(time=2), path, mode="w", zarr_format=fmt)  # stored chunks of 2
    before = files_of(path)
    with pytest.raises(AlignmentError) as info:
        zx.to_zarr(ds.isel(time=slice(5, 10)).chunk(time=2), path, append_dim="time")  # starts at 5: straddles
    expect(info, ValueError, "would overlap multiple Dask chunks")
    assert "'a'" in str(info.value) or "'b'" in str(info.value)
    assert files_of(path) == before
    zx.to_zarr(ds.isel(time=slice(5, 10)).chunk(time=5), path, append_dim="time", align_chunks=True)
    g = zarr.open_group(str(path), mode="r", use_consolidated=False)
    assert {k: a.shape[0] for k, a in g.arrays()} == {"a": 10, "b": 10, "time": 10}
    back = xr.open_zarr(str(path), consolidated=False)
    xr.testing.assert_identical(back.compute(), ds)


@pytest.mark.parametrize("fmt", FORMATS)
def test_refused_new_variable_is_not_created(tmp_path, fmt):
    """mode='a' adding a variable whose dask chunks straddle its encoding's chunks creates
    nothing, also not the numpy variable written beside it (as xarray's own writer); the
    retry with align_chunks then writes both."""
    path = tmp_path / "nv.zarr"
    ds = seven_days()
    zx.to_zarr(ds[["a"]], path, mode="w", zarr_format=fmt)
    before = files_of(path)
    new = xr.Dataset({"b": ds["b"].chunk(time=3), "c": ds["a"] * 2})  # c: numpy data, which is written at once
    with pytest.raises(AlignmentError) as info:
        zx.to_zarr(new, path, mode="a", encoding={"b": {"chunks": (4, 3)}})
    expect(info, ValueError, "'b'")
    assert files_of(path) == before
    zx.to_zarr(new, path, mode="a", encoding={"b": {"chunks": (4, 3)}}, align_chunks=True)
    back = xr.open_zarr(str(path), consolidated=False).compute()
    np.testing.assert_array_equal(back["b"].values, ds["b"].values)
    np.testing.assert_array_equal(back["c"].values, ds["a"].values * 2)
    assert back["b"].encoding["chunks"] == (4, 3)


def test_replaced_group_joins_its_parents_format(tmp_path):
    """mode='w' on a group inside a v2 store writes a v2 group (as mode='a' does), which
    both engines then read; asking for v3 there with consolidation is refused before
    anything is written."""
    import zarr

    path = tmp_path / "v2.zarr"
    ds = xr.Dataset({"a": ("x", np.arange(6.0))})
    zx.to_zarr(ds, path, mode="w", zarr_format=2)
    zx.to_zarr(ds * 2, path, group="g1", mode="w")
    assert (path / "g1" / ".zgroup").exists() and not (path / "g1" / "zarr.json").exists()
    assert zarr.open_group(str(path), mode="r").metadata.zarr_format == 2
    for back in (xr.open_zarr(str(path), group="g1"), xr.open_dataset(str(path), group="g1", engine="zarr_engine")):
        np.testing.assert_array_equal(back["a"].values, np.arange(6.0) * 2)
    before = files_of(path)
    with pytest.raises(DatasetWriteError) as info:
        zx.to_zarr(ds, path, group="g2", mode="w", zarr_format=3)
    expect(info, ValueError, "'g2'", "Zarr v3", "root group is Zarr v2", "consolidated=False")
    assert files_of(path) == before
    zx.to_zarr(ds, path, group="g2", mode="w", zarr_format=3, consolidated=False)  # not consolidated: allowed
    np.testing.assert_array_equal(xr.open_zarr(str(path / "g2"), consolidated=False)["a"].values, np.arange(6.0))


def test_v2_string_encoding_carried_into_a_fixed_length_array_is_refused_before_writing(tmp_path):
    """A v2 store of variable-length strings, reopened, carries the object codec VLenUTF8 in
    its ``filters`` encoding, while xarray encodes the text for v2 as fixed-length ``<U``.
    Writing that back used to create an array whose codecs could never encode (every
    write and read failed); it is refused before anything is stored, naming the variable and
    the filter, and without the filter the dataset round-trips as zarr-python reads it."""
    import zarr

    src = tmp_path / "src.zarr"
    ds = xr.Dataset({"s": ("x", np.array(["a", "héllo", "", "日本語"], dtype=object))})
    ds.to_zarr(src, zarr_format=2, consolidated=False)  # xarray's own writer
    opened = xr.open_dataset(src, engine="zarr_engine", consolidated=False)
    assert [f.codec_id for f in opened["s"].encoding["filters"]] == ["vlen-utf8"]
    path = tmp_path / "out.zarr"
    zx.to_zarr(xr.Dataset({"other": ("y", [1, 2])}), path, zarr_format=2)
    before = files_of(path)
    with pytest.raises(MetadataError) as info:
        zx.to_zarr(opened, path, mode="a")
    expect(info, ValueError, "'/s'", "filters[0]", "vlen-utf8", "remove it from the filters")
    assert files_of(path) == before
    del opened["s"].encoding["filters"]
    zx.to_zarr(opened, path, mode="a")
    assert zarr.open_array(str(path / "s"), mode="r").dtype == np.dtype("<U5")
    xr.testing.assert_identical(xr.open_zarr(str(path)).compute(), ds.assign(other=("y", [1, 2])))
