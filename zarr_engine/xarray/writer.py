"""``to_zarr``: write an xarray Dataset with zarr_engine, with ``Dataset.to_zarr``'s semantics.

The dataset is CF-encoded by xarray itself (``dump_to_store`` ->
``encode_dataset_coordinates`` -> ``encode_zarr_variable``), laid out by
:class:`~zarr_engine.xarray.store.ZarrEngineStore`, and its data written by
:class:`ChunkWriter`: numpy data at once, dask data through the lock-free
dask writer (:func:`zarr_engine.dask.to_zarr`), one task per stored chunk.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from xarray import conventions
from xarray.backends.writers import _validate_dataset_names, dump_to_store
from xarray.backends.zarr import _choose_default_mode
from xarray.coding.strings import check_vlen_dtype
from xarray.namedarray.pycompat import is_chunked_array

from ..core.array import Array
from ..core.group import Group
from ..storage.base import Store
from ..errors import DatasetKeyError, DatasetTypeError, DatasetWriteError
from .store import ZarrEngineStore, user_errors

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from dask.delayed import Delayed


class ChunkWriter:
    """Collects ``(data, array, region)`` triples as xarray's ``ArrayWriter`` does.

    numpy data is written as it arrives; dask data waits for :meth:`sync`,
    which builds one lock-free write per variable with the dask writer
    (``align=True`` rechunks onto the stored grid instead of refusing).
    """

    def __init__(self, align_chunks: bool = False) -> None:
        self._align = align_chunks
        self._lazy: list[tuple[Any, Array, tuple[slice, ...]]] = []

    def add(self, source: Any, target: Array, region: tuple[slice, ...] | None = None) -> None:
        region = tuple(region) if region is not None else tuple(slice(None) for _ in target.shape)
        if is_chunked_array(source):
            self._lazy.append((source, target, region))
        else:
            target[region] = np.asarray(source)

    def sync(self, compute: bool = True, chunkmanager_store_kwargs: Any = None) -> "Delayed | None":
        """Write the queued dask data now, or (``compute=False``) return one Delayed writing all of it."""
        return write_dask(self._lazy, compute=compute, align=self._align)


def write_dask(items: list[tuple[Any, Array, tuple[slice, ...]]], *, compute: bool, align: bool) -> "Delayed | None":
    """The one place where dask data reaches the store: :func:`zarr_engine.dask.to_zarr`
    per variable, all computed together (their graphs share the input's tasks)."""
    import dask

    from ..dask import to_zarr as dask_to_zarr

    writes = [dask_to_zarr(x, target, region=region, compute=False, align=align) for x, target, region in items]
    joined = dask.delayed(_written, pure=False)(writes)
    if compute:
        dask.compute(joined)
        return None
    return joined


def _written(results: list[Any]) -> None:
    """Tail of the write graph: nothing to return (mirrors xarray's delayed store)."""
    return None


# ---------------------------------------------------------------------------
# helpers for ZarrEngineStore.set_variables
# ---------------------------------------------------------------------------


def _storage_dtype(dtype: np.dtype) -> Any:
    """What to ask our core for: vlen text and bytes by name, the rest as is."""
    if dtype.kind == "T" or check_vlen_dtype(dtype) is str:
        return str
    if check_vlen_dtype(dtype) is bytes:
        return bytes
    return dtype


def variable_array_kwargs(
    zarr_format: Any,
    name: str,
    v: Any,
    *,
    fill_value: Any,
    attrs: dict[str, Any],
    encoding: dict[str, Any],
    write_empty: bool | None,
) -> dict[str, Any]:
    """The arguments of ``create_array`` for encoded variable ``v``: dimensions the way
    xarray stores them for ``zarr_format``, codecs and chunks from ``encoding``."""
    from .store import DIMENSION_KEY

    enc = dict(encoding)
    enc.pop("cache_metadata", None)  # zarr-python's metadata cache: nothing to cache here
    enc.pop("fill_value", None)
    if write_empty is not None:
        if "write_empty_chunks" in enc and enc["write_empty_chunks"] != write_empty:
            raise DatasetWriteError(
                'Differing "write_empty_chunks" values in encoding and parameters: '
                f"encoding of variable {name!r} has {enc['write_empty_chunks']!r}, write_empty_chunks={write_empty!r}"
            )
        enc["write_empty_chunks"] = write_empty
    attributes = {k: _jsonable(val) for k, val in attrs.items()}
    kwargs: dict[str, Any] = {}
    if zarr_format == 3:
        kwargs["dimension_names"] = tuple(v.dims)
    else:
        attributes[DIMENSION_KEY] = list(v.dims)
    for key in ("chunks", "shards", "compressors", "filters", "serializer", "chunk_key_encoding", "write_empty_chunks"):
        if key in enc and enc[key] is not None:
            kwargs[key] = enc[key]
    if "compressors" in enc and enc["compressors"] is None:
        kwargs["compressors"] = None  # an explicit None means "no compression"
    return dict(shape=v.shape, dtype=_storage_dtype(v.dtype), fill_value=fill_value, attributes=attributes, **kwargs)


def create_variable_array(group: Group, name: str, kwargs: dict[str, Any], *, overwrite: bool) -> Array:
    """Create the array of a variable from :func:`variable_array_kwargs`."""
    # a v2 variable without _FillValue has fill_value None here, which create_array stores as
    # null, as xarray does: a default 0 would make readers take every stored zero for missing
    return group.create_array(name, overwrite=overwrite, **kwargs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def target_region(shape: tuple[int, ...], v: Any, write_region: Any,
                  append_dim: Hashable | None) -> tuple[tuple[slice, ...], tuple[int, ...]]:
    """The part of an array of ``shape`` that ``v`` is written to, and the array's shape
    after the write: appending along ``append_dim`` grows it (the caller resizes)."""
    region = dict(write_region or {})
    sel = [region.get(d, slice(None)) for d in v.dims]
    new_shape = tuple(shape)
    if append_dim is not None and append_dim in v.dims:
        axis = v.dims.index(append_dim)
        old = shape[axis]
        new_shape = new_shape[:axis] + (old + v.shape[axis],) + new_shape[axis + 1:]
        sel[axis] = slice(old, None)
    return tuple(sel), new_shape


def resolve_region(store: ZarrEngineStore, ds: Any, region: Any, mode: str, append_dim: Hashable | None) -> dict:
    """``region`` as a dict of slices: ``"auto"`` entries are found by looking the dataset's
    index values up in the stored coordinates; everything is validated as xarray does."""
    where = store.describe()
    if region == "auto":
        region = dict.fromkeys(ds.dims, "auto")
    if not isinstance(region, dict):
        raise DatasetTypeError(f"``region`` must be a dict, got {type(region)} (writing to {where})")
    region = dict(region)
    if any(isinstance(v, str) and v == "auto" for v in region.values()):
        if mode not in ("r+", "a"):
            raise DatasetWriteError(
                f"``mode`` must be 'r+' or 'a' when using ``region='auto'``, got {mode!r} (writing to {where})"
            )
        for dim, val in list(region.items()):
            if isinstance(val, str) and val == "auto":
                region[dim] = _auto_slice(store, ds, dim)
    for dim, s in region.items():
        if dim not in ds.dims:
            raise DatasetWriteError(
                f"all keys in ``region`` are not in Dataset dimensions, got {list(region)} and {list(ds.dims)}: "
                f"{dim!r} is not a dimension of the dataset (writing to {where})"
            )
        if not isinstance(s, slice):
            raise DatasetTypeError(
                f"all values in ``region`` must be slice objects, got region={region}: {dim!r} maps to "
                f"{type(s).__name__} (writing to {where})"
            )
        if s.step not in (1, None):
            raise DatasetWriteError(
                f"step on all slices in ``region`` must be 1 or None, got region={region}: {dim!r} has step "
                f"{s.step} (writing to {where})"
            )
    outside = [k for k, v in ds.variables.items() if not set(region).intersection(v.dims)]
    if region and outside:
        raise DatasetWriteError(
            f"when setting `region` explicitly in to_zarr(), all variables in the dataset to write must have "
            f"at least one dimension in common with the region's dimensions {list(region)}, but that is not the "
            f"case for variables {outside!r} here (writing to {where}). To drop these variables from this "
            f"dataset before exporting to zarr, write: .drop_vars({outside!r})"
        )
    if append_dim is not None and append_dim in region:
        raise DatasetWriteError(
            f"cannot list the same dimension in both ``append_dim`` and ``region`` with to_zarr(), got {append_dim} "
            f"in both (writing to {where})"
        )
    return region


def _auto_slice(store: ZarrEngineStore, ds: Any, dim: Hashable) -> slice:
    if dim not in ds._variables:
        return slice(0, ds.sizes[dim])  # a dimension without coordinate: the whole length
    if str(dim) not in store.array_keys():
        raise DatasetKeyError(
            f"region='auto' needs the stored coordinate '{dim}' to find where to write, but {store.describe()} "
            f"has no array {str(dim)!r}"
        )
    stored = conventions.decode_cf_variable(dim, store.open_store_variable(str(dim)).compute())
    where = pd.Index(stored.data).get_indexer(ds[dim].data)
    if (where == -1).any():
        raise DatasetKeyError(
            f"Not all values of coordinate '{dim}' in the new array were found in the original store "
            f"({store.describe()}). Writing to a zarr region slice requires that no dimensions or metadata are "
            "changed by the write."
        )
    if (np.diff(where) != 1).any():
        raise DatasetWriteError(
            f"The auto-detected region of coordinate '{dim}' for writing new data to the original store "
            f"({store.describe()}) had non-contiguous indices. Writing to a zarr region slice requires that the "
            "new data constitute a contiguous subset of the original store."
        )
    return slice(int(where[0]), int(where[-1]) + 1)


def _as_dataset(obj: Any) -> Any:
    """A DataArray becomes the one-variable Dataset ``DataArray.to_zarr`` would write."""
    import xarray as xr
    from xarray.backends.api import DATAARRAY_NAME, DATAARRAY_VARIABLE

    if not isinstance(obj, xr.DataArray):
        return obj
    if obj.name is None:
        return obj.to_dataset(name=DATAARRAY_VARIABLE)
    if obj.name in obj.coords or obj.name in obj.dims:
        # a variable cannot share its name with a coordinate: store it under the generic name
        out = obj.to_dataset(name=DATAARRAY_VARIABLE)
        out.attrs[DATAARRAY_NAME] = obj.name
        return out
    return obj.to_dataset()


# ---------------------------------------------------------------------------
# the public function
# ---------------------------------------------------------------------------


def to_zarr(
    ds: "xr.Dataset | xr.DataArray",
    store: Any = None,
    *,
    mode: Literal["w", "w-", "a", "a-", "r+"] | None = None,
    group: str | None = None,
    encoding: Mapping[Hashable, Mapping[str, Any]] | None = None,
    compute: bool = True,
    consolidated: bool | None = None,
    append_dim: Hashable | None = None,
    region: Mapping[str, slice | Literal["auto"]] | Literal["auto"] | None = None,
    safe_chunks: bool = True,
    align_chunks: bool = False,
    storage_options: dict[str, Any] | None = None,
    zarr_format: int | None = None,
    write_empty_chunks: bool | None = None,
    chunkmanager_store_kwargs: dict[str, Any] | None = None,
) -> "ZarrEngineStore | Delayed":
    """Write ``ds`` (a Dataset, or a DataArray) to a Zarr store with zarr_engine, as
    ``ds.to_zarr(...)`` would.

    ``store`` is a path, URL (with ``storage_options``) or zarr_engine store;
    ``mode`` is ``w`` (replace), ``w-`` (create, fail if present), ``a``
    (add or overwrite variables, or append along ``append_dim``), ``a-``
    (like ``a``, but only variables with ``append_dim`` are appended, others
    left alone) or ``r+`` (only existing variables, e.g. with ``region``);
    the default is ``w-``, or ``a`` with ``append_dim``, or ``r+`` with
    ``region``. ``region`` maps dimensions to slices (or ``"auto"``, found
    from the stored index values). ``encoding`` maps variable names to
    ``chunks``, ``shards``, ``compressors``, ``filters``, ``serializer``,
    ``dtype``, ``_FillValue``, ``scale_factor``/``add_offset``,
    ``units``/``calendar``. Metadata is consolidated at the root unless
    ``consolidated=False``. New groups use ``zarr_format``; without it, a group
    written (or replaced) inside an existing hierarchy takes its parent's format,
    and a new store is v3. A group of the other format than the root's is
    refused while the root's metadata is consolidated.

    dask-backed variables are written without locks, one task per stored
    chunk (shard); chunks that would be shared by two dask blocks raise
    :class:`~zarr_engine.errors.AlignmentError` (a ``ValueError``) before
    anything is written, unless ``align_chunks=True`` (or
    ``safe_chunks=False``) rechunks them onto the stored grid.

    Returns the :class:`~zarr_engine.xarray.store.ZarrEngineStore` written
    to, or with ``compute=False`` a ``dask.delayed.Delayed`` that writes the
    dask data (metadata and numpy data are written at once). A store opened
    here from a path or URL is closed when the write ends (by that Delayed
    with ``compute=False``), as xarray does, so a ``zip://`` file is complete
    for other readers; a store object passed in is left open.
    """
    ds = _as_dataset(ds)
    with user_errors(f"writing to {store!r}"):
        _validate_dataset_names(ds)
    # unsafe (unaligned) writes are never done; asking for them gets aligned ones
    align = bool(align_chunks) or not safe_chunks
    for v in ds.variables.values():
        if v.size == 0:
            v.load()  # nothing to parallelise, and zero-length dask chunks trip alignment arithmetic
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    with user_errors(f"writing to {store!r}"):
        mode = _choose_default_mode(mode=mode, append_dim=append_dim, region=region)
    if mode == "r+":
        # nothing about the hierarchy changes: consolidated metadata may serve reading it
        open_consolidated, consolidate_on_close = consolidated, False
    else:
        open_consolidated, consolidate_on_close = False, consolidated is None or bool(consolidated)
    zstore = ZarrEngineStore.open_group(
        store, mode, group=group, consolidated=open_consolidated, consolidate_on_close=consolidate_on_close,
        storage_options=storage_options, zarr_format=zarr_format, append_dim=append_dim,
        write_region=region, safe_chunks=safe_chunks, align_chunks=align, write_empty=write_empty_chunks,
    )
    ds = zstore.validate_and_autodetect_region(ds)
    zstore.validate_encoding(encoding)
    unknown = [k for k in encoding or {} if k not in ds.variables]
    if unknown:
        # what xarray's dump_to_store would meet as a bare KeyError
        raise DatasetKeyError(
            f"encoding names {unknown!r}, which are not variables of the dataset written to {zstore.describe()}"
            + (" (a region write leaves out index variables)" if region is not None else "")
        )
    writer = ChunkWriter(align_chunks=align)
    try:
        dump_to_store(ds, zstore, writer, encoding=dict(encoding or {}))
        delayed = writer.sync(compute=compute)
    finally:
        if compute:
            zstore.close()  # as xarray does: a zip file written through a URL is complete only then
    if compute:
        return zstore
    import dask

    # the task gets the bare store (small and picklable), and only when it is ours to close
    return dask.delayed(_close_after, pure=False)(delayed, zstore.store_to_close())


def _close_after(written: None, store: Store | None) -> None:
    """Tail of a ``compute=False`` write: close the store once every chunk is written."""
    if store is not None:
        store.close()
