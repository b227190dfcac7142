"""Hostile input: random JSON documents only ever raise ZarrEngineError subclasses."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zarr_engine.errors import ZarrEngineError
from zarr_engine.format import DataType, parse_node, parse_zmetadata, to_documents

from .test_parse import V2_ARRAY, V3_ARRAY

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True), st.text(max_size=8),
    st.sampled_from(["NaN", "0x7fc00000", "AAAA", "int16", "regular", "default", "|O", "<f4", "bytes"]),
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=20,
)


NODE = "fuzzed/node"


def _check(docs, path=NODE):
    """Only ZarrEngineError comes out, and is returned; what we accept we write back,
    and it reads back as the same node (None is returned then)."""
    try:
        meta = parse_node(docs, path)
    except ZarrEngineError as e:
        return e
    written = to_documents(meta)
    again = parse_node(written, path)
    assert again.node_type == meta.node_type and again.zarr_format == meta.zarr_format
    assert to_documents(again) == written  # writing is a fixed point after one round
    return None


def _names_the_node(err):
    return err is None or NODE in str(err)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(V3_ARRAY)), value=json_value)
def test_v3_field_mutations(field, value):
    doc = copy.deepcopy(V3_ARRAY)
    doc[field] = value
    err = _check({"zarr.json": json.dumps(doc).encode()})
    assert _names_the_node(err), err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(V2_ARRAY)), value=json_value, attrs=json_value)
def test_v2_field_mutations(field, value, attrs):
    doc = copy.deepcopy(V2_ARRAY)
    doc[field] = value
    err = _check({".zarray": json.dumps(doc).encode(), ".zattrs": json.dumps(attrs).encode()})
    assert _names_the_node(err), err


@settings(max_examples=100, deadline=None)
@given(doc=json_value, key=st.sampled_from(["zarr.json", ".zarray", ".zgroup"]))
def test_random_documents(doc, key):
    err = _check({key: json.dumps(doc).encode()})
    assert _names_the_node(err), err
    try:
        parse_zmetadata(json.dumps(doc).encode())
    except ZarrEngineError:
        pass


@settings(max_examples=100, deadline=None)
@given(type_json=json_value, fill=json_value, fmt=st.sampled_from([2, 3]))
def test_random_data_types_and_fills(type_json, fill, fmt):
    try:
        dt = DataType.from_v3(type_json) if fmt == 3 else DataType.from_v2(type_json)[0]
        value = dt.fill_value_from_json(fill, fmt)
        encoded = dt.fill_value_to_json(value, fmt)
    except ZarrEngineError:
        return
    # an accepted fill value survives its own encoding unchanged
    assert dt.fill_value_to_json(dt.fill_value_from_json(encoded, fmt), fmt) == encoded


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=64))
def test_random_bytes(raw):
    for key in ("zarr.json", ".zarray"):
        err = _check({key: raw})
        assert _names_the_node(err), err
