"""W5: a group of many small arrays, opened and listed, with and without consolidated metadata.

The hierarchy is written once by zarr_engine (untimed) and opened by every
engine that has a notion of groups (tensorstore has none, and zarrs only
replaces zarr-python's codec pipeline, so neither takes part). One operation
is: open the group, list its members, and have every member's metadata
parsed (the arrays' shapes are read), as a user browsing a dataset would.
"""

from __future__ import annotations

import time
from typing import Any

from .common import US, Context, Row, attempt


def _build(ctx: Context, consolidated: bool) -> str:
    import zarr_engine as ze

    path = ctx.path("W5", "consolidated" if consolidated else "plain")
    g = ze.create_group(path, overwrite=True, attributes={"title": "W5"})
    for i in range(ctx.sizes.w5_arrays):
        g.create_array(f"a{i:04d}", shape=(16, 16), chunks=(16, 16), dtype="float32", fill_value=0,
                       attributes={"index": i, "units": "m"})
    if consolidated:
        ze.consolidate_metadata(path)
    return path


def _ours(path: str, consolidated: bool) -> int:
    import zarr_engine as ze

    g = ze.open_group(path, mode="r", use_consolidated=consolidated)
    return sum(len(a.shape) for _, a in g.members())


def _zarr_python(path: str, consolidated: bool) -> int:
    import zarr

    g = zarr.open_group(path, mode="r", use_consolidated=consolidated)
    return sum(len(a.shape) for _, a in g.members())


OPENERS: dict[str, Any] = {US: _ours, "zarr-python": _zarr_python}


def w5(ctx: Context) -> list[Row]:
    """W5: open + list a group of ``w5_arrays`` arrays, consolidated and not (operations per second)."""
    n = ctx.sizes.w5_arrays
    rows = []
    for consolidated in (False, True):
        path = _build(ctx, consolidated)
        row = Row("W5", f"open+list {n} arrays {'consolidated' if consolidated else 'plain'}", "ops/s")
        for name, opener in OPENERS.items():
            if name != US and name not in {a.name for a in ctx.adapters}:
                continue
            ctx.log(f"  W5 {row.case}: {name}")

            def run(opener: Any = opener, consolidated: bool = consolidated) -> float:
                if opener(path, consolidated) != 2 * n:  # warm-up and check
                    raise AssertionError("did not list every array")
                reps = max(3, min(50, 20000 // n))
                t0 = time.perf_counter()
                for _ in range(reps):
                    opener(path, consolidated)
                return reps / (time.perf_counter() - t0)

            attempt(row, name, run, ctx.log)
        rows.append(row)
    return rows


WORKLOADS: dict[str, Any] = {"W5": w5}
