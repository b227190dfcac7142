"""Zarr v3: parse a ``zarr.json`` into the internal model, and write it back.

Only what the format layer can judge is checked here: field presence and
types, the data type and fill value, the chunk grid (regular only) and chunk
key encoding. Codec specifications are normalised to ``{"name",
"configuration"}`` but their names are left to the codecs layer.
"""

from __future__ import annotations

import copy
from typing import Any

from ._util import (
    MAX_EXTENT,
    as_dict,
    as_shape,
    check_relative_path,
    checked_copy,
    fail,
    join_path,
    load_json,
    require,
    short,
    unsupported,
)
from .dtypes import DataType
from .metadata import ArrayMetadata, ChunkKeyEncoding, CodecSpec, GroupMetadata, NodeMetadata

KEY = "zarr.json"
_DEFAULT_CKE_JSON = {"name": "default", "configuration": {"separator": "/"}}
_DEFAULT_CKE = ChunkKeyEncoding("default", "/")
_ARRAY_FIELDS = (
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
    "attributes",
    "dimension_names",
    "zarr_format",
    "node_type",
    "storage_transformers",
)
_GROUP_FIELDS = ("attributes", "zarr_format", "consolidated_metadata", "node_type")
#: codecs whose empty configuration zarr-python leaves out of zarr.json
_BARE_WHEN_EMPTY = frozenset({"bytes", "crc32c"})
_MAX_CONSOLIDATED_DEPTH = 32
_KNOWN_SETS: dict[tuple[str, ...], frozenset[str]] = {}


# -- pieces -------------------------------------------------------------------------


def normalize_codec(spec: Any, path: str = "", key: str = KEY, field: str = "codecs") -> CodecSpec:
    """One codec as ``{"name": str, "configuration": dict}`` (from a bare name or an object)."""
    if type(spec) is dict and len(spec) == 2:
        name, config = spec.get("name"), spec.get("configuration")
        if type(name) is str and name and type(config) is dict:
            return {"name": name, "configuration": checked_copy(config, path, key, field)}  # the usual form
    if isinstance(spec, str):
        if not spec:  # as the object form below: an empty name names no codec
            fail(path, key, f"{field}: a codec name must not be empty")
        return {"name": spec, "configuration": {}}
    if not isinstance(spec, dict):
        fail(path, key, f"{field}: a codec must be a name or an object, got {short(spec)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        fail(path, key, f"{field}: a codec object needs a string 'name', got {short(spec)}")
    extra = set(spec) - {"name", "configuration", "must_understand"}
    if extra:
        fail(path, key, f"{field}: codec {name!r} has unexpected keys {sorted(extra)}")
    config = spec.get("configuration", {})
    if config is None:
        config = {}
    if not isinstance(config, dict):
        fail(path, key, f"{field}: configuration of codec {name!r} must be an object, got {short(config)}")
    return {"name": name, "configuration": checked_copy(config, path, key, field)}


def normalize_codecs(value: Any, path: str = "", key: str = KEY, field: str = "codecs") -> tuple[CodecSpec, ...]:
    if not isinstance(value, list):
        fail(path, key, f"field {field!r} must be a list of codecs, got {short(value)}")
    if not value:
        fail(path, key, f"field {field!r} must name at least one codec (an array->bytes codec)")
    return tuple(normalize_codec(c, path, key, field) for c in value)


def codec_to_json(spec: CodecSpec) -> dict[str, Any]:
    """A codec spec as zarr-python writes it (``{"name": "bytes"}`` when unconfigured)."""
    config = spec.get("configuration") or {}
    if not config and spec["name"] in _BARE_WHEN_EMPTY:
        return {"name": spec["name"]}
    config = copy.deepcopy(config)
    if spec["name"] == "sharding_indexed":
        # the inner chains are written the same way as the outer one
        for field in ("codecs", "index_codecs"):
            inner = config.get(field)
            if isinstance(inner, list) and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in inner):
                config[field] = [codec_to_json(c) for c in inner]
    return {"name": spec["name"], "configuration": config}


def parse_chunk_key_encoding(value: Any, path: str = "", key: str = KEY) -> ChunkKeyEncoding:
    """``{"name": "default"|"v2", "configuration": {"separator": "/"|"."}}`` (or a bare name)."""
    if isinstance(value, ChunkKeyEncoding):
        return value
    if value == _DEFAULT_CKE_JSON:  # what nearly every zarr.json holds
        return _DEFAULT_CKE
    if isinstance(value, str):
        name, config = value, {}
    elif isinstance(value, dict):
        name = value.get("name")
        config = value.get("configuration", {})
        if "separator" in value and "configuration" not in value:
            config = {"separator": value["separator"]}  # the flat form users type
        if config is None:
            config = {}
        if not isinstance(config, dict):
            fail(path, key, f"chunk_key_encoding configuration must be an object, got {short(config)}")
        extra = set(value) - {"name", "configuration", "must_understand", "separator"}
        if extra:
            fail(path, key, f"chunk_key_encoding has unexpected keys {sorted(extra)}")
    else:
        fail(path, key, f"chunk_key_encoding must be an object, got {short(value)}")
    if name not in ("default", "v2"):
        unsupported(path, key, f"chunk key encoding {short(name)}")
    extra = set(config) - {"separator"}
    if extra:
        fail(path, key, f"chunk_key_encoding {name!r} has unexpected configuration keys {sorted(extra)}")
    sep = config.get("separator", "/" if name == "default" else ".")
    if sep not in ("/", "."):
        fail(path, key, f"chunk_key_encoding separator must be '/' or '.', got {short(sep)}")
    return ChunkKeyEncoding(name, sep)


def parse_chunk_grid(value: Any, ndim: int, path: str = "", key: str = KEY) -> tuple[int, ...]:
    """The chunk shape of a ``regular`` chunk grid."""
    if type(value) is dict and len(value) == 2 and value.get("name") == "regular":
        config = value.get("configuration")
        if type(config) is dict and len(config) == 1:
            shape = config.get("chunk_shape")
            if type(shape) is list and len(shape) == ndim and all(type(c) is int and 0 < c <= MAX_EXTENT for c in shape):
                return tuple(shape)  # the usual document, checked in one pass
    if isinstance(value, dict):
        name = value.get("name")
    else:
        fail(path, key, f"chunk_grid must be an object, got {short(value)}")
    if name != "regular":
        unsupported(path, key, f"chunk grid {short(name)} (only 'regular' is supported)")
    extra = set(value) - {"name", "configuration", "must_understand"}
    if extra:
        fail(path, key, f"chunk_grid has unexpected keys {sorted(extra)}")
    config = as_dict(value.get("configuration"), path, key, "chunk_grid.configuration")
    if set(config) != {"chunk_shape"}:
        fail(path, key, f"chunk_grid configuration must hold only 'chunk_shape', got {sorted(config)}")
    chunks = as_shape(config["chunk_shape"], path, key, "chunk_grid.configuration.chunk_shape", positive=True)
    if len(chunks) != ndim:
        fail(path, key, f"chunk_shape {list(chunks)} has {len(chunks)} dimensions but shape has {ndim}")
    return chunks


def parse_dimension_names(value: Any, ndim: int, path: str = "", key: str = KEY) -> tuple[str | None, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(v is None or isinstance(v, str) for v in value):
        fail(path, key, f"dimension_names must be a list of strings or nulls, got {short(value)}")
    if len(value) != ndim:
        fail(path, key, f"dimension_names has {len(value)} entries but the array has {ndim} dimensions")
    return tuple(value)


def parse_attributes(value: Any, path: str = "", key: str = KEY) -> dict[str, Any]:
    attrs = as_dict(value, path, key, "attributes")
    return checked_copy(attrs, path, key, "attributes")


def _extension_fields(doc: dict[str, Any], known: tuple[str, ...], path: str) -> dict[str, Any]:
    """Unknown fields: kept when they say ``must_understand: false``, refused otherwise."""
    known_set = _KNOWN_SETS.get(known)
    if known_set is None:
        known_set = _KNOWN_SETS[known] = frozenset(known)
    if known_set.issuperset(doc):
        return {}
    extra: dict[str, Any] = {}
    for name, value in doc.items():
        if name in known:
            continue
        if isinstance(value, dict) and value.get("must_understand") is False:
            extra[name] = checked_copy(value, path, KEY, name)
        else:
            fail(path, KEY, f"unknown field {name!r} (an extension field must say \"must_understand\": false)")
    return extra


# -- parse ----------------------------------------------------------------------------


def parse_v3(doc: Any, path: str = "") -> NodeMetadata:
    """Parse a zarr.json document (bytes, str or dict) into array or group metadata."""
    return _parse(load_json(doc, path, KEY), path, depth=0)


def _parse(doc: dict[str, Any], path: str, depth: int) -> NodeMetadata:
    zf = require(doc, "zarr_format", path, KEY)
    if zf != 3 or isinstance(zf, bool):
        fail(path, KEY, f"zarr_format must be 3, got {short(zf)}")
    node_type = require(doc, "node_type", path, KEY)
    if node_type == "array":
        return parse_array_v3(doc, path)
    if node_type == "group":
        return _parse_group(doc, path, depth)
    fail(path, KEY, f"node_type must be 'array' or 'group', got {short(node_type)}")


def parse_array_v3(doc: dict[str, Any], path: str = "") -> ArrayMetadata:
    """Parse the fields of an array's zarr.json (already decoded)."""
    shape = as_shape(require(doc, "shape", path, KEY), path, KEY, "shape")
    data_type = DataType.from_v3(require(doc, "data_type", path, KEY), path, KEY)
    if data_type.name == "object":  # pragma: no cover - from_v3 never yields it
        unsupported(path, KEY, "object data type")
    chunks = parse_chunk_grid(require(doc, "chunk_grid", path, KEY), len(shape), path, KEY)
    cke = parse_chunk_key_encoding(require(doc, "chunk_key_encoding", path, KEY), path, KEY)
    fill = data_type.fill_value_from_json(require(doc, "fill_value", path, KEY), 3, path, KEY)
    codecs = normalize_codecs(require(doc, "codecs", path, KEY), path, KEY)
    attributes = parse_attributes(doc.get("attributes", {}), path, KEY)
    dim_names = parse_dimension_names(doc.get("dimension_names"), len(shape), path, KEY)
    transformers = doc.get("storage_transformers", [])
    if not isinstance(transformers, list):
        fail(path, KEY, f"storage_transformers must be a list, got {short(transformers)}")
    if transformers:
        names = [t.get("name") if isinstance(t, dict) else t for t in transformers]
        unsupported(path, KEY, f"storage transformers {short(names)}")
    extra = _extension_fields(doc, _ARRAY_FIELDS, path)
    return ArrayMetadata.from_checked(
        zarr_format=3,
        shape=shape,
        chunk_shape=chunks,
        data_type=data_type,
        fill_value=fill,
        codecs=codecs,
        chunk_key_encoding=cke,
        attributes=attributes,
        dimension_names=dim_names,
        order="C",
        filters=None,
        compressor=None,
        storage_transformers=(),
        extra_fields=extra,
    )


def parse_group_v3(doc: dict[str, Any], path: str = "") -> GroupMetadata:
    """Parse the fields of a group's zarr.json (already decoded), consolidated metadata included."""
    return _parse_group(doc, path, depth=0)


def _parse_group(doc: dict[str, Any], path: str, depth: int) -> GroupMetadata:
    attributes = parse_attributes(doc.get("attributes", {}), path, KEY)
    consolidated = None
    cm = doc.get("consolidated_metadata")
    if cm is not None:
        consolidated = _parse_consolidated(cm, path, depth)
    extra = _extension_fields(doc, _GROUP_FIELDS, path)
    return GroupMetadata(zarr_format=3, attributes=attributes, consolidated=consolidated, extra_fields=extra)


def _parse_consolidated(cm: Any, path: str, depth: int) -> dict[str, NodeMetadata]:
    if depth > _MAX_CONSOLIDATED_DEPTH:
        fail(path, KEY, "consolidated metadata nested too deeply")
    cm = as_dict(cm, path, KEY, "consolidated_metadata")
    kind = cm.get("kind", "inline")
    if kind != "inline":
        unsupported(path, KEY, f"consolidated metadata of kind {short(kind)} (only 'inline')")
    extra = set(cm) - {"kind", "must_understand", "metadata"}
    if extra:
        fail(path, KEY, f"consolidated_metadata has unexpected keys {sorted(extra)}")
    entries = as_dict(cm.get("metadata", {}), path, KEY, "consolidated_metadata.metadata")
    out: dict[str, NodeMetadata] = {}
    for rel, child in entries.items():
        rel = check_relative_path(rel, path, KEY)
        child_path = join_path(path, rel)
        child_doc = as_dict(child, child_path, KEY, "consolidated_metadata.metadata entry")
        out[rel] = _parse(child_doc, child_path, depth + 1)
    return out


# -- write -----------------------------------------------------------------------------


def array_to_json(meta: ArrayMetadata) -> dict[str, Any]:
    """The zarr.json document of a v3 array, field for field as zarr-python 3.1 writes it."""
    doc: dict[str, Any] = {
        "shape": list(meta.shape),
        "data_type": meta.data_type.to_v3_json(),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(meta.chunk_shape)}},
        "chunk_key_encoding": meta.chunk_key_encoding.to_json(),
        "fill_value": meta.data_type.fill_value_to_json(meta.fill_value, 3),
        "codecs": [codec_to_json(c) for c in meta.codecs],
        "attributes": copy.deepcopy(meta.attributes),
    }
    if meta.dimension_names is not None:
        doc["dimension_names"] = list(meta.dimension_names)
    doc["zarr_format"] = 3
    doc["node_type"] = "array"
    doc["storage_transformers"] = [copy.deepcopy(t) for t in meta.storage_transformers]
    for name, value in meta.extra_fields.items():
        doc.setdefault(name, copy.deepcopy(value))
    return doc


def group_to_json(meta: GroupMetadata) -> dict[str, Any]:
    """The zarr.json document of a v3 group (with inline consolidated metadata if any)."""
    doc: dict[str, Any] = {"attributes": copy.deepcopy(meta.attributes), "zarr_format": 3}
    if meta.consolidated is not None:
        doc["consolidated_metadata"] = consolidated_to_json(meta.consolidated)
    doc["node_type"] = "group"
    for name, value in meta.extra_fields.items():
        doc.setdefault(name, copy.deepcopy(value))
    return doc


def consolidated_to_json(nodes: dict[str, NodeMetadata]) -> dict[str, Any]:
    """The ``consolidated_metadata`` object of a v3 group, from ``{relative path: metadata}``."""
    metadata: dict[str, Any] = {}
    for rel, node in nodes.items():
        if node.zarr_format != 3:
            raise_mixed(rel)
        if isinstance(node, ArrayMetadata):
            metadata[rel] = array_to_json(node)
        else:
            # zarr-python lists a subgroup with consolidated metadata of its own, empty
            # (its members are listed here, under their paths from this group)
            metadata[rel] = group_to_json(node if node.consolidated is not None else node.replace(consolidated={}))
    return {"kind": "inline", "must_understand": False, "metadata": metadata}


def raise_mixed(rel: str) -> None:
    from ..errors import MetadataError

    raise MetadataError(f"consolidated metadata of a v3 group holds a v2 node at {rel!r}")
