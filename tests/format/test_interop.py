"""Metadata written by zarr-python parses with us, and what we write back zarr-python reads the same."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from zarr_engine.format import METADATA_KEYS, ArrayMetadata, parse_node, to_documents, to_json_documents

from .conftest import write_docs, zp_canonical, zp_create

pytestmark = pytest.mark.filterwarnings("ignore::Warning")

# (dtype as given to zarr-python, fill values to try: None = its default)
MATRIX = [
    ("bool", [None, True]),
    ("int8", [None, -5]),
    ("uint8", [None, 255]),
    ("<i2", [None, -300]),
    (">i4", [None, 7]),
    ("<u8", [None, 2**64 - 1]),
    ("int64", [None, -(2**63)]),
    ("float16", [None, float("nan"), 1.5]),
    ("<f4", [None, float("nan"), float("inf"), -2.5]),
    (">f8", [None, float("-inf"), 1e300]),
    ("complex64", [None, complex(float("nan"), 1)]),
    (">c16", [None, complex(1.5, float("-inf"))]),
    ("str", [None, "hi"]),
    ("M8[s]", [None, np.datetime64("2020-01-01T00:00:00")]),
    ("m8[10ms]", [None, np.timedelta64(30, "ms")]),
    ("U7", [None, "abc"]),
    ("S3", [None, b"ab"]),
    ("V3", [None, b"abc"]),
]
CASES = [(fmt, dt, fv) for dt, fills in MATRIX for fv in fills for fmt in (2, 3)]


def _kwargs(dtype, fill, fmt):
    kw = dict(shape=(5, 4), chunks=(2, 3), dtype=dtype, zarr_format=fmt, attributes={"k": [1, "x"]})
    if fill is not None:
        kw["fill_value"] = fill
    if fmt == 3:
        kw["dimension_names"] = ["y", None]
    return kw


@pytest.mark.parametrize("fmt, dtype, fill", CASES, ids=lambda v: repr(v))
def test_parse_zarr_python_array_and_write_back(tmp_path, fmt, dtype, fill):
    import zarr

    docs = zp_create(tmp_path / "zp", **_kwargs(dtype, fill, fmt))
    meta = parse_node(docs, "zp")
    assert isinstance(meta, ArrayMetadata)
    assert meta.zarr_format == fmt
    assert meta.shape == (5, 4) and meta.chunk_shape == (2, 3)
    assert meta.attributes["k"] == [1, "x"]
    zp = zarr.open_array(store=str(tmp_path / "zp"), mode="r")
    # dtype: same kind/size as zarr-python's in-memory one (object for its StringDType)
    if zp.dtype.kind in "OT":
        assert meta.data_type.is_object
    else:
        assert meta.dtype.newbyteorder("=") == zp.dtype.newbyteorder("=")
    # fill value
    theirs = zp.metadata.fill_value
    ours = meta.fill_value
    if isinstance(theirs, (float, np.floating)) and math.isnan(theirs):
        assert np.isnan(ours)
    elif isinstance(theirs, (complex, np.complexfloating)):
        assert json.dumps(meta.data_type.fill_value_to_json(ours, fmt)) == json.dumps(
            list(zp.metadata.dtype.to_json_scalar(theirs, zarr_format=fmt))
        )
    elif isinstance(theirs, (np.datetime64, np.timedelta64)) and np.isnat(theirs):
        assert np.isnat(ours)
    elif isinstance(theirs, np.void):
        assert ours.tobytes() == theirs.tobytes()
    else:
        assert ours == theirs
    # codec chain
    names = [c["name"] for c in meta.codecs]
    if fmt == 3:
        assert meta.dimension_names == ("y", None)
        assert names == [c.to_dict()["name"] for c in zp.metadata.codecs]
    else:
        assert names[-1] == "numcodecs.zstd"
        assert names[0] == ("vlen-utf8" if dtype == "str" else "bytes")
    # what we write back is, as JSON, exactly what zarr-python wrote
    ours_docs = to_json_documents(meta)
    assert set(ours_docs) == set(docs)  # v2: the .zattrs too, {} as zarr-python writes it
    for key, raw in docs.items():
        assert ours_docs[key] == json.loads(raw), key
    # and zarr-python reading our bytes makes the same metadata as its own
    write_docs(tmp_path / "ours", to_documents(meta))
    assert zp_canonical(tmp_path / "ours") == zp_canonical(tmp_path / "zp")


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("order", ["C", "F"])
def test_order_becomes_transpose_in_v2_only(tmp_path, fmt, order):
    docs = zp_create(tmp_path / "a", shape=(4, 5, 6), chunks=(2, 2, 2), dtype="<i4", order=order, zarr_format=fmt)
    meta = parse_node(docs, "a")
    if fmt == 2 and order == "F":
        assert meta.codecs[0] == {"name": "transpose", "configuration": {"order": [2, 1, 0]}}
        assert meta.order == "F"
    else:
        assert meta.codecs[0]["name"] == "bytes"
        assert meta.order == "C"


def test_group_round_trip(tmp_path):
    import zarr

    for fmt in (2, 3):
        folder = tmp_path / f"g{fmt}"
        zarr.create_group(store=str(folder), zarr_format=fmt, attributes={"a": 1, "nested": {"b": [1, 2]}})
        docs = {k: (folder / k).read_bytes() for k in METADATA_KEYS if (folder / k).exists()}
        meta = parse_node(docs, "")
        assert meta.node_type == "group" and meta.zarr_format == fmt
        assert meta.attributes == {"a": 1, "nested": {"b": [1, 2]}}
        write_docs(tmp_path / f"ours{fmt}", to_documents(meta))
        assert zp_canonical(tmp_path / f"ours{fmt}") == zp_canonical(folder)
        if fmt == 3:
            assert to_documents(meta)["zarr.json"] == docs["zarr.json"]  # byte for byte


def test_bytes_are_indented_like_zarr_python(tmp_path):
    docs = zp_create(tmp_path / "a", shape=(3,), dtype="<f8", zarr_format=3, fill_value=float("nan"))
    assert to_documents(parse_node(docs, "a"))["zarr.json"] == docs["zarr.json"]
    docs2 = zp_create(tmp_path / "b", shape=(3,), dtype=">i2", zarr_format=2)
    assert to_documents(parse_node(docs2, "b"))[".zarray"] == docs2[".zarray"]


def test_sharded_and_structured_v3(tmp_path):
    docs = zp_create(tmp_path / "s", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="<f4", zarr_format=3)
    meta = parse_node(docs, "s")
    assert meta.chunk_shape == (4, 4)  # the regular grid is the shard grid
    assert meta.codecs[0]["name"] == "sharding_indexed"
    assert meta.codecs[0]["configuration"]["chunk_shape"] == [2, 2]
    assert to_documents(meta)["zarr.json"] == docs["zarr.json"]
    sdt = np.dtype([("a", "<i4"), ("b", "<f8")])
    docs = zp_create(tmp_path / "t", shape=(4,), dtype=sdt, zarr_format=3, fill_value=b"\x01" * 12)
    meta = parse_node(docs, "t")
    assert meta.dtype == sdt and meta.fill_value.tobytes() == b"\x01" * 12
    assert to_documents(meta)["zarr.json"] == docs["zarr.json"]


NONFINITE_ATTRS = {
    "missing_value": float("nan"),
    "valid_range": [float("-inf"), float("inf")],
    "nested": {"list": [1.5, float("nan"), [float("inf")]], "text": "NaN"},
}


@pytest.mark.parametrize("fmt", [2, 3])
def test_nonfinite_attributes_are_written_byte_for_byte_as_zarr_python_writes_them(tmp_path, fmt):
    import zarr

    zarr.create_group(store=str(tmp_path / "g"), zarr_format=fmt, attributes=NONFINITE_ATTRS)
    zp_create(tmp_path / "g" / "a", shape=(2,), dtype="<f4", fill_value=float("nan"), zarr_format=fmt,
              attributes=NONFINITE_ATTRS, compressors=None)
    for folder in (tmp_path / "g", tmp_path / "g" / "a"):
        docs = {k: (folder / k).read_bytes() for k in METADATA_KEYS if (folder / k).exists()}
        meta = parse_node(docs, folder.name)
        assert math.isnan(meta.attributes["missing_value"])  # a float, not the string "NaN"
        assert meta.attributes["valid_range"] == [-math.inf, math.inf]
        ours = to_documents(meta)
        assert ours == docs  # bare NaN/Infinity in attributes, the fill value still "NaN"
    theirs = zarr.open_array(store=str(tmp_path / "g" / "a"), mode="r")
    assert math.isnan(theirs.attrs["nested"]["list"][1]) and theirs.attrs["nested"]["text"] == "NaN"


def test_n5_attributes_keep_nonfinite_floats_as_strings_that_tensorstore_opens(tmp_path):
    # tensorstore's N5 driver (like Java's N5 readers) refuses bare NaN/Infinity tokens, which
    # zarr documents carry; attributes.json keeps the strings, strict JSON
    ts = pytest.importorskip("tensorstore")
    import zarr_engine as ze

    data = np.array([1.5, np.nan, -2.0], dtype="float32")
    arr = ze.create_array(str(tmp_path / "a"), shape=(3,), chunks=(2,), dtype="float32", zarr_format="n5",
                          attributes={"missing": float("nan"), "range": [float("-inf"), float("inf")]})
    arr[...] = data
    doc = json.loads((tmp_path / "a" / "attributes.json").read_text())
    assert doc["missing"] == "NaN" and doc["range"] == ["-Infinity", "Infinity"]
    opened = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / "a")}}).result()
    np.testing.assert_array_equal(opened.read().result(), data)
