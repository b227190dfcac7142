"""Reads and writes of many small chunks on a local store, in slabs of whole chunks.

The general read path handles each chunk on its own: it makes a projection
object, takes a view of the output, decodes into a scratch chunk and copies
that into the view. For a chunk of a few KiB that Python work costs three
times the open/read/close of its file. Here, for a box selection (step-1
slices) over many small chunks, each chunk decodes straight into one row of a
contiguous staging block, and the block reaches the output with one strided
numpy copy per slab of chunk rows. Writes are the mirror image: one strided
copy of the value into the staging block, one vectorised test of which chunks
are all fill value, then each chunk encoded and stored from its row. Staging
memory is bounded by :data:`SLAB_BYTES` (reads) and :data:`WRITE_SLAB_BYTES`
(writes), whatever the size of the selection: one staging block serves every
slab, so its pages are touched once and a slab's copy runs in cache.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import wait
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ChunkCorruptError
from .indexing import OrthogonalPlan, _SliceDim
from .pool import PARALLEL_MIN_BYTES, get_pool, in_pool_thread, pipelined, pool_size, run_probed

if TYPE_CHECKING:  # pragma: no cover
    from .engine import ChunkIO

#: fewer chunks than this take the general path (its per-chunk cost does not matter then)
MIN_CHUNKS = 64
#: staging memory of one slab of chunk rows
SLAB_BYTES = 1 << 20
#: writes stage more at a time: encoding a slab ahead (see _store_encoding_ahead)
#: starts anew with each slab
WRITE_SLAB_BYTES = 8 << 20


def applies(io: "ChunkIO", plan: OrthogonalPlan) -> bool:
    """True when :func:`read_tiled` serves this read: many small chunks of a
    store with ``read_into``, every axis a forward step-1 slice."""
    store = io.store
    if store.prefers_batches or getattr(store, "read_into", None) is None:
        return False
    nbytes = io.chunk_nbytes
    if not 0 < nbytes < PARALLEL_MIN_BYTES or io.meta.dtype.hasobject:
        return False
    return _is_box(plan) and plan.nchunks >= MIN_CHUNKS


def _is_box(plan: OrthogonalPlan) -> bool:
    """Every axis a forward step-1 slice selecting something."""
    dims = plan.dims
    return bool(dims) and all(type(d) is _SliceDim and d.step == 1 and not d.reverse and d.n > 0 for d in dims)


class _Slabs:
    """The chunks a box selection touches, in slabs of whole chunk rows along the
    first axis, each slab's chunks in C order (the order of its staging rows)."""

    def __init__(self, io: "ChunkIO", plan: OrthogonalPlan, slab_bytes: int) -> None:
        self.chunk_shape = chunk_shape = tuple(io.meta.chunk_shape)
        self.dims: list[Any] = plan.dims
        self.lows = [d.start // c for d, c in zip(self.dims, chunk_shape)]
        self.highs = [-(-(d.start + d.n) // c) for d, c in zip(self.dims, chunk_shape)]
        self.counts = [hi - lo for lo, hi in zip(self.lows, self.highs)]
        per_row = math.prod(self.counts[1:])
        self.rows_per_slab = max(1, slab_bytes // max(1, per_row * io.chunk_nbytes))
        ndim = len(chunk_shape)
        # (n0, n1, ..., c0, c1, ...) -> (n0, c0, n1, c1, ...)
        self.interleave = [a for pair in zip(range(ndim), range(ndim, 2 * ndim)) for a in pair]
        self.encoding = io.meta.chunk_key_encoding
        self.prefix = io.prefix

    def __iter__(self) -> Iterator[tuple[int, int, list[str]]]:
        """(first chunk row, end chunk row, the slab's keys)."""
        tail = [range(lo, hi) for lo, hi in zip(self.lows[1:], self.highs[1:])]
        for r0 in range(self.lows[0], self.highs[0], self.rows_per_slab):
            r1 = min(self.highs[0], r0 + self.rows_per_slab)
            yield r0, r1, self.encoding.encode_box([range(r0, r1), *tail], self.prefix)

    def blocks(self, stage: np.ndarray, rows: int) -> np.ndarray:
        """A slab's staging rows seen as its padded block, axes (n0, c0, n1, c1, ...)."""
        return stage.reshape(rows, *self.counts[1:], *self.chunk_shape).transpose(self.interleave)

    def padded_shape(self, rows: int) -> tuple[int, ...]:
        return tuple(n * c for n, c in zip([rows, *self.counts[1:]], self.chunk_shape))


def read_tiled(io: "ChunkIO", plan: OrthogonalPlan, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` with the box selection of ``plan`` (see :func:`applies`)."""
    from .engine import allocate, for_each_chunk

    meta = io.meta
    slabs = _Slabs(io, plan, SLAB_BYTES)
    chunk_shape, dims, first = slabs.chunk_shape, slabs.dims, slabs.dims[0]
    fill = io.fill
    nbytes = io.chunk_nbytes
    each = getattr(io.store, "read_each_into", None)
    coders = io.chain.quick_coders() if each is not None and not io.chain.is_raw else None

    def place(r0: int, r1: int, stage: np.ndarray) -> None:
        """A slab's staging rows into ``out``: the slab as one padded block of whole
        chunks, then the part the selection wants."""
        blocks = slabs.blocks(stage, r1 - r0)
        padded_shape = slabs.padded_shape(r1 - r0)
        # rows of the padded block (and of out) this slab covers
        lo0 = max(first.start, r0 * chunk_shape[0])
        hi0 = min(first.start + first.n, r1 * chunk_shape[0])
        want = [slice(lo0 - r0 * chunk_shape[0], hi0 - r0 * chunk_shape[0])]
        want += [slice(d.start - lo * c, d.start - lo * c + d.n)
                 for d, lo, c in zip(dims[1:], slabs.lows[1:], chunk_shape[1:])]
        dest = out[lo0 - first.start : hi0 - first.start]
        exact = all(w.start == 0 and w.stop == n for w, n in zip(want, padded_shape))
        if exact and dest.flags.c_contiguous:
            # the output rows are the padded block itself: one strided copy
            dest.reshape(blocks.shape)[...] = blocks
        else:
            padded = allocate(padded_shape, meta.dtype, f"reading {io.path or '/'}")
            padded.reshape(blocks.shape)[...] = blocks
            dest[...] = padded[tuple(want)]

    if coders is not None and coders.decode_many is not None and pool_size() > 1 and not in_pool_thread():
        _read_quick_ahead(io, each, coders, slabs, place)
        return out

    whole = None  # one staging block for every slab: its pages are touched once, and stay in cache
    for r0, r1, keys in slabs:
        if whole is None:
            whole = allocate((len(keys), *chunk_shape), meta.dtype, f"reading {io.path or '/'}")
        stage = whole[: len(keys)]

        if each is not None and io.chain.is_raw:
            _read_raw(each, keys, stage, fill, nbytes)
        elif coders is not None:
            _read_quick(io, each, coders.decode, keys, stage)
        else:
            def work(i: int, data: Any, stage: np.ndarray = stage, keys: list[str] = keys) -> None:
                if data is None:
                    stage[i] = fill
                else:
                    io.decode(data, keys[i], out=stage[i])

            for_each_chunk(io.store, keys, work, nbytes)
        place(r0, r1, stage)
    return out


def _read_raw(each: Any, keys: list[str], stage: np.ndarray, fill: Any, nbytes: int) -> None:
    """Uncompressed chunks in native order: each file read straight into its stage row."""
    # one thread: the loop is half system calls, half Python, and a second thread
    # contending for the GIL made it slower (8.9 against 7.8 us a chunk, 4 KiB chunks)
    flat = memoryview(stage.reshape(-1).view(np.uint8))
    rows = [flat[i * nbytes : (i + 1) * nbytes] for i in range(len(keys))]
    for i, got in enumerate(each(keys, rows)):
        if got is None:
            stage[i] = fill
        elif got != nbytes:
            size = f"{got} bytes" if got < nbytes else "more bytes"
            raise ChunkCorruptError(f"chunk {keys[i]!r}: {size} stored, but its codecs always produce {nbytes}")


def _read_quick(io: "ChunkIO", each: Any, decode: Any, keys: list[str], stage: np.ndarray) -> None:
    """Compressed chunks, on this thread: each file read into one scratch buffer
    and decoded into its stage row by the chain's quick decoder (one context for
    the whole loop). Absent chunks get the fill value; a value the quick decoder
    does not take, or one longer than the scratch buffer, goes through the
    checked decode, which names what is wrong.

    One thread: reading a small file is mostly Python and system calls, and a
    second Python thread decoding chunk by chunk only contended for the GIL.
    Where the chain decodes a whole slab in one call that releases the GIL
    (zstd), :func:`_read_quick_ahead` overlaps that with the reads instead."""
    nbytes = io.chunk_nbytes
    cap = _stored_cap(nbytes)
    scratch = memoryview(np.empty(cap, dtype=np.uint8))
    flat = memoryview(stage.reshape(-1).view(np.uint8))
    for i, got in enumerate(each(keys, itertools.repeat(scratch, len(keys)))):
        if got is not None and got <= cap and decode(scratch[:got], flat[i * nbytes : (i + 1) * nbytes]):
            continue
        _read_checked(io, keys[i], got, scratch, stage[i])


def _stored_cap(nbytes: int) -> int:
    """Room for a stored chunk of ``nbytes`` decoded: any compressor's output for
    a chunk this small fits (zstd's bound is n + n/256 + 64)."""
    return nbytes + (nbytes >> 4) + 1024


def _read_checked(io: "ChunkIO", key: str, got: int | None, buf: memoryview, row: np.ndarray) -> None:
    """A chunk the quick loops did not take: ``got`` bytes read into ``buf`` (more
    than fit: read again whole; None: absent, so the fill value), decoded into
    ``row`` by the chain's checked decode, which names what is wrong."""
    if got is None:
        row[...] = io.fill
        return
    data = buf[:got] if got <= len(buf) else io.store.get(key)
    if data is None:  # deleted since
        row[...] = io.fill
        return
    io.decode(data, key, out=row)


def _read_quick_ahead(io: "ChunkIO", each: Any, coders: Any, slabs: _Slabs,
                      place: Callable[[int, int, np.ndarray], None]) -> None:
    """Compressed chunks, read on this thread and decoded on the pool, one slab
    behind: while a pool thread decodes slab k (``coders.decode_many``, one call
    for the slab that releases the GIL), this thread reads the stored bytes of
    slab k+1 into the other of two buffers. Then slab k goes to the output and
    the decode of k+1 starts. What the batch decode does not take (absent
    chunks, values too long for their row, frames it refuses) is handled on
    this thread afterwards, as :func:`_read_quick` handles it.

    Reading a 4 KiB file costs about 4.5 us and decoding it 3.2 us; one thread
    doing both took their sum, and a second Python thread decoding chunk by
    chunk only contended for the GIL."""
    from .engine import allocate

    nbytes = io.chunk_nbytes
    cap = _stored_cap(nbytes)
    batches = list(slabs)
    per = slabs.rows_per_slab * math.prod(slabs.counts[1:])
    where = f"reading {io.path or '/'}"
    stage = allocate((per, *slabs.chunk_shape), io.meta.dtype, where)
    flat = memoryview(stage.reshape(-1).view(np.uint8))
    stored = [allocate((per, cap), np.uint8, where) for _ in range(2)]
    views = [[memoryview(buf[i]) for i in range(per)] for buf in stored]
    offsets = np.arange(per, dtype=np.uint64) * np.uint64(cap)
    pool = get_pool()

    def fetch(k: int) -> tuple[int, int, list[str], np.ndarray, list[int | None]]:
        r0, r1, keys = batches[k]
        got = list(each(keys, views[k % 2][: len(keys)]))
        return r0, r1, keys, stored[k % 2], got

    def process(k: int, fetched: tuple[int, int, list[str], np.ndarray, list[int | None]]) -> Callable[[], None]:
        r0, r1, keys, buf, got = fetched
        count = len(keys)
        # absent chunks and values too long for their row have size 0, which
        # decode_many refuses: they are handled in finish
        sizes = np.array([0 if g is None or g > cap else g for g in got], dtype=np.uint64)
        future = pool.submit(coders.decode_many, buf.reshape(-1), offsets[:count], sizes, flat)

        def finish() -> None:
            done = future.result()
            for i in np.flatnonzero(~done).tolist():
                g, view = got[i], views[k % 2][i]
                if g is not None and g <= cap and coders.decode(view[:g], flat[i * nbytes : (i + 1) * nbytes]):
                    continue
                _read_checked(io, keys[i], g, view, stage[i])
            place(r0, r1, stage[:count])

        return finish

    pipelined(range(len(batches)), fetch, process)


# ---------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------


def write_applies(io: "ChunkIO", plan: OrthogonalPlan) -> bool:
    """True when :func:`write_tiled` serves this write: many small chunks of a
    local-like store, a box selection whose every chunk is wholly covered (up to
    the array's edge), plain fixed-size data."""
    if io.store.prefers_batches:
        return False
    nbytes = io.chunk_nbytes
    dtype = io.meta.dtype
    if not 0 < nbytes < PARALLEL_MIN_BYTES or dtype.hasobject or dtype.fields is not None or dtype.kind == "V":
        return False
    if io.chain.crops_edges:
        return False
    if not _is_box(plan):
        return False
    for d, c in zip(plan.dims, io.meta.chunk_shape):
        end = d.start + d.n
        if d.start % c or (end % c and end != d.dim_len):
            return False
    return plan.nchunks >= MIN_CHUNKS


def write_tiled(io: "ChunkIO", plan: OrthogonalPlan, value: np.ndarray, *, write_empty: bool) -> tuple[int, int]:
    """Store ``value`` at the box selection of ``plan`` (see :func:`write_applies`);
    returns (chunks stored, chunks deleted as all fill value)."""
    from .engine import allocate

    meta = io.meta
    slabs = _Slabs(io, plan, WRITE_SLAB_BYTES)
    chunk_shape, start = slabs.chunk_shape, slabs.dims[0].start
    store, fill = io.store, io.fill
    written = deleted = 0

    quick = io.chain.quick_coders()
    many = quick.encode_many if quick is not None else None
    whole = None  # one staging block for every slab (see read_tiled)
    for r0, r1, keys in slabs:
        rows = r1 - r0
        if whole is None:
            whole = allocate((len(keys), *chunk_shape), meta.dtype, f"writing {io.path or '/'}")
        stage = whole[: len(keys)]
        blocks = slabs.blocks(stage, rows)
        # the part of value these chunk rows hold; at the array's edge it is shorter than the chunks
        v0 = r0 * chunk_shape[0] - start
        part = value[v0 : v0 + rows * chunk_shape[0]]
        padded_shape = slabs.padded_shape(rows)
        if part.shape == padded_shape:
            blocks[...] = part.reshape(blocks.shape)
        else:
            padded = np.full(padded_shape, fill, dtype=meta.dtype)
            padded[tuple(slice(0, n) for n in part.shape)] = part
            blocks[...] = padded.reshape(blocks.shape)
        empty = np.zeros(len(keys), dtype=bool) if write_empty else _rows_all_fill(stage.reshape(len(keys), -1), fill)
        full = np.flatnonzero(~empty).tolist()
        if len(full) < len(keys):
            store.delete_many([keys[i] for i in np.flatnonzero(empty).tolist()])

        if many is not None and len(full) >= 2 * MIN_CHUNKS and pool_size() > 1 and not in_pool_thread():
            _store_encoding_ahead(io, many, keys, full, stage)
            written += len(full)
            deleted += len(keys) - len(full)
            continue

        def store_part(lo: int, hi: int, stage: np.ndarray = stage, keys: list[str] = keys,
                       full: list[int] = full) -> None:
            coders = io.chain.quick_coders()  # one per part: it may hold a compression context
            if coders is not None:
                encode = coders.encode
                store.set_many((keys[i], encode(stage[i])) for i in full[lo:hi])
            else:
                store.set_many((keys[i], io.encode(stage[i], keys[i])) for i in full[lo:hi])

        run_probed(store_part, len(full))
        written += len(full)
        deleted += len(keys) - len(full)
    return written, deleted


#: batches :func:`_store_encoding_ahead` splits a slab into (at least this many chunks each)
ENCODE_AHEAD_BATCHES = 8


def _store_encoding_ahead(io: "ChunkIO", many: Any, keys: list[str], full: list[int], stage: np.ndarray) -> None:
    """Store the stage rows ``full`` under their keys while encoding ahead: a pool
    thread encodes the next batch in one ``encode_many`` call (no GIL held while
    it runs) as this thread stores the batch before it. Storing small files is
    mostly Python and system calls, so it stays on this thread (unless the store
    is slow, see :func:`run_probed`); the compressor gets the other core.
    4,096 chunks of 4 KiB with zstd on tmpfs: 130-150 ms encoding in the store
    loop, 120-130 encoding everything first on two threads, 95-120 with this overlap."""
    src = stage.reshape(-1).view(np.uint8)
    nbytes = io.chunk_nbytes
    step = max(MIN_CHUNKS, -(-len(full) // ENCODE_AHEAD_BATCHES))
    batches = [full[lo : lo + step] for lo in range(0, len(full), step)]
    submit = get_pool().submit

    def encode(batch: list[int]) -> Any:
        return many(src, np.asarray(batch) * nbytes, 1)

    ahead: Any = submit(encode, batches[0])
    try:
        for k, batch in enumerate(batches):
            values = ahead.result()
            ahead = submit(encode, batches[k + 1]) if k + 1 < len(batches) else None

            def store_part(lo: int, hi: int, batch: list[int] = batch, values: Any = values) -> None:
                io.store.set_many((keys[batch[j]], values[j]) for j in range(lo, hi))

            run_probed(store_part, len(batch))
    finally:
        if ahead is not None:  # a store failed: let the encoding in flight end before raising
            wait([ahead])


def _rows_all_fill(rows: np.ndarray, fill: Any) -> np.ndarray:
    """Per row of a 2-d array: every element equals ``fill``, as
    :func:`engine.is_all_fill` decides for one chunk (NaN equal to NaN, NaT to
    NaT, a zero fill of a real float array equal only to zeros of its sign)."""
    from ..codecs.sharding import missing_test, zeros_of_sign

    kind = rows.dtype.kind
    f = np.asarray(fill, dtype=rows.dtype)
    missing = missing_test(kind, f)
    if missing is not None:
        return missing(rows).all(axis=1)
    if kind == "f" and not f.any():
        return zeros_of_sign(rows, bool(np.signbit(f)), axis=1)
    if kind in "biuc" and not f.any():
        return ~rows.any(axis=1)
    return (rows == f).all(axis=1)
