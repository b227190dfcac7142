"""The v3 core codecs that see arrays: ``bytes`` (array->bytes) and ``transpose`` (array->array)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import ChunkCorruptError, CodecError
from ._util import FrozenConfig, byte_view, check_keys, has_byte_order
from .base import ArrayArrayCodec, ArrayBytesCodec, ChunkSpec, CodecConfigError

_ENDIANS = ("little", "big")


class BytesCodec(FrozenConfig, ArrayBytesCodec):
    """``bytes``: the chunk's elements in C order, each in the given byte order.

    ``endian`` is None for data types without a byte order (1-byte types,
    byte strings) and, as zarr-python writes it, for structured types, whose
    fields then keep their own byte orders.
    """

    name = "bytes"

    def __init__(self, endian: str | None = "little") -> None:
        if endian is not None and endian not in _ENDIANS:
            raise CodecConfigError(f"codec 'bytes': endian must be 'little' or 'big', got {endian!r}")
        self._set(endian=endian)

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "BytesCodec":
        config = check_keys("bytes", configuration, {"endian"})
        return cls(endian=config.get("endian"))

    def to_config(self) -> dict[str, Any]:
        return {} if self.endian is None else {"endian": self.endian}

    def evolve(self, spec: ChunkSpec) -> "BytesCodec":
        """The byte order this data type needs, as zarr-python settles it: ``little``
        when none was given for a plain type with a byte order (zarr-python's default
        for a configuration without ``endian``), none for a plain type without one.
        Structured types keep what was given: it decides how their fields are stored."""
        if spec.dtype.fields is not None:
            return self
        ordered = has_byte_order(spec.dtype)
        if ordered and self.endian is None:
            return BytesCodec(endian="little")
        if not ordered and self.endian is not None:
            return BytesCodec(endian=None)
        return self

    def stored_dtype(self, dtype: np.dtype) -> np.dtype:
        """The dtype whose memory layout is the serialised form of ``dtype``."""
        if self.endian is None or not has_byte_order(dtype):
            return dtype
        # "<" / ">" applied to the whole dtype also reaches structured fields
        return dtype.newbyteorder("<" if self.endian == "little" else ">")

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype.hasobject:
            raise CodecError(
                f"codec 'bytes' cannot serialise object dtype {spec.dtype}; use vlen-utf8, vlen-bytes "
                "or a numcodecs object codec"
            )
        if spec.dtype.kind == "T":
            raise CodecError("codec 'bytes' cannot serialise variable-length strings; use vlen-utf8")

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        stored = self.stored_dtype(spec.dtype)
        if data.dtype != stored:
            data = data.astype(stored, order="C")
        elif not data.flags.c_contiguous:
            data = np.ascontiguousarray(data)
        # a uint8 view of the array's memory: no copy for contiguous input
        return data.reshape(-1).view(np.uint8)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        buf = byte_view(data)
        expected = spec.nbytes
        if buf.size != expected:
            raise ChunkCorruptError(f"bytes: chunk holds {buf.size} bytes, expected {expected}")
        arr = buf.view(self.stored_dtype(spec.dtype)).reshape(spec.shape)
        if out is not None:
            out[...] = arr  # converts byte order on the way when needed
            return out
        if arr.dtype != spec.dtype:
            return arr.astype(spec.dtype)
        return arr

    def encoded_size(self, input_size: int) -> int:
        return input_size


class TransposeCodec(FrozenConfig, ArrayArrayCodec):
    """``transpose``: permutes the axes of the chunk; ``order[i]`` is the input
    axis that becomes output axis ``i`` (as ``numpy.transpose``)."""

    name = "transpose"

    def __init__(self, order: Any) -> None:
        if isinstance(order, (str, bytes)) or not hasattr(order, "__iter__"):
            raise CodecConfigError(f"codec 'transpose': order must be a list of integers, got {order!r}")
        perm = tuple(order)
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in perm) or sorted(
            int(a) for a in perm
        ) != list(range(len(perm))):
            raise CodecConfigError(f"codec 'transpose': order must be a permutation of 0..n-1, got {order!r}")
        perm = tuple(int(a) for a in perm)
        inverse = tuple(int(i) for i in np.argsort(perm)) if perm else ()
        self._set(order=perm, _inverse=inverse)

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "TransposeCodec":
        config = check_keys("transpose", configuration, {"order"}, {"order"})
        return cls(config["order"])

    def to_config(self) -> dict[str, Any]:
        return {"order": list(self.order)}

    def validate(self, spec: ChunkSpec) -> None:
        if len(self.order) != len(spec.shape):
            raise CodecError(
                f"codec 'transpose': order {list(self.order)} has {len(self.order)} axes, "
                f"the chunk has {len(spec.shape)}"
            )

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        self.validate(spec)
        return dataclasses.replace(spec, shape=tuple(spec.shape[a] for a in self.order))

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return data.transpose(self.order)  # a view; the serialiser makes it contiguous

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        expected = tuple(spec.shape[a] for a in self.order)
        if data.shape != expected:
            raise ChunkCorruptError(f"transpose: got shape {data.shape}, expected {expected}")
        result = data.transpose(self._inverse)
        if out is not None:
            out[...] = result
            return out
        return result

    def encoded_size(self, input_size: int) -> int:
        return input_size
