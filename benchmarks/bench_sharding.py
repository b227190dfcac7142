"""Sharded-array throughput: zarr_engine beside zarr-python, in one run.

A float32 array (default (256, 1024, 1024), 1 GiB; ``--quick``: (128, 512,
512)), shards (128, 512, 512), inner chunks (64, 128, 128), zstd level 1,
data a smooth field plus noise from a fixed seed, on a local folder. Measures:

* whole-array write and read, sharded: ours and zarr-python's;
* whole-array read of the same data stored unsharded (chunks = the inner
  chunks) by us: the target is sharded >= 0.9x of that;
* ``--reads`` random single-inner-chunk reads: ours and zarr-python's
  (target >= 3x).

Reads come from the page cache (the files were just written); each timing is
the best of ``--repeat`` runs. Not a test: prints a table and, with
``--json``, writes the numbers.

    python -m benchmarks.bench_sharding [--quick] [--reads N] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .common import best_of

SHARDS = (128, 512, 512)
INNER = (64, 128, 128)


def make_data(shape: tuple[int, ...], seed: int = 42) -> np.ndarray:
    """A smooth field (coarse noise, upsampled by repetition and smoothed) plus small noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((shape[0] // 16 + 1, shape[1] // 64 + 1, shape[2] // 64 + 1)).astype(np.float32)
    out = np.empty(shape, dtype=np.float32)
    step = 16
    for z in range(0, shape[0], step):
        block = coarse[z // 16]
        field = np.repeat(np.repeat(block, 64, axis=0), 64, axis=1)[: shape[1], : shape[2]]
        # a gentle gradient along every axis keeps neighbouring values close
        ramp = np.linspace(0, 1, shape[2], dtype=np.float32)
        for k in range(min(step, shape[0] - z)):
            out[z + k] = field * (1 + 0.01 * k) + ramp + rng.standard_normal(shape[1:], dtype=np.float32) * 0.05
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="(128, 512, 512): 128 MiB, one shard")
    ap.add_argument("--reads", type=int, default=2000, help="random single-inner-chunk reads")
    ap.add_argument("--repeat", type=int, default=3, help="timings are the best of this many runs")
    ap.add_argument("--dir", default=None, help="folder for the stores (default: a temporary one)")
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args(argv)

    import zarr
    import zarr.codecs as zc

    import zarr_engine as ze

    shape = (128, 512, 512) if args.quick else (256, 1024, 1024)
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench_sharding_"))
    root.mkdir(parents=True, exist_ok=True)
    nbytes = int(np.prod(shape)) * 4
    mib = nbytes / 2**20
    data = make_data(shape)
    print(f"array {shape} float32 = {mib:.0f} MiB, shards {SHARDS}, inner chunks {INNER}, zstd 1, in {root}")
    r: dict[str, float] = {}

    def fresh(name: str) -> str:
        path = root / name
        shutil.rmtree(path, ignore_errors=True)
        return str(path)

    zstd_ours = {"name": "zstd", "configuration": {"level": 1, "checksum": False}}

    def ours_sharded_write() -> None:
        a = ze.create_array(fresh("ours_sharded.zarr"), shape=shape, dtype="float32", chunks=INNER,
                            shards=SHARDS, compressors=[zstd_ours], fill_value=0.0)
        a[...] = data

    def ours_unsharded_write() -> None:
        a = ze.create_array(fresh("ours_unsharded.zarr"), shape=shape, dtype="float32", chunks=INNER,
                            compressors=[zstd_ours], fill_value=0.0)
        a[...] = data

    def zarr_sharded_write() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z = zarr.create_array(fresh("zarr_sharded.zarr"), shape=shape, dtype="float32", chunks=INNER,
                                  shards=SHARDS, compressors=zc.ZstdCodec(level=1), fill_value=0.0)
            z[...] = data

    r["write_ours_sharded_s"] = best_of(ours_sharded_write, args.repeat)
    r["write_zarr_sharded_s"] = best_of(zarr_sharded_write, args.repeat)
    r["write_ours_unsharded_s"] = best_of(ours_unsharded_write, args.repeat)

    ours = ze.open_array(str(root / "ours_sharded.zarr"), mode="r")
    ours_flat = ze.open_array(str(root / "ours_unsharded.zarr"), mode="r")
    theirs = zarr.open_array(str(root / "zarr_sharded.zarr"), mode="r")
    # each implementation reads what the other wrote, so the comparison is on the same bytes
    ours_on_theirs = ze.open_array(str(root / "zarr_sharded.zarr"), mode="r")
    assert np.array_equal(ours[...], data) and np.array_equal(ours_on_theirs[...], data)
    assert np.array_equal(theirs[...], data) and np.array_equal(ours_flat[...], data)

    out = np.empty(shape, dtype=np.float32)
    r["read_ours_sharded_s"] = best_of(lambda: ours.get_basic_selection(Ellipsis, out=out), args.repeat)
    r["read_ours_unsharded_s"] = best_of(lambda: ours_flat.get_basic_selection(Ellipsis, out=out), args.repeat)
    r["read_zarr_sharded_s"] = best_of(lambda: theirs[...], args.repeat)

    rng = np.random.default_rng(7)
    grid = [s // c for s, c in zip(shape, INNER)]
    picks = [tuple(int(rng.integers(0, g)) for g in grid) for _ in range(args.reads)]
    sels = [tuple(slice(p * c, (p + 1) * c) for p, c in zip(pick, INNER)) for pick in picks]

    def random_reads(arr: Any) -> Callable[[], None]:
        def run() -> None:
            for sel in sels:
                arr[sel]
        return run

    r["random_ours_s"] = best_of(random_reads(ours), 1)
    r["random_zarr_s"] = best_of(random_reads(theirs), 1)
    for s in sels[:20]:
        assert np.array_equal(ours[s], data[s])

    gib = nbytes / 2**30
    print(f"\n{'':38}{'seconds':>10}{'GiB/s':>10}")
    for k, v in r.items():
        if k.startswith(("write", "read")):
            print(f"{k:38}{v:10.3f}{gib / v:10.2f}")
    per_ours = r["random_ours_s"] / args.reads * 1e3
    per_zarr = r["random_zarr_s"] / args.reads * 1e3
    print(f"{'random inner-chunk read, ours':38}{per_ours:9.3f} ms each")
    print(f"{'random inner-chunk read, zarr-python':38}{per_zarr:9.3f} ms each")
    r["sharded_vs_unsharded_read"] = r["read_ours_unsharded_s"] / r["read_ours_sharded_s"]
    r["random_speedup_vs_zarr"] = r["random_zarr_s"] / r["random_ours_s"]
    r["read_speedup_vs_zarr"] = r["read_zarr_sharded_s"] / r["read_ours_sharded_s"]
    r["write_speedup_vs_zarr"] = r["write_zarr_sharded_s"] / r["write_ours_sharded_s"]
    print(f"\nsharded read / our unsharded read: {r['sharded_vs_unsharded_read']:.2f}x throughput (target >= 0.9)")
    print(f"random inner-chunk reads vs zarr-python: {r['random_speedup_vs_zarr']:.2f}x (target >= 3)")
    print(f"whole read vs zarr-python: {r['read_speedup_vs_zarr']:.2f}x; whole write: {r['write_speedup_vs_zarr']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"shape": shape, **r}, indent=2))
    if not args.dir:
        shutil.rmtree(root, ignore_errors=True)
    return r


if __name__ == "__main__":
    main()
