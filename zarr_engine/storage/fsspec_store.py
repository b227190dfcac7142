"""A store on any fsspec filesystem: s3://, gs://, http(s)://, memory://, zip::s3://, ...

Batches (``get_many``, ``get_ranges``, ``set_many``, ``delete_many``) run
concurrently on the filesystem's event loop with at most ``max_concurrency``
requests in flight. Transient failures (throttling, 5xx, reset connections,
timeouts) are retried with capped exponential backoff and full jitter;
permanent ones (missing bucket, access denied, other 4xx) raise
:class:`StoreError` at once. A missing key is an absent value, not an error.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ..errors import ConflictError, StoreError
from .base import Store, validate_key, validate_prefix
from . import s3direct
from .retry import TRANSIENT_CODES, backoff, is_missing_container, is_not_implemented, is_transient

T = TypeVar("T")
_READ_ONLY_PROTOCOLS = {"http", "https"}


class _Absent(Exception):
    """Internal: the key is missing (carried out of the retry loop)."""


class _NoBulkDelete(Exception):
    """Internal: the service does not implement S3's DeleteObjects."""


#: a delete of at least this many keys on S3 goes out as DeleteObjects calls.
#: Through moto on 127.0.0.1, 2 keys took 2.5-3.0 ms as single deletes and
#: 3.0-4.3 ms in one call; 4 keys 3.9-5.6 against 3.4-3.8 ms; 4,096 keys
#: 5.2-5.9 s against 0.27-0.33 s.
BULK_DELETE_MIN = 4
#: keys in one DeleteObjects call (S3's limit)
BULK_DELETE_MAX = 1000


class FsspecStore(Store):
    """Keys live below ``url`` on the fsspec filesystem it names.

    ``storage_options`` go to the filesystem (credentials, ``endpoint_url``...).
    HTTP(S) stores are always read-only. The filesystem is created lazily and
    never pickled: a pickle holds only the URL, options and settings.
    """

    #: every call is a round trip; batches run concurrently on the event loop
    prefers_batches = True

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        read_only: bool = False,
        *,
        max_concurrency: int = 64,
        retries: int = 6,
        retry_base: float = 0.1,
        retry_cap: float = 10.0,
    ) -> None:
        self._url = url.rstrip("/") if not url.endswith("://") else url
        self._options = dict(storage_options or {})
        self._protocol = protocol = self._url.split("::")[0].split("://")[0]
        super().__init__(read_only=read_only or protocol in _READ_ONLY_PROTOCOLS)
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = int(max_concurrency)
        self.retries = int(retries)
        self.retry_base = float(retry_base)
        self.retry_cap = float(retry_cap)
        self._state_lock = threading.Lock()
        self._fs: Any = None
        self._direct: Any = None
        self._root = ""
        self._pid = -1

    # -- identity -----------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url

    @property
    def storage_options(self) -> dict[str, Any]:
        return dict(self._options)

    def _settings(self) -> dict[str, Any]:
        return {"max_concurrency": self.max_concurrency, "retries": self.retries,
                "retry_base": self.retry_base, "retry_cap": self.retry_cap}

    def with_read_only(self, read_only: bool = True) -> "FsspecStore":
        return FsspecStore(self._url, self._options, read_only, **self._settings())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._url, self._options, self.read_only, self._settings()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FsspecStore):
            return NotImplemented
        return (self._url, self.read_only, self._options) == (other._url, other.read_only, other._options)

    __hash__ = Store.__hash__

    # -- the filesystem -----------------------------------------------------
    @property
    def fs(self) -> Any:
        """The fsspec filesystem (created on first use, and again after a fork)."""
        if self._fs is None or self._pid != os.getpid():
            with self._state_lock:
                if self._fs is None or self._pid != os.getpid():
                    self._connect()
        return self._fs

    def _connect(self) -> None:
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(self._url, **self._options)
        except ImportError as exc:
            raise StoreError(f"cannot open {self._url!r}: a package is missing: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any failure to build the filesystem
            raise StoreError(f"cannot open {self._url!r}: {type(exc).__name__}: {exc}") from exc
        self._root = root.rstrip("/")
        self._async = bool(getattr(fs, "async_impl", False))
        # s3fs fetches a whole object as one HEAD plus ranged GETs unless told
        # max_concurrency=1; one GET per key is what a chunk read wants.
        cat = fs._cat_file if self._async else fs.cat_file
        try:
            params = inspect.signature(cat).parameters
        except (TypeError, ValueError):
            params = {}
        self._cat_kwargs = {"max_concurrency": 1} if "max_concurrency" in params else {}
        # plain object GET/PUT/DELETE on S3-compatible endpoints skip botocore (see s3direct)
        self._direct = s3direct.for_fs(fs, self.max_concurrency) if self._async else None
        self._fs, self._pid = fs, os.getpid()

    def _path(self, key: str) -> str:
        validate_key(key)
        self.fs  # noqa: B018 - connects, which sets the root
        return f"{self._root}/{key}" if self._root else key

    def _key_url(self, key: str) -> str:
        return f"{self._url}/{key}" if key else self._url

    def close(self) -> None:
        """Drop the filesystem reference; the next use reconnects."""
        with self._state_lock:
            self._fs = None

    # -- retry machinery ----------------------------------------------------
    def _fail(self, action: str, key: str, exc: BaseException, attempts: int) -> StoreError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return StoreError(f"{action} {self._key_url(key)} failed{tries}: {type(exc).__name__}: {exc}")

    def _classify(self, exc: BaseException, reading: bool) -> str:
        """'absent', 'retry' or 'fail'."""
        if isinstance(exc, FileNotFoundError):
            if is_missing_container(exc) or not reading:
                return "fail"
            return "absent"
        if reading and isinstance(exc, (IsADirectoryError, NotADirectoryError)):
            return "absent"  # a "folder" where a key was asked for
        return "retry" if is_transient(exc) else "fail"

    def _pause_or_raise(self, action: str, key: str, reading: bool, exc: Exception, attempt: int) -> float:
        """After failed attempt number ``attempt`` (0-based): the seconds to wait before
        the next one, or raise (_Absent for a missing key, StoreError when permanent
        or out of retries)."""
        kind = self._classify(exc, reading)
        if kind == "absent":
            raise _Absent() from None
        if kind == "fail" or attempt >= self.retries:
            raise self._fail(action, key, exc, attempt + 1) from exc
        return backoff(attempt, self.retry_base, self.retry_cap)

    async def _aretry(self, action: str, key: str, reading: bool, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except Exception as exc:  # noqa: BLE001 - classified by _pause_or_raise
                await asyncio.sleep(self._pause_or_raise(action, key, reading, exc, attempt))
                attempt += 1

    def _retry(self, action: str, key: str, reading: bool, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except Exception as exc:  # noqa: BLE001 - classified by _pause_or_raise
                time.sleep(self._pause_or_raise(action, key, reading, exc, attempt))
                attempt += 1

    def _run_batch(self, jobs: Sequence[Callable[[], Any]], ajobs: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
        """Run the async jobs with bounded concurrency on the fs loop (or the sync ones in order)."""
        fs = self.fs
        if not self._async:
            return [job() for job in jobs]
        from fsspec.asyn import sync

        limit = self.max_concurrency

        async def gather() -> list[Any]:
            sem = asyncio.Semaphore(limit)

            async def one(job: Callable[[], Awaitable[Any]]) -> Any:
                async with sem:
                    return await job()

            return await asyncio.gather(*(one(j) for j in ajobs))

        return sync(fs.loop, gather)

    # -- reads --------------------------------------------------------------
    async def _aget(self, key: str) -> bytes | None:
        path, fs = self._path(key), self.fs
        direct = self._direct
        try:
            if direct is not None:
                return await self._aretry("reading", key, True, lambda: direct.get(path))
            return await self._aretry("reading", key, True, lambda: fs._cat_file(path, **self._cat_kwargs))
        except _Absent:
            return None

    def _sget(self, key: str) -> bytes | None:
        path, fs = self._path(key), self.fs
        try:
            return self._retry("reading", key, True, lambda: fs.cat_file(path))
        except _Absent:
            return None

    def get(self, key: str) -> bytes | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        keys = list(dict.fromkeys(keys))
        for key in keys:
            validate_key(key)
        if not keys:
            return {}
        values = self._run_batch([lambda k=k: self._sget(k) for k in keys], [lambda k=k: self._aget(k) for k in keys])
        return {k: _value(v) for k, v in zip(keys, values) if v is not None}

    async def _asize(self, key: str) -> int | None:
        path, fs = self._path(key), self.fs
        try:
            info = await self._aretry("inspecting", key, True, lambda: fs._info(path))
        except _Absent:
            return None
        return _file_size(info)

    def _ssize(self, key: str) -> int | None:
        path, fs = self._path(key), self.fs
        try:
            info = self._retry("inspecting", key, True, lambda: fs.info(path))
        except _Absent:
            return None
        return _file_size(info)

    async def _arange(self, key: str, start: int, end: int | None) -> bytes | None:
        path, fs = self._path(key), self.fs
        if _needs_size(start, end):
            size = await self._asize(key)
            if size is None:
                return None
            start, end = _clip(size, start, end)
            if start == end:
                return b""
        direct = self._direct
        try:
            if direct is not None:
                data = await self._aretry("reading a range of", key, True, lambda: direct.get(path, start, end))
            else:
                data = await self._aretry("reading a range of", key, True,
                                          lambda: fs._cat_file(path, start=start, end=end))
            return _trim(data, start, end)
        except _Absent:
            return None
        except StoreError:
            # A range past the end is refused by HTTP (416) but is simply
            # empty for us; only the size can tell the two apart.
            size = await self._asize(key)
            if size is None:
                return None
            lo, hi = _clip(size, start, end)
            if lo == hi:
                return b""
            raise

    def _srange(self, key: str, start: int, end: int | None) -> bytes | None:
        path, fs = self._path(key), self.fs
        size = self._ssize(key)
        if size is None:
            return None
        lo, hi = _clip(size, start, end)
        if lo == hi:
            return b""
        try:
            return self._retry("reading a range of", key, True, lambda: fs.cat_file(path, start=lo, end=hi))
        except _Absent:
            return None

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        return self.get_ranges([(key, start, end)])[0]

    def get_ranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        for key, _, _ in requests:
            validate_key(key)
        if not requests:
            return []
        out = self._run_batch([lambda r=r: self._srange(*r) for r in requests],
                              [lambda r=r: self._arange(*r) for r in requests])
        return [None if v is None else _value(v) for v in out]

    def getsize(self, key: str) -> int | None:
        validate_key(key)
        return self._run_batch([lambda: self._ssize(key)], [lambda: self._asize(key)])[0]

    def exists(self, key: str) -> bool:
        return self.getsize(key) is not None

    # -- writes -------------------------------------------------------------
    async def _aset(self, key: str, value: bytes) -> None:
        path, fs = self._path(key), self.fs
        direct = self._direct
        if direct is not None:
            await self._aretry("writing", key, False, lambda: direct.put(path, value))
            _forget(fs, path)
            return
        await self._aretry("writing", key, False, lambda: fs._pipe_file(path, value))

    def _sset(self, key: str, value: bytes) -> None:
        path, fs = self._path(key), self.fs
        self._retry("writing", key, False, lambda: fs.pipe_file(path, value))

    def set(self, key: str, value: bytes) -> None:
        self.set_many([(key, value)])

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        self._check_writable()
        pairs = [(validate_key(k), _as_bytes(v)) for k, v in (items.items() if isinstance(items, Mapping) else items)]
        if pairs:
            self._run_batch([lambda p=p: self._sset(*p) for p in pairs], [lambda p=p: self._aset(*p) for p in pairs])

    async def _adelete(self, key: str) -> None:
        path, fs = self._path(key), self.fs
        direct = self._direct
        try:
            if direct is not None:
                await self._aretry("deleting", key, True, lambda: direct.delete(path))
                _forget(fs, path)
            else:
                await self._aretry("deleting", key, True, lambda: fs._rm_file(path))
        except _Absent:
            pass

    def _sdelete(self, key: str) -> None:
        path, fs = self._path(key), self.fs
        try:
            self._retry("deleting", key, True, lambda: fs.rm_file(path))
        except _Absent:
            pass

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_many(self, keys: Iterable[str]) -> None:
        self._check_writable()
        keys = [validate_key(k) for k in dict.fromkeys(keys)]
        if len(keys) >= BULK_DELETE_MIN and self._bulk_deletes:
            keys = self._delete_in_bulk(keys)
        if keys:
            self._run_batch([lambda k=k: self._sdelete(k) for k in keys], [lambda k=k: self._adelete(k) for k in keys])

    # -- S3 DeleteObjects -----------------------------------------------------
    @property
    def _bulk_deletes(self) -> bool:
        """Whether deletes go out as S3 DeleteObjects calls (an s3fs filesystem
        whose service has not refused one)."""
        fs = self.fs
        return (self._async and type(fs).__name__ == "S3FileSystem" and hasattr(fs, "_call_s3")
                and not getattr(fs, "_zarr_engine_no_bulk_delete", False))

    def _delete_in_bulk(self, keys: list[str]) -> list[str]:
        """Delete ``keys`` with DeleteObjects, up to BULK_DELETE_MAX a call, the
        calls running concurrently. Returns the keys still to delete one by one:
        none, or all of them when the service does not implement the call (501,
        or 404 for the call itself; it is then not asked again).

        A whole call that fails is retried like any request. A key the answer
        lists as failed is retried on its own when its error is transient, and
        otherwise raises :class:`StoreError` naming it: s3fs's own bulk delete
        drops those errors, which would leave old chunks behind unseen."""
        fs = self.fs
        paths = [self._path(k) for k in keys]
        located = [fs.split_path(p)[:2] for p in paths]  # (bucket, key in it)
        bucket = located[0][0]
        if any(b != bucket for b, _ in located):  # pragma: no cover - one store, one bucket
            return keys
        names = [name for _, name in located]

        async def call(part: list[int], attempt: int) -> list[int]:
            """One DeleteObjects of the keys numbered ``part``; the numbers of those to try again."""
            objects = [{"Key": names[i]} for i in part]
            try:
                out = await fs._call_s3("delete_objects", Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            except Exception as exc:  # noqa: BLE001 - classified below
                if is_not_implemented(exc) or (isinstance(exc, FileNotFoundError) and not is_missing_container(exc)):
                    # the service does not know the call (a 404 for the call itself would
                    # otherwise pass for "already deleted" and leave every key behind)
                    raise _NoBulkDelete() from exc
                what = keys[part[0]] + (f" (and {len(part) - 1} more keys)" if len(part) > 1 else "")
                await asyncio.sleep(self._pause_or_raise("deleting", what, False, exc, attempt))
                return part
            again = []
            index = {names[i]: i for i in part}
            for err in out.get("Errors") or []:
                i = index.get(err.get("Key"))
                code, message = str(err.get("Code", "")), str(err.get("Message", ""))
                if code == "NoSuchKey":
                    continue
                if i is not None and code in TRANSIENT_CODES and attempt < self.retries:
                    again.append(i)
                    continue
                where = self._key_url(keys[i]) if i is not None else f"s3://{bucket}/{err.get('Key')}"
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise StoreError(f"deleting {where} failed{tries}: {code}: {message}")
            if again:
                await asyncio.sleep(backoff(attempt, self.retry_base, self.retry_cap))
            return again

        async def one(part: list[int]) -> None:
            attempt = 0
            while part:
                part = await call(part, attempt)
                attempt += 1

        parts = [list(range(lo, min(lo + BULK_DELETE_MAX, len(keys)))) for lo in range(0, len(keys), BULK_DELETE_MAX)]
        try:
            self._run_batch([], [lambda part=part: one(part) for part in parts])
        except _NoBulkDelete:
            try:
                fs._zarr_engine_no_bulk_delete = True
            except AttributeError:  # pragma: no cover - s3fs instances take attributes
                pass
            return keys
        finally:
            # s3fs drops a folder's cached listing with its parents': once per folder is enough
            for folder in {p.rpartition("/")[0] for p in paths}:
                _forget(fs, folder)
        return []

    # -- conditional writes (S3) ----------------------------------------------
    @property
    def supports_conditional_writes(self) -> bool:  # type: ignore[override]
        """True on S3: versions are ETags, and a PUT with ``If-Match`` (or
        ``If-None-Match: *`` for a key that must be absent) is the compare-and-set."""
        return self._protocol in ("s3", "s3a")

    def _s3(self, method: str, key: str, **kwargs: Any) -> Any:
        """One S3 API call on ``key`` through s3fs's client (GetObject returns (body, ETag))."""
        from fsspec.asyn import sync

        fs = self.fs
        bucket, obj, _ = fs.split_path(self._path(key))

        async def call() -> Any:
            resp = await fs._call_s3(method, Bucket=bucket, Key=obj, **kwargs)
            if method == "get_object":
                async with resp["Body"] as body:
                    return await body.read(), resp["ETag"]
            return resp

        return sync(fs.loop, call)

    def get_versioned(self, key: str) -> tuple[bytes | None, str | None]:
        if not self.supports_conditional_writes:
            return super().get_versioned(key)
        try:
            # one GetObject: the value and the ETag of that very value
            return self._retry("reading", key, True, lambda: self._s3("get_object", key))
        except _Absent:
            return None, None

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        if not self.supports_conditional_writes:
            return super().set_if(key, value, expected=expected)
        self._check_writable(key)
        data = _as_bytes(value)
        condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}

        def put() -> str | None:
            try:
                return self._s3("put_object", key, Body=data, **condition)["ETag"]
            except Exception as exc:  # noqa: BLE001 - a failed precondition is an answer, not a fault
                if _precondition_failed(exc):
                    return None
                raise

        etag = self._retry("writing", key, False, put)
        if etag is None:
            raise ConflictError(f"key {key!r} in {self._url} changed since it was read (S3 precondition failed)")
        return etag

    # -- listing ------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, sorted (one recursive listing of its folder)."""
        validate_prefix(prefix)
        fs = self.fs
        folder = prefix.rpartition("/")[0]
        base = f"{self._root}/{folder}" if folder else self._root
        if self._protocol in _READ_ONLY_PROTOCOLS:
            base += "/"  # a web server lists a folder only at its URL with a final slash
        try:
            # Listings are cached by some filesystems; another writer may have
            # changed the bucket since, so always ask the service.
            fs.invalidate_cache(base)
        except Exception:  # noqa: BLE001 - best effort
            pass
        try:
            paths = self._retry("listing", folder, True, lambda: fs.find(base, withdirs=False))
        except _Absent:
            return iter([])
        root = fs._strip_protocol(self._root).strip("/") if self._root else ""
        keys = []
        for p in paths:
            p = fs._strip_protocol(p).strip("/")
            if root:
                if not p.startswith(root + "/"):
                    continue
                p = p[len(root) + 1:]
            if p.startswith(prefix):
                keys.append(p)
        keys.sort()
        return iter(keys)


def _forget(fs: Any, path: str) -> None:
    """Drop s3fs's cached listings of ``path``'s folders after a write that bypassed s3fs."""
    try:
        fs.invalidate_cache(path)
    except Exception:  # noqa: BLE001 - a cache, best effort
        pass


def _rebuild(url: str, options: dict[str, Any], read_only: bool, settings: dict[str, Any]) -> FsspecStore:
    return FsspecStore(url, options, read_only, **settings)


def _file_size(info: Mapping[str, Any]) -> int | None:
    if info.get("type", "file") != "file":
        return None  # a "folder" is not a key
    size = info.get("size")
    return int(size) if size is not None else None


def _needs_size(start: int, end: int | None) -> bool:
    """True for ranges a plain HTTP Range header cannot express exactly."""
    if start < 0:
        return end is not None
    return end is not None and (end < 0 or end <= start)


def _trim(data: bytes, start: int, end: int | None) -> bytes:
    """Guard against servers that ignore a Range header and send the whole value.

    A correct answer is never longer than the range asked for, so a longer
    one must be the whole value, which can be cut here.
    """
    if start < 0 and end is None and len(data) > -start:
        return data[start:]
    if start >= 0 and end is not None and len(data) > end - start:
        return data[start:end]
    return data


def _clip(size: int, start: int, end: int | None) -> tuple[int, int]:
    lo, hi, _ = slice(start, end).indices(size)
    return lo, max(lo, hi)


def _precondition_failed(exc: BaseException) -> bool:
    """True when S3 refused a conditional write (412, or 409 for a concurrent conditional write)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, FileExistsError):  # s3fs's translation of If-None-Match failing
            return True
        code = str(getattr(seen, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _value(v: Any) -> Any:
    """A fetched value as reads return it: ``bytes``, or the read-only
    memoryview a large body arrives in over the lean HTTP client (copying
    that into ``bytes`` would cost a second allocation and copy of every
    byte; see :func:`.http1._body_buffer`)."""
    return v if isinstance(v, (bytes, memoryview)) else bytes(v)


def _as_bytes(value: Any) -> bytes:
    # Filesystems measure payloads with len(), which is wrong for a memoryview
    # of wider items; bytes also lets a retry resend identical data.
    return value if isinstance(value, bytes) else bytes(value)
