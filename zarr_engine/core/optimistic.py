"""Optimistic writes: read-modify-write of chunks that never loses a concurrent update.

The default write path reads a partly covered chunk, patches it and stores it
back. Two writers doing that to the same chunk at once can each overwrite the
other's patch. This path instead reads each chunk together with its version
(:meth:`Store.get_versioned`), applies its patch and stores the result with
:meth:`Store.set_if`; when another writer got there first the store raises
:class:`ConflictError` and the chunk is read, patched and tried again. Each
chunk is thus updated as if the writers had taken turns. Chunks are
independent: a write spanning several chunks is not atomic as a whole.

Only stores with ``supports_conditional_writes`` offer this, and only writers
that all use it are protected from one another (a plain write may still
overwrite an optimistic one on stores whose ``set`` does not take part in the
compare-and-set, such as :class:`LocalStore`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConflictError
from ..storage.retry import backoff
from .engine import ChunkIO, _encode_or_drop
from .indexing import OrthogonalPlan, PointPlan, get_orthogonal, set_orthogonal
from .pool import run_indexed

#: Attempts per chunk before a write gives up with ConflictError.
MAX_ATTEMPTS = 200


def update_chunk(
    io: ChunkIO,
    key: str,
    patch: Callable[[np.ndarray], None],
    *,
    write_empty: bool,
    whole: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
) -> bool:
    """Apply ``patch`` to the chunk at ``key`` with compare-and-set, retrying on conflict.

    ``whole``: the patch overwrites every valid element, so the old value is
    not decoded (its version is still compared). Returns True when a value was
    stored, False when nothing needed storing (an absent chunk left all fill).
    """
    store = io.store
    for attempt in range(max_attempts):
        old, version = store.get_versioned(key)
        chunk = io.decode_writable(old, key) if old is not None and not whole else io.new_chunk()
        patch(chunk)
        _, encoded = _encode_or_drop(io, chunk, key, write_empty)
        if encoded is None:
            if old is None:
                return False  # absent and still all fill: already what it should be
            # Deleting is not conditional on every store; store the fill chunk
            # instead so the update still takes part in the compare-and-set.
            encoded = io.chain.encode(chunk)
        try:
            store.set_if(key, _as_bytes(encoded), expected=version)
            return True
        except ConflictError:
            # Another writer updated the chunk since we read it: back off a
            # little (full jitter) so contenders stop colliding, then redo.
            time.sleep(backoff(attempt, 0.0005, 0.05))
    raise ConflictError(f"chunk {key!r}: still conflicting after {max_attempts} attempts; giving up")


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).tobytes()
    return bytes(memoryview(data).cast("B"))


def write_orthogonal(io: ChunkIO, plan: OrthogonalPlan, value: np.ndarray, *, write_empty: bool) -> tuple[int, int]:
    """Optimistic twin of :func:`engine.write_orthogonal`. Returns (chunks stored, chunks untouched)."""
    projs = list(plan)
    keys = [io.key(p.coords) for p in projs]

    def one(i: int) -> bool:
        p = projs[i]
        part = get_orthogonal(value, p.out_sel) if p.out_sel else value

        def patch(chunk: np.ndarray) -> None:
            set_orthogonal(chunk, p.chunk_sel, part)

        return update_chunk(io, keys[i], patch, write_empty=write_empty, whole=p.covers_valid)

    stored = run_indexed(one, len(projs)) if projs else []
    written = sum(1 for s in stored if s)
    return written, len(stored) - written


def write_points(io: ChunkIO, plan: PointPlan, values_flat: np.ndarray, *, write_empty: bool) -> tuple[int, int]:
    """Optimistic twin of :func:`engine.write_points`."""
    groups = list(plan)
    keys = [io.key(g.coords) for g in groups]

    def one(i: int) -> bool:
        g = groups[i]

        def patch(chunk: np.ndarray) -> None:
            chunk[g.local] = values_flat[g.positions]

        return update_chunk(io, keys[i], patch, write_empty=write_empty)

    stored = run_indexed(one, len(groups)) if groups else []
    written = sum(1 for s in stored if s)
    return written, len(stored) - written


def require_conditional(store: Any, where: str) -> None:
    """Raise StoreError unless ``store`` can do compare-and-set."""
    from ..errors import StoreError

    if not getattr(store, "supports_conditional_writes", False):
        raise StoreError(
            f"{where}: optimistic writes need a store with conditional writes "
            f"(local folder, SQLite, memory); {store!r} has none"
        )
