"""Dask graph builders: read a Zarr array as a dask array, write a dask array into one.

Reading (:func:`from_zarr`) makes one task per stored chunk (per shard, for a
sharded array) or per block of whole stored chunks. The graph is one
``Blockwise`` layer whose per-block argument is computed from the chunk grid
when the graph is materialised, so building it costs the same for ten chunks
as for a million; the :class:`~zarr_engine.Array` handle sits in the graph
once, as its own key, and reopens its store in each worker from URL and
options.

Writing (:func:`to_zarr`) is lock-free. Before any task exists, the writer
proves that every stored chunk (shard) that ``x`` touches is covered by exactly
one dask block; two tasks can then never read-modify-write the same key. When
the proof fails it raises :class:`~zarr_engine.errors.AlignmentError`, or
rechunks ``x`` onto the stored grid when ``align=True``. Metadata is written
once, on the client; tasks only write chunk keys, and a retried task writes the
same bytes again.

Stores that live in one process's memory (``memory://``) cannot be shared with
the worker processes of a ``distributed`` cluster or of dask's multiprocessing
scheduler, and a zip file cannot take writes from several workers at once:
:func:`from_zarr` and :func:`to_zarr` refuse such a store with
:class:`~zarr_engine.errors.StoreError` when the scheduler ``compute()`` would
use runs its tasks elsewhere. Use a local folder or an object store there.
"""

from __future__ import annotations

import math
import os
import sys
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask._task_spec import TaskRef
from dask.array.core import normalize_chunks
from dask.base import tokenize
from dask.blockwise import blockwise as _core_blockwise
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
from dask.layers import ArraySliceDep

from .core.api import _resolve, array_metadata, create_array, open_array
from .core.array import Array
from .core.nodes import display_path
from .errors import (
    AlignmentError,
    ArgumentError,
    DTypeError,
    SelectionError,
    ShapeMismatchError,
    StoreError,
    ZarrEngineError,
)
from .format.metadata import ArrayMetadata
from .storage.base import Store

__all__ = [
    "ChunkSplitWarning",
    "WriteResult",
    "aligned_chunks",
    "check_alignment",
    "from_zarr",
    "to_zarr",
]


class ChunkSplitWarning(UserWarning):
    """Dask chunks asked of :func:`from_zarr` cut through stored chunks, so some
    stored chunks are fetched and decoded by more than one task."""


@dataclass(frozen=True)
class WriteResult:
    """What a :func:`to_zarr` computation did: stored chunks (shards) written,
    and stored chunks found all fill value and therefore deleted rather than stored."""

    chunks_written: int
    chunks_empty: int

    def as_dict(self) -> dict[str, int]:
        return {"chunks_written": self.chunks_written, "chunks_empty": self.chunks_empty}


# ---------------------------------------------------------------------------
# task functions (run in workers)
# ---------------------------------------------------------------------------

_worker_configured = False


def _configure_worker() -> None:
    """Once per process: stop blosc from starting its own threads inside dask worker processes.

    blosc's internal thread pool does not survive ``fork`` and competes with the
    worker's and the engine's threads; in the client process we leave the
    user's setting alone.
    """
    global _worker_configured
    if _worker_configured:
        return
    _worker_configured = True
    if "distributed" not in sys.modules:
        return
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return  # not inside a distributed worker
    try:
        import numcodecs.blosc

        numcodecs.blosc.use_threads = False
    except ImportError:  # pragma: no cover - numcodecs built without blosc
        pass


def _read_block(arr: Array, region: tuple[slice, ...]) -> np.ndarray:
    """Read ``arr[region]`` straight into a freshly allocated block."""
    _configure_worker()
    shape = tuple(s.stop - s.start for s in region)
    out = np.empty(shape, dtype=arr.dtype)
    arr.get_basic_selection(region, out=out)
    return out


def _write_block(block: Any, where: tuple[slice, ...], arr: Array, offsets: tuple[int, ...]) -> np.ndarray:
    """Write one dask block at its place in ``arr``; return its (written, empty) counts
    as an array of shape ``(1,) * ndim + (2,)`` so that a dask sum can add them up."""
    _configure_worker()
    sel = tuple(slice(o + s.start, o + s.stop) for o, s in zip(offsets, where))
    written, empty = arr.write_region(sel, np.asarray(block))
    out = np.empty((1,) * len(offsets) + (2,), dtype=np.int64)
    out[..., 0] = written
    out[..., 1] = empty
    return out


def _summarise(counts: np.ndarray) -> WriteResult:
    counts = np.asarray(counts).reshape(2)
    return WriteResult(int(counts[0]), int(counts[1]))


# ---------------------------------------------------------------------------
# chunk arithmetic
# ---------------------------------------------------------------------------


def _inner_boundaries(sizes: Sequence[int], start: int) -> list[int]:
    """Absolute positions where one non-empty dask block ends and the next begins."""
    nonzero = [int(n) for n in sizes if n]
    out = []
    pos = start
    for n in nonzero[:-1]:
        pos += n
        out.append(pos)
    return out


def check_alignment(
    chunks: Sequence[Sequence[int]],
    stored: Sequence[int],
    offsets: Sequence[int] | None = None,
    *,
    name: str = "the target array",
) -> None:
    """Raise :class:`AlignmentError` unless every stored chunk touched by blocks of
    sizes ``chunks``, placed at ``offsets``, lies within a single block.

    That holds exactly when every boundary between two non-empty blocks falls on
    a multiple of the stored chunk length of its axis; the partial stored chunks
    at the two ends of a region then each have one owner.
    """
    offsets = tuple(offsets) if offsets is not None else (0,) * len(stored)
    for axis, (sizes, c, o) in enumerate(zip(chunks, stored, offsets)):
        for pos in _inner_boundaries(sizes, o):
            if pos % c:
                lo = pos // c * c
                raise AlignmentError(
                    f"axis {axis}: the dask chunk boundary at index {pos - o} of the data (index {pos} of "
                    f"{name}, region starting at {o}) falls inside stored chunk {pos // c}, which spans "
                    f"[{lo}, {lo + c}); stored chunk boundaries on this axis are the multiples of {c}. "
                    f"Two tasks would both write that chunk. Rechunk the data so that its boundaries, "
                    f"shifted by {o}, are multiples of {c}, or pass align=True."
                )


def aligned_chunks(
    chunks: Sequence[Sequence[int]], stored: Sequence[int], offsets: Sequence[int]
) -> tuple[tuple[int, ...], ...]:
    """Dask chunks covering the same extent as ``chunks`` whose boundaries fall on the
    stored grid shifted by ``offsets``, each block about as large as the largest
    block of ``chunks`` (a whole multiple of the stored chunk)."""
    out = []
    for sizes, c, o in zip(chunks, stored, offsets):
        extent = int(sum(sizes))
        if extent == 0:
            out.append((0,))
            continue
        step = c * max(1, round(max(sizes) / c))
        blocks = []
        pos = o
        end = o + extent
        while pos < end:
            nxt = min(end, (pos // step + 1) * step)
            blocks.append(nxt - pos)
            pos = nxt
        out.append(tuple(blocks))
    return tuple(out)


def _splits(chunks: Sequence[Sequence[int]], unit: Sequence[int]) -> list[str]:
    """One description per axis where the dask blocks cut through the ``unit`` grid."""
    bad = []
    for axis, (sizes, c) in enumerate(zip(chunks, unit)):
        cuts = [p for p in _inner_boundaries(sizes, 0) if p % c]
        if cuts:
            bad.append(f"axis {axis}: dask boundary at {cuts[0]} is not a multiple of the stored chunk length {c}")
    return bad


# ---------------------------------------------------------------------------
# where the tasks will run
# ---------------------------------------------------------------------------


def _scheduler_elsewhere() -> tuple[str, bool] | None:
    """How ``compute()`` would run tasks now, unless in threads of this process.

    Returns ``(description, other_processes)``, or None for the threaded and
    synchronous schedulers. A distributed scheduler ships the graph pickled even
    when its workers are threads of this process (``LocalCluster(processes=False)``),
    so every task there holds its own copy of the store.
    """
    configured = dask.config.get("scheduler", None)
    if isinstance(configured, str) and configured.lower() in ("processes", "multiprocessing"):
        return "dask's multiprocessing scheduler", True
    if "distributed" in sys.modules:
        try:
            get = dask.base.get_scheduler()
        except (RuntimeError, ValueError):
            return None  # e.g. "distributed" asked for without a Client: compute() says so itself
    else:
        # no Client can exist, and dask.base.get_scheduler would import distributed to look
        get = configured if callable(configured) else None
    if get is None:
        return None
    if getattr(get, "__module__", None) == "dask.multiprocessing":
        return "dask's multiprocessing scheduler", True
    client = getattr(get, "__self__", None)
    if client is None or "Client" not in type(client).__name__:
        return None
    address = str(getattr(getattr(client, "scheduler", None), "address", None) or "")
    return f"the distributed scheduler at {address or 'an unknown address'}", not address.startswith("inproc://")


def _declares(store: Store, flag: str, value: bool) -> bool:
    """Whether ``store``, or a store it wraps (``.inner``), has ``flag`` set to ``value``."""
    seen = 0
    while isinstance(store, Store) and seen < 16:
        if getattr(store, flag, not value) == value:
            return True
        store, seen = getattr(store, "inner", None), seen + 1
    return False


def _check_reachable(store: Store, what: str, writing: bool) -> None:
    """Refuse, before a task exists, a store that the scheduler's tasks cannot use.

    The scheduler is the one ``compute()`` would use now (a graph computed
    later elsewhere is caught when the store is unpickled, for ``memory://``).
    """
    elsewhere = _scheduler_elsewhere()
    if elsewhere is None:
        return
    scheduler, other_processes = elsewhere
    if other_processes and _declares(store, "process_local", True):
        lost = "the data written would be lost" if writing else "the reads would return fill values"
        raise StoreError(
            f"{what}: {store!r} lives in the memory of this process, and the tasks of {scheduler} run in "
            f"other processes, which each see their own, empty store ({lost}). Use a store every worker "
            f"can reach (a local folder, S3, ...), or dask's threaded scheduler: build and compute the graph "
            f"under dask.config.set(scheduler='threads')"
        )
    if writing and _declares(store, "supports_concurrent_writers", False):
        raise StoreError(
            f"{what}: {store!r} cannot take writes from several workers at once (each would append to the "
            f"file on its own, and chunks would be lost), and the tasks of {scheduler} each open it anew. "
            f"Write to a local folder and zip it afterwards, or use dask's threaded scheduler: build and "
            f"compute the graph under dask.config.set(scheduler='threads')"
        )


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------


def _open_source(source: Any, path: str | None, storage_options: dict[str, Any] | None) -> Array:
    if isinstance(source, Array):
        if path is not None or storage_options:
            raise ArgumentError(
                f"from_zarr({source.name} in {source.store!r}): path= and storage_options= apply to a URL or "
                f"path source, not to an Array"
            )
        return source
    return open_array(source, mode="r", path=path, storage_options=storage_options)


def _read_chunks(arr: Array, chunks: Any) -> tuple[tuple[int, ...], ...]:
    stored = tuple(arr.metadata.chunk_shape)
    shape = arr.shape
    if chunks is None:
        return normalize_chunks(stored, shape)
    if isinstance(chunks, str) and chunks == "auto":
        if arr.dtype.kind == "O":  # dask cannot size object blocks; keep the stored grid
            return normalize_chunks(stored, shape)
        # dask's "auto" with previous_chunks picks whole multiples of them near array.chunk-size
        return normalize_chunks("auto", shape, dtype=arr.dtype, previous_chunks=stored)
    try:
        result = normalize_chunks(chunks, shape, dtype=arr.dtype)
    except (ValueError, TypeError, ZeroDivisionError) as e:
        raise ArgumentError(f"from_zarr({arr.name} in {arr.store!r}): chunks={chunks!r} cannot be used for "
                            f"shape {shape}: {e}") from None
    if any(c <= 0 for axis, n in zip(result, shape) if n for c in axis):
        # dask turns some of these (a negative length other than -1) into blocks of negative size
        raise ArgumentError(f"from_zarr({arr.name} in {arr.store!r}): chunks={chunks!r} gives blocks of no or "
                            f"negative size {result} for shape {shape}; use positive lengths, or -1 for a whole axis")
    # The decode unit is the (inner) chunk: cutting a shard between inner chunks
    # costs nothing extra, cutting a chunk makes two tasks decode it.
    bad = _splits(result, arr.chunks)
    if bad:
        warnings.warn(
            f"from_zarr({arr.name} in {arr.store!r}): the requested chunks split stored chunks of {arr.chunks}, so those "
            f"are read and decoded by more than one task ({'; '.join(bad)})",
            ChunkSplitWarning,
            stacklevel=3,
        )
    return result


def _identity(arr: Array) -> Any:
    """What names an array's content for dask's key tokens (store, path, metadata)."""
    try:
        where = (type(arr.store).__name__, arr.store.url)
    except NotImplementedError:
        where = uuid.uuid4().hex  # a store without a URL: never share keys with another graph
    return where, arr.path, arr.metadata


def from_zarr(
    source: Array | str | os.PathLike[str] | Any,
    chunks: Any = None,
    *,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    name: str | None = None,
    inline_array: bool = False,
) -> da.Array:
    """A dask array over a Zarr array, reading with zarr_engine in every task.

    ``source`` is an :class:`~zarr_engine.Array`, a path or URL (``path`` is
    the array's path inside it, ``storage_options`` go to fsspec).
    ``chunks=None`` gives one task per stored chunk (per shard for a sharded
    array); ``"auto"`` picks whole multiples of the stored chunks near dask's
    ``array.chunk-size``; explicit chunks are accepted in any form dask knows,
    with a :class:`ChunkSplitWarning` when they cut stored chunks.
    ``inline_array=True`` embeds the array handle in every task instead of
    keeping it as one key of the graph.

    A ``memory://`` array is refused (:class:`~zarr_engine.errors.StoreError`)
    when the scheduler ``compute()`` would now use runs its tasks in other
    processes, which cannot see this process's memory.
    """
    arr = _open_source(source, path, storage_options)
    _check_reachable(arr.store, f"from_zarr of array {arr.name}", writing=False)
    dchunks = _read_chunks(arr, chunks)
    token = tokenize(_identity(arr), dchunks)
    if name is None:
        name = f"from-zarr-{token}"
    out_ind = tuple(range(arr.ndim))
    slices = ArraySliceDep(dchunks)
    if inline_array:
        layer = _core_blockwise(
            _read_block, name, out_ind, arr, None, slices, out_ind, numblocks={}, _data_producer=True
        )
        graph = HighLevelGraph.from_collections(name, layer)
    else:
        handle = f"zarr-array-{token}"
        layer = _core_blockwise(
            _read_block, name, out_ind, TaskRef(handle), None, slices, out_ind, numblocks={}, _data_producer=True
        )
        graph = HighLevelGraph(
            {handle: MaterializedLayer({handle: arr}), name: layer}, {handle: set(), name: {handle}}
        )
    meta = np.empty((0,) * arr.ndim, dtype=arr.dtype)
    return da.Array(graph, name, dchunks, meta=meta)


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _normalize_region(region: Any, shape: tuple[int, ...], name: str) -> tuple[slice, ...]:
    """``region`` as one ``slice(start, stop)`` per axis, resolved against ``shape``."""
    if region is None:
        return tuple(slice(0, n) for n in shape)
    if isinstance(region, slice):
        region = (region,)
    if not isinstance(region, tuple):
        raise SelectionError(f"region for {name} must be a tuple of slices, got {type(region).__name__}")
    if len(region) > len(shape):
        raise SelectionError(f"region {region!r} has {len(region)} slices but {name} has {len(shape)} dimensions")
    region = region + (slice(None),) * (len(shape) - len(region))
    out = []
    for axis, (s, n) in enumerate(zip(region, shape)):
        if not isinstance(s, slice):
            raise SelectionError(f"region for {name}: axis {axis} must be a slice, got {s!r}")
        start, stop, step = s.indices(n)
        if step != 1:
            raise SelectionError(f"region for {name}: axis {axis} slice {s!r} must have step 1")
        if (s.start is not None and not -n <= s.start <= n) or (s.stop is not None and not -n <= s.stop <= n):
            raise SelectionError(f"region for {name}: axis {axis} slice {s!r} is out of bounds for length {n}")
        out.append(slice(start, max(start, stop)))
    return tuple(out)


def _where(arr: Array) -> str:
    return f"array {arr.name} in {arr.store!r}"


def _describe(target: Any) -> str:
    return _where(target) if isinstance(target, Array) else repr(target)


def _regular(chunks: tuple[tuple[int, ...], ...]) -> bool:
    return all(len(set(c[:-1])) <= 1 and (len(c) < 2 or c[-1] <= c[0]) for c in chunks)


def _new_metadata(target: Any, path: str | None, shape: tuple[int, ...], kw: dict[str, Any]) -> ArrayMetadata:
    """The metadata ``create_array(target, path=path, shape=shape, **kw)`` would write, built
    without touching any store: every creation argument is checked here, first."""
    what = f"to_zarr into {target}" + (f" (path {path!r})" if path else "")
    if "data" in kw:
        raise ArgumentError(f"{what}: data= is not an argument of to_zarr; the dask array is the data")
    try:
        return array_metadata(path or "", shape=shape, **kw)
    except ZarrEngineError as e:
        e.args = (f"{what}: {e}",)
        raise
    except TypeError as e:  # an unknown or repeated argument
        raise ArgumentError(f"{what}: {e}") from None


def _check_dtype(x: da.Array, dtype: np.dtype, name: str) -> None:
    """Refuse, before any task runs (and before a new array is created), a dask
    dtype the array's ``dtype`` cannot take without losing information (complex
    into real, text into numbers), as ``arr[...] = value`` refuses it; values out
    of range are checked per block, as each is written."""
    from .core.array import _check_cast

    try:
        _check_cast(np.dtype(x.dtype), np.dtype(dtype))
    except TypeError as e:
        raise DTypeError(
            f"cannot store a dask array of dtype {x.dtype} and shape {tuple(x.shape)} in array {name} "
            f"of dtype {dtype}: {e}"
        ) from None


def _prepare(
    x: da.Array,
    target: Any,
    region: Any,
    align: bool,
    path: str | None,
    storage_options: dict[str, Any] | None,
    overwrite: bool,
    create_kwargs: dict[str, Any],
) -> tuple[da.Array, Array, tuple[int, ...]]:
    """Open or create the target, check or fix alignment; return (data, array, region offsets).

    Everything that can be refused is refused here, on the client, before a task
    exists; a new array's metadata is written only once its creation arguments,
    the alignment proof and the scheduler's reach are checked.
    """
    if isinstance(target, Array) or region is not None:
        if create_kwargs or overwrite:
            given = ", ".join(sorted(create_kwargs)) or "overwrite"
            raise ArgumentError(
                f"to_zarr into {_describe(target)}: creation arguments ({given}) and overwrite= apply only when "
                f"to_zarr creates a new array (a path or URL target without region=)"
            )
        if isinstance(target, Array) and (path is not None or storage_options):
            raise ArgumentError(
                f"to_zarr into {_where(target)}: path= and storage_options= apply to a URL or path target, "
                f"not to an Array"
            )
        arr = target if isinstance(target, Array) else open_array(
            target, mode="r+", path=path, storage_options=storage_options
        )
        sel = _normalize_region(region, arr.shape, arr.name)
        want = tuple(s.stop - s.start for s in sel)
        if want != tuple(x.shape):
            raise ShapeMismatchError(
                f"cannot write data of shape {tuple(x.shape)} to region {sel} (shape {want}) of {arr.name} "
                f"with shape {arr.shape}"
            )
        offsets = tuple(s.start for s in sel)
        _check_dtype(x, arr.dtype, arr.name)
        x = _align_or_check(x, tuple(arr.metadata.chunk_shape), offsets, align, _where(arr))
        _check_reachable(arr.store, f"to_zarr into array {arr.name}", writing=True)
        return x, arr, offsets

    kw = dict(create_kwargs)
    if "name" in kw:  # create_array's other spelling of path
        name = kw.pop("name")
        path = name if path is None else path
    kw.setdefault("dtype", x.dtype)
    if "chunks" not in kw:
        # a regular dask chunking is the natural stored grid; otherwise the largest block,
        # which the alignment check (or align=True) then deals with
        kw["chunks"] = tuple(max(1, c[0] if _regular(x.chunks) else max(c)) for c in x.chunks) if x.ndim else ()
    zero = (0,) * x.ndim
    # the creation arguments are checked, and the stored grid known, before any store is opened
    meta = _new_metadata(target, path, tuple(x.shape), kw)
    _check_dtype(x, meta.dtype, str(target))
    x = _align_or_check(x, tuple(meta.chunk_shape), zero, align, str(target))
    store, node = _resolve(target, "a", storage_options, path)
    _check_reachable(store, f"to_zarr into array {display_path(node)}", writing=True)
    arr = create_array(store, path=node, shape=x.shape, overwrite=overwrite, **kw)
    return x, arr, zero


def _align_or_check(x: da.Array, stored: tuple[int, ...], offsets: tuple[int, ...], align: bool, name: str) -> da.Array:
    if align:
        new = aligned_chunks(x.chunks, stored, offsets)
        return x if new == x.chunks else x.rechunk(new)
    check_alignment(x.chunks, stored, offsets, name=name)
    return x


def to_zarr(
    x: Any,
    target: Array | str | os.PathLike[str] | Any,
    *,
    region: tuple[slice, ...] | None = None,
    compute: bool = True,
    align: bool = False,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    **create_kwargs: Any,
) -> WriteResult | Delayed:
    """Write the dask array ``x`` into a Zarr array, one task per dask block, without locks.

    ``target`` is an existing :class:`~zarr_engine.Array`, or a path/URL where a
    new array is created on the client, before any task runs, with
    ``create_kwargs`` (``chunks``, ``shards``, ``dtype``, ``compressors``,
    ``zarr_format``, ``fill_value``, ...; ``chunks`` defaults to ``x``'s dask
    chunks). With ``region`` (a tuple of slices) ``x`` fills that part of an
    existing array, so that separate computations can fill one array.

    Raises :class:`~zarr_engine.errors.AlignmentError` when two dask blocks
    would share a stored chunk (a shard, for a sharded array), unless
    ``align=True``, which rechunks ``x`` onto the stored grid first; and
    :class:`~zarr_engine.errors.StoreError` when the scheduler ``compute()``
    would use now cannot write the store (``memory://`` with worker processes, a
    zip file with a ``distributed`` or multiprocessing scheduler). Everything
    is checked before anything is written.
    Returns a :class:`WriteResult`, or with ``compute=False`` a
    :class:`dask.delayed.Delayed` computing one.
    """
    if not isinstance(x, da.Array):
        x = da.asarray(x)
    for axis, sizes in enumerate(x.chunks):
        if any(math.isnan(n) for n in sizes):
            raise ArgumentError(
                f"to_zarr into {_describe(target)}: the dask array's chunk sizes along axis {axis} are unknown (NaN), "
                f"as after boolean indexing, so neither its shape nor where each block goes is known. Call "
                f"x.compute_chunk_sizes() first"
            )
    x, arr, offsets = _prepare(x, target, region, align, path, storage_options, overwrite, create_kwargs)
    arr._check_writable()
    ndim = x.ndim
    out_ind = tuple(range(ndim))
    handle = dask.delayed(arr, pure=True, name=f"zarr-target-{tokenize(_identity(arr), uuid.uuid4().hex)}")
    # the write layer is blockwise over x, so dask fuses it with x's own tasks
    stats = da.blockwise(
        _write_block,
        out_ind + (ndim,),
        x,
        out_ind,
        ArraySliceDep(x.chunks),
        out_ind,
        handle,
        None,
        offsets,
        None,
        new_axes={ndim: 2},
        align_arrays=False,  # x and its slice dependency share one chunking by construction
        adjust_chunks={i: 1 for i in out_ind},
        dtype=np.int64,
        meta=np.empty((0,) * (ndim + 1), dtype=np.int64),
        token="to-zarr",
    )
    counts = stats.sum(axis=out_ind) if ndim else stats
    # to_delayed applies the array optimisations (blockwise fusion), so each block of
    # x is computed in the task that writes it rather than shipped between workers
    (summed,) = counts.to_delayed(optimize_graph=True).ravel()
    result = dask.delayed(_summarise, pure=False)(summed)
    if compute:
        return result.compute()
    return result
