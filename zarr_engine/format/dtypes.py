"""Data types of Zarr v2 and v3, mapped onto numpy.

A :class:`DataType` names a type the way Zarr v3 does (``"int16"``,
``"string"``, ``{"name": "numpy.datetime64", ...}``) and carries the numpy
dtype that arrays of it have *in memory*: native byte order for numbers (the
stored byte order is the business of the ``bytes`` codec), and the object
dtype for variable-length strings and bytes. The v3 names and JSON shapes of
the extension types follow what zarr-python 3.1 writes.

Fill values are handled in :mod:`.fill`; the methods here only delegate.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import DTypeError, MetadataError
from ._util import fail, is_int, short, unsupported

Endian = Literal["little", "big"] | None

#: v3 core names of fixed-size numbers -> numpy type codes
NUMERIC_NAMES: dict[str, str] = {
    "bool": "b1",
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float16": "f2",
    "float32": "f4",
    "float64": "f8",
    "complex64": "c8",
    "complex128": "c16",
}
_NAME_OF_KIND_SIZE = {(np.dtype(code).kind, np.dtype(code).itemsize): name for name, code in NUMERIC_NAMES.items()}

DATETIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as", "generic")
_TIME_NAMES = {"numpy.datetime64": "M", "numpy.timedelta64": "m"}
_LENGTH_NAMES = {"fixed_length_utf32": "U", "null_terminated_bytes": "S", "raw_bytes": "V"}
#: numcodecs ids of v2 object codecs -> the data type name they imply
V2_OBJECT_CODECS = {
    "vlen-utf8": "string",
    "vlen-bytes": "variable_length_bytes",
    "vlen-array": "object",
    "json2": "object",
    "msgpack2": "object",
    "pickle": "object",
    "json": "object",
    "msgpack": "object",
}
#: itemsizes beyond this are hostile (numpy itself refuses more than 2**31-1)
_MAX_ITEMSIZE = 2**31 - 1
_MAX_FIELDS = 4096
_MAX_STRUCT_DEPTH = 16
_TYPESTR = re.compile(r"^([<>|=])([biufcmMUSVO])(\d*)(?:\[(\d*)([A-Za-z]+)\])?$")
_RAW_BITS = re.compile(r"^r(\d{1,10})$")
_OBJECT = np.dtype("O")
_NATIVE_ENDIAN: Endian = "little" if sys.byteorder == "little" else "big"


@dataclass(frozen=True, eq=False)
class DataType:
    """One Zarr data type: its v3 name, in-memory numpy dtype and v3 configuration."""

    name: str
    numpy_dtype: np.dtype
    configuration: dict[str, Any] | None = None

    # -- identity -----------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataType):
            return NotImplemented
        return (
            self.name == other.name
            and self.numpy_dtype == other.numpy_dtype
            and self.configuration == other.configuration
        )

    def __hash__(self) -> int:
        return hash((self.name, self.numpy_dtype))

    def __repr__(self) -> str:
        return f"DataType({self.name!r}, {self.numpy_dtype!r})"

    @property
    def is_object(self) -> bool:
        """True when arrays of this type hold Python objects (variable-length strings, bytes...)."""
        return self.numpy_dtype.kind == "O"

    @property
    def is_structured(self) -> bool:
        return self.numpy_dtype.names is not None

    @property
    def item_size(self) -> int | None:
        """Bytes per element in memory, None for variable-length types."""
        return None if self.is_object else self.numpy_dtype.itemsize

    # -- v3 -----------------------------------------------------------------
    @classmethod
    def from_v3(cls, json_value: Any, path: str = "", key: str = "zarr.json") -> "DataType":
        """Parse the ``data_type`` of a zarr.json (a name, or ``{"name", "configuration"}``)."""
        config: Any = None
        if isinstance(json_value, str):
            name = json_value
        elif isinstance(json_value, dict):
            name = json_value.get("name")
            if not isinstance(name, str):
                fail(path, key, f"data_type object needs a string 'name', got {short(json_value)}")
            extra = set(json_value) - {"name", "configuration", "must_understand"}
            if extra:
                fail(path, key, f"data_type {name!r} has unexpected keys {sorted(extra)}")
            config = json_value.get("configuration")
            if config is not None and not isinstance(config, dict):
                fail(path, key, f"data_type {name!r}: configuration must be an object, got {short(config)}")
        else:
            fail(path, key, f"data_type must be a string or an object, got {short(json_value)}")
        return _from_v3_named(name, config or {}, path, key, depth=0)

    def to_v3_json(self) -> str | dict[str, Any]:
        """The ``data_type`` value of zarr.json, as zarr-python 3.1 writes it."""
        if self.name == "object":
            raise MetadataError(
                f"data type {self.name!r} (v2 object codec "
                f"{(self.configuration or {}).get('object_codec_id')!r}) has no Zarr v3 equivalent"
            )
        if self.configuration is None:
            return self.name
        return {"name": self.name, "configuration": _copy_json(self.configuration)}

    # -- v2 -----------------------------------------------------------------
    @classmethod
    def from_v2(cls, json_value: Any, path: str = "", key: str = ".zarray") -> tuple["DataType", Endian]:
        """Parse the ``dtype`` of a .zarray; return the type and the *stored* byte order.

        ``"|O"`` gives a placeholder ``"object"`` type: the object codec among
        the filters decides what it is (see :meth:`for_v2_object`).
        Structured types keep their stored field byte orders in memory (so the
        bytes pass through untouched) and report no byte order.
        """
        if isinstance(json_value, str):
            return _from_typestr(json_value, path, key)
        if isinstance(json_value, list):
            dtype = _v2_struct_dtype(json_value, path, key, depth=0)
            return _structured(dtype), None
        fail(path, key, f"dtype must be a string or a list of fields, got {short(json_value)}")

    @classmethod
    def for_v2_object(cls, object_codec_id: str | None) -> "DataType":
        """The data type of a v2 ``"|O"`` array whose object codec has this numcodecs id."""
        name = V2_OBJECT_CODECS.get(object_codec_id or "", "object")
        if name == "object":
            return cls("object", _OBJECT, {"object_codec_id": object_codec_id})
        return cls(name, _OBJECT, None)

    def to_v2_json(self, endian: Endian = None) -> str | list[Any]:
        """The ``dtype`` value of .zarray, with ``endian`` the stored byte order."""
        if self.is_object:
            return "|O"
        if self.is_structured:
            return _v2_struct_json(self.numpy_dtype)
        return _typestr(self.numpy_dtype, endian)

    # -- numpy --------------------------------------------------------------
    @classmethod
    def from_numpy(cls, dtype_like: Any, zarr_format: int = 3, path: str = "") -> "DataType":
        """The data type a user means by ``dtype_like``.

        Accepts numpy dtypes and anything ``np.dtype`` accepts (``"int16"``,
        ``"<f4"``, ``"M8[s]"``, ``"U7"``, ``"S7"``, ``"V4"``, structured
        lists), ``str``/``"str"``/``"string"`` for variable-length UTF-8,
        ``bytes``/``"bytes"`` for variable-length bytes, v3 names and JSON
        objects (``"r16"``, ``{"name": "numpy.datetime64", ...}``) and
        :class:`DataType` itself. A bare object dtype is refused: it does not
        say whether it holds strings, bytes or anything else.
        """
        if isinstance(dtype_like, DataType):
            return dtype_like
        if dtype_like is str or (isinstance(dtype_like, str) and dtype_like in ("str", "string", "variable_length_utf8")):
            return cls("string", _OBJECT, None)
        if dtype_like is bytes or (isinstance(dtype_like, str) and dtype_like in ("bytes", "variable_length_bytes")):
            return cls("variable_length_bytes", _OBJECT, None)
        try:
            if isinstance(dtype_like, dict) or (isinstance(dtype_like, str) and _is_v3_only_name(dtype_like)):
                found = cls.from_v3(dtype_like, path, "dtype")
                if zarr_format == 2 and _RAW_BITS.match(found.name):
                    # v2 has no raw-bits type; "|V<n>" is its spelling of the same bytes
                    return _length_type("raw_bytes", found.numpy_dtype.itemsize)
                return found
        except MetadataError as exc:
            raise DTypeError(str(exc)) from None
        if isinstance(dtype_like, np.dtype) and dtype_like.kind == "T":
            return cls("string", _OBJECT, None)  # numpy's StringDType holds variable-length text
        try:
            dtype = np.dtype(dtype_like)
        except (TypeError, ValueError, SyntaxError) as exc:
            raise DTypeError(f"cannot use {short(dtype_like)} as the data type of {_node(path)}: {exc}") from None
        return _from_native(dtype, zarr_format, path)

    # -- fill values (see .fill) --------------------------------------------
    def fill_value_from_json(self, value: Any, zarr_format: int, path: str = "", key: str | None = None) -> Any:
        """Decode a stored ``fill_value`` into a scalar of this type (None for a v2 null)."""
        from .fill import fill_from_json

        return fill_from_json(self, value, zarr_format, path, key)

    def fill_value_to_json(self, value: Any, zarr_format: int) -> Any:
        """Encode a fill value for metadata (NaN as ``"NaN"``, bytes as base64...)."""
        from .fill import fill_to_json

        return fill_to_json(self, value, zarr_format)

    def cast_fill_value(self, user_value: Any, path: str = "") -> Any:
        """Turn a value a user passed into a fill value of this type, or raise DTypeError."""
        from .fill import cast_fill

        return cast_fill(self, user_value, path)

    def default_fill_value(self, zarr_format: int = 3) -> Any:
        """The fill value zarr-python 3.1 writes when none is given."""
        from .fill import default_fill

        return default_fill(self, zarr_format)


# -- constructors ---------------------------------------------------------------


def _node(path: str) -> str:
    return f"node {('/' + path.strip('/')) if path.strip('/') else '/'!r}"


_NUMERIC_TYPES: dict[str, DataType] = {}


def _numeric(name: str) -> DataType:
    # immutable and compared by value: one instance per name serves every array
    found = _NUMERIC_TYPES.get(name)
    if found is None:
        found = _NUMERIC_TYPES[name] = DataType(name, np.dtype(NUMERIC_NAMES[name]), None)
    return found


def _time(kind: str, unit: str, scale: int) -> DataType:
    name = "numpy.datetime64" if kind == "M" else "numpy.timedelta64"
    code = f"{kind}8" if unit == "generic" else f"{kind}8[{scale}{unit}]"
    return DataType(name, np.dtype(code), {"unit": unit, "scale_factor": scale})


def _length_type(name: str, length_bytes: int) -> DataType:
    kind = _LENGTH_NAMES[name]
    count = length_bytes // 4 if kind == "U" else length_bytes
    return DataType(name, np.dtype(f"{kind}{count}"), {"length_bytes": length_bytes})


def _structured(dtype: np.dtype) -> DataType:
    return DataType("structured", dtype, {"fields": _v3_fields(dtype)})


def _v3_fields(dtype: np.dtype) -> list[list[Any]]:
    """v3 JSON of a structured dtype's fields (subarray fields become raw_bytes, as zarr-python does)."""
    out: list[list[Any]] = []
    for fname in dtype.names or ():
        fdt = dtype.fields[fname][0]
        if fdt.subdtype is not None:
            out.append([fname, {"name": "raw_bytes", "configuration": {"length_bytes": fdt.itemsize}}])
        elif fdt.names is not None:
            out.append([fname, {"name": "structured", "configuration": {"fields": _v3_fields(fdt)}}])
        else:
            out.append([fname, _from_native(fdt.newbyteorder("="), 3, "").to_v3_json()])
    return out


def _is_v3_only_name(text: str) -> bool:
    """Names numpy does not understand (or understands differently) but Zarr v3 does."""
    return bool(_RAW_BITS.match(text)) or text in _TIME_NAMES or text in _LENGTH_NAMES or text == "structured"


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _config_keys(name: str, config: dict[str, Any], keys: set[str], path: str, key: str) -> None:
    if set(config) != keys:
        fail(path, key, f"data_type {name!r} needs configuration keys {sorted(keys)}, got {sorted(config)}")


def _positive_int(value: Any, what: str, path: str, key: str, limit: int = _MAX_ITEMSIZE) -> int:
    if not is_int(value) or value <= 0 or value > limit:
        fail(path, key, f"{what} must be a positive integer up to {limit}, got {short(value)}")
    return value


def _from_v3_named(name: str, config: dict[str, Any], path: str, key: str, depth: int) -> DataType:
    if name in NUMERIC_NAMES:
        if config:
            fail(path, key, f"data_type {name!r} takes no configuration, got {short(config)}")
        return _numeric(name)
    if name in ("string", "variable_length_utf8"):
        return DataType("string", _OBJECT, None)
    if name in ("variable_length_bytes", "bytes"):
        return DataType("variable_length_bytes", _OBJECT, None)
    if name in _TIME_NAMES:
        _config_keys(name, config, {"unit", "scale_factor"}, path, key)
        unit = config["unit"]
        if unit not in DATETIME_UNITS:
            fail(path, key, f"data_type {name!r}: unit must be one of {list(DATETIME_UNITS)}, got {short(unit)}")
        scale = _positive_int(config["scale_factor"], f"data_type {name!r} scale_factor", path, key)
        if unit == "generic" and scale != 1:
            fail(path, key, f"data_type {name!r}: the generic unit takes no scale_factor, got {scale}")
        return _time(_TIME_NAMES[name], unit, scale)
    if name in _LENGTH_NAMES:
        _config_keys(name, config, {"length_bytes"}, path, key)
        length = _positive_int(config["length_bytes"], f"data_type {name!r} length_bytes", path, key)
        if name == "fixed_length_utf32" and length % 4:
            fail(path, key, f"data_type {name!r}: length_bytes must be a multiple of 4, got {length}")
        return _length_type(name, length)
    raw = _RAW_BITS.match(name)
    if raw:
        bits = int(raw.group(1))
        if bits <= 0 or bits % 8 or bits // 8 > _MAX_ITEMSIZE:
            fail(path, key, f"data_type {name!r}: raw bits must be a positive multiple of 8")
        if config:
            fail(path, key, f"data_type {name!r} takes no configuration, got {short(config)}")
        return DataType(name, np.dtype(f"V{bits // 8}"), None)
    if name in ("structured", "struct"):
        _config_keys(name, config, {"fields"}, path, key)
        return _structured(_v3_struct_dtype(config["fields"], path, key, depth))
    unsupported(path, key, f"data type {name!r} is not supported")


def _v3_struct_dtype(fields: Any, path: str, key: str, depth: int) -> np.dtype:
    if depth > _MAX_STRUCT_DEPTH:
        fail(path, key, f"structured data type nested more than {_MAX_STRUCT_DEPTH} levels")
    if not isinstance(fields, list) or not fields or len(fields) > _MAX_FIELDS:
        fail(path, key, f"structured fields must be a non-empty list, got {short(fields)}")
    parts = []
    for i, item in enumerate(fields):
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            fail(path, key, f"structured field {i} must be [name, data_type], got {short(item)}")
        fname, fjson = item
        if isinstance(fjson, dict) and fjson.get("name") in ("structured", "struct"):
            cfg = fjson.get("configuration")
            if not isinstance(cfg, dict):
                fail(path, key, f"structured field {fname!r} needs a configuration object")
            _config_keys("structured", cfg, {"fields"}, path, key)
            parts.append((fname, _v3_struct_dtype(cfg["fields"], path, key, depth + 1)))
            continue
        ftype = DataType.from_v3(fjson, path, key)
        if ftype.is_object:
            unsupported(path, key, f"structured field {fname!r} of variable-length type {ftype.name!r}")
        parts.append((fname, ftype.numpy_dtype))
    return _make_struct(parts, path, key)


def _make_struct(parts: list[tuple[Any, ...]], path: str, key: str) -> np.dtype:
    try:
        dtype = np.dtype(parts)
    except (TypeError, ValueError) as exc:
        fail(path, key, f"invalid structured data type: {exc}")
    if dtype.itemsize > _MAX_ITEMSIZE:
        fail(path, key, f"structured data type of {dtype.itemsize} bytes is too large")
    return dtype


# -- v2 type strings --------------------------------------------------------------


def _from_typestr(text: str, path: str, key: str) -> tuple[DataType, Endian]:
    m = _TYPESTR.match(text)
    if not m:
        fail(path, key, f"dtype {short(text)} is not a valid Zarr v2 type string")
    order, kind, size, tcount, tunit = m.groups()
    if order == "=":
        fail(path, key, f"dtype {text!r}: '=' (native) byte order is not allowed in stored metadata")
    if kind == "O":
        if size or tunit:
            fail(path, key, f"dtype {text!r}: the object type takes no size")
        return DataType("object", _OBJECT, None), None
    if tunit is not None and kind not in "mM":
        fail(path, key, f"dtype {text!r}: only datetime types take a [unit]")
    if not size or len(size) > 10 or int(size) <= 0:
        if kind in "mM" and not size:
            size = "8"
        else:
            fail(path, key, f"dtype {text!r} needs a positive size")
    n = int(size)
    endian: Endian = None if order == "|" else ("little" if order == "<" else "big")
    if kind in "biufc":
        name = _NAME_OF_KIND_SIZE.get((kind, n))
        if name is None:
            unsupported(path, key, f"dtype {text!r} (no such Zarr data type)")
        dt = _numeric(name)
    elif kind in "mM":
        if n != 8:
            fail(path, key, f"dtype {text!r}: datetime types are 8 bytes")
        unit = tunit or "generic"
        if unit not in DATETIME_UNITS:
            fail(path, key, f"dtype {text!r}: unknown time unit {unit!r}")
        if tcount and (len(tcount) > 10 or int(tcount) <= 0):
            fail(path, key, f"dtype {text!r}: invalid time scale")
        dt = _time(kind, unit, int(tcount) if tcount else 1)
    else:  # U S V
        length_bytes = n * 4 if kind == "U" else n
        if length_bytes > _MAX_ITEMSIZE:
            fail(path, key, f"dtype {text!r} is too large")
        name = {"U": "fixed_length_utf32", "S": "null_terminated_bytes", "V": "raw_bytes"}[kind]
        dt = _length_type(name, length_bytes)
    if kind in "SVb" or (kind in "iu" and n == 1):
        return dt, None  # a single byte (or byte strings) has no byte order
    if endian is None:
        fail(path, key, f"dtype {text!r}: a multi-byte type needs '<' or '>' byte order")
    return dt, endian


def _v2_struct_dtype(fields: list[Any], path: str, key: str, depth: int) -> np.dtype:
    if depth > _MAX_STRUCT_DEPTH:
        fail(path, key, f"structured dtype nested more than {_MAX_STRUCT_DEPTH} levels")
    if not fields or len(fields) > _MAX_FIELDS:
        fail(path, key, f"structured dtype needs 1 to {_MAX_FIELDS} fields, got {len(fields)}")
    parts: list[tuple[Any, ...]] = []
    for i, item in enumerate(fields):
        if not isinstance(item, list) or len(item) not in (2, 3) or not isinstance(item[0], str):
            fail(path, key, f"structured dtype field {i} must be [name, type] or [name, type, shape], got {short(item)}")
        fname, ftype = item[0], item[1]
        if isinstance(ftype, list):
            fdt = _v2_struct_dtype(ftype, path, key, depth + 1)
        elif isinstance(ftype, str):
            dt, endian = _from_typestr(ftype, path, key)
            if dt.is_object:
                unsupported(path, key, f"structured dtype field {fname!r} of object type")
            # keep the stored byte order: structured data passes through undecoded
            fdt = dt.numpy_dtype if endian is None else dt.numpy_dtype.newbyteorder("<" if endian == "little" else ">")
        else:
            fail(path, key, f"structured dtype field {fname!r} has an invalid type {short(ftype)}")
        if len(item) == 3:
            shape = item[2]
            if (
                not isinstance(shape, list)
                or len(shape) > 32
                or not all(is_int(s) and 0 < s <= _MAX_ITEMSIZE for s in shape)
            ):
                fail(path, key, f"structured dtype field {fname!r} has an invalid shape {short(shape)}")
            parts.append((fname, fdt, tuple(shape)))
        else:
            parts.append((fname, fdt))
    return _make_struct(parts, path, key)


def _typestr(dtype: np.dtype, endian: Endian) -> str:
    """numpy-style type string with the stored byte order (``"|"`` where order is meaningless)."""
    body = dtype.str[1:]
    if dtype.kind in "SVb" or dtype.itemsize == 1 or endian is None:
        return "|" + body
    return ("<" if endian == "little" else ">") + body


def _v2_struct_json(dtype: np.dtype) -> list[Any]:
    out: list[Any] = []
    for fname in dtype.names or ():
        fdt = dtype.fields[fname][0]
        if fdt.subdtype is not None:
            base, shape = fdt.subdtype
            out.append([fname, _field_typestr(base), list(shape)])
        elif fdt.names is not None:
            out.append([fname, _v2_struct_json(fdt)])
        else:
            out.append([fname, _field_typestr(fdt)])
    return out


def _field_typestr(fdt: np.dtype) -> str:
    if fdt.names is not None:  # pragma: no cover - handled by the caller
        raise MetadataError("nested structured field in a subarray is not supported")
    order = fdt.byteorder
    if order == "=":
        order = "<" if _NATIVE_ENDIAN == "little" else ">"
    if fdt.kind in "SVb" or fdt.itemsize == 1:
        order = "|"
    return order + fdt.str[1:]


# -- numpy -> DataType -------------------------------------------------------------


def _from_native(dtype: np.dtype, zarr_format: int, path: str) -> DataType:
    kind = dtype.kind
    if kind == "O":
        raise DTypeError(
            f"the object dtype is ambiguous for {_node(path)}: say dtype=str for variable-length "
            "strings or dtype=bytes for variable-length bytes"
        )
    if kind == "T":
        return DataType("string", _OBJECT, None)
    if dtype.names is not None:
        return _from_native_struct(dtype, zarr_format, path)
    if dtype.subdtype is not None:
        raise DTypeError(f"subarray dtype {dtype} cannot be the data type of {_node(path)}")
    if kind in "biufc":
        name = _NAME_OF_KIND_SIZE.get((kind, dtype.itemsize))
        if name is None:
            raise DTypeError(f"numpy dtype {dtype} has no Zarr equivalent ({_node(path)})")
        return _numeric(name)
    if kind in "mM":
        unit, count = np.datetime_data(dtype)
        return _time(kind, unit, int(count) if unit != "generic" else 1)
    if kind in "USV":
        if dtype.itemsize == 0:
            raise DTypeError(f"numpy dtype {dtype} needs a length (e.g. {kind}8) for {_node(path)}")
        name = {"U": "fixed_length_utf32", "S": "null_terminated_bytes", "V": "raw_bytes"}[kind]
        return _length_type(name, dtype.itemsize)
    raise DTypeError(f"numpy dtype {dtype} has no Zarr equivalent ({_node(path)})")


def _from_native_struct(dtype: np.dtype, zarr_format: int, path: str) -> DataType:
    parts: list[tuple[Any, ...]] = []
    for fname in dtype.names:
        fdt = dtype.fields[fname][0]
        base = fdt.subdtype[0] if fdt.subdtype is not None else fdt
        if base.kind == "O" or (base.names is None and base.kind not in "biufcmMUSV"):
            raise DTypeError(f"structured field {fname!r} of dtype {base} cannot be stored ({_node(path)})")
        if base.names is not None:
            base = _from_native_struct(base, zarr_format, path).numpy_dtype
        elif zarr_format == 3 or base.byteorder == "=":
            # v3 fields are native in memory; a v2 field keeps the order asked for
            base = base.newbyteorder("=")
        parts.append((fname, base, fdt.subdtype[1]) if fdt.subdtype is not None else (fname, base))
    # rebuild packed: the stored layout has no padding or offsets
    return _structured(np.dtype(parts))


def endian_of(dtype_like: Any, data_type: DataType) -> Endian:
    """Stored byte order for a v2 array created from ``dtype_like`` (its own order, else native)."""
    if data_type.is_object or data_type.is_structured:
        return None
    dt = data_type.numpy_dtype
    if dt.kind in "SVb" or dt.itemsize == 1:
        return None
    order = None
    if isinstance(dtype_like, (str, np.dtype)) and not (isinstance(dtype_like, str) and _is_v3_only_name(dtype_like)):
        try:
            order = np.dtype(dtype_like).byteorder
        except (TypeError, ValueError):
            order = None
    if order == ">":
        return "big"
    if order == "<":
        return "little"
    return _NATIVE_ENDIAN
