"""The public functions: open, create and consolidate arrays and groups.

``store`` is anywhere a store can be named: a path, a URL (``file://``,
``memory://``, ``zip://``, ``s3://``, ``sqlite://`` ...) or a store object.
``mode`` follows zarr-python: ``r`` read-only, ``r+`` read/write an existing
node, ``a`` read/write creating when absent, ``w`` create (replacing), ``w-``
create (failing if present).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from typing import Any

import numpy as np

from ..codecs.normalize import normalize_compressors, normalize_filters, normalize_serializer
from ..errors import (
    ArgumentError,
    ContainsNodeError,
    DTypeError,
    MetadataError,
    NodeNotFoundError,
    ShapeMismatchError,
)
from ..format import consolidated as _consolidated
from ..format.create import DEFAULT_FILL, create_array_metadata
from ..format.metadata import ArrayMetadata, GroupMetadata
from ..storage.base import Store
from ..storage.url import resolve_store
from .array import Array
from .cache import ChunkCache, cache_budget
from .group import Group, Tree
from .nodes import (
    OVERWRITE_HINT,
    bare_n5_group,
    display_path,
    ensure_parents,
    join_path,
    normalize_path,
    prefix_of,
    prepare_new_node,
    try_read_metadata,
    write_metadata,
)

MODES = ("r", "r+", "a", "w", "w-")

#: index codecs of a new shard: what zarr-python writes by default
DEFAULT_INDEX_CODECS = (
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c", "configuration": {}},
)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ArgumentError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def _resolve(store: Any, mode: str, storage_options: dict[str, Any] | None, path: str | None) -> tuple[Store, str]:
    _check_mode(mode)
    st, inner = resolve_store(store, mode=mode, storage_options=storage_options)
    return st, join_path(normalize_path(inner), path or "")


def _not_found(store: Store, path: str) -> NodeNotFoundError:
    return NodeNotFoundError(f"no array or group at {display_path(path)} in {store!r}")


@contextlib.contextmanager
def _refusing_in_mode_w_minus() -> Any:
    """Mode "w-" refuses a node that exists; the open functions replace one with mode "w",
    not with create_array's ``overwrite=True`` (which they do not take), so say that."""
    try:
        yield
    except ContainsNodeError as e:
        message = str(e).removesuffix(OVERWRITE_HINT)
        raise ContainsNodeError(f"{message}; mode 'w-' refuses it: use mode='w' to replace it, "
                                "or mode='a' to open it as it is") from None


# ---------------------------------------------------------------------------
# creating
# ---------------------------------------------------------------------------


def create_array(
    store: Any,
    *,
    name: str | None = None,
    path: str | None = None,
    shape: Any = None,
    dtype: Any = None,
    chunks: Any = "auto",
    shards: Any = None,
    fill_value: Any = DEFAULT_FILL,
    compressors: Any = "auto",
    compressor: Any = "auto",
    filters: Any = None,
    serializer: Any = "auto",
    zarr_format: int = 3,
    dimension_names: Any = None,
    attributes: dict[str, Any] | None = None,
    order: str | None = None,
    chunk_key_encoding: Any = None,
    overwrite: bool = False,
    write_empty_chunks: bool = False,
    storage_options: dict[str, Any] | None = None,
    data: Any = None,
) -> Array:
    """Create an array and return it (with ``data`` written, if given).

    ``chunks`` is the chunk shape (the inner chunks when ``shards`` is given);
    ``compressors``/``filters``/``serializer`` take codec objects (ours,
    numcodecs' or zarr-python's), dicts, names, ``"auto"`` or None.

    ``shards`` is the shard shape (Zarr v3 only), a multiple of the chunk shape,
    or ``"auto"``: the chunk shape doubled along the first axis, then the
    second, and so on round the axes again, for as long as the doubled shard
    still fits inside the array along that axis and holds at most
    :data:`AUTO_SHARD_CHUNKS` chunks and :data:`AUTO_SHARD_BYTES` bytes
    (uncompressed). An array no bigger than a chunk has shards of one chunk.
    As in zarr-python, ``shards`` may also be ``{"shape": <shards>,
    "index_location": "start" | "end"}`` to choose where each shard keeps its
    index (``"end"`` otherwise).

    A ``sharding_indexed`` codec given as ``serializer`` (dict or zarr-python's
    ``ShardingCodec``) makes ``chunks`` the shard shape, which the codec's own
    ``chunk_shape`` must tile; with ``shards`` as well, the shards nest. Every
    codec is checked against the chunk shape before anything is stored.

    ``fill_value`` left out is the data type's default (zero, an empty
    string, NaT...). As in zarr-python, ``fill_value=None`` means that
    too in v3, but in v2 it stores ``"fill_value": null``: no value marks
    missing data, so xarray masks none (a default 0 would make xarray read
    every stored 0 as missing).

    ``data`` gives the shape and dtype when they are not given; when they are,
    ``data`` must have that shape, and its values must fit the dtype (as for a
    write). Both are checked before anything is stored.
    """
    st, node_path = _resolve(store, "a", storage_options, path if path is not None else name)
    if data is not None:
        try:
            if dtype is None and not isinstance(data, (np.ndarray, Array)):
                data = np.asarray(data)
            data_shape = tuple(np.shape(data))  # an Array's own shape, without reading it
        except (ValueError, TypeError) as e:
            where = display_path(node_path)
            raise DTypeError(f"create_array at {where}: data cannot be read as an array: {e}") from None
        if shape is None:
            shape = data_shape
        if dtype is None:
            dtype = data.dtype
    if shape is None or dtype is None:
        raise MetadataError(f"create_array at {display_path(node_path)} needs shape and dtype (or data)")
    if zarr_format not in (2, 3, "n5"):
        raise MetadataError(f"zarr_format must be 2, 3 or 'n5', got {zarr_format!r}")
    meta = _array_metadata(
        node_path, shape=shape, dtype=dtype, chunks=chunks, shards=shards, fill_value=fill_value,
        compressors=compressors, compressor=compressor, filters=filters, serializer=serializer,
        zarr_format=zarr_format, dimension_names=dimension_names, attributes=attributes, order=order,
        chunk_key_encoding=chunk_key_encoding,
    )
    arr = Array(st, node_path, meta, write_empty_chunks=write_empty_chunks)
    if data is not None:
        if data_shape != tuple(meta.shape):
            raise ShapeMismatchError(
                f"create_array at {display_path(node_path)}: data has shape {data_shape}, but shape "
                f"{tuple(meta.shape)} was given; give data of that shape, or leave shape out"
            )
        data = arr._prepare_value(data, data_shape)  # its values fit the dtype, or DTypeError
    st._check_writable(prefix_of(node_path) + {3: "zarr.json", "n5": "attributes.json"}.get(zarr_format, ".zarray"))
    # everything is validated above, before the store is touched
    prepare_new_node(st, node_path, overwrite=overwrite)
    ensure_parents(st, node_path, zarr_format)
    write_metadata(st, node_path, meta)
    if data is not None:
        arr[...] = data
    return arr


def _array_metadata(
    path: str, *, shape: Any, dtype: Any, chunks: Any, shards: Any, fill_value: Any, compressors: Any,
    compressor: Any, filters: Any, serializer: Any, zarr_format: int, dimension_names: Any,
    attributes: Any, order: Any, chunk_key_encoding: Any,
) -> ArrayMetadata:
    from ..format.dtypes import DataType

    where = display_path(path)
    if zarr_format == "n5":
        from ..format.n5 import create_n5_array_metadata

        return create_n5_array_metadata(
            shape=shape, chunks=chunks, dtype=dtype, compressor=compressor if compressor != "auto" else compressors,
            fill_value=None if fill_value is DEFAULT_FILL else fill_value, attributes=attributes, dimension_names=dimension_names, path=where,
            filters=filters, shards=shards, order=order, serializer=serializer, chunk_key_encoding=chunk_key_encoding,
        )
    data_type = DataType.from_numpy(dtype, zarr_format, display_path(path))
    dt = data_type.numpy_dtype
    if zarr_format == 2:
        if shards is not None:
            raise MetadataError(f"array {where}: sharding needs zarr_format=3")
        if compressors != "auto" and compressor != "auto":
            raise MetadataError(f"array {where}: pass compressors or compressor, not both")
        comp = compressor if compressor != "auto" else compressors
        comp_cfg = normalize_compressors(comp, 2, dt)
        return create_array_metadata(
            shape=shape, dtype=dtype, chunks=chunks, fill_value=fill_value, zarr_format=2,
            filters=normalize_filters(filters, 2, dt), compressor=comp_cfg, order=order,
            dimension_names=dimension_names, attributes=attributes, chunk_key_encoding=chunk_key_encoding,
            path=where,
        )
    if compressor != "auto":
        if compressors != "auto":
            raise MetadataError(f"array {where}: pass compressors or compressor, not both")
        compressors = [] if compressor is None else [compressor]
    kw = dict(
        dtype=dtype, fill_value=fill_value, zarr_format=3, dimension_names=dimension_names,
        attributes=attributes, order=order, chunk_key_encoding=chunk_key_encoding, path=where,
    )
    if isinstance(serializer, str) and serializer == "auto" and data_type.name == "variable_length_bytes":
        serializer = "vlen-bytes"  # the numpy dtype (object) alone would say vlen-utf8
    serializer_spec = normalize_serializer(serializer, dt)
    inner = create_array_metadata(
        shape=shape, chunks=chunks, filters=normalize_filters(filters, 3, dt),
        serializer=serializer_spec, compressors=normalize_compressors(compressors, 3, dt), **kw,
    )
    # the codecs meet the chunk shape only now: check them together before anything is stored
    hint = ""
    if serializer_spec["name"] == "sharding_indexed":
        hint = " (with a sharding_indexed serializer, chunks is the shard shape, which its chunk_shape must tile)"
    _check_chain(inner, where, hint)
    if shards is None:
        return inner
    index_location = "end"
    if isinstance(shards, dict):
        shards, index_location = _shards_config(shards, where)
    if isinstance(shards, str):
        if shards != "auto":
            raise MetadataError(f"array {where}: shards must be a shape, an int or 'auto', got {shards!r}")
        shard_shape = auto_shards(inner.shape, inner.chunk_shape, dt.itemsize)
    elif isinstance(shards, (int, np.integer)) and not isinstance(shards, bool):
        shard_shape = (shards,) * len(inner.shape)
    else:
        try:
            shard_shape = tuple(shards)
        except TypeError:
            raise MetadataError(f"array {where}: shards must be a shape, an int or 'auto', got {shards!r}") from None
    if len(shard_shape) != len(inner.shape):
        raise MetadataError(f"array {where}: shards {shard_shape} must have one length per axis of shape {inner.shape}")
    for s, c in zip(shard_shape, inner.chunk_shape):
        if not isinstance(s, (int, np.integer)) or s <= 0 or s % c:
            raise MetadataError(
                f"array {where}: shard shape {shard_shape} must be positive multiples of the chunk shape {inner.chunk_shape}"
            )
    sharding = {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": list(inner.chunk_shape),
            "codecs": [dict(c) for c in inner.codecs],
            "index_codecs": [dict(c) for c in DEFAULT_INDEX_CODECS],
            "index_location": index_location,
        },
    }
    return create_array_metadata(
        shape=shape, chunks=tuple(int(s) for s in shard_shape), filters=[], serializer=sharding, compressors=[], **kw
    )


#: what create_array takes, and which of its arguments the stored metadata is made of
_METADATA_ARGUMENTS = (
    "shape", "dtype", "chunks", "shards", "fill_value", "compressors", "compressor", "filters", "serializer",
    "zarr_format", "dimension_names", "attributes", "order", "chunk_key_encoding",
)
_CREATE_SIGNATURE = inspect.signature(create_array)


def array_metadata(path: str = "", **kwargs: Any) -> ArrayMetadata:
    """The metadata ``create_array(store, path=path, **kwargs)`` would write, built
    without a store: every metadata argument is checked here as it is there (a
    ``MetadataError`` or ``CodecError`` naming ``path``), and arguments left out
    take create_array's defaults. Arguments that are not metadata
    (``overwrite``, ``write_empty_chunks``, ...) are accepted and ignored;
    ``data`` is not taken. An argument create_array does not know raises
    ``TypeError``, as the call would."""
    if "data" in kwargs:
        raise TypeError("array_metadata() does not take data; give shape and dtype")
    bound = _CREATE_SIGNATURE.bind(None, path=path, **kwargs)
    bound.apply_defaults()
    args = bound.arguments
    where = display_path(normalize_path(path or args["name"] or ""))
    if args["shape"] is None or args["dtype"] is None:
        raise MetadataError(f"create_array at {where} needs shape and dtype (or data)")
    if args["zarr_format"] not in (2, 3, "n5"):
        raise MetadataError(f"zarr_format must be 2, 3 or 'n5', got {args['zarr_format']!r}")
    return _array_metadata(path or args["name"] or "", **{k: args[k] for k in _METADATA_ARGUMENTS})


def _shards_config(shards: dict[str, Any], where: str) -> tuple[Any, str]:
    """(shard shape, index location) of ``shards={"shape": ..., "index_location": ...}``,
    zarr-python's form for placing the shard index; a missing or None location is "end"."""
    unknown = sorted(set(shards) - {"shape", "index_location"}, key=str)
    if unknown or "shape" not in shards:
        raise MetadataError(
            f"array {where}: a shards dict takes 'shape' (required) and 'index_location', got keys {sorted(shards, key=str)}"
        )
    location = shards.get("index_location")
    location = getattr(location, "value", location)  # zarr-python's ShardingCodecIndexLocation
    if location is None:
        location = "end"
    if location not in ("start", "end"):
        raise MetadataError(f"array {where}: shards index_location must be 'start' or 'end', got {location!r}")
    return shards["shape"], location


def _check_chain(meta: ArrayMetadata, where: str, hint: str = "") -> None:
    """Build the codec chain of ``meta`` for its chunks: a codec that does not fit the chunk
    shape (a transpose of other axes, a sharding chunk_shape that does not tile the shard)
    raises here, naming the array, rather than at the first read or write."""
    from ..codecs.base import ChunkSpec
    from ..codecs.chain import CodecChain
    from ..errors import ZarrEngineError
    from .engine import fill_scalar

    spec = ChunkSpec(tuple(meta.chunk_shape), meta.dtype, fill_scalar(meta))
    try:
        CodecChain.from_specs(meta.codecs, spec, path=where, zarr_format=meta.zarr_format)
    except ZarrEngineError as e:
        if not hint or "'sharding_indexed'" not in str(e):
            raise
        raise type(e)(f"{e}{hint}") from e


#: shards="auto": the most chunks a shard may hold
AUTO_SHARD_CHUNKS = 64
#: shards="auto": the most bytes (uncompressed) a shard may hold
AUTO_SHARD_BYTES = 128 * 2**20


def auto_shards(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """The shard shape of ``shards="auto"``: the chunk shape, doubled along one axis after
    another (round the axes, first to last) while the doubled shard fits inside the array
    along that axis and holds at most AUTO_SHARD_CHUNKS chunks and AUTO_SHARD_BYTES bytes."""
    mult = [1] * len(chunks)
    chunk_bytes = math.prod(chunks) * max(int(itemsize), 1)
    grew = True
    while grew:
        grew = False
        for ax, (n, c) in enumerate(zip(shape, chunks)):
            count = 2 * math.prod(mult)
            if count > AUTO_SHARD_CHUNKS or count * chunk_bytes > AUTO_SHARD_BYTES:
                return tuple(int(c * m) for c, m in zip(chunks, mult))
            if 2 * c * mult[ax] <= n:
                mult[ax] *= 2
                grew = True
    return tuple(int(c * m) for c, m in zip(chunks, mult))


def create_group(
    store: Any,
    *,
    path: str | None = None,
    zarr_format: int = 3,
    attributes: dict[str, Any] | None = None,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> Group:
    """Create a group (and any missing parents) and return it."""
    st, node_path = _resolve(store, "a", storage_options, path)
    if zarr_format not in (2, 3, "n5"):
        raise MetadataError(f"zarr_format must be 2, 3 or 'n5', got {zarr_format!r}")
    if zarr_format == "n5":
        from ..format.n5 import new_n5_group

        meta = new_n5_group(node_path, attributes)
    else:
        meta = GroupMetadata(zarr_format=zarr_format, attributes=dict(attributes or {}))  # type: ignore[arg-type]
    st._check_writable(prefix_of(node_path) + {3: "zarr.json", "n5": "attributes.json"}.get(zarr_format, ".zgroup"))
    prepare_new_node(st, node_path, overwrite=overwrite)
    ensure_parents(st, node_path, zarr_format)
    write_metadata(st, node_path, meta)
    return Group(st, node_path, meta)


# ---------------------------------------------------------------------------
# opening
# ---------------------------------------------------------------------------


def open_array(
    store: Any,
    *,
    mode: str = "a",
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
    write_empty_chunks: bool = False,
    optimistic: bool = False,
    chunk_cache_bytes: int = 0,
    **create_kwargs: Any,
) -> Array:
    """Open the array at ``path`` (creating it from ``create_kwargs`` where the mode allows).

    ``optimistic=True`` makes data writes compare-and-set each chunk and retry
    on conflict, so concurrent partial writes to the same chunks lose no update
    (stores with conditional writes only; see ``zarr_engine.core.optimistic``).

    ``chunk_cache_bytes=N`` keeps up to N bytes of decoded chunks that reads
    wanted only in part, so that the next reads in them skip the fetch and the
    decode (``zarr_engine.core.cache``). For data nobody else changes meanwhile:
    the array's own writes empty it, other writers' are not seen.
    """
    budget = cache_budget(chunk_cache_bytes, "open_array")  # checked before anything is created
    if budget:
        arr = open_array(store, mode=mode, path=path, zarr_format=zarr_format, storage_options=storage_options,
                         write_empty_chunks=write_empty_chunks, optimistic=optimistic, **create_kwargs)
        return arr._sharing_cache(ChunkCache(budget))  # the same array, with a cache of its own
    if optimistic:
        made = open_array(store, mode=mode, path=path, zarr_format=zarr_format, storage_options=storage_options,
                          write_empty_chunks=write_empty_chunks, **create_kwargs)
        return Array(made.store, made.path, made.metadata, write_empty_chunks=write_empty_chunks, optimistic=True)
    st, node_path = _resolve(store, mode, storage_options, path)
    if mode in ("w", "w-"):
        with _refusing_in_mode_w_minus():
            return create_array(
                st, path=node_path, zarr_format=zarr_format or 3, overwrite=(mode == "w"),
                write_empty_chunks=write_empty_chunks, **create_kwargs,
            )
    meta = try_read_metadata(st, node_path, zarr_format=zarr_format)
    if meta is None:
        if mode == "a" and "shape" in create_kwargs:
            return create_array(
                st, path=node_path, zarr_format=zarr_format or 3, write_empty_chunks=write_empty_chunks,
                **create_kwargs,
            )
        raise _not_found(st, node_path)
    if not isinstance(meta, ArrayMetadata):
        from ..errors import NodeTypeError

        raise NodeTypeError(f"the node at {display_path(node_path)} in {st!r} is a group, not an array")
    return Array(st, node_path, meta, write_empty_chunks=write_empty_chunks)


def open_group(
    store: Any = None,
    *,
    mode: str = "a",
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
    use_consolidated: bool | None = None,
    attributes: dict[str, Any] | None = None,
) -> Group:
    """Open the group at ``path`` (creating it where the mode allows).

    Consolidated metadata is used when present unless ``use_consolidated=False``;
    ``use_consolidated=True`` requires it.
    """
    if store is None:
        store = "memory://"
    st, node_path = _resolve(store, mode, storage_options, path)
    if mode in ("w", "w-"):
        with _refusing_in_mode_w_minus():
            return create_group(
                st, path=node_path, zarr_format=zarr_format or 3, attributes=attributes, overwrite=(mode == "w")
            )
    meta = try_read_metadata(st, node_path, zarr_format=zarr_format)
    if meta is None and zarr_format is None:
        meta = bare_n5_group(st, node_path)
    if meta is None:
        if mode == "a":
            return create_group(st, path=node_path, zarr_format=zarr_format or 3, attributes=attributes)
        raise _not_found(st, node_path)
    if not isinstance(meta, GroupMetadata):
        from ..errors import NodeTypeError

        raise NodeTypeError(f"the node at {display_path(node_path)} in {st!r} is an array, not a group")
    return Group(st, node_path, meta, use_consolidated=use_consolidated)


def open(  # noqa: A001 - mirrors zarr.open
    store: Any = None,
    *,
    mode: str = "a",
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
    use_consolidated: bool | None = None,
    **kwargs: Any,
) -> Array | Group:
    """Open whatever node is at ``path``: an :class:`Array` or a :class:`Group`.

    With ``shape=`` (and the other creation arguments) an absent array is created;
    otherwise an absent node becomes a new group where the mode allows.
    """
    if store is None:
        store = "memory://"
    if "shape" in kwargs:
        return open_array(store, mode=mode, path=path, zarr_format=zarr_format, storage_options=storage_options, **kwargs)
    st, node_path = _resolve(store, mode, storage_options, path)
    if mode in ("w", "w-"):
        return open_group(st, mode=mode, path=node_path, zarr_format=zarr_format, **_group_kwargs(kwargs))
    meta = try_read_metadata(st, node_path, zarr_format=zarr_format)
    if meta is None and zarr_format is None:
        meta = bare_n5_group(st, node_path)
    if meta is None:
        if mode == "a":
            return open_group(st, mode="a", path=node_path, zarr_format=zarr_format, **_group_kwargs(kwargs))
        raise _not_found(st, node_path)
    if isinstance(meta, ArrayMetadata):
        # the array options open_array takes: dropping one (optimistic=True) would be silent
        return Array(st, node_path, meta, write_empty_chunks=kwargs.get("write_empty_chunks", False),
                     optimistic=kwargs.get("optimistic", False), chunk_cache_bytes=kwargs.get("chunk_cache_bytes", 0))
    return Group(st, node_path, meta, use_consolidated=use_consolidated)


def _group_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = {"attributes"}
    extra = set(kwargs) - allowed - {"write_empty_chunks"}
    if extra:
        raise TypeError(f"unexpected arguments for a group: {', '.join(sorted(extra))}")
    return {k: v for k, v in kwargs.items() if k in allowed}


# ---------------------------------------------------------------------------
# consolidated metadata and display
# ---------------------------------------------------------------------------


def consolidate_metadata(
    store: Any,
    path: str | None = None,
    *,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Group:
    """Gather the metadata of every node below the group at ``path`` into one document
    (the v3 ``consolidated_metadata`` of its zarr.json, or v2 ``.zmetadata``), and
    return the group opened with it."""
    st, node_path = _resolve(store, "r+", storage_options, path)
    group = open_group(st, mode="r+", path=node_path, zarr_format=zarr_format, use_consolidated=False)
    nodes: dict[str, ArrayMetadata | GroupMetadata] = {}
    for name, node in group.members(max_depth=None):
        meta = node.metadata
        if isinstance(meta, GroupMetadata):
            meta = meta.replace(consolidated=None)
        nodes[name] = meta
    root = group.metadata.replace(consolidated=None)
    if root.zarr_format == 3:
        write_metadata(st, node_path, root.replace(consolidated=nodes))
    else:
        st.set(prefix_of(node_path) + ".zmetadata", _consolidated.zmetadata_bytes({"": root, **nodes}, node_path))
    return open_group(st, mode="r+", path=node_path)


def tree(group: Group, level: int | None = None) -> Tree:
    """A text picture of the hierarchy below ``group``."""
    return group.tree(level)


__all__ = [
    "ContainsNodeError",
    "consolidate_metadata",
    "create_array",
    "create_group",
    "open",
    "open_array",
    "open_group",
    "tree",
]
