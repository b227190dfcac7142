"""``ds.zarr_engine``: zarr_engine's methods on every xarray Dataset."""

from __future__ import annotations

from typing import Any

import xarray as xr

from .writer import to_zarr


@xr.register_dataset_accessor("zarr_engine")
class ZarrEngineAccessor:
    """Reached as ``ds.zarr_engine``; registered when ``zarr_engine.xarray`` is imported."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def to_zarr(self, store: Any = None, **kwargs: Any) -> Any:
        """``zarr_engine.to_zarr(ds, store, **kwargs)``: write the dataset with zarr_engine
        (same arguments and semantics as ``Dataset.to_zarr``)."""
        return to_zarr(self._ds, store, **kwargs)
