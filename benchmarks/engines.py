"""One adapter per engine, so that every workload drives them all the same way.

An adapter creates and writes a whole array, opens an array, reads it whole or
a window of it. Locations are local folders or S3 prefixes (:class:`Loc`).
Peers that are not installed are simply absent from :func:`available`.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import US

#: v3 codec specs by the suite's short names, as zarr.json spells them
CODECS: dict[str, list[dict[str, Any]]] = {
    "zstd1": [{"name": "zstd", "configuration": {"level": 1, "checksum": False}}],
    "lz4shuffle": [{"name": "blosc", "configuration": {
        "cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}],
    "none": [],
}
BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
INDEX_CODECS = [BYTES, {"name": "crc32c", "configuration": {}}]


@dataclass(frozen=True)
class Loc:
    """Where an array lives: a local folder, or ``prefix`` in an S3 bucket behind ``endpoint``."""

    path: str  # local folder, or key prefix in the bucket
    bucket: str | None = None
    endpoint: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.path}" if self.is_s3 else self.path

    def s3fs_options(self) -> dict[str, Any]:
        return {
            "key": "testing", "secret": "testing", "use_listings_cache": False,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def child(self, name: str) -> "Loc":
        return Loc(f"{self.path}/{name}", self.bucket, self.endpoint)


class Adapter:
    """The operations a workload needs from an engine."""

    name = ""

    def write(self, loc: Loc, data: np.ndarray, chunks: tuple[int, ...], shards: tuple[int, ...] | None,
              codec: str) -> None:
        """Create the array at ``loc`` (replacing any) and write ``data`` whole."""
        raise NotImplementedError

    def open(self, loc: Loc) -> Any:
        raise NotImplementedError

    def read(self, handle: Any, sel: Any = Ellipsis) -> np.ndarray:
        raise NotImplementedError


class ZarrEngine(Adapter):
    name = US

    def __init__(self) -> None:
        import zarr_engine

        self.ze = zarr_engine

    def _opts(self, loc: Loc) -> dict[str, Any] | None:
        return loc.s3fs_options() if loc.is_s3 else None

    def write(self, loc: Loc, data: np.ndarray, chunks: tuple[int, ...], shards: tuple[int, ...] | None,
              codec: str) -> None:
        a = self.ze.create_array(
            loc.url, shape=data.shape, dtype=data.dtype, chunks=chunks, shards=shards, fill_value=0,
            compressors=CODECS[codec] or None, overwrite=True, storage_options=self._opts(loc),
        )
        a[...] = data

    def open(self, loc: Loc) -> Any:
        return self.ze.open_array(loc.url, mode="r", storage_options=self._opts(loc))

    def read(self, handle: Any, sel: Any = Ellipsis) -> np.ndarray:
        return handle[sel]


class ZarrPython(Adapter):
    """zarr-python with its default codec pipeline (or, subclassed, zarrs')."""

    name = "zarr-python"
    pipeline: str | None = None

    def __init__(self) -> None:
        import zarr

        self.zarr = zarr

    @contextlib.contextmanager
    def _config(self) -> Iterator[None]:
        if self.pipeline is None:
            yield
            return
        with self.zarr.config.set({"codec_pipeline.path": self.pipeline}):
            yield

    def store(self, loc: Loc, read_only: bool) -> Any:
        from zarr.storage import FsspecStore, LocalStore

        if loc.is_s3:
            return FsspecStore.from_url(loc.url, storage_options=loc.s3fs_options(), read_only=read_only)
        return LocalStore(loc.path, read_only=read_only)

    def _compressors(self, codec: str) -> Any:
        from zarr.codecs import BloscCodec, ZstdCodec

        if codec == "zstd1":
            return [ZstdCodec(level=1)]
        if codec == "lz4shuffle":
            return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=4)]
        return None

    def write(self, loc: Loc, data: np.ndarray, chunks: tuple[int, ...], shards: tuple[int, ...] | None,
              codec: str) -> None:
        with self._config():
            a = self.zarr.create_array(
                store=self.store(loc, False), shape=data.shape, dtype=data.dtype, chunks=chunks, shards=shards,
                compressors=self._compressors(codec), fill_value=0, overwrite=True,
            )
            a[...] = data

    def open(self, loc: Loc) -> Any:
        with self._config():
            return self.zarr.open_array(self.store(loc, True), mode="r")

    def read(self, handle: Any, sel: Any = Ellipsis) -> np.ndarray:
        with self._config():
            return handle[sel]


class Zarrs(ZarrPython):
    """zarr-python driven by zarrs' Rust codec pipeline."""

    name = "zarrs"
    pipeline = "zarrs.ZarrsCodecPipeline"


class TensorStore(Adapter):
    name = "tensorstore"

    def __init__(self) -> None:
        import tensorstore

        self.ts = tensorstore

    @staticmethod
    def kvstore(loc: Loc) -> dict[str, Any]:
        if loc.is_s3:
            return {"driver": "s3", "bucket": loc.bucket, "path": loc.path + "/", "endpoint": loc.endpoint,
                    "aws_region": "us-east-1"}
        return {"driver": "file", "path": loc.path + "/"}

    def write(self, loc: Loc, data: np.ndarray, chunks: tuple[int, ...], shards: tuple[int, ...] | None,
              codec: str) -> None:
        codecs = [BYTES, *CODECS[codec]]
        if shards is not None:
            codecs = [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": list(chunks), "codecs": codecs, "index_codecs": INDEX_CODECS,
                "index_location": "end"}}]
        spec = {
            "driver": "zarr3", "kvstore": self.kvstore(loc),
            "metadata": {
                "shape": list(data.shape), "data_type": np.dtype(data.dtype).name,
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shards or chunks)}},
                "codecs": codecs, "fill_value": 0,
            },
            "create": True, "delete_existing": True,
        }
        arr = self.ts.open(spec).result()
        arr.write(data).result()

    def open(self, loc: Loc) -> Any:
        return self.ts.open({"driver": "zarr3", "kvstore": self.kvstore(loc)}, read=True).result()

    def read(self, handle: Any, sel: Any = Ellipsis) -> np.ndarray:
        return handle[sel].read().result() if sel is not Ellipsis else handle.read().result()


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available(names: list[str] | None = None) -> list[Adapter]:
    """zarr_engine first, then every installed peer (restricted to ``names`` if given)."""
    found: list[Adapter] = [ZarrEngine()]
    if _installed("zarr"):
        found.append(ZarrPython())
        if _installed("zarrs"):
            found.append(Zarrs())
    if _installed("tensorstore"):
        found.append(TensorStore())
    if names is not None:
        found = [a for a in found if a.name == US or a.name in names]
    return found


def peer_versions() -> dict[str, str]:
    """Versions of the engines and their main libraries, for the JSON record."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for dist in ("zarr_engine", "zarr", "zarrs", "tensorstore", "numcodecs", "numpy", "dask", "s3fs", "moto"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out
