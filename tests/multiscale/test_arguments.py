"""Mistakes in the arguments of build_pyramid and of a pyramid's level lookups: each raises a
ZarrEngineError naming what is wrong, before anything is written, and never loses data."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from zarr_engine.errors import SelectionError
from zarr_engine.multiscale import build_pyramid, open_pyramid

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

IMAGE = (np.arange(16 * 16, dtype="u1").reshape(16, 16) % 200) + 1  # no sample equals the fill value 0


def test_a_level_out_of_range_is_refused_naming_the_levels(tmp_path):
    url = str(tmp_path / "img.zarr")
    build_pyramid(IMAGE, url, chunks=8)
    pyr = open_pyramid(url)
    for bad in (2, -3):
        with pytest.raises(SelectionError, match=f"has 2 levels \\(0 to 1\\); there is no level {bad}"):
            pyr.level_dataset(bad)
        with pytest.raises(SelectionError, match=f"there is no level {bad}"):
            pyr.to_dask(bad)
        with pytest.raises(IndexError):  # still an IndexError for code that catches one
            pyr[bad]
    with pytest.raises(SelectionError, match="a level is an integer"):
        pyr["1"]
    want = zarr.open_array(f"{url}/1", mode="r")[...]
    np.testing.assert_array_equal(pyr[-1].array[...], want)
    ds = pyr.level_dataset(-1)
    np.testing.assert_array_equal(ds["image"].values, want)
    assert ds.attrs["multiscale_level"] == 1

