"""Zarr v2 and v3 metadata: parse, validate, serialise. Pure functions, no I/O.

The one internal model (:class:`ArrayMetadata`, :class:`GroupMetadata`)
serves both formats; see :mod:`.metadata`.
"""

from .consolidated import (
    ZMETADATA_KEY,
    build_zmetadata,
    consolidate,
    group_from_zmetadata,
    parse_zmetadata,
    zmetadata_bytes,
)
from .create import create_array_metadata, default_serializer, guess_chunks, normalize_chunks, normalize_shape
from .dtypes import DataType
from .metadata import ArrayMetadata, ChunkKeyEncoding, CodecSpec, GroupMetadata, NodeMetadata
from .serialize import METADATA_KEYS, parse_node, to_documents, to_json_documents
from .v2 import array_to_documents, group_to_documents, parse_v2_array, parse_v2_group, v2_codecs
from .v3 import array_to_json, group_to_json, normalize_codec, normalize_codecs, parse_v3

__all__ = [
    "ArrayMetadata",
    "ChunkKeyEncoding",
    "CodecSpec",
    "DataType",
    "GroupMetadata",
    "METADATA_KEYS",
    "NodeMetadata",
    "ZMETADATA_KEY",
    "array_to_documents",
    "array_to_json",
    "build_zmetadata",
    "consolidate",
    "create_array_metadata",
    "default_serializer",
    "group_from_zmetadata",
    "group_to_documents",
    "group_to_json",
    "guess_chunks",
    "normalize_chunks",
    "normalize_codec",
    "normalize_codecs",
    "normalize_shape",
    "parse_node",
    "parse_v2_array",
    "parse_v2_group",
    "parse_v3",
    "parse_zmetadata",
    "to_documents",
    "to_json_documents",
    "v2_codecs",
    "zmetadata_bytes",
]
