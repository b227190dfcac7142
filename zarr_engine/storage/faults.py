"""Store wrappers for testing and surviving failures.

:class:`FaultyStore` wraps any store and, on a seeded fraction of calls,
injects the failures real storage produces: errors, timeouts, short reads,
and writes that land but report failure. Use it to check that your own
pipeline survives them. :class:`RetryingStore` is the store-agnostic retry
layer: it retries calls that failed transiently, with the backoff policy of
:mod:`zarr_engine.storage.retry` (the one the fsspec store uses).

A typical stack under test::

    store = RetryingStore(FaultyStore(LocalStore(path), error_rate=0.2, seed=7))
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import ConflictError, StoreError, TransientStoreError, ZarrEngineError
from .base import Store
from .retry import backoff, is_transient

T = TypeVar("T")

#: Store operations a :class:`FaultyStore` can fail; ``ops=`` picks among them.
READ_OPS = frozenset({"get", "get_range", "exists", "getsize", "list", "get_versioned"})
WRITE_OPS = frozenset({"set", "delete", "set_if"})


@dataclass
class FaultStats:
    """How many faults of each kind a :class:`FaultyStore` injected, and calls seen."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    short_reads: int = 0
    lost_replies: int = 0  # writes that landed but reported an error
    keys: list[str] = field(default_factory=list)

    @property
    def injected(self) -> int:
        return self.errors + self.timeouts + self.short_reads + self.lost_replies


class _Delegate(Store):
    """Forwards identity and the conditional-write capability to ``inner``."""

    def __init__(self, inner: Store) -> None:
        super().__init__(read_only=inner.read_only)
        self.inner = inner
        self.supports_ranges = inner.supports_ranges
        self.prefers_batches = inner.prefers_batches
        # The engine reads this to choose batched or per-key I/O.
        self.prefers_batches = bool(getattr(inner, "prefers_batches", False))

    @property
    def url(self) -> str:
        return self.inner.url

    @property
    def supports_conditional_writes(self) -> bool:  # type: ignore[override]
        return self.inner.supports_conditional_writes

    def close(self) -> None:
        self.inner.close()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class FaultyStore(_Delegate):
    """A store that fails on purpose, reproducibly.

    Each call to an operation in ``ops`` draws from a ``random.Random(seed)``:
    with probability ``error_rate`` it raises :class:`TransientStoreError`
    (or :class:`StoreError` when ``persistent``), with ``timeout_rate`` it
    sleeps ``timeout_delay`` seconds then raises :class:`TimeoutError`, and a
    read returns a prefix of the value (at least one byte short) with
    ``short_read_rate``. A write hit by ``lost_reply_rate`` is performed and
    then reported as failed, as when a connection drops after the server
    stored the object. ``where`` (a predicate on keys) limits the random
    faults to matching keys. ``fail_keys`` (a predicate) makes every call on
    matching keys fail with :class:`StoreError`: a persistent fault.

    Thread-safe; under threads the sequence of draws (not their rate)
    depends on scheduling. :attr:`stats` counts what was injected.
    """

    def __init__(
        self,
        inner: Store,
        *,
        seed: int = 0,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        short_read_rate: float = 0.0,
        lost_reply_rate: float = 0.0,
        timeout_delay: float = 0.0,
        persistent: bool = False,
        ops: Iterable[str] = READ_OPS | WRITE_OPS,
        fail_keys: Callable[[str], bool] | None = None,
        where: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(inner)
        for name, rate in (("error_rate", error_rate), ("timeout_rate", timeout_rate),
                           ("short_read_rate", short_read_rate), ("lost_reply_rate", lost_reply_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        self.seed = seed
        self.error_rate = error_rate
        self.timeout_rate = timeout_rate
        self.short_read_rate = short_read_rate
        self.lost_reply_rate = lost_reply_rate
        self.timeout_delay = timeout_delay
        self.persistent = persistent
        self.ops = frozenset(ops)
        unknown = self.ops - READ_OPS - WRITE_OPS
        if unknown:
            raise ValueError(f"unknown store operations {sorted(unknown)}")
        self.fail_keys = fail_keys
        self.where = where
        self.stats = FaultStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.enabled = True

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy in another process starts a fresh, equally seeded sequence.
        config = dict(seed=self.seed, error_rate=self.error_rate, timeout_rate=self.timeout_rate,
                      short_read_rate=self.short_read_rate, lost_reply_rate=self.lost_reply_rate,
                      timeout_delay=self.timeout_delay, persistent=self.persistent, ops=sorted(self.ops),
                      fail_keys=self.fail_keys, where=self.where)
        return (_rebuild_faulty, (self.inner, config))

    # -- the dice -------------------------------------------------------------
    def _draw(self) -> float:
        with self._lock:
            self.stats.calls += 1
            return self._rng.random()

    def _count(self, kind: str, key: str) -> None:
        with self._lock:
            setattr(self.stats, kind, getattr(self.stats, kind) + 1)
            self.stats.keys.append(key)

    def _before(self, op: str, key: str) -> str | None:
        """Raise the fault chosen for this call, or return a deferred one ('short', 'lost')."""
        if self.fail_keys is not None and key and self.fail_keys(key):
            self._count("errors", key)
            raise StoreError(f"injected persistent fault: {op} {key!r}")
        if not self.enabled or op not in self.ops or (self.where is not None and not self.where(key)):
            return None
        x = self._draw()
        if x < self.error_rate:
            self._count("errors", key)
            cls = StoreError if self.persistent else TransientStoreError
            raise cls(f"injected fault: {op} {key!r} failed")
        x -= self.error_rate
        if x < self.timeout_rate:
            self._count("timeouts", key)
            if self.timeout_delay:
                time.sleep(self.timeout_delay)
            raise TimeoutError(f"injected fault: {op} {key!r} timed out")
        x -= self.timeout_rate
        if op in READ_OPS and x < self.short_read_rate:
            return "short"
        if op in WRITE_OPS and x < self.lost_reply_rate:
            return "lost"
        return None

    def _shorten(self, key: str, value: bytes | None) -> bytes | None:
        if value is None or len(value) == 0:
            return value
        self._count("short_reads", key)
        with self._lock:
            cut = self._rng.randrange(0, len(value))
        return bytes(value[:cut])

    def _lost(self, op: str, key: str) -> None:
        self._count("lost_replies", key)
        raise TransientStoreError(f"injected fault: {op} {key!r} landed but its reply was lost")

    # -- reads ----------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        fate = self._before("get", key)
        value = self.inner.get(key)
        return self._shorten(key, value) if fate == "short" else value

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        fate = self._before("get_range", key)
        value = self.inner.get_range(key, start, end)
        return self._shorten(key, value) if fate == "short" else value

    def exists(self, key: str) -> bool:
        self._before("exists", key)
        return self.inner.exists(key)

    def getsize(self, key: str) -> int | None:
        self._before("getsize", key)
        return self.inner.getsize(key)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        self._before("list", prefix)
        return self.inner.list_prefix(prefix)

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        self._before("list", prefix)
        return self.inner.list_dir(prefix)

    def get_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        fate = self._before("get_versioned", key)
        value, version = self.inner.get_versioned(key)
        # A short read keeps the real version: the conditional write that
        # follows then still compares against what is really stored.
        return (self._shorten(key, value) if fate == "short" else value), version

    # -- writes ---------------------------------------------------------------
    def set(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        fate = self._before("set", key)
        self.inner.set(key, value)
        if fate == "lost":
            self._lost("set", key)

    def delete(self, key: str) -> None:
        self._check_writable(key)
        fate = self._before("delete", key)
        self.inner.delete(key)
        if fate == "lost":
            self._lost("delete", key)

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        self._check_writable(key)
        fate = self._before("set_if", key)
        version = self.inner.set_if(key, value, expected=expected)
        if fate == "lost":
            self._lost("set_if", key)
        return version


def _rebuild_faulty(inner: Store, config: dict[str, Any]) -> FaultyStore:
    return FaultyStore(inner, **config)


def default_is_transient(exc: BaseException) -> bool:
    """Transient: :class:`TransientStoreError`, or what :func:`retry.is_transient` says of a non-engine error."""
    if isinstance(exc, TransientStoreError):
        return True
    if isinstance(exc, ZarrEngineError):
        return False  # our own verdicts (corrupt chunk, conflict, bad key...) are final
    return is_transient(exc)


class RetryingStore(_Delegate):
    """Retries the calls of ``inner`` that fail transiently.

    A call failing with an error ``classify`` deems transient (by default
    :class:`TransientStoreError`, timeouts, resets, throttling and 5xx) is
    tried again up to ``retries`` times, sleeping per
    :func:`zarr_engine.storage.retry.backoff` in between; then it raises
    :class:`StoreError` naming the key. Other errors pass through at once.
    Every store operation is idempotent (a ``set`` retried after a lost reply
    writes the same bytes again), so retrying cannot corrupt data. A
    ``set_if`` retried after a lost reply may report :class:`ConflictError`
    for its own earlier success; the optimistic writer then re-reads and
    re-applies its (idempotent) patch.
    """

    def __init__(
        self,
        inner: Store,
        *,
        retries: int = 8,
        base: float = 0.005,
        cap: float = 0.5,
        classify: Callable[[BaseException], bool] = default_is_transient,
    ) -> None:
        super().__init__(inner)
        self.retries = int(retries)
        self.base = float(base)
        self.cap = float(cap)
        self.classify = classify
        self.retried = 0  # total retries made, for tests and monitoring

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_retrying, (self.inner, self.retries, self.base, self.cap, self.classify))

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except ConflictError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                if not self.classify(exc):
                    raise
                if attempt >= self.retries:
                    raise StoreError(
                        f"{what} {key!r} in {self.inner!r} failed after {attempt + 1} attempts: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                time.sleep(backoff(attempt, self.base, self.cap))
                attempt += 1
                self.retried += 1

    def get(self, key: str) -> bytes | None:
        return self._call("reading", key, lambda: self.inner.get(key))

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        return self._call("reading a range of", key, lambda: self.inner.get_range(key, start, end))

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        # One batched attempt; if it fails transiently, each key is retried on
        # its own, so a large batch is not hostage to the odds of one clean try.
        try:
            return self.inner.get_many(keys)
        except ConflictError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            if not self.classify(exc):
                raise
        self.retried += 1
        return Store.get_many(self, keys)  # the sequential default: one retried get per key

    def get_ranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        try:
            return self.inner.get_ranges(requests)
        except Exception as exc:  # noqa: BLE001 - classified below
            if not self.classify(exc):
                raise
        self.retried += 1
        return Store.get_ranges(self, requests)  # the sequential default: one retried get_range each

    def exists(self, key: str) -> bool:
        return self._call("inspecting", key, lambda: self.inner.exists(key))

    def getsize(self, key: str) -> int | None:
        return self._call("inspecting", key, lambda: self.inner.getsize(key))

    def list_prefix(self, prefix: str) -> Iterator[str]:
        # Materialise inside the retry so a failure mid-listing is retried too.
        return iter(self._call("listing", prefix, lambda: list(self.inner.list_prefix(prefix))))

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        return self._call("listing", prefix, lambda: self.inner.list_dir(prefix))

    def get_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        return self._call("reading", key, lambda: self.inner.get_versioned(key))

    def set(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        self._call("writing", key, lambda: self.inner.set(key, value))

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        # Per key, so one failed key does not resend the whole batch.
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        for key, value in pairs:
            self.set(key, value)

    def delete(self, key: str) -> None:
        self._check_writable(key)
        self._call("deleting", key, lambda: self.inner.delete(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in list(keys):
            self.delete(key)

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        self._check_writable(key)
        return self._call("writing", key, lambda: self.inner.set_if(key, value, expected=expected))


def _rebuild_retrying(inner: Store, retries: int, base: float, cap: float,
                      classify: Callable[[BaseException], bool]) -> RetryingStore:
    return RetryingStore(inner, retries=retries, base=base, cap=cap, classify=classify)
