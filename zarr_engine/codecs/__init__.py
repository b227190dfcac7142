"""Codecs: the protocol, the built-in v3 codecs, numcodecs adapters, the
registry, the codec chain and the normalisation of user-given codecs."""

from .array_codecs import BytesCodec, TransposeCodec
from .base import (
    ArrayArrayCodec,
    ArrayBytesCodec,
    BytesBytesCodec,
    ChunkSpec,
    Codec,
    CodecConfigError,
    CodecKind,
)
from .bytes_codecs import BloscCodec, Crc32cCodec, GzipCodec, ZstdCodec
from .chain import CodecChain
from .normalize import normalize_compressors, normalize_filters, normalize_serializer
from .numcodecs_codec import (
    NumcodecsArrayArrayCodec,
    NumcodecsArrayBytesCodec,
    NumcodecsBytesBytesCodec,
    NumcodecsCodec,
)
from .registry import ENTRY_POINT_GROUP, get_codec, register_codec
from .sharding import ShardingCodec
from .vlen import VLenBytesCodec, VLenUTF8Codec

__all__ = [
    "ArrayArrayCodec",
    "ArrayBytesCodec",
    "BloscCodec",
    "BytesBytesCodec",
    "BytesCodec",
    "ChunkSpec",
    "Codec",
    "CodecChain",
    "CodecConfigError",
    "CodecKind",
    "Crc32cCodec",
    "ENTRY_POINT_GROUP",
    "GzipCodec",
    "NumcodecsArrayArrayCodec",
    "NumcodecsArrayBytesCodec",
    "NumcodecsBytesBytesCodec",
    "NumcodecsCodec",
    "ShardingCodec",
    "TransposeCodec",
    "VLenBytesCodec",
    "VLenUTF8Codec",
    "ZstdCodec",
    "get_codec",
    "normalize_compressors",
    "normalize_filters",
    "normalize_serializer",
    "register_codec",
]
