"""Key-value stores: local folder, memory, zip, fsspec (s3, gcs, http, ...), sqlite."""

from __future__ import annotations

from typing import Any

from .base import Store, validate_key, validate_prefix
from .local import LocalStore
from .memory import MemoryStore
from .url import resolve_store, store_from_url
from .zip import ZipStore

__all__ = [
    "Store",
    "LocalStore",
    "MemoryStore",
    "ZipStore",
    "FsspecStore",
    "SQLiteStore",
    "resolve_store",
    "store_from_url",
    "validate_key",
    "validate_prefix",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: fsspec and sqlite3 are not needed by local stores.
    if name == "FsspecStore":
        from .fsspec_store import FsspecStore

        return FsspecStore
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
