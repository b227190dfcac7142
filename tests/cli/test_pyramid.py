"""``zarr-engine pyramid`` onto its own source: refused before anything is written."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import zarr_engine as ze

IMAGE = np.arange(64 * 48, dtype="u1").reshape(64, 48)


@pytest.fixture
def image(tmp_path):
    """A v3 group img.zarr holding the array /raw."""
    g = ze.create_group(str(tmp_path / "img.zarr"))
    g.create_array("raw", shape=IMAGE.shape, chunks=(32, 32), dtype="u1")[...] = IMAGE
    return tmp_path / "img.zarr"


@pytest.mark.parametrize("dst, says", [("img.zarr", "holds SRC"), ("img.zarr/raw", "same node")])
@pytest.mark.parametrize("overwrite", [True, False])
def test_pyramid_refuses_a_destination_that_is_or_holds_its_source(run, image, tmp_path, monkeypatch, dst, says,
                                                                   overwrite):
    monkeypatch.chdir(tmp_path)
    r = run("pyramid", "img.zarr/raw", dst, "--no-progress", *(["--overwrite"] if overwrite else []))
    assert r.code == 2 and says in r.err, r.err
    g = zarr.open_group(str(image), mode="r")
    assert sorted(g.keys()) == ["raw"]
    np.testing.assert_array_equal(g["raw"][...], IMAGE)

