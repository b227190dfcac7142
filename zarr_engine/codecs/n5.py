"""The ``n5`` array->bytes codec: one N5 block.

A block is a big-endian header followed by the payload, compressed as a whole
by the array's N5 ``compression``:

* mode 0 (default): ``uint16 mode, uint16 ndim, uint32 size[ndim]`` with the
  sizes in N5 order (fastest dimension first);
* mode 1 (varlength): the same, then ``uint32 number of elements``;
* mode 2 (object): ``uint16 mode`` only; the payload is opaque bytes, read here
  as the whole chunk's raw elements.

The payload holds the elements big-endian in N5 order, which is numpy's C
order of the chunk as the model exposes it (shapes reversed), so no transpose
is needed. Blocks at the array's upper edge are stored at their actual,
smaller size: :meth:`N5Codec.decode` pads them to the full chunk with the fill
value, and the chain hands :meth:`N5Codec.encode` the cropped chunk (this codec
sets :attr:`N5Codec.crops_edges`; see :meth:`CodecChain.encode`'s
``valid_shape``). A block the size of the full chunk at the edge, as
tensorstore writes, is read as well.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..errors import ChunkCorruptError, UnsupportedError
from ..format.n5 import compression_parameters, validate_compression
from .base import ArrayBytesCodec, ChunkSpec, CodecConfigError
from .n5_compression import backend

_MODE_DEFAULT = 0
_MODE_VARLENGTH = 1
_MODE_OBJECT = 2


class UnsupportedBlockError(ChunkCorruptError, UnsupportedError):
    """A stored N5 block uses a feature we do not read (an unknown block mode, a ragged varlength block).

    Both a ChunkCorruptError (the chunk cannot be decoded) and an
    UnsupportedError (the data is not broken, only beyond us)."""


class N5Codec(ArrayBytesCodec):
    """N5's block format: header, big-endian data, compression inside the block."""

    name = "n5"
    #: the chain crops chunks at the array's edge before encoding (N5 stores them smaller)
    crops_edges = True

    def __init__(self, compression: dict[str, Any]) -> None:
        self.compression = validate_compression(compression, "", "n5 codec")
        self._compress, self._decompress = backend(compression_parameters(self.compression))

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "N5Codec":
        extra = set(configuration) - {"compression"}
        if extra:
            raise CodecConfigError(f"codec 'n5': unexpected configuration field(s) {sorted(extra)}")
        return cls(configuration.get("compression", {"type": "raw"}))

    def to_config(self) -> dict[str, Any]:
        return {"compression": dict(self.compression)}

    def __reduce__(self) -> tuple[Any, ...]:
        # the compression functions are closures: rebuild them from the configuration
        return (N5Codec, (self.compression,))

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype.kind not in "iuf" or spec.dtype.itemsize > 8:
            raise CodecConfigError(f"codec 'n5' stores integers and floats, not {spec.dtype}")
        if not spec.shape:
            raise CodecConfigError("codec 'n5' needs at least one dimension")

    # -- encode --------------------------------------------------------------
    def encode(self, data: np.ndarray, spec: ChunkSpec) -> bytes:
        """A mode-0 block of ``data`` at ``data``'s own shape (the chain crops edge chunks)."""
        big = np.ascontiguousarray(data, dtype=spec.dtype.newbyteorder(">"))
        header = struct.pack(f">HH{big.ndim}I", _MODE_DEFAULT, big.ndim, *reversed(big.shape))
        return header + self._compress(big.tobytes(), big.dtype.itemsize)

    # -- decode --------------------------------------------------------------
    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        raw = bytes(data) if not isinstance(data, bytes) else data
        if len(raw) < 2:
            raise ChunkCorruptError(f"n5: block of {len(raw)} bytes has no header")
        (mode,) = struct.unpack_from(">H", raw, 0)
        if mode == _MODE_OBJECT:
            shape, count, offset = tuple(spec.shape), None, 2
        elif mode in (_MODE_DEFAULT, _MODE_VARLENGTH):
            shape, count, offset = self._read_header(raw, mode, spec)
        else:
            raise UnsupportedBlockError(f"n5: block mode {mode} is not supported (known: 0 default, 1 varlength, 2 object)")
        payload = self._decompress(raw[offset:])
        itemsize = spec.dtype.itemsize
        n = int(np.prod(shape, dtype=np.int64))
        if count is not None and count != n:
            raise UnsupportedBlockError(
                f"n5: varlength block holds {count} elements, but its block size {list(shape)} needs {n}"
            )
        if len(payload) != n * itemsize:
            raise ChunkCorruptError(
                f"n5: block payload holds {len(payload)} bytes, expected {n * itemsize} for a block of {list(shape)}"
            )
        block = np.frombuffer(payload, dtype=spec.dtype.newbyteorder(">")).reshape(shape)
        target = out if out is not None else np.empty(spec.shape, dtype=spec.dtype)
        if shape == tuple(spec.shape):
            target[...] = block
            return target
        # an edge block: the rest of the chunk lies outside the array
        target.fill(0 if spec.fill_value is None else spec.fill_value)
        target[tuple(slice(0, s) for s in shape)] = block
        return target

    def _read_header(self, raw: bytes, mode: int, spec: ChunkSpec) -> tuple[tuple[int, ...], int | None, int]:
        if len(raw) < 4:
            raise ChunkCorruptError("n5: block header truncated")
        (ndim,) = struct.unpack_from(">H", raw, 2)
        if ndim != len(spec.shape):
            raise ChunkCorruptError(f"n5: block has {ndim} dimensions, the array has {len(spec.shape)}")
        end = 4 + 4 * ndim + (4 if mode == _MODE_VARLENGTH else 0)
        if len(raw) < end:
            raise ChunkCorruptError("n5: block header truncated")
        sizes = struct.unpack_from(f">{ndim}I", raw, 4)
        shape = tuple(reversed(sizes))
        if any(s > c for s, c in zip(shape, spec.shape)):
            raise ChunkCorruptError(f"n5: block of size {list(shape)} is larger than the chunk {list(spec.shape)}")
        count = struct.unpack_from(">I", raw, 4 + 4 * ndim)[0] if mode == _MODE_VARLENGTH else None
        return shape, count, end
