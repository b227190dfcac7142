"""A store wrapper that counts the requests the engine makes (test helper)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarr_engine.storage.base import Store


class CountingStore(Store):
    """Delegates every call to ``inner`` and records it: ``calls`` counts calls
    per method, ``log`` holds (method, keys or ranges) in order.

    ``prefers_batches`` makes the engine treat it as a remote store.
    """

    def __init__(self, inner: Store, *, prefers_batches: bool = False) -> None:
        super().__init__(read_only=inner.read_only)
        self.inner = inner
        self.prefers_batches = prefers_batches
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, Any]] = []

    def reset(self) -> None:
        self.calls.clear()
        self.log.clear()

    def _note(self, method: str, what: Any) -> None:
        self.calls[method] += 1
        self.log.append((method, what))

    def reads(self) -> int:
        """Requests that read chunk data (metadata reads are not counted: the engine makes none)."""
        return sum(self.calls[m] for m in ("get", "get_many", "get_range", "get_ranges"))

    def writes(self) -> int:
        return sum(self.calls[m] for m in ("set", "set_many", "delete", "delete_many"))

    @property
    def url(self) -> str:
        return self.inner.url

    def get(self, key: str) -> bytes | None:
        self._note("get", key)
        return self.inner.get(key)

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        self._note("get_range", (key, start, end))
        return self.inner.get_range(key, start, end)

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        self._note("get_many", list(keys))
        return self.inner.get_many(keys)

    def get_ranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        self._note("get_ranges", list(requests))
        return self.inner.get_ranges(requests)

    def set(self, key: str, value: bytes) -> None:
        self._note("set", key)
        self.inner.set(key, value)

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        self._note("set_many", [k for k, _ in pairs])
        self.inner.set_many(pairs)

    def delete(self, key: str) -> None:
        self._note("delete", key)
        self.inner.delete(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._note("delete_many", keys)
        self.inner.delete_many(keys)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        return self.inner.list_prefix(prefix)
