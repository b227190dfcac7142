"""Building an OME-Zarr pyramid: level 0 copied from the source, every further
level downsampled from the stored level before it, all through the lock-free
dask writer.

Each level is one dask computation: :func:`zarr_engine.dask.from_zarr` reads
the previous level in blocks of ``factor`` whole output units (shards, or
chunks) per axis, a block function reduces every block to exactly one output
unit, and :func:`zarr_engine.dask.to_zarr` writes it. Each task therefore
holds one input block and one output unit, never the image, and owns the
stored chunks it writes, so no locks are needed.

When the source is a stored array whose chunks are exactly what level 0 would
store (same grid, data type, codecs, key encoding and fill value), level 0 is
made by copying the stored chunk bytes, without decoding and re-encoding them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np

from ..core.api import array_metadata, create_array, create_group, open_group
from ..core.array import Array
from ..core.group import Group
from ..core.nodes import display_path, join_path, normalize_path, prefix_of
from ..core.overlap import overlap
from ..errors import ArgumentError, ContainsNodeError, DTypeError, MetadataError, NodeNotFoundError
from ..storage.url import resolve_store
from . import axes as _axes
from .downsample import METHODS, downsample_block, shifts_grid

#: the default chunk length of a space axis, by the number of space axes
DEFAULT_SPACE_CHUNK = {2: 512, 3: 128}

#: runs one level's write: (delayed write, description) -> result
Runner = Callable[[Any, str], Any]


@dataclass(frozen=True)
class LevelPlan:
    """Shape and layout of one level, decided before anything is written."""

    path: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    factors: tuple[int, ...]  # relative to the level before (all 1 for level 0)
    scale: tuple[float, ...]
    translation: tuple[float, ...]

    @property
    def unit(self) -> tuple[int, ...]:
        """What one writing task owns: a shard, or a chunk."""
        return self.shards or self.chunks


def _per_axis(value: Any, axes: Sequence[_axes.Axis], what: str, *, other: Any) -> tuple[Any, ...]:
    """A scalar (for every space axis; ``other`` on the rest) or a per-axis sequence, as a tuple."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return tuple(value if a.is_space else other for a in axes)
    try:
        value = tuple(value)
    except TypeError:
        raise ArgumentError(f"{what} must be a number or one number per axis ({_names(axes)}), "
                            f"got {value!r}") from None
    if len(value) != len(axes):
        raise ArgumentError(f"{what} {value} has {len(value)} values for {len(axes)} axes ({_names(axes)})")
    return value


def _names(axes: Sequence[_axes.Axis]) -> str:
    return ", ".join(a.name for a in axes)


def _whole(v: Any) -> int | None:
    """``v`` as an int when it is a whole number (``4``, ``np.int32(4)``, ``4.0``), else None."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
        return int(v)
    return None


def _positive_ints(value: Any, axes: Sequence[_axes.Axis], what: str, *, other: int) -> tuple[int, ...]:
    """:func:`_per_axis` of whole numbers of at least 1, refused otherwise."""
    values = _per_axis(value, axes, what, other=other)
    out = tuple(_whole(v) for v in values)
    if any(v is None or v < 1 for v in out):
        raise ArgumentError(f"{what} must be positive integers (one for the space axes, or one per axis "
                            f"{_names(axes)}), got {value!r}")
    return out  # type: ignore[return-value]


def _finite_floats(value: Any, axes: Sequence[_axes.Axis], what: str, *, other: float,
                   positive: bool) -> tuple[float, ...]:
    """:func:`_per_axis` of finite numbers (above zero when ``positive``), refused otherwise:
    NGFF metadata is JSON, which has no NaN or infinity."""
    values = _per_axis(value, axes, what, other=other)
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ArgumentError(f"{what} must be numbers (one for the space axes, or one per axis "
                                f"{_names(axes)}), got {value!r}")
        f = float(v)
        if not math.isfinite(f) or (positive and f <= 0):
            need = "finite numbers above zero" if positive else "finite numbers"
            raise ArgumentError(f"{what} must be {need} (one for the space axes, or one per axis "
                                f"{_names(axes)}), got {value!r}")
        out.append(f)
    return tuple(out)


def _level_layout(shape: Sequence[int], chunks: Sequence[int], shards: Sequence[int] | None) -> tuple[
        tuple[int, ...], tuple[int, ...] | None]:
    """Chunks and shards of one level: the requested ones, clipped to the level's shape
    (a shard stays a whole number of chunks)."""
    c = tuple(max(1, min(ci, n)) for ci, n in zip(chunks, shape))  # a zero-length axis still has a chunk
    if shards is None:
        return c, None
    s = tuple(min(si, -(-max(n, 1) // ci) * ci) for si, ci, n in zip(shards, c, shape))
    return c, s


def plan_levels(
    shape: Sequence[int],
    axes: Sequence[_axes.Axis],
    *,
    levels: int | None,
    factor: Any,
    chunks: Sequence[int],
    shards: Sequence[int] | None,
    scale: Sequence[float],
    translation: Sequence[float],
    method: str,
) -> list[LevelPlan]:
    """Every level of the pyramid. A space axis is halved (divided by its factor,
    the edge trimmed) while it is at least one factor long; by default levels are
    added until every space axis of the last one fits in one chunk."""
    # only the space axes are downsampled: a factor given for another axis is not used
    wanted = tuple(f if a.is_space else 1 for f, a in zip(_positive_ints(factor, axes, "factor", other=1), axes))
    if levels is not None:
        n_levels = _whole(levels)
        if n_levels is None or n_levels < 1:
            raise ArgumentError(f"levels must be a whole number of at least 1 (or None: until a level fits in "
                                f"one chunk), got {levels!r}")
        levels = n_levels
    shape = tuple(int(n) for n in shape)
    c0, s0 = _level_layout(shape, chunks, shards)
    plans = [LevelPlan("0", shape, c0, s0, (1,) * len(shape), tuple(scale), tuple(translation))]
    while levels is None or len(plans) < levels:
        prev = plans[-1]
        fits = all(n <= c for n, c, a in zip(prev.shape, chunks, axes) if a.is_space)
        step = tuple(f if n >= f else 1 for f, n in zip(wanted, prev.shape))
        if (levels is None and fits) or all(f == 1 for f in step):
            break  # nothing left to shrink: asking for more levels gives fewer
        new_shape = tuple(n // f for n, f in zip(prev.shape, step))
        c, s = _level_layout(new_shape, chunks, shards)
        new_scale = tuple(sc * f for sc, f in zip(prev.scale, step))
        shift = 0.5 if shifts_grid(method) else 0.0
        # a window's statistic sits at the centre of the window: half a window minus
        # half an input sample past the first input sample's centre
        new_translation = tuple(t + shift * (f - 1) * sc for t, f, sc in zip(prev.translation, step, prev.scale))
        plans.append(LevelPlan(str(len(plans)), new_shape, c, s, step, new_scale, new_translation))
    return plans


def _input_chunks(plan: LevelPlan, prev_shape: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Dask chunks of the previous level such that block ``i`` reduces to output unit ``i``:
    ``factor`` units per axis, the last block taking whatever is left (its excess is trimmed)."""
    out = []
    for n_out, n_in, u, f in zip(plan.shape, prev_shape, plan.unit, plan.factors):
        k = max(1, -(-n_out // u))
        blocks = [u * f] * (k - 1)
        blocks.append(n_in - sum(blocks))
        out.append(tuple(blocks))
    return tuple(out)


def _output_chunks(plan: LevelPlan) -> tuple[tuple[int, ...], ...]:
    out = []
    for n, u in zip(plan.shape, plan.unit):
        k = max(1, -(-n // u))
        out.append(tuple([u] * (k - 1) + [n - u * (k - 1)]))
    return tuple(out)


def _as_dask(source: Any, unit: Sequence[int]) -> da.Array:
    from ..dask import from_zarr

    if isinstance(source, da.Array):
        return source
    if isinstance(source, Array):
        if all(u % c == 0 or u == n for u, c, n in zip(unit, source.chunks, source.shape)):
            # blocks of whole stored chunks that are exactly the output units: no rechunk
            return from_zarr(source, chunks=tuple(unit))
        return from_zarr(source)
    return da.from_array(np.asarray(source), chunks=tuple(unit))


def _default_runner(delayed: Any, description: str) -> Any:
    # the current scheduler: a distributed Client made default, or dask's threads
    return dask.compute(delayed)[0]


def _create_kwargs(plan: LevelPlan, axes: Sequence[_axes.Axis], zarr_format: int, compressors: Any,
                   fill_value: Any) -> dict[str, Any]:
    names = [a.name for a in axes]
    kw: dict[str, Any] = dict(chunks=plan.chunks, zarr_format=zarr_format, compressors=compressors,
                              fill_value=fill_value)
    if zarr_format == 3:
        kw["shards"] = plan.shards
        kw["dimension_names"] = names
    else:
        # xarray's name for the dimensions of a v2 array, so one level opens as a dataset
        kw["attributes"] = {"_ARRAY_DIMENSIONS": names}
    return kw


def _existing_labels(image: Group) -> list[str]:
    if "labels" not in image:
        return []
    ns, _ = _axes.ome_namespace(dict(image["labels"].attrs))
    return [str(n) for n in ns.get("labels", [])]


#: data type kinds each method can downsample (mean needs numbers it can add up)
_METHOD_KINDS = {"mean": "uifb"}


def _check_dtype(dtype: np.dtype, method: str, labels: bool) -> None:
    """Refuse a source whose data type the method cannot downsample, or a label image of non-integers."""
    if labels and dtype.kind not in "ui":
        raise DTypeError(f"label images hold integers; this source is {dtype}")
    kinds = _METHOD_KINDS.get(method)
    if kinds is not None and dtype.kind not in kinds:
        fits = [m for m in METHODS if m not in _METHOD_KINDS or dtype.kind in _METHOD_KINDS[m]]
        raise DTypeError(f"method {method!r} needs integers, floats or booleans; this source is {dtype} "
                         f"(method {' or '.join(repr(m) for m in fits)} can downsample it)")


def _check_apart(source: Array, store: Any, path: str, what: str) -> None:
    """Refuse to write the pyramid at ``path`` in ``store`` when that node is the source
    array, holds it or lies inside it: with overwrite=True the source would be deleted
    before level 0 is read, and the pyramid would be written from nothing."""
    kind = overlap(source.store, source.path, store, path)
    if kind is None:
        return
    src = f"{display_path(source.path)} in {source.store!r}"
    dst = f"{display_path(path)} in {store!r}"
    says = {"same": f"the {what} at {dst} would replace the source array {src}",
            "holds": f"the {what} at {dst} holds the source array {src}, which replacing it would delete",
            "inside": f"the {what} at {dst} lies inside the source array {src}"}[kind]
    raise ArgumentError(f"{says}; write the pyramid somewhere that does not overlap its source")


def _parent_image(target: Any, storage_options: dict[str, Any] | None) -> tuple[Group, Any]:
    """The image group a label image is added to, and its opened pyramid."""
    from .read import open_pyramid

    try:
        image = open_group(target, mode="r+", storage_options=storage_options)
    except NodeNotFoundError:
        raise NodeNotFoundError(
            f"labels=True adds a label image to an existing OME-Zarr image; there is none at {target!r}"
        ) from None
    return image, open_pyramid(image)


def build_pyramid(
    source: Any,
    target: Any,
    levels: int | None = None,
    *,
    axes: Any = None,
    scale: Any = None,
    translation: Any = None,
    units: str | Mapping[str, str] | None = None,
    method: str | None = None,
    factor: Any = 2,
    chunks: Any = None,
    shards: Any = None,
    zarr_format: int = 3,
    compressors: Any = "auto",
    fill_value: Any = 0,
    storage_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    name: str | None = None,
    labels: bool = False,
    colors: Sequence[Mapping[str, Any]] | None = None,
    run: Runner | None = None,
) -> Any:
    """Build an OME-Zarr multiscale image (a pyramid) at ``target`` from ``source``
    and return it opened (a :class:`~zarr_engine.multiscale.Pyramid`).

    ``source`` is a zarr_engine :class:`~zarr_engine.Array`, a dask array or
    anything numpy can turn into an array. ``target`` is a path, URL or store
    for the image group (Zarr v3 with OME-NGFF 0.5 metadata, or with
    ``zarr_format=2`` Zarr v2 with 0.4). Level ``i`` is stored as array
    ``"i"``; level 0 is the source, and each further level is computed from
    the stored level before it, dividing each space axis by ``factor`` (2)
    while it is at least that long, trimming the samples at the far edge that
    do not fill a window. ``levels=None`` adds levels until the last one fits in
    one chunk.

    ``axes``: None (inferred from the number of dimensions: ``yx``, ``zyx``,
    ``czyx``, ``tczyx``), a string of names or NGFF axis dicts; ``units`` fills
    in units (one for every space axis, or by axis name). ``scale`` (default
    1, above zero) and ``translation`` (default 0) place level 0's samples in
    physical space (per axis or one number for all; finite numbers, as JSON
    has no NaN). ``method``: ``mean`` (default; integers, floats or booleans),
    ``nearest`` or ``mode`` (default for labels); window statistics shift a
    level by half a window, which its translation records. ``factor`` is a
    whole number per space axis. ``chunks`` (default 512 per space axis in
    2-D, 128 in 3-D, 1 on other axes) and ``shards`` (whole multiples of the
    chunks) are positive integers and apply to every level, clipped to its
    shape.

    With ``labels=True`` the source is a label image (integers) named ``name``
    and is added to the existing image at ``target`` under ``labels/<name>``,
    with as many levels as the image by default and listed in the ``labels``
    group; unless given, its scale and translation are the image's, so that
    each label level lies on the image level of the same path.
    ``run(delayed, description)`` computes one level's write (default:
    ``dask.compute`` on the current scheduler; the CLI passes one with a
    progress bar).

    Every argument is checked before the store is touched: a bad one raises a
    :class:`~zarr_engine.errors.ZarrEngineError` and writes nothing. A target
    that is the source array, holds it (``build_pyramid("img.zarr/raw",
    "img.zarr", overwrite=True)`` would delete the source before reading it)
    or lies inside it is refused with an
    :class:`~zarr_engine.errors.ArgumentError`.
    """
    method = method or ("mode" if labels else "mean")
    if method not in METHODS:
        raise ArgumentError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if zarr_format not in (2, 3):
        raise MetadataError(f"OME-Zarr pyramids are written in Zarr format 2 (NGFF 0.4) or 3 (NGFF 0.5), "
                            f"got {zarr_format!r}")
    if shards is not None and zarr_format != 3:
        raise MetadataError("shards need zarr_format=3")
    if labels and not (isinstance(name, str) and name):
        raise ArgumentError(f"labels=True needs name=, the label image's name under labels/ (got {name!r})")
    if isinstance(source, (str, os.PathLike)):
        from ..core.api import open_array

        source = open_array(source, mode="r", storage_options=storage_options)
    shape = tuple(int(n) for n in source.shape)
    dtype = np.dtype(source.dtype)
    _check_dtype(dtype, method, labels)
    run = run or _default_runner

    # everything is checked before the store is touched: a refused call leaves it as it was
    image_group: Group | None = None
    parent = None
    if labels:
        image_group, parent = _parent_image(target, storage_options)
        zarr_format = image_group.zarr_format
        if axes is None and len(parent.axes) == len(shape):
            axes = parent.axes
        if levels is None:
            levels = len(parent.levels)  # a label image mirrors its image's levels
    ax = _axes.normalize_axes(axes, len(shape), units)
    if parent is not None and [a.name for a in ax] == list(parent.axis_names):
        # a label image lies where its image lies unless told otherwise
        if scale is None:
            scale = parent.levels[0].scale
        if translation is None:
            translation = parent.levels[0].translation
    n_space = sum(a.is_space for a in ax)
    if chunks is None:
        chunks = tuple(DEFAULT_SPACE_CHUNK[n_space] if a.is_space else 1 for a in ax)
    chunk_t = _positive_ints(chunks, ax, "chunks", other=1)
    shard_t = None if shards is None else _positive_ints(shards, ax, "shards", other=1)
    if shard_t is not None and any(s % c for s, c in zip(shard_t, chunk_t)):
        raise ArgumentError(f"shards {shard_t} must be whole multiples of chunks {chunk_t} "
                            f"(axes {_names(ax)})")
    scale_t = _finite_floats(1.0 if scale is None else scale, ax, "scale", other=1.0, positive=True)
    trans_t = _finite_floats(0.0 if translation is None else translation, ax, "translation", other=0.0,
                             positive=False)
    plans = plan_levels(shape, ax, levels=levels, factor=factor, chunks=chunk_t, shards=shard_t,
                        scale=scale_t, translation=trans_t, method=method)
    for plan in plans:  # each level's array metadata (data type, fill value, codecs), made but not stored
        array_metadata(plan.path, shape=plan.shape, dtype=dtype, **_create_kwargs(plan, ax, zarr_format, compressors,
                                                                                  fill_value))

    if image_group is not None:
        store, root = image_group.store, join_path(image_group.path, f"labels/{name}")
    else:
        store, inner = resolve_store(target, mode="a", storage_options=storage_options)
        root = normalize_path(inner)
    if isinstance(source, Array):
        _check_apart(source, store, root, "label image" if labels else "image")

    # the group is made first and its NGFF metadata written last, so a reader never
    # sees a multiscale whose levels are not all there
    if image_group is not None:
        names = _existing_labels(image_group)
        if name in names and not overwrite:
            raise ContainsNodeError(f"the image at {target!r} already has a label image {name!r} (overwrite=True "
                                    "replaces it)")
        labels_group = image_group.require_group("labels")
        group = labels_group.create_group(name, overwrite=overwrite)
    else:
        group = create_group(store, path=root, zarr_format=zarr_format, overwrite=overwrite)

    _write_levels(source, group, plans, ax, dtype, zarr_format, compressors, fill_value, method, run)

    multiscale = _axes.multiscale_json(
        ax, [p.path for p in plans], [p.scale for p in plans], [p.translation for p in plans],
        zarr_format=zarr_format, name=name, method=method,
        metadata={"description": f"{method} of whole windows, {factor} samples per space axis, far edge trimmed",
                  "method": "zarr_engine.multiscale.build_pyramid"},
    )
    attrs = _axes.image_attributes(multiscale, zarr_format, label_source="../../" if labels else None,
                                   colors=colors)
    group.update_attributes(attrs)
    if image_group is not None:
        listed = [n for n in _existing_labels(image_group) if n != name] + [name]
        image_group["labels"].update_attributes(_axes.labels_attributes(listed, zarr_format))
    from .read import open_pyramid

    return open_pyramid(group)


def _write_levels(source: Any, group: Group, plans: list[LevelPlan], axes: Sequence[_axes.Axis],
                  dtype: np.dtype, zarr_format: int, compressors: Any, fill_value: Any, method: str,
                  run: Runner) -> None:
    """Write level 0 from ``source``, then each level from the stored one before it."""
    from ..dask import from_zarr, to_zarr

    store = group.store
    first = plans[0]
    level0 = create_array(store, path=join_path(group.path, first.path), shape=first.shape, dtype=dtype,
                          **_create_kwargs(first, axes, zarr_format, compressors, fill_value))
    if isinstance(source, Array) and _same_encoding(source, level0):
        delayed = _copy_chunks(source, level0)
    else:
        delayed = to_zarr(_as_dask(source, first.unit), level0, align=True, compute=False)
    run(delayed, f"level 0 {'x'.join(map(str, first.shape))}")
    prev_plan = first
    for plan in plans[1:]:
        prev = group[prev_plan.path]
        assert isinstance(prev, Array)
        in_chunks = _input_chunks(plan, prev_plan.shape)
        x = from_zarr(prev, chunks=in_chunks)
        y = x.map_blocks(downsample_block, plan.factors, method, chunks=_output_chunks(plan), dtype=dtype,
                         meta=np.empty((0,) * len(plan.shape), dtype=dtype))
        delayed = to_zarr(y, store, path=join_path(group.path, plan.path), compute=False, dtype=dtype,
                          **_create_kwargs(plan, axes, zarr_format, compressors, fill_value))
        run(delayed, f"level {plan.path} {'x'.join(map(str, plan.shape))}")
        prev_plan = plan



# ---------------------------------------------------------------------------
# level 0 by copying stored chunks
# ---------------------------------------------------------------------------

#: stored chunks copied by one task
_COPY_BATCH = 8


def _same_encoding(src: Array, dst: Array) -> bool:
    """Whether every stored chunk of ``src`` is, byte for byte, the chunk ``dst`` would
    store for the same data: same format, shape, grid, data type, codecs, key
    encoding, fill value and (v2) memory order."""
    a, b = src.metadata, dst.metadata
    if (a.zarr_format, a.shape, a.chunk_shape, a.data_type, a.codecs, a.chunk_key_encoding, a.order) != (
            b.zarr_format, b.shape, b.chunk_shape, b.data_type, b.codecs, b.chunk_key_encoding, b.order):
        return False
    # the fill value decides which chunks are left unstored; NaN must match NaN
    return bool(np.array_equal(np.asarray(a.fill_value), np.asarray(b.fill_value), equal_nan=a.dtype.kind in "fc"))


def _copy_batch(src: Array, dst: Array, names: list[str]) -> int:
    """Copy the stored chunks ``names`` (relative to each array's folder) from ``src`` to ``dst``."""
    got = src.store.get_many([prefix_of(src.path) + n for n in names])
    start = len(prefix_of(src.path))
    dst.store.set_many((prefix_of(dst.path) + k[start:], v) for k, v in got.items())
    return len(got)


def _copy_chunks(src: Array, dst: Array) -> Any:
    """A Delayed copying every stored chunk of ``src`` into ``dst`` without decoding it.

    The source's chunks are already what the level would store, so decoding and
    re-encoding them would only cost time. Each destination key is written by one
    task (the batches are disjoint), so this is as lock-free as the dask writer.
    """
    start = len(prefix_of(src.path))
    names = [k[start:] for k in src._chunk_keys()]
    batches = [names[i:i + _COPY_BATCH] for i in range(0, len(names), _COPY_BATCH)]
    src_d = dask.delayed(src, pure=True)
    dst_d = dask.delayed(dst, pure=True)
    copied = [dask.delayed(_copy_batch, pure=False)(src_d, dst_d, b) for b in batches]
    return dask.delayed(sum, pure=False)(copied)
