"""Run the workloads for zarr_engine and every installed peer; print a table, write JSON.

    python -m benchmarks                 # full size
    python -m benchmarks --quick         # about two minutes on 2 cores
    python -m benchmarks --quick --only W1,W4 --peers zarr-python

Figures: MB/s of uncompressed array data, operations per second, or (W8) a
multiple of the array's size. Ratios are zarr_engine against each other
engine, oriented so that > 1 always means zarr_engine is better.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import w_dask, w_local, w_memory, w_meta, w_s3
from .common import LIMIT, SIZES, US, Context, Row, cores
from .engines import available, peer_versions

WORKLOADS: dict[str, Callable[[Context], list[Row]]] = {
    **w_local.WORKLOADS, **w_meta.WORKLOADS, **w_s3.WORKLOADS, **w_dask.WORKLOADS, **w_memory.WORKLOADS,
}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
#: zarr_engine must be at least this many times zarr-python on these workloads
TWO_X = ("W2", "W3", "W6")


def check_targets(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The issue's targets, each with whether this run met it and the figure that decided."""
    out: list[dict[str, Any]] = []
    for r in rows:
        ratios = r.ratios()
        peers = {k: v for k, v in ratios.items() if k != LIMIT}
        if r.values.get(US) is None:
            out.append({"target": "runs", "workload": r.workload, "case": r.case, "met": False, "value": None})
            continue
        if peers:
            worst = min(peers, key=peers.__getitem__)
            out.append({"target": ">= fastest peer", "workload": r.workload, "case": r.case,
                        "met": peers[worst] >= 1.0, "value": round(peers[worst], 3), "against": worst})
        if r.workload in TWO_X and "zarr-python" in ratios:
            out.append({"target": ">= 2x zarr-python", "workload": r.workload, "case": r.case,
                        "met": ratios["zarr-python"] >= 2.0, "value": round(ratios["zarr-python"], 3)})
        if r.workload in ("W1", "W2") and LIMIT in ratios:
            out.append({"target": ">= 0.8x decode limit", "workload": r.workload, "case": r.case,
                        "met": ratios[LIMIT] >= 0.8, "value": round(ratios[LIMIT], 3)})
        if r.workload == "W8":
            v = r.values[US]
            out.append({"target": "peak <= 1.2x array", "workload": r.workload, "case": r.case,
                        "met": v is not None and v <= 1.2, "value": None if v is None else round(v, 3)})
    return out


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def table(rows: Sequence[Row], engines: Sequence[str], markdown: bool = False) -> str:
    """The results as a text (or markdown) table: one column per engine, then the ratios."""
    others = [e for e in engines if e != US]
    head = ["workload", "case", "unit", US, *others, *[f"us/{e}" for e in others]]
    body = []
    for r in rows:
        ratios = r.ratios()
        body.append([r.workload, r.case, r.metric, _fmt(r.values.get(US)), *[_fmt(r.values.get(e)) for e in others],
                     *[("-" if e not in ratios else f"{ratios[e]:.2f}") for e in others]])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    fmt = lambda cells: "  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *[fmt(b) for b in body]])


def run(size: str = "full", only: Sequence[str] | None = None, peers: Sequence[str] | None = None,
        workdir: str | None = None, out: str | None = RESULTS, quiet: bool = False) -> dict[str, Any]:
    """Run the chosen workloads and return the JSON record (also written under ``out``, unless None)."""
    sizes = SIZES[size]
    wanted = [w.strip().upper() for w in only] if only else list(WORKLOADS)
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    log = (lambda msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    adapters = available(list(peers) if peers is not None else None)
    own_tmp = workdir is None
    base = workdir or tempfile.mkdtemp(prefix="zarr-engine-bench-")
    ctx = Context(sizes=sizes, adapters=adapters, workdir=base, log=log)
    rows: list[Row] = []
    started = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        for name in wanted:
            log(f"{name} ({sizes.name})")
            t0 = time.perf_counter()
            rows += WORKLOADS[name](ctx)
            timings[name] = round(time.perf_counter() - t0, 2)
    finally:
        if own_tmp:
            shutil.rmtree(base, ignore_errors=True)
    engines = [a.name for a in adapters] + [LIMIT]
    record = {
        "meta": {
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "size": sizes.name, "sizes": {k: v for k, v in vars(sizes).items()},
            "cores": cores(), "machine": platform.machine(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": peer_versions(), "engines": engines,
            "workloads": wanted, "seconds": round(time.perf_counter() - started, 1), "workload_seconds": timings,
        },
        "results": [r.to_json() for r in rows],
        "targets": check_targets(rows),
    }
    record["table"] = table(rows, [e for e in engines if any(e in r.values for r in rows)])
    if out is not None:
        os.makedirs(out, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = os.path.join(out, f"{sizes.name}-{stamp}.json")
        with open(path, "w") as f:
            json.dump(record, f, indent=1)
        record["path"] = path
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (``python -m benchmarks``)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="scaled-down sizes (about two minutes on 2 cores)")
    g.add_argument("--size", choices=sorted(SIZES), default=None, help="full, quick or micro (smoke test)")
    p.add_argument("--only", default=None, help="comma-separated workloads, e.g. W1,W4")
    p.add_argument("--peers", default=None, help="comma-separated peers to include (default: all installed)")
    p.add_argument("--workdir", default=None, help="folder for the stores (default: a temporary one, removed)")
    p.add_argument("--out", default=RESULTS, help="folder for the JSON record")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = p.parse_args(argv)
    size = "quick" if args.quick else (args.size or "full")
    record = run(size, args.only.split(",") if args.only else None,
                 args.peers.split(",") if args.peers is not None else None, args.workdir, args.out)
    if args.markdown:
        rows = [Row(**{k: v for k, v in r.items() if k != "ratios"}) for r in record["results"]]
        print(table(rows, [e for e in record["meta"]["engines"] if any(e in r.values for r in rows)], markdown=True))
    else:
        print(record["table"])
    missed = [t for t in record["targets"] if not t["met"]]
    print(f"\ntargets: {len(record['targets']) - len(missed)} met, {len(missed)} missed")
    for t in missed:
        print(f"  missed {t['target']}: {t['workload']} {t['case']} ({t.get('against', '')} {t['value']})")
    if "path" in record:
        print(f"JSON: {record['path']}  ({record['meta']['seconds']} s)")
    return 0
