"""Selection planning: which chunks a selection touches, and where each part goes.

A plan never touches a store. For an orthogonal (or basic) selection it is the
product, axis by axis, of *dimension projections*: for each chunk index along
an axis, the part of that chunk wanted (an int, a slice or an int array) and
where it lands in the output (a slice or an int array; nothing for an int,
whose axis is dropped). For a point (vindex) selection it is the points grouped
by chunk.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SelectionError

Sel = Any  # int | slice | np.ndarray


# ---------------------------------------------------------------------------
# one axis
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DimProjection:
    """One chunk along one axis: what to take from it and where it goes."""

    chunk: int
    chunk_sel: Sel  # int | slice | ndarray of local indices
    out_sel: Sel  # None (axis dropped) | slice | ndarray of output positions
    #: the selection covers every element of the chunk that lies inside the array
    covers_valid: bool
    #: the selection takes the whole stored chunk, in order (not at a ragged edge)
    is_whole: bool


class _Dim:
    """Base of the per-axis indexers."""

    nitems: int
    drop: bool = False

    def projections(self) -> list[DimProjection]:
        raise NotImplementedError


def _chunk_extent(ci: int, dim_len: int, clen: int) -> int:
    return min(clen, dim_len - ci * clen)


class _IntDim(_Dim):
    drop = True
    nitems = 1

    def __init__(self, index: int, dim_len: int, clen: int, axis: int):
        i = int(index)
        if i < -dim_len or i >= dim_len:
            raise SelectionError(
                f"index {index} is out of bounds for axis {axis} with size {dim_len}"
            )
        if i < 0:
            i += dim_len
        self.index = i
        self.dim_len = dim_len
        self.clen = clen

    def projections(self) -> list[DimProjection]:
        ci, local = divmod(self.index, self.clen)
        valid = _chunk_extent(ci, self.dim_len, self.clen)
        return [DimProjection(ci, local, None, valid == 1, self.clen == 1)]


class _SliceDim(_Dim):
    def __init__(self, sl: slice, dim_len: int, clen: int, axis: int):
        if sl.step == 0:
            raise SelectionError(f"slice step cannot be zero (axis {axis})")
        start, stop, step = sl.indices(dim_len)
        self.n = len(range(start, stop, step))
        self.nitems = self.n
        self.dim_len = dim_len
        self.clen = clen
        self.reverse = step < 0
        if self.reverse and self.n:
            # the same elements in ascending order; positions are mirrored below
            start, stop, step = start + (self.n - 1) * step, start + 1, -step
        self.start, self.stop, self.step = start, stop, step

    def projections(self) -> list[DimProjection]:
        n, clen, start, step = self.n, self.clen, self.start, self.step
        if n == 0:
            return []
        last = start + (n - 1) * step
        out: list[DimProjection] = []
        for ci in range(start // clen, last // clen + 1):
            cstart = ci * clen
            cend = min(cstart + clen, self.dim_len)
            lo = max(start, cstart)
            k0 = -(-(lo - start) // step)
            first = start + k0 * step
            if first >= cend or first > last:
                continue
            k1 = min((cend - 1 - start) // step, n - 1)
            lastk = start + k1 * step
            count = k1 - k0 + 1
            chunk_sel = slice(first - cstart, lastk - cstart + 1, step)
            valid = cend - cstart
            covers = step == 1 and first == cstart and count == valid
            if self.reverse:
                hi = n - 1 - k0
                lo_ = n - 1 - k1
                out_sel = slice(hi, lo_ - 1 if lo_ > 0 else None, -1)
            else:
                out_sel = slice(k0, k1 + 1)
            out.append(DimProjection(ci, chunk_sel, out_sel, covers, covers and valid == clen and not self.reverse))
        return out


class _ArrayDim(_Dim):
    def __init__(self, index: np.ndarray, dim_len: int, clen: int, axis: int):
        idx = np.asarray(index)
        if idx.ndim != 1:
            raise SelectionError(
                f"orthogonal integer index for axis {axis} must be one-dimensional, got shape {idx.shape}"
            )
        idx = idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < -dim_len or idx.max() >= dim_len):
            bad = idx[(idx < -dim_len) | (idx >= dim_len)][0]
            raise SelectionError(f"index {bad} is out of bounds for axis {axis} with size {dim_len}")
        if idx.size and idx.min() < 0:
            idx = np.where(idx < 0, idx + dim_len, idx)
        self.idx = idx
        self.nitems = idx.size
        self.dim_len = dim_len
        self.clen = clen

    def projections(self) -> list[DimProjection]:
        idx, clen = self.idx, self.clen
        if idx.size == 0:
            return []
        chunks = idx // clen
        if idx.size > 1 and np.any(chunks[1:] < chunks[:-1]):
            order = np.argsort(chunks, kind="stable")
        else:
            order = None
        sorted_chunks = chunks if order is None else chunks[order]
        bounds = np.flatnonzero(np.diff(sorted_chunks)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [idx.size]))
        out: list[DimProjection] = []
        for s, e in zip(starts.tolist(), ends.tolist()):
            ci = int(sorted_chunks[s])
            if order is None:
                positions: Sel = slice(s, e)
                local = idx[s:e] - ci * clen
            else:
                pos = order[s:e]
                positions = _as_slice(pos) or pos
                local = idx[pos] - ci * clen
            local_sel = _as_slice(local)
            valid = _chunk_extent(ci, self.dim_len, clen)
            covers = (
                local_sel is not None
                and local_sel.start == 0
                and local_sel.stop == valid
                and isinstance(positions, slice)
            )
            out.append(
                DimProjection(ci, local if local_sel is None else local_sel, positions, covers, covers and valid == clen)
            )
        return out


def _as_slice(a: np.ndarray) -> slice | None:
    """A step-1 slice equal to ``a`` when ``a`` is a run of consecutive integers."""
    n = a.size
    if n == 0:
        return None
    first = int(a[0])
    if int(a[-1]) - first != n - 1:
        return None
    if n > 2 and not np.array_equal(a, np.arange(first, first + n)):
        return None
    if n == 2 and int(a[1]) != first + 1:
        return None
    return slice(first, first + n)


# ---------------------------------------------------------------------------
# whole selections
# ---------------------------------------------------------------------------


def _is_integer(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iu"
    )


def _is_array_like(x: Any) -> bool:
    return isinstance(x, (list, np.ndarray)) and not (isinstance(x, np.ndarray) and x.ndim == 0)


def expand_selection(selection: Any, ndim: int) -> tuple[Any, ...]:
    """The selection as a tuple with one entry per axis (Ellipsis expanded, missing axes filled)."""
    if not isinstance(selection, tuple):
        selection = (selection,)
    n_ellipsis = sum(1 for s in selection if s is Ellipsis)
    if n_ellipsis > 1:
        raise SelectionError("a selection may contain at most one Ellipsis")
    for s in selection:
        if s is None:
            raise SelectionError("np.newaxis / None is not supported in a selection; reshape the result instead")
    if n_ellipsis:
        i = next(k for k, s in enumerate(selection) if s is Ellipsis)
        fill = ndim - (len(selection) - 1)
        if fill < 0:
            raise SelectionError(f"too many indices for array: array is {ndim}-dimensional, but {len(selection) - 1} were given")
        selection = selection[:i] + (slice(None),) * fill + selection[i + 1 :]
    if len(selection) > ndim:
        raise SelectionError(
            f"too many indices for array: array is {ndim}-dimensional, but {len(selection)} were given"
        )
    return tuple(selection) + (slice(None),) * (ndim - len(selection))


def _dim_indexer(s: Any, dim_len: int, clen: int, axis: int, allow_arrays: bool) -> _Dim:
    if isinstance(s, slice):
        for v in (s.start, s.stop, s.step):
            if v is not None and not _is_integer(v):
                raise SelectionError(f"slice bounds must be integers or None, got {s!r} on axis {axis}")
        return _SliceDim(s, dim_len, clen, axis)
    if _is_integer(s):
        return _IntDim(int(s), dim_len, clen, axis)
    if _is_array_like(s):
        if not allow_arrays:
            raise SelectionError(
                f"array index on axis {axis} is not allowed in a basic selection; use .oindex or .vindex"
            )
        a = np.asarray(s)
        if a.size == 0 and a.dtype.kind not in "iub":
            a = a.astype(np.int64)
        if a.dtype == bool:
            if a.ndim != 1 or a.shape[0] != dim_len:
                raise SelectionError(
                    f"boolean index on axis {axis} has shape {a.shape}, expected ({dim_len},)"
                )
            return _ArrayDim(np.flatnonzero(a), dim_len, clen, axis)
        if a.dtype.kind not in "iu":
            raise SelectionError(f"index array on axis {axis} must be of integers or booleans, got dtype {a.dtype}")
        return _ArrayDim(a, dim_len, clen, axis)
    raise SelectionError(f"unsupported selection {s!r} on axis {axis}")


def prefix_elements(chunk_sel: tuple[Any, ...], chunk_shape: tuple[int, ...]) -> int:
    """How many elements of a chunk, counted in C order from its start, a
    selection within it needs: one past the flat index of its last element (the
    whole chunk when the selection is empty or the chunk has no axes)."""
    size = math.prod(chunk_shape)
    if not chunk_shape:
        return size
    last = []
    for s, n in zip(chunk_sel, chunk_shape):
        if isinstance(s, slice):
            r = range(*s.indices(n))
            if not r:
                return size
            last.append(max(r[0], r[-1]))
        elif isinstance(s, np.ndarray):
            if not s.size:
                return size
            last.append(int(s.max()))
        else:
            last.append(int(s))
    return int(np.ravel_multi_index(last, chunk_shape)) + 1


@dataclass(frozen=True)
class ChunkProjection:
    """One chunk touched by an orthogonal selection."""

    coords: tuple[int, ...]
    chunk_sel: tuple[Sel, ...]  # one entry per array axis
    out_sel: tuple[Sel, ...]  # one entry per output axis
    #: every in-bounds element of the chunk is selected (a write needs no read)
    covers_valid: bool
    #: the whole stored chunk is selected in order (a read can decode straight into the output)
    is_whole: bool


class OrthogonalPlan:
    """The plan of an orthogonal (or basic) selection."""

    def __init__(self, selection: Any, shape: Sequence[int], chunk_shape: Sequence[int], *, allow_arrays: bool = True):
        sel = expand_selection(selection, len(shape))
        self.dims = [
            _dim_indexer(s, int(n), int(c), axis, allow_arrays)
            for axis, (s, n, c) in enumerate(zip(sel, shape, chunk_shape))
        ]
        self.out_shape = tuple(d.nitems for d in self.dims if not d.drop)
        self.drop = tuple(d.drop for d in self.dims)
        self.n_arrays = sum(isinstance(d, _ArrayDim) for d in self.dims)

    @property
    def nchunks(self) -> int:
        return math.prod(len(d.projections()) for d in self.dims)

    def __iter__(self) -> Iterator[ChunkProjection]:
        per_dim = [d.projections() for d in self.dims]
        for combo in itertools.product(*per_dim):
            yield ChunkProjection(
                tuple(p.chunk for p in combo),
                tuple(p.chunk_sel for p in combo),
                tuple(p.out_sel for p in combo if p.out_sel is not None),
                all(p.covers_valid for p in combo),
                all(p.is_whole for p in combo),
            )


# ---------------------------------------------------------------------------
# applying orthogonal selections to in-memory arrays
# ---------------------------------------------------------------------------


def _split(sel: tuple[Sel, ...]) -> tuple[tuple[Sel, ...], list[tuple[int, np.ndarray]]]:
    """Basic part of ``sel`` (arrays replaced by full slices) and the arrays with
    their axis numbers in the basic result (after ints have dropped axes)."""
    basic: list[Sel] = []
    arrays: list[tuple[int, np.ndarray]] = []
    axis = 0
    for s in sel:
        if isinstance(s, np.ndarray):
            basic.append(slice(None))
            arrays.append((axis, s))
            axis += 1
        else:
            basic.append(s)
            if not _is_integer(s):
                axis += 1
    return tuple(basic), arrays


def get_orthogonal(arr: np.ndarray, sel: tuple[Sel, ...]) -> np.ndarray:
    """``arr`` indexed orthogonally by ``sel`` (ints drop axes; arrays select per axis)."""
    basic, arrays = _split(sel)
    view = arr[basic]
    if not arrays:
        return view
    if len(arrays) == 1:
        ax, a = arrays[0]
        return view[(slice(None),) * ax + (a,)]
    for ax, a in arrays:  # one axis at a time keeps the selection orthogonal
        view = np.take(view, a, axis=ax)
    return view


def set_orthogonal(arr: np.ndarray, sel: tuple[Sel, ...], value: Any) -> None:
    """Assign ``value`` into ``arr`` at the orthogonal selection ``sel``."""
    basic, arrays = _split(sel)
    view = arr[basic]
    if not arrays:
        if isinstance(view, np.ndarray):
            view[...] = value
        else:  # all ints: a scalar position
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value[()]  # else an object array would store the 0-d array itself
            arr[basic] = value
        return
    if len(arrays) == 1:
        ax, a = arrays[0]
        view[(slice(None),) * ax + (a,)] = value
        return
    key: list[Any] = []
    for ax in range(view.ndim):
        key.append(np.arange(view.shape[ax]))
    for ax, a in arrays:
        key[ax] = a
    view[np.ix_(*key)] = value


# ---------------------------------------------------------------------------
# point (vindex) selections
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PointGroup:
    """The points of a vindex selection that fall in one chunk."""

    coords: tuple[int, ...]
    local: tuple[np.ndarray, ...]  # per axis, positions inside the chunk
    #: positions in the flattened output; the int 0 for the one point of a 0-d array, so
    #: that ``chunk[()] = values[0]`` assigns an element, not a one-element array
    positions: np.ndarray | slice | int


class PointPlan:
    """The plan of a coordinate (vindex) selection."""

    def __init__(self, selection: Any, shape: Sequence[int], chunk_shape: Sequence[int]):
        ndim = len(shape)
        if not isinstance(selection, tuple):
            selection = (selection,)
        if len(selection) == 1 and ndim > 1 or (len(selection) == 1 and _is_bool_array(selection[0])):
            s0 = np.asarray(selection[0]) if _is_array_like(selection[0]) else None
            if s0 is not None and s0.dtype == bool:
                if s0.shape != tuple(shape):
                    raise SelectionError(
                        f"boolean mask of shape {s0.shape} does not match the array's shape {tuple(shape)}"
                    )
                selection = tuple(np.nonzero(s0))
        if len(selection) != ndim:
            raise SelectionError(
                f"vindex needs one coordinate array per axis ({ndim}), got {len(selection)}"
            )
        coords: list[np.ndarray] = []
        for axis, (s, n) in enumerate(zip(selection, shape)):
            if isinstance(s, slice):
                raise SelectionError("vindex takes integer coordinate arrays or one boolean mask, not slices; use .oindex")
            a = np.asarray(s)
            if a.dtype == bool:
                raise SelectionError("a boolean mask in vindex must be the only selection and cover the whole array")
            if a.dtype.kind not in "iu":
                if a.size == 0:
                    a = a.astype(np.int64)
                else:
                    raise SelectionError(f"vindex coordinates on axis {axis} must be integers, got dtype {a.dtype}")
            a = a.astype(np.int64, copy=False)
            if a.size and (a.min() < -n or a.max() >= n):
                bad = a[(a < -n) | (a >= n)].flat[0]
                raise SelectionError(f"index {bad} is out of bounds for axis {axis} with size {n}")
            if a.size and a.min() < 0:
                a = np.where(a < 0, a + n, a)
            coords.append(a)
        try:
            bcast = np.broadcast_arrays(*coords) if coords else []
        except ValueError as e:
            raise SelectionError(f"vindex coordinate arrays cannot be broadcast together: {e}") from None
        self.out_shape = tuple(bcast[0].shape) if bcast else ()
        self.flat = [b.reshape(-1) for b in bcast]
        self.chunk_shape = tuple(int(c) for c in chunk_shape)
        self.grid = tuple(-(-int(n) // c) if c else 0 for n, c in zip(shape, self.chunk_shape))

    @property
    def npoints(self) -> int:
        return int(self.flat[0].size) if self.flat else 1

    def __iter__(self) -> Iterator[PointGroup]:
        if not self.flat:
            yield PointGroup((), (), 0)
            return
        cidx = [f // c for f, c in zip(self.flat, self.chunk_shape)]
        linear = np.ravel_multi_index(cidx, self.grid) if self.flat[0].size else np.zeros(0, np.int64)
        order = np.argsort(linear, kind="stable")
        sl = linear[order]
        bounds = np.flatnonzero(np.diff(sl)) + 1
        starts = np.concatenate(([0], bounds)).tolist()
        ends = np.concatenate((bounds, [sl.size])).tolist()
        if sl.size == 0:
            return
        for s, e in zip(starts, ends):
            pos = order[s:e]
            coords = tuple(int(ci[pos[0]]) for ci in cidx)
            local = tuple(f[pos] - c * cs for f, c, cs in zip(self.flat, coords, self.chunk_shape))
            yield PointGroup(coords, local, _as_slice(pos) or pos)


def _is_bool_array(x: Any) -> bool:
    return _is_array_like(x) and np.asarray(x).dtype == bool


# ---------------------------------------------------------------------------
# classifying __getitem__ selections the way zarr-python does
# ---------------------------------------------------------------------------


def selection_kind(selection: Any, ndim: int, name: str = "the array") -> str:
    """``"basic"``, ``"orthogonal"`` or ``"vindex"`` for a plain ``a[...]`` selection.

    The rules are zarr-python's, and give numpy's result wherever zarr-python does:

    - no index arrays: basic;
    - one boolean mask of the array's shape: vindex (a mask selection);
    - one index array (integers or a boolean mask of one axis) among slices and
      integers: orthogonal, the array selecting along its own axis;
    - one integer array or integer per axis, two or more of them arrays, or one
      array of two or more dimensions: vindex, the arrays and integers broadcast
      together into points, as numpy does (``a[i, idx2d]``, or ``b[idx2d]`` on a
      one-dimensional ``b``, has the shape of ``idx2d``);
    - one index array per axis, some of them boolean: orthogonal, each selecting
      along its own axis (zarr-python's rule; numpy would pair them up);
    - any other mix of two or more index arrays with slices, integers, an
      Ellipsis standing for axes or axes left out: refused with a
      :class:`SelectionError` naming ``.oindex`` and ``.vindex``, as zarr-python
      refuses it, since numpy would pair the arrays up where indexing each
      axis on its own crosses them.
    """
    sel = selection if isinstance(selection, tuple) else (selection,)
    arrays = [s for s in sel if _is_array_like(s)]
    if not arrays:
        return "basic"
    if len(sel) == 1 and _is_bool_array(sel[0]) and np.asarray(sel[0]).ndim == ndim and ndim > 1:
        return "vindex"
    entries = [s for s in sel if s is not Ellipsis]
    points = len(entries) == ndim and all(
        _is_integer(s) or (_is_array_like(s) and not _is_bool_array(s)) for s in entries
    )
    if len(arrays) < 2:
        # a single array of one dimension gives the same result per axis, and an
        # orthogonal plan is cheaper; one of more dimensions needs points
        return "vindex" if points and np.ndim(arrays[0]) > 1 else "orthogonal"
    if len(entries) > ndim:
        return "orthogonal"  # the plan reports the excess of indices
    if points:
        return "vindex"
    if len(entries) == ndim and len(arrays) == ndim:
        return "orthogonal"
    raise SelectionError(
        f"the selection {_short(sel)} of array {name} mixes {len(arrays)} index arrays with "
        f"{_mixed_with(sel, ndim)}: numpy pairs the arrays' elements up, indexing each axis on its own "
        "crosses them, so the result would be ambiguous. Use .oindex[...] to select along each axis "
        "on its own, or .vindex[...] with one integer array (or integer) per axis to select points"
    )


def _mixed_with(sel: tuple[Any, ...], ndim: int) -> str:
    parts = []
    if any(isinstance(s, slice) for s in sel):
        parts.append("slices")
    if any(s is Ellipsis for s in sel):
        parts.append("an Ellipsis")
    if any(_is_integer(s) for s in sel):
        parts.append("integers")
    if any(_is_bool_array(s) for s in sel):
        parts.append("boolean arrays")
    if not any(s is Ellipsis for s in sel) and len(sel) < ndim:
        parts.append(f"axes left out ({len(sel)} of {ndim} given)")
    return " and ".join(parts) or "other indices"


def _short(sel: tuple[Any, ...]) -> str:
    """A one-line, bounded description of a selection for messages."""
    out = []
    for s in sel:
        if _is_array_like(s):
            a = np.asarray(s)
            out.append(repr(a.tolist()) if a.size <= 6 else f"<array of shape {a.shape}>")
        elif s is Ellipsis:
            out.append("...")
        elif isinstance(s, slice):
            text = ("" if s.start is None else str(s.start)) + ":" + ("" if s.stop is None else str(s.stop))
            out.append(text if s.step is None else f"{text}:{s.step}")
        else:
            out.append(repr(s))
    return "[" + ", ".join(out) + "]"


def without_ellipsis(selection: Any) -> Any:
    """A selection with its Ellipsis removed: for a vindex selection, where it stands for no axis."""
    if isinstance(selection, tuple):
        return tuple(s for s in selection if s is not Ellipsis)
    return selection


def blocks_to_selection(selection: Any, shape: Sequence[int], chunk_shape: Sequence[int]) -> tuple[slice | int, ...]:
    """Translate a ``.blocks[...]`` selection (chunk indices) into an element selection."""
    sel = expand_selection(selection, len(shape))
    out: list[slice] = []
    for axis, (s, n, c) in enumerate(zip(sel, shape, chunk_shape)):
        nblocks = -(-int(n) // int(c)) if c else 0
        if _is_integer(s):
            b = int(s)
            if b < -nblocks or b >= nblocks:
                raise SelectionError(f"block index {s} is out of bounds for axis {axis} with {nblocks} blocks")
            b %= nblocks
            out.append(slice(b * c, min((b + 1) * c, n)))
        elif isinstance(s, slice):
            if s.step not in (None, 1):
                raise SelectionError(f"block slices must have step 1, got {s!r} on axis {axis}")
            start, stop, _ = s.indices(nblocks)
            stop = max(start, stop)
            out.append(slice(start * c, min(stop * c, n)))
        else:
            raise SelectionError(f"unsupported block selection {s!r} on axis {axis}")
    return tuple(out)
