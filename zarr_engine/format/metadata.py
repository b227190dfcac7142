"""The one internal model of array and group metadata, shared by v2 and v3.

A v2 array is parsed into the same :class:`ArrayMetadata` as a v3 one: its
``order="F"``, filters, dtype byte order and compressor become a codec chain
(``transpose``, ``numcodecs.<id>`` filters, ``bytes``/object codec,
``numcodecs.<id>`` compressor) held in :attr:`ArrayMetadata.codecs`, so the
engine is written once. The v2 fields (``order``, ``filters``,
``compressor``) are kept as well, so serialising goes back to the stored
format byte for byte.

Codec specifications are plain JSON-like dicts, always of the normalised form
``{"name": str, "configuration": dict}``; this layer knows nothing of how a
codec works.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .dtypes import DataType

CodecSpec = dict[str, Any]


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """How chunk grid coordinates become store keys (relative to the array's path)."""

    #: "n5": N5's block paths, the coordinates reversed (N5 order) joined by "/", no prefix
    name: Literal["default", "v2", "n5"] = "default"
    separator: Literal["/", "."] = "/"

    def encode(self, coords: tuple[int, ...]) -> str:
        if self.name == "n5":
            return "/".join(str(c) for c in reversed(coords)) if coords else "0"
        if self.name == "default":
            return "c" + "".join(self.separator + str(c) for c in coords)
        # "v2": no prefix; a 0-d array's only chunk is "0"
        if not coords:
            return "0"
        return self.separator.join(str(c) for c in coords)

    def encode_box(self, ranges: list[range], prefix: str = "") -> list[str]:
        """``prefix`` + :meth:`encode` of every chunk in the box ``ranges`` (one
        range of grid coordinates per axis), in C order: each coordinate is
        formatted once, and each key costs one string concatenation per axis."""
        if not ranges:
            return [prefix + self.encode(())]
        texts = [[str(i) for i in r] for r in ranges]
        if self.name == "n5":  # coordinates reversed: each later axis goes in front
            keys = texts[0]
            for axis in texts[1:]:
                keys = [t + "/" + k for k in keys for t in axis]
            return [prefix + k for k in keys] if prefix else keys
        sep = self.separator
        keys = [prefix + ("c" + sep if self.name == "default" else "") + t for t in texts[0]]
        for axis in texts[1:]:
            keys = [k + sep + t for k in keys for t in axis]
        return keys

    def decode(self, key: str) -> tuple[int, ...] | None:
        """Grid coordinates of a chunk key, or None if ``key`` is not a chunk key of this encoding."""
        try:
            if self.name == "default":
                if key == "c":
                    return ()
                if not key.startswith("c" + self.separator):
                    return None
                return tuple(int(p) for p in key[2:].split(self.separator))
            if self.name == "n5":
                return tuple(int(p) for p in reversed(key.split("/")))
            return tuple(int(p) for p in key.split(self.separator))
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": {"separator": self.separator}}


@dataclass(frozen=True, eq=False)
class ArrayMetadata:
    """Metadata of one array, in any format (``"n5"``: an N5 dataset, see :mod:`.n5`)."""

    zarr_format: Literal[2, 3, "n5"]
    shape: tuple[int, ...]
    #: the regular grid's chunk shape: for a sharded array, the *shard* shape
    chunk_shape: tuple[int, ...]
    data_type: DataType
    #: a numpy scalar (or, for object data types, a Python object) of ``data_type``;
    #: None only for a v2 array whose fill_value is null
    fill_value: Any
    #: the full v3 codec chain as normalised specs (derived for v2, see module doc)
    codecs: tuple[CodecSpec, ...]
    chunk_key_encoding: ChunkKeyEncoding = ChunkKeyEncoding()
    attributes: dict[str, Any] = field(default_factory=dict)
    dimension_names: tuple[str | None, ...] | None = None
    # -- v2 only: what was (or will be) written in .zarray ------------------
    order: Literal["C", "F"] = "C"
    filters: tuple[dict[str, Any], ...] | None = None
    compressor: dict[str, Any] | None = None
    # -- v3 only ------------------------------------------------------------
    storage_transformers: tuple[dict[str, Any], ...] = ()
    #: unknown top-level fields with must_understand: false, kept for round trips
    extra_fields: dict[str, Any] = field(default_factory=dict)

    node_type = "array"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> Any:
        """The numpy dtype of arrays read from (and written to) this array."""
        return self.data_type.numpy_dtype

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Number of chunks along each axis."""
        return tuple(-(-s // c) if c else 0 for s, c in zip(self.shape, self.chunk_shape))

    @property
    def nchunks(self) -> int:
        return math.prod(self.grid_shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """Store key of a chunk, relative to the array's path."""
        return self.chunk_key_encoding.encode(coords)

    def replace(self, **changes: Any) -> "ArrayMetadata":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_checked(cls, **fields: Any) -> "ArrayMetadata":
        """An instance from every field, already validated (the parsers' fast path:
        a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
        a quarter of parsing a consolidated array's metadata)."""
        if fields.keys() != _ARRAY_FIELD_NAMES:
            return cls(**fields)
        obj = object.__new__(cls)
        obj.__dict__.update(fields)
        return obj

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArrayMetadata):
            return NotImplemented
        from .serialize import to_documents  # local: serialize imports this module

        return to_documents(self) == to_documents(other)

    __hash__ = None  # type: ignore[assignment]


_ARRAY_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(ArrayMetadata))


@dataclass(frozen=True, eq=False)
class GroupMetadata:
    """Metadata of one group, in any format (``"n5"``: an N5 group, see :mod:`.n5`)."""

    zarr_format: Literal[2, 3, "n5"]
    attributes: dict[str, Any] = field(default_factory=dict)
    #: consolidated metadata of every node below this group, keyed by path
    #: relative to it (``"a"``, ``"a/b"``), or None when there is none
    consolidated: dict[str, "ArrayMetadata | GroupMetadata"] | None = None
    extra_fields: dict[str, Any] = field(default_factory=dict)

    node_type = "group"

    def replace(self, **changes: Any) -> "GroupMetadata":
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupMetadata):
            return NotImplemented
        from .serialize import to_documents

        return to_documents(self) == to_documents(other)

    __hash__ = None  # type: ignore[assignment]


NodeMetadata = ArrayMetadata | GroupMetadata
