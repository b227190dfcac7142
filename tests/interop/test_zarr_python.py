"""Interoperability with zarr-python 3.1 (the reference implementation), both ways.

Each case is (format, dtype, codec chain, chunk shape with ragged edges, fill
value, order/transpose, chunk key encoding). What we write, zarr-python reads
identically and without warnings beyond those it raises for its own writes;
what zarr-python writes, we read identically.
"""

from __future__ import annotations

import json
import warnings

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import zarr_engine as ze
from tests.support import assert_same, sample

SHAPE = (23, 17)
CHUNKS = (5, 6)

V3_CHAINS = {
    "none": dict(compressors=None),
    "default": dict(),
    "zstd": dict(compressors=zc.ZstdCodec(level=3)),
    "zstd-checksum": dict(compressors=zc.ZstdCodec(level=1, checksum=True)),
    "blosc-lz4-shuffle": dict(compressors=zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")),
    "blosc-zstd-bitshuffle": dict(compressors=zc.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")),
    "gzip": dict(compressors=zc.GzipCodec(level=6)),
    "crc32c": dict(compressors=[zc.ZstdCodec(level=0), zc.Crc32cCodec()]),
    "big-endian": dict(serializer=zc.BytesCodec(endian="big"), compressors=None),
    "transpose": dict(filters=[zc.TransposeCodec(order=(1, 0))]),
}
V2_CHAINS = {
    "none": dict(compressors=None),
    "default": dict(),
    "zlib": dict(compressors=numcodecs.Zlib(level=5)),
    "blosc": dict(compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)),
    "lz4": dict(compressors=numcodecs.LZ4()),
    "bz2": dict(compressors=numcodecs.BZ2()),
    "gzip": dict(compressors=numcodecs.GZip()),
    "delta-zstd": dict(filters=[numcodecs.Delta(dtype="<i4")], compressors=numcodecs.Zstd(level=1)),
}

NUMERIC = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"]


def cases():
    out = []
    # every dtype through a default and a bare chain, both formats
    for fmt in (2, 3):
        for dt in NUMERIC + ["datetime64[s]", "timedelta64[ms]", "U7", "str"]:
            for chain in ("default", "none"):
                if dt == "str" and chain == "none" and fmt == 3:
                    continue
                out.append((fmt, dt, chain, None, "C", None))
    # every chain with a few dtypes
    for chain in V3_CHAINS:
        for dt in ("int32", "float64", "uint8"):
            if chain == "transpose" and dt == "uint8":
                continue
            out.append((3, dt, chain, None, "C", None))
    for chain in V2_CHAINS:
        for dt in ("int32", "float64"):
            if chain == "delta-zstd" and dt != "int32":
                continue
            out.append((2, dt, chain, None, "C", None))
    # fill values
    for fmt in (2, 3):
        out += [
            (fmt, "float32", "default", np.nan, "C", None),
            (fmt, "float64", "default", -np.inf, "C", None),
            (fmt, "int16", "default", 7, "C", None),
            (fmt, "complex64", "default", 1 + 2j, "C", None),
            (fmt, "bool", "default", True, "C", None),
        ]
    # order and key encodings
    out += [
        (2, "int32", "default", None, "F", None),
        (2, "float64", "zlib", 3.5, "F", None),
        (2, "int32", "default", None, "C", {"name": "v2", "separator": "/"}),
        (3, "int32", "default", None, "C", {"name": "default", "separator": "."}),
        (3, "float32", "zstd", None, "C", {"name": "v2", "separator": "."}),
        (3, "uint16", "none", None, "C", {"name": "v2", "separator": "/"}),
    ]
    return out


def ids(case):
    fmt, dt, chain, fill, order, cke = case
    parts = [f"v{fmt}", dt, chain]
    if fill is not None:
        parts.append(f"fill={fill}")
    if order != "C":
        parts.append(order)
    if cke:
        parts.append(f"{cke['name']}{cke['separator']}")
    return "-".join(parts)


def kwargs_for(case):
    fmt, dt, chain, fill, order, cke = case
    kw = dict((V3_CHAINS if fmt == 3 else V2_CHAINS)[chain])
    kw.update(shape=SHAPE, chunks=CHUNKS, dtype=dt, zarr_format=fmt)
    if fill is not None:
        kw["fill_value"] = fill
    if order != "C":
        kw["order"] = order
    if cke:
        kw["chunk_key_encoding"] = cke
    return kw


def data_for(case):
    fmt, dt, *_ = case
    a = sample(dt, SHAPE, seed=hash(ids(case)) % 1000)
    if dt not in ("str",) and np.dtype(dt).kind == "f" and case[3] is not None:
        a[2:8, 3:9] = case[3]  # a whole region of fill value
    return a


def zarr_python_warnings(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        result = fn()
    return result, {str(x.category.__name__) + ":" + str(x.message)[:60] for x in w}


@pytest.mark.parametrize("case", cases(), ids=ids)
def test_we_write_zarr_python_reads(tmp_path, case):
    kw = kwargs_for(case)
    data = data_for(case)
    ours = ze.create_array(str(tmp_path / "ours.zarr"), **kw)
    ours[...] = data
    # zarr-python writes the same array, so we know which warnings it raises for itself
    _, own_warnings = zarr_python_warnings(lambda: zarr.create_array(str(tmp_path / "theirs.zarr"), **kw))
    _, ref_warnings = zarr_python_warnings(lambda: zarr.open_array(str(tmp_path / "theirs.zarr"), mode="r")[...])
    got, warns = zarr_python_warnings(lambda: zarr.open_array(str(tmp_path / "ours.zarr"), mode="r")[...])
    assert_same(got, data)
    assert warns <= (own_warnings | ref_warnings), warns - (own_warnings | ref_warnings)
    theirs = zarr.open_array(str(tmp_path / "ours.zarr"), mode="r")
    assert theirs.shape == SHAPE
    assert theirs.chunks == CHUNKS
    if case[3] is not None:
        np.testing.assert_array_equal(np.asarray(theirs.fill_value), np.asarray(case[3]))


@pytest.mark.parametrize("case", cases(), ids=ids)
def test_zarr_python_writes_we_read(tmp_path, case):
    kw = kwargs_for(case)
    data = data_for(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = zarr.create_array(str(tmp_path / "theirs.zarr"), **kw)
        theirs[...] = data
    ours = ze.open_array(str(tmp_path / "theirs.zarr"), mode="r")
    assert ours.shape == SHAPE
    assert ours.chunks == CHUNKS
    assert_same(ours[...], data)
    # partial reads through the same chunks
    assert_same(ours[3:19:4, ::-2], data[3:19:4, ::-2])
    assert_same(ours.oindex[[0, 22, 5], [16, 0]], data[[0, 22, 5]][:, [16, 0]])
    if case[3] is not None:
        np.testing.assert_array_equal(np.asarray(ours.fill_value), np.asarray(case[3]))


@pytest.mark.parametrize("fmt", [2, 3])
def test_metadata_documents_match_zarr_python(tmp_path, fmt):
    """The documents we write carry what zarr-python writes for the same array."""
    import json

    kw = dict(shape=(10, 10), chunks=(4, 4), dtype="float32", fill_value=np.nan, zarr_format=fmt,
              attributes={"units": "K", "nested": {"a": [1, 2]}}, dimension_names=("y", "x") if fmt == 3 else None)
    if fmt == 2:
        kw.pop("dimension_names")
    ours, theirs = _array_documents(tmp_path, fmt, kw)
    assert ours == theirs
    if fmt == 2:
        assert json.loads((tmp_path / "ours" / ".zattrs").read_text()) == kw["attributes"]


@pytest.mark.parametrize("fmt", [2, 3])
def test_groups_and_consolidated_metadata_interop(tmp_path, fmt):
    root = ze.create_group(str(tmp_path / "g.zarr"), zarr_format=fmt, attributes={"title": "t"})
    a = root.create_array("sub/a", shape=(6,), chunks=(4,), dtype="i2")
    a[...] = np.arange(6)
    root.create_group("empty", attributes={"k": 1})
    ze.consolidate_metadata(str(tmp_path / "g.zarr"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zg = zarr.open_group(str(tmp_path / "g.zarr"), mode="r", use_consolidated=True)
        assert sorted(zg.group_keys()) == ["empty", "sub"]
        np.testing.assert_array_equal(zg["sub/a"][...], np.arange(6))
        assert dict(zg.attrs) == {"title": "t"}
        assert dict(zg["empty"].attrs) == {"k": 1}
    # and zarr-python's consolidated hierarchy opens with us, using its consolidated metadata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z2 = zarr.open_group(str(tmp_path / "z.zarr"), mode="w", zarr_format=fmt)
        z2.create_array("x", shape=(3,), dtype="f8")[...] = [1.0, 2.0, 3.0]
        z2.create_group("inner").create_array("y", shape=(2, 2), dtype="u1")[...] = 9
        zarr.consolidate_metadata(str(tmp_path / "z.zarr"))
    g = ze.open_group(str(tmp_path / "z.zarr"), mode="r")
    assert g.metadata.consolidated is not None
    assert sorted(g.keys()) == ["inner", "x"]
    np.testing.assert_array_equal(g["x"][...], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g["inner/y"][...], np.full((2, 2), 9, "u1"))


def _assert_nonfinite(attrs):
    import math

    assert isinstance(attrs["missing_value"], float) and math.isnan(attrs["missing_value"])
    assert attrs["valid_range"] == [-math.inf, math.inf]


@pytest.mark.parametrize("fmt", [2, 3])
def test_nonfinite_float_attributes_stay_floats_both_ways(tmp_path, fmt):
    attrs = {"missing_value": float("nan"), "valid_range": [float("-inf"), float("inf")]}
    # ours, read by zarr-python and by us: floats, not the strings "NaN"/"Infinity"
    g = ze.create_group(str(tmp_path / "ours"), zarr_format=fmt, attributes=attrs)
    g.create_array("a", shape=(2,), dtype="f4", attributes=attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zg = zarr.open_group(str(tmp_path / "ours"), mode="r")
        _assert_nonfinite(dict(zg.attrs))
        _assert_nonfinite(dict(zg["a"].attrs))
    _assert_nonfinite(dict(ze.open_group(str(tmp_path / "ours"), mode="r").attrs))
    _assert_nonfinite(dict(ze.open_array(str(tmp_path / "ours/a"), mode="r").attrs))
    # zarr-python's: setting an unrelated attribute with us leaves its NaN attributes floats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        za = zarr.create_array(str(tmp_path / "theirs"), shape=(2,), dtype="f4", zarr_format=fmt)
        za.attrs.update(attrs)
    ze.open_array(str(tmp_path / "theirs"), mode="r+").attrs["units"] = "K"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = dict(zarr.open_array(str(tmp_path / "theirs"), mode="r").attrs)
    _assert_nonfinite(back)
    assert back["units"] == "K"


def _v2_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_v2_nodes_leave_the_same_files_as_zarr_python(tmp_path):
    """zarr-python writes a .zattrs ({} when empty) next to every .zarray and .zgroup, and
    lists it in .zmetadata; so do we, byte for byte."""
    for lib, name in ((ze, "ours"), (zarr, "theirs")):
        path = str(tmp_path / name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = lib.open_group(path, mode="w", zarr_format=2)
            root.create_group("g", attributes={"k": 1})
            root.create_array("a", shape=(3,), chunks=(2,), dtype="i2", compressors=None)[...] = [1, 2, 3]
            lib.create_array(path, name="deep/er/b", shape=(1,), dtype="u1", zarr_format=2, compressors=None)
            lib.consolidate_metadata(path)
    ours, theirs = _v2_files(tmp_path / "ours"), _v2_files(tmp_path / "theirs")
    assert sorted(ours) == sorted(theirs)
    for key in ("a/.zattrs", "g/.zattrs", ".zattrs", "deep/er/b/.zattrs", "deep/.zattrs"):
        assert ours[key] == theirs[key], key
    assert ours["a/.zattrs"] == b"{}"
    zmeta = {k: v for k, v in json.loads(ours[".zmetadata"])["metadata"].items() if k.endswith(".zattrs")}
    assert zmeta == {k: v for k, v in json.loads(theirs[".zmetadata"])["metadata"].items() if k.endswith(".zattrs")}


def test_deleting_and_overwriting_v2_nodes_leave_the_same_files_as_zarr_python(tmp_path):
    """The .zattrs written for every v2 node goes with it when the node is deleted or replaced."""
    for lib, name in ((ze, "ours"), (zarr, "theirs")):
        path = str(tmp_path / name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = lib.open_group(path, mode="w", zarr_format=2)
            root.create_array("a", shape=(2,), dtype="i2", compressors=None)[...] = 5
            root.create_group("g").create_array("b", shape=(2,), dtype="i2", compressors=None)[...] = 6
            root.create_array("c", shape=(2,), dtype="i2", compressors=None, attributes={"x": 1})
            del root["a"]
            del root["g"]
            root.create_group("c", overwrite=True)
    ours, theirs = _v2_files(tmp_path / "ours"), _v2_files(tmp_path / "theirs")
    assert sorted(ours) == sorted(theirs) == [".zattrs", ".zgroup", "c/.zattrs", "c/.zgroup"]
    assert ours == theirs


@pytest.mark.parametrize("dtype", ["float32", "int64", "uint8", "bool", "S4"])
@pytest.mark.parametrize("endian", [None, "little", "big"])
def test_bytes_serializer_settles_its_byte_order_as_zarr_python(tmp_path, dtype, endian):
    """A ``bytes`` serializer given without ``endian`` gets ``little`` for a type with a byte
    order, and one given for a type without a byte order loses it: zarr.json is zarr-python's."""
    ser = {"name": "bytes"} if endian is None else {"name": "bytes", "configuration": {"endian": endian}}
    ze.create_array(str(tmp_path / "ours"), shape=(4,), chunks=(2,), dtype=dtype, serializer=ser, compressors=None)
    zarr.create_array(str(tmp_path / "theirs"), shape=(4,), chunks=(2,), dtype=dtype, serializer=ser, compressors=None)
    ours = (tmp_path / "ours" / "zarr.json").read_bytes()
    assert ours == (tmp_path / "theirs" / "zarr.json").read_bytes()
    codec = json.loads(ours)["codecs"][0]
    assert codec.get("configuration", {}).get("endian") == (
        None if dtype in ("uint8", "bool", "S4") else endian or "little"
    )


_FILL_UNSET = object()


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("dtype", ["int32", "uint8", "float64", "complex64", "bool", "datetime64[s]", "U3", "S2", "str"])
@pytest.mark.parametrize("fill", [None, _FILL_UNSET], ids=["None", "unset"])
def test_fill_value_none_and_unset_are_stored_as_zarr_python_stores_them(tmp_path, fmt, dtype, fill):
    """zarr-python keeps an explicit ``fill_value=None`` of a v2 array as ``null`` (and
    uses the default in v3, and when the argument is left out): the document is its."""
    kw = dict(shape=(4,), chunks=(2,), dtype=dtype, zarr_format=fmt)
    if fill is not _FILL_UNSET:
        kw["fill_value"] = fill
    ours, theirs = _array_documents(tmp_path, fmt, kw)
    assert ours == theirs
    assert (ours["fill_value"] is None) == (fmt == 2 and fill is None)


def test_v2_array_created_with_fill_value_none_keeps_its_zeros_in_xarray(tmp_path):
    """A stored 0 of a v2 array created with ``fill_value=None`` is data, not a missing value,
    for xarray's own zarr engine (it masks the fill value of a v2 array)."""
    import xarray as xr

    g = ze.create_group(str(tmp_path / "g.zarr"), zarr_format=2)
    a = g.create_array("v", shape=(4,), chunks=(2,), dtype="i4", fill_value=None,
                       attributes={"_ARRAY_DIMENSIONS": ["x"]})
    a[...] = np.arange(4, dtype="i4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(str(tmp_path / "g.zarr"), consolidated=False)
        got = ds["v"].values
    assert got.dtype == np.dtype("i4")
    np.testing.assert_array_equal(got, np.arange(4))


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize(
    "dtype,fill",
    [
        ("timedelta64[ms]", np.timedelta64(5, "s")),
        ("timedelta64[s]", np.timedelta64(7, "s")),
        ("timedelta64[D]", np.timedelta64("NaT")),
        ("timedelta64[ns]", np.timedelta64(3, "us")),
        ("datetime64[ms]", np.datetime64("2020-01-01")),
        ("datetime64[D]", np.datetime64("NaT")),
    ],
    ids=str,
)
def test_time_fill_values_given_as_numpy_scalars_are_stored_as_zarr_python_stores_them(tmp_path, fmt, dtype, fill):
    """A numpy.timedelta64 fill value (of the array's unit or another, or NaT) is taken as
    zarr-python takes it: same document, and missing chunks read as that value."""
    kw = dict(shape=(4,), chunks=(2,), dtype=dtype, fill_value=fill, zarr_format=fmt)
    ours = ze.create_array(str(tmp_path / "ours"), **kw)
    ours[:2] = np.arange(2).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), **kw)
        got = zarr.open_array(str(tmp_path / "ours"), mode="r")[...]
    name = "zarr.json" if fmt == 3 else ".zarray"
    assert json.loads((tmp_path / "ours" / name).read_text()) == json.loads((tmp_path / "theirs" / name).read_text())
    expected = np.array([0, 1, 0, 0]).astype(dtype)
    expected[2:] = fill
    np.testing.assert_array_equal(got.view("i8"), expected.view("i8"))
    np.testing.assert_array_equal(ours[...].view("i8"), expected.view("i8"))


V2_BYTE_ORDER_FILTERS = {
    "delta>i4": (">i4", [numcodecs.Delta(dtype=">i4")]),
    "delta>i4-as>i8": (">i4", [numcodecs.Delta(dtype=">i4", astype=">i8")]),
    "delta>i2-as<i4": (">i2", [numcodecs.Delta(dtype=">i2", astype="<i4")]),
    "fso>f8-as>u2": (">f8", [numcodecs.FixedScaleOffset(offset=0, scale=10, dtype=">f8", astype=">u2")]),
    "fso>f8-asu2": (">f8", [numcodecs.FixedScaleOffset(offset=0, scale=10, dtype=">f8", astype="u2")]),
    "fso<f8-as>u2": ("<f8", [numcodecs.FixedScaleOffset(offset=0, scale=10, dtype="<f8", astype=">u2")]),
    "quantize>f4": (">f4", [numcodecs.Quantize(digits=2, dtype=">f4")]),
    "astype>f8-<f4": (">f8", [numcodecs.AsType(encode_dtype="<f4", decode_dtype=">f8")]),
    "shuffle>i4": (">i4", [numcodecs.Shuffle(elementsize=4)]),
    "delta>u2-zstd": (">u2", [numcodecs.Delta(dtype=">u2")]),
}


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("case", sorted(V2_BYTE_ORDER_FILTERS))
def test_v2_filters_see_the_stored_byte_order_as_in_zarr_python(tmp_path, case, order):
    """zarr-python hands a v2 array's filters the chunk in the array's stored byte order
    (numcodecs' filters view their input as their dtype) and stores the last filter's
    output as it is: our chunks are its chunks byte for byte, both read the other's
    values, and a partial write into zarr-python's array keeps its other values."""
    dtype, filters = V2_BYTE_ORDER_FILTERS[case]
    compressor = numcodecs.Zstd(level=1) if case.endswith("zstd") else None
    kw = dict(shape=(6, 7), chunks=(4, 5), dtype=dtype, zarr_format=2, order=order, filters=filters,
              compressors=compressor)
    data = (np.arange(42).reshape(6, 7) % 9 * 1.5).astype(dtype)
    ze.create_array(str(tmp_path / "ours"), **kw)[...] = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), **kw)[...] = data
        expected = zarr.open_array(str(tmp_path / "theirs"), mode="r")[...]
        got = zarr.open_array(str(tmp_path / "ours"), mode="r")[...]
    np.testing.assert_array_equal(expected, data)
    for key in ("0.0", "0.1", "1.0", "1.1"):
        assert (tmp_path / "ours" / key).read_bytes() == (tmp_path / "theirs" / key).read_bytes(), key
    np.testing.assert_array_equal(got, data)
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "theirs"), mode="r")[...], data)
    # a read-modify-write of zarr-python's chunks
    ze.open_array(str(tmp_path / "theirs"), mode="r+")[1:3, 2:6] = 0
    data[1:3, 2:6] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "theirs"), mode="r")[...], data)


def test_v2_bitround_filter_on_big_endian_floats_rounds_the_values(tmp_path):
    """numcodecs' bitround takes native floats only (zarr-python fails to write a ``>f4``
    array through it); we round the values and store them big-endian, which
    zarr-python reads back as the rounded values."""
    data = (np.arange(20).reshape(4, 5) * 1.1).astype(">f4")
    a = ze.create_array(str(tmp_path / "a"), shape=(4, 5), chunks=(2, 3), dtype=">f4", zarr_format=2,
                        filters=[numcodecs.BitRound(keepbits=6)], compressors=None)
    a[...] = data
    rounded = numcodecs.BitRound(keepbits=6).encode(data.astype("<f4")).view("<f4").reshape(4, 5)
    assert not np.array_equal(rounded, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "a"), mode="r")[...], rounded)
    np.testing.assert_array_equal(a[...], rounded)


def _array_documents(tmp_path, fmt, kw):
    """The array metadata documents zarr_engine and zarr-python write for one create_array call."""
    ze.create_array(str(tmp_path / "ours"), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), **kw)
    name = "zarr.json" if fmt == 3 else ".zarray"
    return tuple(json.loads((tmp_path / side / name).read_text()) for side in ("ours", "theirs"))
