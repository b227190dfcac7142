"""An in-process store backed by a dict, shared by name within the process."""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import ConflictError, StoreError
from .base import ContentVersions, Store, content_version, validate_key, validate_prefix


class _Bucket:
    """The data of one named memory store; several MemoryStore objects may share it."""

    __slots__ = ("data", "lock", "__weakref__")

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.lock = threading.Lock()


# Stores created with an explicit name live until MemoryStore.discard(name), so
# that "memory://name" can be reopened later in the process. Stores with a
# generated name live as long as some MemoryStore refers to them.
_NAMED: dict[str, _Bucket] = {}
_ANONYMOUS: "weakref.WeakValueDictionary[str, _Bucket]" = weakref.WeakValueDictionary()
_REGISTRY_LOCK = threading.Lock()


def _bucket(name: str, keep: bool) -> _Bucket:
    with _REGISTRY_LOCK:
        bucket = _NAMED.get(name) or _ANONYMOUS.get(name)
        if bucket is None:
            bucket = _Bucket()
            if keep:
                _NAMED[name] = bucket
            else:
                _ANONYMOUS[name] = bucket
        return bucket


class MemoryStore(ContentVersions, Store):
    """Dict-backed store; ``url`` is ``memory://<name>``.

    Every MemoryStore of the same name in one process sees the same data,
    which is how an unpickled store (e.g. in a dask thread) finds its data. In
    another process the name opens a new, empty store; a MemoryStore pickled in
    one process and unpickled in another raises :class:`StoreError` at its first
    use instead, since its data cannot follow it there.
    """

    process_local = True

    def __init__(self, name: str | None = None, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        keep = name is not None
        if name is None:
            name = "anon-" + uuid.uuid4().hex
        elif not name or "/" in name:
            raise ValueError(f"memory store name must be non-empty without '/', got {name!r}")
        self.name = name
        self._bucket = _bucket(name, keep)

    @classmethod
    def discard(cls, name: str) -> None:
        """Forget the named store's data (open MemoryStore objects keep theirs)."""
        with _REGISTRY_LOCK:
            _NAMED.pop(name, None)
            _ANONYMOUS.pop(name, None)

    @property
    def url(self) -> str:
        return f"memory://{self.name}"

    @property
    def storage_options(self) -> dict[str, Any]:
        return {}

    def with_read_only(self, read_only: bool = True) -> "MemoryStore":
        clone = MemoryStore.__new__(MemoryStore)
        Store.__init__(clone, read_only=read_only)
        clone.name = self.name
        clone._bucket = self._bucket
        return clone

    def __reduce__(self) -> tuple[Any, ...]:
        # the pickling process is the data's owner, except for a copy that already stands for another's
        bucket = self._bucket
        owner = bucket.owner if isinstance(bucket, _Elsewhere) else os.getpid()
        return (_reopen, (self.name, self.read_only, self.name in _NAMED, owner))

    # -- single key ---------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        validate_key(key)
        return self._bucket.data.get(key)

    def getsize(self, key: str) -> int | None:
        value = self.get(key)
        return None if value is None else len(value)

    def exists(self, key: str) -> bool:
        validate_key(key)
        return key in self._bucket.data

    def set(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        validate_key(key)
        # bytes() copies mutable buffers, so later changes by the caller do not
        # leak in. The lock keeps listings (which iterate the dict) consistent.
        value = bytes(value)
        with self._bucket.lock:
            self._bucket.data[key] = value

    supports_conditional_writes = True

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        """Compare-and-set under the store's lock (atomic against every write in the process)."""
        self._check_writable(key)
        validate_key(key)
        value = bytes(value)
        with self._bucket.lock:
            current = self._bucket.data.get(key)
            found = None if current is None else content_version(current)
            if found != expected:
                raise ConflictError(f"key {key!r} in {self.url} changed since it was read")
            self._bucket.data[key] = value
        return content_version(value)

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        self._check_writable()
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        for key, _ in pairs:
            validate_key(key)
        with self._bucket.lock:
            for key, value in pairs:
                self._bucket.data[key] = bytes(value)

    def delete(self, key: str) -> None:
        self._check_writable(key)
        validate_key(key)
        with self._bucket.lock:
            self._bucket.data.pop(key, None)

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable(prefix or None)
        validate_prefix(prefix)
        with self._bucket.lock:
            for key in [k for k in self._bucket.data if k.startswith(prefix)]:
                del self._bucket.data[key]

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, in sorted order (a snapshot)."""
        validate_prefix(prefix)
        with self._bucket.lock:
            keys = [k for k in self._bucket.data if k.startswith(prefix)]
        keys.sort()
        return iter(keys)


class _Elsewhere:
    """In place of the data of a memory store unpickled in a process other than its own:
    every use raises, so that reads do not return fill values and writes do not vanish.

    Unpickling itself succeeds; a dask worker that failed there would lose its
    connection rather than report the error.
    """

    __slots__ = ("owner", "message")

    def __init__(self, name: str, owner: int) -> None:
        self.owner = owner
        self.message = (
            f"memory://{name} lives in the memory of process {owner} and cannot be used in process "
            f"{os.getpid()} (a worker of a distributed or multiprocessing scheduler?): its data is not "
            f"there. Use a store every process can reach (a local folder, S3, ...), or dask's threaded "
            f"scheduler (scheduler='threads')"
        )

    @property
    def data(self) -> dict[str, bytes]:
        raise StoreError(self.message)

    @property
    def lock(self) -> threading.Lock:
        raise StoreError(self.message)


def _reopen(name: str, read_only: bool, keep: bool, pid: int | None = None) -> MemoryStore:
    store = MemoryStore.__new__(MemoryStore)
    Store.__init__(store, read_only=read_only)
    store.name = name
    if pid is not None and pid != os.getpid():
        # the name here would open this process's own, empty store
        store._bucket = _Elsewhere(name, pid)  # type: ignore[assignment]
    else:
        store._bucket = _bucket(name, keep)
    return store
