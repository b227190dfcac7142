"""zarr_engine: a storage engine for Zarr v2 and v3 arrays in any key-value store.

The public functions mirror zarr-python's where the concept is the same::

    import zarr_engine as ze
    a = ze.create_array("data.zarr", shape=(1000, 1000), chunks=(100, 100), dtype="f4")
    a[:10] = 1.0
    ze.open("data.zarr")[:10, :5]
"""

from . import errors
from .core import (
    Array,
    Group,
    consolidate_metadata,
    create_array,
    create_group,
    open,
    open_array,
    open_group,
    tree,
)
from .errors import ZarrEngineError

__version__ = "0.1.0"

__all__ = [
    "Array",
    "Group",
    "ZarrEngineError",
    "__version__",
    "consolidate_metadata",
    "create_array",
    "create_group",
    "errors",
    "open",
    "open_array",
    "open_group",
    "tree",
]


def __getattr__(name: str):
    # zarr_engine.to_zarr lives with the xarray integration; importing xarray only when asked
    # keeps `import zarr_engine` light for users without it
    if name == "to_zarr":
        from .xarray.writer import to_zarr

        return to_zarr
    raise AttributeError(f"module 'zarr_engine' has no attribute {name!r}")
