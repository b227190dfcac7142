"""Codec names to codec classes.

Three sources, in this order: codecs registered with :func:`register_codec`
(the built-in ones register at import), plug-ins published under the
entry-point group ``zarr_engine.codecs`` (entry name = v3 codec name, value =
a :class:`Codec` subclass; the group is scanned once, a plug-in imported only
when its name is asked for), and ``numcodecs.<id>`` for every codec in
numcodecs' own registry.
"""

from __future__ import annotations

import threading
from importlib import metadata
from typing import Any

import numcodecs

from ..errors import CodecError, UnknownCodecError, ZarrEngineError
from .base import Codec, CodecConfigError
from .numcodecs_codec import PREFIX, NumcodecsCodec

ENTRY_POINT_GROUP = "zarr_engine.codecs"

_registry: dict[str, type[Codec]] = {}
_plugins: dict[str, Any] | None = None  # name -> EntryPoint, filled on first miss
_lock = threading.Lock()

#: which package provides a codec we do not have (exact names, then prefixes)
_PROVIDERS = {
    "numcodecs.zfpy": "zfpy",
    "zfpy": "zfpy",
    "numcodecs.pcodec": "pcodec",
    "pcodec": "pcodec",
    "numcodecs.lz4": "numcodecs built with lz4",
    "numcodecs.msgpack2": "msgpack",
    "numcodecs.crc32c": "crc32c",
    "numcodecs.zstd": "numcodecs built with zstd",
    "numcodecs.blosc": "numcodecs built with blosc",
}
_PREFIX_PROVIDERS = (
    ("numcodecs.imagecodecs_", "imagecodecs"),
    ("imagecodecs_", "imagecodecs"),
)


def register_codec(cls: type[Codec], name: str | None = None) -> type[Codec]:
    """Register a :class:`Codec` subclass under its v3 ``name`` (or ``name``).

    A later registration of the same name replaces the earlier one. Returns
    ``cls``, so this can decorate a class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise CodecError(f"register_codec needs a Codec subclass, got {cls!r}")
    key = name or getattr(cls, "name", None)
    if not isinstance(key, str) or not key:
        raise CodecError(f"codec class {cls.__name__} has no v3 name")
    with _lock:
        _registry[key] = cls
    return cls


def _entry_points() -> dict[str, Any]:
    global _plugins
    if _plugins is None:
        with _lock:
            if _plugins is None:
                found: dict[str, Any] = {}
                try:
                    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
                except Exception:  # a broken installation must not break codecs we do have
                    eps = ()
                for ep in eps:
                    found.setdefault(ep.name, ep)
                _plugins = found
    return _plugins


def _load_plugin(name: str, path: str) -> type[Codec] | None:
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        cls = ep.load()
    except Exception as e:
        raise UnknownCodecError(
            f"codec {name!r} of array {path or '/'!r}: its plug-in {ep.value!r} failed to load: "
            f"{type(e).__name__}: {e}"
        ) from e
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise UnknownCodecError(
            f"codec {name!r} of array {path or '/'!r}: plug-in {ep.value!r} is not a zarr_engine Codec subclass"
        )
    register_codec(cls, name)
    return cls


def reset_plugins() -> None:
    """Forget the scanned entry points (for tests and after installing packages)."""
    global _plugins
    with _lock:
        _plugins = None


def unknown_codec_message(name: str, path: str = "", missing: str | None = None) -> str:
    """The message of an UnknownCodecError for ``name``: codec, array, and who provides it."""
    where = f"codec {name!r} of array {path or '/'!r} is not available"
    provider = _PROVIDERS.get(name) or next((p for pre, p in _PREFIX_PROVIDERS if name.startswith(pre)), None)
    if missing and not provider:
        provider = missing.split(".")[0]
    if provider:
        return f"{where}: it needs the Python package {provider!r} (pip install {provider.split()[0]})"
    if name.startswith(PREFIX):
        return (
            f"{where}: numcodecs {numcodecs.__version__} has no codec {name[len(PREFIX):]!r}; "
            "it may need a newer numcodecs or a package that registers it with numcodecs"
        )
    return (
        f"{where}: no codec of this name is built in or registered under the entry-point group "
        f"{ENTRY_POINT_GROUP!r}"
    )


def split_spec(spec: Any) -> tuple[str, dict[str, Any]]:
    """(name, configuration) of a normalised spec; a bare name is accepted."""
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise CodecConfigError(f"a codec must be given as {{'name': ..., 'configuration': ...}}, got {spec!r}")
    extra = set(spec) - {"name", "configuration", "must_understand"}
    if extra:
        raise CodecConfigError(f"codec {spec['name']!r}: unexpected field(s) {sorted(extra)}")
    config = spec.get("configuration")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise CodecConfigError(f"codec {spec['name']!r}: configuration must be an object, got {config!r}")
    return spec["name"], config


def get_codec(spec: dict[str, Any], path: str = "") -> Codec:
    """The codec of ``spec`` (``{"name", "configuration"}``), for the array at ``path``.

    Raises UnknownCodecError (naming codec, array and providing package) for
    codecs we cannot get, CodecError/MetadataError for bad configurations.
    """
    try:
        name, config = split_spec(spec)
    except CodecConfigError as e:
        raise CodecConfigError(f"{e} (array {path or '/'!r})") from e
    cls = _registry.get(name) or _load_plugin(name, path)
    try:
        if cls is not None:
            return cls.from_config(config)
        if name.startswith(PREFIX):
            return NumcodecsCodec.create(name[len(PREFIX) :], config, path)
    except UnknownCodecError:
        raise
    except ZarrEngineError as e:
        if repr(path or "/") not in str(e):
            raise type(e)(f"{e} (array {path or '/'!r})") from e
        raise
    except Exception as e:
        raise CodecConfigError(
            f"codec {name!r} of array {path or '/'!r}: invalid configuration {config!r}: {type(e).__name__}: {e}"
        ) from e
    raise UnknownCodecError(unknown_codec_message(name, path))


def _register_builtins() -> None:
    from .array_codecs import BytesCodec, TransposeCodec
    from .bytes_codecs import BloscCodec, Crc32cCodec, GzipCodec, ZstdCodec
    from .n5 import N5Codec
    from .vlen import VLenBytesCodec, VLenUTF8Codec

    for cls in (BytesCodec, TransposeCodec, BloscCodec, GzipCodec, ZstdCodec, Crc32cCodec, VLenUTF8Codec, VLenBytesCodec):
        register_codec(cls)
    register_codec(N5Codec)


_register_builtins()
