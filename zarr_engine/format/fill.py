"""Fill values: decode from metadata JSON, encode to it, and cast from user input.

The JSON encodings follow the Zarr specs and zarr-python 3.1: numbers as JSON
numbers; ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` for non-finite floats; in
v3 also a ``"0x..."`` hex bit pattern (which is how a NaN with a payload other
than numpy's default NaN is written, so that it round-trips bit for bit);
``[re, im]`` for complex numbers; integers (or ``"NaT"``) for datetimes;
base64 strings for byte strings, raw bytes and structured values; plain
strings for text; ``null`` (v2 only) for "no fill value".
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DTypeError, MetadataError
from ._util import fail, is_int, short

if TYPE_CHECKING:
    from .dtypes import DataType

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_UINT_OF_SIZE = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_FLOAT_OF_HEX_DIGITS = {4: np.float16, 8: np.float32, 16: np.float64}
_NAT = np.iinfo(np.int64).min


def _is_raw_bits(dt: "DataType") -> bool:
    """The spec's ``r<N>`` raw bits type (whose fill value is a list of byte values)."""
    return dt.name[:1] == "r" and dt.name[1:].isdigit()


class _Bad(Exception):
    """Internal: a value does not fit; turned into the right public error by the caller."""


# -- floats -------------------------------------------------------------------------


def _bits(x: np.floating) -> int:
    return int(np.array(x).view(_UINT_OF_SIZE[x.dtype.itemsize])[()])


def _float_from_json(value: Any, fdt: np.dtype) -> np.floating:
    if isinstance(value, bool):
        raise _Bad("a boolean is not a float")
    if is_int(value) or isinstance(value, float):
        try:
            as_float = float(value)
        except OverflowError:
            raise _Bad(f"{short(value)} is out of range") from None
        with np.errstate(over="ignore"):
            x = fdt.type(as_float)
        if np.isinf(x) and math.isfinite(as_float):
            raise _Bad(f"{short(value)} is out of range for {fdt}")
        return x
    if isinstance(value, str):
        if value in _SPECIAL:
            return fdt.type(_SPECIAL[value])
        if value[:2] in ("0x", "0X") and len(value) <= 18:
            digits = value[2:]
            try:
                bits = int(digits, 16)
            except ValueError:
                raise _Bad(f"{value!r} is not a hex bit pattern") from None
            if len(digits) == 2 * fdt.itemsize:
                # exactly this type's bits: keep them (NaN payloads survive)
                return np.array(bits, dtype=_UINT_OF_SIZE[fdt.itemsize]).view(fdt)[()]
            other = _FLOAT_OF_HEX_DIGITS.get(len(digits))
            if other is None:
                raise _Bad(f"{value!r} must have 4, 8 or 16 hex digits")
            wider = np.array(bits, dtype=_UINT_OF_SIZE[np.dtype(other).itemsize]).view(other)[()]
            with np.errstate(over="ignore"):
                return fdt.type(wider)
    raise _Bad(f"{short(value)} is not a float (expected a number, 'NaN', 'Infinity', '-Infinity' or hex)")


def _float_to_json(x: Any, fdt: np.dtype, zarr_format: int) -> Any:
    x = fdt.type(x)
    if np.isnan(x):
        if zarr_format == 3 and _bits(x) != _bits(fdt.type(math.nan)):
            return "0x" + format(_bits(x), f"0{2 * fdt.itemsize}x")
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def _component(dt: np.dtype) -> np.dtype:
    return np.dtype(f"f{dt.itemsize // 2}")


# -- bytes ----------------------------------------------------------------------------


def _b64decode(value: Any, limit: int | None) -> bytes:
    if not isinstance(value, str):
        raise _Bad(f"{short(value)} is not a base64 string")
    if limit is not None and len(value) > 4 * (limit // 3 + 2):
        raise _Bad(f"base64 string of {len(value)} characters is longer than the type allows")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _Bad(f"{short(value)} is not valid base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


# -- decode ---------------------------------------------------------------------------


def fill_from_json(dt: "DataType", value: Any, zarr_format: int, path: str = "", key: str | None = None) -> Any:
    """Decode a stored ``fill_value`` into a numpy scalar of ``dt`` (or str/bytes/None)."""
    key = key or ("zarr.json" if zarr_format == 3 else ".zarray")
    if value is None:
        if zarr_format == 2:
            return None
        fail(path, key, "fill_value must not be null in Zarr v3")
    # numeric fill values are immutable numpy scalars: the same (type, JSON value)
    # decodes to the same scalar, and consolidated metadata repeats them
    cacheable = dt.configuration is None and dt.numpy_dtype.kind in "biufc" and type(value) in (str, int, float, bool)
    if cacheable:
        # float.hex keeps -0.0 apart from 0.0 (equal, with one hash) and gives NaN one key
        memo = (dt.name, type(value), value.hex() if type(value) is float else value, zarr_format)
        found = _NUMERIC_FILLS.get(memo)
        if found is not None:
            return found
    try:
        decoded = _decode(dt, value, zarr_format)
    except _Bad as exc:
        fail(path, key, f"fill_value {short(value)} is invalid for data type {dt.name!r}: {exc}")
    if cacheable and isinstance(decoded, np.generic):
        if len(_NUMERIC_FILLS) > 4096:
            _NUMERIC_FILLS.clear()
        _NUMERIC_FILLS[memo] = decoded
    return decoded


_NUMERIC_FILLS: dict[tuple[Any, ...], Any] = {}


def _decode(dt: "DataType", value: Any, zarr_format: int) -> Any:
    npdt = dt.numpy_dtype
    kind = npdt.kind
    if dt.name == "object":
        return value
    if dt.name == "string":
        if isinstance(value, str):
            return value
        if zarr_format == 2 and (is_int(value) or isinstance(value, float)):
            return str(value)  # older v2 writers stored 0 for strings; zarr-python reads it as "0"
        raise _Bad("expected a string")
    if dt.name == "variable_length_bytes":
        return _b64decode(value, None)
    if kind == "b":
        if isinstance(value, bool) or (is_int(value) and value in (0, 1)):
            return np.bool_(bool(value))
        raise _Bad("expected true or false")
    if kind in "iu":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not is_int(value):
            raise _Bad("expected an integer")
        info = np.iinfo(npdt)
        if not info.min <= value <= info.max:
            raise _Bad(f"out of range [{info.min}, {info.max}]")
        return npdt.type(value)
    if kind == "f":
        return _float_from_json(value, npdt)
    if kind == "c":
        if not isinstance(value, list) or len(value) != 2:
            raise _Bad("expected [real, imag]")
        part = _component(npdt)
        re, im = (_float_from_json(v, part) for v in value)
        out = np.zeros((), npdt)
        out.real, out.imag = re, im  # assigning parts keeps NaN payloads
        return out[()]
    if kind in "mM":
        if value == "NaT":
            value = _NAT
        if not is_int(value) or not _NAT <= value < 2**63:
            raise _Bad("expected a 64-bit integer or 'NaT'")
        return np.array(value, dtype=np.int64).view(npdt)[()]
    if kind == "U":
        if not isinstance(value, str):
            raise _Bad("expected a string")
        if len(value) > npdt.itemsize // 4:
            raise _Bad(f"longer than {npdt.itemsize // 4} characters")
        return npdt.type(value)
    if kind == "S":
        raw = _b64decode(value, npdt.itemsize)
        if len(raw) > npdt.itemsize:
            raise _Bad(f"longer than {npdt.itemsize} bytes")
        return npdt.type(raw)
    if kind == "V":
        if _is_raw_bits(dt) and isinstance(value, list):
            if len(value) != npdt.itemsize or not all(is_int(b) and 0 <= b < 256 for b in value):
                raise _Bad(f"expected a list of {npdt.itemsize} byte values")
            raw = bytes(value)
        else:
            raw = _b64decode(value, npdt.itemsize)
        if len(raw) != npdt.itemsize:
            raise _Bad(f"expected {npdt.itemsize} bytes, got {len(raw)}")
        return np.frombuffer(raw, dtype=npdt).copy()[0]
    raise _Bad("no fill value encoding for this type")  # pragma: no cover


# -- encode ---------------------------------------------------------------------------


def fill_to_json(dt: "DataType", value: Any, zarr_format: int) -> Any:
    """Encode a fill value of ``dt`` for metadata JSON."""
    if value is None:
        if zarr_format == 2:
            return None
        raise MetadataError(f"a Zarr v3 array needs a fill value (data type {dt.name!r})")
    npdt = dt.numpy_dtype
    kind = npdt.kind
    if dt.name == "object":
        return value
    if dt.name == "string":
        return str(value)
    if dt.name == "variable_length_bytes":
        return _b64(value if isinstance(value, (bytes, bytearray)) else bytes(value))
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f":
        return _float_to_json(value, npdt, zarr_format)
    if kind == "c":
        part = _component(npdt)
        c = np.asarray(value, dtype=npdt)
        return [_float_to_json(c.real[()], part, zarr_format), _float_to_json(c.imag[()], part, zarr_format)]
    if kind in "mM":
        return int(np.asarray(value, dtype=npdt).view(np.int64)[()])
    if kind == "U":
        return str(value)
    if kind == "S":
        return _b64(bytes(npdt.type(value)))
    if kind == "V":
        raw = np.asarray(value, dtype=npdt).tobytes()
        if _is_raw_bits(dt) and zarr_format == 3:
            return list(raw)  # the v3 spec spells raw-bits fill values as byte lists
        return _b64(raw)
    raise MetadataError(f"no fill value encoding for data type {dt.name!r}")  # pragma: no cover


# -- user input ------------------------------------------------------------------------


def _user_error(dt: "DataType", value: Any, path: str, why: str) -> DTypeError:
    node = "/" + path.strip("/") if path.strip("/") else "/"
    return DTypeError(f"fill_value {short(value)} cannot be stored as {dt.name!r} in node {node!r}: {why}")


def cast_fill(dt: "DataType", value: Any, path: str = "") -> Any:
    """Turn a Python/numpy value into a fill value of ``dt`` or raise :class:`DTypeError`."""
    try:
        return _cast(dt, value)
    except _Bad as exc:
        raise _user_error(dt, value, path, str(exc)) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise _user_error(dt, value, path, str(exc)) from None


def _cast(dt: "DataType", value: Any) -> Any:
    npdt = dt.numpy_dtype
    kind = npdt.kind
    if value is None:
        raise _Bad("None is not a value (leave fill_value out for the default)")
    if dt.name == "object":
        return value
    if dt.name == "string":
        if isinstance(value, str):
            return str(value)
        raise _Bad("expected a str")
    if dt.name == "variable_length_bytes":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise _Bad("expected bytes")
    if isinstance(value, np.ndarray) and value.ndim == 0 and npdt.names is None:
        value = value[()]
    if kind == "b":
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
            return np.bool_(bool(value))
        raise _Bad("expected a boolean")
    if kind in "iu":
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise _Bad("expected an integer")
        info = np.iinfo(npdt)
        if not info.min <= int(value) <= info.max:
            raise _Bad(f"out of range [{info.min}, {info.max}]")
        return npdt.type(int(value))
    if kind == "f":
        if isinstance(value, np.floating) and value.dtype == npdt:
            return npdt.type(value)  # same type: keep the exact bits
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return _float_from_json(float(value), npdt)
        if isinstance(value, str):
            return _float_from_json(value, npdt)
        raise _Bad("expected a real number")
    if kind == "c":
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return _decode(dt, list(value), 3)
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, complex, np.integer, np.floating, np.complexfloating)
        ):
            raise _Bad("expected a complex number")
        c = complex(value)
        part = _component(npdt)
        return _decode(dt, [_cast_float_part(c.real, part), _cast_float_part(c.imag, part)], 3)
    if kind in "mM":
        return _cast_time(npdt, value)
    if kind == "U":
        if not isinstance(value, str):
            raise _Bad("expected a str")
        if len(value) > npdt.itemsize // 4:
            raise _Bad(f"longer than {npdt.itemsize // 4} characters")
        return npdt.type(value)
    if kind == "S":
        if isinstance(value, str):
            value = value.encode("ascii")
        if not isinstance(value, (bytes, bytearray)):
            raise _Bad("expected bytes")
        if len(value) > npdt.itemsize:
            raise _Bad(f"longer than {npdt.itemsize} bytes")
        return npdt.type(bytes(value))
    if kind == "V":
        return _cast_void(npdt, value)
    raise _Bad("unsupported type")  # pragma: no cover


def _cast_float_part(x: float, part: np.dtype) -> Any:
    return _float_to_json(_float_from_json(x, part), part, 3)


def _cast_time(npdt: np.dtype, value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        raise _Bad("expected a time value")
    if isinstance(value, str):
        if value == "NaT":
            return _decode_time(npdt, _NAT)
        value = np.datetime64(value) if npdt.kind == "M" else None
        if value is None:
            raise _Bad("expected a numpy.timedelta64 or an integer")
    # before the integers: numpy.timedelta64 is a numpy.integer, whose int() is a datetime.timedelta
    if isinstance(value, (np.datetime64, np.timedelta64)):
        if (npdt.kind == "M") != isinstance(value, np.datetime64):
            raise _Bad("datetime and timedelta do not mix")
        if np.isnat(value):
            return _decode_time(npdt, _NAT)
        out = np.array(value).astype(npdt)
        if out.astype(value.dtype) != value:
            raise _Bad(f"{value} cannot be represented exactly in {npdt}")
        return out[()]
    if isinstance(value, (int, np.integer)):
        return _decode_time(npdt, int(value))
    raise _Bad("expected a numpy datetime64/timedelta64, a string or an integer")


def _decode_time(npdt: np.dtype, n: int) -> Any:
    if not _NAT <= n < 2**63:
        raise _Bad("out of the 64-bit range")
    return np.array(n, dtype=np.int64).view(npdt)[()]


def _cast_void(npdt: np.dtype, value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) != npdt.itemsize:
            raise _Bad(f"expected {npdt.itemsize} bytes, got {len(raw)}")
        return np.frombuffer(raw, dtype=npdt).copy()[0]
    if npdt.names is None:
        if isinstance(value, np.void) and value.dtype.itemsize == npdt.itemsize and value.dtype.names is None:
            return np.frombuffer(value.tobytes(), dtype=npdt).copy()[0]
        raise _Bad("expected bytes of the right length")
    if isinstance(value, (np.void, np.ndarray)) and value.dtype.names is not None:
        arr = np.asarray(value)
        if arr.shape != ():
            raise _Bad("expected a scalar")
        if tuple(arr.dtype.names) != tuple(npdt.names):
            raise _Bad(f"fields {arr.dtype.names} do not match {npdt.names}")
        return arr.astype(npdt)[()]
    if isinstance(value, (tuple, list)):
        return np.array(tuple(value), dtype=npdt)[()]
    raise _Bad("expected a tuple of field values, a structured scalar or bytes")


# -- defaults ------------------------------------------------------------------------


def default_fill(dt: "DataType", zarr_format: int = 3) -> Any:
    """The fill value zarr-python 3.1 uses when none is given: the type's zero / empty value."""
    npdt = dt.numpy_dtype
    if dt.name == "object":
        return None if zarr_format == 2 else 0
    if dt.name == "string":
        return ""
    if dt.name == "variable_length_bytes":
        return b""
    if npdt.kind in "mM":
        return _decode_time(npdt, _NAT)
    return np.zeros((), npdt)[()]
