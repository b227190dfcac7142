"""An opt-in cache of decoded chunks, kept by an :class:`~zarr_engine.core.array.Array`
(or shared by the variables of one xarray dataset).

Off unless asked for (``open_array(..., chunk_cache_bytes=N)``). With it, a
chunk (or a sharded array's inner chunk) that a read wants only in part is
decoded whole and kept, so that the next selections in it cost a copy instead
of a fetch and a decode: reading a time series point by point, stepping
through the planes of a deep chunk, or a viewer asking for overlapping
windows. Coordinate selections (``vindex``) keep every chunk they touch.

A chunk a read wants whole (all of it that lies inside the array) is served
from the cache when there, and otherwise decoded as without a cache and not
kept: keeping it would cost a copy for every chunk of a large read, and evict
the small working set the cache is for. Box reads over many small chunks
(core/tiled.py) read the store as without a cache.

Without a cache a read decodes a zstd chunk only as far as its last wanted
element; with one, a chunk is decoded whole the first time. Keeping only the
decoded front of a chunk instead (and decoding it whole when a read came back
for more) was measured on random 32x32x32 windows (benchmarks/bench_cache.py):
8% faster when the cache held a quarter of the array, but 25-30% slower on the
first pass when it held all of it (a chunk then decoded twice), which is what
a cache is for.

Reads of the same chunk from several threads (dask tasks smaller than the
stored chunks, say) share what is kept; two that miss a chunk at the same
moment both read and decode it, and the second to finish replaces the first.

What is kept is what the arrays using the cache read. Their own writes,
resizes and appends empty it when they finish, and a read that was running
meanwhile does not put what it decoded back (each read notes the cache's
generation when it starts). Writes by another process, or through an
``Array`` object without this cache, are not seen: turn the cache on for data
that nobody else changes while you read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ..errors import ArgumentError
from .indexing import get_orthogonal, set_orthogonal


def cache_budget(value: Any, where: str) -> int:
    """``chunk_cache_bytes`` checked: a whole number of bytes, 0 (off) or more."""
    if value is None or value is False:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{where}: chunk_cache_bytes must be a whole number of bytes, got {value!r}")
    if value < 0:
        raise ArgumentError(f"{where}: chunk_cache_bytes must be 0 (no cache) or more, got {value}")
    return int(value)


class ChunkCache:
    """Decoded chunks by key, least recently used first out, at most ``max_bytes`` in all.

    Thread-safe: the engine's pool threads put while the caller's thread gets.
    Kept arrays are read-only; a chunk larger than the whole budget is never kept.
    Sizes are numpy's ``nbytes``: for strings and other objects that counts the
    references, not the objects they point to.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def generation(self) -> int:
        """Changes whenever the cache is emptied; a read passes what it saw at its start to :meth:`put`."""
        return self._generation

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            chunk = self._items.get(key)
            if chunk is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return chunk

    def put(self, key: Hashable, chunk: np.ndarray, generation: int) -> None:
        """Keep ``chunk`` (which the caller hands over: it is made read-only), unless the
        cache was emptied since ``generation`` or the chunk alone exceeds the budget."""
        size = chunk.nbytes
        if size > self.max_bytes:
            return
        chunk.flags.writeable = False
        with self._lock:
            if generation != self._generation:
                return
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[key] = chunk
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0
            self._generation += 1

    def __repr__(self) -> str:
        return (f"ChunkCache({len(self._items)} chunks, {self.nbytes} of {self.max_bytes} bytes, "
                f"{self.hits} hits, {self.misses} misses)")


def serve_cached(cache: ChunkCache, items: Sequence[Any], keys: Sequence[Hashable], out: np.ndarray, *,
                 points: bool = False) -> list[int]:
    """Copy into ``out`` what each item wants of its chunk, where ``cache`` holds
    that chunk; return the positions of the other items, which the caller still
    has to read. Items are chunk projections of an orthogonal selection, or with
    ``points`` the per-chunk groups of a coordinate selection (``out`` flat)."""
    left = []
    for i, (item, key) in enumerate(zip(items, keys)):
        chunk = cache.get(key)
        if chunk is None:
            left.append(i)
        elif points:
            out[item.positions] = chunk[item.local]
        else:
            set_orthogonal(out, item.out_sel, get_orthogonal(chunk, item.chunk_sel))
    return left
