"""zarr-python as the oracle: write arrays with it, read back its stored chunks,
and plant our chunks into its stores."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import zarr
from zarr.core.buffer import cpu
from zarr.storage import MemoryStore


def zarr_array(data: np.ndarray, chunks: tuple[int, ...], zarr_format: int = 3, **kwargs: Any) -> tuple[Any, dict]:
    """Write ``data`` with zarr-python into a fresh in-memory store; (array, raw store dict)."""
    raw: dict = {}
    dtype = kwargs.pop("dtype", data.dtype)
    arr = zarr.create_array(
        store=MemoryStore(raw), shape=data.shape, chunks=chunks, dtype=dtype, zarr_format=zarr_format,
        config={"write_empty_chunks": True}, **kwargs
    )
    arr[...] = data
    return arr, raw


def raw_bytes(raw: dict, key: str) -> bytes:
    return raw[key].to_bytes()


def put_bytes(raw: dict, key: str, data: Any) -> None:
    raw[key] = cpu.Buffer.from_bytes(bytes(memoryview(data).cast("B")) if not isinstance(data, bytes) else data)


def v3_codec_specs(raw: dict) -> list[dict]:
    """The codecs of a v3 array as stored in zarr.json."""
    return json.loads(raw_bytes(raw, "zarr.json"))["codecs"]


def v2_codec_specs(raw: dict) -> list[dict]:
    """The v3-equivalent chain of a v2 array (what format/ derives from .zarray)."""
    meta = json.loads(raw_bytes(raw, ".zarray"))
    dtype = np.dtype(meta["dtype"]) if isinstance(meta["dtype"], str) else np.dtype([tuple(f) for f in meta["dtype"]])
    specs: list[dict] = []
    if meta["order"] == "F":
        specs.append({"name": "transpose", "configuration": {"order": list(range(len(meta["shape"])))[::-1]}})
    object_codec = None
    for f in meta.get("filters") or []:
        conf = {k: v for k, v in f.items() if k != "id"}
        if f["id"] in ("vlen-utf8", "vlen-bytes", "json2", "msgpack2", "pickle", "vlen-array"):
            object_codec = {"name": f["id"] if f["id"].startswith("vlen-u") or f["id"] == "vlen-bytes" else "numcodecs." + f["id"], "configuration": conf}
        else:
            specs.append({"name": "numcodecs." + f["id"], "configuration": conf})
    if object_codec:
        specs.append(object_codec)
    else:
        endian = {"<": "little", ">": "big"}.get(dtype.byteorder if dtype.byteorder != "=" else "<")
        specs.append({"name": "bytes", "configuration": {"endian": endian} if endian and dtype.itemsize > 1 else {}})
    if meta.get("compressor"):
        c = meta["compressor"]
        specs.append({"name": "numcodecs." + c["id"], "configuration": {k: v for k, v in c.items() if k != "id"}})
    return specs


def chunk_keys(arr: Any) -> list[tuple[tuple[int, ...], str]]:
    """(grid coordinates, store key) of every chunk of a zarr-python array."""
    grid = [-(-s // c) for s, c in zip(arr.shape, arr.chunks)]
    out = []
    for coords in np.ndindex(*grid):
        if arr.metadata.zarr_format == 3:
            key = "c/" + "/".join(map(str, coords)) if coords else "c"
        else:
            key = ".".join(map(str, coords)) if coords else "0"
        out.append((coords, key))
    return out


def chunk_region(arr: Any, coords: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, arr.chunks))
