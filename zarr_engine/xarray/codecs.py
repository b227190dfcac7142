"""An array's codecs in the shape xarray keeps them in ``Variable.encoding``."""

from __future__ import annotations

from typing import Any

from ..codecs import get_codec
from ..core.array import Array


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
        import numcodecs

        filters = tuple(numcodecs.get_codec(dict(f)) for f in (meta.filters or ()))
        compressors = (numcodecs.get_codec(dict(meta.compressor)),) if meta.compressor else ()
        return {"compressors": compressors, "filters": filters}
    specs = [dict(s) for s in meta.codecs]
    sharding = array.sharding
    if sharding is not None:
        specs = [dict(s) for s in sharding["configuration"]["codecs"]]
    filters_, serializer, compressors_ = _split_roles(specs)
    return {"compressors": compressors_, "filters": filters_, "serializer": serializer}
