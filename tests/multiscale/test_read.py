"""Reading pyramids back: levels with placement, xarray datasets with physical coordinates,
and the block functions' edge cases (rounding, wide integers, ties)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.multiscale.reference import ref_mean, ref_mode
from zarr_engine.errors import MetadataError
from zarr_engine.multiscale import build_pyramid, downsample_block, open_pyramid
from zarr_engine.multiscale.axes import parse_transforms


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_level_dataset_has_physical_coordinates(tmp_path, zarr_format):
    data = np.arange(2 * 30 * 41, dtype="uint16").reshape(2, 30, 41)
    url = str(tmp_path / "img.zarr")
    build_pyramid(data, url, axes="cyx", scale=(1.0, 0.5, 0.25), translation=(0.0, 10.0, -4.0), units="nanometer",
                  chunks=8, zarr_format=zarr_format, name="raw")
    pyr = open_pyramid(url)
    ds = pyr.level_dataset(1)
    assert list(ds.data_vars) == ["raw"]
    assert ds["raw"].dims == ("c", "y", "x")
    assert ds.sizes == {"c": 2, "y": 15, "x": 20}
    # level 1 of a 2-sample mean: spacing doubles, origin moves half an old sample
    np.testing.assert_allclose(ds["y"].values, 10.0 + 0.25 + 1.0 * np.arange(15))
    np.testing.assert_allclose(ds["x"].values, -4.0 + 0.125 + 0.5 * np.arange(20))
    assert ds["y"].attrs["units"] == "nanometer"
    assert "c" not in ds.coords  # a channel axis has no physical coordinate
    np.testing.assert_array_equal(ds["raw"].values, pyr[1].array[...])
    assert ds["raw"].chunks is not None  # lazy, dask-backed
    # selecting by physical position lands on the sample that sits there
    assert int(ds["raw"].sel(c=0, y=10.25, x=-3.875).values) == int(pyr[1].array[0, 0, 0])


def test_pyramid_from_a_foreign_writer_without_dimension_names(tmp_path):
    zarr = pytest.importorskip("zarr")
    url = str(tmp_path / "foreign.zarr")
    g = zarr.open_group(url, mode="w", zarr_format=3)
    g.create_array("s0", shape=(8, 6), dtype="u1")[...] = np.arange(48, dtype="u1").reshape(8, 6)
    g.create_array("s1", shape=(4, 3), dtype="u1")[...] = 7
    g.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": [{"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1]}]},
                     {"path": "s1", "coordinateTransformations": [{"type": "scale", "scale": [2, 2]}]}],
        "coordinateTransformations": [{"type": "scale", "scale": [3, 0.5]}]}]}
    pyr = open_pyramid(url)
    assert [lev.path for lev in pyr] == ["s0", "s1"]
    assert pyr[1].scale == (6.0, 1.0)  # dataset scale, then the multiscale's own
    ds = pyr.level_dataset(0)
    np.testing.assert_allclose(ds["x"].values, 0.5 * np.arange(6))
    assert int(ds["image"][7, 5]) == 47


def test_open_pyramid_refuses_a_plain_group(tmp_path):
    import zarr_engine as ze

    ze.create_group(str(tmp_path / "g.zarr"))
    with pytest.raises(MetadataError, match="not a multiscale image"):
        open_pyramid(str(tmp_path / "g.zarr"))


def test_transforms_compose_in_order():
    scale, trans = parse_transforms(
        [{"type": "translation", "translation": [1, 2]}, {"type": "scale", "scale": [2, 3]}], 2, "here")
    assert scale == (2.0, 3.0) and trans == (2.0, 6.0)
    with pytest.raises(MetadataError, match="2 values for 3 axes"):
        parse_transforms([{"type": "scale", "scale": [1, 1]}], 3, "here")


def test_integer_mean_rounds_half_up_and_wide_integers_are_exact():
    block = np.array([[1, 2], [2, 2]], dtype="uint8")  # mean 1.75
    assert downsample_block(block, (2, 2), "mean")[0, 0] == 2
    block = np.array([[1, 2], [1, 2]], dtype="int16")  # mean 1.5 -> 2, and -1.5 -> -1
    assert downsample_block(block, (2, 2), "mean")[0, 0] == 2
    assert downsample_block(-block, (2, 2), "mean")[0, 0] == -1
    big = np.array([[2**63 - 1, 2**63 - 3], [2**63 - 1, 2**63 - 1]], dtype="int64")
    assert downsample_block(big, (2, 2), "mean")[0, 0] == 2**63 - 1  # 2**63 - 1.5 rounds up; no overflow
    u = np.array([2**64 - 1, 2**64 - 2], dtype="uint64")
    assert downsample_block(u, (2,), "mean")[0] == 2**64 - 1
    rng = np.random.default_rng(0)
    for dtype in ("int8", "uint32", "int64", "float64"):
        a = (rng.integers(-100, 100, (9, 7)) if dtype[0] != "u" else rng.integers(0, 2**32, (9, 7))).astype(dtype)
        np.testing.assert_array_equal(downsample_block(a, (2, 3), "mean"), ref_mean(a, (2, 3)))


def test_mode_takes_the_smallest_of_tied_values():
    block = np.array([[5, 3], [3, 5]], dtype="uint16")
    assert downsample_block(block, (2, 2), "mode")[0, 0] == 3
    block = np.array([[9, 9, 1, 2]], dtype="int32")
    assert downsample_block(block, (1, 4), "mode")[0, 0] == 9
    a = np.random.default_rng(1).integers(0, 3, (12, 10)).astype("uint8")
    np.testing.assert_array_equal(downsample_block(a, (3, 2), "mode"), ref_mode(a, (3, 2)))
