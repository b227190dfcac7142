"""Metadata documents as the store holds them: bytes under relative keys.

:func:`to_documents` gives the bytes to write for a node; :func:`parse_node`
reads a node back from the documents the core fetched for it in one batch.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import MetadataError, NodeNotFoundError
from ._util import dump_json, fail, load_json, where
from .consolidated import ZMETADATA_KEY, build_zmetadata
from .metadata import ArrayMetadata, NodeMetadata
from .n5 import ATTRIBUTES_KEY, parse_n5_node, to_n5_documents
from .v2 import array_to_documents, group_to_documents, parse_v2_array, parse_v2_group
from .v3 import array_to_json, group_to_json, parse_v3

#: the keys (relative to a node) :func:`parse_node` looks at
METADATA_KEYS = ("zarr.json", ".zarray", ".zgroup", ".zattrs", ATTRIBUTES_KEY)


def to_json_documents(meta: NodeMetadata) -> dict[str, Any]:
    """The metadata documents of a node as JSON-like dicts, keyed by relative store key.

    v3: ``{"zarr.json": ...}``. v2 array: ``.zarray`` and ``.zattrs``; v2
    group: ``.zgroup`` and ``.zattrs``, and ``.zmetadata`` when the group
    carries consolidated metadata. The ``.zattrs`` of a v2 node is there even
    without attributes (``{}``): zarr-python 3.1 writes one for every array
    and group, so the two libraries leave the same keys in the store.
    """
    if meta.zarr_format == 3:
        doc = array_to_json(meta) if isinstance(meta, ArrayMetadata) else group_to_json(meta)
        return {"zarr.json": doc}
    if meta.zarr_format == "n5":
        return to_n5_documents(meta)
    if meta.zarr_format != 2:
        raise MetadataError(f"unknown zarr_format {meta.zarr_format!r}")
    if isinstance(meta, ArrayMetadata):
        return dict(array_to_documents(meta))
    docs: dict[str, Any] = dict(group_to_documents(meta))
    if meta.consolidated is not None:
        docs[ZMETADATA_KEY] = build_zmetadata({"": meta.replace(consolidated=None), **meta.consolidated})
    return docs


def to_documents(meta: NodeMetadata, path: str | None = None) -> dict[str, bytes]:
    """The metadata documents of a node as JSON bytes, as zarr-python writes them.

    Indented by 2 (``.zmetadata`` compact, as zarr-python writes it) and ASCII
    escaped. A non-finite fill value is the string "NaN"/"Infinity"/"-Infinity"
    the specs prescribe, while a float NaN or infinity in attributes (at any
    depth) is written as the bare token ``NaN``/``Infinity``/``-Infinity``, as
    zarr-python writes it, so that it reads back as a float in both libraries.
    N5's attributes.json keeps the strings "NaN"/"Infinity"/"-Infinity" there:
    N5 readers (tensorstore, Java's n5) refuse the bare tokens.

    ``path``, the node's path when known, is named with the document and the
    attribute in the error raised for an attribute that cannot be written.
    """
    strict = meta.zarr_format == "n5"
    return {
        key: dump_json(doc, indent=None if key == ZMETADATA_KEY else 2, strict=strict, path=path, key=key)
        for key, doc in to_json_documents(meta).items()
    }


def parse_node(docs: Mapping[str, Any], path: str = "", zarr_format: int | None = None) -> NodeMetadata:
    """Read the node at ``path`` from its metadata documents.

    ``docs`` maps keys among :data:`METADATA_KEYS` to bytes (or str, dict,
    None for absent). With ``zarr_format`` None, zarr.json wins when present
    (as in zarr-python), else the v2 documents, else an N5 attributes.json.
    """
    present = {k: v for k, v in docs.items() if k in METADATA_KEYS and v is not None}
    if zarr_format not in (None, 2, 3, "n5"):
        raise MetadataError(f"zarr_format must be 2, 3 or 'n5', got {zarr_format!r} (for {where(path)})")
    if "zarr.json" in present and zarr_format in (None, 3):
        return parse_v3(present["zarr.json"], path)
    has_v2 = ".zarray" in present or ".zgroup" in present
    if has_v2 and zarr_format in (None, 2):
        if ".zarray" in present and ".zgroup" in present:
            fail(path, ".zarray", "both .zarray and .zgroup are present")
        if ".zarray" in present:
            return parse_v2_array(present[".zarray"], present.get(".zattrs"), path)
        return parse_v2_group(present[".zgroup"], present.get(".zattrs"), path)
    if ATTRIBUTES_KEY in present and zarr_format in (None, "n5"):
        # N5: any attributes.json (the zarr documents win when both are present)
        return parse_n5_node(present[ATTRIBUTES_KEY], path)
    wanted = {
        None: "zarr.json, .zarray, .zgroup or attributes.json", 3: "zarr.json", 2: ".zarray or .zgroup",
        "n5": "attributes.json",
    }[zarr_format]
    raise NodeNotFoundError(f"no array or group at {where(path)}: no {wanted} found")


def parse_json_document(raw: Any, path: str, key: str) -> dict[str, Any]:
    """Decode one metadata document, raising MetadataError naming ``path`` and ``key``."""
    return load_json(raw, path, key)

