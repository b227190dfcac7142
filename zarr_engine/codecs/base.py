"""The codec protocol.

A v3 codec chain is ``array->array``* , one ``array->bytes``, ``bytes->bytes``*.
Each codec is told the :class:`ChunkSpec` of its input (shape, dtype, fill
value) when it is resolved, so shape and dtype changes (``transpose``,
``numcodecs.fixedscaleoffset`` with ``astype``...) flow through the chain.

A codec that cannot decode (corrupt data, bad checksum, wrong size) raises
:class:`~zarr_engine.errors.ChunkCorruptError`; the chain adds the key.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal, NamedTuple, Sequence

import numpy as np

from ..errors import ChunkCorruptError, CodecError, MetadataError

CodecKind = Literal["array_array", "array_bytes", "bytes_bytes"]


@dataclass(frozen=True)
class ChunkSpec:
    """What a codec receives: the shape and dtype of one chunk and its fill value."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any = None

    @property
    def nbytes(self) -> int:
        # math.prod on Python ints: np.prod(dtype=int64) silently wraps for
        # hostile chunk shapes, and a wrapped size defeats every size check.
        return math.prod(self.shape) * self.dtype.itemsize


class Codec(ABC):
    """One codec instance, configured. Instances are immutable and picklable."""

    #: v3 name as written in zarr.json ("bytes", "zstd", "numcodecs.delta", ...)
    name: ClassVar[str]
    kind: ClassVar[CodecKind]

    @classmethod
    @abstractmethod
    def from_config(cls, configuration: dict[str, Any]) -> "Codec":
        """Build from the ``configuration`` object of zarr.json (validate it)."""

    @abstractmethod
    def to_config(self) -> dict[str, Any]:
        """The ``configuration`` object for zarr.json."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": self.to_config()}

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        """The spec of this codec's output given its input (array->array codecs only)."""
        return spec

    def evolve(self, spec: ChunkSpec) -> "Codec":
        """A copy with the configuration fields left open (blosc ``typesize``,
        ``numcodecs.delta`` ``dtype``...) filled in from ``spec``, the input
        spec of this codec; ``self`` when nothing is open."""
        return self

    def validate(self, spec: ChunkSpec) -> None:
        """Raise :class:`~zarr_engine.errors.CodecError` if this codec cannot take ``spec``."""

    @abstractmethod
    def encode(self, data: Any, spec: ChunkSpec) -> Any:
        """array->array: ndarray -> ndarray; array->bytes: ndarray -> bytes-like;
        bytes->bytes: bytes-like -> bytes-like."""

    @abstractmethod
    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> Any:
        """Inverse of :meth:`encode`. ``spec`` is the *input* spec of this codec
        (i.e. the spec of what decode must return). array->bytes codecs may
        decode straight into ``out`` (C-contiguous, of ``spec``'s shape and dtype)
        and return it."""

    #: fixed encoded size in bytes for a given input size, if the codec has one
    #: (needed for shard index chains): None when variable
    def encoded_size(self, input_size: int) -> int | None:
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codec) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self.to_json()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_config()!r})"


class ArrayArrayCodec(Codec):
    kind = "array_array"


class ArrayBytesCodec(Codec):
    kind = "array_bytes"


class BytesBytesCodec(Codec):
    kind = "bytes_bytes"

    def max_decoded_size(self, nbytes: int, data: Any = None) -> int | None:
        """The most bytes ``nbytes`` of this codec's output can decode to, or None
        when the codec gives no such bound. ``data``, when given, is the encoded
        bytes themselves (a header may tell the exact size). Lets a reader refuse a
        stored chunk too small to be whole before allocating the chunk's memory."""
        return None

    def decode_into(self, data: Any, out: np.ndarray, spec: ChunkSpec) -> None:
        """Decode ``data`` into ``out``, a writable 1-d uint8 array of exactly
        the expected decoded size; raise :class:`ChunkCorruptError` if the
        decoded size differs. Subclasses override this to decompress straight
        into ``out`` (and to refuse oversized output before producing it)."""
        decoded = np.frombuffer(self.decode(data, spec), dtype=np.uint8)
        if decoded.size != out.size:
            raise ChunkCorruptError(
                f"{self.name}: decoded {decoded.size} bytes, expected {out.size}"
            )
        out[...] = decoded


class QuickCoders(NamedTuple):
    """Coders for a loop over many small chunks on one thread (a chain offers them
    through ``CodecChain.quick_coders``). They may hold a compression context: make
    one set per thread.

    ``encode(chunk)`` gives the bytes the chain's encode gives. ``decode(data, out)``
    fills ``out`` (the chunk's bytes) and returns True, or returns False, leaving
    ``out`` undefined, for anything it does not take; the caller then uses the
    chain's checked decode, which names what is wrong.

    ``encode_many(src, offsets, threads)``, where offered, encodes the chunks
    whose bytes start at ``offsets`` in the 1-d uint8 array ``src`` in one call on
    ``threads`` threads of the compressor's own, and gives one bytes-like value
    per chunk, each what ``encode`` gives for it.

    ``decode_many(src, offsets, sizes, out)``, where offered, decodes the stored
    chunks ``src[offsets[i] : offsets[i] + sizes[i]]`` into the rows of ``out``
    (a 1-d uint8 view of ``len(offsets)`` chunks' bytes) in one call that
    releases the GIL, and returns a boolean array: True where row ``i`` now
    holds exactly what ``decode`` would give, False where the caller must
    decode that chunk itself (the row is undefined then).
    """

    encode: Callable[[Any], bytes]
    decode: Callable[[Any, memoryview], bool]
    encode_many: Callable[[np.ndarray, np.ndarray, int], Sequence[Any]] | None = None
    decode_many: Callable[[np.ndarray, np.ndarray, np.ndarray, memoryview], np.ndarray] | None = None


class CodecConfigError(CodecError, MetadataError):
    """A codec's configuration is invalid (catchable as either CodecError or MetadataError)."""
