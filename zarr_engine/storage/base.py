"""The store contract: a batch-first key-value interface.

Keys are ``/``-separated relative paths. Every store refuses keys that could
escape its root. A single ``set`` is atomic: a reader sees the old value or the
new one, never a torn one.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import InvalidKeyError, ReadOnlyError, StoreError

_DRIVE = re.compile(r"^[A-Za-z]:")
#: keys every check below would pass: parts of letters, digits, '_' and '-' (each
#: may also hold '.' after its first character), joined by single '/'. Chunk keys
#: and metadata names have this shape, and one match costs a fifth of the checks.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`InvalidKeyError`."""
    if type(key) is str and _PLAIN_KEY.fullmatch(key):
        return key
    if not isinstance(key, str):
        raise InvalidKeyError(f"store key must be a string, got {type(key).__name__}: {key!r}")
    if key == "":
        raise InvalidKeyError("store key must not be empty")
    if "\x00" in key:
        raise InvalidKeyError(f"store key {key!r} contains a NUL character")
    if "\\" in key:
        raise InvalidKeyError(f"store key {key!r} contains a backslash")
    if key.startswith("/"):
        raise InvalidKeyError(f"store key {key!r} is an absolute path")
    if _DRIVE.match(key):
        raise InvalidKeyError(f"store key {key!r} starts with a drive letter")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidKeyError(f"store key {key!r} has an empty, '.' or '..' component")
    return key


def validate_prefix(prefix: str) -> str:
    """Like :func:`validate_key` but also accepts ``""`` and a trailing ``/``."""
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def content_version(value: bytes) -> str:
    """The version token of a value for stores whose versions are content hashes.

    Equal bytes give equal tokens, so a compare-and-set against such a token
    succeeds after another writer stored the very bytes we read (A-B-A). For a
    read-modify-write that is harmless: the patch applies to what is stored.
    """
    return "blake2b:" + hashlib.blake2b(memoryview(value).cast("B"), digest_size=20).hexdigest()


class ContentVersions:
    """For stores whose versions are content hashes (:func:`content_version`):
    ``get_versioned`` is then one ``get``. Put it before :class:`Store` in the bases."""

    def get_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        """The value and its content hash (the version ``set_if`` compares)."""
        value = self.get(key)  # type: ignore[attr-defined]
        return value, (None if value is None else content_version(value))


class Store(ABC):
    """Abstract key-value store.

    Subclasses implement the single-key primitives; the batch methods have
    sequential defaults that remote stores override with concurrent versions.
    """

    #: True when ``get_ranges`` is cheaper than fetching whole values.
    supports_ranges: bool = True
    #: True when one batch call (``get_many``...) is much cheaper than many single
    #: calls (remote stores: each call is a round trip). The engine then fetches in
    #: batches; otherwise each pool task reads its own keys.
    prefers_batches: bool = False
    #: True when ``get_versioned`` and ``set_if`` (compare-and-set) are implemented.
    supports_conditional_writes: bool = False
    #: True when the data lives in this process's memory only: another process
    #: opening the same URL, or unpickling the store, cannot reach it.
    process_local: bool = False
    #: False when writes through several handles at once (worker processes, or
    #: copies unpickled by a distributed worker) lose data: the store must then be
    #: written through one handle, in one process.
    supports_concurrent_writers: bool = True

    def __init__(self, *, read_only: bool = False) -> None:
        self._read_only = bool(read_only)

    # -- identity -----------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def url(self) -> str:
        """A URL that :func:`zarr_engine.storage.resolve_store` turns back into an equal store."""
        raise NotImplementedError

    def __repr__(self) -> str:
        try:
            return f"{type(self).__name__}({self.url!r})"
        except NotImplementedError:
            return f"{type(self).__name__}()"

    def _check_writable(self, key: str | None = None) -> None:
        if self._read_only:
            where = f" (key {key!r})" if key else ""
            raise ReadOnlyError(f"store {self!r} is read-only; cannot write{where}")

    def with_read_only(self, read_only: bool = True) -> "Store":
        """Return an equal store opened read-only (or writable)."""
        raise NotImplementedError

    # -- single key ---------------------------------------------------------
    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """Value of ``key``, or None when absent: ``bytes``, or another read-only
        bytes-like object (the HTTP stores hand large values over in the
        read-only memoryview they arrived in; ``bytes(value)`` copies it)."""

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        """Bytes ``[start, end)`` of ``key`` (``end=None``: to the end; negative start: suffix)."""
        value = self.get(key)
        if value is None:
            return None
        return bytes(memoryview(value)[slice(start, end)])

    @abstractmethod
    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` at ``key`` atomically."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are not an error."""

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def getsize(self, key: str) -> int | None:
        value = self.get(key)
        return None if value is None else len(value)

    # -- conditional writes (optional) ---------------------------------------
    def get_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        """``(value, version)`` read together; ``(None, None)`` when absent.

        The version is an opaque token for :meth:`set_if`. Only stores with
        :attr:`supports_conditional_writes` implement it.
        """
        raise StoreError(f"{self!r} does not support conditional writes")

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        """Store ``value`` at ``key`` only if its version is still ``expected``
        (None: only if absent), atomically; return the new version.

        Raises :class:`~zarr_engine.errors.ConflictError` when another writer
        changed the key since ``expected`` was read.
        """
        raise StoreError(f"{self!r} does not support conditional writes")

    # -- batches ------------------------------------------------------------
    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Values of the present keys among ``keys`` (absent keys are left out)."""
        out: dict[str, bytes] = {}
        for key in keys:
            value = self.get(key)
            if value is not None:
                out[key] = value
        return out

    def get_ranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        """Byte ranges, one per ``(key, start, end)``, None where the key is absent."""
        return [self.get_range(key, start, end) for key, start, end in requests]

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self.set(key, value)

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix`` (``""``: everything)."""
        self._check_writable(prefix or None)
        self.delete_many(list(self.list_prefix(prefix)))

    # -- listing ------------------------------------------------------------
    @abstractmethod
    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every key that starts with ``prefix`` (full keys)."""

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        """``(keys, folders)`` directly below ``prefix``: names relative to it, no trailing ``/``."""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        keys: set[str] = set()
        dirs: set[str] = set()
        for key in self.list_prefix(prefix):
            rest = key[len(prefix):]
            head, sep, _ = rest.partition("/")
            (dirs if sep else keys).add(head)
        return sorted(keys), sorted(dirs)

    def list(self) -> Iterator[str]:
        return self.list_prefix("")

    def close(self) -> None:
        """Release resources; the store may be reopened lazily on next use."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        try:
            return self.url == other.url and self.read_only == other.read_only  # type: ignore[attr-defined]
        except NotImplementedError:
            return self is other

    def __hash__(self) -> int:
        try:
            return hash((type(self).__name__, self.url))
        except NotImplementedError:
            return id(self)
