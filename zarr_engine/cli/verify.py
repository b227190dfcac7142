"""``zarr-engine verify`` (read every stored chunk, report missing and corrupt
ones) and ``zarr-engine consolidate``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from typing import Any

from ..core.api import consolidate_metadata
from ..core.array import Array
from ..errors import ChunkCorruptError
from ._common import (
    EXIT_CODES_HELP,
    EXIT_CORRUPT,
    EXIT_OK,
    UsageError,
    iter_arrays,
    open_node,
    options_or_none,
    parse_storage_options,
)

#: missing keys listed per array in the report (the count is always exact)
MAX_LISTED_MISSING = 100
#: neighbouring stored units (chunks, or shards) are read together, in one call
#: per run of at most this many units and about RUN_BYTES of data (one read per
#: chunk of a few KiB cost ten times the decoding; a run that fails is read
#: again unit by unit, to name the corrupt ones)
MAX_RUN_UNITS = 256
RUN_BYTES = 16 << 20


def _runs(present: list[tuple[str, tuple[slice, ...]]], per_run: int) -> list[list[tuple[str, tuple[slice, ...]]]]:
    """``present`` (units in C order of the grid) cut into runs of at most
    ``per_run`` units that are neighbours along the last axis, so that each
    run is one box read in one call."""
    runs: list[list[tuple[str, tuple[slice, ...]]]] = []
    for item in present:
        if runs and len(runs[-1]) < per_run:
            last = runs[-1][-1][1]
            region = item[1]
            if region and region[:-1] == last[:-1] and region[-1].start == last[-1].stop:
                runs[-1].append(item)
                continue
        runs.append([item])
    return runs


def _run_region(run: list[tuple[str, tuple[slice, ...]]]) -> tuple[slice, ...]:
    """The box a run of neighbouring units covers."""
    first, last = run[0][1], run[-1][1]
    if not first:
        return first
    return (*first[:-1], slice(first[-1].start, last[-1].stop))


def _stored_units(arr: Array, prefix: str) -> set[tuple[int, ...]]:
    """Grid coordinates of the stored units (chunks, or shards) of ``arr``, from
    a listing of its keys: keys that are not chunk keys of the array (its
    metadata, stray files, chunks outside the grid) are left out."""
    meta = arr.metadata
    grid = meta.grid_shape
    encoding = meta.chunk_key_encoding
    out: set[tuple[int, ...]] = set()
    for key in arr.store.list_prefix(prefix):
        rel = key[len(prefix):]
        coords = encoding.decode(rel)
        if coords is None or len(coords) != len(grid) or meta.chunk_key(coords) != rel:
            if not grid and rel == meta.chunk_key(()):  # the one chunk of a 0-d array
                out.add(())
            continue
        if all(0 <= c < g for c, g in zip(coords, grid)):
            out.add(coords)
    return out


def verify_array(arr: Array, *, jobs: int = 4, progress: bool | None = None) -> dict[str, Any]:
    """Read every stored unit (chunk, or shard) of ``arr`` and decode it.

    Returns a report: how many units the grid has, how many are stored, the
    keys of absent ones (they read as the fill value, which is legal) and of
    corrupt ones with the decoder's message.
    """
    from tqdm.auto import tqdm

    meta = arr.metadata
    unit = list(meta.chunk_shape)  # the stored unit: a shard for a sharded array
    prefix = f"{arr.path}/" if arr.path else ""
    grid = meta.grid_shape
    stored_coords = _stored_units(arr, prefix)
    total = math.prod(grid)
    present = [
        (prefix + meta.chunk_key(coords),
         tuple(slice(c * u, min((c + 1) * u, s)) for c, u, s in zip(coords, unit, arr.shape)))
        for coords in sorted(stored_coords)
    ]
    # the grid is walked only as far as the first missing keys listed: a sparse
    # array of 10**12 chunks has that many missing, and counting them is arithmetic
    missing: list[str] = []
    if len(present) < total:
        for coords in product(*(range(g) for g in grid)):
            if coords not in stored_coords:
                missing.append(prefix + meta.chunk_key(coords))
                if len(missing) == MAX_LISTED_MISSING:
                    break

    def check(run: list[tuple[str, tuple[slice, ...]]]) -> list[tuple[str, str]]:
        try:
            arr[_run_region(run)]
        except ChunkCorruptError as e:
            if len(run) == 1:
                return [(run[0][0], str(e))]
            return [bad for item in run for bad in check([item])]  # which of them is corrupt
        return []

    corrupt = []
    bar = tqdm(total=len(present), desc=f"verify {arr.name}", unit=arr.shards and "shard" or "chunk",
               file=sys.stderr, disable=(None if progress is None else not progress), leave=False)
    unit_bytes = math.prod(unit) * max(1, arr.dtype.itemsize)
    per_run = max(1, min(MAX_RUN_UNITS, RUN_BYTES // max(1, unit_bytes)))
    # the engine decodes on its own pool; these threads only overlap store round trips
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = _runs(present, per_run)
        for run, result in zip(runs, pool.map(check, runs)):
            bar.update(len(run))
            corrupt += [{"key": key, "error": error} for key, error in result]
    bar.close()
    return {
        "path": arr.name,
        "stored_unit": "shard" if arr.shards else "chunk",
        "total": total,
        "stored": len(present),
        "missing_count": total - len(present),
        "missing": missing,
        "corrupt_count": len(corrupt),
        "corrupt": corrupt,
    }


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify every array at or below URL; exit 1 when a chunk is corrupt."""
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    node = open_node(args.url, parse_storage_options(args.storage_option))
    reports = [verify_array(a, jobs=args.jobs, progress=False if args.json else None) for _, a in iter_arrays(node)]
    corrupt = sum(r["corrupt_count"] for r in reports)
    missing = sum(r["missing_count"] for r in reports)
    failed = corrupt > 0 or (args.fail_on_missing and missing > 0)
    if args.json:
        print(json.dumps({"url": args.url, "ok": not failed, "arrays": reports,
                          "corrupt_count": corrupt, "missing_count": missing}, indent=2))
    else:
        for r in reports:
            unit = r["stored_unit"] + ("" if r["total"] == 1 else "s")
            print(f"{r['path']}: {r['total']} {unit}, {r['stored']} stored and read, "
                  f"{r['missing_count']} missing, {r['corrupt_count']} corrupt")
            for c in r["corrupt"]:
                print(f"  CORRUPT {c['key']}: {c['error']}")
            if args.list_missing:
                for key in r["missing"]:
                    print(f"  missing {key}")
        verdict = "FAILED" if failed else "OK"
        print(f"{verdict}: {len(reports)} array(s), {corrupt} corrupt, {missing} missing (missing reads as fill value)")
    return EXIT_CORRUPT if failed else EXIT_OK


def cmd_consolidate(args: argparse.Namespace) -> int:
    """Write consolidated metadata for the group at URL."""
    opts = parse_storage_options(args.storage_option)
    group = consolidate_metadata(args.url, storage_options=options_or_none(opts))
    n = len(group.metadata.consolidated or {})
    where = "zarr.json" if group.zarr_format == 3 else ".zmetadata"
    print(f"consolidated the metadata of {n} node(s) below {group.name} into {where} at {args.url}")
    return EXIT_OK


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``verify`` and ``consolidate``."""
    p = sub.add_parser(
        "verify", parents=parents, epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        help="read every chunk; report missing and corrupt ones",
        description=(
            "Read and decode every stored chunk (every shard, for sharded arrays) of the array at URL, or of "
            "every array below the group at URL. Missing chunks are legal (they read as the fill value) and are "
            "counted; corrupt ones are listed. Exit code 1 when a chunk is corrupt."
        ),
    )
    p.add_argument("url", metavar="URL")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--jobs", type=int, default=4, metavar="N", help="concurrent reads (default 4)")
    p.add_argument("--fail-on-missing", action="store_true", help="exit 1 when a chunk is missing too")
    p.add_argument("--list-missing", action="store_true", help="list missing keys (first 100 per array)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "consolidate", parents=parents, epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter, help="write consolidated metadata for a group",
        description="Gather the metadata of every node below the group at URL into one document "
                    "(v3: the root zarr.json; v2: .zmetadata), so opening the hierarchy takes one read.",
    )
    p.add_argument("url", metavar="URL")
    p.set_defaults(func=cmd_consolidate)
