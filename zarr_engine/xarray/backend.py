"""The ``zarr_engine`` entry point of xarray: ``xr.open_dataset(..., engine="zarr_engine")``.

Variables come from :class:`~zarr_engine.xarray.store.ZarrEngineStore` and are
decoded by xarray's ``StoreBackendEntrypoint`` (its CF conventions), so the
result is what ``engine="zarr"`` gives for the same store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from xarray.backends.common import BackendEntrypoint, _normalize_path, datatree_from_dict_with_io_cleanup
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core.treenode import NodePath
from xarray.core.utils import close_on_error

from ..errors import ArgumentError, DimensionLengthError, ZarrEngineError
from .store import ZarrEngineStore

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

#: what xarray's decoders accept, passed through untouched
_DECODE_KWARGS = (
    "mask_and_scale",
    "decode_times",
    "concat_characters",
    "decode_coords",
    "drop_variables",
    "use_cftime",
    "decode_timedelta",
)

#: metadata documents whose presence marks a folder as a Zarr store
_MARKERS = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")


def _decode(store: ZarrEngineStore, **decode_kwargs: Any) -> "xr.Dataset":
    with close_on_error(store):
        try:
            return StoreBackendEntrypoint().open_dataset(store, **decode_kwargs)
        except ValueError as e:
            # arrays that give one dimension two lengths: xarray finds it when it
            # builds the Dataset (after drop_variables), and says so without the store
            if isinstance(e, ZarrEngineError) or "conflicting sizes for dimension" not in str(e):
                raise
            raise DimensionLengthError(f"{e} (arrays of {store.describe()}; drop_variables= can leave some out)") from e


class ZarrEngineBackendEntrypoint(BackendEntrypoint):
    """Open Zarr v2 and v3 stores (local, memory, zip, sqlite, fsspec URLs) with zarr_engine.

    A drop-in for ``engine="zarr"``: the same arguments (``group``,
    ``consolidated``, ``storage_options``, ``zarr_format``, decoder options)
    and the same decoded result, with lazily indexed variables and
    ``preferred_chunks`` of one stored chunk (shard) each.
    """

    description = "Open Zarr v2/v3 stores with zarr_engine (numpy + numcodecs + fsspec)"
    url = "https://github.com/zarr-engine/zarr-engine"
    open_dataset_parameters = (
        "filename_or_obj",
        *_DECODE_KWARGS,
        "group",
        "mode",
        "consolidated",
        "storage_options",
        "zarr_format",
        "use_zarr_fill_value_as_mask",
        "chunk_cache_bytes",
        "store",
    )
    supports_groups = True

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True for a ``.zarr`` path or URL, or a local folder holding Zarr metadata."""
        if isinstance(filename_or_obj, ZarrEngineStore):
            return True
        if not isinstance(filename_or_obj, str | os.PathLike):
            return False
        text = os.fspath(filename_or_obj).rstrip("/")
        if os.path.splitext(text)[1] == ".zarr":
            return True
        if os.path.isdir(text):
            return any(os.path.exists(os.path.join(text, m)) for m in _MARKERS)
        return False

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        concat_characters: bool = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        mode: str = "r",
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        chunk_cache_bytes: int = 0,
        store: ZarrEngineStore | None = None,
    ) -> "xr.Dataset":
        """Open one group of a Zarr store as a Dataset (variables stay lazy).

        ``chunk_cache_bytes=N`` gives the dataset's variables one cache of up to N
        bytes of decoded chunks, for reads that come back to the same chunks
        (``zarr_engine.core.cache``).
        """
        if chunk_cache_bytes and (store is not None or isinstance(filename_or_obj, ZarrEngineStore)):
            raise ArgumentError(
                "chunk_cache_bytes applies to a store the backend opens; give it to "
                "ZarrEngineStore.open_group(..., chunk_cache_bytes=N) instead"
            )
        if store is None:
            if isinstance(filename_or_obj, ZarrEngineStore):
                store = filename_or_obj
            else:
                store = ZarrEngineStore.open_group(
                    _normalize_path(filename_or_obj), mode, group=group, consolidated=consolidated,
                    storage_options=storage_options, zarr_format=zarr_format,
                    use_zarr_fill_value_as_mask=use_zarr_fill_value_as_mask, chunk_cache_bytes=chunk_cache_bytes,
                )
        return _decode(
            store, mask_and_scale=mask_and_scale, decode_times=decode_times, concat_characters=concat_characters,
            decode_coords=decode_coords, drop_variables=drop_variables, use_cftime=use_cftime,
            decode_timedelta=decode_timedelta,
        )

    def open_groups_as_dict(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        concat_characters: bool = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        mode: str = "r",
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        zarr_format: int | None = None,
    ) -> dict[str, "xr.Dataset"]:
        """Every group at and below ``group`` as a Dataset, keyed as xarray's engines key them:
        absolute paths (``"/"``, ``"/a"``, ...) without ``group``, paths relative to it
        (``"."``, ``"b"``, ...) with one."""
        stores = ZarrEngineStore.open_store(
            _normalize_path(filename_or_obj), mode, group=str(NodePath("/") / NodePath(group or "")),
            consolidated=consolidated, storage_options=storage_options, zarr_format=zarr_format,
        )
        return {
            (str(NodePath(path).relative_to("/")) if group else path): _decode(
                st, mask_and_scale=mask_and_scale, decode_times=decode_times, concat_characters=concat_characters,
                decode_coords=decode_coords, drop_variables=drop_variables, use_cftime=use_cftime,
                decode_timedelta=decode_timedelta,
            )
            for path, st in stores.items()
        }

    def open_datatree(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        **kwargs: Any,
    ) -> "xr.DataTree":
        """The hierarchy at and below ``group`` as a DataTree."""
        return datatree_from_dict_with_io_cleanup(self.open_groups_as_dict(filename_or_obj, **kwargs))
