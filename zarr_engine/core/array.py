"""``Array``: one Zarr array in a store, read and written with numpy semantics."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import DTypeError, ReadOnlyError, SelectionError, ShapeMismatchError
from ..format.metadata import ArrayMetadata
from ..storage.base import Store
from . import engine
from . import optimistic as optimistic_writes
from .cache import ChunkCache, cache_budget
from .engine import ChunkIO
from .indexing import OrthogonalPlan, PointPlan, blocks_to_selection, selection_kind, without_ellipsis
from .nodes import Node, display_path, prefix_of, read_metadata, write_metadata
from .pool import BATCH_BYTES, run_indexed


class Array(Node):
    """A Zarr array (format 2 or 3).

    Picklable as (store, path, metadata): the store pickles as its URL and
    options, so an ``Array`` can be shipped to dask workers, where it reopens
    its store lazily.

    ``chunk_cache_bytes=N`` keeps up to N bytes of decoded chunks that reads
    wanted only in part, for the next reads in the same chunks (see
    :mod:`zarr_engine.core.cache`; :attr:`chunk_cache` shows its hits). A
    pickled copy has a cache of the same size, empty.
    """

    def __init__(
        self,
        store: Store,
        path: str,
        metadata: ArrayMetadata,
        *,
        write_empty_chunks: bool = False,
        optimistic: bool = False,
        chunk_cache_bytes: int = 0,
    ) -> None:
        budget = cache_budget(chunk_cache_bytes, f"array {display_path(path)}")
        self._store = store
        self._path = path
        self._meta = metadata
        self._write_empty = bool(write_empty_chunks)
        # optimistic: data writes use compare-and-set per chunk (core/optimistic.py)
        self._optimistic = bool(optimistic)
        if self._optimistic:
            optimistic_writes.require_conditional(store, f"array {display_path(path)}")
        self._io_cache: ChunkIO | None = None
        self._chunk_cache = ChunkCache(budget) if budget else None

    # -- construction / pickling ---------------------------------------------
    @classmethod
    def open(cls, store: Store, path: str = "", *, zarr_format: int | None = None, **kwargs: Any) -> "Array":
        from ..errors import NodeTypeError

        meta = read_metadata(store, path, zarr_format=zarr_format)
        if not isinstance(meta, ArrayMetadata):
            raise NodeTypeError(f"the node at {display_path(path)} is a group, not an array")
        return cls(store, path, meta, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        cache = self._chunk_cache
        return (_rebuild, (self._store, self._path, self._meta, self._write_empty, self._optimistic,
                           cache.max_bytes if cache is not None else 0))

    @property
    def _io(self) -> ChunkIO:
        io = self._io_cache
        if io is None:
            io = self._io_cache = ChunkIO.for_array(self._store, self._path, self._meta)
            io.cache = self._chunk_cache
        return io

    @property
    def chunk_cache(self) -> ChunkCache | None:
        """The decoded-chunk cache (``chunk_cache_bytes``), or None when off."""
        return self._chunk_cache

    def _sharing_cache(self, cache: ChunkCache) -> "Array":
        """This array again, keeping its chunks in ``cache``, which other arrays of the
        same store may share: keys are whole store keys, so they never collide, and
        any of them writing empties it for all."""
        twin = Array(self._store, self._path, self._meta, write_empty_chunks=self._write_empty,
                     optimistic=self._optimistic)
        twin._chunk_cache = cache
        return twin

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Around every change to the stored chunks or the shape: afterwards the
        cache is emptied, also when the change failed part-way."""
        try:
            yield
        finally:
            if self._chunk_cache is not None:
                self._chunk_cache.clear()

    # -- properties ----------------------------------------------------------
    @property
    def metadata(self) -> ArrayMetadata:
        return self._meta

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._meta.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._meta.dtype

    @property
    def ndim(self) -> int:
        return len(self._meta.shape)

    @property
    def size(self) -> int:
        return math.prod(self._meta.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        """Size of the array's data in memory, uncompressed."""
        return self.size * self.dtype.itemsize

    @property
    def sharding(self) -> dict[str, Any] | None:
        """The ``sharding_indexed`` codec spec when the array is sharded, else None."""
        for spec in self._meta.codecs:
            if spec["name"] == "sharding_indexed":
                return spec
        return None

    @property
    def chunks(self) -> tuple[int, ...]:
        """The chunk shape: the inner chunks of a sharded array, as in zarr-python."""
        sh = self.sharding
        if sh is not None:
            return tuple(sh["configuration"]["chunk_shape"])
        return tuple(self._meta.chunk_shape)

    @property
    def shards(self) -> tuple[int, ...] | None:
        return tuple(self._meta.chunk_shape) if self.sharding is not None else None

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of chunks (inner chunks, for a sharded array) along each axis."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks))

    @property
    def nchunks(self) -> int:
        return math.prod(self.cdata_shape)

    @property
    def fill_value(self) -> Any:
        return self._meta.fill_value

    @property
    def order(self) -> str:
        return self._meta.order

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        return self._meta.dimension_names

    @property
    def write_empty_chunks(self) -> bool:
        return self._write_empty

    @property
    def filters(self) -> tuple[dict[str, Any], ...]:
        return _codec_roles(self._meta)[0]

    @property
    def serializer(self) -> dict[str, Any] | None:
        return _codec_roles(self._meta)[1]

    @property
    def compressors(self) -> tuple[dict[str, Any], ...]:
        return _codec_roles(self._meta)[2]

    def __repr__(self) -> str:
        return f"<zarr_engine.Array {self._store!r}{self.name} shape={self.shape} dtype={self.dtype}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Array):
            return NotImplemented
        return self._store == other._store and self._path == other._path and self._meta == other._meta

    __hash__ = None  # type: ignore[assignment]

    # -- reading -------------------------------------------------------------
    def __getitem__(self, selection: Any) -> Any:
        """Read a selection, as zarr-python does: slices and integers (basic); one index
        array among them, selecting along its own axis (orthogonal); one integer array or
        integer per axis, broadcast together into points (vindex). Several index arrays
        beside slices are refused: say ``.oindex`` or ``.vindex`` (see
        :func:`.indexing.selection_kind`). ``a[sel] = value`` follows the same rules."""
        kind = selection_kind(selection, self.ndim, self.name)
        if kind == "vindex":
            return self.get_coordinate_selection(without_ellipsis(selection))
        if kind == "orthogonal":
            return self.get_orthogonal_selection(selection)
        return self.get_basic_selection(selection)

    def get_basic_selection(self, selection: Any = Ellipsis, *, out: np.ndarray | None = None) -> Any:
        return self._read_orthogonal(selection, out, allow_arrays=False)

    def get_orthogonal_selection(self, selection: Any, *, out: np.ndarray | None = None) -> Any:
        return self._read_orthogonal(selection, out, allow_arrays=True)

    def get_coordinate_selection(self, selection: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        plan = self._point_plan(selection)
        result = self._out_array(plan.out_shape, out)
        flat = result.reshape(-1)
        if not np.shares_memory(flat, result) and flat.size:
            raise SelectionError("out= must be C-contiguous for a coordinate selection")
        engine.read_points(self._io, plan, flat)
        return result

    def get_mask_selection(self, mask: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """The elements where the boolean array ``mask`` (of the array's shape) is true, in C order."""
        return self.get_coordinate_selection(mask, out=out)

    def get_block_selection(self, selection: Any, *, out: np.ndarray | None = None) -> Any:
        """Whole chunks (inner chunks, for a sharded array) by grid index: ``a.blocks[selection]``."""
        return self.get_basic_selection(self._block_region(selection), out=out)

    def _read_orthogonal(self, selection: Any, out: np.ndarray | None, *, allow_arrays: bool) -> Any:
        plan = self._orthogonal_plan(selection, allow_arrays)
        result = self._out_array(plan.out_shape, out)
        engine.read_orthogonal(self._io, plan, result)
        if result.ndim == 0 and out is None and not _has_ellipsis(selection):
            return result[()]
        return result

    # The planners know shapes, not nodes: the array's name is added to what they refuse.
    def _orthogonal_plan(self, selection: Any, allow_arrays: bool) -> OrthogonalPlan:
        with self._naming_selection_errors():
            return OrthogonalPlan(selection, self.shape, self._meta.chunk_shape, allow_arrays=allow_arrays)

    def _point_plan(self, selection: Any) -> PointPlan:
        with self._naming_selection_errors():
            return PointPlan(selection, self.shape, self._meta.chunk_shape)

    def _block_region(self, selection: Any) -> tuple[slice | int, ...]:
        with self._naming_selection_errors():
            return blocks_to_selection(selection, self.shape, self.chunks)

    @contextmanager
    def _naming_selection_errors(self) -> Iterator[None]:
        try:
            yield
        except SelectionError as e:
            raise SelectionError(f"array {self.name}: {e}") from None

    def _out_array(self, shape: tuple[int, ...], out: np.ndarray | None) -> np.ndarray:
        if out is None:
            return engine.allocate(shape, self.dtype, f"reading {self.name}")
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != self.dtype:
            raise SelectionError(
                f"out= must be a numpy array of shape {shape} and dtype {self.dtype} for {self.name}"
            )
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self[...]
        a = np.asarray(a)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __iter__(self) -> Any:
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        for i in range(self.shape[0]):
            yield self[i]

    @property
    def oindex(self) -> "_OIndex":
        return _OIndex(self)

    @property
    def vindex(self) -> "_VIndex":
        return _VIndex(self)

    @property
    def blocks(self) -> "_Blocks":
        return _Blocks(self)

    # -- writing -------------------------------------------------------------
    def _check_writable(self) -> None:
        if self._store.read_only:
            raise ReadOnlyError(f"array {self.name} is read-only (store {self._store!r}); cannot write")

    def __setitem__(self, selection: Any, value: Any) -> None:
        kind = selection_kind(selection, self.ndim, self.name)
        if kind == "vindex":
            self.set_coordinate_selection(without_ellipsis(selection), value)
        elif kind == "orthogonal":
            self.set_orthogonal_selection(selection, value)
        else:
            self.set_basic_selection(selection, value)

    def set_basic_selection(self, selection: Any, value: Any) -> None:
        self._write_orthogonal(selection, value, allow_arrays=False)

    def set_orthogonal_selection(self, selection: Any, value: Any) -> None:
        self._write_orthogonal(selection, value, allow_arrays=True)

    def set_coordinate_selection(self, selection: Any, value: Any) -> None:
        self._check_writable()
        plan = self._point_plan(selection)
        arr = self._prepare_value(value, plan.out_shape)
        write = optimistic_writes.write_points if self._optimistic else engine.write_points
        with self._writing():
            write(self._io, plan, np.ascontiguousarray(arr).reshape(-1), write_empty=self._write_empty)

    def set_mask_selection(self, mask: Any, value: Any) -> None:
        """Set the elements where the boolean array ``mask`` (of the array's shape) is true."""
        self.set_coordinate_selection(mask, value)

    def set_block_selection(self, selection: Any, value: Any) -> None:
        """Write whole chunks (inner chunks, for a sharded array) by grid index: ``a.blocks[selection] = value``."""
        self.set_basic_selection(self._block_region(selection), value)

    def _write_orthogonal(self, selection: Any, value: Any, *, allow_arrays: bool) -> tuple[int, int]:
        """Write, and return (chunks stored, chunks deleted as all fill value)."""
        self._check_writable()
        plan = self._orthogonal_plan(selection, allow_arrays)
        arr = self._prepare_value(value, plan.out_shape)
        write = optimistic_writes.write_orthogonal if self._optimistic else engine.write_orthogonal
        with self._writing():
            return write(self._io, plan, arr, write_empty=self._write_empty)

    def write_region(self, selection: Any, value: Any) -> tuple[int, int]:
        """Like ``a[selection] = value`` for a basic selection, returning
        (chunks stored, chunks deleted as all fill value)."""
        return self._write_orthogonal(selection, value, allow_arrays=False)

    def _prepare_value(self, value: Any, shape: tuple[int, ...]) -> np.ndarray:
        """``value`` converted to the array's dtype and broadcast to ``shape``, validated before any write.

        The shape rule is numpy's for ``arr[sel] = value``: the value broadcasts to
        the selection after its leading axes of length one, if it has more axes
        than the selection, are dropped.

        numpy arrays and scalars (and other Arrays) are cast as numpy's own
        ``arr[...] = value`` casts them, but complex values into a real array and
        text into a numeric one are refused. Anything else (Python numbers, strings,
        lists) goes through numpy's checked conversion to the dtype, so a value the
        dtype cannot hold (300 or -1 into uint8, 1+2j into float64, an unparseable
        date) is refused instead of wrapped or cut. Strings are parsed into
        datetime64/timedelta64 as numpy parses them. The elements written into a
        variable-length string (bytes) array must be str (bytes) or None.
        """
        dt = self.dtype
        if isinstance(value, Array):
            value = value[...]
        try:
            if isinstance(value, (np.ndarray, np.generic)):
                arr = np.asarray(value)
                if dt.kind == "O":
                    arr = arr.astype(object)
                elif arr.dtype != dt:
                    _check_cast(arr.dtype, dt)
                    arr = arr.astype(dt, casting="unsafe")
            elif dt.kind == "O":
                arr = np.asarray(value, dtype=object)
            else:
                _check_cast(np.asarray(value).dtype, dt)
                arr = np.asarray(value, dtype=dt)
        except (ValueError, TypeError, OverflowError, RuntimeError) as e:
            raise DTypeError(f"cannot store {_describe(value)} in array {self.name} of dtype {dt}: {e}") from None
        if dt.kind == "O":
            self._check_items(arr)
        extra = arr.ndim - len(shape)
        if extra > 0 and all(n == 1 for n in arr.shape[:extra]):
            # numpy's assignment drops leading axes of length one (``x[0] = y[None]``)
            arr = arr.reshape(arr.shape[extra:])
        if arr.shape == shape:
            return arr
        try:
            return np.broadcast_to(arr, shape)
        except ValueError:
            raise ShapeMismatchError(
                f"cannot assign a value of shape {arr.shape} to a selection of shape {shape} in array {self.name}"
            ) from None

    def _check_items(self, arr: np.ndarray) -> None:
        """Refuse, before anything is encoded, an element a variable-length string or bytes array cannot hold."""
        want = _ITEM_TYPES.get(self._meta.data_type.name)
        if want is None or arr.size == 0:
            return
        flat = arr.reshape(-1)
        bad = {t for t in set(map(type, flat)) if t is not type(None) and not issubclass(t, want)}
        if not bad:
            return
        i = next(k for k, v in enumerate(flat) if type(v) in bad)
        item = flat[i]
        where = (
            "the value" if arr.ndim == 0
            else f"element {i}" if arr.ndim == 1
            else f"element {tuple(int(x) for x in np.unravel_index(i, arr.shape))}"
        )
        raise DTypeError(
            f"array {self.name} holds variable-length {'strings' if want is str else 'bytes'}: {where} of the value "
            f"is {type(item).__name__} {_short_repr(item)}, not {want.__name__} (or None); nothing was written"
        )

    # -- shape changes -------------------------------------------------------
    def resize(self, new_shape: Any, *more: Any) -> None:
        """Change the shape to ``new_shape`` (a tuple, as zarr-python takes it, or the lengths
        as separate arguments). Chunks that fall outside are deleted, and the parts of edge chunks
        beyond the new shape are reset to the fill value, so growing again never shows stale data."""
        self._check_writable()
        if more or not isinstance(new_shape, (tuple, list, np.ndarray)):
            new_shape = (new_shape, *more)
        try:
            shape = tuple(int(s) for s in new_shape)
        except (TypeError, ValueError):
            raise ShapeMismatchError(f"new shape {new_shape!r} for {self.name} must be a tuple of integers") from None
        if len(shape) != self.ndim or any(s < 0 for s in shape):
            raise ShapeMismatchError(
                f"cannot resize {self.name} from {self.shape} to {shape}: need {self.ndim} non-negative lengths"
            )
        old = self.shape
        with self._writing():
            if any(n < o for n, o in zip(shape, old)):
                self._trim(shape)
            self._set_metadata(self._meta.replace(shape=shape))

    def _trim(self, shape: tuple[int, ...]) -> None:
        cshape = self._meta.chunk_shape
        grid = tuple(-(-s // c) for s, c in zip(shape, cshape))
        enc = self._meta.chunk_key_encoding
        prefix = prefix_of(self._path)
        drop: list[str] = []
        straddle: list[tuple[int, ...]] = []
        for key in self._store.list_prefix(prefix):
            coords = enc.decode(key[len(prefix):])
            if coords is None or len(coords) != self.ndim:
                continue
            if any(c >= g for c, g in zip(coords, grid)):
                drop.append(key)
            elif any((c + 1) * cs > s for c, cs, s in zip(coords, cshape, shape)):
                straddle.append(coords)
        self._store.delete_many(drop)
        io = self._io

        def reset(key: str, data: Any, coords: tuple[int, ...]) -> tuple[str, Any]:
            chunk = io.decode_writable(data, key)
            for ax, (c, cs, s) in enumerate(zip(coords, cshape, shape)):
                keep = s - c * cs
                if keep < cs:
                    idx = [slice(None)] * self.ndim
                    idx[ax] = slice(keep, None)
                    chunk[tuple(idx)] = io.fill
            return engine._encode_or_drop(io, chunk, key, self._write_empty)

        # the chunks on the new edge, in batches of about BATCH_BYTES: fetched in one
        # call, decoded, reset and encoded on the pool (16 chunks of 4 MiB took 355 ms
        # on one thread), then stored from this thread
        per = max(1, BATCH_BYTES // max(1, io.chunk_nbytes))
        for lo in range(0, len(straddle), per):
            batch = [(io.key(c), c) for c in straddle[lo : lo + per]]
            got = self._store.get_many([k for k, _ in batch])
            todo = [(k, got[k], c) for k, c in batch if got.get(k) is not None]
            done = run_indexed(lambda i: reset(*todo[i]), len(todo), item_bytes=io.chunk_nbytes)
            self._store.delete_many([k for k, enc_bytes in done if enc_bytes is None])
            self._store.set_many([(k, enc_bytes) for k, enc_bytes in done if enc_bytes is not None])

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Grow along ``axis`` and write ``data`` into the new part. Returns the new shape.

        ``data`` is converted to the array's dtype and its shape checked before
        the array grows: a value refused (text or complex values into a real
        array, a shape that does not fit) leaves the shape and the store as they were.
        """
        self._check_writable()
        arr = self._prepare_value(data, np.shape(data))
        if arr.ndim != self.ndim:
            raise ShapeMismatchError(
                f"cannot append data of {arr.ndim} dimensions to the {self.ndim}-dimensional array {self.name}"
            )
        if not -self.ndim <= axis < self.ndim:
            raise SelectionError(f"axis {axis} out of range for {self.name} with {self.ndim} dimensions")
        axis %= self.ndim
        for ax, (a, b) in enumerate(zip(arr.shape, self.shape)):
            if ax != axis and a != b:
                raise ShapeMismatchError(
                    f"cannot append data of shape {arr.shape} to {self.name} of shape {self.shape} along axis {axis}"
                )
        old = self.shape
        new = tuple(s + (arr.shape[axis] if ax == axis else 0) for ax, s in enumerate(old))
        self.resize(new)
        region = tuple(slice(old[axis], None) if ax == axis else slice(None) for ax in range(self.ndim))
        self[region] = arr
        return new

    # -- metadata and attributes ---------------------------------------------
    def _set_metadata(self, meta: ArrayMetadata) -> None:
        self._check_writable()
        write_metadata(self._store, self._path, meta)
        self._meta = meta
        self._io_cache = None

    def _set_attributes(self, attrs: dict[str, Any]) -> None:
        self._set_metadata(self._meta.replace(attributes=attrs))

    def _refresh(self) -> None:
        from ..errors import NodeTypeError

        meta = read_metadata(self._store, self._path)
        if not isinstance(meta, ArrayMetadata):  # replaced by a group since this handle was opened
            raise NodeTypeError(
                f"the node at {self.name} is now a group, not an array; open it again as a group"
            )
        self._meta = meta
        self._io_cache = None
        if self._chunk_cache is not None:  # reread: the chunks may have changed too
            self._chunk_cache.clear()

    def update_attributes(self, new_attributes: dict[str, Any]) -> "Array":
        self.attrs.update(new_attributes)
        return self

    # -- stored size ---------------------------------------------------------
    def _chunk_keys(self) -> list[str]:
        prefix = prefix_of(self._path)
        enc = self._meta.chunk_key_encoding
        grid = self._meta.grid_shape
        out = []
        for key in self._store.list_prefix(prefix):
            coords = enc.decode(key[len(prefix):])
            if coords is not None and len(coords) == self.ndim and all(0 <= c < g for c, g in zip(coords, grid)):
                out.append(key)
        return out

    @property
    def nchunks_initialized(self) -> int:
        """Number of stored chunks (shards, for a sharded array)."""
        return len(self._chunk_keys())

    @property
    def nbytes_stored(self) -> int:
        """Bytes the array takes in the store, metadata included."""
        prefix = prefix_of(self._path)
        total = 0
        for key in self._store.list_prefix(prefix):
            rest = key[len(prefix):]
            if "/" in rest and self._meta.chunk_key_encoding.decode(rest) is None:
                continue  # not ours (cannot happen below an array, but be safe at the root)
            size = self._store.getsize(key)
            total += size or 0
        return total

    @property
    def info(self) -> "ArrayInfo":
        return ArrayInfo(self, complete=False)

    def info_complete(self) -> "ArrayInfo":
        return ArrayInfo(self, complete=True)


def _has_ellipsis(selection: Any) -> bool:
    if selection is Ellipsis:
        return True
    return isinstance(selection, tuple) and any(s is Ellipsis for s in selection)


#: the Python type of the elements of each variable-length data type
_ITEM_TYPES = {"string": str, "variable_length_bytes": bytes}


def _check_cast(src: np.dtype, dst: np.dtype) -> None:
    """Refuse the casts numpy would make by dropping information: text into numbers
    (numpy would parse it) and complex into real numbers (numpy drops the imaginary part)."""
    if src.kind in "UST" and dst.kind in "biufc":
        raise TypeError(f"text (dtype {src}) is not converted to numbers")
    if src.kind == "c" and dst.kind in "biuf":
        raise TypeError("complex values would lose their imaginary part")


def _short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(value: Any) -> str:
    """A value, for a message: itself and its type when it is a scalar, else its type (and dtype and shape)."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, (np.generic, int, float, complex, str, bytes, bool)) or value is None:
        return f"{_short_repr(value)} ({type(value).__name__})"
    return f"a value of type {type(value).__name__}"


def _codec_roles(meta: ArrayMetadata) -> tuple[tuple[dict, ...], dict | None, tuple[dict, ...]]:
    """Split a codec chain into (filters, serializer, compressors) by position around the array->bytes codec."""
    from ..codecs import get_codec

    specs = list(meta.codecs)
    for i, spec in enumerate(specs):
        try:
            kind = type(get_codec(spec)).kind
        except Exception:
            continue
        if kind == "array_bytes":
            return tuple(specs[:i]), specs[i], tuple(specs[i + 1 :])
    return tuple(specs), None, ()


def _rebuild(
    store: Store, path: str, meta: ArrayMetadata, write_empty: bool, optimistic: bool = False, cache_bytes: int = 0
) -> Array:
    return Array(store, path, meta, write_empty_chunks=write_empty, optimistic=optimistic,
                 chunk_cache_bytes=cache_bytes)


class _OIndex:
    __slots__ = ("_a",)

    def __init__(self, a: Array):
        self._a = a

    def __getitem__(self, sel: Any) -> Any:
        return self._a.get_orthogonal_selection(sel)

    def __setitem__(self, sel: Any, value: Any) -> None:
        self._a.set_orthogonal_selection(sel, value)


class _VIndex:
    __slots__ = ("_a",)

    def __init__(self, a: Array):
        self._a = a

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self._a.get_coordinate_selection(sel)

    def __setitem__(self, sel: Any, value: Any) -> None:
        self._a.set_coordinate_selection(sel, value)


class _Blocks:
    """``a.blocks[i, j]``: whole chunks (inner chunks, for a sharded array) by grid index."""

    __slots__ = ("_a",)

    def __init__(self, a: Array):
        self._a = a

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self._a.get_block_selection(sel)

    def __setitem__(self, sel: Any, value: Any) -> None:
        self._a.set_block_selection(sel, value)


class ArrayInfo:
    """A readable summary of an array, like zarr-python's ``info``."""

    def __init__(self, array: Array, *, complete: bool):
        self._a = array
        self._complete = complete

    def _rows(self) -> list[tuple[str, str]]:
        a = self._a
        rows = [
            ("Type", "Array"),
            ("Zarr format", str(a.zarr_format)),
            ("Data type", str(a.metadata.data_type.name if a.zarr_format == 3 else a.dtype)),
            ("Fill value", repr(a.fill_value)),
            ("Shape", str(a.shape)),
            ("Chunk shape", str(a.chunks)),
        ]
        if a.shards is not None:
            rows.append(("Shard shape", str(a.shards)))
        rows += [
            ("Order", a.order),
            ("Read-only", str(a.read_only)),
            ("Store", repr(a.store)),
            ("Filters", _fmt_specs(a.filters)),
            ("Serializer", _fmt_specs((a.serializer,)) if a.serializer else "-"),
            ("Compressors", _fmt_specs(a.compressors)),
            ("No. bytes", _fmt_bytes(a.nbytes)),
        ]
        cache = a.chunk_cache
        if cache is not None:
            rows.append(("Chunk cache", f"{_fmt_bytes(cache.nbytes)} of {_fmt_bytes(cache.max_bytes)} in "
                                        f"{len(cache)} chunks; {cache.hits} hits, {cache.misses} misses"))
        if self._complete:
            stored = a.nbytes_stored
            ratio = a.nbytes / stored if stored else float("inf")
            rows += [
                ("No. bytes stored", _fmt_bytes(stored)),
                ("Storage ratio", f"{ratio:.1f}"),
                ("Chunks Initialized", f"{a.nchunks_initialized}/{math.prod(a.metadata.grid_shape)}"),
            ]
        return rows

    def __repr__(self) -> str:
        rows = self._rows()
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}} : {v}" for k, v in rows)

    __str__ = __repr__


def _fmt_specs(specs: Any) -> str:
    parts = []
    for s in specs:
        if not s:
            continue
        cfg = s.get("configuration") or {}
        parts.append(s["name"] + ("(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")" if cfg else ""))
    return ", ".join(parts) if parts else "-"


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    v = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(v) < 1024 or unit == "TiB":
            return f"{int(v)} B" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{n} B"


def _fmt_bytes(n: int) -> str:
    """``80000 (78.1 KiB)``; plain ``n`` below a KiB."""
    return f"{n}" if n < 1024 else f"{n} ({human_bytes(n)})"
