"""``zarr-engine copy``: copy an array or a whole hierarchy between any two
stores, optionally converting the format, the chunks, the shards or the
compressor, in parallel with dask."""

from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
import time
from typing import Any

from ..core.api import consolidate_metadata, create_array, create_group
from ..core.array import Array
from ..core.nodes import join_path, normalize_path
from ..errors import ContainsNodeError
from ..storage.memory import MemoryStore
from ..storage.url import resolve_store
from ..storage.zip import ZipStore
from ._common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    UsageError,
    check_no_overlap,
    exists_error,
    human_bytes,
    jsonable,
    open_node,
    options_or_none,
    parse_shape,
    parse_storage_options,
    takes_storage_options,
)

#: numcodecs ids whose configuration takes a ``level``
_LEVELLED = {"zstd", "gzip", "zlib", "bz2", "lzma"}


def parse_compressor(text: str | None) -> Any:
    """``--compressor`` text as a codec configuration (or ``"keep"``).

    ``none``; ``NAME`` or ``NAME:LEVEL`` for zstd, gzip, zlib, bz2, lzma and
    the other numcodecs ids; ``blosc[:CNAME[:LEVEL]]`` (bit-shuffled); or a
    JSON object (``{"id": "zstd", "level": 7}`` or ``{"name": ..., "configuration": ...}``).
    """
    if text is None:
        return "keep"
    text = text.strip()
    if text.lower() == "none":
        return None
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError as e:
            raise UsageError(f"--compressor {text!r} is not valid JSON: {e}") from None
        if not isinstance(spec, dict):
            raise UsageError(f"--compressor {text!r} must be a JSON object")
        return spec
    name, *rest = text.split(":")
    name = name.lower()
    try:
        if name == "blosc":
            cname = rest[0] if rest else "zstd"
            level = int(rest[1]) if len(rest) > 1 else 5
            return {"id": "blosc", "cname": cname, "clevel": level, "shuffle": 2}
        if len(rest) > 1:
            raise ValueError("too many ':'")
        if rest:
            level = int(rest[0])
            return {"id": name, "level": level} if name in _LEVELLED else {"id": name, "acceleration": level}
    except (ValueError, IndexError) as e:
        raise UsageError(f"--compressor {text!r}: {e}; use e.g. zstd:5, blosc:lz4:5 or none") from None
    return {"id": name}


def _codec_roles(arr: Array) -> tuple[list[dict], dict | None, list[dict]]:
    """(filters, serializer, compressors) of an array, the inner ones for a sharded array."""
    sharding = arr.sharding
    if sharding is None:
        return list(arr.filters), arr.serializer, list(arr.compressors)
    from ..codecs import get_codec

    specs = list(sharding["configuration"]["codecs"])
    for i, spec in enumerate(specs):
        if type(get_codec(spec)).kind == "array_bytes":
            return specs[:i], specs[i], specs[i + 1:]
    return specs, None, []


def _new_layout(src: Array, fmt: Any, chunks: Any, shards: Any) -> tuple[tuple[int, ...], Any]:
    """Chunk and shard shapes of the copy of ``src``: the given ones where their
    length matches the array's, else the source's."""
    new_chunks = chunks if chunks is not None and len(chunks) == src.ndim else src.chunks
    if fmt in (2, "n5"):
        return new_chunks, None
    if shards == "none":
        return new_chunks, None
    if shards is not None and len(shards) == src.ndim:
        return new_chunks, shards
    if src.shards is not None and src.zarr_format == 3:
        old = src.shards
        # keep the shards only while they stay whole multiples of the chunks
        if all(s % c == 0 for s, c in zip(old, new_chunks)):
            return new_chunks, old
    return new_chunks, None


def _xarray_fill(src: Array, fmt: int, attrs: dict[str, Any]) -> Any:
    """The fill value of the copy, keeping xarray's reading of it.

    xarray takes a v2 array's fill value as its missing-value mask, but a v3
    array's only from the ``_FillValue`` attribute. So for arrays xarray wrote
    (they have dimension names), v2 -> v3 moves the mask into ``_FillValue``
    and v3 -> v2 moves ``_FillValue`` back into the fill value (null without
    it, so that a time axis starting at 0 is not read as missing).
    """
    fill = src.fill_value
    if src.dimension_names is None or fmt == src.zarr_format:
        return fill
    floating = src.dtype.kind == "f"
    if fmt == 3:
        if fill is not None and "_FillValue" not in attrs:
            # xarray writes a float _FillValue of a v3 array as the base64 of a little-endian double
            attrs["_FillValue"] = (base64.standard_b64encode(struct.pack("<d", float(fill))).decode()
                                   if floating else jsonable(fill))
        return fill
    if "_FillValue" in attrs:
        value = attrs.pop("_FillValue")
        if floating and isinstance(value, str):
            try:
                return struct.unpack("<d", base64.standard_b64decode(value))[0]
            except (ValueError, struct.error):
                return fill
        return value
    return None


def _dtype_of(src: Array) -> Any:
    """The dtype to create the copy with: object arrays say which kind of objects they hold."""
    if src.dtype.kind != "O":
        return src.dtype
    return str if src.metadata.data_type.name == "string" else bytes


def _create_like(src: Array, store: Any, path: str, args: argparse.Namespace) -> Array:
    fmt = args.zarr_format or src.zarr_format
    chunks, shards = _new_layout(src, fmt, args.chunks, args.shards)
    filters, serializer, compressors = _codec_roles(src)
    comp = args.compressor
    if src.zarr_format == "n5" and fmt != "n5":
        # an N5 array's compression lives inside its block codec; Zarr spells it as a compressor
        from ..format.n5 import n5_compression, zarr_compressor

        cfg = zarr_compressor(n5_compression(src.metadata))
        filters, serializer, compressors = [], None, [] if cfg is None else [cfg]
    if fmt == "n5":
        # N5 has one compression per array and no filters, serializers or shards
        return create_array(
            store, path=path, shape=src.shape, dtype=src.dtype, chunks=chunks, zarr_format="n5",
            compressor=(compressors[0] if compressors else None) if comp == "keep" else comp,
            attributes=dict(src.attrs), overwrite=args.overwrite,
        )
    attrs = {k: v for k, v in dict(src.attrs).items() if k != "_ARRAY_DIMENSIONS"}
    fill = _xarray_fill(src, fmt, attrs)
    order = None
    if fmt == 2:
        # v2 spells a full axis reversal as order "F", and has no transpose filter
        reverse = list(range(src.ndim))[::-1]
        if any(f.get("name") == "transpose" and list(f["configuration"]["order"]) == reverse for f in filters):
            order = "F"
            filters = [f for f in filters if f.get("name") != "transpose"]
    kwargs: dict[str, Any] = dict(
        path=path, shape=src.shape, dtype=_dtype_of(src), chunks=chunks, shards=shards,
        fill_value=fill, filters=filters or None,
        compressors=compressors if comp == "keep" else comp, zarr_format=fmt,
        dimension_names=src.dimension_names, attributes=attrs, overwrite=args.overwrite, order=order,
    )
    if fmt == 3 and serializer is not None and serializer.get("name") != "bytes":
        kwargs["serializer"] = serializer  # vlen-utf8 and friends; plain bytes stays "auto"
    return create_array(store, **kwargs)  # a None fill value is stored as null in v2, the default in v3


def copy_node(src: Any, store: Any, root: str, args: argparse.Namespace) -> list[tuple[Array, Array]]:
    """Create the destination hierarchy (metadata and attributes) at ``root`` in
    ``store`` and return the (source, destination) array pairs whose data still
    has to be copied."""
    if isinstance(src, Array):
        return [(src, _create_like(src, store, root, args))]
    fmt = args.zarr_format or src.zarr_format
    create_group(store, path=root, zarr_format=fmt, attributes=dict(src.attrs), overwrite=args.overwrite)
    pairs = []
    # members() yields parents before children, so groups exist before their members
    for name, node in src.members(max_depth=None):
        path = join_path(root, name)
        if isinstance(node, Array):
            pairs.append((node, _create_like(node, store, path, args)))
        else:
            create_group(store, path=path, zarr_format=fmt, attributes=dict(node.attrs))
    return pairs


def _format_arg(text: str) -> Any:
    """``2``, ``3`` or ``"n5"`` from the command line."""
    return "n5" if text.lower() == "n5" else int(text) if text.isdigit() else text


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy SRC to DST (see ``zarr-engine copy --help``)."""
    # dask is imported here, not with the module: every subcommand's parser is
    # built at startup, and importing dask.array there took 0.5 s of each command's 0.85 s
    import dask

    from .parallel import compute, dask_client, read_array, store_array, write_blocks

    # -O goes to whichever of SRC and DST is a remote (fsspec) URL; a local side takes none
    common = parse_storage_options(args.storage_option)
    src_opts = {**(common if takes_storage_options(args.src) else {}), **parse_storage_options(args.src_storage_option)}
    dst_opts = {**(common if takes_storage_options(args.dst) else {}), **parse_storage_options(args.dst_storage_option)}
    args.chunks = parse_shape(args.chunks, "--chunks")
    args.shards = "none" if (args.shards or "").lower() == "none" else parse_shape(args.shards, "--shards")
    args.compressor = parse_compressor(args.compressor)
    if args.zarr_format in (2, "n5") and args.shards not in (None, "none"):
        raise UsageError(f"--shards needs Zarr format 3 (sharding does not exist in format {args.zarr_format})")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")

    src = open_node(args.src, src_opts)
    t0 = time.perf_counter()
    # one store object for the whole copy: a zip file, for one, is only
    # complete once the store that wrote it is closed
    store, root = resolve_store(args.dst, mode="a", storage_options=options_or_none(dst_opts))
    scheduler, workers = args.scheduler, args.workers
    if isinstance(store, (ZipStore, MemoryStore)) and (scheduler or workers):
        print(f"note: {args.dst} can only be written from this process; copying with threads", file=sys.stderr)
        scheduler, workers = None, None
    try:
        check_no_overlap(src, store, root, args.src, args.dst)  # before anything is written
        try:
            pairs = copy_node(src, store, normalize_path(root), args)
        except ContainsNodeError as e:
            raise exists_error(e) from None
        work = [store_array(read_array(s, write_blocks(d)), d) for s, d in pairs if s.size]
        if work:
            with dask_client(scheduler, workers) as client:
                compute(dask.delayed(work), client, desc="copy", progress=not args.no_progress)
        src_consolidated = not isinstance(src, Array) and src.metadata.consolidated is not None
        if not isinstance(src, Array) and (src_consolidated or args.consolidate):
            consolidate_metadata(store, normalize_path(root) or None)
        stored = sum(d.nbytes_stored for _, d in pairs)
    finally:
        store.close()
    elapsed = time.perf_counter() - t0
    nbytes = sum(s.nbytes for s, _ in pairs)
    rate = nbytes / elapsed / 2**20 if elapsed > 0 else 0.0
    print(
        f"copied {len(pairs)} array(s), {human_bytes(nbytes)} ({human_bytes(stored)} stored) "
        f"from {args.src} to {args.dst} in {elapsed:.2f} s ({rate:.1f} MiB/s)",
        file=sys.stderr,
    )
    return EXIT_OK


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``copy`` subcommand."""
    p = sub.add_parser(
        "copy", parents=parents, epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        help="copy an array or hierarchy, converting format, chunks, shards, codecs",
        description=(
            "Copy the array or group at SRC (recursively, with attributes) to DST, between any two stores. "
            "Data moves in parallel with dask, one task per block of whole destination chunks (no locks)."
        ),
    )
    p.add_argument("src", metavar="SRC", help="source URL (path, file://, zip://, s3://, ...)")
    p.add_argument("dst", metavar="DST", help="destination URL")
    p.add_argument("--zarr-format", type=_format_arg, choices=(2, 3, "n5"),
                   help="format of the copy: 2, 3 or n5 (default: the source's)")
    p.add_argument("--chunks", metavar="C1,C2,...", help="new chunk shape (arrays of that many dimensions)")
    p.add_argument("--shards", metavar="S1,S2,...|none", help="new shard shape (format 3), or none to unshard")
    p.add_argument("--compressor", metavar="SPEC",
                   help="none, zstd[:LEVEL], gzip[:LEVEL], blosc[:CNAME[:LEVEL]], another numcodecs id, or JSON")
    p.add_argument("--overwrite", action="store_true", help="replace whatever is at DST")
    p.add_argument("--consolidate", action="store_true", help="consolidate DST's metadata afterwards "
                   "(done anyway when SRC is consolidated)")
    p.add_argument("--workers", type=int, metavar="N", help="start a LocalCluster of N worker processes")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use an existing dask cluster (tcp://host:8786)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--src-storage-option", action="append", metavar="KEY=VALUE", default=[],
                   help="storage option for SRC only (repeatable)")
    p.add_argument("--dst-storage-option", action="append", metavar="KEY=VALUE", default=[],
                   help="storage option for DST only (repeatable)")
    p.set_defaults(func=cmd_copy)
