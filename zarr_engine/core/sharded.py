"""The chunk engine for sharded arrays (a chain that is ``sharding_indexed`` alone).

Same four entry points as :mod:`zarr_engine.core.engine`, which dispatches
here. Selections are planned on the grid of *inner* chunks, and the inner
chunks are grouped by the shard holding them.

Reads. A shard whose every inner chunk (inside the array) is wanted is fetched
whole, in one request. For any other shard the index is fetched with one range
request (a suffix range when the index is at the end), kept for the rest of
the operation, then only the inner chunks wanted are fetched as byte ranges,
neighbours closer than :data:`MAX_GAP_LOCAL` / :data:`MAX_GAP_REMOTE` merged
into one request of at most :data:`MAX_MERGED_LOCAL` / :data:`MAX_MERGED`
bytes. All the index requests of a read go to the store as one ``get_ranges``
batch. A remote store then gets all the chunk requests as a second batch; on
a local store each pool task reads its own request and decodes what it holds,
so that reading one inner chunk overlaps decoding another. Inner chunks
decode straight into the output where the inner chunk is wanted whole and its
output slice is contiguous.

Writes. A shard wholly covered by the write is never read: its inner chunks
are encoded in parallel and joined with one concatenation. A shard partly
covered is read whole; the inner chunks the write does not touch keep their
stored bytes verbatim, the touched ones are (decoded, patched and) re-encoded.
Inner chunks all fill value are left out (unless ``write_empty_chunks``,
which, as in zarr-python, stores every inner chunk the write touches); a
shard left with no inner chunk is deleted.
"""

from __future__ import annotations

import copy
import math
import threading
from concurrent.futures import Future, wait
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..codecs.sharding import ShardingCodec, ShardLayout
from ..errors import ChunkCorruptError
from .indexing import ChunkProjection, OrthogonalPlan, PointPlan, get_orthogonal, prefix_elements, set_orthogonal
from .cache import serve_cached
from .pool import BATCH_BYTES, PARALLEL_MIN_BYTES, get_pool, in_pool_thread, pipelined, pool_size, run_indexed, start_indexed

if TYPE_CHECKING:
    from ..codecs import CodecChain
    from .engine import ChunkIO

#: merge two wanted byte ranges of a shard when the gap between them is at most
#: this many bytes. Local files: one page; reading it costs less than the
#: extra system call it saves.
MAX_GAP_LOCAL = 4096
#: the same for remote stores (``prefers_batches``). A round trip to an object
#: store costs ~10-50 ms, in which a single connection moves 1-5 MB; skipping
#: 1 MiB of unwanted bytes is cheaper than a second request.
MAX_GAP_REMOTE = 1 << 20
#: a merged request never grows beyond this (unless one inner chunk alone is
#: larger), so that big reads still spread over connections and memory stays bounded
MAX_MERGED = 32 << 20
#: the same for local files, smaller: a merged request is read and decoded by
#: one pool task, so inner chunks of a few hundred KiB or more each get their
#: own task (and decode in parallel), while small neighbours still share a read
MAX_MERGED_LOCAL = 1 << 20
#: whole shards fetched (or written) per round; bounds memory for big selections
BATCH_SHARDS = 16
#: whole shards a local read has in flight at once (each read is one long copy on one thread)
AHEAD = 2
#: a write's step (see :func:`_write`): shards of about this many bytes in all
#: (uncompressed; at least one shard, at most BATCH_SHARDS) are encoded while
#: the step before is stored
WRITE_STEP_BYTES = 16 << 20
#: steps being encoded at once, beside the one being stored
WRITE_AHEAD = 2


def sharding_of(chain: "CodecChain") -> ShardingCodec | None:
    """The bound sharding codec when ``chain`` is ``sharding_indexed`` alone (the
    case this engine handles), else None (the generic path decodes whole shards)."""
    codecs = chain.codecs
    if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec) and codecs[0].layout is not None:
        return codecs[0]
    return None



# ---------------------------------------------------------------------------
# planning on the inner grid
# ---------------------------------------------------------------------------


def inner_orthogonal_plan(plan: OrthogonalPlan, chunk_shape: Sequence[int]) -> OrthogonalPlan:
    """``plan`` (made on the shard grid) re-made on the inner-chunk grid.

    The per-axis indexers only hold the selection and read their chunk length
    when projecting, so a copy with the inner lengths is the same selection
    planned on the inner grid, without re-parsing it.
    """
    new = copy.copy(plan)
    new.dims = []
    for d, c in zip(plan.dims, chunk_shape):
        d2 = copy.copy(d)
        d2.clen = int(c)
        new.dims.append(d2)
    return new


def inner_point_plan(plan: PointPlan, shape: Sequence[int], chunk_shape: Sequence[int]) -> PointPlan:
    """``plan`` (made on the shard grid) re-made on the inner-chunk grid."""
    new = copy.copy(plan)
    new.chunk_shape = tuple(int(c) for c in chunk_shape)
    new.grid = tuple(-(-int(n) // c) for n, c in zip(shape, new.chunk_shape))
    return new


def coalesce(
    spans: Sequence[tuple[int, int]], max_gap: int, max_size: int
) -> list[tuple[int, int, list[int]]]:
    """Merge byte ranges ``[start, end)``: returns ``(start, end, members)`` with
    ``members`` the indices into ``spans`` each merged range serves. Ranges
    closer than ``max_gap`` merge while the result stays within ``max_size``."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    out: list[tuple[int, int, list[int]]] = []
    for i in order:
        s, e = spans[i]
        if out:
            ms, me, members = out[-1]
            if s - me <= max_gap and max(e, me) - ms <= max_size:
                out[-1] = (ms, max(me, e), members)
                members.append(i)
                continue
        out.append((s, e, [i]))
    return out


class _Shards:
    """Shard arithmetic of one array: which shard holds an inner chunk, and
    how many of a shard's inner chunks lie inside the array."""

    def __init__(self, io: "ChunkIO", codec: ShardingCodec) -> None:
        layout = codec.layout
        assert layout is not None
        self.io = io
        self.layout: ShardLayout = layout
        self.per = layout.per_shard
        self.shape = tuple(io.meta.shape)
        self.inner_grid = tuple(-(-n // c) for n, c in zip(self.shape, layout.chunk_shape))

    def locate(self, coords: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        """(shard coordinates, C-order index inside the shard) of inner chunk ``coords``."""
        shard = tuple(c // p for c, p in zip(coords, self.per))
        local = 0
        for c, p in zip(coords, self.per):
            local = local * p + c % p
        return shard, local

    def valid_count(self, shard: tuple[int, ...]) -> int:
        """Inner chunks of ``shard`` that overlap the array (the rest are never read or written)."""
        return math.prod(min(p, g - s * p) for s, p, g in zip(shard, self.per, self.inner_grid))

    def group(self, coords: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], list[tuple[int, int]]]:
        """Shard coordinates -> [(position in ``coords``, local index)], shards in first-seen order."""
        groups: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for j, c in enumerate(coords):
            shard, local = self.locate(c)
            groups.setdefault(shard, []).append((j, local))
        return groups


def _fetch_whole(store: Any, keys: list[str]) -> list[Any]:
    """Whole values of ``keys`` (None where absent): one ``get_many`` for stores
    that batch, else one ``get`` per key spread over the pool (local files read
    in parallel, as the unsharded engine does)."""
    if store.prefers_batches:
        got = store.get_many(keys)
        return [got.get(k) for k in keys]
    get = store.get
    return run_indexed(lambda i: get(keys[i]), len(keys))


# ---------------------------------------------------------------------------
# reads
# ---------------------------------------------------------------------------


def _read_inner(sh: _Shards, coords: Sequence[tuple[int, ...]], work: Callable[[int, Any, str, int], None]) -> None:
    """Fetch the stored bytes of the inner chunks ``coords`` and call
    ``work(j, data_or_None, shard_key, local_index)`` for each on the pool
    (None: reads as fill)."""
    io, layout = sh.io, sh.layout
    groups = sh.group(coords)
    whole = [s for s, items in groups.items() if len(items) == sh.valid_count(s)]
    partial = [s for s, items in groups.items() if len(items) != sh.valid_count(s)]

    if len(whole) > 1 and not io.store.prefers_batches and pool_size() > 1 and not in_pool_thread():
        _pipeline_whole(sh, whole, groups, work)
        whole = []
    # Remote whole shards: the next batch is fetched while the pool decodes
    # this one (at least two shards a batch, about BATCH_BYTES of data).
    shard_bytes = io.chunk_nbytes  # the grid's chunks are the shards
    per = BATCH_SHARDS
    if shard_bytes >= PARALLEL_MIN_BYTES:  # small shards decode too quickly to be worth overlapping
        per = max(2, min(BATCH_SHARDS, -(-len(whole) // 4), BATCH_BYTES // shard_bytes))

    def fetch(lo: int) -> tuple[list[str], list[Any]]:
        keys = [io.key(s) for s in whole[lo : lo + per]]
        return keys, _fetch_whole(io.store, keys)

    def process(lo: int, fetched: tuple[list[str], list[Any]]) -> Callable[[], Any]:
        tasks: list[tuple[int, Any, str, int]] = []
        for s, key, value in zip(whole[lo : lo + per], *fetched):
            if value is None:
                tasks.extend((j, None, key, local) for j, local in groups[s])
                continue
            index, view = layout.split(value, key)
            tasks.extend((j, layout.piece(view, index, local), key, local) for j, local in groups[s])
        return start_indexed(lambda t: work(*tasks[t]), len(tasks))

    if whole:
        pipelined(range(0, len(whole), per), fetch, process)

    if not partial:
        return
    keys = [io.key(s) for s in partial]
    raw = io.store.get_ranges([layout.index_request(k) for k in keys])
    requests: list[tuple[str, int, int]] = []
    served: list[list[tuple[int, int, int, int]]] = []  # per request: (j, local, start in request, length)
    tasks = []
    remote = io.store.prefers_batches
    gap, most = (MAX_GAP_REMOTE, MAX_MERGED) if remote else (MAX_GAP_LOCAL, MAX_MERGED_LOCAL)
    for s, key, index_bytes in zip(partial, keys, raw):
        items = groups[s]
        if index_bytes is None:
            tasks.extend((j, None, key, local) for j, local in items)
            continue
        index = layout.parse_index(index_bytes, key)
        stored = []
        for j, local in items:
            off, n = int(index[local, 0]), int(index[local, 1])
            if n == 2**64 - 1:
                tasks.append((j, None, key, local))
            else:
                stored.append((j, local, off, n))
        for start, end, members in coalesce([(o, o + n) for _, _, o, n in stored], gap, most):
            requests.append((key, start, end))
            served.append([(stored[m][0], stored[m][1], stored[m][2] - start, stored[m][3]) for m in members])
    if not remote:
        # each task reads one request and decodes the inner chunks it holds
        # (the absent ones, read as fill, are tasks of their own)
        get_range = io.store.get_range

        def serve(r: int) -> None:
            if r >= len(requests):
                work(*tasks[r - len(requests)])
                return
            key, start, end = requests[r]
            view = _range_view(get_range(key, start, end), key, start, end)
            for j, local, o, n in served[r]:
                work(j, view[o : o + n], key, local)

        run_indexed(serve, len(requests) + len(tasks))
        return
    if requests:
        datas = io.store.get_ranges(requests)
        for (key, start, end), data, members in zip(requests, datas, served):
            view = _range_view(data, key, start, end)
            tasks.extend((j, view[o : o + n], key, local) for j, local, o, n in members)
    run_indexed(lambda t: work(*tasks[t]), len(tasks))


def _range_view(data: Any, key: str, start: int, end: int) -> memoryview:
    """The bytes of shard ``key`` at ``[start, end)`` as read, checked to be all there."""
    view = memoryview(data).cast("B") if data is not None else None
    if view is None or view.nbytes < end - start:
        got = "nothing" if view is None else f"{view.nbytes} bytes"
        raise ChunkCorruptError(
            f"shard {key!r}: bytes [{start}, {end}) named by its index could not be read "
            f"(got {got}): the shard is shorter than its index says, or changed during the read"
        )
    return view


def _pipeline_whole(
    sh: _Shards,
    shards: list[tuple[int, ...]],
    groups: dict[tuple[int, ...], list[tuple[int, int]]],
    work: Callable[[int, Any, str, int], None],
) -> None:
    """Whole shards from a local-like store: one ``get`` per shard, each on the
    pool, overlapped with decoding.

    Reading a shard is a long copy on one thread; waiting for it before any
    decoding starts would leave the other cores idle. So :data:`AHEAD` shards
    are read at first, each fetch task queues the decode tasks of its inner
    chunks, and the last of those to finish queues the fetch of the shard
    AHEAD places on, into the buffer just freed: one thread reads while the
    others decode, and AHEAD shards (and buffers) are held at a time. The
    tasks only submit, never wait, so pool work still never waits on the pool.
    """
    io, layout = sh.io, sh.layout
    pool = get_pool()
    futures: list[Future] = []
    failed: list[BaseException] = []
    # A shard is read into a buffer that returns to `free` once its last inner
    # chunk is decoded, so the next shard reuses it: a fresh buffer (or bytes)
    # per shard costs the kernel a page fault and a zeroed page every 4 KiB,
    # which took longer than the copy itself (1 GiB in 8 shards: 500 -> 145 ms).
    read_into = getattr(io.store, "read_into", None)
    size_hint = io.chunk_nbytes + layout.index_size + 4096 * (1 + layout.n_inner)
    free: list[np.ndarray] = []
    lock = threading.Lock()

    def guarded(fn: Callable[..., None], *args: Any) -> None:
        if failed:
            return
        try:
            fn(*args)
        except BaseException as e:  # kept for the caller, which re-raises it
            failed.append(e)
            raise

    ahead = min(len(shards), AHEAD)
    # inner chunks decoded per pool task: one when they are big, else enough to
    # make about PARALLEL_MIN_BYTES of output (small ones cost mostly Python)
    inner_nbytes = math.prod(layout.chunk_shape) * max(1, io.meta.dtype.itemsize)
    per_run = max(1, PARALLEL_MIN_BYTES // max(1, inner_nbytes))

    def fetch(n: int) -> None:
        s = shards[n]
        key = io.key(s)
        buf: np.ndarray | None = None
        if read_into is not None:
            with lock:
                buf = free.pop() if free else None
            if buf is None:
                buf = np.empty(size_hint, dtype=np.uint8)
            value = read_into(key, buf)
            if not isinstance(value, memoryview):  # absent, or larger than the buffer (then bytes)
                with lock:
                    free.append(buf)
                buf = None
        else:
            value = io.store.get(key)
        if value is None:
            tasks = [(j, None, key, local) for j, local in groups[s]]
        else:
            index, view = layout.split(value, key)
            tasks = [(j, layout.piece(view, index, local), key, local) for j, local in groups[s]]
        # one pool task per run of `per_run` inner chunks: a future per inner chunk
        # of a few KiB cost more than decoding it (5 shards of 400 inner chunks of
        # 1.6 KB: 16 ms a shard, against 8 ms for the same shard read alone)
        runs = [tasks[lo : lo + per_run] for lo in range(0, len(tasks), per_run)]
        left = [len(runs)]

        def decode(run: list[tuple[int, Any, str, int]]) -> None:
            try:
                for t in run:
                    work(*t)
            finally:
                with lock:
                    left[0] -= 1
                    last = left[0] == 0
                    if last and buf is not None:
                        free.append(buf)  # every inner chunk of this shard is done with it
                if last and n + ahead < len(shards):
                    # the shard `ahead` places on is read into the buffer just freed
                    futures.append(pool.submit(guarded, fetch, n + ahead))

        for run in runs:
            futures.append(pool.submit(guarded, decode, run))

    for n in range(ahead):
        futures.append(pool.submit(guarded, fetch, n))
    seen = 0
    while seen < len(futures):  # tasks add futures before they finish, so this sees them all
        batch = futures[seen:]
        wait(batch)
        seen += len(batch)
    if failed:
        raise failed[0]


def _cache_key(sh: _Shards, coords: tuple[int, ...]) -> tuple[str, int]:
    """What the chunk cache keeps inner chunk ``coords`` under: (shard key, index inside the shard)."""
    shard, local = sh.locate(coords)
    return sh.io.key(shard), local


def _decode_inner_owned(layout: ShardLayout, data: Any, key: str, local: int, dtype: np.dtype) -> np.ndarray:
    """Inner chunk ``local`` of shard ``key`` decoded into a new array of its own (for the cache)."""
    from .engine import allocate

    where = f"{key} (inner chunk {layout.coords(local)})"
    layout.inner.check_stored_size(data, where)  # before the buffer is allocated
    return layout.decode_inner(data, key, local, out=allocate(tuple(layout.chunk_shape), dtype, f"chunk {where!r}"))


def read_orthogonal(io: "ChunkIO", plan: OrthogonalPlan, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (of ``plan.out_shape``) with the selected elements of a sharded array."""
    sh = _Shards(io, io.sharding)
    layout = sh.layout
    projs: list[ChunkProjection] = list(inner_orthogonal_plan(plan, layout.chunk_shape))
    if not projs:
        return out
    inner_shape = layout.chunk_shape
    inner_size = math.prod(inner_shape)
    cache = io.cache
    generation = 0
    if cache is not None:
        generation = cache.generation  # before the first fetch: a write meanwhile voids what this read decodes
        left = serve_cached(cache, projs, [_cache_key(sh, p.coords) for p in projs], out)
        projs = [projs[i] for i in left]
    coords = [p.coords for p in projs]
    from .engine import scratch_chunk  # engine imports this module at load time

    dtype = out.dtype
    reuse = not dtype.hasobject  # never leave object references behind in a reused buffer

    def work(j: int, data: Any, key: str, local: int) -> None:
        p = projs[j]
        if data is None:
            set_orthogonal(out, p.out_sel, io.fill)
            return
        if p.is_whole:
            view = out[p.out_sel]
            if isinstance(view, np.ndarray) and view.size == inner_size:
                if view.flags.c_contiguous:
                    layout.decode_inner(data, key, local, out=view.reshape(inner_shape))
                    return
                if reuse and all(type(s) is slice for s in p.out_sel):  # a view of out: assign through it
                    layout.inner.check_stored_size(data, f"{key} (inner chunk {layout.coords(local)})")
                    chunk = layout.decode_inner(data, key, local, out=scratch_chunk(inner_shape, dtype))
                    view[...] = chunk.reshape(view.shape)
                    return
        if cache is not None and not p.covers_valid:  # decoded whole into its own array, kept for the next reads
            chunk = _decode_inner_owned(layout, data, key, local, dtype)
            cache.put((key, local), chunk, generation)
        elif reuse:  # decode only as far as the selection's last element, where the inner chain can
            layout.inner.check_stored_size(data, f"{key} (inner chunk {layout.coords(local)})")
            chunk = scratch_chunk(inner_shape, dtype)
            if not layout.inner.decode_prefix(data, chunk, prefix_elements(p.chunk_sel, inner_shape)):
                layout.decode_inner(data, key, local, out=chunk)
        else:
            chunk = layout.decode_inner(data, key, local)
        set_orthogonal(out, p.out_sel, get_orthogonal(chunk, p.chunk_sel))

    _read_inner(sh, coords, work)
    return out


def read_points(io: "ChunkIO", plan: PointPlan, out_flat: np.ndarray) -> np.ndarray:
    """Fill ``out_flat`` with the points of a vindex selection of a sharded array."""
    sh = _Shards(io, io.sharding)
    layout = sh.layout
    groups = list(inner_point_plan(plan, sh.shape, layout.chunk_shape))
    cache = io.cache
    generation = 0
    if cache is not None:
        generation = cache.generation
        left = serve_cached(cache, groups, [_cache_key(sh, g.coords) for g in groups], out_flat, points=True)
        groups = [groups[i] for i in left]

    def work(j: int, data: Any, key: str, local: int) -> None:
        g = groups[j]
        if data is None:
            out_flat[g.positions] = io.fill
            return
        if cache is not None:
            chunk = _decode_inner_owned(layout, data, key, local, out_flat.dtype)
            cache.put((key, local), chunk, generation)
        else:
            chunk = layout.decode_inner(data, key, local)
        out_flat[g.positions] = chunk[g.local]

    _read_inner(sh, [g.coords for g in groups], work)
    return out_flat


# ---------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------


def _write(
    sh: _Shards,
    coords: Sequence[tuple[int, ...]],
    covers: Sequence[bool],
    build: Callable[[int, Callable[[], np.ndarray]], np.ndarray],
    write_empty: bool,
) -> tuple[int, int]:
    """Write the inner chunks ``coords``: ``build(j, old)`` returns the new inner
    chunk ``j``, calling ``old()`` for the current content when it needs it
    (``covers[j]``: the write sets every element of it inside the array).
    Returns (shards written, shards deleted).

    The shards go in steps of about :data:`WRITE_STEP_BYTES`: the pool encodes
    the inner chunks of the next :data:`WRITE_AHEAD` steps while this thread
    stores the step before them, so encoding (all cores) and storing (a long
    copy, or an upload) overlap instead of taking turns, the pool has the next
    step's work queued when one ends, and at most ``WRITE_AHEAD + 1`` steps of
    encoded shards are held."""
    io, layout = sh.io, sh.layout
    store = io.store
    fill = io.fill
    groups = sh.group(coords)
    shards = list(groups)
    per = max(1, min(BATCH_SHARDS, WRITE_STEP_BYTES // max(1, io.chunk_nbytes)))
    steps = [shards[lo : lo + per] for lo in range(0, len(shards), per)]
    counts = [0, 0]  # shards written, deleted

    def start(batch: list[tuple[int, ...]]) -> Callable[[], tuple[list[str], list[list[Any]]]]:
        """Fetch what the step's shards need of their old bytes, start encoding
        on the pool; the result waits and gives (keys, inner chunk bytes per shard)."""
        keys = [io.key(s) for s in batch]
        # a shard needs its old bytes unless the write sets all its inner chunks in the array
        need = [
            i for i, s in enumerate(batch)
            if not (len(groups[s]) == sh.valid_count(s) and all(covers[j] for j, _ in groups[s]))
        ]
        fetched = _fetch_whole(store, [keys[i] for i in need]) if need else []
        olds: list[tuple[np.ndarray, memoryview] | None] = [None] * len(batch)
        for i, value in zip(need, fetched):
            if value is not None:
                olds[i] = layout.split(value, keys[i])
        tasks = [(b, j, local) for b, s in enumerate(batch) for j, local in groups[s]]

        def encode(t: int) -> Any:
            b, j, local = tasks[t]
            old = olds[b]

            def current() -> np.ndarray:
                piece = None if old is None else layout.piece(old[1], old[0], local)
                if piece is None:
                    return layout.new_inner()
                chunk = layout.decode_inner(piece, keys[b], local)
                return chunk if chunk.flags.writeable else chunk.copy()

            chunk = build(j, current)
            if not write_empty and _is_fill(chunk, fill):
                return None
            return layout.encode_inner(chunk, keys[b])

        waiter = start_indexed(encode, len(tasks))

        def finish() -> tuple[list[str], list[list[Any]]]:
            encoded = waiter()
            parts: list[list[Any]] = []
            for b in range(len(batch)):
                old = olds[b]
                if old is None:
                    parts.append([None] * layout.n_inner)
                else:  # untouched inner chunks keep their stored bytes verbatim
                    parts.append([layout.piece(old[1], old[0], i) for i in range(layout.n_inner)])
            for (b, _, local), enc in zip(tasks, encoded):
                parts[b][local] = enc
            return keys, parts

        return finish

    def commit(keys: list[str], parts: list[list[Any]]) -> None:
        assembled = [layout.assemble(p) for p in parts]
        puts = [(k, v) for k, v in zip(keys, assembled) if v is not None]
        dels = [k for k, v in zip(keys, assembled) if v is None]
        if store.prefers_batches:  # one batch: the uploads of a step run concurrently
            if puts:
                store.set_many(puts)
            if dels:
                store.delete_many(dels)
        else:
            for k, v in puts:
                store.set(k, v)
            for k in dels:
                store.delete(k)
        counts[0] += len(puts)
        counts[1] += len(dels)

    pending: list[Callable[[], tuple[list[str], list[list[Any]]]]] = []
    try:
        for k in range(len(steps)):
            # keep WRITE_AHEAD steps encoding while this one is stored, so the
            # pool never idles at the end of a step waiting for the next to start
            while len(pending) < WRITE_AHEAD and k + len(pending) < len(steps):
                pending.append(start(steps[k + len(pending)]))
            keys, parts = pending.pop(0)()
            if k + len(pending) + 1 < len(steps):
                pending.append(start(steps[k + len(pending) + 1]))
            commit(keys, parts)
            del keys, parts
    finally:
        for waiter in pending:  # storing failed: let the started encoding end before raising
            try:
                waiter()
            except BaseException:  # noqa: BLE001 - the store's error is the one raised
                pass
    return counts[0], counts[1]


def _is_fill(chunk: np.ndarray, fill: Any) -> bool:
    from .engine import is_all_fill

    return is_all_fill(chunk, fill)


def write_orthogonal(
    io: "ChunkIO", plan: OrthogonalPlan, value: np.ndarray, *, write_empty: bool
) -> tuple[int, int]:
    """Write ``value`` (of ``plan.out_shape``, the array's dtype) at the plan's selection.
    Returns (shards stored, shards deleted)."""
    sh = _Shards(io, io.sharding)
    layout = sh.layout
    projs = list(inner_orthogonal_plan(plan, layout.chunk_shape))
    if not projs:
        return 0, 0
    inner_shape = layout.chunk_shape

    def build(j: int, current: Callable[[], np.ndarray]) -> np.ndarray:
        p = projs[j]
        part = get_orthogonal(value, p.out_sel) if p.out_sel else value
        if p.is_whole and not any(isinstance(s, (int, np.integer)) for s in p.chunk_sel):
            chunk = np.ascontiguousarray(part)
            return chunk if chunk.shape == inner_shape else chunk.reshape(inner_shape)
        # an edge chunk wholly covered needs no read: what lies outside the array is fill
        chunk = layout.new_inner() if p.covers_valid else current()
        set_orthogonal(chunk, p.chunk_sel, part)
        return chunk

    return _write(sh, [p.coords for p in projs], [p.covers_valid for p in projs], build, write_empty)


def write_points(
    io: "ChunkIO", plan: PointPlan, values_flat: np.ndarray, *, write_empty: bool
) -> tuple[int, int]:
    """Write the points of a vindex selection of a sharded array."""
    sh = _Shards(io, io.sharding)
    groups = list(inner_point_plan(plan, sh.shape, sh.layout.chunk_shape))

    def build(j: int, current: Callable[[], np.ndarray]) -> np.ndarray:
        g = groups[j]
        chunk = current()
        chunk[g.local] = values_flat[g.positions]
        return chunk

    return _write(sh, [g.coords for g in groups], [False] * len(groups), build, write_empty)
