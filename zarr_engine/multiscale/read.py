"""Reading an OME-Zarr multiscale image: its levels as zarr_engine arrays with their
physical placement, as dask arrays, or one level as an xarray dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.api import open_group
from ..core.array import Array
from ..core.group import Group
from ..errors import MetadataError, NodeTypeError, SelectionError
from .axes import Axis, ome_namespace, parse_transforms

if TYPE_CHECKING:  # pragma: no cover
    import dask.array as da
    import xarray as xr


@dataclass(frozen=True)
class Level:
    """One resolution level: its array, and where its samples sit in physical
    space (sample ``i`` of an axis is at ``translation + i * scale``)."""

    path: str
    array: Array
    scale: tuple[float, ...]
    translation: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    def to_dask(self, chunks: Any = None) -> "da.Array":
        """The level as a dask array, one task per stored chunk (see :func:`zarr_engine.dask.from_zarr`)."""
        from ..dask import from_zarr

        return from_zarr(self.array, chunks=chunks)

    def coordinates(self, axis: int) -> np.ndarray:
        """Physical coordinates of the samples along ``axis``."""
        n = self.shape[axis]
        return self.translation[axis] + self.scale[axis] * np.arange(n, dtype=np.float64)


@dataclass(frozen=True)
class Pyramid:
    """An OME-Zarr multiscale image: its axes and its levels, finest first."""

    group: Group
    axes: tuple[Axis, ...]
    levels: tuple[Level, ...]
    version: str | None
    name: str | None = None
    method: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.levels)

    def __getitem__(self, i: int) -> Level:
        if isinstance(i, slice):
            return self.levels[i]  # type: ignore[return-value]
        return self.level(i)

    def __iter__(self) -> Iterator[Level]:
        return iter(self.levels)

    def level(self, level: int) -> Level:
        """Level ``level`` (0 the finest; negative counts from the coarsest)."""
        n = len(self.levels)
        if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, np.integer)):
            raise SelectionError(f"image {self.group.name}: a level is an integer from 0 to {n - 1}, got {level!r}")
        if not -n <= level < n:
            raise SelectionError(f"image {self.group.name} has {n} levels (0 to {n - 1}); there is no level {level}")
        return self.levels[level]

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def to_dask(self, level: int = 0, chunks: Any = None) -> "da.Array":
        """Level ``level`` as a dask array."""
        return self.level(level).to_dask(chunks)

    @property
    def labels(self) -> list[str]:
        """Names of the label images listed in this image's ``labels`` group."""
        if "labels" not in self.group:
            return []
        sub = self.group["labels"]
        ns, _ = ome_namespace(dict(sub.attrs))
        return [str(n) for n in ns.get("labels", [])]

    def label(self, name: str) -> "Pyramid":
        """The label image ``name`` of this image, as a pyramid of its own."""
        if name not in self.labels:
            raise MetadataError(f"image {self.group.name} has no label image {name!r} (it has {self.labels})")
        node = self.group["labels"][name]
        if not isinstance(node, Group):
            raise NodeTypeError(f"{node.name} is an array, not a label image group")
        return open_pyramid(node)

    @property
    def image_label(self) -> dict[str, Any] | None:
        """The ``image-label`` metadata when this is a label image, else None."""
        ns, _ = ome_namespace(dict(self.group.attrs))
        value = ns.get("image-label")
        return dict(value) if isinstance(value, dict) else None

    def level_dataset(self, level: int = 0, *, chunks: Any = None, variable: str | None = None) -> "xr.Dataset":
        """Level ``level`` as an xarray Dataset with one variable (``variable``, default
        the multiscale's name or ``"image"``) and physical coordinates on the space
        and time axes (``translation + i * scale``, with the axis unit as the
        ``units`` attribute).

        The variable is opened through zarr_engine's xarray backend when the level
        names its dimensions (v3 ``dimension_names`` or v2 ``_ARRAY_DIMENSIONS``, as
        :func:`build_pyramid` writes), else wrapped from the dask array.
        """
        import xarray as xr

        lev = self.level(level)
        level = int(level) % len(self.levels)  # -1 is recorded as the number of the last level
        var = variable or self.name or "image"
        dims = list(self.axis_names)
        names = lev.array.dimension_names or lev.array.attrs.get("_ARRAY_DIMENSIONS")
        ds: xr.Dataset
        if names is not None and list(names) == dims:
            others = [p for p in self.group.array_keys() if p != lev.path]
            # mask_and_scale=False: the fill value of an image is a valid sample, not a gap
            ds = xr.open_dataset(
                self.group.store.url, engine="zarr_engine", group=self.group.path or None,
                drop_variables=others, chunks=chunks if chunks is not None else {}, mask_and_scale=False,
                consolidated=False,
                storage_options=getattr(self.group.store, "storage_options", None) or None,
            )
            ds = ds.rename({lev.path: var})
        else:
            ds = xr.Dataset({var: (dims, lev.to_dask(chunks))})
        coords = {}
        for i, ax in enumerate(self.axes):
            if ax.type in ("space", "time"):
                attrs = {"units": ax.unit} if ax.unit else {}
                coords[ax.name] = (ax.name, lev.coordinates(i), attrs)
        ds = ds.assign_coords(coords)
        # the group's NGFF metadata describes every level, not this dataset
        ds.attrs = {"multiscale_level": level, "multiscale_path": lev.path}
        return ds


def open_pyramid(url: Any, storage_options: dict[str, Any] | None = None, *, index: int = 0) -> Pyramid:
    """Open the OME-Zarr multiscale image at ``url`` (a path, URL, store or
    :class:`~zarr_engine.Group`): NGFF 0.5 (Zarr v3) or 0.4 (Zarr v2).

    ``index`` picks one entry of the ``multiscales`` list (the first by default).
    Each level's placement is its datasets' transformations followed by the
    multiscale's own, as the specification composes them.
    """
    group = url if isinstance(url, Group) else open_group(url, mode="r", storage_options=storage_options)
    ns, version = ome_namespace(dict(group.attrs))
    mss = ns.get("multiscales")
    where = f"group {group.name} in {group.store!r}"
    if not isinstance(mss, list) or not mss:
        raise MetadataError(f"{where} has no OME-NGFF 'multiscales' metadata: not a multiscale image")
    if not -len(mss) <= index < len(mss):
        raise MetadataError(f"{where} has {len(mss)} multiscales; index {index} is out of range")
    ms = mss[index]
    if not isinstance(ms, dict) or not isinstance(ms.get("datasets"), list) or not ms["datasets"]:
        raise MetadataError(f"{where}: multiscale {index} has no datasets")
    datasets = ms["datasets"]
    first = group[str(datasets[0].get("path"))]
    ndim = first.ndim if isinstance(first, Array) else 0
    axes = tuple(Axis.from_json(a) for a in ms.get("axes", [])) or tuple(
        Axis.from_json(n) for n in "tczyx"[-ndim:]
    )
    top_scale, top_trans = parse_transforms(ms.get("coordinateTransformations"), len(axes), where)
    levels = []
    for ds in datasets:
        path = str(ds.get("path"))
        node = group[path]
        if not isinstance(node, Array):
            raise NodeTypeError(f"{where}: dataset {path!r} is a group, not an array")
        if node.ndim != len(axes):
            raise MetadataError(f"{where}: dataset {path!r} has {node.ndim} dimensions for {len(axes)} axes")
        s, t = parse_transforms(ds.get("coordinateTransformations"), len(axes), f"{where}, dataset {path!r}")
        scale = tuple(a * b for a, b in zip(s, top_scale))
        trans = tuple(a * b + c for a, b, c in zip(t, top_scale, top_trans))
        levels.append(Level(path, node, scale, trans))
    return Pyramid(group, axes, tuple(levels), version or ms.get("version"), ms.get("name"), ms.get("type"),
                   dict(ms.get("metadata") or {}))
