"""Mistakes in the arguments of build_pyramid and of a pyramid's level lookups: each raises a
ZarrEngineError naming what is wrong, before anything is written, and never loses data."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from zarr_engine.errors import ArgumentError, DTypeError, SelectionError
from zarr_engine.multiscale import build_pyramid, open_pyramid

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

IMAGE = (np.arange(16 * 16, dtype="u1").reshape(16, 16) % 200) + 1  # no sample equals the fill value 0


@pytest.fixture
def raw(tmp_path):
    """The common layout: img.zarr is a group holding the source array raw."""
    g = ze.create_group(str(tmp_path / "img.zarr"))
    g.create_array("raw", shape=IMAGE.shape, chunks=(4, 4), dtype="u1")[...] = IMAGE
    return tmp_path / "img.zarr"


def _source_is_intact(group_url) -> None:
    g = zarr.open_group(str(group_url), mode="r")
    assert sorted(g.keys()) == ["raw"]
    np.testing.assert_array_equal(g["raw"][...], IMAGE)


@pytest.mark.parametrize("as_path", [False, True])
@pytest.mark.parametrize("target, says", [("", "holds the source array"), ("raw", "would replace the source"),
                                          ("raw/pyr", "lies inside the source array")])
def test_a_target_that_is_holds_or_lies_inside_the_source_is_refused(raw, target, says, as_path):
    src = str(raw / "raw") if as_path else ze.open_array(str(raw / "raw"), mode="r")
    dst = str(raw / target) if target else str(raw)
    with pytest.raises(ArgumentError, match=says) as info:
        build_pyramid(src, dst, overwrite=True, chunks=4)
    # both places are named
    assert str(raw / "raw") in str(info.value) and str(info.value).count("LocalStore(") == 2
    _source_is_intact(raw)


def test_a_label_image_whose_group_holds_its_source_is_refused(tmp_path):
    url = tmp_path / "img.zarr"
    build_pyramid(IMAGE, str(url), chunks=8)
    build_pyramid(IMAGE.astype("u4"), str(url), labels=True, name="cells", chunks=8)
    before = zarr.open_group(str(url / "labels/cells"), mode="r")["0"][...]
    np.testing.assert_array_equal(before, IMAGE)
    says = r"label image at /labels/cells in .* holds the source array / in .*cells/0"
    with pytest.raises(ArgumentError, match=says):
        build_pyramid(str(url / "labels/cells/0"), str(url), labels=True, name="cells", overwrite=True, chunks=8)
    np.testing.assert_array_equal(zarr.open_group(str(url / "labels/cells"), mode="r")["0"][...], IMAGE)
    # a level of the image is beside labels/<name>, not in it: that one is allowed
    pyr = build_pyramid(str(url / "0"), str(url), labels=True, name="copy", chunks=8)
    np.testing.assert_array_equal(zarr.open_array(str(url / "labels/copy/0"), mode="r")[...], IMAGE)
    assert len(pyr) == 2


def test_a_target_beside_the_source_in_its_group_is_built(raw):
    pyr = build_pyramid(str(raw / "raw"), str(raw / "pyr"), chunks=8)
    np.testing.assert_array_equal(zarr.open_array(str(raw / "pyr/0"), mode="r")[...], IMAGE)
    assert len(pyr) == 2


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_label_image_lies_where_its_image_lies_at_every_level(tmp_path, zarr_format):
    url = tmp_path / "img.zarr"
    build_pyramid(np.zeros((32, 32), "u2"), str(url), chunks=8, scale=(0.5, 0.25), translation=(100.0, -200.0),
                  units="micrometer", zarr_format=zarr_format)
    build_pyramid(np.zeros((32, 32), "u4"), str(url), labels=True, name="cells", chunks=8)

    def datasets(path):
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
        ms = attrs["ome"]["multiscales"] if zarr_format == 3 else attrs["multiscales"]
        return ms[0]["datasets"]

    image, label = datasets(url), datasets(url / "labels/cells")
    assert [d["path"] for d in label] == [d["path"] for d in image] == ["0", "1", "2"]
    for im, lab in zip(image, label):
        assert lab["coordinateTransformations"] == im["coordinateTransformations"]
    # written out: level 2 is a mean of 4x4 samples, half a window minus half a sample past level 0
    assert image[2]["coordinateTransformations"] == [
        {"type": "scale", "scale": [2.0, 1.0]}, {"type": "translation", "translation": [100.75, -199.625]}]
    # a label image told its own placement keeps it
    build_pyramid(np.zeros((32, 32), "u4"), str(url), labels=True, name="moved", chunks=8, scale=1.0,
                  translation=0.0)
    assert datasets(url / "labels/moved")[0]["coordinateTransformations"] == [{"type": "scale", "scale": [1.0, 1.0]}]


BAD = {
    "method": (dict(method="max"), ArgumentError, "method must be one of mean, nearest, mode; got 'max'"),
    "units": (dict(units=5), ArgumentError, "units must be one unit name"),
    "units axis": (dict(units={"q": "micrometer"}), ArgumentError, r"units names axes \['q'\]"),
    "chunks 0": (dict(chunks=0), ArgumentError, "chunks must be positive integers"),
    "chunks -4": (dict(chunks=-4), ArgumentError, "chunks must be positive integers"),
    "chunks 2.5": (dict(chunks=(4, 2.5)), ArgumentError, "chunks must be positive integers"),
    "factor 2.5": (dict(chunks=4, factor=2.5), ArgumentError, "factor must be positive integers"),
    "factor 0": (dict(chunks=4, factor=0), ArgumentError, "factor must be positive integers"),
    "levels 0": (dict(levels=0), ArgumentError, "levels must be a whole number of at least 1"),
    "scale nan": (dict(scale=float("nan")), ArgumentError, "scale must be finite numbers above zero"),
    "scale inf": (dict(scale=(1.0, float("inf"))), ArgumentError, "scale must be finite numbers above zero"),
    "scale 0": (dict(scale=0), ArgumentError, "scale must be finite numbers above zero"),
    "scale -1": (dict(scale=(1.0, -1.0)), ArgumentError, "scale must be finite numbers above zero"),
    "translation nan": (dict(translation=float("nan")), ArgumentError, "translation must be finite numbers"),
    "shards": (dict(chunks=4, shards=6), ArgumentError, r"shards \(6, 6\) must be whole multiples of chunks \(4, 4\)"),
    "shards 0": (dict(chunks=4, shards=0), ArgumentError, "shards must be positive integers"),
    "fill value": (dict(fill_value="abc"), DTypeError, "fill_value 'abc'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_argument_is_refused_before_anything_is_written(tmp_path, case):
    kwargs, error, says = BAD[case]
    target = tmp_path / "out.zarr"
    with pytest.raises(error, match=says):
        build_pyramid(IMAGE, str(target), **kwargs)
    assert not target.exists()


@pytest.mark.parametrize("dtype", ["complex64", "datetime64[s]"])
def test_mean_of_a_type_it_cannot_add_up_is_refused_before_anything_is_written(tmp_path, dtype):
    data = np.arange(64).reshape(8, 8).astype(dtype)
    target = tmp_path / "out.zarr"
    says = rf"method 'mean' needs .*this source is {re.escape(dtype)} .*'nearest' or 'mode'"
    with pytest.raises(DTypeError, match=says):
        build_pyramid(data, str(target), chunks=2)
    assert not target.exists()
    # the methods it names do build it, and level 1 is every other sample as numpy takes it
    build_pyramid(data, str(target), chunks=2, method="nearest")
    np.testing.assert_array_equal(zarr.open_array(str(target / "1"), mode="r")[...], data[::2, ::2])


def test_a_label_image_needs_a_name_and_leaves_the_image_alone(tmp_path):
    url = tmp_path / "img.zarr"
    build_pyramid(IMAGE, str(url), chunks=8)
    before = sorted(os.listdir(url))
    with pytest.raises(ArgumentError, match="labels=True needs name="):
        build_pyramid(IMAGE.astype("u4"), str(url), labels=True)
    assert sorted(os.listdir(url)) == before and "labels" not in zarr.open_group(str(url), mode="r")


def test_the_written_metadata_is_strict_json(tmp_path):
    url = tmp_path / "img.zarr"
    build_pyramid(IMAGE, str(url), chunks=4, scale=(0.5, 2.0), translation=(-3.0, 1e-3), factor=2.0)

    def refuse(token):
        raise AssertionError(f"{token} is not JSON")

    doc = json.loads((url / "zarr.json").read_text(), parse_constant=refuse)
    datasets = doc["attributes"]["ome"]["multiscales"][0]["datasets"]
    assert [zarr.open_array(str(url / d["path"]), mode="r").shape for d in datasets] == [(16, 16), (8, 8), (4, 4)]


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

