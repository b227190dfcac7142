"""Axes and OME-NGFF multiscale metadata: building it for a new pyramid and parsing it back.

Two versions of the conventions are spoken, one per Zarr format:

* OME-NGFF 0.5 on Zarr v3: everything sits under the group attribute ``"ome"``
  (``{"ome": {"version": "0.5", "multiscales": [...]}}``); the version lives on
  that object, not in each multiscale.
* OME-NGFF 0.4 on Zarr v2: ``"multiscales"`` is a top-level attribute and every
  multiscale carries ``"version": "0.4"``.

Nothing here touches a store; these are plain functions over dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError, MetadataError

#: the NGFF version written for each Zarr format
NGFF_VERSION = {2: "0.4", 3: "0.5"}

#: axis names whose type needs no saying
_KNOWN_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}

#: the default axes for an image of each dimensionality, as the NGFF examples lay them out
_DEFAULT_NAMES = {2: "yx", 3: "zyx", 4: "czyx", 5: "tczyx"}


@dataclass(frozen=True)
class Axis:
    """One axis of an OME-Zarr image: its name, type (``space``, ``time``,
    ``channel`` or None for a custom one) and unit (or None)."""

    name: str
    type: str | None = None
    unit: str | None = None

    @property
    def is_space(self) -> bool:
        return self.type == "space"

    def to_json(self) -> dict[str, Any]:
        """The axis as NGFF JSON (absent type and unit are left out)."""
        out: dict[str, Any] = {"name": self.name}
        if self.type is not None:
            out["type"] = self.type
        if self.unit is not None:
            out["unit"] = self.unit
        return out

    @classmethod
    def from_json(cls, obj: Any) -> "Axis":
        """An axis from NGFF JSON (0.4/0.5 objects, or the bare names of 0.3)."""
        if isinstance(obj, str):
            return cls(obj, _KNOWN_TYPES.get(obj))
        if not isinstance(obj, Mapping) or not isinstance(obj.get("name"), str):
            raise MetadataError(f"an OME-NGFF axis must be an object with a name, got {obj!r}")
        return cls(obj["name"], obj.get("type"), obj.get("unit"))


def normalize_axes(axes: Any, ndim: int, units: str | Mapping[str, str] | None = None) -> tuple[Axis, ...]:
    """The axes of an ``ndim``-dimensional image.

    ``axes`` is None (inferred: 2-D ``yx``, 3-D ``zyx``, 4-D ``czyx``, 5-D
    ``tczyx``), a string of one-letter names (``"tczyx"``), or a sequence of
    names, :class:`Axis` objects or NGFF axis dicts. ``units`` is one unit for
    every space axis, or a mapping from axis name to unit, filling axes that
    have none.
    """
    if axes is None:
        if ndim not in _DEFAULT_NAMES:
            raise MetadataError(f"OME-Zarr images have 2 to 5 dimensions; this one has {ndim}: pass axes=")
        axes = _DEFAULT_NAMES[ndim]
    items = list(axes) if isinstance(axes, str) else list(axes)
    out = []
    for item in items:
        if isinstance(item, Axis):
            out.append(item)
        elif isinstance(item, str):
            out.append(Axis(item, _KNOWN_TYPES.get(item)))
        else:
            out.append(Axis.from_json(item))
    if len(out) != ndim:
        raise MetadataError(f"{len(out)} axes ({', '.join(a.name for a in out)}) for an image of {ndim} dimensions")
    check_axes(out)
    if units is not None:
        _check_units(units, out)
        out = [_with_unit(a, units) for a in out]
    return tuple(out)


def _check_units(units: Any, axes: Sequence[Axis]) -> None:
    """Refuse ``units`` that are not a unit name, or a mapping from the name of one of ``axes`` to a unit."""
    names = [a.name for a in axes]
    if isinstance(units, str):
        return
    if not isinstance(units, Mapping) or not all(isinstance(u, str) for u in units.values()):
        raise ArgumentError(f"units must be one unit name for every space axis (e.g. 'micrometer') or a mapping "
                            f"from axis name to unit name, got {units!r}")
    unknown = [k for k in units if k not in names]
    if unknown:
        raise ArgumentError(f"units names axes {unknown} that the image does not have (its axes are {names})")


def _with_unit(axis: Axis, units: str | Mapping[str, str]) -> Axis:
    if axis.unit is not None:
        return axis
    if isinstance(units, str):
        return Axis(axis.name, axis.type, units) if axis.is_space else axis
    return Axis(axis.name, axis.type, units.get(axis.name))


def check_axes(axes: Sequence[Axis]) -> None:
    """Refuse axes the NGFF rules forbid: not 2 to 5 of them, repeated names,
    not 2 or 3 space axes, more than one time or channel axis, time not first,
    space axes not last."""
    names = [a.name for a in axes]
    if not 2 <= len(axes) <= 5:
        raise MetadataError(f"OME-NGFF images have 2 to 5 axes, got {names}")
    if len(set(names)) != len(names):
        raise MetadataError(f"axis names must be unique, got {names}")
    kinds = [a.type for a in axes]
    n_space = kinds.count("space")
    if n_space not in (2, 3):
        raise MetadataError(f"OME-NGFF images have 2 or 3 space axes, got {n_space} in {names}")
    if kinds.count("time") > 1 or kinds.count("channel") > 1:
        raise MetadataError(f"at most one time and one channel axis, got {names}")
    if "time" in kinds and kinds[0] != "time":
        raise MetadataError(f"the time axis must come first, got {names}")
    if kinds[-n_space:] != ["space"] * n_space:
        raise MetadataError(f"the space axes must come last, got {names}")


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _transforms(scale: Sequence[float], translation: Sequence[float] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"type": "scale", "scale": [float(s) for s in scale]}]
    # a translation of zero says nothing; viewers treat its absence the same way
    if translation is not None and any(t != 0 for t in translation):
        out.append({"type": "translation", "translation": [float(t) for t in translation]})
    return out


def multiscale_json(
    axes: Sequence[Axis],
    paths: Sequence[str],
    scales: Sequence[Sequence[float]],
    translations: Sequence[Sequence[float] | None],
    *,
    zarr_format: int,
    name: str | None = None,
    method: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of the ``multiscales`` list: axes, and per level its path and
    coordinate transformations (scale, then translation where non-zero)."""
    ms: dict[str, Any] = {}
    if zarr_format == 2:
        ms["version"] = NGFF_VERSION[2]
    if name is not None:
        ms["name"] = name
    ms["axes"] = [a.to_json() for a in axes]
    ms["datasets"] = [
        {"path": p, "coordinateTransformations": _transforms(s, t)} for p, s, t in zip(paths, scales, translations)
    ]
    if method is not None:
        ms["type"] = method
    if metadata:
        ms["metadata"] = dict(metadata)
    return ms


def image_attributes(multiscale: dict[str, Any], zarr_format: int, *, label_source: str | None = None,
                     colors: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The group attributes of an image (or, with ``label_source``, a label image)."""
    label: dict[str, Any] | None = None
    if label_source is not None:
        label = {"source": {"image": label_source}}
        if colors:
            label["colors"] = [dict(c) for c in colors]
    if zarr_format == 3:
        ome: dict[str, Any] = {"version": NGFF_VERSION[3], "multiscales": [multiscale]}
        if label is not None:
            ome["image-label"] = label
        return {"ome": ome}
    attrs: dict[str, Any] = {"multiscales": [multiscale]}
    if label is not None:
        attrs["image-label"] = {"version": NGFF_VERSION[2], **label}
    return attrs


def labels_attributes(names: Sequence[str], zarr_format: int) -> dict[str, Any]:
    """The attributes of an image's ``labels`` group, listing its label images."""
    if zarr_format == 3:
        return {"ome": {"version": NGFF_VERSION[3], "labels": list(names)}}
    return {"labels": list(names)}


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------


def ome_namespace(attrs: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the dict holding the NGFF keys, its version): the ``ome`` object for 0.5,
    the attributes themselves for 0.4 and older."""
    ome = attrs.get("ome")
    if isinstance(ome, Mapping):
        return dict(ome), ome.get("version")
    version = None
    ms = attrs.get("multiscales")
    if isinstance(ms, list) and ms and isinstance(ms[0], Mapping):
        version = ms[0].get("version")
    return dict(attrs), version


def parse_transforms(
    transforms: Any, ndim: int, where: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(scale, translation) of a list of NGFF coordinate transformations applied in order."""
    scale = [1.0] * ndim
    translation = [0.0] * ndim
    for t in transforms or ():
        kind = t.get("type") if isinstance(t, Mapping) else None
        if kind == "identity":
            continue
        values = t.get(kind) if kind in ("scale", "translation") else None
        if values is None:
            if kind in ("scale", "translation") and "path" in t:
                raise MetadataError(f"{where}: {kind} stored in a separate array ({t['path']!r}) is not supported")
            raise MetadataError(f"{where}: unsupported coordinate transformation {t!r}")
        if len(values) != ndim:
            raise MetadataError(f"{where}: {kind} {values} has {len(values)} values for {ndim} axes")
        if kind == "scale":
            # a later scale also stretches an earlier translation
            scale = [a * float(b) for a, b in zip(scale, values)]
            translation = [a * float(b) for a, b in zip(translation, values)]
        else:
            translation = [a + float(b) for a, b in zip(translation, values)]
    return tuple(scale), tuple(translation)
