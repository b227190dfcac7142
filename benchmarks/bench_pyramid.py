"""OME-Zarr pyramid build: zarr_engine.multiscale beside ngff-zarr on the same volume.

A uint16 (z, y, x) volume (default (512, 2048, 2048), 4 GiB; ``--quick``:
(128, 1024, 1024), 256 MiB), a smooth field plus noise, is first stored once
as a Zarr v3 array (chunks 128^3) with zarr_engine. Then each engine, in its
own fresh process on dask's threaded scheduler, builds the full mean pyramid
(2x per axis, down to one 128^3 chunk) from that stored array into a new
OME-Zarr v3 / NGFF 0.5 image:

* ours: ``build_pyramid(open_array(src), dst, chunks=128)``; each level read
  back from the stored level before it;
* ngff-zarr: ``to_multiscales(to_ngff_image(dask.array.from_zarr(src)),
  scale_factors=[2, 4, ...], method=Methods.DASK_BIN_SHRINK, chunks=128)``
  then ``to_ngff_zarr`` - the same windowed mean with half-up rounding.

Both results are compared level by level (they should be equal). Peak memory
is the largest resident set of the engine's process (and any children),
sampled every 20 ms. Not a test: prints a table and, with ``--json``, writes
the numbers.

    python -m benchmarks.bench_pyramid [--quick] [--dir D] [--json FILE] [--only ours|ngff]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 128


def _fill_block(block_id: tuple[int, ...], shape: tuple[int, ...], chunks: tuple[int, ...]) -> np.ndarray:
    """One block of the synthetic volume: a smooth gradient pattern plus seeded noise."""
    starts = [b * c for b, c in zip(block_id, chunks)]
    size = [min(c, n - s) for c, n, s in zip(chunks, shape, starts)]
    z, y, x = np.meshgrid(*(np.arange(s, s + n, dtype=np.float32) for s, n in zip(starts, size)), indexing="ij")
    smooth = 20000 + 8000 * np.sin(z / 37.0) * np.cos(y / 53.0) + 6000 * np.sin(x / 29.0 + y / 71.0)
    rng = np.random.default_rng(abs(hash(block_id)) % 2**32)
    noise = rng.normal(0, 300, size).astype(np.float32)
    return np.clip(smooth + noise, 0, 65535).astype(np.uint16)


def make_source(path: Path, shape: tuple[int, ...], chunk: int = CHUNK) -> None:
    """Store the volume at ``path`` (Zarr v3, chunks ``chunk``^3), one dask task per chunk."""
    import dask.array as da

    from zarr_engine.dask import to_zarr

    chunks = (chunk,) * 3
    x = da.map_blocks(lambda block_id=None: _fill_block(block_id, shape, chunks), chunks=da.core.normalize_chunks(
        chunks, shape), dtype=np.uint16, meta=np.empty((0, 0, 0), np.uint16))
    to_zarr(x, str(path), chunks=chunks, overwrite=True)


# -- one engine, run in a child process ----------------------------------------


def run_ours(src: str, dst: str) -> dict[str, Any]:
    import dask

    import zarr_engine as ze
    from zarr_engine.multiscale import build_pyramid

    with dask.config.set(scheduler="threads"):
        t0 = time.perf_counter()
        pyr = build_pyramid(ze.open_array(src, mode="r"), dst, chunks=CHUNK)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "levels": [list(lev.shape) for lev in pyr]}


def run_ngff(src: str, dst: str) -> dict[str, Any]:
    import dask
    import dask.array as da
    import ngff_zarr
    from ngff_zarr import Methods

    with dask.config.set(scheduler="threads"):
        t0 = time.perf_counter()
        data = da.from_zarr(src)
        n_levels = 1
        shape = list(data.shape)
        while any(s > CHUNK for s in shape):
            shape = [s // 2 for s in shape]
            n_levels += 1
        image = ngff_zarr.to_ngff_image(data, dims=["z", "y", "x"])
        ms = ngff_zarr.to_multiscales(image, scale_factors=[2**i for i in range(1, n_levels)],
                                      method=Methods.DASK_BIN_SHRINK, chunks=CHUNK)
        ngff_zarr.to_ngff_zarr(dst, ms, version="0.5")
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "levels": [list(img.data.shape) for img in ms.images]}


def _child(engine: str, src: str, dst: str) -> None:
    import psutil

    # what the interpreter and the libraries hold before any data moves
    import dask.array  # noqa: F401
    import ngff_zarr  # noqa: F401

    import zarr_engine.multiscale  # noqa: F401

    base = psutil.Process().memory_info().rss
    result = {"ours": run_ours, "ngff": run_ngff}[engine](src, dst)
    result["base_rss"] = base
    print("RESULT " + json.dumps(result))


# -- the parent: start, sample memory, compare ----------------------------------


def _measure(engine: str, src: Path, dst: Path) -> dict[str, Any]:
    """Run ``engine`` in a fresh process, sampling its (and its children's) resident memory."""
    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_pyramid", "--child", engine, str(src),
                             str(dst)], stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            p = psutil.Process(proc.pid)
            while not stop.is_set():
                try:
                    rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                except psutil.Error:
                    break
                peak = max(peak, rss)
                time.sleep(0.02)
        except psutil.Error:
            pass

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode:
        raise RuntimeError(f"{engine} failed with exit code {proc.returncode}")
    line = next(ln for ln in out.decode().splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["peak_rss"] = peak
    return result


def _compare(ours: Path, theirs: Path, n_levels: int) -> list[bool]:
    """Per level: are both engines' levels equal? (ngff-zarr names its levels scale0, scale1, ...)"""
    import zarr_engine as ze
    from zarr_engine.multiscale import open_pyramid

    a = open_pyramid(str(ours))
    b = open_pyramid(str(theirs))
    same = []
    for i in range(min(n_levels, len(a), len(b))):
        x, y = a[i].array, b[i].array
        if x.shape != y.shape:
            same.append(False)
            continue
        # compare slab by slab so the check itself stays small
        step = max(1, (64 * 2**20) // max(1, x.nbytes // max(1, x.shape[0])))
        same.append(all(np.array_equal(x[s:s + step], y[s:s + step]) for s in range(0, x.shape[0], step)))
    del ze
    return same


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 256 MiB volume instead of 4 GiB")
    parser.add_argument("--shape", help="volume shape z,y,x (overrides --quick)")
    parser.add_argument("--dir", help="working folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--json", metavar="FILE", help="write the numbers as JSON")
    parser.add_argument("--source-chunk", type=int, default=CHUNK,
                        help="chunk length of the stored source; other than 128, our level 0 cannot be a copy "
                             "of the stored chunks and is decoded and re-encoded like ngff-zarr's")
    parser.add_argument("--only", choices=("ours", "ngff"), help="run one engine")
    parser.add_argument("--repeat", type=int, default=None, help="runs per engine, best kept (default 3; 1 for 4 GiB)")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else (
        (128, 1024, 1024) if args.quick else (512, 2048, 2048))
    if args.repeat is None:
        args.repeat = 3 if np.prod(shape) * 2 <= 2**30 else 1
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-pyramid-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        src = work / "source.zarr"
        t0 = time.perf_counter()
        make_source(src, shape, args.source_chunk)
        nbytes = int(np.prod(shape)) * 2
        print(f"volume {shape} uint16, {nbytes / 2**20:.0f} MiB, source chunks {args.source_chunk}^3, pyramid "
              f"chunks {CHUNK}^3; stored in "
              f"{time.perf_counter() - t0:.1f} s")
        results: dict[str, Any] = {}
        engines = [e for e in ("ours", "ngff") if not args.only or e == args.only]
        # alternate the engines and keep each one's best run: the machine may be shared
        for _ in range(args.repeat):
            for engine in engines:
                dst = work / f"{engine}.ome.zarr"
                shutil.rmtree(dst, ignore_errors=True)
                r = _measure(engine, src, dst)
                best = results.get(engine)
                if best is None or r["seconds"] < best["seconds"]:
                    results[engine] = r
        for engine, r in results.items():
            print(f"{engine:>5}: {r['seconds']:7.2f} s  {nbytes / 2**20 / r['seconds']:7.1f} MiB/s  "
                  f"peak RSS {r['peak_rss'] / 2**20:6.0f} MiB ({(r['peak_rss'] - r['base_rss']) / 2**20:5.0f} MiB "
                  f"above the idle process)  levels {len(r['levels'])}")
        summary: dict[str, Any] = {"shape": shape, "bytes": nbytes, "chunk": CHUNK,
                                   "source_chunk": args.source_chunk, "results": results}
        if len(results) == 2:
            speedup = results["ngff"]["seconds"] / results["ours"]["seconds"]
            equal = _compare(work / "ours.ome.zarr", work / "ngff.ome.zarr", len(results["ours"]["levels"]))
            summary.update(speedup=speedup, levels_equal=equal)
            chunk_bytes = CHUNK**3 * 2
            print(f"speedup {speedup:.2f}x (target >= 1.5x); levels equal to ngff-zarr's: {equal}; "
                  f"our peak above idle = {(results['ours']['peak_rss'] - results['ours']['base_rss']) / chunk_bytes:.0f} "
                  f"chunks of {chunk_bytes / 2**20:.0f} MiB")
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2))
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
