"""parse_node, v3 and v2 parsing: what is accepted, and the errors for what is not."""

from __future__ import annotations

import copy
import json
import math

import pytest

from zarr_engine.errors import MetadataError, NodeNotFoundError, UnsupportedError
from zarr_engine.format import ChunkKeyEncoding, GroupMetadata, parse_node, to_json_documents

V3_ARRAY = {
    "shape": [10, 10],
    "data_type": "int16",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5, 5]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": 0,
    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    "attributes": {},
    "zarr_format": 3,
    "node_type": "array",
    "storage_transformers": [],
}
V2_ARRAY = {
    "shape": [10, 10],
    "chunks": [5, 5],
    "dtype": ">f8",
    "fill_value": "NaN",
    "order": "F",
    "filters": [{"id": "delta", "dtype": ">f8"}, {"id": "shuffle", "elementsize": 8}],
    "dimension_separator": "/",
    "compressor": {"id": "zlib", "level": 1},
    "zarr_format": 2,
}


def v3(**changes):
    doc = copy.deepcopy(V3_ARRAY)
    for k, v in changes.items():
        if v is ...:
            del doc[k]
        else:
            doc[k] = v
    return {"zarr.json": json.dumps(doc).encode()}


def v2(zattrs=None, **changes):
    doc = copy.deepcopy(V2_ARRAY)
    for k, v in changes.items():
        if v is ...:
            del doc[k]
        else:
            doc[k] = v
    docs = {".zarray": json.dumps(doc).encode()}
    if zattrs is not None:
        docs[".zattrs"] = json.dumps(zattrs).encode()
    return docs


def test_v3_forms_are_normalised():
    meta = parse_node(v3(codecs=["bytes", {"name": "gzip"}], chunk_key_encoding={"name": "v2"},
                         data_type={"name": "int16", "configuration": {}}), "a")
    assert meta.codecs == ({"name": "bytes", "configuration": {}}, {"name": "gzip", "configuration": {}})
    assert meta.chunk_key_encoding == ChunkKeyEncoding("v2", ".")
    assert meta.chunk_key((1, 2)) == "1.2"


def test_v3_extension_fields():
    meta = parse_node(v3(my_ext={"must_understand": False, "x": 1}), "a")
    assert meta.extra_fields == {"my_ext": {"must_understand": False, "x": 1}}
    assert to_json_documents(meta)["zarr.json"]["my_ext"] == {"must_understand": False, "x": 1}
    with pytest.raises(MetadataError, match="node '/a'.*unknown field 'my_ext'"):
        parse_node(v3(my_ext={"must_understand": True}), "a")
    with pytest.raises(MetadataError, match="unknown field 'oops'"):
        parse_node(v3(oops=1), "a")


@pytest.mark.parametrize(
    "changes, cls, match",
    [
        ({"zarr_format": 2}, MetadataError, "zarr_format must be 3"),
        ({"node_type": "thing"}, MetadataError, "node_type"),
        ({"shape": ...}, MetadataError, "required field 'shape'"),
        ({"shape": [-1, 3]}, MetadataError, r"'shape'\[0\] must be non-negative"),
        ({"shape": [2**64, 3]}, MetadataError, "larger than 2\\*\\*63-1"),
        ({"shape": list(range(100))}, MetadataError, "more than 64"),
        ({"shape": "10"}, MetadataError, "list of integers"),
        ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [0, 5]}}}, MetadataError, "must be positive"),
        ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5]}}}, MetadataError, "1 dimensions but shape has 2"),
        ({"chunk_grid": {"name": "rectilinear", "configuration": {}}}, UnsupportedError, "chunk grid 'rectilinear'"),
        ({"chunk_key_encoding": {"name": "default", "configuration": {"separator": "-"}}}, MetadataError, "separator"),
        ({"chunk_key_encoding": {"name": "fancy"}}, UnsupportedError, "chunk key encoding 'fancy'"),
        ({"codecs": []}, MetadataError, "at least one codec"),
        ({"codecs": [{"configuration": {}}]}, MetadataError, "string 'name'"),
        ({"codecs": [{"name": "x", "configuration": 3}]}, MetadataError, "configuration of codec 'x'"),
        ({"storage_transformers": [{"name": "chunk-manifest"}]}, UnsupportedError, "chunk-manifest"),
        ({"dimension_names": ["x"]}, MetadataError, "dimension_names has 1 entries"),
        ({"attributes": []}, MetadataError, "'attributes' must be a JSON object"),
        ({"fill_value": None}, MetadataError, "fill_value must not be null"),
        ({"fill_value": 40000}, MetadataError, "fill_value 40000 is invalid for data type 'int16'"),
        ({"data_type": "float8"}, UnsupportedError, "data type 'float8'"),
    ],
)
def test_v3_errors(changes, cls, match):
    with pytest.raises(cls, match=match) as info:
        parse_node(v3(**changes), "grp/arr")
    assert "/grp/arr" in str(info.value) and "zarr.json" in str(info.value)


def test_v2_array_codec_chain():
    meta = parse_node(v2({"_ARRAY_DIMENSIONS": ["y", "x"], "units": "m"}), "a")
    assert meta.zarr_format == 2 and meta.order == "F"
    assert meta.codecs == (
        {"name": "transpose", "configuration": {"order": [1, 0]}},
        {"name": "numcodecs.delta", "configuration": {"dtype": ">f8"}},
        {"name": "numcodecs.shuffle", "configuration": {"elementsize": 8}},
        {"name": "bytes", "configuration": {"endian": "big"}},
        {"name": "numcodecs.zlib", "configuration": {"level": 1}},
    )
    assert meta.chunk_key_encoding == ChunkKeyEncoding("v2", "/")
    assert meta.dimension_names == ("y", "x")
    assert meta.attributes["_ARRAY_DIMENSIONS"] == ["y", "x"]
    assert meta.dtype == "float64" and meta.dtype.byteorder == "="
    docs = to_json_documents(meta)
    assert docs[".zarray"] == V2_ARRAY
    assert docs[".zattrs"] == {"_ARRAY_DIMENSIONS": ["y", "x"], "units": "m"}


def test_v2_object_arrays():
    meta = parse_node(v2(dtype="|O", filters=[{"id": "vlen-utf8"}], fill_value=None, compressor=None), "s")
    assert meta.data_type.name == "string" and meta.fill_value is None
    assert meta.codecs[-1] == {"name": "vlen-utf8", "configuration": {}}
    meta = parse_node(v2(dtype="|O", filters=[{"id": "json2", "encoding": "utf-8"}], fill_value=0, order="C"), "j")
    assert meta.data_type.name == "object" and meta.fill_value == 0
    assert meta.codecs[0] == {"name": "numcodecs.json2", "configuration": {"encoding": "utf-8"}}
    with pytest.raises(MetadataError, match="needs an object codec"):
        parse_node(v2(dtype="|O", filters=None), "o")


def test_v2_structured_bytes_pass_through():
    meta = parse_node(v2(dtype=[["a", ">i4"], ["b", "<f8"]], fill_value=None, order="C", filters=None), "st")
    assert {"name": "bytes", "configuration": {}} in meta.codecs
    assert to_json_documents(meta)[".zarray"]["dtype"] == [["a", ">i4"], ["b", "<f8"]]


def test_v2_extra_keys_are_kept():
    meta = parse_node(v2(node_type="array"), "a")
    assert to_json_documents(meta)[".zarray"]["node_type"] == "array"


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"zarr_format": 3}, "zarr_format must be 2"),
        ({"chunks": [5]}, "chunks .* has 1 dimensions"),
        ({"chunks": [0, 5]}, "must be positive"),
        ({"order": "K"}, "order must be 'C' or 'F'"),
        ({"filters": {"id": "x"}}, "filters must be a list"),
        ({"filters": [{"level": 1}]}, r"filters\[0\]: a numcodecs configuration needs a string 'id'"),
        ({"compressor": "zlib"}, "'compressor' must be a JSON object"),
        ({"dimension_separator": "-"}, "dimension_separator"),
        ({"dtype": "<f3"}, "dtype '<f3'"),
        ({"fill_value": "banana"}, "fill_value 'banana' is invalid"),
    ],
)
def test_v2_errors(changes, match):
    with pytest.raises(MetadataError, match=match) as info:
        parse_node(v2(**changes), "p")
    assert "'/p' (.zarray)" in str(info.value)


def test_parse_node_dispatch_and_errors():
    with pytest.raises(NodeNotFoundError, match="'/x/y'"):
        parse_node({}, "x/y")
    with pytest.raises(NodeNotFoundError):
        parse_node({".zattrs": b"{}"}, "x")
    with pytest.raises(NodeNotFoundError, match="zarr.json"):
        parse_node(v2(), "x", zarr_format=3)
    with pytest.raises(MetadataError, match="both .zarray and .zgroup"):
        parse_node({**v2(), ".zgroup": b'{"zarr_format": 2}'}, "x")
    # zarr.json wins when both formats are present (as zarr-python does)
    assert parse_node({**v2(), **v3()}, "x").zarr_format == 3
    assert parse_node({**v2(), **v3()}, "x", zarr_format=2).zarr_format == 2
    assert parse_node({"zarr.json": None, **v2()}, "x").zarr_format == 2
    g = parse_node({".zgroup": b'{"zarr_format": 2}', ".zattrs": b'{"a": NaN}'}, "")
    assert isinstance(g, GroupMetadata)


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply|malformed"),
    ],
)
def test_malformed_documents(raw, match):
    with pytest.raises(MetadataError, match=match) as info:
        parse_node({"zarr.json": raw}, "bad")
    assert "'/bad' (zarr.json)" in str(info.value)
    with pytest.raises(MetadataError, match=r"\(.zattrs\)"):
        parse_node({".zgroup": b'{"zarr_format": 2}', ".zattrs": raw}, "bad")


def test_to_documents_keeps_nonfinite_attributes_as_bare_tokens_and_fill_values_as_strings():
    # zarr-python writes NaN/Infinity in attributes as bare tokens, and reads them back as floats;
    # a string would come back as a string, so the float would be lost
    meta = parse_node({".zgroup": b'{"zarr_format": 2}', ".zattrs": b'{"a": NaN, "b": [Infinity, {"c": -Infinity}]}'}, "")
    from zarr_engine.format import to_documents

    raw = to_documents(meta)[".zattrs"]
    assert raw == b'{\n  "a": NaN,\n  "b": [\n    Infinity,\n    {\n      "c": -Infinity\n    }\n  ]\n}'
    back = json.loads(raw)
    assert math.isnan(back["a"]) and back["b"][0] == math.inf and back["b"][1]["c"] == -math.inf
    # a NaN fill value keeps the spec's string, next to a NaN attribute in the same zarr.json
    doc = copy.deepcopy(V3_ARRAY)
    doc.update(data_type="float32", fill_value="NaN", attributes={"missing_value": float("nan")})
    written = json.loads(to_documents(parse_node({"zarr.json": json.dumps(doc).encode()}, "x"))["zarr.json"])
    assert written["fill_value"] == "NaN" and math.isnan(written["attributes"]["missing_value"])


def test_parsed_codecs_and_attributes_do_not_share_containers_with_the_document():
    from zarr_engine.format.v3 import parse_array_v3

    doc = copy.deepcopy(V3_ARRAY)
    doc["attributes"] = {"nested": {"list": [1, {"deep": "x"}]}, "t": (1, 2)}
    doc["codecs"] = [{"name": "bytes", "configuration": {"endian": "little", "extra": [1, 2]}}]
    meta = parse_array_v3(doc)
    doc["attributes"]["nested"]["list"][1]["deep"] = "changed"
    doc["attributes"]["t"] = None
    doc["codecs"][0]["configuration"]["extra"].append(3)
    assert meta.attributes == {"nested": {"list": [1, {"deep": "x"}]}, "t": (1, 2)}
    assert meta.codecs[0]["configuration"] == {"endian": "little", "extra": [1, 2]}


def test_attributes_nested_beyond_the_limit_are_refused_naming_the_field():
    from zarr_engine.format._util import MAX_DEPTH
    from zarr_engine.format.v3 import parse_array_v3

    deep: object = 0
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    doc = copy.deepcopy(V3_ARRAY)
    doc["attributes"] = {"a": deep}
    with pytest.raises(MetadataError, match="'attributes' is nested more than"):
        parse_array_v3(doc)
    doc = copy.deepcopy(V3_ARRAY)
    doc["codecs"] = [{"name": "bytes", "configuration": {"x": deep}}]
    with pytest.raises(MetadataError, match="'codecs' is nested more than"):
        parse_array_v3(doc)


def test_non_json_attribute_values_given_by_a_caller_are_copied_not_shared():
    import numpy as np

    from zarr_engine.format._util import checked_copy

    arr = np.arange(3)
    out = checked_copy({"a": arr}, "", "zarr.json", "attributes")
    arr[0] = 99
    assert out["a"].tolist() == [0, 1, 2]


def test_fill_values_that_compare_equal_but_differ_keep_apart():
    import math

    import numpy as np

    from zarr_engine.format.v3 import parse_array_v3

    def fill(value, dtype="float32"):
        doc = copy.deepcopy(V3_ARRAY)
        doc["data_type"], doc["fill_value"] = dtype, value
        return parse_array_v3(doc).fill_value

    for _ in range(2):  # the second round is served by the memo
        assert math.copysign(1.0, fill(-0.0)) == -1.0 and math.copysign(1.0, fill(0.0)) == 1.0
        assert np.isnan(fill("NaN")) and fill("Infinity") == np.inf and fill("-Infinity") == -np.inf
        assert fill(1, "int8") == 1 and fill(1, "int8").dtype == np.int8 and fill(1, "uint16").dtype == np.uint16
        assert fill(True, "bool") is np.True_ and fill(0, "bool") is np.False_
        assert fill(2.5, "float64").dtype == np.float64 and fill(2.5) == np.float32(2.5)
    with pytest.raises(MetadataError, match="fill_value"):
        fill(True, "int8")


@pytest.mark.parametrize("grid", [
    {"name": "regular", "configuration": {"chunk_shape": [0, 5]}},
    {"name": "regular", "configuration": {"chunk_shape": [5, -1]}},
    {"name": "regular", "configuration": {"chunk_shape": [5]}},
    {"name": "regular", "configuration": {"chunk_shape": [5, 5.5]}},
    {"name": "regular", "configuration": {"chunk_shape": [5, True]}},
    {"name": "regular", "configuration": {"chunk_shape": [5, 2**63]}},
    {"name": "regular", "must_understand": False},
])
def test_chunk_grids_the_quick_path_passes_on_are_refused(grid):
    with pytest.raises(MetadataError):
        parse_node(v3(chunk_grid=grid), "")


def test_codec_configurations_are_checked_on_the_quick_path_too():
    deep: object = 0
    for _ in range(300):
        deep = {"x": deep}
    with pytest.raises(MetadataError, match="nested more than"):
        parse_node(v3(codecs=[{"name": "bytes", "configuration": deep}]), "")
    with pytest.raises(MetadataError, match="configuration"):
        parse_node(v3(codecs=[{"name": "bytes", "configuration": [1]}]), "")


def test_array_metadata_from_checked_falls_back_when_a_field_is_missing():
    from zarr_engine.format.metadata import ArrayMetadata
    from zarr_engine.format.v3 import parse_array_v3

    m = parse_array_v3(copy.deepcopy(V3_ARRAY))
    again = ArrayMetadata.from_checked(zarr_format=3, shape=m.shape, chunk_shape=m.chunk_shape, data_type=m.data_type,
                                       fill_value=m.fill_value, codecs=m.codecs)
    assert again == m and again.order == "C" and again.extra_fields == {}
    with pytest.raises(AttributeError):
        m.shape = (1, 1)  # still frozen


@pytest.mark.parametrize("encoding", [("default", "/"), ("default", "."), ("v2", "."), ("v2", "/"), ("n5", "/")])
def test_keys_of_a_box_are_the_keys_of_each_chunk_in_c_order(encoding):
    import itertools

    from zarr_engine.format.metadata import ChunkKeyEncoding

    enc = ChunkKeyEncoding(*encoding)
    for ranges in ([range(3, 7)], [range(0, 2), range(9, 12)], [range(1, 3), range(0, 1), range(10, 13)], []):
        for prefix in ("", "group/array/"):
            expected = [prefix + enc.encode(c) for c in itertools.product(*ranges)]
            assert enc.encode_box(list(ranges), prefix) == expected


@pytest.mark.parametrize("codec", ["", {"name": ""}, {"name": "", "configuration": {}}])
def test_an_empty_codec_name_is_refused_in_either_form(codec):
    # the bare-name form was accepted and written back as {"name": ""}, which its
    # own reader then refused (found by test_fuzz.test_v3_field_mutations)
    with pytest.raises(MetadataError, match="codec"):
        parse_node(v3(codecs=["bytes", codec]), "")
