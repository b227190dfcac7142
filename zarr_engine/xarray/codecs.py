"""An array's codecs in the shape xarray keeps them in ``Variable.encoding``."""

from __future__ import annotations

from typing import Any

from ..codecs import get_codec
from ..codecs.base import CodecConfigError
from ..codecs.numcodecs_codec import build_numcodec
from ..core.array import Array
from ..errors import UnknownCodecError


#: codec name -> kind; a name always has the same kind, and opening a store of hundreds of
#: variables should not build hundreds of codec objects just to learn it
_KINDS: dict[str, str | None] = {}


def _kind(spec: dict[str, Any]) -> str | None:
    name = spec.get("name")
    if name not in _KINDS:
        try:
            _KINDS[name] = type(get_codec(spec)).kind
        except Exception:
            return None  # unknown or misconfigured: not cached, and not the serializer we look for
    return _KINDS[name]


def _split_roles(specs: list[dict[str, Any]]) -> tuple[tuple[dict, ...], dict | None, tuple[dict, ...]]:
    """(filters, serializer, compressors) of a v3 codec list, split around its array->bytes codec."""
    for i, spec in enumerate(specs):
        if _kind(spec) == "array_bytes":
            return tuple(specs[:i]), specs[i], tuple(specs[i + 1 :])
    return tuple(specs), None, ()


def _numcodec(config: dict[str, Any], path: str) -> Any:
    """The numcodecs object of a v2 filter or compressor configuration."""
    config = dict(config)
    try:
        return build_numcodec(str(config.pop("id", "")), config, path)
    except UnknownCodecError:
        raise  # its message names the array already
    except CodecConfigError as e:
        raise CodecConfigError(f"{e} (array {path or '/'!r})") from e


def encoding_codecs(array: Array) -> dict[str, Any]:
    """``compressors``, ``filters`` (and for v3 ``serializer``) of ``array``, as xarray's
    zarr backend reports them, so that writing them back recreates the same chain.

    v2: numcodecs objects, like zarr-python's. v3: the codec spec dicts
    (``{"name", "configuration"}``), which both our writer and zarr-python's
    accept. A sharded array reports the codecs *inside* its shards, since the
    sharding is described by ``shards``.
    """
    meta = array.metadata
    if meta.zarr_format == 2:
        # a codec numcodecs lacks or a configuration it refuses (a hand-edited .zarray)
        # is the engine's UnknownCodecError / CodecConfigError naming the array
        filters = tuple(_numcodec(f, array.path) for f in (meta.filters or ()))
        compressors = (_numcodec(meta.compressor, array.path),) if meta.compressor else ()
        return {"compressors": compressors, "filters": filters}
    specs = [dict(s) for s in meta.codecs]
    sharding = array.sharding
    if sharding is not None:
        specs = [dict(s) for s in sharding["configuration"]["codecs"]]
    filters_, serializer, compressors_ = _split_roles(specs)
    return {"compressors": compressors_, "filters": filters_, "serializer": serializer}
