"""N5 through the core API: round trips, the block format on disk, attributes, errors."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.codecs.n5_compression import lz4_block_compress, lz4_block_decompress, xxhash32
from zarr_engine.errors import ChunkCorruptError, MetadataError, UnsupportedError, ZarrEngineError
from zarr_engine.format.n5 import parse_n5_node

from .conftest import COMPRESSIONS, DTYPES, sample


def _attrs(root: Path, path: str = "") -> dict:
    return json.loads((root / path / "attributes.json").read_text())


def _write_attrs(root: Path, path: str, doc: dict) -> None:
    (root / path).mkdir(parents=True, exist_ok=True)
    (root / path / "attributes.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
def test_round_trip_every_dtype_and_compression(tmp_path: Path, dtype: str, compression: str) -> None:
    data = sample((9, 7), dtype)
    ze.create_array(
        str(tmp_path), path="a", shape=data.shape, chunks=(4, 3), dtype=dtype, zarr_format="n5",
        compressor=COMPRESSIONS[compression], data=data,
    )
    arr = ze.open_array(str(tmp_path), path="a", mode="r")
    assert arr.metadata.zarr_format == "n5"
    assert arr.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(arr[2:8, 1:6], data[2:8, 1:6])
    doc = _attrs(tmp_path, "a")
    assert doc["compression"] == COMPRESSIONS[compression]
    assert doc["dataType"] == dtype


def test_dimensions_reversed_and_keys_in_n5_order(tmp_path: Path) -> None:
    data = np.arange(5 * 7 * 3, dtype="int16").reshape(5, 7, 3)
    arr = ze.create_array(str(tmp_path), shape=data.shape, chunks=(2, 3, 3), dtype="int16", zarr_format="n5", compressor=None)
    arr[...] = data
    doc = _attrs(tmp_path)
    assert doc["dimensions"] == [3, 7, 5]
    assert doc["blockSize"] == [3, 3, 2]
    assert arr.shape == (5, 7, 3) and arr.chunks == (2, 3, 3)
    # chunk (z=2, y=1, x=0) lives at x/y/z
    raw = (tmp_path / "0" / "1" / "2").read_bytes()
    mode, ndim, *size = struct.unpack(">HH3I", raw[:16])
    assert (mode, ndim) == (0, 3)
    # an edge block: z holds one row (5 = 2 + 2 + 1), y and x are whole
    assert size == [3, 3, 1]
    block = np.frombuffer(raw[16:], dtype=">i2").reshape(1, 3, 3)
    np.testing.assert_array_equal(block, data[4:5, 3:6, 0:3])


def test_edge_blocks_stored_at_actual_size(tmp_path: Path) -> None:
    data = sample((10, 10), "uint32")
    ze.create_array(str(tmp_path), shape=(10, 10), chunks=(4, 4), dtype="uint32", zarr_format="n5",
                    compressor="gzip", data=data)
    raw = (tmp_path / "2" / "2").read_bytes()  # the corner block: 2 x 2 elements
    assert struct.unpack(">HHII", raw[:12]) == (0, 2, 2, 2)
    payload = gzip.decompress(raw[12:])
    assert len(payload) == 2 * 2 * 4
    np.testing.assert_array_equal(np.frombuffer(payload, ">u4").reshape(2, 2), data[8:, 8:])
    # an interior block is whole
    assert struct.unpack(">HHII", (tmp_path / "1" / "1").read_bytes()[:12]) == (0, 2, 4, 4)


def test_partial_writes_of_edge_blocks(tmp_path: Path) -> None:
    arr = ze.create_array(str(tmp_path), shape=(7,), chunks=(3,), dtype="float64", zarr_format="n5", compressor="zstd")
    arr[5:7] = [1.5, 2.5]
    arr[6] = 9.0
    np.testing.assert_array_equal(arr[...], [0, 0, 0, 0, 0, 1.5, 9.0])
    raw = (tmp_path / "2").read_bytes()
    assert struct.unpack(">HHI", raw[:8]) == (0, 1, 1)


def test_user_attributes_beside_n5_keys(tmp_path: Path) -> None:
    arr = ze.create_array(str(tmp_path), path="g/a", shape=(4,), chunks=(2,), dtype="uint8", zarr_format="n5",
                          attributes={"pixelResolution": {"unit": "um", "dimensions": [1, 1]}})
    arr.attrs["note"] = "hi"
    doc = _attrs(tmp_path, "g/a")
    assert doc["note"] == "hi" and doc["pixelResolution"]["unit"] == "um"
    assert doc["dimensions"] == [4] and doc["dataType"] == "uint8"
    again = ze.open_array(str(tmp_path), path="g/a")
    assert dict(again.attrs) == {"pixelResolution": {"unit": "um", "dimensions": [1, 1]}, "note": "hi"}
    with pytest.raises(MetadataError, match="reserved by N5"):
        again.attrs["dataType"] = "float32"
    assert _attrs(tmp_path, "g/a")["dataType"] == "uint8"  # nothing was written


def test_groups_and_root_version(tmp_path: Path) -> None:
    root = ze.create_group(str(tmp_path), zarr_format="n5", attributes={"title": "t"})
    sub = root.create_group("sub", attributes={"k": 1})
    sub.create_array("arr", shape=(3, 4), chunks=(2, 2), dtype="int64")
    assert _attrs(tmp_path) == {"n5": "2.0.0", "title": "t"}
    assert _attrs(tmp_path, "sub") == {"k": 1}
    opened = ze.open(str(tmp_path), mode="r")
    assert isinstance(opened, ze.Group) and opened.zarr_format == "n5"
    assert dict(opened.attrs) == {"title": "t"}
    assert [name for name, _ in opened.members(None)] == ["sub", "sub/arr"]
    assert opened["sub/arr"].shape == (3, 4)
    root.attrs["title"] = "u"
    assert _attrs(tmp_path)["n5"] == "2.0.0"


def test_implicit_groups_without_attributes(tmp_path: Path) -> None:
    _write_attrs(tmp_path, "x/y/arr", {"dimensions": [2], "blockSize": [2], "dataType": "int8",
                                       "compression": {"type": "raw"}})
    group = ze.open_group(str(tmp_path), mode="r", zarr_format="n5")
    assert group.group_keys() == ["x"]
    assert group["x/y"].array_keys() == ["arr"]
    assert group["x"]["y"]["arr"].shape == (2,)


def _block(mode: int, shape_n5: tuple[int, ...], payload: bytes, count: int | None = None) -> bytes:
    head = struct.pack(f">HH{len(shape_n5)}I", mode, len(shape_n5), *shape_n5)
    if count is not None:
        head += struct.pack(">I", count)
    return head + payload


def test_varlength_and_object_mode_blocks(tmp_path: Path) -> None:
    _write_attrs(tmp_path, "", {"dimensions": [3, 2], "blockSize": [3, 2], "dataType": "int16",
                                "compression": {"type": "raw"}})
    # mode 1: the header carries the element count
    values = np.arange(6, dtype=">i2").reshape(2, 3)
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "0").write_bytes(_block(1, (3, 2), values.tobytes(), count=6))
    np.testing.assert_array_equal(ze.open_array(str(tmp_path), mode="r")[...], values)
    # mode 2: no shape in the header, the payload is the raw elements
    (tmp_path / "0" / "0").write_bytes(struct.pack(">H", 2) + (values * 3).astype(">i2").tobytes())
    np.testing.assert_array_equal(ze.open_array(str(tmp_path), mode="r")[...], values * 3)


def test_unsupported_block_mode_is_named(tmp_path: Path) -> None:
    _write_attrs(tmp_path, "data/img", {"dimensions": [2], "blockSize": [2], "dataType": "uint8",
                                        "compression": {"type": "raw"}})
    (tmp_path / "data/img/0").write_bytes(_block(7, (2,), b"\x01\x02"))
    arr = ze.open_array(str(tmp_path), path="data/img", mode="r")
    with pytest.raises(UnsupportedError, match=r"block mode 7") as info:
        arr[...]
    assert "data/img" in str(info.value)
    assert isinstance(info.value, ChunkCorruptError)
    # a varlength block whose count does not fill its block
    (tmp_path / "data/img/0").write_bytes(_block(1, (2,), b"\x01", count=1))
    with pytest.raises(UnsupportedError, match="varlength block holds 1 elements"):
        arr[...]


def test_corrupt_blocks_raise_chunk_corrupt(tmp_path: Path) -> None:
    _write_attrs(tmp_path, "", {"dimensions": [4], "blockSize": [4], "dataType": "uint16",
                                "compression": {"type": "gzip"}})
    (tmp_path / "0").write_bytes(_block(0, (4,), gzip.compress(b"\x00" * 6)))  # 3 elements, not 4
    with pytest.raises(ChunkCorruptError, match="expected 8"):
        ze.open_array(str(tmp_path), mode="r")[...]
    (tmp_path / "0").write_bytes(_block(0, (5,), b""))  # larger than the block size
    with pytest.raises(ChunkCorruptError, match="larger than the chunk"):
        ze.open_array(str(tmp_path), mode="r")[...]


def test_unsupported_compression_and_dtype_are_named(tmp_path: Path) -> None:
    _write_attrs(tmp_path, "grp/a", {"dimensions": [2], "blockSize": [2], "dataType": "uint8",
                                     "compression": {"type": "snappy"}})
    with pytest.raises(UnsupportedError, match=r"node '/grp/a'.*compression 'snappy' is not supported"):
        ze.open_array(str(tmp_path), path="grp/a", mode="r")
    _write_attrs(tmp_path, "grp/b", {"dimensions": [2], "blockSize": [2], "dataType": "object",
                                     "compression": {"type": "raw"}})
    with pytest.raises(UnsupportedError, match=r"node '/grp/b'.*dataType 'object'"):
        ze.open_array(str(tmp_path), path="grp/b", mode="r")
    _write_attrs(tmp_path, "grp/c", {"dimensions": [2], "blockSize": [2, 2], "dataType": "uint8"})
    with pytest.raises(MetadataError, match=r"node '/grp/c'.*blockSize"):
        ze.open_array(str(tmp_path), path="grp/c", mode="r")
    with pytest.raises(UnsupportedError, match="N5 cannot store data type"):
        ze.create_array(str(tmp_path), path="d", shape=(2,), dtype="complex64", zarr_format="n5")
    with pytest.raises(UnsupportedError, match="no fill value"):
        ze.create_array(str(tmp_path), path="d", shape=(2,), dtype="uint8", fill_value=3, zarr_format="n5")
    with pytest.raises(UnsupportedError, match="no shards"):
        ze.create_array(str(tmp_path), path="d", shape=(4,), chunks=(2,), shards=(4,), dtype="uint8", zarr_format="n5")


def test_legacy_compression_type_and_defaults(tmp_path: Path) -> None:
    data = np.arange(4, dtype=">f4")
    _write_attrs(tmp_path, "", {"dimensions": [4], "blockSize": [4], "dataType": "float32", "compressionType": "gzip"})
    (tmp_path / "0").write_bytes(_block(0, (4,), gzip.compress(data.tobytes())))
    np.testing.assert_array_equal(ze.open_array(str(tmp_path), mode="r")[...], data)


def test_dimension_names_from_attributes() -> None:
    meta = parse_n5_node(json.dumps({"dimensions": [3, 2], "blockSize": [1, 1], "dataType": "uint8",
                                     "_ARRAY_DIMENSIONS": ["y", "x"]}))
    assert meta.dimension_names == ("y", "x")
    plain = parse_n5_node(json.dumps({"dimensions": [3, 2], "blockSize": [1, 1], "dataType": "uint8"}))
    assert plain.dimension_names is None


def test_numcodecs_compressors_map_to_n5(tmp_path: Path) -> None:
    import numcodecs

    for i, (codec, expected) in enumerate([
        (numcodecs.Zlib(level=4), {"type": "gzip", "level": 4, "useZlib": True}),
        (numcodecs.BZ2(level=7), {"type": "bzip2", "blockSize": 7}),
        ({"id": "zstd", "level": 2}, {"type": "zstd", "level": 2}),
    ]):
        ze.create_array(str(tmp_path), path=f"a{i}", shape=(3,), dtype="int32", zarr_format="n5", compressor=codec)
        assert _attrs(tmp_path, f"a{i}")["compression"] == expected
    with pytest.raises(ZarrEngineError, match="no N5 equivalent"):
        ze.create_array(str(tmp_path), path="bad", shape=(3,), dtype="int32", zarr_format="n5",
                        compressor=numcodecs.Delta(dtype="i4"))


def test_lz4_block_stream() -> None:
    # XXH32 reference values (the empty input and "abc", seed 0)
    assert xxhash32(b"", 0) == 0x02CC5D05
    assert xxhash32(b"abc", 0) == 0x32D153FF
    data = bytes(range(256)) * 40 + b"tail"
    stream = lz4_block_compress(data, 1024)
    assert stream.startswith(b"LZ4Block") and stream.count(b"LZ4Block") == 12  # 11 blocks + end mark
    assert lz4_block_decompress(stream) == data
    broken = bytearray(stream)
    broken[17] ^= 0xFF  # a checksum byte of the first block
    with pytest.raises(ChunkCorruptError, match="checksum"):
        lz4_block_decompress(bytes(broken))
