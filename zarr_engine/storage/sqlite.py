"""A whole hierarchy in one SQLite file: table ``zarr(k TEXT PRIMARY KEY, v BLOB)``.

That is the table zarr-python 2's ``SQLiteStore`` (and the proposed Zarr
SQLite store convention) keeps keys in, so each opens the other's files. Files
written by earlier versions of this store name the columns ``key`` and
``value``; they are read and written in place, with their own names.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import ChunkCorruptError, ConflictError, StoreError
from .base import ContentVersions, Store, content_version, validate_key, validate_prefix

#: Seconds a connection waits for another process's lock before failing.
BUSY_TIMEOUT = 60.0
# Connections inherited across fork() must never be used or closed by the
# child (SQLite forbids it); they are parked here so they are not garbage
# collected (which would close them) either.
_INHERITED: list[sqlite3.Connection] = []
#: every live store of this process by id (stores on one path compare equal, so
#: not a WeakSet), so that a forked child parks their connections at once
_STORES: "weakref.WeakValueDictionary[int, SQLiteStore]" = weakref.WeakValueDictionary()


def _park_inherited_connections() -> None:
    # In the child, right after fork(): a store the parent no longer needed may
    # still be waiting for garbage collection. If the child collected it, closing
    # its connection would close the child's descriptors of the database, which
    # drops every POSIX lock this process holds on it, including those of the
    # child's own connections: SQLite then reports "disk I/O error" or loses a
    # commit. So every store forgets its connections here, and they are parked.
    for store in list(_STORES.values()):
        store._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_park_inherited_connections)


def _close_connections(conns: list[sqlite3.Connection], pid: int) -> None:
    # A store is gone: close the connections it opened in this process. Left to
    # themselves they would live on until the cyclic garbage collector runs (a
    # sqlite3 connection is in a reference cycle with its statement cache), and
    # a child forked meanwhile would inherit an open connection no hook knows
    # of: six processes incrementing one counter then lost every commit.
    if os.getpid() != pid:
        return  # inherited across fork: parked, never closed by the child
    for conn in conns:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def _prefix_clause(prefix: str) -> tuple[str, tuple[Any, ...]]:
    """A WHERE clause matching keys that start with ``prefix``, as an index range."""
    if not prefix:
        return "1", ()
    nxt = ord(prefix[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:
        nxt = 0xE000  # skip the surrogates, which are not valid in UTF-8
    if nxt > 0x10FFFF:
        return "{k} >= ? AND substr({k}, 1, ?) = ?", (prefix, len(prefix), prefix)
    # TEXT compares as UTF-8 bytes, which orders like code points.
    return "{k} >= ? AND {k} < ?", (prefix, prefix[:-1] + chr(nxt))


class SQLiteStore(ContentVersions, Store):
    """Keys are rows of one table in the SQLite database at ``path``.

    WAL journal, so readers never block the writer; each thread has its own
    connection and a forked child opens fresh ones. Several processes may read
    and write at once; writers queue on SQLite's lock (``BUSY_TIMEOUT``).
    ``set_if`` compares and writes inside one ``BEGIN IMMEDIATE`` transaction,
    so it is atomic with respect to every other write.
    """

    supports_conditional_writes = True

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.path = os.path.abspath(os.fspath(path))
        if read_only and not os.path.isfile(self.path):
            raise StoreError(f"cannot open {self.url} read-only: no such file")
        self._lock = threading.Lock()
        self._reset()
        _STORES[id(self)] = self
        self._conn()  # fail early on a bad file, create the table

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._has_table = True
        self._columns = {"k": "k", "v": "v"}  # the file's own names, read when a connection opens
        # closes this process's connections when the store goes (see _close_connections)
        weakref.finalize(self, _close_connections, self._all, self._pid)

    # -- identity -----------------------------------------------------------
    @property
    def url(self) -> str:
        return "sqlite://" + self.path.replace(os.sep, "/")

    @property
    def storage_options(self) -> dict[str, Any]:
        return {}

    def with_read_only(self, read_only: bool = True) -> "SQLiteStore":
        return SQLiteStore(self.path, read_only=read_only)

    def __reduce__(self) -> tuple[Any, ...]:
        return (SQLiteStore, (self.path, self.read_only))

    # -- connections --------------------------------------------------------
    def _forget_connections(self) -> None:
        """After a fork: park this store's inherited connections (never used or
        closed by the child) and open fresh ones on next use."""
        if os.getpid() != self._pid:
            _INHERITED.extend(self._all)
            self._lock = threading.Lock()  # another thread may have held it at fork time
            self._reset()

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            with self._lock:
                self._forget_connections()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT,
                                       isolation_level=None, check_same_thread=False)
                self._has_table = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='zarr'").fetchone() is not None
                self._columns = self._columns_of(conn)
                return conn
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            # Switching to WAL needs a moment of exclusive access; with many
            # processes opening at once it can report "locked" past the busy
            # handler, so retry briefly.
            for attempt in range(100):
                try:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("CREATE TABLE IF NOT EXISTS zarr (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 99:
                        raise
                    time.sleep(0.01 * (1 + attempt % 10))
            self._columns = self._columns_of(conn)
            return conn
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.url}: {exc}") from exc

    def _columns_of(self, conn: sqlite3.Connection) -> dict[str, str]:
        """The names of the key and value columns of the ``zarr`` table: ``k`` and ``v``
        (zarr-python 2, and this store since), or ``key`` and ``value`` (earlier files)."""
        names = [row[1] for row in conn.execute("PRAGMA table_info(zarr)").fetchall()]
        if not names:
            return {"k": "k", "v": "v"}
        for key, value in (("k", "v"), ("key", "value")):
            if key in names and value in names:
                return {"k": key, "v": value}
        raise StoreError(f"cannot open {self.url}: its table 'zarr' has columns {names}, not (k, v) or (key, value)")

    def _sql(self, text: str) -> str:
        """``text`` with ``{k}`` and ``{v}`` replaced by this file's column names."""
        return text.format(**self._columns)

    def close(self) -> None:
        """Close every connection this process opened; later use reopens."""
        if os.getpid() != self._pid:
            return
        with self._lock:
            conns = list(self._all)
            self._all.clear()  # the same list: the finaliser of _reset keeps watching it
            self._local = threading.local()
        _close_connections(conns, self._pid)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._conn()
        if not self._has_table:
            return []
        try:
            return conn.execute(self._sql(sql), params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading {self.url} failed: {exc}") from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back when it
        raises; SQLite's errors come out as StoreError naming ``what``."""
        conn = self._conn()
        try:
            # BEGIN IMMEDIATE takes the write lock up front, so two writers
            # queue on the busy timeout instead of deadlocking on an upgrade.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"writing {what} to {self.url} failed: {exc}") from exc

    def _write(self, sql: str, rows: Iterable[Sequence[Any]], what: str) -> None:
        with self._transaction(what) as conn:
            conn.executemany(self._sql(sql), rows)

    # -- reads --------------------------------------------------------------
    def _bytes(self, key: str, value: Any) -> bytes:
        """A stored value as bytes. Rows written by other tools (the sqlite3 shell,
        pandas) may hold TEXT, which is its UTF-8 bytes as it is for SQLite's own
        CAST; an integer, a real or NULL is no value a key can hold (bytes() of an
        integer would be that many zero bytes)."""
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        raise self._not_bytes(key, "null" if value is None else "integer" if isinstance(value, int) else "real")

    def _not_bytes(self, key: str, kind: str) -> ChunkCorruptError:
        """The error for a key whose value is of SQLite type ``kind`` (not blob or text)."""
        what = "NULL" if kind == "null" else f"an SQLite {kind}"
        return ChunkCorruptError(f"key {key!r} in {self.url} holds {what}, not the bytes of a value")

    def get(self, key: str) -> bytes | None:
        validate_key(key)
        rows = self._query("SELECT {v} FROM zarr WHERE {k} = ?", (key,))
        return self._bytes(key, rows[0][0]) if rows else None

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        for key in keys:
            validate_key(key)
        out: dict[str, bytes] = {}
        keys = list(dict.fromkeys(keys))
        # Stay under SQLite's limit on bound parameters per statement.
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            for key, value in self._query("SELECT {k}, {v} FROM zarr WHERE {k} IN (" + marks + ")", part):
                out[key] = self._bytes(key, value)
        return out

    def _piece(self, key: str, rows: list[tuple[Any, ...]]) -> bytes | None:
        """The bytes of a (typeof, substr) row; the type is checked as :meth:`_bytes` does."""
        if not rows:
            return None
        kind, piece = rows[0]
        if kind not in ("blob", "text"):
            raise self._not_bytes(key, kind)
        return bytes(piece or b"")  # substr of an empty blob is NULL

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        validate_key(key)
        # substr() counts bytes of a BLOB (from 1, clipping at the end) but characters
        # of TEXT: the value is cast to a BLOB (a no-op for one) so both count bytes.
        if start >= 0 and (end is None or end >= start):
            if end is None:
                rows = self._query("SELECT typeof({v}), substr(CAST({v} AS BLOB), ?) FROM zarr WHERE {k} = ?",
                                   (start + 1, key))
            else:
                rows = self._query("SELECT typeof({v}), substr(CAST({v} AS BLOB), ?, ?) FROM zarr WHERE {k} = ?",
                                   (start + 1, end - start, key))
            return self._piece(key, rows)
        size = self.getsize(key)
        if size is None:
            if self.exists(key):
                raise self._not_bytes(key, "null")
            return None
        lo, hi, _ = slice(start, end).indices(size)
        if hi <= lo:
            return b""
        rows = self._query("SELECT typeof({v}), substr(CAST({v} AS BLOB), ?, ?) FROM zarr WHERE {k} = ?",
                           (lo + 1, hi - lo, key))
        return self._piece(key, rows)

    def exists(self, key: str) -> bool:
        validate_key(key)
        return bool(self._query("SELECT 1 FROM zarr WHERE {k} = ?", (key,)))

    def getsize(self, key: str) -> int | None:
        validate_key(key)
        # length() of a BLOB column is read from the row header; TEXT counts characters, so it is cast
        rows = self._query("SELECT CASE typeof({v}) WHEN 'blob' THEN length({v}) "
                           "ELSE length(CAST({v} AS BLOB)) END FROM zarr WHERE {k} = ?", (key,))
        return rows[0][0] if rows else None

    # -- writes -------------------------------------------------------------
    def set(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        validate_key(key)
        self._write("INSERT OR REPLACE INTO zarr ({k}, {v}) VALUES (?, ?)", [(key, _blob(value))], repr(key))

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        self._check_writable()
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        rows = [(validate_key(k), _blob(v)) for k, v in pairs]
        if rows:
            self._write("INSERT OR REPLACE INTO zarr ({k}, {v}) VALUES (?, ?)", rows, f"{len(rows)} keys")

    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        """Compare-and-set in one write transaction; ConflictError when the version moved."""
        self._check_writable(key)
        validate_key(key)
        blob = _blob(value)
        with self._transaction(repr(key)) as conn:
            row = conn.execute(self._sql("SELECT {v} FROM zarr WHERE {k} = ?"), (key,)).fetchone()
            found = None if row is None else content_version(row[0])
            if found != expected:
                raise ConflictError(
                    f"key {key!r} in {self.url} changed since it was read (expected {expected}, found {found})"
                )
            conn.execute(self._sql("INSERT OR REPLACE INTO zarr ({k}, {v}) VALUES (?, ?)"), (key, blob))
        return content_version(value)

    def delete(self, key: str) -> None:
        self._check_writable(key)
        validate_key(key)
        self._write("DELETE FROM zarr WHERE {k} = ?", [(key,)], repr(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        self._check_writable()
        rows = [(validate_key(k),) for k in keys]
        if rows:
            self._write("DELETE FROM zarr WHERE {k} = ?", rows, f"deletion of {len(rows)} keys")

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable(prefix or None)
        validate_prefix(prefix)
        where, params = _prefix_clause(prefix)
        self._write("DELETE FROM zarr WHERE " + where, [params], f"deletion of {prefix!r}*")

    # -- listing ------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, sorted (an index range scan)."""
        validate_prefix(prefix)
        where, params = _prefix_clause(prefix)
        return iter([r[0] for r in self._query("SELECT {k} FROM zarr WHERE " + where + " ORDER BY {k}", params)])


def _blob(value: Any) -> Any:
    # sqlite3 binds bytes, bytearray and contiguous memoryviews as BLOBs.
    if isinstance(value, (bytes, bytearray)):
        return value
    view = memoryview(value)
    return view if view.c_contiguous and view.format == "B" else view.cast("B") if view.c_contiguous else bytes(view)
