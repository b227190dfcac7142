"""Turn a URL, a path or a store into a :class:`Store` and a path inside it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..errors import StoreError
from .base import Store

_MODES = ("r", "r+", "a", "w", "w-")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: The package providing each common fsspec protocol, for error messages.
_PACKAGES = {
    "s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "http": "aiohttp",
    "https": "aiohttp", "abfs": "adlfs", "az": "adlfs", "sftp": "paramiko", "hf": "huggingface_hub",
}


def _split_container(path: str, suffixes: tuple[str, ...]) -> tuple[str, str]:
    """Split ``path`` into (container file, path inside it).

    The container is the first prefix of ``path`` that is an existing file,
    else the first whose name ends with one of ``suffixes``, else all of it.
    """
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        head = "/".join(parts[:i])
        if head and os.path.isfile(head):
            return head, "/".join(parts[i:])
    for i in range(1, len(parts) + 1):
        if parts[i - 1].endswith(suffixes):
            return "/".join(parts[:i]), "/".join(parts[i:])
    return path, ""


def _read_only(mode: str) -> bool:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    return mode == "r"


def _no_options(url: str, storage_options: Mapping[str, Any] | None) -> None:
    if storage_options:
        raise StoreError(f"storage_options apply only to fsspec URLs, not to {url!r}")


def _zip(path: str, mode: str, url: str) -> tuple[Store, str]:
    from .zip import ZipStore

    file, inner = _split_container(path, (".zip",))
    # The mode is the node's, as for a folder: "w" replaces and "w-" refuses the
    # node opened, not the file. So the file is opened for appending (created
    # when missing) and every other node in it stays; "w" on the root node
    # replaces everything below it, which empties the archive.
    store = ZipStore(file, mode if mode in ("r", "r+") else "a")
    root, inner = store.root, inner.strip("/")
    if root and inner != root and not inner.startswith(root + "/"):
        # a hierarchy zipped from its parent folder: inner paths are below its top folder
        inner = f"{root}/{inner}" if inner else root
    return store, inner


def _sqlite(path: str, mode: str) -> tuple[Store, str]:
    from .sqlite import SQLiteStore

    file, inner = _split_container(path, _SQLITE_SUFFIXES)
    if mode == "r+" and not os.path.isfile(file):
        # SQLite would create an empty database: "r+" opens only what exists
        raise StoreError(f"cannot open sqlite://{file.replace(os.sep, '/')} with mode 'r+': no such file")
    return SQLiteStore(file, read_only=_read_only(mode)), inner.strip("/")


def _is_sqlite(path: str) -> bool:
    from .zip import SQLITE_MAGIC  # what the zip store also looks for, to name such a file

    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _fsspec(url: str, mode: str, storage_options: Mapping[str, Any] | None) -> Store:
    import fsspec

    # Check every protocol of a chained URL up front, so a missing package is
    # reported by name rather than as a late ImportError deep in fsspec.
    for link in url.split("::"):
        protocol = link.split("://", 1)[0] if "://" in link else link
        if protocol == "" or "/" in protocol:
            continue
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            package = _PACKAGES.get(protocol, "the package providing it")
            raise StoreError(
                f"cannot open {url!r}: protocol {protocol!r} needs {package} (pip install {package}): {exc}"
            ) from exc
        except ValueError as exc:
            raise StoreError(f"cannot open {url!r}: unknown protocol {protocol!r}") from exc
    from .fsspec_store import FsspecStore

    return FsspecStore(url, storage_options=dict(storage_options or {}), read_only=_read_only(mode))


def resolve_store(
    store_like: Store | str | os.PathLike[str],
    *,
    mode: str = "r",
    storage_options: Mapping[str, Any] | None = None,
) -> tuple[Store, str]:
    """Return ``(store, path inside it)`` for a store, a local path or a URL.

    * a :class:`Store` is returned as is, with path ``""``;
    * ``"memory://name/inner"``: the process-wide :class:`MemoryStore` ``name``;
    * ``"file:///abs"``, ``"/abs"``, ``"rel/path"``: :class:`LocalStore`
      (a local path to an existing SQLite database gives a :class:`SQLiteStore`;
      one ending in ``.zip``, or to any other existing file, a :class:`ZipStore`);
    * ``"zip:///abs/x.zip[/inner]"``: :class:`ZipStore`; the archive's root
      node is found whether it was zipped from within its folder or from the
      parent folder, and an inner path is taken below it (``data.zarr/inner``
      may be spelled out too);
    * ``"sqlite:///abs/x.db[/inner]"``: :class:`SQLiteStore`;
    * any other fsspec URL (``s3://``, ``gs://``, ``https://``, ``zip::s3://``...):
      :class:`FsspecStore`.

    ``mode`` follows zarr-python: ``"r"`` read-only; ``"r+"``, ``"a"``,
    ``"w"``, ``"w-"`` writable. Deleting or refusing an existing node is the
    caller's business: the mode is about the node, so a zip or SQLite file is
    never truncated here, and ``"w"`` on a node inside it keeps the others.
    ``"r+"`` needs an existing zip or SQLite file, and a file that is not a
    zip archive is refused without being changed.
    """
    read_only = _read_only(mode)
    if isinstance(store_like, Store):
        _no_options(repr(store_like), storage_options)
        return store_like, ""
    if isinstance(store_like, os.PathLike):
        store_like = os.fspath(store_like)
    if not isinstance(store_like, str):
        raise TypeError(f"expected a Store, a path or a URL, got {type(store_like).__name__}")
    url = store_like
    if "::" not in url and "://" in url:
        scheme, rest = url.split("://", 1)
        scheme = scheme.lower()
        if scheme == "memory":
            from .memory import MemoryStore

            _no_options(url, storage_options)
            name, _, inner = rest.strip("/").partition("/")
            if not name:
                raise StoreError(f"memory URL {url!r} needs a name: memory://<name>")
            return MemoryStore(name, read_only=read_only), inner
        if scheme in ("file", "local"):
            _no_options(url, storage_options)
            return _local(rest, mode, read_only, url)
        if scheme == "zip" and rest.startswith("/"):
            _no_options(url, storage_options)
            return _zip(rest, mode, url)
        if scheme == "sqlite":
            _no_options(url, storage_options)
            if not rest.startswith("/"):
                rest = os.path.abspath(rest)
            return _sqlite(rest, mode)
        return _fsspec(url, mode, storage_options), ""
    if "::" in url:
        return _fsspec(url, mode, storage_options), ""
    _no_options(url, storage_options)
    return _local(url, mode, read_only, url)


def _local(path: str, mode: str, read_only: bool, url: str) -> tuple[Store, str]:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        # the path, or a folder above it, may be a file: a node inside a zip or
        # SQLite file (``data.zip/t2m``); no folder can exist below a file
        file, _ = _split_container(path, ())
        if file != path or os.path.isfile(path):
            return _sqlite(path, mode) if _is_sqlite(file) else _zip(path, mode, url)
        if path.endswith(".zip"):
            return _zip(path, mode, url)
    from .local import LocalStore

    # A missing folder is not an error here: the caller reports the missing
    # node by its path (and a writable store creates the folder on first set).
    return LocalStore(path, read_only=read_only), ""


def store_from_url(
    url: str, storage_options: Mapping[str, Any] | None = None, read_only: bool = False
) -> Store:
    """Reopen the store whose :attr:`Store.url` is ``url`` (used when unpickling)."""
    store, inner = resolve_store(url, mode="r" if read_only else "a", storage_options=storage_options or None)
    return store
