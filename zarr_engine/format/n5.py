"""N5: ``attributes.json`` into the internal model, and back.

N5 keeps one ``attributes.json`` per node. A dataset (array) holds the keys
``dimensions``, ``blockSize``, ``dataType`` and ``compression`` beside the
user's attributes; a group holds only user attributes, plus ``{"n5":
"<version>"}`` at the container's root. N5 lists dimensions fastest-varying
first; the model exposes them in numpy's C order, so ``shape`` and
``chunk_shape`` are the stored lists reversed, as other readers (z5py,
zarr-python 2's N5Store) do.

An N5 array becomes an :class:`ArrayMetadata` with ``zarr_format="n5"``, the
``"n5"`` chunk-key encoding (block ``i/j/k`` in N5 order) and a one-codec
chain ``[{"name": "n5", "configuration": {"compression": {...}}}]``: the
``n5`` array->bytes codec (:mod:`zarr_engine.codecs.n5`) writes the block
header, the big-endian data and the compression inside the block. N5 has no
fill value: missing blocks read as zero.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..errors import MetadataError
from ._util import as_dict, as_shape, check_depth, fail, is_int, load_json, short, unsupported
from .dtypes import DataType
from .metadata import ArrayMetadata, ChunkKeyEncoding, CodecSpec, GroupMetadata

#: the metadata key of every N5 node
ATTRIBUTES_KEY = "attributes.json"
#: written at the root of a container we create (N5 readers accept 2.x and later majors)
N5_VERSION = "2.0.0"
#: keys of an N5 dataset's attributes.json that are metadata, not user attributes
ARRAY_KEYS = ("dimensions", "blockSize", "dataType", "compression")
#: pre-1.0 N5 wrote the compression as a bare name under this key
LEGACY_COMPRESSION_KEY = "compressionType"
#: names N5 reserves at any node; user attributes may not use them
RESERVED_KEYS = frozenset(ARRAY_KEYS + (LEGACY_COMPRESSION_KEY, "n5"))

DATA_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64")

#: every compression we handle, with the parameters N5 writes and their defaults
#: ("zlib" is z5's spelling of gzip with useZlib; we read it and never write it)
COMPRESSION_DEFAULTS: dict[str, dict[str, Any]] = {
    "raw": {},
    "gzip": {"level": -1, "useZlib": False},
    "zlib": {"level": -1},
    "bzip2": {"blockSize": 9},
    "xz": {"preset": 6},
    "blosc": {"cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0, "nthreads": 1},
    "zstd": {"level": 3},
    "lz4": {"blockSize": 65536},
}
_BLOSC_CNAMES = ("blosclz", "lz4", "lz4hc", "zlib", "zstd", "snappy")
#: (low, high) bounds of the integer parameters; None = unbounded
_INT_BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("gzip", "level"): (-1, 9),
    ("zlib", "level"): (-1, 9),
    ("bzip2", "blockSize"): (1, 9),
    ("xz", "preset"): (0, 9),
    ("blosc", "clevel"): (0, 9),
    ("blosc", "shuffle"): (-1, 2),
    ("blosc", "blocksize"): (0, 2**31 - 1),
    ("blosc", "nthreads"): (1, 256),
    ("zstd", "level"): (-131072, 22),
    ("lz4", "blockSize"): (64, 2**25),
}


# -- compression ----------------------------------------------------------------------


def validate_compression(value: Any, path: str = "", key: str = ATTRIBUTES_KEY) -> dict[str, Any]:
    """Check an N5 ``compression`` object; return a copy of it (as stored, defaults not added).

    Raises UnsupportedError, naming the node, for a compression type we do not
    handle, and MetadataError for a malformed parameter.
    """
    comp = as_dict(value, path, key, "compression")
    ctype = comp.get("type")
    if not isinstance(ctype, str):
        fail(path, key, f"compression needs a string 'type', got {short(comp)}")
    if ctype not in COMPRESSION_DEFAULTS:
        unsupported(
            path, key,
            f"N5 compression {ctype!r} is not supported (supported: {', '.join(sorted(COMPRESSION_DEFAULTS))})",
        )
    for name, default in COMPRESSION_DEFAULTS[ctype].items():
        if name not in comp:
            continue
        given = comp[name]
        if isinstance(default, bool):
            if not isinstance(given, bool):
                fail(path, key, f"compression {ctype!r}: {name} must be true or false, got {short(given)}")
        elif isinstance(default, int):
            low, high = _INT_BOUNDS.get((ctype, name), (-(2**31), 2**31 - 1))
            if not is_int(given) or not low <= given <= high:
                fail(path, key, f"compression {ctype!r}: {name} must be an integer in [{low}, {high}], got {short(given)}")
        elif name == "cname" and given not in _BLOSC_CNAMES:
            unsupported(path, key, f"compression 'blosc': cname {short(given)} is not one of {', '.join(_BLOSC_CNAMES)}")
    check_depth(comp, path, key, "compression")
    return copy.deepcopy(comp)


def compression_parameters(comp: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a validated compression object, defaults filled in."""
    ctype = comp["type"]
    return {**COMPRESSION_DEFAULTS[ctype], **comp}


def _legacy_compression(name: Any, path: str) -> dict[str, Any]:
    # N5 < 1.0: "compressionType": "gzip" with the library's default parameters
    if not isinstance(name, str):
        fail(path, ATTRIBUTES_KEY, f"compressionType must be a string, got {short(name)}")
    return validate_compression({"type": name}, path)


def zarr_compressor(compression: dict[str, Any]) -> dict[str, Any] | None:
    """The numcodecs configuration that compresses as an N5 ``compression`` does
    (None for raw): what an N5 array becomes when converted to Zarr.

    lz4 maps to numcodecs' LZ4: the same algorithm in Zarr's own framing.
    """
    p = compression_parameters(compression)
    ctype = p["type"]
    if ctype == "raw":
        return None
    if ctype in ("gzip", "zlib"):
        level = p["level"] if p["level"] >= 0 else 6  # -1 asks for zlib's default level, which is 6
        return {"id": "zlib" if ctype == "zlib" or p.get("useZlib") else "gzip", "level": level}
    if ctype == "bzip2":
        return {"id": "bz2", "level": p["blockSize"]}
    if ctype == "xz":
        return {"id": "lzma", "preset": p["preset"]}
    if ctype == "blosc":
        return {"id": "blosc", "cname": p["cname"], "clevel": p["clevel"], "shuffle": p["shuffle"],
                "blocksize": p["blocksize"]}
    if ctype == "zstd":
        return {"id": "zstd", "level": p["level"]}
    return {"id": "lz4"}


def n5_codecs(compression: dict[str, Any]) -> tuple[CodecSpec, ...]:
    """The codec chain of an N5 array: the ``n5`` block codec alone."""
    return ({"name": "n5", "configuration": {"compression": copy.deepcopy(compression)}},)


def n5_compression(meta: ArrayMetadata) -> dict[str, Any]:
    """The N5 ``compression`` object of an N5 array's metadata."""
    for spec in meta.codecs:
        if spec["name"] == "n5":
            return spec["configuration"]["compression"]
    raise MetadataError(f"array {meta!r} has no n5 codec")  # pragma: no cover - built here only


# -- parse -----------------------------------------------------------------------------


def is_n5_array_document(doc: dict[str, Any]) -> bool:
    """Whether an attributes.json describes a dataset (rather than a group)."""
    return "dimensions" in doc and "dataType" in doc


def dimension_names_from_n5(attrs: dict[str, Any], ndim: int) -> tuple[str | None, ...] | None:
    """Dimension names from xarray's ``_ARRAY_DIMENSIONS`` or a ``dimension_names`` attribute.

    Both are taken as already in C order (the order the user sees); N5 itself
    has no dimension names, so without either attribute this is None.
    """
    for name in ("_ARRAY_DIMENSIONS", "dimension_names"):
        dims = attrs.get(name)
        if isinstance(dims, list) and len(dims) == ndim and all(d is None or isinstance(d, str) for d in dims):
            return tuple(dims)
    return None


def parse_n5_node(raw: Any, path: str = "") -> ArrayMetadata | GroupMetadata:
    """Parse one attributes.json: a dataset when it has ``dimensions`` and ``dataType``, else a group."""
    doc = load_json(raw, path, ATTRIBUTES_KEY)
    check_depth(doc, path, ATTRIBUTES_KEY, "attributes")
    if is_n5_array_document(doc):
        return parse_n5_array(doc, path)
    extra = {"n5": doc["n5"]} if "n5" in doc else {}
    attrs = {k: copy.deepcopy(v) for k, v in doc.items() if k != "n5"}
    return GroupMetadata(zarr_format="n5", attributes=attrs, extra_fields=copy.deepcopy(extra))


def parse_n5_array(doc: dict[str, Any], path: str = "") -> ArrayMetadata:
    """Parse a dataset's attributes.json (already decoded) into array metadata."""
    key = ATTRIBUTES_KEY
    dims = as_shape(doc["dimensions"], path, key, "dimensions")
    if "blockSize" not in doc:
        fail(path, key, "required field 'blockSize' is missing")
    block = as_shape(doc["blockSize"], path, key, "blockSize", positive=True)
    if len(block) != len(dims):
        fail(path, key, f"blockSize {list(block)} has {len(block)} dimensions but dimensions has {len(dims)}")
    if not dims:
        unsupported(path, key, "an N5 dataset needs at least one dimension")
    dtype_name = doc["dataType"]
    if dtype_name not in DATA_TYPES:
        unsupported(
            path, key, f"N5 dataType {short(dtype_name)} is not supported (supported: {', '.join(DATA_TYPES)})"
        )
    data_type = DataType.from_numpy(np.dtype(dtype_name), 3, path)
    if "compression" in doc:
        compression = validate_compression(doc["compression"], path)
    elif LEGACY_COMPRESSION_KEY in doc:
        compression = _legacy_compression(doc[LEGACY_COMPRESSION_KEY], path)
    else:
        compression = {"type": "raw"}  # N5's default when the key is absent
    attrs = {k: copy.deepcopy(v) for k, v in doc.items() if k not in RESERVED_KEYS}
    # the legacy key is metadata but we write the modern form; keep a record of it
    # in extra_fields so a round trip of an untouched array writes what it read
    extra = {k: copy.deepcopy(doc[k]) for k in (LEGACY_COMPRESSION_KEY, "n5") if k in doc}
    shape = tuple(reversed(dims))
    return ArrayMetadata(
        zarr_format="n5",
        shape=shape,
        chunk_shape=tuple(reversed(block)),
        data_type=data_type,
        fill_value=np.zeros((), dtype=data_type.numpy_dtype)[()],
        codecs=n5_codecs(compression),
        chunk_key_encoding=ChunkKeyEncoding("n5", "/"),
        attributes=attrs,
        dimension_names=dimension_names_from_n5(attrs, len(shape)),
        extra_fields=extra,
    )


# -- write -----------------------------------------------------------------------------


def _merge(path_hint: str, base: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    clash = sorted(k for k in attrs if k in RESERVED_KEYS)
    if clash:
        raise MetadataError(
            f"N5 {path_hint}: attribute name(s) {clash} are reserved by N5 (they hold the node's metadata)"
        )
    doc = dict(base)
    doc.update(copy.deepcopy(attrs))
    return doc


def array_to_attributes(meta: ArrayMetadata) -> dict[str, Any]:
    """The attributes.json of an N5 array: the N5 keys, then the user's attributes."""
    base: dict[str, Any] = {
        "dimensions": list(reversed(meta.shape)),
        "blockSize": list(reversed(meta.chunk_shape)),
        "dataType": meta.data_type.name,
        "compression": copy.deepcopy(n5_compression(meta)),
    }
    if "n5" in meta.extra_fields:
        base["n5"] = copy.deepcopy(meta.extra_fields["n5"])
    return _merge(f"array of shape {meta.shape}", base, meta.attributes)


def group_to_attributes(meta: GroupMetadata) -> dict[str, Any]:
    """The attributes.json of an N5 group: the version (at a root) and the user's attributes."""
    base = {"n5": copy.deepcopy(meta.extra_fields["n5"])} if "n5" in meta.extra_fields else {}
    return _merge("group", base, meta.attributes)


def to_n5_documents(meta: ArrayMetadata | GroupMetadata) -> dict[str, Any]:
    """``{"attributes.json": ...}`` for an N5 node."""
    if isinstance(meta, ArrayMetadata):
        return {ATTRIBUTES_KEY: array_to_attributes(meta)}
    return {ATTRIBUTES_KEY: group_to_attributes(meta)}


def new_n5_group(path: str, attributes: dict[str, Any] | None = None) -> GroupMetadata:
    """Metadata of a new N5 group; the container's root (``path`` "") carries the N5 version."""
    extra = {"n5": N5_VERSION} if not path.strip("/") else {}
    return GroupMetadata(zarr_format="n5", attributes=dict(attributes or {}), extra_fields=extra)


# -- create ----------------------------------------------------------------------------

#: parameters we read but do not write by default: tensorstore refuses blosc's
#: nthreads (Java N5 writes it and reads its absence as 1)
_NOT_WRITTEN = frozenset({"nthreads"})

#: numcodecs ids (and plain names) to N5 compression objects
#: the v3 blosc codec names its shuffle modes; N5 (like numcodecs) numbers them
_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_FROM_NUMCODECS = {
    "gzip": lambda c: {"type": "gzip", "level": c.get("level", -1), "useZlib": False},
    "zlib": lambda c: {"type": "gzip", "level": c.get("level", -1), "useZlib": True},
    "bz2": lambda c: {"type": "bzip2", "blockSize": c.get("level", 9)},
    "lzma": lambda c: {"type": "xz", "preset": 6 if c.get("preset") is None else c["preset"]},
    "blosc": lambda c: {
        "type": "blosc", "cname": c.get("cname", "lz4"), "clevel": c.get("clevel", 5),
        "shuffle": _BLOSC_SHUFFLE.get(c.get("shuffle", 1), c.get("shuffle", 1)), "blocksize": c.get("blocksize", 0),
    },
    "zstd": lambda c: {"type": "zstd", "level": c.get("level", 3)},
    "lz4": lambda c: {"type": "lz4", "blockSize": 65536},
}


def normalize_n5_compression(value: Any, path: str = "") -> dict[str, Any]:
    """The N5 compression object a user means by ``value``.

    ``None`` or ``"raw"``: no compression; ``"auto"``: gzip; a name among
    :data:`COMPRESSION_DEFAULTS` (defaults filled in); an N5 object
    (``{"type": ...}``); a numcodecs codec or its config (``{"id": ...}``) of
    gzip, zlib, bz2, lzma, blosc, zstd or lz4.
    """
    if value is None:
        return {"type": "raw"}
    if isinstance(value, str):
        if value == "auto":
            value = "gzip"
        if value == "zlib":
            return {"type": "gzip", "level": -1, "useZlib": True}
        if value not in COMPRESSION_DEFAULTS:
            unsupported(path, None, f"N5 compression {value!r} is not supported")
        params = {k: v for k, v in COMPRESSION_DEFAULTS[value].items() if k not in _NOT_WRITTEN}
        return validate_compression({"type": value, **params}, path)
    if isinstance(value, (list, tuple)):
        if len(value) > 1:
            unsupported(path, None, f"N5 holds one compression per array, got {len(value)}")
        return normalize_n5_compression(value[0] if value else None, path)
    config = value.get_config() if hasattr(value, "get_config") else value
    if not isinstance(config, dict):
        unsupported(path, None, f"cannot use {short(value)} as an N5 compression")
    if "type" in config:
        comp = dict(config)
        if comp["type"] == "zlib":  # write the spelling every N5 reader knows
            comp = {"type": "gzip", "level": comp.get("level", -1), "useZlib": True}
        return validate_compression(comp, path)
    codec_id = config.get("id") or config.get("name")
    if isinstance(codec_id, str) and codec_id.startswith("numcodecs."):
        codec_id = codec_id[len("numcodecs."):]
    inner = config.get("configuration", config)
    if codec_id not in _FROM_NUMCODECS:
        unsupported(path, None, f"compressor {short(value)} has no N5 equivalent (N5 knows {', '.join(COMPRESSION_DEFAULTS)})")
    return validate_compression(_FROM_NUMCODECS[codec_id](inner), path)


#: arguments of create_array that mean nothing to N5, with the value that asks for nothing
_ZARR_ONLY_DEFAULTS = {"filters": "", "shards": "", "order": "C", "serializer": "auto", "chunk_key_encoding": ""}


def create_n5_array_metadata(
    *,
    shape: Any,
    chunks: Any,
    dtype: Any,
    compressor: Any = "auto",
    fill_value: Any = None,
    attributes: dict[str, Any] | None = None,
    dimension_names: Any = None,
    path: str = "",
    **zarr_only: Any,
) -> ArrayMetadata:
    """Metadata of a new N5 array, from :func:`zarr_engine.create_array`'s arguments.

    ``shape`` and ``chunks`` are in C order (``chunks`` may be ``"auto"``);
    ``compressor`` is anything :func:`normalize_n5_compression` takes. N5 has no
    fill value (missing blocks are zero), no filters, shards, F order or other
    key encodings: ``zarr_only`` arguments other than their defaults are refused.
    Dimension names are kept as the ``_ARRAY_DIMENSIONS`` attribute.
    """
    from .create import normalize_chunks, normalize_shape

    for name, value in zarr_only.items():
        if name not in _ZARR_ONLY_DEFAULTS:
            raise TypeError(f"create_n5_array_metadata() got an unexpected argument {name!r}")
        is_default = value is None or (isinstance(value, str) and value == _ZARR_ONLY_DEFAULTS[name]) or (
            name == "filters" and isinstance(value, (list, tuple)) and not value
        )
        if not is_default:
            unsupported(path, None, f"N5 arrays have no {name} (got {short(value)})")
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        np_dtype = None
    name = np_dtype.name if np_dtype is not None else None
    if name not in DATA_TYPES:
        unsupported(path, None, f"N5 cannot store data type {short(dtype)} (N5 data types: {', '.join(DATA_TYPES)})")
    shape_t = normalize_shape(shape, path)
    if not shape_t:
        unsupported(path, None, "an N5 dataset needs at least one dimension")
    chunks_t = normalize_chunks(chunks, shape_t, np_dtype.itemsize, path)
    if fill_value is not None and np.asarray(fill_value, dtype=np_dtype) != 0:
        unsupported(path, None, f"N5 has no fill value (missing blocks read as 0); got fill_value={short(fill_value)}")
    attrs = dict(attributes or {})
    if dimension_names is not None:
        names = list(dimension_names)
        if len(names) != len(shape_t):
            fail(path, None, f"dimension_names {names} must have one name per axis of shape {shape_t}")
        attrs["_ARRAY_DIMENSIONS"] = names
    clash = sorted(k for k in attrs if k in RESERVED_KEYS)
    if clash:
        fail(path, None, f"attribute name(s) {clash} are reserved by N5")
    doc = {
        "dimensions": list(reversed(shape_t)),
        "blockSize": list(reversed(chunks_t)),
        "dataType": name,
        "compression": normalize_n5_compression(compressor, path),
        **attrs,
    }
    return parse_n5_array(doc, path)
