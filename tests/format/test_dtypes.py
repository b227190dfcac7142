"""Data types: v3/v2/numpy parsing and JSON, checked against zarr-python's own dtype layer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from zarr.core.dtype import get_data_type_from_json

from zarr_engine.errors import DTypeError, MetadataError, UnsupportedError
from zarr_engine.format.dtypes import DataType

pytestmark = pytest.mark.filterwarnings("ignore::Warning:zarr.*")

V3_TYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "string",
    "variable_length_bytes",
    {"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}},
    {"name": "numpy.datetime64", "configuration": {"unit": "generic", "scale_factor": 1}},
    {"name": "numpy.timedelta64", "configuration": {"unit": "ms", "scale_factor": 10}},
    {"name": "fixed_length_utf32", "configuration": {"length_bytes": 28}},
    {"name": "null_terminated_bytes", "configuration": {"length_bytes": 7}},
    {"name": "raw_bytes", "configuration": {"length_bytes": 4}},
    {"name": "structured", "configuration": {"fields": [["a", "int32"], ["b", "float64"]]}},
]


@pytest.mark.parametrize("json_value", V3_TYPES, ids=str)
def test_v3_round_trip_matches_zarr_python(json_value):
    ours = DataType.from_v3(json_value)
    assert ours.to_v3_json() == json_value
    theirs = get_data_type_from_json(json_value, zarr_format=3)
    expected = theirs.to_native_dtype()
    if expected.kind in "OT":  # zarr-python uses StringDType / object; we use object
        assert ours.is_object
    else:
        assert ours.numpy_dtype == expected.newbyteorder("=") if expected.names is None else expected


V2_TYPES = ["|b1", "|i1", "|u1", "<i2", ">i2", "<u8", ">f2", "<f4", ">f8", "<c8", ">c16",
            "<M8[ns]", ">m8[10ms]", "<M8", "<U7", ">U3", "|S7", "|V4"]


@pytest.mark.parametrize("typestr", V2_TYPES)
def test_v2_typestr_round_trip_and_endian(typestr):
    dt, endian = DataType.from_v2(typestr)
    assert dt.to_v2_json(endian) == typestr
    expected_endian = {"<": "little", ">": "big", "|": None}[typestr[0]]
    assert endian == expected_endian
    theirs = get_data_type_from_json({"name": typestr, "object_codec_id": None}, zarr_format=2)
    assert dt.to_v3_json() == theirs.to_json(zarr_format=3)
    # in memory: native byte order
    assert dt.numpy_dtype.byteorder in ("=", "|")


def test_v2_structured_keeps_stored_field_order():
    dt, endian = DataType.from_v2([["a", "<i4"], ["b", ">f8", [2]], ["c", [["x", "|u1"]]]])
    assert endian is None
    assert dt.name == "structured"
    assert dt.numpy_dtype.fields["b"][0] == np.dtype((">f8", (2,)))
    assert dt.to_v2_json(None) == [["a", "<i4"], ["b", ">f8", [2]], ["c", [["x", "|u1"]]]]
    # v3 view: subarrays become raw bytes, like zarr-python
    fields = dt.to_v3_json()["configuration"]["fields"]
    assert fields[1] == ["b", {"name": "raw_bytes", "configuration": {"length_bytes": 16}}]


def test_v2_object_codecs_pick_the_type():
    assert DataType.for_v2_object("vlen-utf8").name == "string"
    assert DataType.for_v2_object("vlen-bytes").name == "variable_length_bytes"
    generic = DataType.for_v2_object("json2")
    assert generic.is_object and generic.name == "object"
    with pytest.raises(MetadataError, match="no Zarr v3 equivalent"):
        generic.to_v3_json()


@pytest.mark.parametrize(
    "dtype_like, name",
    [
        ("int16", "int16"),
        ("<f4", "float32"),
        (">i8", "int64"),
        (np.dtype("u2"), "uint16"),
        (str, "string"),
        ("str", "string"),
        (bytes, "variable_length_bytes"),
        ("bytes", "variable_length_bytes"),
        ("M8[s]", "numpy.datetime64"),
        ("U7", "fixed_length_utf32"),
        ("S7", "null_terminated_bytes"),
        ("V4", "raw_bytes"),
        ("r16", "r16"),
        (np.dtypes.StringDType(), "string"),
        ([("a", ">i4"), ("b", "f8")], "structured"),
    ],
)
def test_from_numpy(dtype_like, name):
    assert DataType.from_numpy(dtype_like, 3).name == name


def test_from_numpy_structured_v3_is_native_v2_keeps_order():
    v3 = DataType.from_numpy([("a", ">i4")], 3)
    v2 = DataType.from_numpy([("a", ">i4")], 2)
    assert v3.numpy_dtype.fields["a"][0].byteorder in ("=", "<")
    assert v2.numpy_dtype.fields["a"][0] == np.dtype(">i4")


@pytest.mark.parametrize("bad", ["O", object, "f16", "U", "not-a-type", {"name": "nope"}])
def test_from_numpy_refuses(bad):
    with pytest.raises(DTypeError):
        DataType.from_numpy(bad, 3, "arr")


@pytest.mark.parametrize(
    "json_value, cls, match",
    [
        ("optional", UnsupportedError, "data type 'optional'"),
        (3, MetadataError, "data_type must be a string or an object"),
        ({"name": "int16", "configuration": {"x": 1}}, MetadataError, "takes no configuration"),
        ({"name": "fixed_length_utf32", "configuration": {"length_bytes": 5}}, MetadataError, "multiple of 4"),
        ({"name": "raw_bytes", "configuration": {"length_bytes": 2**40}}, MetadataError, "length_bytes"),
        ({"name": "numpy.datetime64", "configuration": {"unit": "parsec", "scale_factor": 1}}, MetadataError, "unit"),
        ({"name": "structured", "configuration": {"fields": []}}, MetadataError, "non-empty"),
        ("r7", MetadataError, "multiple of 8"),
    ],
)
def test_v3_type_errors(json_value, cls, match):
    with pytest.raises(cls, match=match) as info:
        DataType.from_v3(json_value, "grp/arr")
    assert "grp/arr" in str(info.value)


@pytest.mark.parametrize("typestr", ["<i3", "|i2", "=f4", "<f16", "|S0", "<U99999999999", "i4", "<M8[fortnight]"])
def test_v2_type_errors(typestr):
    with pytest.raises(MetadataError, match="dtype"):
        DataType.from_v2(typestr, "a")


# -- fill values ---------------------------------------------------------------------


def _json(value) -> str:
    return json.dumps(value)


def _same(a, b) -> bool:
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        return isinstance(b, (float, np.floating)) and math.isnan(b)
    return a == b


FILL_CASES = [
    ("float32", "NaN", 3),
    ("float32", "Infinity", 3),
    ("float64", "-Infinity", 2),
    ("float16", 1.5, 3),
    ("float64", "0x7ff8000000000000", 3),
    ("int16", -7, 3),
    ("uint64", 2**64 - 1, 3),
    ("bool", True, 2),
    ("complex64", ["NaN", 1.0], 3),
    ("complex128", [1.5, "-Infinity"], 2),
    ({"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}}, "NaT", 3),
    ({"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}}, 1577836800, 3),
    ({"name": "fixed_length_utf32", "configuration": {"length_bytes": 12}}, "ab", 3),
    ({"name": "null_terminated_bytes", "configuration": {"length_bytes": 3}}, "YWI=", 3),
    ({"name": "raw_bytes", "configuration": {"length_bytes": 3}}, "YWJj", 3),
    ({"name": "structured", "configuration": {"fields": [["a", "int32"], ["b", "float64"]]}}, "AQAAAEAEAAAAAAAA", 3),
    ("string", "x", 3),
    ("variable_length_bytes", "YWI=", 3),
]


@pytest.mark.parametrize("type_json, fill, fmt", FILL_CASES, ids=str)
def test_fill_values_decode_like_zarr_python(type_json, fill, fmt):
    ours = DataType.from_v3(type_json)
    theirs = get_data_type_from_json(type_json, zarr_format=3)
    got = ours.fill_value_from_json(fill, fmt)
    want = theirs.from_json_scalar(fill, zarr_format=fmt)
    if isinstance(want, np.ndarray) or isinstance(want, np.void):
        assert bytes(np.asarray(got).tobytes()) == bytes(np.asarray(want).tobytes())
    elif isinstance(want, (complex, np.complexfloating)):
        assert _same(got.real, want.real) and _same(got.imag, want.imag)
    elif isinstance(want, np.datetime64) and np.isnat(want):
        assert np.isnat(got)
    else:
        assert _same(got, want)
    # and it encodes back to the same JSON zarr-python writes
    if not (isinstance(fill, str) and fill.startswith("0x")):
        assert _json(ours.fill_value_to_json(got, fmt)) == _json(theirs.to_json_scalar(want, zarr_format=fmt))


@pytest.mark.parametrize("name, hexbits", [("float32", "0x7fc00001"), ("float16", "0x7e01"), ("float64", "0xfff8000000000001")])
def test_nan_payload_round_trips_through_hex(name, hexbits):
    dt = DataType.from_v3(name)
    value = dt.fill_value_from_json(hexbits, 3)
    assert np.isnan(value)
    assert dt.fill_value_to_json(value, 3) == hexbits
    # canonical NaN is written as "NaN", and v2 has no hex form
    assert dt.fill_value_to_json(dt.fill_value_from_json("NaN", 3), 3) == "NaN"
    assert dt.fill_value_to_json(value, 2) == "NaN"


def test_v2_null_fill_and_v3_null_refused():
    dt = DataType.from_v3("float32")
    assert dt.fill_value_from_json(None, 2) is None
    with pytest.raises(MetadataError, match="fill_value must not be null"):
        dt.fill_value_from_json(None, 3, "a")


@pytest.mark.parametrize(
    "type_json, fill",
    [
        ("int8", 128),
        ("uint8", -1),
        ("int32", 1.5),
        ("float32", 1e300),
        ("float32", "nan"),
        ("float32", "0x123"),
        ("bool", "yes"),
        ("complex64", [1.0]),
        ({"name": "fixed_length_utf32", "configuration": {"length_bytes": 4}}, "ab"),
        ({"name": "raw_bytes", "configuration": {"length_bytes": 3}}, "YQ=="),
        ({"name": "null_terminated_bytes", "configuration": {"length_bytes": 3}}, "!!"),
        ("string", 5),
    ],
)
def test_bad_fill_values(type_json, fill):
    with pytest.raises(MetadataError, match=r"fill_value .* is invalid") as info:
        DataType.from_v3(type_json).fill_value_from_json(fill, 3, "some/arr")
    assert "some/arr" in str(info.value)


def test_cast_fill_value():
    assert DataType.from_v3("int16").cast_fill_value(3.0) == 3
    assert np.isnan(DataType.from_v3("float32").cast_fill_value(float("nan")))
    assert DataType.from_v3("complex64").cast_fill_value(1 + 2j) == np.complex64(1 + 2j)
    m8 = DataType.from_numpy("M8[s]", 3)
    assert m8.cast_fill_value(np.datetime64("2020-01-01")) == np.datetime64("2020-01-01T00:00:00")
    assert np.isnat(m8.cast_fill_value("NaT"))
    s = DataType.from_numpy([("a", "<i4"), ("b", "<f8")], 3)
    assert s.cast_fill_value((1, 2.5))["b"] == 2.5
    for dt, bad in [("int8", 300), ("int8", 1.5), ("uint8", -1), ("string", b"x"), ("U2", "abc"), ("bool", 2), ("M8[s]", np.datetime64("2020-01-01T00:00:00.5"))]:
        with pytest.raises(DTypeError, match="cannot be stored"):
            DataType.from_numpy(dt, 3).cast_fill_value(bad, "x")


def test_default_fill_values_match_zarr_python():
    for type_json in V3_TYPES:
        if isinstance(type_json, dict) and type_json["name"] == "structured":
            continue  # zarr-python 3.1 has no default for these
        ours = DataType.from_v3(type_json)
        theirs = get_data_type_from_json(type_json, zarr_format=3)
        for fmt in (2, 3):
            assert _json(ours.fill_value_to_json(ours.default_fill_value(fmt), fmt)) == _json(
                theirs.to_json_scalar(theirs.default_scalar(), zarr_format=fmt)
            ), type_json


def test_raw_bits_fill_is_a_byte_list_in_v3_and_base64_in_v2():
    dt = DataType.from_v3("r16")
    assert dt.numpy_dtype == np.dtype("V2")
    value = dt.fill_value_from_json([1, 255], 3)
    assert value.tobytes() == b"\x01\xff"
    assert dt.fill_value_to_json(value, 3) == [1, 255]
    assert dt.fill_value_to_json(value, 2) == "Af8="
    assert DataType.from_numpy("r16", 2).name == "raw_bytes"
    with pytest.raises(MetadataError, match="byte values"):
        dt.fill_value_from_json([1, 256], 3)
