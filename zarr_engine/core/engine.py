"""The chunk engine: executes selection plans against a store.

Read: fetch the touched chunks (one batch per group of keys, or one ``get`` per
pool task for stores where a read is a cheap local call), decode in the thread
pool, each chunk straight into its slice of the preallocated output when the
chunk is wholly wanted and the output slice is contiguous, else into a scratch
chunk copied once. Missing keys become the fill value.

Write: the mirror image. A chunk only partly covered is read, patched and
rewritten; a chunk that ends up all fill value is deleted unless
``write_empty_chunks``.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..codecs import ChunkSpec, CodecChain
from ..codecs.sharding import all_fill
from ..errors import ChunkCorruptError, ResourceError, StoreError
from ..format.metadata import ArrayMetadata
from ..storage.base import Store
from .indexing import ChunkProjection, OrthogonalPlan, PointPlan, get_orthogonal, prefix_elements, set_orthogonal
from . import sharded  # also registers the sharding_indexed codec
from .cache import ChunkCache, serve_cached
from . import tiled
from .pool import BATCH_BYTES, PARALLEL_MIN_BYTES, pipelined, run_indexed, start_indexed

#: keys fetched per store round trip for stores that batch (remote ones)
BATCH_KEYS = 512
#: chunks up to this size are read into a buffer each pool thread keeps (stores with ``read_into``)
READ_BUFFER_MAX = 64 << 20

# Per-thread buffers reused from one chunk to the next: a fresh multi-MiB
# array per chunk costs an mmap, a page fault per 4 KiB and an munmap, which is
# as much work as decoding it.
_tls = threading.local()


@functools.lru_cache(maxsize=1)
def machine_memory() -> int | None:
    """This machine's memory plus swap in bytes (Linux's /proc/meminfo), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return sum(int(fields[name].split()[0]) * 1024 for name in ("MemTotal", "SwapTotal"))
    except (OSError, KeyError, ValueError, IndexError):
        return None


def allocate(shape: tuple[int, ...], dtype: np.dtype, what: str) -> np.ndarray:
    """``np.empty(shape, dtype)``, or :class:`ResourceError` naming ``what`` when it cannot be had.

    A request larger than the machine's memory and swap is refused without asking
    numpy: numpy would fail too, but its memory tracing counts the failed request
    (tracemalloc then reports petabytes for a hostile chunk shape)."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    limit = machine_memory()
    if limit is not None and nbytes > limit:
        raise ResourceError(
            f"{what}: cannot allocate {nbytes} bytes for shape {tuple(shape)} and dtype {dtype}: "
            f"more than this machine's memory and swap ({limit} bytes)"
        )
    try:
        return np.empty(shape, dtype)
    except (MemoryError, ValueError) as e:
        raise ResourceError(
            f"{what}: cannot allocate {nbytes} bytes for shape {tuple(shape)} and dtype {dtype} ({e})"
        ) from None


def scratch_chunk(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """This thread's reusable buffer of ``shape`` and ``dtype`` (overwritten by the next call)."""
    cache: dict[Any, np.ndarray] | None = getattr(_tls, "chunks", None)
    if cache is None:
        cache = _tls.chunks = {}
    buf = cache.get((shape, dtype))
    if buf is None:
        if len(cache) >= 4:  # several arrays read from one thread: keep only recent shapes
            cache.clear()
        buf = cache[(shape, dtype)] = allocate(shape, dtype, "chunk buffer")
    return buf


def _read_buffer(size: int) -> np.ndarray:
    # np.empty, not bytearray: a bytearray is zero-filled, making all of it
    # resident, while a read touches only the pages of the bytes it stores
    # (a compressed chunk is often a third of the chunk's size)
    buf: np.ndarray | None = getattr(_tls, "read", None)
    if buf is None or len(buf) < size:
        buf = _tls.read = np.empty(size, dtype=np.uint8)
    return buf


def fill_scalar(meta: ArrayMetadata) -> Any:
    """The value missing chunks read as (a v2 null fill value reads as the dtype's zero)."""
    fv = meta.fill_value
    if fv is None:
        # as zarr-python: the data type's default ("" for strings, zero for numbers)
        fv = meta.data_type.default_fill_value(3)
        if fv is None and meta.dtype.kind != "O":
            fv = np.zeros((), dtype=meta.dtype)[()]
    return fv


def is_all_fill(chunk: np.ndarray, fill: Any) -> bool:
    """True when every element of ``chunk`` equals ``fill``, so that the chunk
    may be left out: NaN equal to NaN, NaT to NaT, and a zero fill of a real
    float array equal only to zeros of its own sign (zarr-python's rule; see
    :func:`zarr_engine.codecs.sharding.all_fill`, which decides it)."""
    return all_fill(chunk, fill)


@dataclass
class ChunkIO:
    """What the engine needs to move one array's chunks: store, key prefix, codec chain."""

    store: Store
    prefix: str  # "" for the root, else "path/"
    meta: ArrayMetadata
    chain: CodecChain
    fill: Any
    path: str

    #: the size every stored chunk has when the chain's output size is fixed (no compression)
    fixed_size: int | None = None
    #: the owning Array's decoded-chunk cache (core/cache.py), None when off
    cache: ChunkCache | None = None

    @classmethod
    def for_array(cls, store: Store, path: str, meta: ArrayMetadata) -> "ChunkIO":
        fill = fill_scalar(meta)
        spec = ChunkSpec(tuple(meta.chunk_shape), meta.dtype, fill)
        chain = CodecChain.from_specs(meta.codecs, spec, path=path or "/", zarr_format=meta.zarr_format)
        io = cls(store, f"{path}/" if path else "", meta, chain, fill, path)
        if chain.is_fixed_size:
            io.fixed_size = chain.encoded_size()
        return io

    @property
    def chunk_nbytes(self) -> int:
        """Size of one chunk in memory, uncompressed."""
        return math.prod(self.meta.chunk_shape) * self.meta.dtype.itemsize

    def key(self, coords: tuple[int, ...]) -> str:
        return self.prefix + self.meta.chunk_key(coords)

    def encode(self, chunk: np.ndarray, key: str) -> Any:
        """Encode the chunk stored under ``key``. A chain that stores edge chunks
        cropped (N5) is told the chunk's part inside the array, found from the key
        so that every writer gets it without passing coordinates around."""
        if not self.chain.crops_edges:
            return self.chain.encode(chunk, key)
        coords = self.meta.chunk_key_encoding.decode(key[len(self.prefix):])
        valid = None
        if coords is not None and len(coords) == len(chunk.shape):
            valid = tuple(
                max(0, min(c, s - i * c)) for i, c, s in zip(coords, self.meta.chunk_shape, self.meta.shape)
            )
        return self.chain.encode(chunk, key, valid_shape=valid)

    @property
    def sharding(self) -> Any:
        """The sharding codec when the chain is ``sharding_indexed`` alone (then
        core/sharded.py moves inner chunks), else None."""
        return sharded.sharding_of(self.chain)

    # -- decoding -----------------------------------------------------------
    def decode(self, data: Any, key: str, out: np.ndarray | None = None, *, scratch: bool = False) -> np.ndarray:
        """Decode one stored chunk, into ``out`` when given, else into this thread's
        scratch buffer when ``scratch`` (overwritten by the next call), else a new array."""
        if self.fixed_size is not None:
            # checked before any chunk-sized buffer is allocated: metadata can name
            # huge chunks, stored bytes cannot lie about their own length
            n = data.nbytes if isinstance(data, memoryview) else len(data)
            if n != self.fixed_size:
                raise ChunkCorruptError(
                    f"chunk {key!r}: {n} bytes stored, but its codecs always produce {self.fixed_size}"
                )
        if out is None and scratch:
            self.chain.check_stored_size(data, key)  # before the buffer is allocated
            out = scratch_chunk(tuple(self.meta.chunk_shape), self.meta.dtype)
        try:
            return self.chain.decode(data, out=out, key=key)
        except ChunkCorruptError:
            raise
        except Exception as e:  # a codec bug or an unexpected library error: never leak it bare
            raise ChunkCorruptError(f"chunk {key!r}: cannot decode: {type(e).__name__}: {e}") from e

    def decode_writable(self, data: Any, key: str) -> np.ndarray:
        if self.fixed_size is None:
            self.chain.check_stored_size(data, key)
            buf = allocate(tuple(self.meta.chunk_shape), self.meta.dtype, f"chunk {key!r}")
            return self.decode(data, key, out=buf)
        decoded = self.decode(data, key)  # size checked before allocating
        # a raw chain may hand back a view of the stored bytes: the caller patches it
        return decoded if decoded.flags.owndata and decoded.flags.writeable else decoded.copy()

    def new_chunk(self) -> np.ndarray:
        chunk = allocate(tuple(self.meta.chunk_shape), self.meta.dtype, f"a new chunk of {self.path or '/'}")
        chunk.fill(self.fill)
        return chunk



def for_each_chunk(
    store: Store, keys: Sequence[str], fn: Callable[[int, Any], Any], size_hint: int = 0
) -> list[Any]:
    """Call ``fn(i, value_or_None)`` for every key, on the pool, fetching as the store prefers.

    With ``size_hint`` (the usual size of a value) and a store that can
    ``read_into`` a buffer, a value may be a read-only view of a per-thread
    buffer: ``fn`` must be done with it when it returns."""
    n = len(keys)
    if not store.prefers_batches:
        read_into = getattr(store, "read_into", None)
        if read_into is not None and 0 < size_hint <= READ_BUFFER_MAX:
            hint = size_hint + 4096  # room for the few bytes a codec adds to incompressible data

            def fetch(i: int) -> Any:
                buf = _read_buffer(hint)
                data = read_into(keys[i], buf)
                if isinstance(data, bytes) and len(data) > len(buf) and len(data) <= READ_BUFFER_MAX:
                    _tls.read = np.empty(len(data) + (len(data) >> 3), dtype=np.uint8)  # next time it fits
                return fn(i, data)

            return run_indexed(fetch, n, item_bytes=size_hint)
        get = store.get
        return run_indexed(lambda i: fn(i, get(keys[i])), n, item_bytes=size_hint or None)
    # Remote values arrive in batches; the next batch is fetched while the pool
    # decodes the last one. Batches hold about BATCH_BYTES of chunks, so big
    # chunks are not all held at once.
    per_batch = BATCH_KEYS
    if size_hint >= PARALLEL_MIN_BYTES:  # decoding small chunks is too quick to be worth overlapping
        per_batch = max(8, min(BATCH_KEYS, -(-n // 4), BATCH_BYTES // size_hint))
    results: list[Any] = [None] * n

    def process(lo: int, got: dict[str, Any]) -> Callable[[], Any]:
        count = min(per_batch, n - lo)

        def one(i: int) -> None:
            results[lo + i] = fn(lo + i, got.get(keys[lo + i]))

        return start_indexed(one, count, item_bytes=size_hint or None)

    pipelined(range(0, n, per_batch), lambda lo: store.get_many(keys[lo : lo + per_batch]), process)
    return results


# ---------------------------------------------------------------------------
# reads
# ---------------------------------------------------------------------------


def read_orthogonal(io: ChunkIO, plan: OrthogonalPlan, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (of ``plan.out_shape``) with the selected elements."""
    if io.sharding is not None:
        return sharded.read_orthogonal(io, plan, out)
    if tiled.applies(io, plan):
        return tiled.read_tiled(io, plan, out)
    projs = list(plan)
    if not projs:
        return out
    keys = [io.key(p.coords) for p in projs]
    cache = io.cache
    generation = 0
    if cache is not None:
        generation = cache.generation  # before the first fetch: a write meanwhile voids what this read decodes
        left = serve_cached(cache, projs, keys, out)
        projs, keys = [projs[i] for i in left], [keys[i] for i in left]
    chunk_shape = tuple(io.meta.chunk_shape)
    chunk_size = int(np.prod(chunk_shape, dtype=np.int64))

    dtype = io.meta.dtype
    # object chunks hold references: never leave them behind in a reused buffer
    reuse = not dtype.hasobject

    def work(i: int, data: Any) -> None:
        p: ChunkProjection = projs[i]
        if data is None:
            set_orthogonal(out, p.out_sel, io.fill)
            return
        if p.is_whole:
            view = out[p.out_sel]
            if isinstance(view, np.ndarray) and view.size == chunk_size:
                if view.flags.c_contiguous:
                    io.decode(data, keys[i], out=view.reshape(chunk_shape))
                    return
                if reuse and all(type(s) is slice for s in p.out_sel):  # a view of out: assign through it
                    chunk = io.decode(data, keys[i], scratch=True)
                    view[...] = chunk.reshape(view.shape)
                    return
        if cache is not None and not p.covers_valid:  # decoded whole into its own array, kept for the next reads
            chunk = io.decode_writable(data, keys[i])
            cache.put(keys[i], chunk, generation)
        elif reuse and io.fixed_size is None:  # (a fixed size is checked before any buffer is allocated)
            # a compressed chunk: decode only as far as the selection's last element, where the chain can
            io.chain.check_stored_size(data, keys[i])
            chunk = scratch_chunk(chunk_shape, dtype)
            if not io.chain.decode_prefix(data, chunk, prefix_elements(p.chunk_sel, chunk_shape)):
                io.decode(data, keys[i], out=chunk)
        else:
            chunk = io.decode(data, keys[i], scratch=reuse)
        set_orthogonal(out, p.out_sel, get_orthogonal(chunk, p.chunk_sel))

    for_each_chunk(io.store, keys, work, io.chunk_nbytes)
    return out


def read_points(io: ChunkIO, plan: PointPlan, out_flat: np.ndarray) -> np.ndarray:
    if io.sharding is not None:
        return sharded.read_points(io, plan, out_flat)
    groups = list(plan)
    keys = [io.key(g.coords) for g in groups]
    cache = io.cache
    generation = 0
    if cache is not None:
        generation = cache.generation
        left = serve_cached(cache, groups, keys, out_flat, points=True)
        groups, keys = [groups[i] for i in left], [keys[i] for i in left]

    def work(i: int, data: Any) -> None:
        g = groups[i]
        if data is None:
            out_flat[g.positions] = io.fill
            return
        if cache is not None:
            chunk = io.decode_writable(data, keys[i])
            cache.put(keys[i], chunk, generation)
        else:
            chunk = io.decode(data, keys[i])
        out_flat[g.positions] = chunk[g.local]

    for_each_chunk(io.store, keys, work, io.chunk_nbytes)
    return out_flat


# ---------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------


def _commit(io: ChunkIO, encoded: Sequence[tuple[str, Any]]) -> tuple[int, int]:
    """Store the encoded chunks (value None: delete). Returns (written, deleted)."""
    puts = [(k, v) for k, v in encoded if v is not None]
    dels = [k for k, v in encoded if v is None]
    if puts:
        io.store.set_many(puts)
    if dels:
        io.store.delete_many(dels)
    return len(puts), len(dels)


def _encode_or_drop(io: ChunkIO, chunk: np.ndarray, key: str, write_empty: bool) -> tuple[str, Any]:
    if not write_empty and is_all_fill(chunk, io.fill):
        return key, None
    try:
        return key, io.encode(chunk, key)
    except (ChunkCorruptError, StoreError):
        raise
    except Exception as e:
        from ..errors import CodecError

        if isinstance(e, CodecError):
            raise
        raise CodecError(f"chunk {key!r}: cannot encode: {type(e).__name__}: {e}") from e


def write_orthogonal(io: ChunkIO, plan: OrthogonalPlan, value: np.ndarray, *, write_empty: bool) -> tuple[int, int]:
    """Write ``value`` (already of ``plan.out_shape`` and the array's dtype) at the plan's selection."""
    if io.sharding is not None:
        return sharded.write_orthogonal(io, plan, value, write_empty=write_empty)
    if tiled.write_applies(io, plan):
        return tiled.write_tiled(io, plan, value, write_empty=write_empty)
    projs = list(plan)
    if not projs:
        return 0, 0
    keys = [io.key(p.coords) for p in projs]
    chunk_shape = tuple(io.meta.chunk_shape)

    def build(i: int, old: Any) -> tuple[str, Any]:
        p = projs[i]
        part = get_orthogonal(value, p.out_sel) if p.out_sel else value
        if p.is_whole and not any(isinstance(s, (int, np.integer)) for s in p.chunk_sel):
            if part.dtype.hasobject:  # never leave object references behind in a reused buffer
                chunk = np.ascontiguousarray(part).reshape(chunk_shape)
            else:
                # into this thread's chunk buffer: a fresh array per chunk costs a page
                # fault on every page (the chain's encode never returns a view of it)
                chunk = scratch_chunk(chunk_shape, part.dtype)
                np.copyto(chunk, part.reshape(chunk_shape))
        else:
            if old is not None:
                chunk = io.decode_writable(old, keys[i])
            else:
                chunk = io.new_chunk()
            set_orthogonal(chunk, p.chunk_sel, part)
        return _encode_or_drop(io, chunk, keys[i], write_empty)

    need_old = {i for i, p in enumerate(projs) if not p.covers_valid}
    # chunks wholly covered never read the store; partial ones read-modify-write
    if not io.store.prefers_batches:
        # local-like stores: each pool task reads, encodes and stores its own chunk
        store = io.store

        def local(i: int) -> bool:
            key, enc = build(i, store.get(keys[i]) if i in need_old else None)
            if enc is None:
                store.delete(key)
                return False
            store.set(key, enc)
            return True  # not the encoded bytes: freed now, their memory serves the next chunk

        done = run_indexed(local, len(projs))
        written = sum(done)
        return written, len(done) - written
    written = deleted = 0
    for lo in range(0, len(projs), BATCH_KEYS):
        idx = list(range(lo, min(lo + BATCH_KEYS, len(projs))))
        old_keys = [keys[i] for i in idx if i in need_old]
        olds = io.store.get_many(old_keys) if old_keys else {}
        encoded = run_indexed(lambda j: build(idx[j], olds.get(keys[idx[j]])), len(idx))
        w, d = _commit(io, encoded)
        written += w
        deleted += d
    return written, deleted


def write_points(io: ChunkIO, plan: PointPlan, values_flat: np.ndarray, *, write_empty: bool) -> tuple[int, int]:
    if io.sharding is not None:
        return sharded.write_points(io, plan, values_flat, write_empty=write_empty)
    groups = list(plan)
    keys = [io.key(g.coords) for g in groups]
    olds = io.store.get_many(keys)

    def build(i: int) -> tuple[str, Any]:
        g = groups[i]
        old = olds.get(keys[i])
        chunk = io.decode_writable(old, keys[i]) if old is not None else io.new_chunk()
        chunk[g.local] = values_flat[g.positions]
        return _encode_or_drop(io, chunk, keys[i], write_empty)

    encoded = run_indexed(build, len(groups))
    return _commit(io, encoded)
