"""normalize_* against what zarr-python 3.1 stores for the same arguments."""

from __future__ import annotations

import json

import numcodecs
import numpy as np
import pytest
import zarr.codecs as zc
from zarr.codecs import numcodecs as znc
from zarr.core.dtype import VariableLengthBytes, VariableLengthUTF8

from zarr_engine.codecs import (
    BloscCodec,
    ChunkSpec,
    CodecChain,
    ZstdCodec,
    normalize_compressors,
    normalize_filters,
    normalize_serializer,
)
from zarr_engine.errors import CodecError

from .oracle import raw_bytes, zarr_array


def _v3_codecs(dtype, **kwargs) -> list[dict]:
    data = np.zeros(4, dtype=dtype if not isinstance(dtype, (VariableLengthBytes, VariableLengthUTF8)) else object)
    if data.dtype == object:
        data[...] = b"" if isinstance(dtype, VariableLengthBytes) else ""
    _, raw = zarr_array(data, (2,), dtype=dtype, **kwargs)
    return [{"name": c["name"], "configuration": c.get("configuration", {})}
            for c in json.loads(raw_bytes(raw, "zarr.json"))["codecs"]]


def _v2_meta(dtype, **kwargs) -> dict:
    data = np.zeros(4, dtype=dtype if dtype is not str else object)
    if dtype is str:
        data[...] = ""
    _, raw = zarr_array(data, (2,), zarr_format=2, dtype=dtype, **kwargs)
    return json.loads(raw_bytes(raw, ".zarray"))


V3_COMPRESSORS = ["auto", None, [], zc.ZstdCodec(level=3, checksum=True), zc.BloscCodec(),
                  zc.BloscCodec(cname="lz4", clevel=1, shuffle="noshuffle", typesize=2), zc.GzipCodec(level=2),
                  [zc.GzipCodec(), zc.Crc32cCodec()], {"name": "gzip", "configuration": {"level": 4}},
                  znc.Zlib(level=2), [znc.LZ4(), znc.Adler32()]]


@pytest.mark.parametrize("value", V3_COMPRESSORS, ids=repr)
@pytest.mark.parametrize("dtype", ["<f8", "u1"])
def test_v3_compressors_match_zarr_python(value, dtype) -> None:
    expected = _v3_codecs(dtype, compressors=value)[1:]
    assert normalize_compressors(value, 3, np.dtype(dtype)) == expected


@pytest.mark.parametrize(
    "dtype", ["u1", "<i4", ">i4", "<U3", "S5", "bool", "<M8[s]", [("a", "<i4"), ("b", "<f8")],
              VariableLengthUTF8(), VariableLengthBytes(), np.dtypes.StringDType()],
    ids=str,
)
def test_v3_auto_serializer_matches_zarr_python(dtype) -> None:
    expected = _v3_codecs(dtype)[0]
    assert normalize_serializer("auto", dtype) == expected


def _with_configurations(spec):
    """``spec`` with every codec's configuration spelled out, ``{}`` when zarr-python leaves it out."""
    if isinstance(spec, list):
        return [_with_configurations(s) for s in spec]
    if isinstance(spec, dict) and "name" in spec:
        conf = {k: _with_configurations(v) for k, v in spec.get("configuration", {}).items()}
        return {"name": spec["name"], "configuration": conf}
    return spec


SHARDING_SERIALIZERS = [
    zc.ShardingCodec(chunk_shape=(1,)),
    zc.ShardingCodec(chunk_shape=(1,), codecs=[zc.BytesCodec(), zc.BloscCodec()], index_location="start"),
    zc.ShardingCodec(chunk_shape=(1,), codecs=[zc.BytesCodec(endian="big"), zc.BloscCodec(cname="lz4", typesize=2)]),
    {"name": "sharding_indexed", "configuration": {
        "chunk_shape": [1], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                       {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}], "index_location": "start"}},
]


@pytest.mark.parametrize("value", SHARDING_SERIALIZERS, ids=repr)
@pytest.mark.parametrize("dtype", ["<f8", "<i2"])
def test_v3_sharding_serializer_matches_zarr_python(value, dtype) -> None:
    # the serializer's shard is the array's chunk (2,), unknown to normalize_serializer;
    # blosc's typesize and shuffle, left open, come from the dtype as in zarr-python
    expected = _with_configurations(_v3_codecs(dtype, serializer=value, compressors=None)[0])
    assert normalize_serializer(value, np.dtype(dtype)) == expected


@pytest.mark.parametrize("value", ["auto", None, [znc.Delta(dtype="<i4")], [znc.Delta(dtype="<i4", astype="<i2"), znc.AsType(encode_dtype="<i1", decode_dtype="<i2")]], ids=repr)
def test_v3_filters_match_zarr_python(value) -> None:
    expected = _v3_codecs("<i4", filters=value)[:-2]
    assert normalize_filters(value, 3, np.dtype("<i4")) == expected


V2_COMPRESSORS = ["auto", None, numcodecs.Zstd(level=3), numcodecs.Zstd(level=1, checksum=True), numcodecs.Blosc(),
                  numcodecs.Blosc(cname="zstd", shuffle=2), numcodecs.GZip(level=3), numcodecs.LZ4(),
                  {"id": "zlib", "level": 4}, [numcodecs.BZ2()]]


@pytest.mark.parametrize("value", V2_COMPRESSORS, ids=repr)
def test_v2_compressor_matches_zarr_python(value) -> None:
    assert normalize_compressors(value, 2, np.dtype("<f4")) == _v2_meta("<f4", compressors=value)["compressor"]


@pytest.mark.parametrize(("dtype", "value"), [("<i4", "auto"), (str, "auto"), ("<i4", None),
                                              ("<i4", [numcodecs.Delta(dtype="<i4")]),
                                              ("<f8", [numcodecs.Quantize(digits=2, dtype="<f8")])], ids=repr)
def test_v2_filters_match_zarr_python(dtype, value) -> None:
    ours = normalize_filters(value, 2, np.dtype(object) if dtype is str else np.dtype(dtype))
    assert ours == _v2_meta(dtype, filters=value)["filters"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (numcodecs.Zstd(level=3), {"name": "zstd", "configuration": {"level": 3, "checksum": False}}),
        (numcodecs.GZip(level=6), {"name": "gzip", "configuration": {"level": 6}}),
        (numcodecs.Blosc(cname="lz4", clevel=3, shuffle=numcodecs.Blosc.AUTOSHUFFLE),
         {"name": "blosc", "configuration": {"typesize": 4, "cname": "lz4", "clevel": 3, "shuffle": "shuffle", "blocksize": 0}}),
        ({"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 2, "blocksize": 0},
         {"name": "blosc", "configuration": {"typesize": 4, "cname": "zstd", "clevel": 1, "shuffle": "bitshuffle", "blocksize": 0}}),
        (numcodecs.Zlib(level=2), {"name": "numcodecs.zlib", "configuration": {"level": 2}}),
        ("zstd", {"name": "zstd", "configuration": {"level": 0, "checksum": False}}),
        ("lz4", {"name": "numcodecs.lz4", "configuration": {"acceleration": 1}}),
        (ZstdCodec(level=5), {"name": "zstd", "configuration": {"level": 5, "checksum": False}}),
        (BloscCodec(cname="lz4"), {"name": "blosc", "configuration": {"typesize": 4, "cname": "lz4", "clevel": 5, "shuffle": "shuffle", "blocksize": 0}}),
    ],
    ids=repr,
)
def test_numcodecs_to_v3_core(value, expected) -> None:
    assert normalize_compressors(value, 3, np.dtype("<i4")) == [expected]


@pytest.mark.parametrize("nc", [numcodecs.Blosc(cname="lz4", shuffle=-1), numcodecs.Zstd(level=4), numcodecs.GZip(level=2)], ids=repr)
def test_mapped_numcodecs_decode_with_numcodecs(nc) -> None:
    # the equivalence claimed by the mapping: numcodecs decodes what the v3 core codec writes, and back
    data = np.arange(500, dtype="<i4")
    specs = [{"name": "bytes", "configuration": {"endian": "little"}}, *normalize_compressors(nc, 3, data.dtype)]
    chain = CodecChain.from_specs(specs, ChunkSpec((500,), data.dtype))
    assert np.array_equal(np.frombuffer(bytes(nc.decode(chain.encode(data))), "<i4"), data)
    assert np.array_equal(chain.decode(nc.encode(data)), data)


def test_v2_from_our_and_zarr_python_codecs() -> None:
    assert normalize_compressors(ZstdCodec(level=2), 2, "<i4") == {"id": "zstd", "level": 2}
    assert normalize_compressors(zc.BloscCodec(cname="lz4", shuffle="shuffle"), 2, "<i4") == numcodecs.Blosc(
        cname="lz4", shuffle=1).get_config()
    assert normalize_compressors("gzip", 2, "<i4") == numcodecs.GZip().get_config()
    assert normalize_compressors(znc.Zlib(level=3), 2, "<i4") == {"id": "zlib", "level": 3}
    assert normalize_filters([{"name": "numcodecs.delta", "configuration": {"dtype": "<i4"}}], 2, "<i4") == [
        numcodecs.Delta(dtype="<i4").get_config()]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: normalize_compressors(42, 3, "<f4"), "42"),
        (lambda: normalize_compressors([zc.BytesCodec()], 3, "<f4"), "serializer"),
        (lambda: normalize_compressors([numcodecs.Zstd(), numcodecs.GZip()], 2, "<f4"), "one compressor"),
        (lambda: normalize_filters([zc.ZstdCodec()], 3, "<f4"), "compressor"),
        (lambda: normalize_serializer(zc.ZstdCodec(), "<f4"), "compressor"),
        (lambda: normalize_serializer(None, "<f4"), "serializer"),
        (lambda: normalize_compressors({"nope": 1}, 3, "<f4"), "nope"),
        (lambda: normalize_compressors("nosuchcodec", 3, "<f4"), "nosuchcodec"),
        (lambda: normalize_compressors([zc.TransposeCodec(order=(0,))], 2, "<f4"), "v2"),
    ],
)
def test_bad_input_names_what_was_passed(call, match) -> None:
    with pytest.raises(CodecError, match=match):
        call()
