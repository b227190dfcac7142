"""Consolidated metadata: v2 .zmetadata and v3 inline, against zarr-python's consolidate_metadata."""

from __future__ import annotations

import json
import re
import warnings

import pytest

from zarr_engine.errors import MetadataError, UnsupportedError
from zarr_engine.format import (
    build_zmetadata,
    consolidate,
    create_array_metadata,
    group_from_zmetadata,
    parse_node,
    parse_zmetadata,
    to_documents,
    zmetadata_bytes,
)

from .conftest import read_docs

pytestmark = pytest.mark.filterwarnings("ignore::Warning")


def _hierarchy(folder, fmt, subgroup):
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = zarr.create_group(store=str(folder), zarr_format=fmt, attributes={"root": True})
        g.create_array("b", shape=(3,), dtype="<i2", attributes={"q": 1})
        g.create_array("a", shape=(2, 2), dtype="<f4", fill_value=float("nan"))
        if subgroup:
            g.create_group("sub", attributes={"s": "x"})
            g["sub"].create_array("deep", shape=(1,), dtype="u1")
        zarr.consolidate_metadata(str(folder))


def test_v2_zmetadata_bytes_match_zarr_python(tmp_path):
    _hierarchy(tmp_path, 2, subgroup=False)
    raw = (tmp_path / ".zmetadata").read_bytes()
    nodes = parse_zmetadata(raw, "")
    assert set(nodes) == {"", "a", "b"}
    assert nodes["b"].attributes == {"q": 1}
    assert zmetadata_bytes(nodes) == raw
    # the group itself carries the rest as its consolidated metadata
    group = group_from_zmetadata(raw)
    assert set(group.consolidated) == {"a", "b"} and group.attributes == {"root": True}
    assert to_documents(group)[".zmetadata"] == raw


def test_v2_zmetadata_with_subgroups(tmp_path):
    _hierarchy(tmp_path, 2, subgroup=True)
    nodes = parse_zmetadata((tmp_path / ".zmetadata").read_bytes())
    assert set(nodes) == {"", "a", "b", "sub", "sub/deep"}
    for rel, meta in nodes.items():
        assert parse_node(read_docs(tmp_path / rel), rel) == meta
    rebuilt = build_zmetadata(nodes)
    assert list(rebuilt["metadata"])[:2] == [".zgroup", ".zattrs"]
    assert rebuilt["metadata"]["sub/.zattrs"] == {"s": "x"}
    assert rebuilt["metadata"]["a/.zattrs"] == {}


def test_v3_inline_matches_zarr_python(tmp_path):
    _hierarchy(tmp_path, 3, subgroup=True)
    docs = read_docs(tmp_path)
    group = parse_node(docs, "")
    assert set(group.consolidated) == {"a", "b", "sub", "sub/deep"}
    assert to_documents(group)["zarr.json"] == docs["zarr.json"]  # byte for byte
    for rel, meta in group.consolidated.items():
        if meta.node_type == "group":
            meta = meta.replace(consolidated=None)
        assert parse_node(read_docs(tmp_path / rel), rel) == meta


def test_v3_consolidated_by_us_holds_what_zarr_python_writes(tmp_path):
    """ze.consolidate_metadata over the hierarchy zarr-python consolidated gives the same
    document, each subgroup listed with (empty) consolidated metadata of its own as
    zarr-python lists it. Compared as JSON values: zarr-python orders entries by when
    its concurrent listing found them."""
    import zarr_engine as ze

    _hierarchy(tmp_path / "theirs", 3, subgroup=True)
    _hierarchy(tmp_path / "ours", 3, subgroup=True)
    ze.consolidate_metadata(str(tmp_path / "ours"))
    ours = json.loads((tmp_path / "ours" / "zarr.json").read_bytes())
    theirs = json.loads((tmp_path / "theirs" / "zarr.json").read_bytes())
    assert ours["consolidated_metadata"]["metadata"]["sub"]["consolidated_metadata"] == {
        "kind": "inline", "must_understand": False, "metadata": {}
    }
    assert ours == theirs


def test_consolidate_helper():
    root = parse_node({"zarr.json": b'{"zarr_format": 3, "node_type": "group"}'}, "")
    arr = create_array_metadata(shape=(2,), dtype="i4", chunks=1)
    grouped = consolidate(root, {"": root, "z": arr, "a/b": arr})
    assert list(grouped.consolidated) == ["a/b", "z"]
    doc = json.loads(to_documents(grouped)["zarr.json"])
    assert doc["consolidated_metadata"]["kind"] == "inline"
    assert doc["consolidated_metadata"]["must_understand"] is False
    v2arr = create_array_metadata(shape=(2,), dtype="i4", chunks=1, zarr_format=2)
    with pytest.raises(MetadataError, match="v2 node 'x'"):
        consolidate(root, {"x": v2arr})


@pytest.mark.parametrize(
    "doc, cls, match",
    [
        ({"metadata": {}}, MetadataError, "zarr_consolidated_format"),
        ({"zarr_consolidated_format": 2, "metadata": {}}, MetadataError, "must be 1"),
        ({"zarr_consolidated_format": 1, "metadata": []}, MetadataError, "'metadata' must be a JSON object"),
        ({"zarr_consolidated_format": 1, "metadata": {"../x/.zarray": {}}}, MetadataError, "invalid node path"),
        ({"zarr_consolidated_format": 1, "metadata": {"x/.zarray": {"zarr_format": 2}}}, MetadataError, "'/g/x'.*'shape'"),
        ({"zarr_consolidated_format": 1, "metadata": {"x/.zgroup": 5}}, MetadataError, "must be a JSON object"),
    ],
)
def test_zmetadata_errors(doc, cls, match):
    with pytest.raises(cls, match=match):
        parse_zmetadata(json.dumps(doc).encode(), "g")


def test_v3_consolidated_errors():
    base = {"zarr_format": 3, "node_type": "group"}
    with pytest.raises(UnsupportedError, match="kind 'external'"):
        parse_node({"zarr.json": json.dumps({**base, "consolidated_metadata": {"kind": "external"}}).encode()}, "g")
    bad_child = {"kind": "inline", "must_understand": False, "metadata": {"c": {"zarr_format": 3, "node_type": "array"}}}
    with pytest.raises(MetadataError, match="node '/g/c'.*'shape'"):
        parse_node({"zarr.json": json.dumps({**base, "consolidated_metadata": bad_child}).encode()}, "g")


@pytest.mark.parametrize("fmt", [2, 3])
def test_nonfinite_attributes_in_consolidated_metadata_match_zarr_python(tmp_path, fmt):
    import math

    import zarr

    attrs = {"missing_value": float("nan"), "range": [float("-inf"), [float("inf")]]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = zarr.create_group(store=str(tmp_path), zarr_format=fmt, attributes=attrs)
        g.create_array("a", shape=(2,), dtype="<f4", fill_value=float("nan"), attributes=attrs)
        g.create_array("b", shape=(2,), dtype="<i2")
        zarr.consolidate_metadata(str(tmp_path))
    if fmt == 2:
        raw = (tmp_path / ".zmetadata").read_bytes()
        assert b'"missing_value": NaN' in raw and b'"fill_value": "NaN"' in raw
        group = group_from_zmetadata(raw)
        assert to_documents(group)[".zmetadata"] == raw
    else:
        raw = (tmp_path / "zarr.json").read_bytes()
        group = parse_node(read_docs(tmp_path), "")
        assert to_documents(group)["zarr.json"] == raw
    assert math.isnan(group.consolidated["a"].attributes["missing_value"])
    assert group.consolidated["a"].attributes["range"] == [-math.inf, [math.inf]]


def test_without_node_drops_the_node_and_what_is_below_it_only():
    from zarr_engine.format.consolidated import without_node

    root = parse_node({"zarr.json": b'{"zarr_format": 3, "node_type": "group"}'}, "")
    arr = create_array_metadata(shape=(2,), dtype="i4", chunks=1)
    # "sub" also carries consolidated metadata of its own, nested rather than flattened
    sub = root.replace(consolidated={"x": arr, "deep": root, "deep/z": arr})
    nodes = {"sub": sub, "sub/x": arr, "sub/deep": root, "sub/deep/z": arr, "subway": arr, "top": arr}
    assert list(without_node(nodes, "sub")) == ["subway", "top"]  # a name sharing the prefix stays
    kept = without_node(nodes, "sub/deep")
    assert list(kept) == ["sub", "sub/x", "subway", "top"]
    assert list(kept["sub"].consolidated) == ["x"]
    assert list(without_node(nodes, "sub/x")["sub"].consolidated) == ["deep", "deep/z"]
    assert without_node(nodes, "absent") is None and without_node(nodes, "sub/nothing") is None
    assert list(nodes) == ["sub", "sub/x", "sub/deep", "sub/deep/z", "subway", "top"]  # not changed in place
    # what is left is written as zarr-python reads it: the listed nodes and nothing else
    doc = json.loads(to_documents(root.replace(consolidated=kept))["zarr.json"])
    assert list(doc["consolidated_metadata"]["metadata"]) == ["sub", "sub/x", "subway", "top"]


def _nested(levels):
    """``0`` inside ``levels`` lists: as an attribute's value, its innermost 0 is ``levels + 1``
    levels below the attributes."""
    value: object = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("fmt", [2, 3])
def test_attributes_nested_to_the_limit_are_written_back_and_consolidated_like_zarr_python(tmp_path, fmt):
    """The nesting of attributes counts from the attributes, when they are read and when
    they are written, whether in the node's own document or in consolidated metadata
    (where they sit several levels deeper)."""
    import zarr

    from zarr_engine.format._util import MAX_DEPTH

    deep = _nested(MAX_DEPTH - 1)  # the deepest the parsers accept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = zarr.create_group(store=str(tmp_path), zarr_format=fmt)
        g.create_group("sub").create_array("t", shape=(2,), dtype="<i2", attributes={"deep": deep})
        zarr.consolidate_metadata(str(tmp_path))
    own = read_docs(tmp_path / "sub" / "t")
    meta = parse_node(own, "sub/t")
    assert meta.attributes == {"deep": deep}
    key = "zarr.json" if fmt == 3 else ".zattrs"
    assert to_documents(meta, "sub/t")[key] == own[key]  # byte for byte as zarr-python wrote them
    root_key = "zarr.json" if fmt == 3 else ".zmetadata"
    if fmt == 2:
        group = group_from_zmetadata((tmp_path / root_key).read_bytes())
        ours = to_documents(group, "")[root_key]
        assert ours == zmetadata_bytes({"": group.replace(consolidated=None), **group.consolidated}, "")
    else:
        raw = (tmp_path / "zarr.json").read_bytes()
        group = parse_node(read_docs(tmp_path), "")
        ours = to_documents(group, "")["zarr.json"]
        assert ours == raw  # byte for byte, with sub's own consolidated metadata nested inside
    assert group.consolidated["sub/t"].attributes == {"deep": deep}
    (tmp_path / root_key).write_bytes(ours)  # what we write, zarr-python reads through its consolidated view
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert zarr.open_consolidated(str(tmp_path), zarr_format=fmt)["sub/t"].attrs["deep"] == deep
    # one level deeper is refused, naming the node and the attribute
    with pytest.raises(MetadataError, match=rf"node '/sub/t' \({key}\): attribute 'deep': nested more than"):
        to_documents(meta.replace(attributes={"deep": [deep]}), "sub/t")


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("value, problem", [(b"K", r"bytes b'K' is not JSON"), ({1: "a"}, "object key 1 is not"),
                                            (_nested(200), "nested more than 200 levels")],
                         ids=["bytes", "int-key", "too-deep"])
def test_an_attribute_that_cannot_be_written_is_named_with_its_node(fmt, value, problem):
    from zarr_engine.format import GroupMetadata

    arr = create_array_metadata(shape=(2,), dtype="i2", chunks=(2,), zarr_format=fmt)
    bad = arr.replace(attributes={"fine": 1, "units": value})
    with pytest.raises(MetadataError) as own:
        to_documents(bad, "sub/temperature")
    key = "zarr.json" if fmt == 3 else ".zattrs"
    assert re.search(rf"node '/sub/temperature' \({key}\): attribute 'units': {problem}", str(own.value))
    # in consolidated metadata: the consolidating group's document, then the node and the attribute
    nodes = {"sub": GroupMetadata(zarr_format=fmt), "sub/temperature": bad}
    root = consolidate(GroupMetadata(zarr_format=fmt), nodes)
    key = "zarr.json" if fmt == 3 else ".zmetadata"
    with pytest.raises(MetadataError) as consolidated:
        to_documents(root, "data")
    assert re.search(rf"node '/data' \({key}\): attribute 'units' of node '/data/sub/temperature': {problem}",
                     str(consolidated.value))
    if fmt == 2:
        with pytest.raises(MetadataError, match="attribute 'units' of node '/data/sub/temperature'"):
            zmetadata_bytes({"": GroupMetadata(zarr_format=2), **nodes}, "data")
