"""The codec registry: names, numcodecs ids, plug-ins, and the errors for what is missing."""

from __future__ import annotations

import pickle
from importlib import metadata
from typing import Any

import numpy as np
import pytest

from zarr_engine.codecs import ChunkSpec, CodecChain, get_codec, register_codec
from zarr_engine.codecs import registry as reg
from zarr_engine.codecs.base import ArrayArrayCodec, CodecConfigError
from zarr_engine.errors import CodecError, MetadataError, UnknownCodecError


@pytest.mark.parametrize(
    ("name", "package"),
    [("numcodecs.zfpy", "zfpy"), ("numcodecs.pcodec", "pcodec"), ("imagecodecs_jpeg2k", "imagecodecs"),
     ("numcodecs.imagecodecs_png", "imagecodecs")],
)
def test_unknown_codec_names_the_package(name, package) -> None:
    with pytest.raises(UnknownCodecError) as info:
        get_codec({"name": name, "configuration": {}}, "data/temperature")
    msg = str(info.value)
    assert name in msg and "data/temperature" in msg and f"'{package}'" in msg
    assert isinstance(info.value, MetadataError)


def test_unknown_numcodecs_id_suggests_newer_numcodecs() -> None:
    with pytest.raises(UnknownCodecError, match="newer numcodecs") as info:
        get_codec({"name": "numcodecs.frobnicate", "configuration": {}}, "a")
    assert "numcodecs.frobnicate" in str(info.value)


def test_unknown_v3_name() -> None:
    with pytest.raises(UnknownCodecError, match="'sz3'.*'x/y'"):
        get_codec({"name": "sz3"}, "x/y")


def test_chain_with_missing_optional_codec(fixtures_dir) -> None:
    # zarr-python wrote this array with numcodecs.zfpy, whose package is not installed here
    import json

    meta = json.loads((fixtures_dir / "zarrs/v3_zarr_python/array_zfpy.zarr/zarr.json").read_text())
    try:
        import zfpy  # noqa: F401
    except ImportError:
        with pytest.raises(UnknownCodecError, match="zfpy"):
            CodecChain.from_specs(meta["codecs"], ChunkSpec((5, 5), np.dtype("<f4")), "array_zfpy.zarr")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"name": "zstd", "configuration": {"level": "high"}}, "level"),
        ({"name": "zstd", "configuration": {"level": 3, "speed": 1}}, "speed"),
        ({"name": "blosc", "configuration": {"cname": "lzma"}}, "cname"),
        ({"name": "blosc", "configuration": {"shuffle": 1}}, "shuffle"),
        ({"name": "gzip", "configuration": {"level": 12}}, "level"),
        ({"name": "bytes", "configuration": {"endian": "middle"}}, "endian"),
        ({"name": "transpose", "configuration": {"order": [0, 0]}}, "permutation"),
        ({"name": "transpose", "configuration": {}}, "order"),
        ({"name": "crc32c", "configuration": {"x": 1}}, "x"),
        ({"name": "numcodecs.zlib", "configuration": {"level": 3, "bogus": 1}}, "bogus"),
        ({"name": "zstd", "configuration": [1]}, "object"),
    ],
)
def test_bad_configurations(spec, match) -> None:
    with pytest.raises(CodecConfigError, match=match) as info:
        get_codec(spec, "p/q")
    assert isinstance(info.value, CodecError) and isinstance(info.value, MetadataError)
    assert spec["name"] in str(info.value) and "p/q" in str(info.value)


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "bytes", "configuration": {"endian": "big"}},
        {"name": "bytes", "configuration": {}},
        {"name": "transpose", "configuration": {"order": [2, 0, 1]}},
        {"name": "blosc", "configuration": {"typesize": 4, "cname": "zstd", "clevel": 1, "shuffle": "bitshuffle", "blocksize": 0}},
        {"name": "gzip", "configuration": {"level": 9}},
        {"name": "zstd", "configuration": {"level": -3, "checksum": True}},
        {"name": "crc32c", "configuration": {}},
        {"name": "vlen-utf8", "configuration": {}},
        {"name": "vlen-bytes", "configuration": {}},
        {"name": "numcodecs.fixedscaleoffset", "configuration": {"offset": 1, "scale": 2, "dtype": "<f8", "astype": "<i4"}},
        {"name": "numcodecs.lz4", "configuration": {"acceleration": 1}},
    ],
    ids=lambda s: s["name"],
)
def test_specs_round_trip(spec) -> None:
    codec = get_codec(spec)
    assert codec.to_json() == spec
    assert pickle.loads(pickle.dumps(codec)).to_json() == spec


def test_numcodecs_kinds() -> None:
    assert get_codec({"name": "numcodecs.delta", "configuration": {"dtype": "<i4"}}).kind == "array_array"
    assert get_codec({"name": "numcodecs.json2", "configuration": {}}).kind == "array_bytes"
    assert get_codec({"name": "numcodecs.zlib", "configuration": {}}).kind == "bytes_bytes"
    # an id outside the table but in numcodecs' registry is a bytes->bytes codec
    assert get_codec({"name": "numcodecs.base64", "configuration": {}}).kind == "bytes_bytes"


def test_resolve_changes_dtype_and_shape() -> None:
    spec = ChunkSpec((4, 5), np.dtype("<f8"))
    fso = get_codec({"name": "numcodecs.fixedscaleoffset", "configuration": {"offset": 0, "scale": 10, "dtype": "<f8", "astype": "<i2"}})
    assert fso.resolve(spec).dtype == np.dtype("<i2")
    astype = get_codec({"name": "numcodecs.astype", "configuration": {"encode_dtype": "<f4", "decode_dtype": "<f8"}})
    assert astype.resolve(spec).dtype == np.dtype("<f4")
    assert get_codec({"name": "numcodecs.delta", "configuration": {"dtype": "<f8"}}).resolve(spec) == spec
    packbits = get_codec({"name": "numcodecs.packbits", "configuration": {}})
    out = packbits.resolve(ChunkSpec((4, 5), np.dtype(bool)))
    assert out.shape == (1 + 3,) and out.dtype == np.uint8
    cat = get_codec({"name": "numcodecs.categorize", "configuration": {"labels": ["a", "b"], "dtype": "|O", "astype": "|u1"}})
    assert cat.resolve(ChunkSpec((3,), np.dtype(object))).dtype == np.uint8
    assert get_codec({"name": "transpose", "configuration": {"order": [1, 0]}}).resolve(spec).shape == (5, 4)


class Negate(ArrayArrayCodec):
    name = "test.negate"

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "Negate":
        return cls()

    def to_config(self) -> dict[str, Any]:
        return {}

    def encode(self, data, spec):
        return -data

    def decode(self, data, spec, out=None):
        return -data


def test_register_codec_directly() -> None:
    try:
        register_codec(Negate)
        chain = CodecChain.from_specs([{"name": "test.negate"}, {"name": "bytes", "configuration": {"endian": "little"}}],
                                      ChunkSpec((3,), np.dtype("<i4")))
        enc = chain.encode(np.array([1, 2, 3], "<i4"))
        assert np.frombuffer(bytes(enc), "<i4").tolist() == [-1, -2, -3]
        assert chain.decode(enc).tolist() == [1, 2, 3]
    finally:
        reg._registry.pop("test.negate", None)
    with pytest.raises(CodecError):
        register_codec(int)  # type: ignore[arg-type]


class _FakeEntryPoint:
    def __init__(self, name: str, value: str, target: Any) -> None:
        self.name, self.value, self._target = name, value, target
        self.loads = 0

    def load(self) -> Any:
        self.loads += 1
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_entry_point_plugins(monkeypatch) -> None:
    good = _FakeEntryPoint("plug.negate", "plug:Negate", Negate)
    broken = _FakeEntryPoint("plug.broken", "plug_missing:Codec", ModuleNotFoundError("No module named 'plug_missing'"))
    wrong = _FakeEntryPoint("plug.wrong", "plug:thing", object)
    scans = []

    def fake_entry_points(*, group: str):
        scans.append(group)
        return [good, broken, wrong] if group == reg.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    reg.reset_plugins()
    try:
        assert isinstance(get_codec({"name": "plug.negate"}), Negate)
        assert isinstance(get_codec({"name": "plug.negate"}), Negate)
        assert good.loads == 1 and scans == [reg.ENTRY_POINT_GROUP]  # scanned once, loaded once
        with pytest.raises(UnknownCodecError, match="plug_missing"):
            get_codec({"name": "plug.broken"}, "arr")
        with pytest.raises(UnknownCodecError, match="not a zarr_engine Codec"):
            get_codec({"name": "plug.wrong"}, "arr")
        # built-in names are not taken over by plug-ins
        assert get_codec({"name": "bytes"}).name == "bytes"
    finally:
        reg._registry.pop("plug.negate", None)
        monkeypatch.undo()
        reg.reset_plugins()


def test_numcodecs_codec_with_missing_dependency(monkeypatch) -> None:
    # numcodecs knows the id but importing the codec's own dependency fails
    import numcodecs

    def failing_get_codec(config):
        raise ModuleNotFoundError("No module named 'zfpy'", name="zfpy")

    monkeypatch.setattr(numcodecs, "get_codec", failing_get_codec)
    with pytest.raises(UnknownCodecError, match=r"numcodecs\.zfpy.*'arr/x'.*'zfpy'"):
        get_codec({"name": "numcodecs.zfpy", "configuration": {"mode": 4}}, "arr/x")

    def failing_other(config):
        raise ModuleNotFoundError("No module named 'fancylib'", name="fancylib")

    monkeypatch.setattr(numcodecs, "get_codec", failing_other)
    with pytest.raises(UnknownCodecError, match="'fancylib'"):
        get_codec({"name": "numcodecs.fancy", "configuration": {}}, "arr/x")
