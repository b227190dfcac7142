"""``vlen-utf8`` and ``vlen-bytes``: array->bytes codecs for variable-length items.

The byte layout (shared with numcodecs and zarr-python): a 4-byte
little-endian item count, then for each item in C order a 4-byte
little-endian length followed by that many bytes. The per-item work is done
by numcodecs' compiled VLen codecs; we check the header against the chunk
shape first, so a chunk of the wrong size is refused before any allocation.
"""

from __future__ import annotations

from typing import Any

import numcodecs
import numpy as np

from ..errors import ChunkCorruptError, CodecError
from ._util import FrozenConfig, byte_view, check_keys
from .base import ArrayBytesCodec, ChunkSpec


class _VLenCodec(FrozenConfig, ArrayBytesCodec):
    _factory: Any

    def __init__(self) -> None:
        self._set(_nc=self._factory())

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "_VLenCodec":
        check_keys(cls.name, configuration, set())
        return cls()

    def to_config(self) -> dict[str, Any]:
        return {}

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype.kind not in "OTUS":
            raise CodecError(f"codec {self.name!r} needs an object or string dtype, got {spec.dtype}")

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> Any:
        flat = data.reshape(-1)
        if flat.dtype != object:
            flat = flat.astype(object)
        return self._nc.encode(flat)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        buf = byte_view(data)
        expected = int(np.prod(spec.shape, dtype=np.int64))
        if buf.size < 4:
            raise ChunkCorruptError(f"{self.name}: {buf.size} bytes is too short for the item count")
        count = int.from_bytes(bytes(buf[:4]), "little")
        if count != expected:
            raise ChunkCorruptError(f"{self.name}: chunk holds {count} items, expected {expected}")
        # numcodecs checks each length against the buffer and raises on truncation
        items = self._nc.decode(buf).reshape(spec.shape)
        if out is not None:
            out[...] = items
            return out
        if spec.dtype != object:
            return items.astype(spec.dtype)
        return items


class VLenUTF8Codec(_VLenCodec):
    """``vlen-utf8``: variable-length UTF-8 strings (object or StringDType arrays)."""

    name = "vlen-utf8"
    _factory = numcodecs.VLenUTF8


class VLenBytesCodec(_VLenCodec):
    """``vlen-bytes``: variable-length byte strings (object arrays of bytes)."""

    name = "vlen-bytes"
    _factory = numcodecs.VLenBytes
