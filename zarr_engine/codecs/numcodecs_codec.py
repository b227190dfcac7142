"""``numcodecs.<id>``: any numcodecs codec, adapted to the v3 codec protocol.

numcodecs codecs do not say whether they transform arrays, serialise them or
compress bytes, so :data:`KINDS` says it for the ids zarr-python writes;
ids not listed are taken as bytes->bytes. The codec itself comes from
numcodecs' own registry (including its entry-point plug-ins).
"""

from __future__ import annotations

import bz2
import dataclasses
import math
import zlib
from typing import Any

import numcodecs
import numpy as np

from ..errors import ChunkCorruptError, CodecError, UnknownCodecError
from ._util import byte_view
from .base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ChunkSpec, Codec, CodecConfigError
from .bytes_codecs import (
    blosc_max_decoded,
    blosc_sizes,
    bounded_decompress,
    deflate_max_decoded,
    gunzip_into,
    zstd_decode_into,
    zstd_max_decoded,
)

PREFIX = "numcodecs."

ARRAY_ARRAY = frozenset({"delta", "fixedscaleoffset", "bitround", "quantize", "packbits", "categorize", "astype"})
ARRAY_BYTES = frozenset(
    {"json2", "msgpack2", "pickle", "vlen-array", "vlen-utf8", "vlen-bytes", "pcodec", "zfpy"}
)
#: bytes->bytes ids that add a fixed number of bytes (checksums)
_FIXED_OVERHEAD = {"crc32": 4, "crc32c": 4, "adler32": 4, "fletcher32": 4, "jenkins_lookup3": 4}

#: configuration fields that may be left out and are then filled from the chunk spec
_OPEN_DTYPE_FIELDS = {
    "delta": "dtype",
    "fixedscaleoffset": "dtype",
    "quantize": "dtype",
    "categorize": "dtype",
    "astype": "decode_dtype",
}


def kind_of(codec_id: str) -> str:
    """The v3 codec kind a numcodecs id is used as."""
    if codec_id in ARRAY_ARRAY:
        return "array_array"
    if codec_id in ARRAY_BYTES:
        return "array_bytes"
    return "bytes_bytes"


def _json_safe(value: Any) -> Any:
    # numcodecs configs may hold tuples or numpy scalars; zarr.json wants plain JSON
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def build_numcodec(codec_id: str, config: dict[str, Any], path: str = "") -> Any:
    """A numcodecs codec object from numcodecs' registry; UnknownCodecError when
    numcodecs lacks it (or its optional dependency), CodecConfigError when the
    configuration is refused."""
    from .registry import unknown_codec_message  # registry imports this module

    try:
        return numcodecs.get_codec({**config, "id": codec_id})
    except ImportError as e:
        raise UnknownCodecError(unknown_codec_message(PREFIX + codec_id, path, missing=e.name)) from e
    except Exception as e:  # numcodecs' UnknownCodecError is a ValueError
        if type(e).__name__ == "UnknownCodecError":
            raise UnknownCodecError(unknown_codec_message(PREFIX + codec_id, path)) from e
        raise CodecConfigError(
            f"codec {PREFIX + codec_id!r}: invalid configuration {config!r}: {type(e).__name__}: {e}"
        ) from e


class NumcodecsCodec(Codec):
    """Base of the numcodecs adapters; build instances with :meth:`create`."""

    codec_id: str

    def __init__(self, codec_id: str, configuration: dict[str, Any] | None = None, path: str = "") -> None:
        config = dict(configuration or {})
        config.pop("id", None)
        config = _json_safe(config)
        object.__setattr__(self, "codec_id", codec_id)
        object.__setattr__(self, "name", PREFIX + codec_id)
        object.__setattr__(self, "_config", config)
        open_field = _OPEN_DTYPE_FIELDS.get(codec_id)
        if (open_field and config.get(open_field) is None) or (
            codec_id == "shuffle" and config.get("elementsize") is None
        ):
            nc = None  # built by evolve() once the dtype is known
        else:
            nc = build_numcodec(codec_id, config, path)
        object.__setattr__(self, "_nc", nc)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (NumcodecsCodec.create, (self.codec_id, self._config))

    @staticmethod
    def create(codec_id: str, configuration: dict[str, Any] | None = None, path: str = "") -> "NumcodecsCodec":
        """The adapter of the right kind for numcodecs id ``codec_id``."""
        cls = {"array_array": NumcodecsArrayArrayCodec, "array_bytes": NumcodecsArrayBytesCodec}.get(
            kind_of(codec_id), NumcodecsBytesBytesCodec
        )
        return cls(codec_id, configuration, path)

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "NumcodecsCodec":
        """From a numcodecs-style configuration, which must carry its ``id``."""
        if not isinstance(configuration, dict) or not isinstance(configuration.get("id"), str):
            raise CodecConfigError(f"numcodecs configuration needs an 'id': {configuration!r}")
        return cls.create(configuration["id"], configuration)

    @classmethod
    def from_numcodecs(cls, codec: Any) -> "NumcodecsCodec":
        """Adapt a numcodecs codec object."""
        config = codec.get_config()
        return cls.create(config["id"], config)

    def to_config(self) -> dict[str, Any]:
        return dict(self._config)

    def to_numcodecs_config(self) -> dict[str, Any]:
        """The v2 (``.zarray``) form: ``{"id": ..., **configuration}``."""
        return {"id": self.codec_id, **self._config}

    @property
    def numcodec(self) -> Any:
        if self._nc is None:
            raise CodecError(f"codec {self.name!r}: configuration {self._config!r} is incomplete (no dtype)")
        return self._nc

    def evolve(self, spec: ChunkSpec) -> "NumcodecsCodec":
        if self._nc is not None:
            return self
        config = dict(self._config)
        if self.codec_id == "shuffle":
            config["elementsize"] = spec.dtype.itemsize
        else:
            config[_OPEN_DTYPE_FIELDS[self.codec_id]] = spec.dtype.str
        return NumcodecsCodec.create(self.codec_id, config)


class NumcodecsArrayArrayCodec(NumcodecsCodec, ArrayArrayCodec):
    """A numcodecs filter (delta, fixedscaleoffset, astype, packbits, ...)."""

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        c, cid = self._config, self.codec_id
        if cid == "packbits":
            n = math.prod(spec.shape)
            return dataclasses.replace(spec, shape=(1 + math.ceil(n / 8),), dtype=np.dtype("u1"), fill_value=None)
        if cid == "astype":
            dtype = np.dtype(c["encode_dtype"])
        elif cid == "categorize":
            dtype = np.dtype(c.get("astype") or "u1")
        elif cid in ("delta", "fixedscaleoffset", "quantize"):
            dtype = np.dtype(c.get("astype") or c.get("dtype") or spec.dtype)
        else:
            dtype = spec.dtype
        if dtype == spec.dtype:
            return spec
        return dataclasses.replace(spec, dtype=dtype, fill_value=None)

    def validate(self, spec: ChunkSpec) -> None:
        if self.codec_id == "packbits" and spec.dtype != np.dtype(bool):
            raise CodecError(f"codec 'numcodecs.packbits' needs a bool dtype, got {spec.dtype}")

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        out_spec = self.resolve(spec)
        if self.codec_id == "bitround" and not data.dtype.isnative:
            # numcodecs' bitround knows native floats only (a v2 ">f4" array's filters get
            # big-endian items): round the values, hand them back in the order they came in
            native = self.numcodec.encode(np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("=")))
            return np.asarray(native).view(data.dtype.newbyteorder("=")).astype(data.dtype).reshape(out_spec.shape)
        result = np.asarray(self.numcodec.encode(np.ascontiguousarray(data)))
        want = out_spec.dtype
        if result.dtype != want:
            # bitround hands back its floats' bits as ints: reinterpret, never convert values
            same_bits = result.dtype.itemsize == want.itemsize and result.dtype.kind != want.kind
            result = result.view(want) if same_bits else result.astype(want)
        return result.reshape(out_spec.shape)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        result = np.asarray(self.numcodec.decode(np.ascontiguousarray(data)))
        n = math.prod(spec.shape)
        if result.size != n:
            raise ChunkCorruptError(f"{self.name}: decoded {result.size} items, expected {n}")
        if result.dtype != spec.dtype:
            result = result.astype(spec.dtype)
        return result.reshape(spec.shape)


class NumcodecsArrayBytesCodec(NumcodecsCodec, ArrayBytesCodec):
    """A numcodecs object codec or serialiser (json2, msgpack2, pickle, vlen-array, zfpy, pcodec)."""

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> Any:
        return self.numcodec.encode(np.ascontiguousarray(data))

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        result = np.asarray(self.numcodec.decode(data))
        n = math.prod(spec.shape)
        if result.size != n:
            raise ChunkCorruptError(f"{self.name}: decoded {result.size} items, expected {n}")
        result = result.reshape(spec.shape)
        if out is not None:
            out[...] = result
            return out
        if result.dtype != spec.dtype:
            result = result.astype(spec.dtype)
        return result


class NumcodecsBytesBytesCodec(NumcodecsCodec, BytesBytesCodec):
    """A numcodecs compressor or checksum (zlib, lz4, bz2, adler32, shuffle, ...)."""

    def encode(self, data: Any, spec: ChunkSpec) -> Any:
        return self.numcodec.encode(byte_view(data))

    def encode_array(self, data: Any, dtype: np.dtype) -> Any:
        """Encode the bytes ``data`` handed over as a 1-d array of ``dtype``, as a
        Zarr v2 compressor sees the chunk: Blosc then takes the item size as its
        typesize, which its shuffle works with, and ``shuffle: -1`` picks byte
        shuffle for items wider than a byte. The v3 ``numcodecs.*`` codecs get
        bytes (:meth:`encode`), as zarr-python gives them."""
        return self.numcodec.encode(byte_view(data).view(dtype))

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> Any:
        return self.numcodec.decode(data)

    def decode_into(self, data: Any, out: np.ndarray, spec: ChunkSpec) -> None:
        cid = self.codec_id
        if cid == "zstd":
            zstd_decode_into(self.numcodec, data, out, self.name)
        elif cid == "blosc":
            nbytes, cbytes = blosc_sizes(data)
            if nbytes != out.size or cbytes != byte_view(data).size:
                raise ChunkCorruptError(
                    f"{self.name}: header announces {nbytes} bytes from {cbytes}, "
                    f"expected {out.size} from {byte_view(data).size}"
                )
            self.numcodec.decode(data, out=out)
        elif cid == "lz4":
            buf = byte_view(data)
            announced = int.from_bytes(bytes(buf[:4]), "little") if buf.size >= 4 else -1
            if announced != out.size:
                raise ChunkCorruptError(f"{self.name}: header announces {announced} bytes, expected {out.size}")
            self.numcodec.decode(data, out=out)
        elif cid == "gzip":
            gunzip_into(data, out, self.name)
        elif cid == "zlib":
            out[...] = bounded_decompress(zlib.decompressobj, byte_view(data), out.size, self.name)
        elif cid == "bz2":
            out[...] = bounded_decompress(bz2.BZ2Decompressor, byte_view(data), out.size, self.name)
        else:
            super().decode_into(data, out, spec)

    def encoded_size(self, input_size: int) -> int | None:
        extra = _FIXED_OVERHEAD.get(self.codec_id)
        return None if extra is None else input_size + extra

    def max_decoded_size(self, nbytes: int, data: Any = None) -> int | None:
        cid = self.codec_id
        if cid in ("zlib", "gzip"):
            return deflate_max_decoded(nbytes)
        if cid == "zstd":
            return zstd_max_decoded(nbytes)
        if cid == "blosc":
            return blosc_max_decoded(nbytes, data)
        if cid == "lz4":
            # an LZ4 block grows a match by 255 per extra length byte; numcodecs
            # puts the decoded size in front, which can only be lower
            bound = nbytes * 255 + 64
            if data is not None and nbytes >= 4:
                bound = min(bound, int.from_bytes(bytes(byte_view(data)[:4]), "little"))
            return bound
        extra = _FIXED_OVERHEAD.get(cid)  # checksums: the payload is what is left
        return None if extra is None else max(0, nbytes - extra)
