"""``ZarrEngineStore``: one zarr_engine group seen as an xarray data store.

Reading hands xarray raw (CF-encoded) variables; xarray's own
``conventions.decode_cf_variables`` (through ``StoreBackendEntrypoint``) does
all decoding, so masks, scale/offset, times and coordinates come out exactly
as with ``engine="zarr"``. Writing takes variables xarray already encoded with
its zarr coders (``encode_zarr_variable``) and lays them out the way xarray's
``ZarrStore`` does: v2 dimensions in ``_ARRAY_DIMENSIONS``, v3 dimensions in
``dimension_names``, fill values following ``use_zarr_fill_value_as_mask``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from xarray import conventions
from xarray.backends.common import AbstractWritableDataStore, _encode_variable_name
from xarray.backends.zarr import (
    FillValueCoder,
    _validate_and_transpose_existing_dims,
    _validate_datatypes_for_zarr_append,
    encode_zarr_attr_value,
    encode_zarr_variable,
    extract_zarr_variable_encoding,
)
from xarray.core import indexing
from xarray.core.utils import FrozenDict
from xarray.core.variable import Variable

from ..core.api import array_metadata, consolidate_metadata, open_group
from ..core.array import Array
from ..core.cache import ChunkCache, cache_budget
from ..core.group import Group
from ..storage.base import Store
from ..errors import (
    AlignmentError,
    ContainsNodeError,
    DatasetKeyError,
    DatasetTypeError,
    DatasetUnsupportedError,
    DatasetWriteError,
    DimensionLengthError,
    DimensionNamesError,
    InvalidAttributeError,
    MetadataError,
    NodeNotFoundError,
    ZarrEngineError,
)
from ..format._util import to_plain_json
from .array import ZarrEngineBackendArray
from .codecs import encoding_codecs

#: the attribute in which v2 (and xarray before v3) keeps an array's dimension names
DIMENSION_KEY = "_ARRAY_DIMENSIONS"
#: the write modes of xarray's ``to_zarr``
WRITE_MODES = ("w", "w-", "a", "a-", "r+")


def dims_and_attrs(array: Array) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Dimension names and user attributes of ``array``, as xarray's zarr backend reads them.

    v3 ``dimension_names`` win; otherwise the ``_ARRAY_DIMENSIONS`` attribute,
    which is then hidden from the attributes (as are netCDF-zarr ``_nc*`` keys
    of v2 arrays).
    """
    attrs = dict(array.metadata.attributes)
    names = array.metadata.dimension_names
    if names is not None:
        dims = tuple(names)
    elif DIMENSION_KEY in attrs:
        listed = attrs.pop(DIMENSION_KEY)
        # a list of names, as xarray writes it; tuple() of anything else would split a
        # hand-written string into letters or fail bare on a number or null
        if not isinstance(listed, list) or not all(isinstance(d, (str, int)) for d in listed):
            raise DimensionNamesError(
                f"array {array.name}: attribute {DIMENSION_KEY!r} must be a list of dimension names, "
                f"got {listed!r}"
            )
        dims = tuple(listed)
    elif array.ndim == 0:
        dims = ()
    elif array.zarr_format == "n5":
        # N5 keeps no dimension names: numbered ones, as other N5 readers give
        dims = tuple(f"dim_{i}" for i in range(array.ndim))
    else:
        raise DimensionNamesError(
            f"array {array.name} has neither v3 dimension_names nor the attribute {DIMENSION_KEY!r}, "
            "which xarray needs to name its dimensions"
        )
    if array.zarr_format == "n5":
        # the attributes N5 names come from are metadata here, not user attributes
        attrs.pop(DIMENSION_KEY, None)
        attrs.pop("dimension_names", None)
    if array.zarr_format == 2:
        attrs.pop(DIMENSION_KEY, None)
        attrs = {k: v for k, v in attrs.items() if not k.lower().startswith("_nc")}
    if len(dims) != array.ndim:
        raise DimensionNamesError(f"array {array.name} has {array.ndim} dimensions but names {dims!r}")
    return dims, attrs


@contextmanager
def user_errors(where: str, *, keep_cause: bool = False) -> Iterator[None]:
    """Re-raise the builtin errors of xarray's checks (bad arguments, a dataset that does not fit the
    store) as our errors of the same builtin kind, their message followed by ``where``.

    ``keep_cause`` chains the original, for errors raised deep inside encoders rather than by a check.
    """
    try:
        yield
    except ZarrEngineError:
        raise
    except (KeyError, TypeError, NotImplementedError, ValueError) as e:
        kind = (
            DatasetKeyError if isinstance(e, KeyError)
            else DatasetTypeError if isinstance(e, TypeError)
            else DatasetUnsupportedError if isinstance(e, NotImplementedError)
            else DatasetWriteError
        )
        text = e.args[0] if isinstance(e, KeyError) and len(e.args) == 1 else str(e)
        raise kind(f"{text} ({where})") from (e if keep_cause else None)


def check_attributes(attrs: Mapping[Any, Any], what: str) -> None:
    """Refuse, before anything is written, an attribute that cannot be stored as JSON;
    the message names ``what`` they belong to and the attribute."""
    for key, value in attrs.items():
        try:
            to_plain_json({key: value})
        except MetadataError as e:
            raise InvalidAttributeError(f"Invalid attribute in {what}: {key!r}: {e}") from None


def open_root_then_group(
    store: Any,
    *,
    mode: str,
    group: str | None,
    consolidated: bool | None,
    storage_options: dict[str, Any] | None,
    zarr_format: int | None,
    consolidate_root: bool = False,
) -> Group:
    """The group to read or write, opened the way xarray opens it.

    Writing modes (``w``, ``w-``, ``a``, ``a-``) open (or create) ``group``
    directly without consolidated metadata, which would go stale. Reading
    (``r``) and ``r+`` open the store's root so that its consolidated metadata
    serves the whole hierarchy, then walk down to ``group``;
    ``consolidated=None`` falls back to listing the store with a warning, as
    xarray does, and ``consolidated=True`` requires consolidated metadata.
    ``consolidate_root``: the root's metadata is consolidated after the write, so
    a group of the other Zarr format than the root's is refused before it is made.
    """
    path = (group or "").strip("/")
    if mode in ("w", "w-", "a", "a-"):
        # a replaced or new group joins the hierarchy it is written into
        fmt = _existing_format(store, path, storage_options, zarr_format, itself=mode in ("a", "a-"))
        if consolidate_root and path:
            _check_root_format(store, path, storage_options, fmt)
        try:
            return open_group(
                store, mode="a" if mode == "a-" else mode, path=path or None, storage_options=storage_options,
                zarr_format=fmt, use_consolidated=False,
            )
        except ContainsNodeError as e:
            # the core's advice names its own argument; to_zarr's way is the mode (xarray's advice)
            found = str(e).split(";")[0]
            raise ContainsNodeError(
                f"{found} (writing with mode={mode!r}): use mode='w' to replace it, or mode='a' to add "
                "variables or append to it"
            ) from None
    if consolidated is False:
        return open_group(
            store, mode=mode, path=path or None, storage_options=storage_options, zarr_format=zarr_format,
            use_consolidated=False,
        )
    try:
        root = open_group(store, mode=mode, storage_options=storage_options, zarr_format=zarr_format)
    except NodeNotFoundError:
        if not path:
            raise
        root = None  # a store whose root is not a group: the group itself may still exist
    if root is None or root.metadata.consolidated is None:
        if consolidated:
            from ..errors import MetadataError

            raise MetadataError(f"no consolidated metadata at the root of {store!r} (consolidated=True)")
        if root is not None and root.zarr_format != "n5":  # N5 has no consolidated form to suggest
            warnings.warn(
                f"{store!r} has no consolidated metadata: opened it by listing the store, which is slower. "
                "Consolidate it (zarr_engine.consolidate_metadata) or pass consolidated=False to silence this.",
                RuntimeWarning,
                stacklevel=4,
            )
        if root is None or path:
            return open_group(
                store, mode=mode, path=path or None, storage_options=storage_options, zarr_format=zarr_format,
                use_consolidated=False,
            )
        return root
    if not path:
        return root
    try:
        node = root[path]
    except KeyError:
        raise NodeNotFoundError(f"no group {path!r} in {store!r}") from None
    if not isinstance(node, Group):
        from ..errors import NodeTypeError

        raise NodeTypeError(f"{path!r} in {store!r} is an array, not a group")
    return node


def _existing_format(store: Any, path: str, storage_options: Any, zarr_format: int | None, *,
                     itself: bool = True) -> int | None:
    """What was asked for, else the format of the group (unless ``itself`` is false: it
    is being replaced) or of its nearest existing ancestor (appends keep a store's
    format, and a new or replaced subgroup joins its parent's)."""
    if zarr_format is not None:
        return zarr_format
    parts = path.split("/") if path else []
    for n in range(len(parts) if itself else len(parts) - 1, -1, -1):
        try:
            return open_group(
                store, mode="r", path="/".join(parts[:n]) or None, storage_options=storage_options
            ).zarr_format
        except (NodeNotFoundError, FileNotFoundError):
            continue
    return None


def _check_root_format(store: Any, path: str, storage_options: Any, zarr_format: int | None) -> None:
    """Refuse, before anything is written, a group of one Zarr format below a root group of
    the other when the root's metadata is to be consolidated: neither format's
    consolidated metadata can hold a node of the other."""
    try:
        root = open_group(store, mode="r", storage_options=storage_options, use_consolidated=False)
    except (NodeNotFoundError, FileNotFoundError):
        return
    fmt = 3 if zarr_format is None else zarr_format
    if root.zarr_format != fmt:
        raise DatasetWriteError(
            f"cannot write group {path!r} as Zarr {_format_name(fmt)} into {store!r}, whose root group is Zarr "
            f"{_format_name(root.zarr_format)}: its consolidated metadata could not hold the group. Pass "
            f"zarr_format={root.zarr_format!r} (or leave zarr_format out), or consolidated=False"
        )


def _format_name(fmt: Any) -> str:
    return "N5" if fmt == "n5" else f"v{fmt}"


class ZarrEngineStore(AbstractWritableDataStore):
    """An xarray data store over one zarr_engine :class:`~zarr_engine.Group`.

    Build it with :meth:`open_group` (one group) or :meth:`open_store` (a
    group and every group below it). Reading: ``get_variables``,
    ``get_attrs``, ``get_dimensions``. Writing: ``store`` (what xarray's
    ``dump_to_store`` calls), with append and region semantics of
    ``Dataset.to_zarr``.
    """

    __slots__ = (
        "_align_chunks",
        "_append_dim",
        "_cache_members",
        "_consolidate_on_close",
        "_chunk_cache",
        "_close_store_on_close",
        "_members",
        "_mode",
        "_safe_chunks",
        "_use_fill_as_mask",
        "_write_empty",
        "_write_region",
        "zarr_group",
    )

    def __init__(
        self,
        group: Group,
        mode: str = "r",
        *,
        consolidate_on_close: bool = False,
        append_dim: Hashable | None = None,
        write_region: Any = None,
        safe_chunks: bool = True,
        align_chunks: bool = False,
        write_empty: bool | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        cache_members: bool = True,
        chunk_cache_bytes: int = 0,
        close_store_on_close: bool = False,
    ) -> None:
        budget = cache_budget(chunk_cache_bytes, f"the Zarr store of group {group.name}")
        # one cache for all the variables read through this store (core/cache.py)
        self._chunk_cache = ChunkCache(budget) if budget else None
        self.zarr_group = group
        self._mode = mode
        self._consolidate_on_close = consolidate_on_close
        self._append_dim = append_dim
        self._write_region = write_region
        # rechunking makes every write aligned, so there is nothing to check
        self._safe_chunks = safe_chunks and not align_chunks
        self._align_chunks = align_chunks
        self._write_empty = write_empty
        # a store opened here from a path or URL is ours to close (a zip's index is written only
        # then); a store object the caller passed in stays open for them, as with xarray
        self._close_store_on_close = close_store_on_close
        if use_zarr_fill_value_as_mask is None:
            # xarray's rule: v2 data has always meant "fill value = missing"; v3 does not
            use_zarr_fill_value_as_mask = group.zarr_format == 2
        self._use_fill_as_mask = use_zarr_fill_value_as_mask
        # the members as they were when opened (one listing, or none with consolidated metadata);
        # cache_members=False lists the group on every access instead, seeing our own new arrays
        self._cache_members = cache_members
        self._members: dict[str, Array | Group] = dict(group.members()) if cache_members else {}

    # -- construction --------------------------------------------------------
    @classmethod
    def open_group(
        cls,
        store: Any,
        mode: str = "r",
        *,
        group: str | None = None,
        consolidated: bool | None = None,
        consolidate_on_close: bool = False,
        storage_options: dict[str, Any] | None = None,
        zarr_format: int | None = None,
        **kwargs: Any,
    ) -> "ZarrEngineStore":
        """A store over the group ``group`` of ``store`` (a path, URL or zarr_engine store)."""
        g = open_root_then_group(
            store, mode=mode, group=group, consolidated=consolidated,
            storage_options=storage_options, zarr_format=zarr_format, consolidate_root=consolidate_on_close,
        )
        kwargs.setdefault("close_store_on_close", not isinstance(store, Store))
        return cls(g, mode, consolidate_on_close=consolidate_on_close, **kwargs)

    @classmethod
    def open_store(
        cls,
        store: Any,
        mode: str = "r",
        *,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        zarr_format: int | None = None,
        **kwargs: Any,
    ) -> dict[str, "ZarrEngineStore"]:
        """Stores for ``group`` and every group below it, keyed ``"/"``, ``"/a"``, ``"/a/b"``
        (relative to ``group``)."""
        top = open_root_then_group(
            store, mode=mode, group=group, consolidated=consolidated,
            storage_options=storage_options, zarr_format=zarr_format,
        )
        kwargs.setdefault("close_store_on_close", not isinstance(store, Store))
        out = {"/": cls(top, mode, **kwargs)}
        for name, node in top.members(max_depth=None):
            if isinstance(node, Group):
                out["/" + name] = cls(node, mode, **kwargs)
        return out

    def get_child_store(self, group: str) -> "ZarrEngineStore":
        """A store over the child group ``group`` (created if absent), with the same settings."""
        child = self.zarr_group.require_group(group)
        return type(self)(
            child, self._mode, consolidate_on_close=self._consolidate_on_close, append_dim=self._append_dim,
            write_region=self._write_region, safe_chunks=self._safe_chunks, align_chunks=self._align_chunks,
            write_empty=self._write_empty, use_zarr_fill_value_as_mask=self._use_fill_as_mask,
            cache_members=self._cache_members, close_store_on_close=self._close_store_on_close,
        )

    # -- reading -------------------------------------------------------------
    @property
    def ds(self) -> Group:
        return self.zarr_group

    @property
    def zarr_format(self) -> int:
        return self.zarr_group.zarr_format

    @property
    def members(self) -> dict[str, Array | Group]:
        """The group's children by name (cached at opening unless ``cache_members=False``)."""
        return self._members if self._cache_members else dict(self.zarr_group.members())

    def array_keys(self) -> tuple[str, ...]:
        return tuple(k for k, v in self.members.items() if isinstance(v, Array))

    def arrays(self) -> tuple[tuple[str, Array], ...]:
        return tuple((k, v) for k, v in self.members.items() if isinstance(v, Array))

    def open_store_variable(self, name: str) -> Variable:
        """The raw (not yet CF-decoded) variable of array ``name``, lazily indexed."""
        array = self.members[name]
        assert isinstance(array, Array)
        if self._chunk_cache is not None:
            array = array._sharing_cache(self._chunk_cache)
        dims, attrs = dims_and_attrs(array)
        wrapped = ZarrEngineBackendArray(array)
        encoding: dict[str, Any] = {
            "chunks": tuple(array.chunks),
            # one dask chunk per stored object: a shard holds many chunks but is one key
            "preferred_chunks": dict(zip(dims, array.metadata.chunk_shape)),
        }
        if wrapped.dtype.kind == "T":
            encoding["dtype"] = wrapped.dtype
        encoding.update(encoding_codecs(array))
        encoding["shards"] = array.shards
        fill = array.fill_value
        if self._use_fill_as_mask:
            # xarray reads a v2 fill value as netCDF's _FillValue: such elements are missing
            if fill is not None:
                attrs["_FillValue"] = fill
        else:
            if array.zarr_format == 3:
                encoding["fill_value"] = fill
            if "_FillValue" in attrs:
                try:
                    attrs["_FillValue"] = FillValueCoder.decode(attrs["_FillValue"], array.dtype)
                except (TypeError, ValueError):
                    pass  # not in xarray's encoded form: leave it for the CF decoders
        return Variable(dims, indexing.LazilyIndexedArray(wrapped), attrs, encoding)

    def get_variables(self) -> FrozenDict:
        return FrozenDict((k, self.open_store_variable(k)) for k in self.array_keys())

    def get_attrs(self) -> dict[str, Any]:
        return {k: v for k, v in self.zarr_group.metadata.attributes.items() if not k.lower().startswith("_nc")}

    def get_dimensions(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for _, array in self.arrays():
            dims, _ = dims_and_attrs(array)
            for d, n in zip(dims, array.shape):
                if d in sizes and sizes[d] != n:
                    raise DimensionLengthError(
                        f"found conflicting lengths for dimension {d} ({n} != {sizes[d]}): array "
                        f"{array.name} disagrees with an earlier array of {self.describe()}"
                    )
                sizes[d] = n
        return sizes

    def close(self) -> None:
        """Close the underlying store when it was opened from a path or URL (xarray's rule).

        Most stores hold only connections or descriptors, which they reopen on the next
        use; a zip file gets its central directory, without which no other handle can
        read what was written."""
        store = self.store_to_close()
        if store is not None:
            store.close()

    def store_to_close(self) -> Store | None:
        """The underlying store when :meth:`close` closes it, else None."""
        return self.zarr_group.store if self._close_store_on_close else None

    def sync(self) -> None:
        pass

    def describe(self) -> str:
        """The group and store, for messages."""
        return f"group {self.zarr_group.name!r} of {self.zarr_group.store}"

    # -- writing -------------------------------------------------------------
    def encode(self, variables: Mapping[Hashable, Variable], attributes: Mapping[str, Any]) -> tuple[dict, dict]:
        """xarray's ``encode``, but each variable's name reaches ``encode_variable`` (for its messages)."""
        encoded = {k: self.encode_variable(v, name=k) for k, v in variables.items()}
        return encoded, {k: self.encode_attribute(v) for k, v in attributes.items()}

    def encode_variable(self, variable: Variable, name: Hashable | None = None) -> Variable:
        with user_errors(f"encoding variable {name!r} for {self.describe()}", keep_cause=True):
            return encode_zarr_variable(variable, name=name, zarr_format=self.zarr_format)

    def encode_attribute(self, a: Any) -> Any:
        return encode_zarr_attr_value(a)

    def set_dimensions(self, variables: Any, unlimited_dims: Any = None) -> None:
        if unlimited_dims is not None:
            raise DatasetUnsupportedError(
                f"Zarr has no unlimited dimensions (unlimited_dims={unlimited_dims!r} for {self.describe()}); "
                "use append_dim to grow one"
            )

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        # xarray's message first ("Invalid attribute in Dataset.attrs."), then which one and why
        check_attributes(attributes, f"Dataset.attrs. (written to {self.describe()})")
        self.zarr_group.attrs.put(dict(attributes))

    def store(
        self,
        variables: Mapping[Hashable, Variable],
        attributes: Mapping[str, Any],
        check_encoding_set: Iterable[Hashable] = frozenset(),
        writer: Any = None,
        unlimited_dims: Any = None,
    ) -> None:
        """Encode and write ``variables`` and ``attributes``: create new arrays, grow
        appended ones, and hand each variable's data to ``writer`` with its region."""
        if writer is None:
            from .writer import ChunkWriter

            writer = ChunkWriter()
        existing_keys = () if self._mode == "w" else self.array_keys()
        existing = {vn for vn in variables if _encode_variable_name(vn) in existing_keys}
        new = [vn for vn in variables if vn not in existing]
        if self._mode == "r+" and new:
            raise DatasetWriteError(
                f"dataset contains non-pre-existing variables {new!r}, which is not allowed with mode='r+' "
                f"({self.describe()}); use mode='a' to add variables"
            )
        if self._append_dim is not None and self._append_dim not in existing_keys:
            dims = self.get_dimensions()
            if self._append_dim not in dims:
                raise DatasetWriteError(
                    f"append_dim={self._append_dim!r} does not match any existing dataset dimensions {dims} "
                    f"of {self.describe()}"
                )

        encoded, attributes = self.encode({vn: variables[vn] for vn in new}, attributes)
        if existing:
            # appended and region-written values must be encoded exactly like the stored ones,
            # so decode the stored variables (without loading data) to learn their encoding
            stored, _, _ = conventions.decode_cf_variables(
                {vn: self.open_store_variable(_encode_variable_name(vn)) for vn in existing}, {}
            )
            redo = {}
            for vn in existing:
                with user_errors(f"in {self.describe()}"):
                    _validate_datatypes_for_zarr_append(vn, stored[vn], variables[vn])
                redo[vn] = variables[vn].copy(deep=False)
                redo[vn].encoding = stored[vn].encoding
            redo, _ = self.encode(redo, {})
            for vn in existing:
                with user_errors(f"in {self.describe()}"):
                    encoded[vn] = _validate_and_transpose_existing_dims(
                        vn, redo[vn], stored[vn], self._write_region, self._append_dim
                    )
        if self._mode not in ("r", "r+"):
            self.set_dimensions(encoded, unlimited_dims=unlimited_dims)
        if self._mode == "a-" and self._append_dim is not None:
            # a-: existing variables without the append dimension are left alone
            encoded = {k: v for k, v in encoded.items() if k not in existing or self._append_dim in v.dims}
        # everything is checked before the first write: a refused write leaves the store as it was
        plans = self._plan_variables(encoded, check_encoding_set)
        if self._mode not in ("r", "r+"):
            self.set_attributes(attributes)
        self._write_planned(plans, writer)
        if self._consolidate_on_close:
            consolidate_metadata(self.zarr_group.store, "")

    def set_variables(self, variables: Mapping[Hashable, Variable], check_encoding_set: Any, writer: Any,
                      unlimited_dims: Any = None) -> None:
        """Create or open each variable's array and queue its data with ``writer``:
        every variable is checked first, and only then is anything created, grown or written."""
        self._write_planned(self._plan_variables(variables, check_encoding_set), writer)

    def _plan_variables(self, variables: Mapping[Hashable, Variable],
                        check_encoding_set: Any) -> list[tuple[Any, ...]]:
        """Check every variable (encoding, attributes, fill value, region, chunk
        alignment) without touching the store. For each, in order: the data, the
        array name, the existing array or None, the arguments creating a new one,
        the region written and the array's shape after the write."""
        from .writer import target_region, variable_array_kwargs

        existing_keys = set(self.array_keys()) if self._mode != "w" else set()
        fmt = self.zarr_format
        plans: list[tuple[Any, ...]] = []
        for vn, v in variables.items():
            name = _encode_variable_name(vn)
            attrs = dict(v.attrs)
            if self._use_fill_as_mask:
                fill_value = attrs.pop("_FillValue", None)
            else:
                fill_value = v.encoding.pop("fill_value", None)
                if fill_value is None and v.dtype.kind == "f":
                    fill_value = np.nan  # xarray's default for floats (zarr's would be 0)
                if attrs.get("_FillValue") is not None:
                    with user_errors(f"_FillValue of variable {vn!r} of {self.describe()}"):
                        attrs["_FillValue"] = FillValueCoder.encode(attrs["_FillValue"], v.dtype)
                else:
                    attrs.pop("_FillValue", None)
            if "_FillValue" in v.encoding:
                if v.encoding["_FillValue"] is not None:
                    raise DatasetWriteError(
                        f"Zarr does not support _FillValue in encoding (variable {vn!r} of {self.describe()})."
                    )
                del v.encoding["_FillValue"]
            # validated for existing variables too
            with user_errors(f"variable {vn!r} of {self.describe()}"):
                encoding = extract_zarr_variable_encoding(
                    v, raise_on_invalid=vn in check_encoding_set, name=vn, zarr_format=fmt
                )
            if name in existing_keys:
                array = self.members[name]
                assert isinstance(array, Array)
                if self._write_empty is not None:
                    array = Array(array.store, array.path, array.metadata, write_empty_chunks=self._write_empty)
                kwargs = None
                grid = tuple(array.metadata.chunk_shape)
                region, new_shape = target_region(array.shape, v, self._write_region, self._append_dim)
            else:
                check_attributes(attrs, f"the attrs of variable {vn!r} (written to {self.describe()})")
                array = None
                kwargs = variable_array_kwargs(
                    fmt, name, v, fill_value=fill_value, attrs=attrs, encoding=encoding, write_empty=self._write_empty,
                )
                grid = tuple(array_metadata(name, zarr_format=fmt, **kwargs).chunk_shape)  # checks every argument
                region, new_shape = target_region(v.shape, v, self._write_region, None)
            self._check_alignment(v, grid, region, new_shape, name)
            plans.append((v.data, name, array, kwargs, region, new_shape))
        return plans

    def _write_planned(self, plans: list[tuple[Any, ...]], writer: Any) -> None:
        """Create, grow and queue the variables :meth:`_plan_variables` checked."""
        from .writer import create_variable_array

        for data, name, array, kwargs, region, new_shape in plans:
            if array is None:
                array = create_variable_array(self.zarr_group, name, kwargs, overwrite=self._mode == "w")
            elif array.shape != new_shape:
                array.resize(new_shape)
            writer.add(data, array, region)

    def _check_alignment(self, v: Variable, grid: tuple[int, ...], region: tuple[slice, ...],
                         shape: tuple[int, ...], name: str) -> None:
        """Refuse, before anything is written, dask chunks that would share a stored chunk
        of the grid ``grid`` of an array of ``shape`` (xarray's rule and message; partial
        edge chunks are fine except in mode r+)."""
        if not self._safe_chunks or v.chunks is None:
            return
        from xarray.backends.chunks import validate_grid_chunks_alignment

        try:
            validate_grid_chunks_alignment(
                nd_v_chunks=v.chunks, enc_chunks=grid, region=region,
                allow_partial_chunks=self._mode != "r+", name=name, backend_shape=shape,
            )
        except ValueError as e:
            raise AlignmentError(str(e)) from None

    # -- region handling (called by to_zarr before writing) ------------------
    def validate_and_autodetect_region(self, ds: Any) -> Any:
        from .writer import resolve_region

        if self._write_region is None:
            return ds
        region = resolve_region(self, ds, self._write_region, self._mode, self._append_dim)
        self._write_region = region
        # a region write cannot change indexes: drop them from what is written
        return ds.drop_vars(ds.indexes)

    def validate_encoding(self, encoding: Mapping[str, Any] | None) -> None:
        if encoding and self._mode in ("a", "a-", "r+"):
            for name in self.array_keys():
                if name in encoding:
                    raise DatasetWriteError(
                        f"variable {name!r} already exists in {self.describe()}, but encoding was provided"
                    )
