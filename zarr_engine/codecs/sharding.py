"""``sharding_indexed``: many inner chunks stored in one object (a shard).

A shard is the encoded inner chunks, concatenated, plus an index (placed at
the ``start`` or the ``end`` of the shard): for every inner chunk, in C order
over the grid of inner chunks in the shard, its byte offset and length as two
uint64. The format allows the chunks in any order; we write them in
zarr-python's, the Morton (Z) order of :func:`morton_order`, so that our
shards are byte for byte its shards. An inner chunk that is not stored has
offset and length both 2^64-1 and reads as the fill value. The index is
encoded by its own chain (``index_codecs``, by default ``bytes`` little
endian + ``crc32c``), which must encode to a fixed size so that a reader can
fetch it with one range request before it knows anything else about the
shard.

This module holds the codec (full encode and decode of one shard, used by the
generic chain path) and :class:`ShardLayout`, the per-shard-shape geometry and
index helpers the engine (``core/sharded.py``) uses for partial reads and
writes. Nothing here touches a store or the thread pool: callers that want
parallel work pass a ``map`` callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ChunkCorruptError, CodecError, ZarrEngineError
from ._util import FrozenConfig, check_keys
from .base import ArrayBytesCodec, ChunkSpec, Codec, CodecConfigError
from .chain import CodecChain
from .registry import get_codec, register_codec

#: offset and length of an inner chunk that is not stored
MISSING = 2**64 - 1

DEFAULT_INDEX_CODECS: tuple[dict[str, Any], ...] = (
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c", "configuration": {}},
)

_LOCATIONS = ("start", "end")

#: ``map(fn, n) -> [fn(0), ..., fn(n-1)]``: how callers parallelise per-inner-chunk work
MapFn = Callable[[Callable[[int], Any], int], list[Any]]


def _sequential(fn: Callable[[int], Any], n: int) -> list[Any]:
    return [fn(i) for i in range(n)]


def _where(key: str) -> str:
    return f"shard {key!r}: " if key else "shard: "


def new_filled(shape: tuple[int, ...], dtype: np.dtype, fill: Any) -> np.ndarray:
    """A new array of ``shape`` holding ``fill`` everywhere (object dtypes included)."""
    if dtype.kind == "O":
        arr = np.empty(shape, dtype=dtype)
        arr.fill(fill)
        return arr
    return np.full(shape, fill, dtype=dtype)


def all_fill(chunk: np.ndarray, fill: Any) -> bool:
    """Whether every element of ``chunk`` equals ``fill``, as zarr-python decides
    whether a chunk may be left out: NaN matches NaN and NaT matches NaT, and
    for a real float array a zero fill matches only zeros of its own sign (a
    chunk of -0.0 under a fill of 0.0 is data, kept so that it reads back -0.0).

    The common cases cost one pass: most chunks that are not all fill show it
    in a sample of 64 elements spread over the chunk, taken first; a zero fill
    is then checked with one ``any`` over the elements (over their bits, for
    floats, which also tells -0.0 from 0.0)."""
    kind = chunk.dtype.kind
    if kind == "O":
        for v in chunk.flat:
            try:
                if not bool(v == fill):
                    return False
            except Exception:  # an element that cannot be compared is not the fill value
                return False
        return True
    if chunk.dtype.fields is not None or kind == "V":
        return chunk.tobytes() == np.asarray(fill, dtype=chunk.dtype).tobytes() * chunk.size
    if kind not in "biufcmM":
        return bool(np.all(chunk == fill))
    f = np.asarray(fill, dtype=chunk.dtype)
    missing = missing_test(kind, f)
    if chunk.size > 256:
        probe = chunk.flat[:: chunk.size // 64]
        if not (missing(probe).all() if missing is not None else (probe == f).all()):
            return False
    if missing is not None:
        return bool(missing(chunk).all())
    if kind in "biufc" and not f.any():
        if kind == "f":
            return bool(zeros_of_sign(chunk, bool(np.signbit(f))))
        return not chunk.any()
    return bool(np.all(chunk == f))


def missing_test(kind: str, fill: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """``np.isnan`` / ``np.isnat`` when ``fill`` (of the chunk's dtype) is NaN / NaT:
    then an element matches the fill when the test holds for it. None otherwise."""
    if kind in "fc" and np.isnan(fill):
        return np.isnan
    if kind in "mM" and np.isnat(fill):
        return np.isnat
    return None


#: unsigned integers as wide as a float, to look at its bits in one pass
_FLOAT_BITS = {2: np.dtype("u2"), 4: np.dtype("u4"), 8: np.dtype("u8")}


def zeros_of_sign(values: np.ndarray, negative: bool, axis: int | None = None) -> Any:
    """Whether ``values`` (a real float array) are all zeros with the sign bit
    ``negative`` (per row with ``axis=1``)."""
    bits = _FLOAT_BITS.get(values.dtype.itemsize)
    if not negative and bits is not None:
        # +0.0 is the only float whose bits are all zero (in either byte order)
        return ~values.view(bits).any(axis=axis)
    zero = ~values.any(axis=axis)
    sign = np.signbit(values)
    return zero & (sign.all(axis=axis) if negative else ~sign.any(axis=axis))


def morton_order(grid: Sequence[int]) -> np.ndarray:
    """The C-order indices of the cells of a grid of shape ``grid``, in the
    order zarr-python lays inner chunks out in a shard: by their compressed
    Morton code.

    The code of a cell takes the bits of its coordinates from the lowest up,
    and at each bit position one bit from each axis in axis order (the first
    axis lowest), skipping an axis once its coordinates have no more bits (an
    axis of length n has ``(n - 1).bit_length()`` of them). So a (2, 2) grid
    goes (0, 0), (1, 0), (0, 1), (1, 1), and a side that is not a power of two
    just leaves gaps in the codes, which sorting closes."""
    grid = tuple(int(n) for n in grid)
    n = math.prod(grid)
    if not grid or n <= 1:
        return np.arange(n, dtype=np.intp)
    coords = np.indices(grid, dtype=np.uint64).reshape(len(grid), n)
    bits = [(g - 1).bit_length() for g in grid]
    code = np.zeros(n, dtype=np.uint64)
    out_bit = 0
    for level in range(max(bits)):
        for axis, width in enumerate(bits):
            if level < width:
                code |= ((coords[axis] >> np.uint64(level)) & np.uint64(1)) << np.uint64(out_bit)
                out_bit += 1
    return np.argsort(code, kind="stable").astype(np.intp)


def _same_spec(a: ChunkSpec, b: ChunkSpec) -> bool:
    if a is b:
        return True
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    fa, fb = a.fill_value, b.fill_value
    if fa is fb:
        return True
    try:
        return bool(fa == fb) or bool(np.isnan(fa) and np.isnan(fb))
    except Exception:
        return False


class ShardLayout:
    """Everything fixed for one shard shape: the grid of inner chunks, the inner
    chunks' codec chain, the index chain and its encoded size."""

    __slots__ = (
        "spec", "shard_shape", "chunk_shape", "per_shard", "n_inner", "inner", "inner_spec",
        "index_chain", "index_size", "at_start", "_regions", "_order",
    )

    def __init__(
        self,
        shard_spec: ChunkSpec,
        chunk_shape: tuple[int, ...],
        codecs: Sequence[Codec],
        index_codecs: Sequence[Codec],
        index_location: str,
    ) -> None:
        shard_shape = tuple(int(s) for s in shard_spec.shape)
        if len(shard_shape) != len(chunk_shape):
            raise CodecError(
                f"codec 'sharding_indexed': chunk_shape {list(chunk_shape)} has {len(chunk_shape)} axes, "
                f"the shard {shard_shape} has {len(shard_shape)}"
            )
        if any(s % c for s, c in zip(shard_shape, chunk_shape)):
            raise CodecError(
                f"codec 'sharding_indexed': the shard shape {shard_shape} is not a multiple of the "
                f"inner chunk shape {tuple(chunk_shape)}"
            )
        self.spec = shard_spec
        self.shard_shape = shard_shape
        self.chunk_shape = tuple(chunk_shape)
        self.per_shard = tuple(s // c for s, c in zip(shard_shape, chunk_shape))
        self.n_inner = math.prod(self.per_shard)
        self.inner_spec = ChunkSpec(self.chunk_shape, shard_spec.dtype, shard_spec.fill_value)
        # shared by every array with this layout: errors name the key (which holds the array's path)
        self.inner = CodecChain(list(codecs), self.inner_spec, path=None)
        index_spec = ChunkSpec(self.per_shard + (2,), np.dtype("uint64"), MISSING)
        self.index_chain = CodecChain(list(index_codecs), index_spec, path=None)
        if not self.index_chain.is_fixed_size:
            raise CodecError(
                "codec 'sharding_indexed': index_codecs must encode to a fixed size "
                f"(got {[c.name for c in index_codecs]})"
            )
        self.index_size = self.index_chain.encoded_size()
        self.at_start = index_location == "start"
        self._regions: list[tuple[slice, ...]] | None = None
        self._order: list[int] | None = None

    # -- geometry ---------------------------------------------------------------
    def region(self, i: int) -> tuple[slice, ...]:
        """The slices of the shard array covered by inner chunk ``i`` (C order)."""
        regions = self._regions
        if regions is None:
            regions = []
            for coords in np.ndindex(*self.per_shard):
                regions.append(tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, self.chunk_shape)))
            self._regions = regions
        return regions[i]

    @property
    def order(self) -> list[int]:
        """The inner chunks (C-order indices) in the order a shard stores them (:func:`morton_order`)."""
        order = self._order
        if order is None:
            order = self._order = morton_order(self.per_shard).tolist()
        return order

    def coords(self, i: int) -> tuple[int, ...]:
        """Grid coordinates inside the shard of inner chunk ``i``."""
        return tuple(int(c) for c in np.unravel_index(i, self.per_shard)) if self.per_shard else ()

    def new_inner(self) -> np.ndarray:
        """A new inner chunk holding the fill value."""
        return new_filled(self.chunk_shape, self.inner_spec.dtype, self.inner_spec.fill_value)

    # -- the index ----------------------------------------------------------------
    def index_request(self, key: str) -> tuple[str, int, int | None]:
        """The ``(key, start, end)`` range request that fetches the index of shard ``key``."""
        if self.at_start:
            return key, 0, self.index_size
        return key, -self.index_size, None

    def parse_index(self, data: Any, key: str = "", shard_size: int | None = None) -> np.ndarray:
        """Decode and validate index bytes: an (n_inner, 2) uint64 array of
        (offset, length) per inner chunk in C order.

        ``shard_size`` (when the whole shard is at hand) lets every entry be
        checked against the shard's end; without it only what the index alone
        can tell is checked, and a short range read catches the rest.
        Raises ChunkCorruptError naming ``key``.
        """
        size = memoryview(data).nbytes
        if size != self.index_size:
            raise ChunkCorruptError(
                f"{_where(key)}the index holds {size} bytes, expected {self.index_size}"
            )
        try:
            index = self.index_chain.decode(data, key=key)
        except ChunkCorruptError as e:
            raise ChunkCorruptError(f"{_where(key)}corrupt index: {e}") from e
        index = index.reshape(self.n_inner, 2)
        off, length = index[:, 0], index[:, 1]
        missing = off == MISSING
        half = missing != (length == MISSING)
        if half.any():
            i = int(np.flatnonzero(half)[0])
            raise ChunkCorruptError(
                f"{_where(key)}index entry of inner chunk {self.coords(i)} has only one of offset "
                f"and length marked missing"
            )
        lo = self.index_size if self.at_start else 0
        if shard_size is None:
            hi = np.uint64(2**62)  # no shard is this large; also keeps off + length from overflowing
        else:
            hi = np.uint64(shard_size - (0 if self.at_start else self.index_size))
        present = ~missing
        o, n = off[present], length[present]
        bad = (o < lo) | (o > hi) | (n > hi - np.minimum(o, hi))
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            i = int(np.flatnonzero(present)[j])
            end = "unknown" if shard_size is None else int(hi)
            raise ChunkCorruptError(
                f"{_where(key)}index entry of inner chunk {self.coords(i)} (offset {int(o[j])}, length "
                f"{int(n[j])}) lies outside the shard's data [{lo}, {end})"
            )
        return index

    def split(self, data: Any, key: str = "") -> tuple[np.ndarray, memoryview]:
        """(parsed index, memoryview of the whole shard) of a whole shard's bytes."""
        view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
        size = view.nbytes
        if size < self.index_size:
            raise ChunkCorruptError(
                f"{_where(key)}holds {size} bytes, fewer than its index alone ({self.index_size} bytes)"
            )
        raw = view[: self.index_size] if self.at_start else view[size - self.index_size :]
        return self.parse_index(raw, key, size), view

    @staticmethod
    def piece(view: memoryview, index: np.ndarray, i: int) -> memoryview | None:
        """The stored bytes of inner chunk ``i`` in a whole shard (None: not stored)."""
        off = int(index[i, 0])
        if off == MISSING:
            return None
        return view[off : off + int(index[i, 1])]

    # -- assembling -----------------------------------------------------------
    def assemble(self, parts: Sequence[Any]) -> bytes | None:
        """One shard from the encoded inner chunks ``parts`` (indexed in C order,
        None where not stored), with one concatenation; None when no part is
        stored. The parts are laid out in :attr:`order`, as zarr-python does."""
        index = np.full((self.n_inner, 2), MISSING, dtype=np.uint64)
        stored: list[Any] = []
        pos = self.index_size if self.at_start else 0
        for i in self.order:
            p = parts[i]
            if p is None:
                continue
            n = memoryview(p).nbytes
            index[i, 0] = pos
            index[i, 1] = n
            pos += n
            stored.append(p)
        if not stored:
            return None
        encoded = self.index_chain.encode(index.reshape(self.per_shard + (2,)))
        return b"".join([encoded, *stored] if self.at_start else [*stored, encoded])

    def encode_inner(self, chunk: np.ndarray, key: str = "") -> Any:
        """Encode one inner chunk; errors name the shard ``key``."""
        try:
            return self.inner.encode(chunk, key=key)
        except ZarrEngineError:
            raise
        except Exception as e:  # never leak a library's own exception bare
            raise CodecError(f"{_where(key)}cannot encode an inner chunk: {type(e).__name__}: {e}") from e

    def decode_inner(self, data: Any, key: str, i: int, out: np.ndarray | None = None) -> np.ndarray:
        """Decode inner chunk ``i`` of shard ``key`` (into ``out`` when given)."""
        try:
            return self.inner.decode(data, out=out, key=f"{key} (inner chunk {self.coords(i)})")
        except ChunkCorruptError:
            raise
        except Exception as e:
            raise ChunkCorruptError(
                f"{_where(key)}inner chunk {self.coords(i)} cannot be decoded: {type(e).__name__}: {e}"
            ) from e

    def encode_shard(
        self,
        shard: np.ndarray,
        *,
        key: str = "",
        write_empty: bool = False,
        map: MapFn = _sequential,
    ) -> bytes | None:
        """Encode a whole shard array; inner chunks all fill value are left out
        unless ``write_empty``. None when no inner chunk is left."""
        fill = self.inner_spec.fill_value

        def one(i: int) -> Any:
            chunk = shard[self.region(i)]
            if not write_empty and all_fill(chunk, fill):
                return None
            return self.encode_inner(np.ascontiguousarray(chunk), key)

        return self.assemble(map(one, self.n_inner))

    def decode_shard(
        self, data: Any, *, key: str = "", out: np.ndarray | None = None, map: MapFn = _sequential
    ) -> np.ndarray:
        """Decode a whole shard's bytes into an array of the shard shape."""
        index, view = self.split(data, key)
        spec = self.spec
        if out is None:
            out = np.empty(self.shard_shape, dtype=spec.dtype)

        def one(i: int) -> None:
            region = self.region(i)
            piece = self.piece(view, index, i)
            target = out[region]
            if piece is None:
                target[...] = spec.fill_value
            elif target.flags.c_contiguous:
                self.decode_inner(piece, key, i, out=target)
            else:
                target[...] = self.decode_inner(piece, key, i)

        map(one, self.n_inner)
        return out


def _codec_list(name: str, specs: Any) -> tuple[Codec, ...]:
    if isinstance(specs, (str, bytes, dict)) or not hasattr(specs, "__iter__"):
        raise CodecConfigError(f"codec 'sharding_indexed': {name} must be a list of codecs, got {specs!r}")
    out = []
    for s in specs:
        out.append(s if isinstance(s, Codec) else get_codec(s))
    if not out:
        raise CodecConfigError(f"codec 'sharding_indexed': {name} must not be empty")
    return tuple(out)


class ShardingCodec(FrozenConfig, ArrayBytesCodec):
    """``sharding_indexed``: configuration ``chunk_shape``, ``codecs`` (the inner
    chunks' chain), ``index_codecs`` and ``index_location`` (``end`` or ``start``).

    :meth:`evolve` binds the codec to one shard spec (building the inner and
    index chains once); :attr:`layout` is then the :class:`ShardLayout`.
    """

    name = "sharding_indexed"

    def __init__(
        self,
        chunk_shape: Sequence[int],
        codecs: Sequence[Any],
        index_codecs: Sequence[Any] = DEFAULT_INDEX_CODECS,
        index_location: str = "end",
        *,
        _layout: ShardLayout | None = None,
    ) -> None:
        if isinstance(chunk_shape, (str, bytes)) or not hasattr(chunk_shape, "__iter__"):
            raise CodecConfigError(f"codec 'sharding_indexed': chunk_shape must be a list, got {chunk_shape!r}")
        shape = tuple(chunk_shape)
        if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1 for c in shape):
            raise CodecConfigError(
                f"codec 'sharding_indexed': chunk_shape must hold positive integers, got {list(shape)}"
            )
        if index_location not in _LOCATIONS:
            raise CodecConfigError(
                f"codec 'sharding_indexed': index_location must be 'start' or 'end', got {index_location!r}"
            )
        self._set(
            chunk_shape=tuple(int(c) for c in shape),
            codecs=_codec_list("codecs", codecs),
            index_codecs=_codec_list("index_codecs", index_codecs),
            index_location=index_location,
            _layout=_layout,
        )

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "ShardingCodec":
        config = check_keys(
            "sharding_indexed", configuration,
            {"chunk_shape", "codecs", "index_codecs", "index_location"}, {"chunk_shape", "codecs"},
        )
        return cls(
            config["chunk_shape"],
            config["codecs"],
            config.get("index_codecs", DEFAULT_INDEX_CODECS),
            config.get("index_location", "end"),
        )

    def to_config(self) -> dict[str, Any]:
        layout = self._layout
        return {
            "chunk_shape": list(self.chunk_shape),
            "codecs": layout.inner.to_json() if layout else [c.to_json() for c in self.codecs],
            "index_codecs": layout.index_chain.to_json() if layout else [c.to_json() for c in self.index_codecs],
            "index_location": self.index_location,
        }

    @property
    def layout(self) -> ShardLayout | None:
        """The layout bound by :meth:`evolve`, or None for an unbound codec."""
        return self._layout

    def evolve(self, spec: ChunkSpec) -> "ShardingCodec":
        layout = ShardLayout(spec, self.chunk_shape, self.codecs, self.index_codecs, self.index_location)
        return ShardingCodec(
            self.chunk_shape, layout.inner.codecs, layout.index_chain.codecs, self.index_location, _layout=layout
        )

    def validate(self, spec: ChunkSpec) -> None:
        self._layout_for(spec)

    def _layout_for(self, spec: ChunkSpec) -> ShardLayout:
        layout = self._layout
        if layout is not None and _same_spec(layout.spec, spec):
            return layout
        return ShardLayout(spec, self.chunk_shape, self.codecs, self.index_codecs, self.index_location)

    def encode(self, data: np.ndarray, spec: ChunkSpec) -> bytes:
        layout = self._layout_for(spec)
        shard = layout.encode_shard(np.asarray(data))
        if shard is None:
            # the chain must return bytes: an index with every entry missing reads as all fill
            shard = _index_only(layout)
        return shard

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        return self._layout_for(spec).decode_shard(data, out=out)


def _index_only(layout: ShardLayout) -> bytes:
    index = np.full(layout.per_shard + (2,), MISSING, dtype=np.uint64)
    return bytes(memoryview(layout.index_chain.encode(index)).cast("B"))


register_codec(ShardingCodec)

__all__ = [
    "MISSING", "DEFAULT_INDEX_CODECS", "ShardLayout", "ShardingCodec", "all_fill", "morton_order", "new_filled",
]
