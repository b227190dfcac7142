"""``zarr-engine pyramid``: build an OME-Zarr multiscale image (a pyramid) from an
array, in parallel with dask, with a progress bar per level."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..core.array import Array
from ..core.nodes import join_path, normalize_path
from ..errors import ContainsNodeError, ZarrEngineError
from ..storage.url import resolve_store
from ._common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    UsageError,
    check_no_overlap,
    exists_error,
    human_bytes,
    open_node,
    options_or_none,
    parse_shape,
    parse_storage_options,
)


def _floats(text: str | None, what: str) -> Any:
    """``"0.5"`` as 0.5 (every space axis) or ``"2,0.5,0.5"`` as a tuple; None stays None."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} must be a number or comma-separated numbers") from None
    if not values:
        raise UsageError(f"{what} {text!r} is empty")
    return values[0] if len(values) == 1 else values


def _ints(text: str | None, what: str) -> Any:
    shape = parse_shape(text, what)
    if shape is None:
        return None
    return shape[0] if len(shape) == 1 else shape


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``pyramid`` subcommand."""
    p = sub.add_parser(
        "pyramid", parents=parents, help="build an OME-Zarr multiscale image from an array",
        description=(
            "Build an OME-Zarr pyramid at DST from the array at SRC: level 0 is a copy,\n"
            "each further level halves every space axis of the stored level before it\n"
            "(mean, nearest or mode of whole windows; the far edge trimmed). Zarr v3 gets\n"
            "OME-NGFF 0.5 metadata, Zarr v2 gets 0.4. Each level is written by dask tasks\n"
            "that each own their chunks (no locks)."
        ),
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="URL of the source array")
    p.add_argument("dst", metavar="DST", help="URL of the image group to create (with --label: an existing image)")
    p.add_argument("--levels", type=int, metavar="N", help="number of levels (default: until one chunk holds a level)")
    p.add_argument("--method", choices=("mean", "nearest", "mode"),
                   help="downsampling method (default mean; mode with --label)")
    p.add_argument("--chunks", metavar="C|C1,C2,...",
                   help="chunk shape of every level: one length for the space axes, or one per axis")
    p.add_argument("--shards", metavar="S|S1,S2,...", help="shard shape of every level (format 3)")
    p.add_argument("--zarr-format", type=int, choices=(2, 3), default=3,
                   help="3: Zarr v3 + OME-NGFF 0.5 (default); 2: Zarr v2 + OME-NGFF 0.4")
    p.add_argument("--axes", metavar="NAMES", help="axis names, e.g. tczyx (default from the dimensions)")
    p.add_argument("--scale", metavar="S|S1,S2,...", help="level 0 sample spacing (default 1)")
    p.add_argument("--units", metavar="UNIT", help="unit of the space axes, e.g. micrometer")
    p.add_argument("--label", metavar="NAME", help="SRC is a label image: add it to the image at DST as labels/NAME")
    p.add_argument("--overwrite", action="store_true", help="replace whatever is at DST")
    p.add_argument("--workers", type=int, metavar="N", help="start a LocalCluster of N worker processes")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use an existing dask cluster (tcp://host:8786)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the levels as JSON")
    p.set_defaults(func=cmd_pyramid)


def _check_target(src: Array, args: argparse.Namespace, opts: dict[str, Any]) -> None:
    """Refuse a DST that is SRC or holds it (with --overwrite it would be deleted before it is read)."""
    try:
        store, root = resolve_store(args.dst, mode="r", storage_options=options_or_none(opts))
    except ZarrEngineError:
        return  # DST cannot be opened yet (a zip or database still to be made): it holds nothing
    try:
        target = join_path(normalize_path(root), f"labels/{args.label}") if args.label else root
        check_no_overlap(src, store, target, args.src, args.dst)
    finally:
        store.close()


def cmd_pyramid(args: argparse.Namespace) -> int:
    """Build the pyramid (see ``zarr-engine pyramid --help``)."""
    from ..multiscale import build_pyramid
    from .parallel import compute, dask_client

    opts = parse_storage_options(args.storage_option)
    if args.levels is not None and args.levels < 1:
        raise UsageError("--levels must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.shards and args.zarr_format == 2:
        raise UsageError("--shards needs Zarr format 3 (sharding does not exist in format 2)")
    chunks = _ints(args.chunks, "--chunks")
    shards = _ints(args.shards, "--shards")
    scale = _floats(args.scale, "--scale")
    src = open_node(args.src, opts)
    if not isinstance(src, Array):
        raise UsageError(f"SRC {args.src} is a group; pyramid needs an array")
    _check_target(src, args, opts)
    progress = not args.no_progress

    t0 = time.perf_counter()
    with dask_client(args.scheduler, args.workers) as client:
        def run(delayed: Any, description: str) -> Any:
            return compute(delayed, client, desc=description, progress=progress)

        try:
            pyr = build_pyramid(
                src, args.dst, args.levels, axes=args.axes, scale=scale,
                units=args.units, method=args.method, chunks=chunks, shards=shards, zarr_format=args.zarr_format,
                storage_options=options_or_none(opts), overwrite=args.overwrite, name=args.label,
                labels=args.label is not None, run=run,
            )
        except ContainsNodeError as e:
            raise exists_error(e) from None
    seconds = time.perf_counter() - t0
    rows = [
        {"path": lev.path, "shape": list(lev.shape), "chunks": list(lev.array.chunks),
         "scale": list(lev.scale), "translation": list(lev.translation), "stored": lev.array.nbytes_stored}
        for lev in pyr
    ]
    if args.json:
        print(json.dumps({"url": args.dst, "version": pyr.version, "axes": list(pyr.axis_names),
                          "seconds": round(seconds, 3), "levels": rows}))
        return EXIT_OK
    print(f"{args.dst}: OME-NGFF {pyr.version}, axes {''.join(pyr.axis_names)}, {len(rows)} levels "
          f"in {seconds:.2f} s")
    for r in rows:
        shape = "x".join(map(str, r["shape"]))
        print(f"  {r['path']:>3}  {shape:<20} scale {r['scale']}  {human_bytes(r['stored'])}", file=sys.stdout)
    return EXIT_OK
