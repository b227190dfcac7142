"""xarray opens N5 arrays through engine="zarr_engine": numbered dimensions, or names from an attribute."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

import zarr_engine as ze


def test_n5_array_without_names_gets_numbered_dimensions(tmp_path):
    data = np.arange(24, dtype="f4").reshape(4, 6)
    a = ze.create_array(str(tmp_path / "c.n5"), path="vol", shape=data.shape, chunks=(3, 4), dtype="f4",
                        zarr_format="n5", attributes={"units": "K"})
    a[...] = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no advice to consolidate: N5 has no consolidated form
        ds = xr.open_dataset(str(tmp_path / "c.n5"), engine="zarr_engine")
    assert ds["vol"].dims == ("dim_0", "dim_1")
    np.testing.assert_array_equal(ds["vol"].values, data)
    assert ds["vol"].attrs == {"units": "K"}
    lazy = xr.open_dataset(str(tmp_path / "c.n5"), engine="zarr_engine", chunks={})
    assert lazy["vol"].chunks == ((3, 1), (4, 2))  # one dask task per stored block
    np.testing.assert_array_equal(lazy["vol"][1:3, ::2].values, data[1:3, ::2])


def test_n5_dimension_names_from_an_attribute(tmp_path):
    data = np.arange(6, dtype="i2").reshape(2, 3)
    a = ze.create_array(str(tmp_path / "n.n5"), path="t", shape=data.shape, dtype="i2", zarr_format="n5",
                        attributes={"_ARRAY_DIMENSIONS": ["y", "x"], "long_name": "t"})
    a[...] = data
    ds = xr.open_dataset(str(tmp_path / "n.n5"), engine="zarr_engine")
    assert ds["t"].dims == ("y", "x")
    assert ds["t"].attrs == {"long_name": "t"}  # the names are not repeated as an attribute
    np.testing.assert_array_equal(ds["t"].values, data)
