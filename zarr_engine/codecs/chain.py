"""A resolved codec chain: encodes one chunk to bytes and decodes it back.

Everything that can be decided once per array is decided in
:meth:`CodecChain.from_specs` (codecs built and evolved, each one's input
spec, the decode strategy), so a per-chunk call does only the work.

Decoding strategies, fastest first:

* direct: no array->array codecs and a ``bytes`` serialiser. The last
  compressor decompresses straight into the output's memory (its size checked
  against the stream's header first), then the bytes are swapped in place if
  the stored byte order differs. Without a compressor, one copy.
* general: everything else; the serialiser's output is copied into ``out``
  once at the end (``transpose`` is a view until then).

A Zarr v2 array's chain (``zarr_format=2``) differs in one point: its
compressor is a numcodecs codec that zarr-python hands the chunk's array
itself, not its bytes, and some codecs use the item size (Blosc shuffles
items of that size). Such a chain gives its compressor the serialised bytes
viewed as the array zarr-python would pass (see :meth:`CodecChain.encode`).
Its filters, likewise, see the chunk as zarr-python hands it to them: in the
byte order the array is stored in (numcodecs' filters *view* their input as
the dtype they were given, they do not convert it), and the last filter's
output is stored as it is, in its own byte order.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Sequence

import numpy as np

from ..errors import ChunkCorruptError, CodecError, MetadataError, ZarrEngineError
from ._util import has_byte_order
from .array_codecs import BytesCodec
from .base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ChunkSpec, Codec, QuickCoders
from .numcodecs_codec import NumcodecsBytesBytesCodec
from .registry import get_codec


class _BytesFilter(ArrayArrayCodec):
    """A numcodecs bytes->bytes codec in a v2 ``filters`` list (e.g. shuffle):
    it runs on the array's memory and its output is read back as the array.
    Never serialised on its own; the chain reports the wrapped codec."""

    def __init__(self, inner: NumcodecsBytesBytesCodec) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "Codec":  # pragma: no cover
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        return self.inner.to_config()

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        raw = np.frombuffer(self.inner.encode(np.ascontiguousarray(data), spec), dtype=np.uint8)
        if raw.size != spec.nbytes:
            raise CodecError(f"{self.name} changes the size of the data and cannot be used as a filter")
        return raw.view(spec.dtype).reshape(spec.shape)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        target = np.empty(spec.nbytes, dtype=np.uint8)
        self.inner.decode_into(np.ascontiguousarray(data).reshape(-1).view(np.uint8), target, spec)
        return target.view(spec.dtype).reshape(spec.shape)


class _StoredOrder(ArrayArrayCodec):
    """The first step of a Zarr v2 chain with filters, when the array is stored in
    the other byte order: the chunk converted to that order, as zarr-python hands
    it to the filters (a ``>i4`` array's delta filter gets big-endian items).
    Never serialised: the order is the ``.zarray`` dtype's."""

    name = "stored byte order"

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "Codec":  # pragma: no cover
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        return dataclasses.replace(spec, dtype=self.dtype)

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return np.asarray(data).astype(self.dtype, copy=False)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(data).astype(spec.dtype, copy=False)


def _endian_of(dtype: np.dtype) -> str | None:
    """The byte order ``dtype``'s items are in, as a ``bytes`` codec names it."""
    if dtype.fields is not None or not has_byte_order(dtype):
        return None
    order = dtype.byteorder
    if order == "=":
        order = "<" if sys.byteorder == "little" else ">"
    return "little" if order == "<" else "big"


def _v2_filtered(codecs: Sequence[Codec]) -> bool:
    """Whether a v2 chain has filters before a ``bytes`` serialiser (a transpose,
    order F, is not a filter: it moves items and leaves their bytes alone)."""
    at = next((i for i, c in enumerate(codecs) if c.kind == "array_bytes"), None)
    if at is None or not isinstance(codecs[at], BytesCodec):
        return False
    return any(c.name != "transpose" for c in codecs[:at])


def _tobytes(chunk: np.ndarray) -> bytes:
    return chunk.tobytes()


#: Largest chunk numpy can allocate (its sizes are signed 64-bit).
_MAX_CHUNK_BYTES = 2**63 - 1


def _swapped(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("S")


class CodecChain:
    """array->array* , one array->bytes, bytes->bytes*: built by :meth:`from_specs`."""

    __slots__ = (
        "_codecs",
        "_chunk_spec",
        "_aa",
        "_ab",
        "_ab_spec",
        "_bb",
        "_direct",
        "_swap",
        "_path",
        "_zarr_format",
        "_compressor_dtype",
    )

    def __init__(
        self, codecs: Sequence[Codec], chunk_spec: ChunkSpec, path: str | None = "", zarr_format: int | str = 3
    ) -> None:
        """Resolve ``codecs`` (already built) for chunks of ``chunk_spec``; see :meth:`from_specs`.

        ``path`` None: the chain of no array in particular (the inner chunks and the
        index of a shard layout, which arrays share): errors then name the key only,
        which holds the array's path, rather than the root array."""
        self._zarr_format = zarr_format
        try:
            self._resolve(codecs, chunk_spec, path)
        except ZarrEngineError as e:
            if path is None:
                raise
            where = f"array {path or '/'!r}"
            if where in str(e):
                raise
            raise type(e)(f"{where}: {e}") from e

    def _resolve(self, codecs: Sequence[Codec], chunk_spec: ChunkSpec, path: str | None) -> None:
        where = "codec chain" if path is None else f"array {path or '/'!r}"
        if chunk_spec.nbytes > _MAX_CHUNK_BYTES:
            # numpy cannot even describe such a chunk; refuse before anything is sized from it
            raise MetadataError(
                f"{where}: a chunk of shape {chunk_spec.shape} and dtype {chunk_spec.dtype} would hold "
                f"{chunk_spec.nbytes} bytes, more than the {_MAX_CHUNK_BYTES} any array can have"
            )
        aa: list[tuple[Codec, ChunkSpec]] = []
        ab: ArrayBytesCodec | None = None
        bb: list[BytesBytesCodec] = []
        final: list[Codec] = []
        spec = chunk_spec
        v2_filtered = self._zarr_format == 2 and _v2_filtered(codecs)
        if v2_filtered:
            serializer = next(c for c in codecs if isinstance(c, BytesCodec))
            stored = serializer.evolve(chunk_spec).stored_dtype(chunk_spec.dtype)
            if stored != chunk_spec.dtype:
                order = _StoredOrder(stored)
                aa.append((order, spec))
                spec = order.resolve(spec)
        for codec in codecs:
            if codec.kind == "array_array" or (ab is None and isinstance(codec, NumcodecsBytesBytesCodec)):
                if ab is not None:
                    raise CodecError(f"{where}: array->array codec {codec.name!r} comes after the array->bytes codec")
                codec = codec.evolve(spec)
                if codec.kind == "bytes_bytes":  # v2 filter position
                    final.append(codec)
                    codec = _BytesFilter(codec)  # type: ignore[arg-type]
                else:
                    final.append(codec)
                codec.validate(spec)
                aa.append((codec, spec))
                spec = codec.resolve(spec)
            elif codec.kind == "array_bytes":
                if ab is not None:
                    raise CodecError(
                        f"{where}: more than one array->bytes codec ({ab.name!r}, {codec.name!r})"
                    )
                codec = codec.evolve(spec)
                codec.validate(spec)
                final.append(codec)
                if v2_filtered:
                    # zarr-python stores the last filter's output as it is, in its own byte order
                    codec = BytesCodec(endian=_endian_of(spec.dtype))
                ab = codec  # type: ignore[assignment]
            elif codec.kind == "bytes_bytes":
                if ab is None:
                    raise CodecError(f"{where}: bytes->bytes codec {codec.name!r} comes before the array->bytes codec")
                codec = codec.evolve(spec)
                codec.validate(spec)
                bb.append(codec)  # type: ignore[arg-type]
                final.append(codec)
            else:
                raise CodecError(f"{where}: codec {codec.name!r} has unknown kind {codec.kind!r}")
        if ab is None:
            raise CodecError(f"{where}: the codec chain has no array->bytes codec (such as 'bytes')")
        self._codecs = tuple(final)
        self._chunk_spec = chunk_spec
        self._aa = tuple(aa)
        self._ab = ab
        self._ab_spec = spec
        self._bb = tuple(bb)
        self._path = path
        self._direct = False
        self._swap = False
        self._compressor_dtype = self._v2_compressor_dtype()
        if not aa and isinstance(ab, BytesCodec):
            stored = ab.stored_dtype(spec.dtype)
            if stored == spec.dtype:
                self._direct = True
            elif stored == _swapped(spec.dtype):
                self._direct, self._swap = True, True

    def _v2_compressor_dtype(self) -> np.dtype | None:
        """The dtype of the array zarr-python hands a v2 array's numcodecs
        compressor (the chunk after its filters, in the stored byte order), when
        it has items wider than a byte; None when the compressor sees bytes: in
        v3, after an object codec, after a bytes->bytes codec among the filters
        (numcodecs returns bytes from those), or without a numcodecs compressor."""
        if self._zarr_format != 2 or not self._bb or not isinstance(self._bb[0], NumcodecsBytesBytesCodec):
            return None
        if not isinstance(self._ab, BytesCodec) or (self._aa and isinstance(self._aa[-1][0], _BytesFilter)):
            return None
        dtype = self._ab.stored_dtype(self._ab_spec.dtype)
        return dtype if dtype.itemsize > 1 else None

    @classmethod
    def from_specs(
        cls, specs: Sequence[dict[str, Any]], chunk_spec: ChunkSpec, path: str = "", zarr_format: int | str = 3
    ) -> "CodecChain":
        """Build the chain of normalised specs ``specs`` for chunks of ``chunk_spec``
        of the array at ``path`` (named in every error). ``zarr_format`` 2: the
        chain of a v2 array, derived from its ``.zarray`` (see the module doc)."""
        return cls([get_codec(s, path) for s in specs], chunk_spec, path, zarr_format)

    # -- properties ----------------------------------------------------------
    @property
    def codecs(self) -> tuple[Codec, ...]:
        """The codecs, evolved for this chunk spec (open fields filled)."""
        return self._codecs

    @property
    def chunk_spec(self) -> ChunkSpec:
        return self._chunk_spec

    @property
    def array_bytes_codec(self) -> ArrayBytesCodec:
        return self._ab

    def to_json(self) -> list[dict[str, Any]]:
        """The normalised specs of :attr:`codecs` (what zarr.json should hold)."""
        return [c.to_json() for c in self._codecs]

    @property
    def crops_edges(self) -> bool:
        """Whether chunks at the array's edge are encoded cropped to the array (N5 blocks):
        then :meth:`encode` wants the chunk's ``valid_shape``."""
        return not self._aa and bool(getattr(self._ab, "crops_edges", False))

    @property
    def is_raw(self) -> bool:
        """Whether a stored chunk is exactly the chunk's bytes in C order (a lone
        ``bytes`` codec in native byte order): a read may land straight in place."""
        return self._direct and not self._swap and not self._bb

    def check_stored_size(self, data: Any, key: str = "") -> None:
        """Raise :class:`ChunkCorruptError` naming ``key`` when the stored bytes
        ``data`` cannot decode to a whole chunk: the compressors bound what so many
        bytes can expand to (deflate 1032 times, zstd one 128 KiB block per 4
        bytes, blosc and lz4 by their headers), and a ``bytes`` serialiser needs
        exactly the chunk's size. Readers call it before allocating a chunk
        buffer, so a chunk shape that metadata blows up costs no memory for a
        stored chunk that could never fill it."""
        bb = self._bb
        if not bb or not isinstance(self._ab, BytesCodec):
            return
        size = bound = data.nbytes if isinstance(data, (memoryview, np.ndarray)) else len(data)
        for i in range(len(bb) - 1, -1, -1):
            found = bb[i].max_decoded_size(bound, data if i == len(bb) - 1 else None)
            if found is None:
                return
            bound = found
        need = self._ab_spec.nbytes
        if bound < need:
            names = ", ".join(c.name for c in reversed(bb))
            raise ChunkCorruptError(
                f"chunk {key!r}: {size} stored bytes cannot decode to the {need} bytes of a whole chunk "
                f"({names} can make at most {bound} of them)"
            )

    def decode_prefix(self, data: Any, out: np.ndarray, nelems: int) -> bool:
        """Decode at least the first ``nelems`` elements (C order) of a stored chunk
        into ``out`` (C-contiguous, of :attr:`chunk_spec`), leaving the rest
        undefined; True when done. False when this chain cannot stop early (only a
        lone native-order ``bytes`` codec before one compressor that can, such as
        zstd, does) or the stream is not one it takes: the caller then decodes the
        whole chunk with :meth:`decode`, which reports what is wrong."""
        if not self._direct or self._swap or len(self._bb) != 1 or nelems >= math.prod(self._chunk_spec.shape):
            return False
        part = getattr(self._bb[0], "decode_prefix_into", None)
        if part is None:
            return False
        return bool(part(data, out.reshape(-1).view(np.uint8), nelems * self._chunk_spec.dtype.itemsize))

    def quick_coders(self) -> QuickCoders | None:
        """:class:`QuickCoders` for loops over many small chunks, for the chains
        that have them: a lone ``bytes`` codec in native order, alone
        (:attr:`is_raw`) or followed by one compressor offering ``quick_coders``.
        None for other chains."""
        if not self._direct or self._swap or len(self._bb) > 1:
            return None
        nbytes = self._ab_spec.nbytes
        if not self._bb:
            def decode_raw(data: Any, out: memoryview) -> bool:
                if len(data) != nbytes:
                    return False
                out[:] = data
                return True

            return QuickCoders(_tobytes, decode_raw)
        make = getattr(self._bb[0], "quick_coders", None)
        return make(nbytes) if make is not None else None

    @property
    def is_fixed_size(self) -> bool:
        """Whether every chunk encodes to the same number of bytes."""
        return self._encoded_size() is not None

    def encoded_size(self) -> int:
        """The encoded size of every chunk; CodecError unless :attr:`is_fixed_size`."""
        size = self._encoded_size()
        if size is None:
            raise CodecError(f"{self._array()}: the codec chain does not encode to a fixed size")
        return size

    def _encoded_size(self) -> int | None:
        if self._ab_spec.dtype.hasobject or self._ab_spec.dtype.kind == "T":
            return None
        for codec, _ in self._aa:
            if isinstance(codec, _BytesFilter) or codec.encoded_size(0) is None:
                return None
        size: int | None = self._ab.encoded_size(self._ab_spec.nbytes)
        for codec in self._bb:
            if size is None:
                return None
            size = codec.encoded_size(size)
        return size

    # -- work ----------------------------------------------------------------
    def encode(self, chunk: np.ndarray, key: str = "", valid_shape: tuple[int, ...] | None = None) -> Any:
        """Encode one chunk (of :attr:`chunk_spec`'s shape) to a bytes-like object
        that does not share memory with ``chunk``.

        ``valid_shape`` is the part of the chunk inside the array; when the chain
        :attr:`crops_edges` and it is smaller, the serialiser gets the chunk cropped
        to it (with a spec of that shape). Other chains ignore it."""
        spec = self._chunk_spec
        if chunk.shape != spec.shape:
            raise CodecError(f"chunk {key!r}: shape {chunk.shape} is not the chunk shape {spec.shape}")
        codec: Codec = self._ab
        ab_spec = self._ab_spec
        if valid_shape is not None and tuple(valid_shape) != spec.shape and self.crops_edges:
            chunk = chunk[tuple(slice(0, v) for v in valid_shape)]
            ab_spec = ChunkSpec(tuple(valid_shape), ab_spec.dtype, ab_spec.fill_value)
        try:
            data: Any = chunk
            for codec, in_spec in self._aa:
                data = codec.encode(data, in_spec)
            codec = self._ab
            data = codec.encode(data, ab_spec)
            for i, codec in enumerate(self._bb):
                if i == 0 and self._compressor_dtype is not None:
                    # a v2 compressor gets the chunk's array, as zarr-python hands it over
                    data = codec.encode_array(data, self._compressor_dtype)  # type: ignore[attr-defined]
                else:
                    data = codec.encode(data, self._ab_spec)
        except ZarrEngineError:
            raise
        except Exception as e:
            raise CodecError(
                f"{self._chunk(key)}: {codec.name} failed to encode: "
                f"{type(e).__name__}: {e}"
            ) from e
        if not self._bb and isinstance(data, np.ndarray) and np.may_share_memory(data, chunk):
            # with no compressor the serialiser may return a view of the caller's array
            data = data.tobytes()
        return data

    def decode(self, data: Any, out: np.ndarray | None = None, key: str = "") -> np.ndarray:
        """Decode one stored chunk into an array of :attr:`chunk_spec`'s shape and dtype.

        With ``out`` (C-contiguous, right shape and dtype) the result is
        written there and ``out`` is returned. Any failure raises
        ChunkCorruptError naming ``key``.
        """
        spec = self._chunk_spec
        if out is not None and (out.shape != spec.shape or out.dtype != spec.dtype or not out.flags.c_contiguous):
            raise CodecError(
                f"chunk {key!r}: out must be C-contiguous of shape {spec.shape} and dtype {spec.dtype}, "
                f"got shape {out.shape}, dtype {out.dtype}"
            )
        if out is None or not self._direct:  # a buffer is about to be allocated
            self.check_stored_size(data, key)
        stage = ""
        try:
            bb = self._bb
            for i in range(len(bb) - 1, 0, -1):
                stage = bb[i].name
                data = bb[i].decode(data, self._ab_spec)
            if self._direct:
                target = out if out is not None else np.empty(spec.shape, spec.dtype)
                if bb:
                    stage = bb[0].name
                    bb[0].decode_into(data, target.reshape(-1).view(np.uint8), self._ab_spec)
                else:
                    stage = self._ab.name
                    raw = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
                    raw = raw.reshape(-1).view(np.uint8)
                    if raw.size != spec.nbytes:
                        raise ChunkCorruptError(f"bytes: chunk holds {raw.size} bytes, expected {spec.nbytes}")
                    target.reshape(-1).view(np.uint8)[...] = raw
                if self._swap:
                    target.byteswap(inplace=True)
                return target
            if bb:
                stage = bb[0].name
                if isinstance(self._ab, BytesCodec):
                    # bound the decompression by the size the serialiser needs
                    scratch = np.empty(self._ab_spec.nbytes, dtype=np.uint8)
                    bb[0].decode_into(data, scratch, self._ab_spec)
                    data = scratch
                else:
                    data = bb[0].decode(data, self._ab_spec)
            stage = self._ab.name
            arr = self._ab.decode(data, self._ab_spec, out=out if not self._aa else None)
            for codec, in_spec in reversed(self._aa):
                stage = codec.name
                arr = codec.decode(arr, in_spec)
            if arr.shape != spec.shape or arr.dtype != spec.dtype:
                raise ChunkCorruptError(
                    f"decoded to shape {arr.shape} and dtype {arr.dtype}, expected {spec.shape} and {spec.dtype}"
                )
            if out is not None:
                if arr is not out:
                    out[...] = arr
                return out
            if not arr.flags.writeable:
                arr = arr.copy()
            return arr
        except ChunkCorruptError as e:
            # type(e): keep subclasses (an N5 block of an unsupported mode is also UnsupportedError)
            raise type(e)(f"{self._chunk(key)}: {e}") from e
        except Exception as e:
            raise ChunkCorruptError(
                f"{self._chunk(key)}: {stage or 'codec'} failed to decode: "
                f"{type(e).__name__}: {e}"
            ) from e

    def _array(self) -> str:
        return "codec chain" if self._path is None else f"array {self._path or '/'!r}"

    def _chunk(self, key: str) -> str:
        """How errors name the chunk ``key``: with its array, when the chain knows it."""
        return f"chunk {key!r}" if self._path is None else f"chunk {key!r} of array {self._path or '/'!r}"

    def __repr__(self) -> str:
        return f"CodecChain({self.to_json()!r}, {self._chunk_spec!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (CodecChain.from_specs, (self.to_json(), self._chunk_spec, self._path, self._zarr_format))
