"""Pieces every ``zarr-engine`` subcommand shares: exit codes, storage options,
selection text, opening nodes, JSON-safe values and human-readable sizes."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from .. import errors
from ..core.array import human_bytes  # noqa: F401 - re-exported: one formatter for info() and the CLI
from ..core.overlap import overlap
from ..storage.retry import is_missing_container

# -- exit codes ---------------------------------------------------------------
#: everything went well (for ``verify``: no corrupt chunk)
EXIT_OK = 0
#: data is corrupt: ``verify`` found corrupt chunks, a read hit one, or the demo's check failed
EXIT_CORRUPT = 1
#: the command line is wrong: unknown option, bad selection text, bad value
EXIT_USAGE = 2
#: the URL names nothing: no array or group there, no such file or bucket
EXIT_NOT_FOUND = 3
#: the store failed: network, permissions, read-only, a missing fsspec package
EXIT_STORE = 4
#: the node exists but cannot be used: malformed or unsupported metadata, unknown codec
EXIT_INVALID = 5
#: a bug: an error zarr_engine did not expect (run again with --debug and report it)
EXIT_INTERNAL = 70
#: interrupted with Ctrl-C
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit codes:
  0    success (verify: no corrupt chunk)
  1    corrupt data: verify found corrupt chunks, a read hit one, the demo's check failed
  2    usage error: bad option, selection or value; DST exists (without
       --overwrite), is SRC, holds it or lies inside it
  3    not found: no array or group at the URL, no such file, bucket or benchmark suite
  4    store error: I/O or network failure, permission denied, read-only store,
       missing package for the URL's protocol
  5    unusable node: malformed or unsupported metadata, unknown codec
  70   internal error (run again with --debug and report it)
  130  interrupted"""


class UsageError(Exception):
    """A command-line value is wrong; reported as one line with exit code 2."""


#: how the library's messages tell to replace an existing node (core and multiscale)
_API_OVERWRITE_HINT = re.compile(r"(; pass overwrite=True to replace it| \(overwrite=True replaces it\))$")


def exists_error(exc: errors.ContainsNodeError) -> UsageError:
    """``exc`` (a node already exists at the destination) as a command-line error
    whose hint is the ``--overwrite`` flag rather than the library's argument."""
    message = _API_OVERWRITE_HINT.sub("", str(exc))
    return UsageError(f"{message}; pass --overwrite to replace it")


def exit_code_for(exc: BaseException) -> int:
    """The exit code a script should see for ``exc`` (see :data:`EXIT_CODES_HELP`)."""
    if isinstance(exc, (UsageError, errors.SelectionError, errors.ArgumentError)):
        return EXIT_USAGE
    if isinstance(exc, errors.ChunkCorruptError):
        return EXIT_CORRUPT
    if isinstance(exc, (errors.NodeNotFoundError, FileNotFoundError)):
        return EXIT_NOT_FOUND
    if isinstance(exc, (errors.MetadataError, errors.CodecError, errors.NodeTypeError)):
        return EXIT_INVALID
    if isinstance(exc, errors.StoreError) and is_missing_container(exc):
        return EXIT_NOT_FOUND  # S3's NoSuchBucket fails the store call; a missing bucket is still "not found"
    if isinstance(exc, (errors.StoreError, OSError, ImportError)):
        return EXIT_STORE
    if isinstance(exc, errors.ZarrEngineError):
        return EXIT_INVALID
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL


# -- storage options ----------------------------------------------------------
def parse_storage_options(items: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` as a dict. Values are JSON when they parse as JSON
    (numbers, true/false, null, objects), else strings; a dotted key nests
    (``client_kwargs.endpoint_url=http://...``)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--storage-option expects key=value, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        parts = key.split(".")
        if any(not p for p in parts):
            raise UsageError(f"--storage-option key {key!r} has an empty part")
        node = out
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise UsageError(f"--storage-option {key!r} conflicts with an earlier value of {p!r}")
            node = child
        node[parts[-1]] = value
    return out


def takes_storage_options(url: str) -> bool:
    """True when ``url`` is opened through fsspec (s3://, gs://, https://, chained URLs...),
    the only stores storage options apply to."""
    if "::" in url:
        return True
    if "://" not in url:
        return False
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme in ("memory", "file", "local", "sqlite"):
        return False
    return not (scheme == "zip" and rest.startswith("/"))


def options_or_none(opts: dict[str, Any]) -> dict[str, Any] | None:
    """None for no options: the core refuses storage options for local URLs, even empty ones."""
    return opts or None


# -- selections ---------------------------------------------------------------
_INT = r"[+-]?\d+"
_SLICE = re.compile(rf"^\s*({_INT})?\s*:\s*({_INT})?\s*(?::\s*({_INT})?\s*)?$")
_LIST = re.compile(rf"^\s*\[\s*({_INT}(?:\s*,\s*{_INT})*)?\s*,?\s*\]\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``[...]``."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"selection {text!r}: unbalanced ']'")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise UsageError(f"selection {text!r}: unbalanced '['")
    parts.append("".join(cur))
    return parts


def parse_selection(text: str | None) -> tuple[tuple[Any, ...], bool]:
    """Parse selection text such as ``"0:10, :, 5"`` or ``"..., [1, 4, 7]"``.

    Returns ``(selection, orthogonal)`` where ``orthogonal`` is True when an
    integer list is present (read with ``oindex``). Only integers, slices,
    ``...`` and integer lists are understood; nothing is ever evaluated.
    """
    if text is None or not text.strip():
        return (Ellipsis,), False
    items: list[Any] = []
    orthogonal = False
    parts = _split_top_level(text)
    if len(parts) > 1 and not parts[-1].strip():
        parts = parts[:-1]  # a trailing comma, as in Python's "0," tuple
    for raw in parts:
        part = raw.strip()
        if part == "...":
            items.append(Ellipsis)
        elif re.fullmatch(_INT, part):
            items.append(int(part))
        elif (m := _SLICE.match(part)) is not None:
            start, stop, step = (None if g is None else int(g) for g in m.groups())
            if step == 0:
                raise UsageError(f"selection {text!r}: slice step cannot be zero")
            items.append(slice(start, stop, step))
        elif (m := _LIST.match(part)) is not None:
            body = m.group(1)
            items.append(np.array([int(v) for v in body.split(",")] if body else [], dtype=np.int64))
            orthogonal = True
        else:
            raise UsageError(
                f"selection {text!r}: cannot read {part!r} (use integers, start:stop:step, ... or [i, j, k])"
            )
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise UsageError(f"selection {text!r}: at most one '...'")
    return tuple(items), orthogonal


def parse_shape(text: str | None, what: str) -> tuple[int, ...] | None:
    """``"100,200"`` as ``(100, 200)``; None stays None."""
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} must be comma-separated integers, e.g. 100,200") from None
    if not shape or any(s <= 0 for s in shape):
        raise UsageError(f"{what} {text!r} must be positive integers")
    return shape


# -- opening ------------------------------------------------------------------
def open_node(url: str, storage_options: dict[str, Any], mode: str = "r") -> Any:
    """The array or group at ``url``, read-only unless ``mode`` says otherwise.

    An absent node raises :class:`~zarr_engine.errors.NodeNotFoundError`
    (``open`` in mode "r" never creates anything).
    """
    from ..core.api import open as ze_open

    return ze_open(url, mode=mode, storage_options=options_or_none(storage_options))


def check_no_overlap(src: Any, store: Any, path: str, src_url: str, dst_url: str) -> None:
    """Refuse to write the node at ``path`` in ``store`` from the node ``src`` when
    the two are one node, or one holds the other: replacing the destination would
    delete the source before it is read, and a destination inside the source
    would be copied into itself. Called before anything is written."""
    kind = overlap(src.store, src.path, store, path)
    if kind == "same":
        raise UsageError(f"SRC {src_url} and DST {dst_url} are the same node (replacing DST would delete SRC); "
                         "choose another DST")
    if kind == "holds":
        raise UsageError(f"DST {dst_url} holds SRC {src_url}: replacing DST would delete SRC before it is read; "
                         "choose a DST that does not hold SRC")
    if kind == "inside":
        raise UsageError(f"DST {dst_url} is inside SRC {src_url}: SRC would be copied into itself; "
                         "choose a DST outside SRC")


def iter_arrays(node: Any) -> list[tuple[str, Any]]:
    """``(name, array)`` for an array, or for every array below a group."""
    from ..core.array import Array

    if isinstance(node, Array):
        return [(node.name, node)]
    return [(name, child) for name, child in node.members(max_depth=None) if isinstance(child, Array)]


# -- values -------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """``value`` made JSON-safe: numpy scalars to Python, NaN/inf as the strings Zarr uses."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, complex):
        return [jsonable(value.real), jsonable(value.imag)]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
          "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """``"1GiB"``, ``"300MB"``, ``"512k"`` as a number of bytes."""
    m = _SIZE.match(text)
    unit = (m.group(2) or "").lower() if m else None
    if m is None or unit not in _UNITS:
        raise UsageError(f"size {text!r} is not a size such as 300MiB or 1GiB")
    return int(float(m.group(1)) * _UNITS[unit])


def print_rows(rows: list[tuple[str, Any]], file: Any) -> None:
    """Print ``key : value`` rows with the keys aligned."""
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        print(f"{key:<{width}} : {value}", file=file)
