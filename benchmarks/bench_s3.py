"""Benchmark of the object-store issue: many chunks through S3 (moto), beside zarr-python.

A float32 array (8192, 8192), 256 MiB, zstd level 1, smooth field plus noise:

* chunked: chunks (128, 128) of 64 KiB each, 4,096 objects;
* sharded: shards (1024, 1024) holding inner chunks (128, 128), 64 objects and
  4,096 inner chunks.

Each layout is written and read whole by zarr_engine and by zarr-python's
``FsspecStore`` (s3fs) on the same moto server (a child process on 127.0.0.1,
see ``w_s3.py``), taking turns, best of ``--repeats``. Every read is checked
against the data. Prints MB/s and the ratio ours / zarr-python (the issue's
target is 2x). ``--quick`` uses (4096, 4096): 1,024 chunks. Not a test::

    python -m benchmarks.bench_s3 [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from .common import best_of, smooth_field
from .w_s3 import BUCKET, MotoProcess, s3_environment

ZSTD = [{"name": "zstd", "configuration": {"level": 1, "checksum": False}}]


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="(4096, 4096): 1,024 chunks instead of 4,096")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    s3_environment()
    import zarr
    from zarr.codecs import ZstdCodec
    from zarr.storage import FsspecStore as ZarrFsspecStore

    import zarr_engine as ze

    side = 4096 if args.quick else 8192
    data = smooth_field((side, side), "float32")
    mb = data.nbytes / 1e6
    results: dict[str, float] = {}
    with MotoProcess() as moto:
        opts = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": moto.endpoint}}
        layouts = {"chunked": None, "sharded": (1024, 1024)}
        for layout, shards in layouts.items():
            nobj = (side // 128) ** 2
            label = f"{layout} ({nobj} {'inner chunks' if shards else 'chunks'} of 64 KiB)"
            counter = iter(range(10**6))

            def ours_write() -> None:
                a = ze.create_array(f"s3://{BUCKET}/ours-{layout}-{next(counter)}.zarr", shape=data.shape,
                                    chunks=(128, 128), shards=shards, dtype="float32", compressors=ZSTD,
                                    fill_value=0, storage_options=opts)
                a[...] = data

            def zarr_write() -> None:
                st = ZarrFsspecStore.from_url(f"s3://{BUCKET}/zarr-{layout}-{next(counter)}.zarr",
                                              storage_options=opts)
                z = zarr.create_array(st, shape=data.shape, chunks=(128, 128), shards=shards, dtype="float32",
                                      compressors=[ZstdCodec(level=1)], fill_value=0)
                z[...] = data

            # one untimed write each: sessions and connections warm for both
            ours_write()
            zarr_write()
            w_ours, w_zarr = [], []
            for _ in range(args.repeats):
                w_ours.append(best_of(ours_write, 1))
                w_zarr.append(best_of(zarr_write, 1))
            ours = ze.open_array(f"s3://{BUCKET}/ours-{layout}-0.zarr", mode="r", storage_options=opts)
            theirs = zarr.open_array(ZarrFsspecStore.from_url(f"s3://{BUCKET}/ours-{layout}-0.zarr",
                                                              storage_options=opts, read_only=True), mode="r")
            assert np.array_equal(ours[...], data) and np.array_equal(theirs[...], data)
            r_ours, r_zarr = [], []
            for _ in range(args.repeats):
                r_ours.append(best_of(lambda: ours[...], 1))
                r_zarr.append(best_of(lambda: theirs[...], 1))
            for step, o, z in (("write", min(w_ours), min(w_zarr)), ("read", min(r_ours), min(r_zarr))):
                results[f"{layout}_{step}_ours_mbps"] = mb / o
                results[f"{layout}_{step}_zarr_mbps"] = mb / z
                results[f"{layout}_{step}_ratio"] = z / o
                print(f"{label:42} {step:5}  zarr_engine {mb / o:7.1f} MB/s   zarr-python {mb / z:7.1f} MB/s"
                      f"   ratio {z / o:5.2f}x (target 2x)")
    return results


if __name__ == "__main__":
    main()
