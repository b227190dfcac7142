"""The read-only subcommands: ``info``, ``tree``, ``ls`` and ``get``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np

from ..core.array import Array
from ._common import (
    EXIT_OK,
    UsageError,
    human_bytes,
    iter_arrays,
    jsonable,
    open_node,
    parse_bytes,
    parse_selection,
    parse_storage_options,
    print_rows,
)


def _spec_text(specs: Any) -> str:
    """Codec specs as ``name(key=value, ...)``, comma-separated; ``-`` for none."""
    parts = []
    for spec in specs or ():
        if not spec:
            continue
        cfg = spec.get("configuration") or {}
        if spec.get("name") == "sharding_indexed":
            inner = _spec_text(cfg.get("codecs"))
            parts.append(f"sharding_indexed(chunks={tuple(cfg.get('chunk_shape', ()))}, codecs=[{inner}])")
            continue
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        parts.append(f"{spec['name']}({args})" if args else spec["name"])
    return ", ".join(parts) or "-"


def array_summary(arr: Array, *, stored: bool = True) -> dict[str, Any]:
    """Everything ``info`` says about an array, as JSON-safe values.

    ``stored=False`` skips what needs a listing of the store (stored bytes,
    chunks initialised), for quick overviews of large hierarchies.
    """
    meta = arr.metadata
    sharded = arr.shards is not None
    out: dict[str, Any] = {
        "node": "array",
        "path": arr.name,
        "zarr_format": arr.zarr_format,
        "shape": list(arr.shape),
        "dtype": str(arr.dtype),
        "data_type": str(meta.data_type.name),
        "chunks": list(arr.chunks),
        "shards": list(arr.shards) if sharded else None,
        "order": arr.order,
        "dimension_names": list(arr.dimension_names) if arr.dimension_names else None,
        "fill_value": jsonable(arr.fill_value),
        "filters": jsonable(list(arr.filters)),
        "serializer": jsonable(arr.serializer),
        "compressors": jsonable(list(arr.compressors)),
        "codecs": jsonable(list(meta.codecs)),
        "nbytes": int(arr.nbytes),
        "nchunks": int(arr.nchunks),
        "stored_unit": "shard" if sharded else "chunk",
        "stored_units_total": int(math.prod(meta.grid_shape)),
        "attributes": jsonable(dict(arr.attrs)),
    }
    if stored:
        nstored = int(arr.nbytes_stored)
        out["nbytes_stored"] = nstored
        out["compression_ratio"] = round(arr.nbytes / nstored, 3) if nstored else None
        out["stored_units_initialized"] = int(arr.nchunks_initialized)
    return out


def group_summary(group: Any) -> dict[str, Any]:
    """What ``info`` says about a group: its members and their total sizes."""
    arrays = iter_arrays(group)
    members = []
    for name, node in group.members(max_depth=None):
        if isinstance(node, Array):
            members.append({"name": name, "node": "array", "shape": list(node.shape), "dtype": str(node.dtype)})
        else:
            members.append({"name": name, "node": "group"})
    nbytes = sum(a.nbytes for _, a in arrays)
    stored = sum(a.nbytes_stored for _, a in arrays)
    return {
        "node": "group",
        "path": group.name,
        "zarr_format": group.zarr_format,
        "consolidated": group.metadata.consolidated is not None,
        "arrays": len(arrays),
        "groups": sum(1 for m in members if m["node"] == "group"),
        "nbytes": int(nbytes),
        "nbytes_stored": int(stored),
        "compression_ratio": round(nbytes / stored, 3) if stored else None,
        "attributes": jsonable(dict(group.attrs)),
        "members": members,
    }


def _array_rows(s: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("Type", "Array"),
        ("Path", s["path"]),
        ("Zarr format", s["zarr_format"]),
        ("Shape", tuple(s["shape"])),
        ("Data type", s["data_type"] if s["data_type"] == s["dtype"] else f"{s['data_type']} ({s['dtype']})"),
        ("Chunk shape", tuple(s["chunks"])),
    ]
    if s["shards"]:
        rows.append(("Shard shape", tuple(s["shards"])))
    rows += [
        ("Order", s["order"]),
        ("Dimension names", ", ".join(str(d) for d in s["dimension_names"]) if s["dimension_names"] else "-"),
        ("Fill value", s["fill_value"]),
        ("Filters", _spec_text(s["filters"])),
        ("Serializer", _spec_text([s["serializer"]] if s["serializer"] else [])),
        ("Compressors", _spec_text(s["compressors"])),
        ("Size", human_bytes(s["nbytes"]) + f" ({s['nbytes']} bytes)"),
    ]
    if "nbytes_stored" in s:
        ratio = s["compression_ratio"]
        unit = s["stored_unit"] + "s"
        rows += [
            ("Stored size", human_bytes(s["nbytes_stored"]) + f" ({s['nbytes_stored']} bytes)"),
            ("Compression ratio", f"{ratio:.2f}" if ratio else "-"),
            (f"{unit.capitalize()} initialised", f"{s['stored_units_initialized']}/{s['stored_units_total']}"),
        ]
    if s["shards"]:
        rows.append(("Chunks (inner)", s["nchunks"]))
    if s["attributes"]:
        rows.append(("Attributes", ", ".join(sorted(s["attributes"]))))
    return rows


def _group_rows(s: dict[str, Any]) -> list[tuple[str, Any]]:
    ratio = s["compression_ratio"]
    return [
        ("Type", "Group"),
        ("Path", s["path"]),
        ("Zarr format", s["zarr_format"]),
        ("Consolidated", s["consolidated"]),
        ("Arrays", s["arrays"]),
        ("Groups", s["groups"]),
        ("Size", human_bytes(s["nbytes"])),
        ("Stored size", human_bytes(s["nbytes_stored"])),
        ("Compression ratio", f"{ratio:.2f}" if ratio else "-"),
        ("Attributes", ", ".join(sorted(s["attributes"])) or "-"),
    ]


def cmd_info(args: argparse.Namespace) -> int:
    """Summarise the array or group at URL."""
    node = open_node(args.url, parse_storage_options(args.storage_option))
    summary = array_summary(node) if isinstance(node, Array) else group_summary(node)
    summary = {"url": args.url, **summary}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        rows = _array_rows(summary) if summary["node"] == "array" else _group_rows(summary)
        print_rows([("URL", args.url)] + rows, sys.stdout)
    return EXIT_OK


def cmd_tree(args: argparse.Namespace) -> int:
    """Print the hierarchy below the group at URL."""
    node = open_node(args.url, parse_storage_options(args.storage_option))
    if isinstance(node, Array):
        print(f"{node.name} {node.shape} {node.dtype}")
    else:
        print(node.tree(args.level))
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    """List the members of the group at URL (or describe the array at URL in one line)."""
    node = open_node(args.url, parse_storage_options(args.storage_option))
    if isinstance(node, Array):
        entries = [("", node)]
    else:
        entries = list(node.members(max_depth=None if args.recursive else 0))
    rows = []
    for name, child in entries:
        if isinstance(child, Array):
            rows.append({"name": name or child.name, "node": "array", "shape": list(child.shape),
                         "dtype": str(child.dtype), "chunks": list(child.chunks),
                         "shards": list(child.shards) if child.shards else None})
        else:
            rows.append({"name": name, "node": "group"})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max((len(r["name"]) for r in rows), default=0) + 1
    for r in rows:
        if r["node"] == "group":
            print(f"{r['name'] + '/':<{width}}  group")
        else:
            shards = f"  shards={tuple(r['shards'])}" if r["shards"] else ""
            print(f"{r['name']:<{width}}  array  {tuple(r['shape'])} {r['dtype']}  chunks={tuple(r['chunks'])}{shards}")
    return EXIT_OK


def _selected_shape(arr: Array, sel: tuple[Any, ...]) -> tuple[int, ...]:
    """Shape a selection will have, computed without reading (to refuse huge reads early)."""
    probe = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.uint8), shape=arr.shape, strides=(0,) * arr.ndim)
    try:
        # a zero-strided view costs nothing; numpy does the shape arithmetic for us
        if any(isinstance(s, np.ndarray) for s in sel):
            probe = probe[np.ix_(*[_axis_index(s, n) for s, n in zip(_expand(sel, arr.ndim), arr.shape)])]
        else:
            probe = probe[sel]
    except IndexError as e:
        raise UsageError(f"selection does not fit the array of shape {arr.shape}: {e}") from None
    return probe.shape


def _expand(sel: tuple[Any, ...], ndim: int) -> list[Any]:
    out: list[Any] = []
    for s in sel:
        if s is Ellipsis:
            out += [slice(None)] * (ndim - (len(sel) - 1))
        else:
            out.append(s)
    return out + [slice(None)] * (ndim - len(out))


def _axis_index(s: Any, n: int) -> np.ndarray:
    if isinstance(s, slice):
        return np.arange(n)[s]
    return np.atleast_1d(np.asarray(s))


def cmd_get(args: argparse.Namespace) -> int:
    """Read a selection of the array at URL and print it (or save it as .npy)."""
    sel, orthogonal = parse_selection(args.select)
    node = open_node(args.url, parse_storage_options(args.storage_option))
    if not isinstance(node, Array):
        raise UsageError(f"{args.url} is a group; 'get' reads arrays (see 'zarr-engine ls {args.url}')")
    shape = _selected_shape(node, sel)
    nbytes = math.prod(shape) * node.dtype.itemsize
    limit = parse_bytes(args.max_bytes)
    if nbytes > limit:
        raise UsageError(
            f"the selection is {human_bytes(nbytes)}, over --max-bytes {args.max_bytes}; "
            "narrow it with --select or raise --max-bytes"
        )
    data = node.oindex[sel] if orthogonal else node[sel]
    if args.output:
        np.save(args.output, np.asarray(data))
        print(f"saved {shape} {node.dtype} to {args.output}", file=sys.stderr)
    elif args.json:
        print(json.dumps({"shape": list(np.shape(data)), "dtype": str(node.dtype), "data": jsonable(np.asarray(data))}))
    else:
        with np.printoptions(threshold=args.threshold, linewidth=120):
            print(np.asarray(data))
    return EXIT_OK
