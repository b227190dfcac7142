"""The metadata: values of the NGFF documents we write, validation by ome-zarr-models,
and other readers (ome-zarr's reader, ngff-zarr) reading every level equal to ours."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zarr_engine.errors import DTypeError, MetadataError
from zarr_engine.multiscale import build_pyramid, normalize_axes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def _volume(shape=(9, 40, 36), dtype="uint16", seed=0):
    return np.random.default_rng(seed).integers(0, 4000, shape).astype(dtype)


def _labels(shape, seed=1):
    return np.random.default_rng(seed).integers(0, 5, shape).astype("uint32")


def test_v3_document_holds_ome_05_axes_scales_and_translations(tmp_path):
    url = tmp_path / "img.zarr"
    build_pyramid(_volume(), str(url), chunks=(4, 16, 16), scale=(2.0, 0.5, 0.25), units="micrometer", name="vol")
    doc = json.loads((url / "zarr.json").read_text())
    ome = doc["attributes"]["ome"]
    assert ome["version"] == "0.5"
    (ms,) = ome["multiscales"]
    assert "version" not in ms  # 0.5 keeps the version on the ome object only
    assert ms["name"] == "vol"
    assert ms["axes"] == [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]
    assert ms["datasets"][0]["coordinateTransformations"] == [{"type": "scale", "scale": [2.0, 0.5, 0.25]}]
    # mean of 2 samples: the new sample sits half an old sample past the first old one
    assert ms["datasets"][1]["coordinateTransformations"] == [
        {"type": "scale", "scale": [4.0, 1.0, 0.5]}, {"type": "translation", "translation": [1.0, 0.25, 0.125]}]
    assert ms["datasets"][2]["coordinateTransformations"][1]["translation"] == [3.0, 0.75, 0.375]
    level = json.loads((url / "1" / "zarr.json").read_text())
    assert level["dimension_names"] == ["z", "y", "x"]


def test_v2_document_holds_ngff_04_and_nearest_has_no_translation(tmp_path):
    url = tmp_path / "img.zarr"
    build_pyramid(_volume(), str(url), chunks=16, zarr_format=2, method="nearest")
    attrs = json.loads((url / ".zattrs").read_text())
    (ms,) = attrs["multiscales"]
    assert ms["version"] == "0.4"
    assert ms["type"] == "nearest"
    for ds in ms["datasets"]:
        assert [t["type"] for t in ds["coordinateTransformations"]] == ["scale"]
    assert json.loads((url / "0" / ".zattrs").read_text())["_ARRAY_DIMENSIONS"] == ["z", "y", "x"]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ome_zarr_models_validates_image_and_labels(tmp_path, zarr_format):
    zarr = pytest.importorskip("zarr")
    models = pytest.importorskip("ome_zarr_models")
    url = str(tmp_path / "img.zarr")
    data = _volume((2, 9, 40, 36))
    pyr = build_pyramid(data, url, axes=[{"name": "c", "type": "channel"}, "z", "y", "x"], chunks=(1, 4, 16, 16),
                        zarr_format=zarr_format, units={"z": "micrometer", "y": "micrometer", "x": "micrometer"})
    build_pyramid(_labels((9, 40, 36)), url, labels=True, name="cells", axes="zyx", chunks=(4, 16, 16),
                  colors=[{"label-value": 1, "rgba": [255, 0, 0, 255]}])
    version = {2: "v04", 3: "v05"}[zarr_format]
    image_cls = getattr(models, version).image.Image
    model = models.open_ome_zarr(zarr.open_group(url, mode="r"))
    assert isinstance(model, image_cls)
    ms = model.attributes.ome.multiscales[0] if zarr_format == 3 else model.attributes.multiscales[0]
    assert [d.path for d in ms.datasets] == [lev.path for lev in pyr]
    label_mod = getattr(models, version).image_label.ImageLabel
    label = label_mod.from_zarr(zarr.open_group(f"{url}/labels/cells", mode="r"))
    assert len(label.ome_attributes.multiscales[0].datasets) == len(pyr)  # mirrors the image
    labels_mod = getattr(models, version).labels.Labels
    listing = labels_mod.from_zarr(zarr.open_group(f"{url}/labels", mode="r"))
    names = listing.attributes.ome.labels if zarr_format == 3 else listing.attributes.labels
    assert list(names) == ["cells"]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ome_zarr_reader_reads_every_level_equal_to_ours(tmp_path, zarr_format):
    reader = pytest.importorskip("ome_zarr.reader")
    io = pytest.importorskip("ome_zarr.io")
    url = str(tmp_path / "img.zarr")
    pyr = build_pyramid(_volume((3, 2, 5, 40, 36), "uint8"), url, chunks=(1, 1, 4, 16, 16), zarr_format=zarr_format)
    build_pyramid(_labels((3, 2, 5, 40, 36)), url, labels=True, name="seg", chunks=(1, 1, 4, 16, 16))
    nodes = list(reader.Reader(io.parse_url(url))())
    image = nodes[0]
    assert len(image.data) == len(pyr)
    for theirs, ours in zip(image.data, pyr):
        np.testing.assert_array_equal(np.asarray(theirs), ours.array[...])
    seg = [n for n in nodes if n.zarr.path.rstrip("/").endswith("labels/seg")]
    assert seg and len(seg[0].data) == len(pyr)
    np.testing.assert_array_equal(np.asarray(seg[0].data[1]), pyr.label("seg")[1].array[...])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ngff_zarr_reads_every_level_with_our_scales(tmp_path, zarr_format):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    url = str(tmp_path / "img.zarr")
    pyr = build_pyramid(_volume((9, 40, 36), "float32"), url, chunks=(4, 16, 16), scale=(3.0, 1.0, 1.0),
                        zarr_format=zarr_format)
    ms = ngff_zarr.from_ngff_zarr(url)
    assert len(ms.images) == len(pyr)
    for img, lev in zip(ms.images, pyr):
        np.testing.assert_array_equal(np.asarray(img.data), lev.array[...])
        assert tuple(img.scale[d] for d in "zyx") == lev.scale
        assert tuple(img.translation[d] for d in "zyx") == lev.translation


def test_axes_rules_and_argument_errors(tmp_path):
    assert [a.name for a in normalize_axes(None, 4)] == list("czyx")
    assert [a.type for a in normalize_axes(None, 5)] == ["time", "channel", "space", "space", "space"]
    with pytest.raises(MetadataError, match="time axis must come first"):
        normalize_axes("ctyx", 4)
    with pytest.raises(MetadataError, match="2 or 3 space axes"):
        normalize_axes("tcx", 3)
    with pytest.raises(MetadataError, match="2 to 5"):
        normalize_axes(None, 6)
    with pytest.raises(MetadataError, match="shards need zarr_format=3"):
        build_pyramid(_volume(), str(tmp_path / "a.zarr"), shards=32, zarr_format=2)
    with pytest.raises(ValueError, match="method must be one of"):
        build_pyramid(_volume(), str(tmp_path / "b.zarr"), method="gaussian")
    build_pyramid(_volume(), str(tmp_path / "c.zarr"), chunks=16)
    with pytest.raises(DTypeError, match="integers"):
        build_pyramid(_volume().astype("f4"), str(tmp_path / "c.zarr"), labels=True, name="x")
    with pytest.raises(FileExistsError):
        build_pyramid(_volume(), str(tmp_path / "c.zarr"), chunks=16)
    build_pyramid(_volume(seed=4), str(tmp_path / "c.zarr"), chunks=16, overwrite=True)
