"""xarray integration: the ``zarr_engine`` backend, the dataset writer and the
``ds.zarr_engine`` accessor.

Importing this package registers the accessor, so that
``ds.zarr_engine.to_zarr("out.zarr")`` works; reading needs no import, since
xarray finds the backend through its ``xarray.backends`` entry point::

    ds = xr.open_dataset("in.zarr", engine="zarr_engine", chunks={})
"""

from __future__ import annotations

from .accessor import ZarrEngineAccessor
from .array import ZarrEngineBackendArray
from .backend import ZarrEngineBackendEntrypoint
from .store import ZarrEngineStore
from .writer import to_zarr

__all__ = [
    "ZarrEngineAccessor",
    "ZarrEngineBackendArray",
    "ZarrEngineBackendEntrypoint",
    "ZarrEngineStore",
    "to_zarr",
]
