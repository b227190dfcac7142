"""A store inside one zip file (stdlib ``zipfile``).

Writes use ZIP_STORED by default (chunks are compressed already). A zip file
cannot rewrite or remove a member in place, so:

* a key written twice gets a second member; reads see the latest, and when the
  store is closed the archive is rewritten without the superseded members, so
  the file on disk never holds duplicate names;
* a deleted key is hidden at once and dropped from the archive on close.

Close the store (or use it as a context manager) after writing: the zip's
central directory is written only then. Reads and writes are serialised by one
lock around the shared ``ZipFile``, so the store is thread-safe.
"""

from __future__ import annotations

import lzma
import os
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ChunkCorruptError, InvalidKeyError, StoreError
from .base import Store, validate_key, validate_prefix

_METADATA_NAMES = ("zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata")
_MODES = {"r": "r", "w": "w", "a": "a", "r+": "a", "x": "x", "w-": "x"}
#: how a SQLite database file begins
SQLITE_MAGIC = b"SQLite format 3\0"


def _not_a_zip(path: str) -> str | None:
    """Why the existing file at ``path`` cannot be opened as a zip archive, or None when it can.

    An empty file counts as an empty archive. Anything else without a zip's
    end record (a text file, a SQLite database, a zip cut short) is refused:
    zipfile would append a second archive to it instead of reading it.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        return f"cannot read it: {exc}"
    if not head or zipfile.is_zipfile(path):
        return None
    if head == SQLITE_MAGIC:
        return "it is a SQLite database: open it as sqlite://" + path.replace(os.sep, "/")
    return "no zip end record: another kind of file, or a zip that was cut short"


class _Archive:
    """The open ZipFile and pending bookkeeping, shared by a store and its read-only views."""

    def __init__(self, open_mode: str) -> None:
        self.open_mode = open_mode
        self.lock = threading.RLock()
        self.zf: zipfile.ZipFile | None = None
        self.deleted: set[str] = set()  # hidden now, dropped from the file on close
        self.superseded = False  # some name has an older member to drop on close
        self.root: str | None = None  # the hierarchy's root, found when the file is first opened


class ZipStore(Store):
    """Keys are members of the zip file at ``path``.

    ``mode``: ``"r"`` read-only; ``"w"`` create or truncate; ``"a"`` read and
    write, creating the file when missing; ``"r+"`` like ``"a"`` but the file
    must exist; ``"x"``/``"w-"`` create, failing when the file exists. An
    existing file that is not a zip archive (an empty one is taken as an empty
    archive) raises :class:`StoreError` in every mode but ``"w"``, unchanged.
    """

    supports_ranges = True
    # every handle appends its own members and writes its own central directory
    supports_concurrent_writers = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "r",
        *,
        compression: int = zipfile.ZIP_STORED,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"ZipStore mode must be one of {sorted(_MODES)}, got {mode!r}")
        super().__init__(read_only=(mode == "r"))
        self.path = os.path.abspath(os.fspath(path))
        self.mode = mode
        self.compression = compression
        if mode == "r+" and not os.path.isfile(self.path):
            raise StoreError(f"cannot open {self.url} with mode 'r+': no such file")
        self._st = _Archive(_MODES[mode])
        self._file()  # open at once so that bad or unsafe archives fail early

    # -- identity -----------------------------------------------------------
    @property
    def url(self) -> str:
        return "zip://" + self.path.replace(os.sep, "/")

    @property
    def storage_options(self) -> dict[str, Any]:
        return {}

    def with_read_only(self, read_only: bool = True) -> "ZipStore":
        """An equal store. A read-only view of a writable store shares its open
        archive (so it sees unflushed writes); a writable copy of a read-only
        store opens the file again in mode ``"a"``."""
        if read_only or not self.read_only:
            view = ZipStore.__new__(ZipStore)
            Store.__init__(view, read_only=read_only)
            view.path, view.mode, view.compression, view._st = self.path, self.mode, self.compression, self._st
            return view
        return ZipStore(self.path, "a", compression=self.compression)

    def __reduce__(self) -> tuple[Any, ...]:
        # A writable store reopens in "a": reopening with "w" would truncate.
        return (ZipStore, (self.path, "r" if self.read_only else "a"), {"compression": self.compression})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.compression = state.get("compression", zipfile.ZIP_STORED)

    # -- the shared ZipFile -------------------------------------------------
    def _file(self) -> zipfile.ZipFile:
        with self._st.lock:
            if self._st.zf is not None:
                return self._st.zf
            if self._st.open_mode in ("r", "a") and os.path.isfile(self.path):
                # checked before zipfile sees it: in mode "a" zipfile appends a new
                # archive to any file that is not a zip, changing it for good
                why = _not_a_zip(self.path)
                if why is not None:
                    kept = "; the file was left unchanged" if self._st.open_mode == "a" else ""
                    raise StoreError(f"{self.path} is not a zip file ({why}){kept}")
            try:
                zf = zipfile.ZipFile(self.path, self._st.open_mode, compression=self.compression, allowZip64=True)
            except FileNotFoundError as exc:
                raise StoreError(f"cannot open {self.url}: no such file") from exc
            except FileExistsError as exc:
                raise StoreError(f"cannot create {self.url}: the file exists (mode {self.mode!r})") from exc
            except (zipfile.BadZipFile, OSError) as exc:
                raise StoreError(f"cannot open {self.url}: {exc}") from exc
            try:
                self._check_members(zf)
            except BaseException:
                zf.close()
                raise
            if self._st.open_mode in ("w", "x"):
                self._st.open_mode = "a"  # a lazy reopen after close() must not truncate
            if self._st.root is None:
                self._st.root = _find_root(zf.NameToInfo)
            self._st.zf = zf
            return zf

    def _check_members(self, zf: zipfile.ZipFile) -> None:
        for name in zf.namelist():
            bare = name[:-1] if name.endswith("/") else name
            try:
                validate_key(bare if bare else "/")
            except InvalidKeyError as exc:
                raise InvalidKeyError(f"zip file {self.path} has an unsafe member {name!r}: {exc}") from None

    # -- reads --------------------------------------------------------------
    @contextmanager
    def _reading(self, key: str) -> Iterator[None]:
        """zipfile's errors while reading the member of ``key`` as ours, naming the key.

        A member whose bytes fail the zip's own CRC-32, whose local header is
        damaged or whose compressed stream is cut short or broken is corrupt data
        (ChunkCorruptError, as a damaged chunk in any store); a member zipfile
        cannot read at all (encrypted, an unsupported compression) is a StoreError.
        """
        try:
            yield
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError) as exc:
            raise ChunkCorruptError(f"key {key!r} in zip file {self.path} is damaged: {exc}") from exc
        except (NotImplementedError, RuntimeError) as exc:
            raise StoreError(f"cannot read key {key!r} in zip file {self.path}: {exc}") from exc

    def _info(self, zf: zipfile.ZipFile, key: str) -> zipfile.ZipInfo | None:
        if key in self._st.deleted:
            return None
        return zf.NameToInfo.get(key)

    def get(self, key: str) -> bytes | None:
        validate_key(key)
        with self._st.lock:
            zf = self._file()
            info = self._info(zf, key)
            if info is None:
                return None
            with self._reading(key):
                return zf.read(info)

    def get_range(self, key: str, start: int, end: int | None) -> bytes | None:
        validate_key(key)
        with self._st.lock:
            zf = self._file()
            info = self._info(zf, key)
            if info is None:
                return None
            lo, hi, _ = slice(start, end).indices(info.file_size)
            if hi <= lo:
                return b""
            with self._reading(key), zf.open(info) as member:
                # Seeking a stored member is a plain seek; a compressed one
                # decompresses up to the offset, still without keeping it.
                member.seek(lo)
                return member.read(hi - lo)

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._st.lock:
            return self._info(self._file(), key) is not None

    def getsize(self, key: str) -> int | None:
        validate_key(key)
        with self._st.lock:
            info = self._info(self._file(), key)
            return None if info is None else info.file_size

    # -- writes -------------------------------------------------------------
    def set(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        validate_key(key)
        data: Any = value
        if not isinstance(value, bytes):
            try:
                data = memoryview(value).cast("B")
            except TypeError:
                data = bytes(value)
        with self._st.lock:
            zf = self._file()
            if key in zf.NameToInfo:
                # Drop the old entry from the name index so zipfile does not warn
                # about a duplicate; the stale member is removed on close.
                del zf.NameToInfo[key]
                self._st.superseded = True
            info = zipfile.ZipInfo(key, date_time=time.localtime()[:6])
            info.compress_type = self.compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
            self._st.deleted.discard(key)

    def delete(self, key: str) -> None:
        self._check_writable(key)
        validate_key(key)
        with self._st.lock:
            if key in self._file().NameToInfo:
                self._st.deleted.add(key)

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable(prefix or None)
        validate_prefix(prefix)
        with self._st.lock:
            for key in list(self.list_prefix(prefix)):
                self._st.deleted.add(key)

    # -- listing ------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, sorted; folder entries are not keys."""
        validate_prefix(prefix)
        with self._st.lock:
            names = [
                n for n in self._file().NameToInfo
                if n.startswith(prefix) and not n.endswith("/") and n not in self._st.deleted
            ]
        names.sort()
        return iter(names)

    @property
    def root(self) -> str:
        """Path of the hierarchy's root node inside the archive (``""`` or a folder).

        A store zipped from within its folder has its root metadata at the top
        of the archive; one zipped from the parent folder has a single top
        folder (e.g. ``data.zarr``) that holds it. This is that folder's name
        when there is no metadata at the top and exactly one top folder with
        metadata directly inside it, else ``""``. It is found when the file is
        first opened and kept while the store lives: nodes are created below
        it, never above (see ``ensure_parents``), so reopening finds it again.
        """
        with self._st.lock:
            self._file()
            return self._st.root or ""

    # -- closing ------------------------------------------------------------
    def close(self) -> None:
        """Write the central directory (dropping superseded/deleted members); reopen lazily."""
        with self._st.lock:
            zf, self._st.zf = self._st.zf, None
            if zf is None:
                return
            zf.close()
            if self._st.superseded or self._st.deleted:
                self._compact()
            self._st.superseded = False
            self._st.deleted = set()

    flush = close

    def _compact(self) -> None:
        tmp = os.path.join(os.path.dirname(self.path), f".{os.path.basename(self.path)}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            with zipfile.ZipFile(self.path, "r") as src, zipfile.ZipFile(tmp, "w", allowZip64=True) as dst:
                # NameToInfo keeps the last member of each name when reading.
                for name, info in src.NameToInfo.items():
                    if name in self._st.deleted:
                        continue
                    with src.open(info) as fin, dst.open(_copy_info(info), "w", force_zip64=info.file_size > 2**31) as fout:
                        while block := fin.read(1 << 22):
                            fout.write(block)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


def _find_root(names: Iterable[str]) -> str:
    """The root folder of a hierarchy zipped from its parent folder, else ``""`` (see ``ZipStore.root``)."""
    names = set(names)
    tops = set()
    for name in names:
        if name in _METADATA_NAMES:
            return ""
        tops.add(name.split("/", 1)[0] if "/" in name else name + "\0")
    if len(tops) != 1:
        return ""
    (top,) = tops
    if top.endswith("\0"):
        return ""
    if any(f"{top}/{meta}" in names for meta in _METADATA_NAMES):
        return top
    return ""


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    return new
