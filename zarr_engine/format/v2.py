"""Zarr v2: ``.zarray`` / ``.zgroup`` + ``.zattrs`` into the internal model, and back.

A v2 array's ``order``, ``filters``, stored byte order and ``compressor`` are
turned into the equivalent v3 codec chain by :func:`v2_codecs` (the one place
that does so; :mod:`.create` uses it too), while the v2 fields themselves are
kept so that :func:`array_to_documents` writes back what was read.
"""

from __future__ import annotations

import copy
from typing import Any

from ._util import as_dict, as_shape, check_depth, checked_copy, fail, load_json, require, short
from .dtypes import V2_OBJECT_CODECS, DataType, Endian
from .metadata import ArrayMetadata, ChunkKeyEncoding, CodecSpec, GroupMetadata

_ZARRAY_FIELDS = (
    "shape",
    "chunks",
    "dtype",
    "fill_value",
    "order",
    "filters",
    "dimension_separator",
    "compressor",
    "zarr_format",
)
_MAX_FILTERS = 64


def _check_format(doc: dict[str, Any], path: str, key: str) -> None:
    zf = require(doc, "zarr_format", path, key)
    if zf != 2 or isinstance(zf, bool):
        fail(path, key, f"zarr_format must be 2, got {short(zf)}")


def _numcodecs_config(value: Any, path: str, key: str, field: str) -> dict[str, Any]:
    config = as_dict(value, path, key, field)
    codec_id = config.get("id")
    if not isinstance(codec_id, str) or not codec_id:
        fail(path, key, f"{field}: a numcodecs configuration needs a string 'id', got {short(config)}")
    return checked_copy(config, path, key, field)


def _spec(config: dict[str, Any]) -> CodecSpec:
    """A numcodecs config as the v3 spec ``numcodecs.<id>`` (zarr-python's naming)."""
    rest = {k: copy.deepcopy(v) for k, v in config.items() if k != "id"}
    return {"name": f"numcodecs.{config['id']}", "configuration": rest}


def object_codec_index(filters: tuple[dict[str, Any], ...] | None) -> int | None:
    """Position of the object codec (vlen-utf8, json2...) among v2 filters, if any."""
    for i, f in enumerate(filters or ()):
        if f.get("id") in V2_OBJECT_CODECS:
            return i
    return None


def v2_codecs(
    data_type: DataType,
    endian: Endian,
    order: str,
    filters: tuple[dict[str, Any], ...] | None,
    compressor: dict[str, Any] | None,
    ndim: int,
    path: str = "",
    key: str = ".zarray",
) -> tuple[CodecSpec, ...]:
    """The v3 codec chain equivalent to a v2 array's storage settings.

    transpose (order F, ndim > 1), the filters, the array->bytes step
    (``bytes`` with the stored byte order, or the object codec), the
    compressor. v2 applies filters in list order and zarr-python puts the
    object codec first among them; filters listed *after* the object codec
    therefore see bytes and go after it in the chain.
    """
    chain: list[CodecSpec] = []
    if order == "F" and ndim > 1:
        chain.append({"name": "transpose", "configuration": {"order": list(range(ndim - 1, -1, -1))}})
    filters = filters or ()
    if data_type.is_object:
        at = object_codec_index(filters)
        if at is None:
            fail(path, key, "dtype '|O' needs an object codec (vlen-utf8, vlen-bytes, json2...) among the filters")
        obj = filters[at]
        chain.extend(_spec(f) for f in filters[:at])
        if obj["id"] == "vlen-utf8":
            chain.append({"name": "vlen-utf8", "configuration": {}})
        elif obj["id"] == "vlen-bytes":
            chain.append({"name": "vlen-bytes", "configuration": {}})
        else:
            chain.append(_spec(obj))
        chain.extend(_spec(f) for f in filters[at + 1 :])
    else:
        chain.extend(_spec(f) for f in filters)
        chain.append({"name": "bytes", "configuration": {} if endian is None else {"endian": endian}})
    if compressor is not None:
        chain.append(_spec(compressor))
    return tuple(chain)


def stored_endian(meta: ArrayMetadata) -> Endian:
    """The byte order a v2 array stores its elements in (from its ``bytes`` codec)."""
    for spec in meta.codecs:
        if spec["name"] == "bytes":
            return spec.get("configuration", {}).get("endian")
    return None


# -- parse -------------------------------------------------------------------------------


def parse_zattrs(raw: Any, path: str = "") -> dict[str, Any]:
    if raw is None:
        return {}
    attrs = load_json(raw, path, ".zattrs")
    check_depth(attrs, path, ".zattrs", "attributes")
    return attrs


def dimension_names_from_attributes(attrs: dict[str, Any], ndim: int) -> tuple[str | None, ...] | None:
    """xarray's ``_ARRAY_DIMENSIONS`` as dimension names, when it is well formed."""
    dims = attrs.get("_ARRAY_DIMENSIONS")
    if isinstance(dims, list) and len(dims) == ndim and all(isinstance(d, str) for d in dims):
        return tuple(dims)
    return None


def parse_v2_array(zarray: Any, zattrs: Any = None, path: str = "") -> ArrayMetadata:
    """Parse a .zarray document (and optional .zattrs) into array metadata."""
    key = ".zarray"
    doc = load_json(zarray, path, key)
    _check_format(doc, path, key)
    shape = as_shape(require(doc, "shape", path, key), path, key, "shape")
    chunks = as_shape(require(doc, "chunks", path, key), path, key, "chunks", positive=True)
    if len(chunks) != len(shape):
        fail(path, key, f"chunks {list(chunks)} has {len(chunks)} dimensions but shape has {len(shape)}")
    data_type, endian = DataType.from_v2(require(doc, "dtype", path, key), path, key)
    order = doc.get("order", "C")
    if order not in ("C", "F"):
        fail(path, key, f"order must be 'C' or 'F', got {short(order)}")
    raw_filters = doc.get("filters")
    filters: tuple[dict[str, Any], ...] | None = None
    if raw_filters is not None:
        if not isinstance(raw_filters, list) or len(raw_filters) > _MAX_FILTERS:
            fail(path, key, f"filters must be a list of numcodecs configurations or null, got {short(raw_filters)}")
        filters = tuple(_numcodecs_config(f, path, key, f"filters[{i}]") for i, f in enumerate(raw_filters))
    compressor = doc.get("compressor")
    if compressor is not None:
        compressor = _numcodecs_config(compressor, path, key, "compressor")
    sep = doc.get("dimension_separator", ".")
    if sep is None:
        sep = "."
    if sep not in (".", "/"):
        fail(path, key, f"dimension_separator must be '.' or '/', got {short(sep)}")
    if data_type.is_object:
        at = object_codec_index(filters)
        data_type = DataType.for_v2_object(filters[at]["id"] if at is not None else None)
    codecs = v2_codecs(data_type, endian, order, filters, compressor, len(shape), path, key)
    fill = data_type.fill_value_from_json(doc.get("fill_value"), 2, path, key)
    attributes = parse_zattrs(zattrs, path)
    extra = {k: copy.deepcopy(v) for k, v in doc.items() if k not in _ZARRAY_FIELDS}
    check_depth(extra, path, key, "extra fields")
    return ArrayMetadata(
        zarr_format=2,
        shape=shape,
        chunk_shape=chunks,
        data_type=data_type,
        fill_value=fill,
        codecs=codecs,
        chunk_key_encoding=ChunkKeyEncoding("v2", sep),
        attributes=attributes,
        dimension_names=dimension_names_from_attributes(attributes, len(shape)),
        order=order,
        filters=filters,
        compressor=compressor,
        extra_fields=extra,
    )


def parse_v2_group(zgroup: Any, zattrs: Any = None, path: str = "") -> GroupMetadata:
    """Parse a .zgroup document (and optional .zattrs) into group metadata."""
    doc = load_json(zgroup, path, ".zgroup")
    _check_format(doc, path, ".zgroup")
    # zarr-python 3.1 sometimes leaves its v3-style consolidated_metadata in a
    # consolidated .zgroup; it carries nothing the .zmetadata does not, so drop it
    extra = {k: copy.deepcopy(v) for k, v in doc.items() if k not in ("zarr_format", "consolidated_metadata")}
    check_depth(extra, path, ".zgroup", "extra fields")
    return GroupMetadata(zarr_format=2, attributes=parse_zattrs(zattrs, path), extra_fields=extra)


# -- write --------------------------------------------------------------------------------


def zarray_json(meta: ArrayMetadata) -> dict[str, Any]:
    """The .zarray document, with zarr-python's field order."""
    sep = meta.chunk_key_encoding.separator
    doc: dict[str, Any] = {
        "shape": list(meta.shape),
        "chunks": list(meta.chunk_shape),
        "dtype": meta.data_type.to_v2_json(stored_endian(meta)),
        "fill_value": meta.data_type.fill_value_to_json(meta.fill_value, 2),
        "order": meta.order,
        "filters": None if meta.filters is None else [copy.deepcopy(f) for f in meta.filters],
        "dimension_separator": sep,
        "compressor": copy.deepcopy(meta.compressor),
        "zarr_format": 2,
    }
    for name, value in meta.extra_fields.items():
        doc.setdefault(name, copy.deepcopy(value))
    return doc


def array_to_documents(meta: ArrayMetadata) -> dict[str, dict[str, Any]]:
    """``{".zarray": ..., ".zattrs": ...}``; ``.zattrs`` is written even when empty (``{}``), as zarr-python does."""
    return {".zarray": zarray_json(meta), ".zattrs": copy.deepcopy(meta.attributes)}


def group_to_documents(meta: GroupMetadata) -> dict[str, dict[str, Any]]:
    """``{".zgroup": {"zarr_format": 2}, ".zattrs": ...}``; ``.zattrs`` is written even when empty, as for arrays."""
    zgroup: dict[str, Any] = {"zarr_format": 2}
    for name, value in meta.extra_fields.items():
        zgroup.setdefault(name, copy.deepcopy(value))
    return {".zgroup": zgroup, ".zattrs": copy.deepcopy(meta.attributes)}

