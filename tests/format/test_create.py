"""create_array_metadata against what zarr-python's create_array writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zarr_engine.errors import DTypeError, MetadataError
from zarr_engine.format import ChunkKeyEncoding, create_array_metadata, guess_chunks, to_json_documents

from .conftest import zp_create

pytestmark = pytest.mark.filterwarnings("ignore::Warning")

ZSTD3 = {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
ZSTD2 = {"id": "zstd", "level": 0}


@pytest.mark.parametrize(
    "dtype, fill",
    [("int16", None), (">f8", None), ("<f4", float("nan")), ("uint8", 3), ("bool", None), ("str", None),
     ("str", "x"), ("bytes", None), ("M8[ns]", None), ("U5", "ab"), ("S3", b"a"), ("V2", None), ("complex64", 1j)],
)
@pytest.mark.parametrize("fmt", [2, 3])
def test_same_documents_as_zarr_python(tmp_path, dtype, fill, fmt):
    if fmt == 2 and dtype == "bytes":
        pytest.skip("zarr-python 3.1 cannot create v2 bytes arrays from 'bytes'")
    kwargs = dict(shape=(7, 5), chunks=(3, 5), dtype=dtype, zarr_format=fmt, attributes={"a": 1})
    if fill is not None:
        kwargs["fill_value"] = fill
    docs = zp_create(tmp_path, **kwargs)
    if fmt == 3:
        ours = create_array_metadata(**kwargs, compressors=[ZSTD3])
    else:
        ours = create_array_metadata(**kwargs, compressor=ZSTD2)
    for key, raw in docs.items():
        assert to_json_documents(ours)[key] == json.loads(raw), key


def test_v3_order_is_not_stored_and_v2_order_is():
    v3 = create_array_metadata(shape=(4, 4), dtype="i4", chunks=2, order="F")
    assert v3.order == "C" and v3.codecs[0]["name"] == "bytes"
    v2 = create_array_metadata(shape=(4, 4), dtype="i4", chunks=2, order="F", zarr_format=2)
    assert v2.order == "F" and v2.codecs[0]["name"] == "transpose"


def test_chunk_normalisation():
    assert create_array_metadata(shape=(10, 20), dtype="u1", chunks=4).chunk_shape == (4, 4)
    assert create_array_metadata(shape=(10, 20), dtype="u1", chunks=(-1, None)).chunk_shape == (10, 20)
    assert create_array_metadata(shape=(0,), dtype="u1", chunks=-1).chunk_shape == (1,)
    assert create_array_metadata(shape=(), dtype="u1", chunks=()).chunk_shape == ()
    auto = create_array_metadata(shape=(10000, 10000), dtype="f8", chunks="auto").chunk_shape
    assert np.prod(auto) * 8 <= 1 << 20 and all(c & (c - 1) == 0 for c in auto)
    assert guess_chunks((2**62, 2**62), 8) == guess_chunks((2**62, 2**62), 8)  # terminates on huge shapes
    assert guess_chunks((3,), 1) == (3,)


@pytest.mark.parametrize(
    "kwargs, cls, match",
    [
        (dict(shape=(4,), chunks=0), MetadataError, r"chunks\[0\] must be a positive"),
        (dict(shape=(4,), chunks=(2, 2)), MetadataError, "has 2 dimensions but shape has 1"),
        (dict(shape=(-4,), chunks=2), MetadataError, "must be non-negative"),
        (dict(shape=(4,), chunks=2.5), MetadataError, "chunks must be"),
        (dict(shape=(4,), chunks=2, zarr_format=4), MetadataError, "zarr_format must be 2 or 3"),
        (dict(shape=(4,), chunks=2, order="K"), MetadataError, "order"),
        (dict(shape=(4,), chunks=2, fill_value=1000, dtype="int8"), DTypeError, "cannot be stored as 'int8'"),
        (dict(shape=(4,), chunks=2, dimension_names=["a", "b"]), MetadataError, "dimension_names has 2"),
        (dict(shape=(4,), chunks=2, compressor={"id": "zlib"}), MetadataError, "use compressors|give compressors"),
        (dict(shape=(4,), chunks=2, zarr_format=2, compressors=[{"id": "a"}, {"id": "b"}]), MetadataError, "at most one"),
        (dict(shape=(4,), chunks=2, zarr_format=2, filters=["delta"]), MetadataError, "numcodecs configuration"),
        (dict(shape=(4,), chunks=2, zarr_format=2, chunk_key_encoding={"name": "default"}), MetadataError, "'v2' key encoding"),
    ],
)
def test_create_errors(kwargs, cls, match):
    kwargs = {"dtype": "int16", **kwargs}
    with pytest.raises(cls, match=match) as info:
        create_array_metadata(path="g/new", **kwargs)
    assert "g/new" in str(info.value)


def test_create_options():
    meta = create_array_metadata(
        shape=(4,), dtype="f4", chunks=2, filters=[{"id": "delta", "dtype": "<f4"}],
        compressors={"name": "gzip", "configuration": {"level": 1}},
        chunk_key_encoding={"name": "default", "separator": "."}, dimension_names=["t"],
    )
    assert [c["name"] for c in meta.codecs] == ["numcodecs.delta", "bytes", "gzip"]
    assert meta.chunk_key_encoding == ChunkKeyEncoding("default", ".")
    assert meta.chunk_key((3,)) == "c.3"
    v2 = create_array_metadata(shape=(4,), dtype=str, chunks=2, zarr_format=2, filters=[{"id": "zlib"}],
                               dimension_names=["t"], chunk_key_encoding=ChunkKeyEncoding("v2", "/"))
    assert v2.filters == ({"id": "vlen-utf8"}, {"id": "zlib"})
    assert [c["name"] for c in v2.codecs] == ["vlen-utf8", "numcodecs.zlib"]
    assert v2.attributes == {"_ARRAY_DIMENSIONS": ["t"]} and v2.dimension_names == ("t",)
    assert to_json_documents(v2)[".zarray"]["dimension_separator"] == "/"
    big = create_array_metadata(shape=(4,), dtype=">i4", chunks=2, zarr_format=2)
    assert to_json_documents(big)[".zarray"]["dtype"] == ">i4"
    assert big.codecs[-1] == {"name": "bytes", "configuration": {"endian": "big"}}


def test_sharding_inner_chains_are_written_like_zarr_python(tmp_path):
    docs = zp_create(tmp_path, shape=(8,), chunks=(2,), shards=(4,), dtype="u1", zarr_format=3)
    expected = json.loads(docs["zarr.json"])["codecs"]
    inner = {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": [2],
            "codecs": [{"name": "bytes", "configuration": {}}, ZSTD3],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c", "configuration": {}}],
            "index_location": "end",
        },
    }
    meta = create_array_metadata(shape=(8,), dtype="u1", chunks=(4,), serializer=inner)
    assert to_json_documents(meta)["zarr.json"]["codecs"] == expected
