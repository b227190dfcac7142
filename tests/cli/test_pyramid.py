"""``zarr-engine pyramid`` onto its own source, or onto an existing image: refused before anything is written."""

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


@pytest.mark.parametrize("dst, says", [("img.zarr", "holds SRC"), ("img.zarr/raw", "same node"),
                                       ("img.zarr/raw/pyr", "is inside SRC")])
@pytest.mark.parametrize("overwrite", [True, False])
def test_pyramid_refuses_a_destination_that_is_or_holds_its_source(run, image, tmp_path, monkeypatch, dst, says,
                                                                   overwrite):
    monkeypatch.chdir(tmp_path)
    r = run("pyramid", "img.zarr/raw", dst, "--no-progress", *(["--overwrite"] if overwrite else []))
    assert r.code == 2 and says in r.err, r.err
    g = zarr.open_group(str(image), mode="r")
    assert sorted(g.keys()) == ["raw"]
    np.testing.assert_array_equal(g["raw"][...], IMAGE)


def test_pyramid_onto_an_existing_node_gives_the_command_line_hint_once(run, image, tmp_path):
    dst = tmp_path / "out.zarr"
    assert run("pyramid", image / "raw", dst, "--levels", "2", "--no-progress").code == 0
    r = run("pyramid", image / "raw", dst, "--levels", "2", "--no-progress")
    assert r.code == 2 and "already exists at /" in r.err
    assert "overwrite=True" not in r.err and r.err.count("--overwrite") == 1
    # a label image of that name exists: the multiscale module's hint is replaced too
    assert run("pyramid", image / "raw", dst, "--label", "seg", "--no-progress").code == 0
    r = run("pyramid", image / "raw", dst, "--label", "seg", "--no-progress")
    assert r.code == 2 and "already has a label image 'seg'" in r.err
    assert "overwrite=True" not in r.err and r.err.count("--overwrite") == 1
    # a label image made from a level of the image it is added to goes beside that level: no overlap
    r = run("pyramid", dst / "0", dst, "--label", "cells", "--no-progress")
    assert r.code == 0, r.err
    g = zarr.open_group(str(dst), mode="r")
    np.testing.assert_array_equal(g["0"][...], IMAGE)
    np.testing.assert_array_equal(g["labels/cells/0"][...], IMAGE)


def test_a_label_image_without_scale_lies_where_its_image_lies(run, image, tmp_path):
    dst = tmp_path / "out.zarr"
    assert run("pyramid", image / "raw", dst, "--chunks", "16", "--scale", "0.5,0.25", "--no-progress").code == 0
    r = run("pyramid", image / "raw", dst, "--label", "seg", "--chunks", "16", "--no-progress")
    assert r.code == 0, r.err

    def datasets(path):
        return zarr.open_group(str(path), mode="r").attrs["ome"]["multiscales"][0]["datasets"]

    image_levels, label_levels = datasets(dst), datasets(dst / "labels/seg")
    assert len(image_levels) == len(label_levels) == 3
    assert [d["coordinateTransformations"] for d in label_levels] == [
        d["coordinateTransformations"] for d in image_levels]
    assert image_levels[1]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 0.5]}, {"type": "translation", "translation": [0.25, 0.125]}]
