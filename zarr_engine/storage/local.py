"""A store on a local folder: one file per key."""

from __future__ import annotations

import itertools
import os
import stat
import threading
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConflictError, StoreError
from .base import ContentVersions, Store, content_version, validate_key, validate_prefix

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, no conditional writes
    fcntl = None  # type: ignore[assignment]

#: Temporary files are named ``.<name>.<random>`` + this suffix; listings skip them.
TEMP_SUFFIX = ".zetmp"


#: Number of lock files ``set_if`` spreads keys over (hidden, kept in the root).
LOCK_STRIPES = 64
_THREAD_LOCKS = [threading.Lock() for _ in range(LOCK_STRIPES)]


#: temporary names are this process's random token and a counter: a fifth of
#: the cost of a fresh uuid4 per file, and O_EXCL still refuses any clash
_temp_token = uuid.uuid4().hex[:8]
_temp_counter = itertools.count()


def _after_fork_in_child() -> None:
    global _temp_token
    # A lock held by another thread at fork() time would stay held forever in the child.
    _THREAD_LOCKS[:] = [threading.Lock() for _ in range(LOCK_STRIPES)]
    # parent and child would otherwise draw the same temporary names
    _temp_token = uuid.uuid4().hex[:8]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


#: a temporary file is always new (O_EXCL), never inherited by child processes
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


_SLASH_SEP = os.sep == "/" and os.altsep is None

#: where read_exact_into's one byte past the end goes (its content is never used)
_SPILL = bytearray(1)

#: whether runs of keys in one folder are opened and renamed relative to the folder
#: (os.replace takes the same descriptors as os.rename, both renameat)
_DIR_FDS = (_SLASH_SEP and hasattr(os, "O_DIRECTORY") and os.open in os.supports_dir_fd
            and os.rename in os.supports_dir_fd and os.unlink in os.supports_dir_fd)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


class _FolderRuns:
    """Files of a run of keys in one folder (a row of chunks), named relative
    to a descriptor of that folder.

    By full path, the kernel walks every folder of the path again for each
    file: on this machine that was 0.7 us of a 4.9 us small-file read and
    1.6 us of a 16 us small-file write (temporary file and rename). The
    folder is opened at the second path of a run, so a lone path never pays
    for it, and closed when the run ends. Paths are ``/``-separated
    (``_DIR_FDS``)."""

    __slots__ = ("folder", "fd")

    def __init__(self) -> None:
        self.folder: str | None = None
        self.fd: int | None = None

    def split(self, path: str) -> tuple[int | None, str]:
        """(folder descriptor, name in it) for ``path``, or (None, ``path``) when
        ``path`` starts a run or its folder cannot be opened (absent: the
        caller's full-path route says what that means)."""
        folder, _, name = path.rpartition("/")
        if folder != self.folder:
            self.close()
            self.folder = folder
            return None, path
        if self.fd is None:
            try:
                self.fd = os.open(folder, _DIR_FLAGS)
            except OSError:
                return None, path
        return self.fd, name

    def close(self) -> None:
        """Close the folder's descriptor; the next path starts a new run."""
        fd, self.fd, self.folder = self.fd, None, None
        if fd is not None:
            os.close(fd)


def _remove_quietly(path: str, dir_fd: int | None = None) -> None:
    """Remove a temporary file after a failed write; a failure to do so is not the error to report."""
    try:
        os.unlink(path, dir_fd=dir_fd)
    except OSError:
        pass


def _write_and_close(fd: int, value: Any, fsync: bool) -> None:
    """Write all of ``value`` (any buffer) to ``fd``, fsync it if asked, and close it."""
    try:
        data = memoryview(value).cast("B")
        done = 0
        while done < data.nbytes:
            done += os.write(fd, data[done:])
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _temp_name(name: str) -> str:
    """A fresh temporary file name for the file ``name``, in the same folder."""
    return f".{name}.{_temp_token}{next(_temp_counter):x}{TEMP_SUFFIX}"


def _normalise_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """Turn python-slice style ``start``/``end`` into absolute offsets within ``size``."""
    lo, hi, _ = slice(start, end).indices(size)
    return lo, max(lo, hi)


class LocalStore(ContentVersions, Store):
    """Keys are files below ``root``; ``set`` writes a temporary file then renames it.

    Temporary files (a leading ``.`` and the suffix ``.zetmp``) never appear in
    listings, so a key with that shape is not listable.

    ``set_if`` (compare-and-set) holds an exclusive ``flock`` on one of
    :data:`LOCK_STRIPES` hidden lock files in the root while it compares the
    stored bytes with the expected version and renames its temporary file into
    place. It is atomic with respect to other ``set_if`` calls on the same
    folder from any thread or process (the kernel drops the lock of a killed
    process), but not with respect to plain ``set``/``delete``, which never
    lock. It needs a filesystem where ``flock`` works across processes
    (local disks; not every network filesystem).
    """

    supports_conditional_writes = fcntl is not None

    def __init__(self, root: str | os.PathLike[str], read_only: bool = False, *, fsync: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.root = Path(os.path.abspath(os.fspath(root)))
        self._root_str = str(self.root)
        self.fsync = bool(fsync)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"cannot open {self.url}: it is a file, not a folder")

    # -- identity -----------------------------------------------------------
    @property
    def url(self) -> str:
        return "file://" + self.root.as_posix()

    @property
    def storage_options(self) -> dict[str, Any]:
        return {}

    def with_read_only(self, read_only: bool = True) -> "LocalStore":
        return LocalStore(self.root, read_only=read_only, fsync=self.fsync)

    def __reduce__(self) -> tuple[Any, ...]:
        return (LocalStore, (str(self.root), self.read_only), {"fsync": self.fsync})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.fsync = state.get("fsync", False)

    def _path(self, key: str) -> str:
        # validate_key already refuses '..', absolute paths, drive letters and
        # backslashes, so the joined path cannot leave the root.
        validate_key(key)
        if _SLASH_SEP:  # keys are already '/'-separated paths
            return self._root_str + "/" + key
        return os.path.join(self.root, *key.split("/"))

    # -- reads --------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            # Unbuffered FileIO.read(n) allocates one bytes object of n bytes and
            # reads straight into it: no intermediate buffer and no copy.
            with open(path, "rb", buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                data = f.read(size) if size else b""
                if len(data) < size:  # very large files are read in several calls
                    rest = bytearray(data)
                    while len(rest) < size:
                        more = f.read(size - len(rest))
                        if not more:
                            break
                        rest += more
                    data = bytes(rest)
                return data
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def read_into(self, key: str, buf: Any) -> memoryview | bytes | None:
        """The value of ``key`` read into ``buf`` when it fits (a read-only view of
        ``buf``'s first bytes, valid until ``buf`` is reused), else as bytes; None if absent.

        The engine's sync path for local files: ``os.open`` + ``preadv`` into a
        buffer each pool thread keeps, so a chunk read allocates nothing and the
        same pages are reused (a fresh ``bytes`` per chunk costs an allocation and
        page faults on every byte)."""
        view = memoryview(buf).cast("B")
        n = self.read_exact_into(key, view)
        if n is None:
            return None
        if n > view.nbytes:  # longer than the buffer: read it whole
            return self.get(key)
        return view[:n].toreadonly()

    def read_exact_into(self, key: str, view: memoryview) -> int | None:
        """Read the value of ``key`` into ``view`` (writable bytes); None if absent.

        Returns the number of bytes read, or ``len(view) + 1`` when the value is
        longer than ``view``: a caller that expects exactly ``len(view)`` bytes
        (uncompressed chunks) checks one number. One open, one ``preadv`` (the
        byte after ``view`` goes to a spare byte), one close; no ``fstat``."""
        for n in self.read_each_into((key,), (view,)):
            return n
        return None  # pragma: no cover - one key gives one count

    def read_each_into(self, keys: Sequence[str], views: Sequence[memoryview]) -> Iterator[int | None]:
        """:meth:`read_exact_into` for each key and the view at the same position,
        in order: yields each count as it is read. The engine's loop over many
        small chunks, without three Python calls per key; runs of keys in one
        folder are opened relative to it (:class:`_FolderRuns`)."""
        runs = _FolderRuns() if _DIR_FDS else None
        try:
            for key, view in zip(keys, views):
                path = self._path(key)
                dfd, name = runs.split(path) if runs is not None else (None, path)
                try:
                    fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    yield None
                    continue
                try:
                    n: int | None = os.preadv(fd, [view, _SPILL], 0)
                except IsADirectoryError:
                    n = None
                finally:
                    os.close(fd)
                yield n
        finally:
            if runs is not None:
                runs.close()

    def _open_existing(self, key: str) -> int | None:
        """A read-only descriptor of the key's file; None when there is none."""
        try:
            fd = os.open(self._path(key), os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        # os.open opens a folder too: a folder where a key's file should be is no
        # value (as get says), not an IsADirectoryError at the first pread
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        fd = self._open_existing(key)
        if fd is None:
            return None
        try:
            lo, hi = _normalise_range(os.fstat(fd).st_size, start, end)
            parts = []
            while lo < hi:
                piece = os.pread(fd, hi - lo, lo)
                if not piece:
                    break
                parts.append(piece)
                lo += len(piece)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        finally:
            os.close(fd)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def getsize(self, key: str) -> int | None:
        path = self._path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if not os.path.isdir(path) else None

    # -- writes -------------------------------------------------------------
    def set(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        tmp, path = self._write_temp(key, value)
        self._install(key, tmp, path)

    def set_many(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        """:meth:`set` for each pair, in order (each value is atomic on its own)."""
        self._check_writable()
        write_temp, install = self._write_temp, self._install
        runs = _FolderRuns() if _DIR_FDS else None
        try:
            for key, value in items.items() if isinstance(items, Mapping) else items:
                if runs is not None:
                    dfd, name = runs.split(self._path(key))
                    if dfd is not None:
                        if self._set_at(dfd, name, key, value):
                            continue
                        runs.close()  # the folder went away meanwhile: the full-path route makes it again
                tmp, path = write_temp(key, value)
                install(key, tmp, path)
        finally:
            if runs is not None:
                runs.close()

    def _set_at(self, dfd: int, name: str, key: str, value: bytes) -> bool:
        """:meth:`set` of ``key``, whose file is ``name`` in the folder open as
        ``dfd``: a temporary file there, then a rename. False, with nothing
        written, when the folder is gone or the temporary name is taken (the
        full-path route of :meth:`_write_temp` deals with both)."""
        if _is_temp(name):
            return False  # _write_temp refuses it, naming the key
        tmp = _temp_name(name)
        try:
            fd = os.open(tmp, _TEMP_FLAGS, 0o666, dir_fd=dfd)
        except (FileNotFoundError, FileExistsError):
            return False
        try:
            _write_and_close(fd, value, self.fsync)
        except BaseException:
            _remove_quietly(tmp, dfd)
            raise
        self._install(key, tmp, name, dfd)
        return True

    def _write_temp(self, key: str, value: bytes) -> tuple[str, str]:
        """Write ``value`` to a fresh temporary file beside the key's file; return (temp, final) paths."""
        path = self._path(key)
        folder, name = os.path.split(path)
        if _is_temp(name):
            raise StoreError(f"key {key!r} has the shape of a temporary file of {self.url}")
        tmp = f"{folder}{os.sep}{_temp_name(name)}"
        # The folder usually exists (every chunk of a row shares it): try the
        # open first and create folders only when it fails. A concurrent
        # delete() may remove an empty parent folder between our makedirs and
        # open; recreate it and try again a few times.
        data = memoryview(value).cast("B")
        for attempt in range(6):
            try:
                if attempt:
                    os.makedirs(folder, exist_ok=True)
                # os.open/os.write: no buffered file object per chunk (a third of
                # the cost of writing a small chunk)
                fd = os.open(tmp, _TEMP_FLAGS, 0o666)
                _write_and_close(fd, data, self.fsync)
                break
            except FileNotFoundError:
                if attempt == 5:
                    raise
            except FileExistsError:  # a leftover of a crashed writer with our token: draw afresh
                if attempt == 5:
                    raise
                tmp = f"{folder}{os.sep}.{name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
            except NotADirectoryError as exc:
                raise StoreError(f"cannot write key {key!r} in {self.url}: a parent is a file") from exc
        return tmp, path

    def _install(self, key: str, tmp: str, path: str, dir_fd: int | None = None) -> None:
        """Rename the temporary file into place (removing it if that fails);
        with ``dir_fd``, both names are relative to that folder."""
        try:
            os.replace(tmp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException as exc:
            _remove_quietly(tmp, dir_fd)
            if isinstance(exc, IsADirectoryError):
                raise StoreError(f"cannot write key {key!r} in {self.url}: it is a folder") from exc
            raise

    # -- conditional writes ---------------------------------------------------
    def set_if(self, key: str, value: bytes, *, expected: str | None) -> str:
        """Compare-and-set; see the class docstring for what it is atomic against."""
        self._check_writable(key)
        if fcntl is None:  # pragma: no cover
            return super().set_if(key, value, expected=expected)
        # The bytes are written before the lock is taken, so the critical
        # section is one read and one rename.
        tmp, path = self._write_temp(key, value)
        try:
            with self._stripe_lock(key):
                current = self.get(key)
                found = None if current is None else content_version(current)
                if found != expected:
                    raise ConflictError(
                        f"key {key!r} in {self.url} changed since it was read (expected {expected}, found {found})"
                    )
                self._install(key, tmp, path)
        except BaseException:
            _remove_quietly(tmp)
            raise
        return content_version(value)

    @contextmanager
    def _stripe_lock(self, key: str) -> Iterator[None]:
        """Hold, across threads and processes, the lock of the stripe ``key`` hashes to."""
        stripe = zlib.crc32(key.encode("utf-8", "surrogatepass")) % LOCK_STRIPES
        # flock is per open file description: threads of one process share
        # the fd, so a thread lock orders them first.
        with _THREAD_LOCKS[stripe]:
            os.makedirs(self.root, exist_ok=True)
            fd = os.open(os.path.join(self.root, f".zelock-{stripe:02d}{TEMP_SUFFIX}"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def delete(self, key: str) -> None:
        self._check_writable(key)
        self.delete_many((key,))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove each key's file, then the folders left empty (each folder tried
        once, deepest first, instead of once for every file removed from it)."""
        self._check_writable()
        folders = set()
        for key in keys:
            path = self._path(key)
            try:
                os.remove(path)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            folders.add(os.path.dirname(path))
        for folder in sorted(folders, key=len, reverse=True):
            self._prune(folder)

    def _prune(self, folder: str) -> None:
        """Remove now-empty folders from ``folder`` up to (not including) the root."""
        root = str(self.root)
        while folder != root and folder.startswith(root + os.sep):
            try:
                os.rmdir(folder)
            except OSError:
                return
            folder = os.path.dirname(folder)

    # -- listing ------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, in sorted order."""
        validate_prefix(prefix)
        base, _, _ = prefix.rpartition("/")
        start = os.path.join(self.root, *base.split("/")) if base else str(self.root)
        found: list[str] = []
        self._walk(start, base + "/" if base else "", prefix, found)
        found.sort()
        return iter(found)

    def _walk(self, folder: str, rel: str, prefix: str, out: list[str]) -> None:
        try:
            it = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        with it:
            for entry in it:
                if _is_temp(entry.name):
                    continue
                key = rel + entry.name
                # Only descend where keys below could still match the prefix.
                if entry.is_dir():
                    sub = key + "/"
                    if sub.startswith(prefix) or prefix.startswith(sub):
                        self._walk(entry.path, sub, prefix, out)
                elif key.startswith(prefix):
                    out.append(key)

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        validate_prefix(prefix)
        folder = os.path.join(self.root, *prefix.strip("/").split("/")) if prefix.strip("/") else str(self.root)
        keys: list[str] = []
        dirs: list[str] = []
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if _is_temp(entry.name):
                        continue
                    (dirs if entry.is_dir() else keys).append(entry.name)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return sorted(keys), sorted(dirs)
