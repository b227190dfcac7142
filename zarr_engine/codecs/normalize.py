"""Turn what users pass as ``filters`` / ``serializer`` / ``compressors`` into specs.

Accepted, anywhere a codec is expected: ``"auto"`` (zarr-python 3.1's
defaults), ``None`` or ``[]`` (none), our :class:`Codec` instances, numcodecs
codec objects, zarr-python codec objects (anything with ``to_dict()``), dicts
in v3 form ``{"name", "configuration"}`` or numcodecs form ``{"id", ...}``, and
plain names (``"zstd"``).

For Zarr v3 the result is a list of normalised specs, with open fields
(blosc ``typesize``...) filled from the dtype; a numcodecs Blosc, Zstd or
GZip becomes the equivalent v3 core codec, other numcodecs codecs become
``numcodecs.<id>``. For Zarr v2 the result is numcodecs configuration dicts
(``{"id": ...}``), as ``.zarray`` holds them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from numcodecs.abc import Codec as Numcodec

from ..errors import CodecError, ZarrEngineError
from ._util import as_numpy_dtype, has_byte_order
from .array_codecs import BytesCodec
from .base import ChunkSpec, Codec, CodecKind
from .bytes_codecs import BloscCodec, Crc32cCodec, GzipCodec, ZstdCodec
from .numcodecs_codec import PREFIX, NumcodecsCodec, _json_safe, build_numcodec
from .registry import _registry, get_codec
from .sharding import ShardingCodec
from .vlen import VLenBytesCodec, VLenUTF8Codec

Spec = dict[str, Any]

_BLOSC_SHUFFLE_NAMES = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle", -1: None}
_KIND_WORDS = {"array_array": "filter (array->array)", "array_bytes": "serializer (array->bytes)",
               "bytes_bytes": "compressor (bytes->bytes)"}


def _object_codec_id(dtype: Any) -> str | None:
    """'vlen-utf8' / 'vlen-bytes' for data types stored with an object codec, else None."""
    explicit = getattr(dtype, "object_codec_id", None)
    if isinstance(explicit, str):
        return explicit
    nd = as_numpy_dtype(dtype)
    if nd.kind in "OT":
        return "vlen-utf8"  # an object array is taken as strings, as zarr-python's `str` dtype
    return None


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _numcodecs_config_to_v3(config: dict[str, Any]) -> Spec:
    """A v3 spec for a numcodecs configuration, preferring the equivalent core codec."""
    cid = config.get("id")
    rest = {k: v for k, v in config.items() if k != "id"}
    if cid == "zstd" and set(rest) <= {"level", "checksum"}:
        return {"name": "zstd", "configuration": {"level": rest.get("level", 0), "checksum": rest.get("checksum", False)}}
    if cid == "gzip" and set(rest) <= {"level"}:
        return {"name": "gzip", "configuration": {"level": rest.get("level", 1)}}
    if cid == "blosc" and set(rest) <= {"cname", "clevel", "shuffle", "blocksize", "typesize"}:
        shuffle = rest.get("shuffle", 1)
        if shuffle in _BLOSC_SHUFFLE_NAMES:
            conf: dict[str, Any] = {
                "cname": rest.get("cname", "lz4"),
                "clevel": rest.get("clevel", 5),
                "blocksize": rest.get("blocksize", 0),
            }
            if _BLOSC_SHUFFLE_NAMES[shuffle] is not None:  # AUTOSHUFFLE: decided by evolve from the dtype
                conf["shuffle"] = _BLOSC_SHUFFLE_NAMES[shuffle]
            if rest.get("typesize"):
                conf["typesize"] = rest["typesize"]
            return {"name": "blosc", "configuration": conf}
    if cid in ("vlen-utf8", "vlen-bytes") and not rest:
        return {"name": cid, "configuration": {}}
    return {"name": PREFIX + str(cid), "configuration": _json_safe(rest)}


def _to_v3_spec(item: Any) -> Spec:
    """A (not yet validated) v3 spec for one user-given codec."""
    if isinstance(item, Codec):
        return item.to_json()
    if isinstance(item, Numcodec):
        return _numcodecs_config_to_v3(item.get_config())
    if isinstance(item, dict):
        if "name" in item:
            return {"name": item["name"], "configuration": _json_safe(item.get("configuration") or {})}
        if "id" in item:
            return _numcodecs_config_to_v3(item)
        raise CodecError(f"a codec dict needs 'name' (v3) or 'id' (numcodecs): {item!r}")
    if isinstance(item, str):
        if item in _registry or item.startswith(PREFIX):
            return {"name": item, "configuration": {}}
        return _numcodecs_config_to_v3(build_numcodec(item, {}).get_config())
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise CodecError(f"{item!r}.to_dict() is not a codec spec: {d!r}")
        config = dict(d.get("configuration") or {})
        # zarr-python leaves blosc's typesize/shuffle open to be set from the dtype
        for attr in getattr(item, "_tunable_attrs", ()):
            config.pop(attr, None)
        # a zarr-python sharding codec: its inner codecs are converted one by one, so that
        # theirs left open (a blosc typesize) stay open rather than taking to_dict()'s guesses
        for key in ("codecs", "index_codecs"):
            inner = getattr(item, key, None)
            if key in config and _is_sequence(inner):
                config[key] = [_to_v3_spec(c) for c in inner]
        return {"name": d["name"], "configuration": _json_safe(config)}
    raise CodecError(f"cannot use {item!r} (of type {type(item).__name__}) as a codec")


def _make(item: Any, kind: CodecKind) -> Codec:
    """Build and kind-check one user-given codec (not yet evolved)."""
    try:
        # our own instances are used as they are: their open fields stay open until evolved
        codec = item if isinstance(item, Codec) else get_codec(_to_v3_spec(item))
    except ZarrEngineError as e:
        raise type(e)(f"{e} (while normalising {item!r})") from e
    if codec.kind != kind:
        raise CodecError(
            f"{item!r} is a {_KIND_WORDS[codec.kind]} codec and cannot be used as a {_KIND_WORDS[kind]}"
        )
    return codec


def _build(item: Any, spec: ChunkSpec, kind: CodecKind) -> Codec:
    """Build, kind-check and evolve one user-given codec for input ``spec``."""
    # shape-dependent checks (transpose's axes) wait for the chain, which knows the chunk shape
    return _make(item, kind).evolve(spec)


def _chunk_spec(dtype: Any) -> ChunkSpec:
    return ChunkSpec((), as_numpy_dtype(dtype))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if _is_sequence(value):
        return list(value)
    return [value]


# -- v2 -------------------------------------------------------------------------


def _to_v2_config(item: Any) -> dict[str, Any]:
    """A numcodecs configuration for one user-given codec (Zarr v2)."""
    if isinstance(item, Numcodec):
        config = item.get_config()
    elif isinstance(item, dict) and "id" in item:
        config = build_numcodec(str(item["id"]), {k: v for k, v in item.items() if k != "id"}).get_config()
    elif isinstance(item, str) and not item.startswith(PREFIX) and _numcodecs_has(item):
        config = build_numcodec(item, {}).get_config()  # a v2 name is a numcodecs id first
    else:
        if isinstance(item, Codec):
            codec = item
        else:
            codec = get_codec(_to_v3_spec(item))
        if isinstance(codec, NumcodecsCodec):
            config = codec.to_numcodecs_config()
        elif isinstance(codec, ZstdCodec):
            config = {"id": "zstd", "level": codec.level, "checksum": codec.checksum}
        elif isinstance(codec, GzipCodec):
            config = {"id": "gzip", "level": codec.level}
        elif isinstance(codec, BloscCodec):
            shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2, None: -1}[codec.shuffle]
            config = {"id": "blosc", "cname": codec.cname, "clevel": codec.clevel, "shuffle": shuffle,
                      "blocksize": codec.blocksize}
        elif isinstance(codec, Crc32cCodec):
            config = {"id": "crc32c"}
        elif isinstance(codec, (VLenUTF8Codec, VLenBytesCodec)):
            config = {"id": codec.name}
        else:
            raise CodecError(f"{item!r} has no Zarr v2 (numcodecs) equivalent")
        config = build_numcodec(config["id"], {k: v for k, v in config.items() if k != "id"}).get_config()
    config = _json_safe(dict(config))
    if config.get("id") == "zstd" and not config.get("checksum", False):
        config.pop("checksum", None)  # as zarr-python writes it in .zarray
    return config


def _numcodecs_has(codec_id: str) -> bool:
    try:
        build_numcodec(codec_id, {})
    except ZarrEngineError:
        return False
    return True


def _v2_configs(value: Any, role: str) -> list[dict[str, Any]]:
    try:
        return [_to_v2_config(item) for item in _as_list(value)]
    except ZarrEngineError as e:
        raise type(e)(f"{role} {value!r}: {e}") from e


# -- public ---------------------------------------------------------------------


def normalize_compressors(value: Any, zarr_format: int, dtype: Any) -> list[Spec] | dict[str, Any] | None:
    """v3: the list of bytes->bytes specs; v2: one numcodecs config dict or None.

    ``"auto"`` is zarr-python 3.1's default: zstd level 0 without checksum.
    """
    if isinstance(value, str) and value == "auto":
        if zarr_format == 2:
            return {"id": "zstd", "level": 0}
        return [ZstdCodec(level=0, checksum=False).to_json()]
    if zarr_format == 2:
        items = _as_list(value)
        if len(items) > 1:
            raise CodecError(f"Zarr v2 arrays take one compressor, got {len(items)}: {value!r}")
        configs = _v2_configs(items, "compressor")
        return configs[0] if configs else None
    _check_format(zarr_format)
    spec = _chunk_spec(dtype)
    return [_build(item, spec, "bytes_bytes").to_json() for item in _as_list(value)]


def normalize_filters(value: Any, zarr_format: int, dtype: Any) -> list[Spec] | list[dict[str, Any]] | None:
    """v3: the list of array->array specs; v2: a list of numcodecs configs, or None for none.

    ``"auto"``: no filters in v3; in v2 the object codec of object/string dtypes.
    """
    if isinstance(value, str) and value == "auto":
        if zarr_format == 2:
            object_codec = _object_codec_id(dtype)
            return [{"id": object_codec}] if object_codec else None
        _check_format(zarr_format)
        return []
    if zarr_format == 2:
        return _v2_configs(value, "filters") or None
    _check_format(zarr_format)
    spec = _chunk_spec(dtype)
    out: list[Spec] = []
    for item in _as_list(value):
        codec = _build(item, spec, "array_array")
        out.append(codec.to_json())
        if codec.name != "transpose":  # only dtype matters here; transpose keeps it
            spec = dataclasses.replace(codec.resolve(dataclasses.replace(spec, shape=(1,))), shape=())
    return out


def normalize_serializer(value: Any, dtype: Any) -> Spec:
    """The v3 array->bytes spec. ``"auto"``: vlen-utf8 / vlen-bytes for variable-length
    types, else ``bytes`` with ``endian: little`` when the type has a byte order.

    A ``sharding_indexed`` codec is normalised without its shard shape (the
    array's chunk shape, given later): that its inner ``chunk_shape`` tiles the
    shard is checked by the chain built for the array's chunks."""
    nd = as_numpy_dtype(dtype)
    if isinstance(value, str) and value == "auto":
        object_codec = _object_codec_id(dtype)
        if object_codec:
            return {"name": object_codec, "configuration": {}}
        endian = "little" if nd.fields is None and has_byte_order(nd) else None
        return BytesCodec(endian=endian).to_json()
    if value is None or (_is_sequence(value) and len(value) != 1):
        raise CodecError(f"a Zarr v3 array needs exactly one serializer (array->bytes codec), got {value!r}")
    item = value[0] if _is_sequence(value) else value
    codec = _make(item, "array_bytes")
    spec = _chunk_spec(nd)
    if isinstance(codec, ShardingCodec):
        # Its shard is the array's chunk, unknown here: the chain built for the array's
        # chunks checks that the inner chunk_shape tiles it. What evolving fills in (the
        # open fields of the inner and index codecs) depends only on the inner chunk and
        # the dtype, so a shard of one inner chunk gives the same spec as the real one.
        spec = ChunkSpec(codec.chunk_shape, nd)
    return codec.evolve(spec).to_json()


def _check_format(zarr_format: int) -> None:
    if zarr_format not in (2, 3):
        raise CodecError(f"zarr_format must be 2 or 3, got {zarr_format!r}")

