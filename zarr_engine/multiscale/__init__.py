"""Multiscale images: OME-Zarr (OME-NGFF) pyramids built and read through zarr_engine.

::

    from zarr_engine.multiscale import build_pyramid, open_pyramid
    pyr = build_pyramid(volume, "image.ome.zarr", scale=(0.5, 0.1, 0.1), units="micrometer")
    pyr[2].to_dask()                 # level 2 as a dask array
    open_pyramid("image.ome.zarr").level_dataset(1)   # xarray, physical coordinates

Zarr v3 stores get OME-NGFF 0.5 metadata, Zarr v2 stores 0.4.
"""

from .axes import NGFF_VERSION, Axis, normalize_axes
from .build import LevelPlan, build_pyramid, plan_levels
from .downsample import METHODS, downsample_block
from .read import Level, Pyramid, open_pyramid

__all__ = [
    "METHODS",
    "NGFF_VERSION",
    "Axis",
    "Level",
    "LevelPlan",
    "Pyramid",
    "build_pyramid",
    "downsample_block",
    "normalize_axes",
    "open_pyramid",
    "plan_levels",
]
