"""The exception tree of zarr_engine.

Everything a user can cause raises a subclass of :class:`ZarrEngineError`
whose message names the node or key concerned and what is wrong.
"""

from __future__ import annotations


class ZarrEngineError(Exception):
    """Root of every error zarr_engine raises on purpose."""


class ArgumentError(ZarrEngineError, ValueError):
    """An argument of a public function is invalid (an unknown mode, ...)."""


class MetadataError(ZarrEngineError, ValueError):
    """Metadata is malformed, inconsistent or of an unsupported kind."""


class UnsupportedError(MetadataError):
    """Metadata names an extension (data type, codec, grid, ...) we cannot handle."""


class CodecError(ZarrEngineError):
    """A codec could not be built or could not encode."""


class UnknownCodecError(CodecError, UnsupportedError):
    """A codec name or id is not known; the message names the package providing it when known."""


class ChunkCorruptError(ZarrEngineError):
    """Stored bytes of a chunk (or shard) cannot be decoded: corrupt, truncated, wrong size, bad checksum."""


class NodeNotFoundError(ZarrEngineError, FileNotFoundError):
    """No array or group exists at the path asked for."""


class ContainsNodeError(ZarrEngineError, FileExistsError):
    """A node already exists where one is to be created (and overwrite is false)."""


class NodeTypeError(ZarrEngineError, TypeError):
    """A node is of the wrong kind (an array where a group was expected, or the reverse)."""


class SelectionError(ZarrEngineError, IndexError):
    """A selection is malformed or out of bounds."""


class ShapeMismatchError(ZarrEngineError, ValueError):
    """A value's shape cannot be broadcast to the selection it is assigned to."""


class DTypeError(ZarrEngineError, TypeError):
    """A value's data type cannot be stored in the array without loss or at all."""


class StoreError(ZarrEngineError, OSError):
    """A store failed permanently, or could not be opened."""


class TransientStoreError(StoreError):
    """A store call failed in a way that may succeed when retried (timeout, throttling, reset)."""


class ReadOnlyError(StoreError, PermissionError):
    """A write was attempted on a read-only store, array or group."""


class InvalidKeyError(StoreError, ValueError):
    """A key is malformed or could escape the store's root."""


class AlignmentError(ZarrEngineError, ValueError):
    """A parallel write would make two tasks write the same stored chunk."""


class ResourceError(ZarrEngineError, MemoryError):
    """An operation needs more memory than can be allocated (a huge selection or chunk)."""


class ConflictError(StoreError):
    """A conditional write found the stored value changed by another writer."""


# -- the xarray integration ---------------------------------------------------
# Each is also the builtin that xarray's own zarr backend raises in the same case,
# so code (and xarray's test-suite) catching ValueError, KeyError, ... keeps working.


def _message_as_written(self: BaseException) -> str:
    # KeyError's str() is the repr of its message (quoted, escaped): print the message as written
    return str(self.args[0]) if len(self.args) == 1 else Exception.__str__(self)


class DatasetWriteError(ZarrEngineError, ValueError):
    """``to_zarr`` cannot write as asked: bad mode, region, append_dim or encoding, or a clash with what is stored."""


class DatasetTypeError(ZarrEngineError, TypeError):
    """An argument of ``to_zarr`` or a dataset name is of the wrong type (a region not a dict of slices, ...)."""


class DatasetKeyError(ZarrEngineError, KeyError):
    """``to_zarr`` names something absent: a variable in ``encoding``, stored coordinate values for ``region="auto"``."""

    __str__ = _message_as_written


class DatasetUnsupportedError(ZarrEngineError, NotImplementedError):
    """A Dataset feature Zarr cannot represent (unlimited dimensions)."""


class InvalidAttributeError(MetadataError, TypeError):
    """An attribute of a dataset or variable cannot be stored as JSON."""


class DimensionNamesError(MetadataError, KeyError):
    """An array has no dimension names for xarray (``dimension_names``/``_ARRAY_DIMENSIONS``), or the wrong number."""

    __str__ = _message_as_written


class DimensionLengthError(MetadataError):
    """Arrays of one group give the same dimension different lengths."""
