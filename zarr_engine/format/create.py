"""Build the metadata of a new array from what a user asks for.

Defaults follow zarr-python 3.1's ``create_array`` where the concept is the
same (fill value, default serializer, chunk key encoding), except that the
caller decides the compressors (None means none).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Sequence

from ._util import MAX_EXTENT, as_shape, check_depth, fail, is_int, short, unsupported
from .dtypes import DataType, endian_of
from .metadata import ArrayMetadata, ChunkKeyEncoding, CodecSpec
from .v2 import object_codec_index, v2_codecs
from .v3 import normalize_codec, parse_chunk_key_encoding, parse_dimension_names

_KEY = "create_array"
#: target size of an automatically chosen chunk (uncompressed)
AUTO_CHUNK_BYTES = 1 << 20
#: object codecs zarr-python adds to a v2 array of these data types
_DEFAULT_OBJECT_CODEC = {"string": "vlen-utf8", "variable_length_bytes": "vlen-bytes"}


class _DefaultFill:
    """What ``fill_value`` is when left out: the data type's default fill value.

    None cannot mean that, because in Zarr v2 None is a fill value of its own
    (``"fill_value": null``: no value marks missing data, so xarray masks
    nothing), and zarr-python 3.1 stores an explicit None that way.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFAULT_FILL"

    def __reduce__(self) -> str:
        return "DEFAULT_FILL"  # unpickles as the one instance, so ``is`` tests hold


DEFAULT_FILL = _DefaultFill()


def normalize_shape(shape: Any, path: str = "") -> tuple[int, ...]:
    """An int or a sequence of non-negative ints, as a tuple."""
    if is_int(shape):
        shape = (shape,)
    return as_shape(shape, path, _KEY, "shape")


def guess_chunks(shape: tuple[int, ...], itemsize: int, target: int = AUTO_CHUNK_BYTES) -> tuple[int, ...]:
    """A chunk shape of about ``target`` bytes, power-of-2 sized where an axis is cut.

    The longest axis is cut first (to the largest power of 2 below it, then
    halved), which keeps chunks close to cubes and extents friendly to
    compressors and to dask.
    """
    chunks = [max(s, 1) for s in shape]
    itemsize = max(itemsize, 1)
    while math.prod(chunks) * itemsize > target:
        i = max(range(len(chunks)), key=lambda k: chunks[k])
        c = chunks[i]
        if c <= 1:
            break
        power = 1 << (c.bit_length() - 1)
        chunks[i] = power // 2 if power == c else power
    return tuple(chunks)


def normalize_chunks(chunks: Any, shape: tuple[int, ...], itemsize: int, path: str = "") -> tuple[int, ...]:
    """Chunk shape from an int (every axis), a sequence (``-1``/None = whole axis), ``"auto"`` or None."""
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        return guess_chunks(shape, itemsize)
    if is_int(chunks):
        chunks = (chunks,) * len(shape)
    if not isinstance(chunks, (list, tuple)):
        fail(path, _KEY, f"chunks must be an int, a sequence of ints or 'auto', got {short(chunks)}")
    if len(chunks) != len(shape):
        fail(path, _KEY, f"chunks {short(list(chunks))} has {len(chunks)} dimensions but shape has {len(shape)}")
    out = []
    for i, (c, s) in enumerate(zip(chunks, shape)):
        if c is None or (is_int(c) and c == -1):
            out.append(max(s, 1))  # the whole axis (an empty axis still needs a positive chunk)
        elif is_int(c) and 0 < c <= MAX_EXTENT:
            out.append(int(c))
        else:
            fail(path, _KEY, f"chunks[{i}] must be a positive integer, -1 or None, got {short(c)}")
    return tuple(out)


def default_serializer(data_type: DataType) -> CodecSpec:
    """The array->bytes codec zarr-python 3.1 picks for a data type."""
    if data_type.name == "string":
        return {"name": "vlen-utf8", "configuration": {}}
    if data_type.name == "variable_length_bytes":
        return {"name": "vlen-bytes", "configuration": {}}
    if data_type.is_object:
        unsupported("", _KEY, f"data type {data_type.name!r} has no Zarr v3 serializer")
    dt = data_type.numpy_dtype
    if dt.itemsize == 1 or dt.kind in "SVb" or dt.names is not None:
        return {"name": "bytes", "configuration": {}}
    return {"name": "bytes", "configuration": {"endian": "little"}}


def _v3_spec(spec: Any, path: str, field: str) -> CodecSpec:
    if isinstance(spec, dict) and "id" in spec and "name" not in spec:
        # a numcodecs config: zarr-python calls these codecs "numcodecs.<id>" in v3
        rest = {k: v for k, v in spec.items() if k != "id"}
        return normalize_codec({"name": f"numcodecs.{spec['id']}", "configuration": rest}, path, _KEY, field)
    return normalize_codec(spec, path, _KEY, field)


def _spec_list(value: Any, path: str, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (dict, str)):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    fail(path, _KEY, f"{field} must be a codec spec, a list of them or None, got {short(value)}")


def _numcodecs(value: Any, path: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        fail(path, _KEY, f"{field} must be a numcodecs configuration (a dict with 'id'), got {short(value)}")
    check_depth(value, path, _KEY, field)
    return copy.deepcopy(value)


def create_array_metadata(
    *,
    shape: int | Sequence[int],
    dtype: Any,
    chunks: Any,
    fill_value: Any = DEFAULT_FILL,
    zarr_format: int = 3,
    filters: Any = None,
    serializer: Any = "auto",
    compressors: Any = None,
    compressor: Any = None,
    order: str | None = None,
    dimension_names: Sequence[str | None] | None = None,
    attributes: dict[str, Any] | None = None,
    chunk_key_encoding: Any = None,
    path: str = "",
) -> ArrayMetadata:
    """Metadata of a new array; every argument is validated (MetadataError/DTypeError naming ``path``).

    v3: ``filters`` (array->array), ``serializer`` (``"auto"`` = zarr-python's
    default for the data type) and ``compressors`` (bytes->bytes) are codec
    specs. ``order`` is not stored in v3 (zarr-python 3.1 treats it as an
    in-memory layout only), so a v3 array's ``order`` is always ``"C"``.

    v2: ``filters`` is a list of numcodecs configs, ``compressor`` one config
    or None (``compressors`` may hold at most one, as an alias). A string or
    bytes array gets its object codec (vlen-utf8 / vlen-bytes) put first in
    the filters when none is there. ``dimension_names`` are stored as
    xarray's ``_ARRAY_DIMENSIONS`` attribute.

    ``fill_value`` left out (:data:`DEFAULT_FILL`) means the data type's
    default (zero, empty string, NaT...), as in zarr-python's
    ``create_array``. None means the same in v3, and in v2 a null fill value,
    as zarr-python stores it.
    """
    if zarr_format not in (2, 3) or isinstance(zarr_format, bool):
        fail(path, _KEY, f"zarr_format must be 2 or 3, got {short(zarr_format)}")
    shape_t = normalize_shape(shape, path)
    data_type = DataType.from_numpy(dtype, zarr_format, path)
    itemsize = 8 if data_type.is_object else data_type.numpy_dtype.itemsize
    chunk_shape = normalize_chunks(chunks, shape_t, itemsize, path)
    if fill_value is DEFAULT_FILL or (fill_value is None and zarr_format == 3):
        fill = data_type.default_fill_value(zarr_format)
    elif fill_value is None:
        fill = None  # v2 "fill_value": null
    else:
        fill = data_type.cast_fill_value(fill_value, path)
    order = "C" if order is None else order
    if order not in ("C", "F"):
        fail(path, _KEY, f"order must be 'C' or 'F', got {short(order)}")
    dim_names = parse_dimension_names(
        None if dimension_names is None else list(dimension_names), len(shape_t), path, _KEY
    )
    if attributes is not None and not isinstance(attributes, dict):
        fail(path, _KEY, f"attributes must be a dict, got {short(attributes)}")
    attrs = copy.deepcopy(attributes or {})
    check_depth(attrs, path, _KEY, "attributes")

    if chunk_key_encoding is None:
        cke = ChunkKeyEncoding("default", "/") if zarr_format == 3 else ChunkKeyEncoding("v2", ".")
    else:
        cke = parse_chunk_key_encoding(chunk_key_encoding, path, _KEY)
        if zarr_format == 2 and cke.name != "v2":
            fail(path, _KEY, f"a Zarr v2 array stores chunks under the 'v2' key encoding, not {cke.name!r}")

    if zarr_format == 3:
        if compressor is not None:
            fail(path, _KEY, "compressor is a Zarr v2 argument; give compressors for Zarr v3")
        if data_type.name == "object":
            unsupported(path, _KEY, "a v2 object data type cannot be stored in Zarr v3")
        chain = [_v3_spec(f, path, "filters") for f in _spec_list(filters, path, "filters")]
        if serializer is None or (isinstance(serializer, str) and serializer == "auto"):
            chain.append(default_serializer(data_type))
        else:
            chain.append(_v3_spec(serializer, path, "serializer"))
        chain += [_v3_spec(c, path, "compressors") for c in _spec_list(compressors, path, "compressors")]
        return ArrayMetadata(
            zarr_format=3,
            shape=shape_t,
            chunk_shape=chunk_shape,
            data_type=data_type,
            fill_value=fill,
            codecs=tuple(chain),
            chunk_key_encoding=cke,
            attributes=attrs,
            dimension_names=dim_names,
        )

    # -- v2 --
    if not (serializer is None or (isinstance(serializer, str) and serializer == "auto")):
        fail(path, _KEY, "serializer is a Zarr v3 argument; a v2 array's object codec goes in filters")
    v2_filters = [_numcodecs(f, path, f"filters[{i}]") for i, f in enumerate(_spec_list(filters, path, "filters"))]
    if compressor is None and compressors is not None:
        listed = _spec_list(compressors, path, "compressors")
        if len(listed) > 1:
            fail(path, _KEY, f"a Zarr v2 array has at most one compressor, got {len(listed)}")
        compressor = listed[0] if listed else None
    elif compressor is not None and compressors is not None:
        fail(path, _KEY, "give either compressor or compressors, not both")
    v2_compressor = None if compressor is None else _numcodecs(compressor, path, "compressor")
    at = object_codec_index(tuple(v2_filters))
    if at is not None and not data_type.is_object:
        # an object codec turns objects into bytes: with a fixed-size data type the chain
        # would have two array->bytes steps, and every read and write of the array would fail
        fail(
            path, _KEY,
            f"filters[{at}] {short(v2_filters[at])} is the object codec of variable-length data (dtype '|O'), "
            f"but data type {data_type.name!r} has a fixed size: remove it from the filters",
        )
    if data_type.is_object and at is None:
        codec_id = _DEFAULT_OBJECT_CODEC.get(data_type.name)
        if codec_id is None:
            fail(path, _KEY, f"data type {data_type.name!r} needs an object codec among the filters")
        v2_filters.insert(0, {"id": codec_id})
    if dim_names is not None:
        attrs.setdefault("_ARRAY_DIMENSIONS", list(dim_names))
    filters_t = tuple(v2_filters) if v2_filters else None
    endian = endian_of(dtype, data_type)
    codecs = v2_codecs(data_type, endian, order, filters_t, v2_compressor, len(shape_t), path, _KEY)
    return ArrayMetadata(
        zarr_format=2,
        shape=shape_t,
        chunk_shape=chunk_shape,
        data_type=data_type,
        fill_value=fill,
        codecs=codecs,
        chunk_key_encoding=cke,
        attributes=attrs,
        dimension_names=dim_names,
        order=order,
        filters=filters_t,
        compressor=v2_compressor,
    )
