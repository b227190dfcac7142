"""Small validation and JSON helpers shared by the format modules.

Every helper that can fail raises :class:`~zarr_engine.errors.MetadataError`
whose message names the node path, the metadata key (``zarr.json``,
``.zarray``...) and the field, so that a user reading it knows which file to
look at and what is wrong in it.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any, NoReturn

import numpy as np

from ..errors import MetadataError, UnsupportedError

#: numpy cannot have more dimensions than this; a larger ndim is hostile input
MAX_NDIM = 64
#: every extent must fit in a signed 64-bit integer (numpy's index type)
MAX_EXTENT = 2**63 - 1
#: nesting of JSON values we are willing to walk recursively
MAX_DEPTH = 200


def where(path: str, key: str | None = None) -> str:
    """Human-readable location of a metadata document: node path and key."""
    node = "/" + path.strip("/") if path.strip("/") else "/"
    return f"node {node!r}" + (f" ({key})" if key else "")


def fail(path: str, key: str | None, message: str, cls: type[MetadataError] = MetadataError) -> NoReturn:
    raise cls(f"invalid metadata at {where(path, key)}: {message}")


def unsupported(path: str, key: str | None, message: str) -> NoReturn:
    raise UnsupportedError(f"unsupported metadata at {where(path, key)}: {message}")


def is_int(value: Any) -> bool:
    """True for JSON integers (Python's bool is an int subclass but not a JSON number)."""
    return isinstance(value, int) and not isinstance(value, bool)


def short(value: Any, limit: int = 80) -> str:
    """repr of a value, cut so that hostile input cannot flood an error message."""
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - repr of JSON values does not fail
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require(doc: dict[str, Any], field: str, path: str, key: str) -> Any:
    if field not in doc:
        fail(path, key, f"required field {field!r} is missing")
    return doc[field]


def as_dict(value: Any, path: str, key: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, key, f"field {field!r} must be a JSON object, got {short(value)}")
    return value


def as_str(value: Any, path: str, key: str, field: str) -> str:
    if not isinstance(value, str):
        fail(path, key, f"field {field!r} must be a string, got {short(value)}")
    return value


def as_shape(value: Any, path: str, key: str, field: str, *, positive: bool = False) -> tuple[int, ...]:
    """A JSON list of non-negative (or positive) integers, bounded in length and size."""
    lowest = 1 if positive else 0
    if type(value) is list and len(value) <= MAX_NDIM and all(
        type(v) is int and lowest <= v <= MAX_EXTENT for v in value
    ):
        return tuple(value)  # the common case, checked in one pass
    if not isinstance(value, (list, tuple)):
        fail(path, key, f"field {field!r} must be a list of integers, got {short(value)}")
    if len(value) > MAX_NDIM:
        fail(path, key, f"field {field!r} has {len(value)} dimensions, more than {MAX_NDIM}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # some writers emit 10.0; the value is unambiguous
        if not is_int(v) and not isinstance(v, np.integer):
            fail(path, key, f"field {field!r}[{i}] must be an integer, got {short(v)}")
        v = int(v)
        if v < lowest:
            what = "positive" if positive else "non-negative"
            fail(path, key, f"field {field!r}[{i}] must be {what}, got {v}")
        if v > MAX_EXTENT:
            fail(path, key, f"field {field!r}[{i}] = {v} is larger than 2**63-1")
        out.append(v)
    return tuple(out)


def join_path(parent: str, child: str) -> str:
    parent = parent.strip("/")
    child = child.strip("/")
    return f"{parent}/{child}" if parent and child else parent or child


def check_relative_path(rel: Any, path: str, key: str) -> str:
    """A path of a node below a group, as consolidated metadata spells it."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or rel.endswith("/"):
        fail(path, key, f"consolidated metadata names an invalid node path {short(rel)}")
    for part in rel.split("/"):
        if part in ("", ".", "..") or "\\" in part or "\x00" in part:
            fail(path, key, f"consolidated metadata names an invalid node path {short(rel)}")
    return rel


# -- JSON ---------------------------------------------------------------------


def load_json(raw: Any, path: str, key: str) -> dict[str, Any]:
    """Decode one metadata document (bytes, str or an already-parsed dict) into a dict."""
    if isinstance(raw, dict):
        doc = raw
    else:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            try:
                raw = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                fail(path, key, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        if not isinstance(raw, str):
            fail(path, key, f"expected JSON bytes, got {type(raw).__name__}")
        try:
            # bare NaN / Infinity tokens are accepted: zarr-python writes them in attributes
            doc = json.loads(raw)
        except RecursionError:
            fail(path, key, "JSON nested too deeply")
        except ValueError as exc:
            fail(path, key, f"malformed JSON: {exc}")
    if not isinstance(doc, dict):
        fail(path, key, f"the document must be a JSON object, got {type(doc).__name__}")
    return doc


def to_plain_json(value: Any, path: str | None = None, key: str | None = None, *, strict: bool = False) -> Any:
    """A deep copy of ``value`` made of JSON types only.

    Numpy scalars and arrays become Python numbers and lists; tuples become
    lists. Non-finite floats stay floats, which :func:`dump_json` writes as
    the bare tokens ``NaN``, ``Infinity`` and ``-Infinity``, as zarr-python
    does in attributes, so that they read back as floats there and here;
    with ``strict`` they become the strings "NaN", "Infinity", "-Infinity"
    instead (strict JSON, for readers that refuse the tokens). Fill values
    are not affected: they are encoded beforehand, with the spec's strings.

    ``path`` and ``key`` name the node and the document ``value`` is, in the
    message of a value that is not JSON or is nested more than
    :data:`MAX_DEPTH` levels. User attributes marked by :func:`dump_json` are
    named by node and attribute, and their nesting counts from the attributes
    themselves, as when they are read: what a document holds as attributes
    does not change what may be nested in them.
    """
    return _Plain(path, key, strict).convert(value, 0, None, None)


class _Attributes(dict):
    """User attributes inside a document given to :func:`dump_json`; ``node`` is the path,
    relative to the document's node, of the node they belong to ("" for itself)."""

    __slots__ = ("node",)

    def __init__(self, attrs: dict[str, Any], node: str) -> None:
        super().__init__(attrs)
        self.node = node


def _mark_attributes(doc: Any, key: str | None, rel: str = "") -> Any:
    """``doc``, the metadata document ``key``, with the user attributes it holds (its
    own, and those of every node of its consolidated metadata) marked as
    :class:`_Attributes`; the containers on the way are copied, ``doc`` is left as is."""
    if not isinstance(doc, dict):
        return doc
    if key in (".zattrs", "attributes.json"):  # N5 keeps its own fields beside the attributes
        return _Attributes(doc, rel)
    if key == "zarr.json":
        out = dict(doc)
        if isinstance(out.get("attributes"), dict):
            out["attributes"] = _Attributes(out["attributes"], rel)
        cm = out.get("consolidated_metadata")
        if isinstance(cm, dict) and isinstance(cm.get("metadata"), dict):
            entries = {k: _mark_attributes(v, key, join_path(rel, k)) for k, v in cm["metadata"].items()}
            out["consolidated_metadata"] = {**cm, "metadata": entries}
        return out
    if key == ".zmetadata" and isinstance(doc.get("metadata"), dict):
        entries = {}
        for name, value in doc["metadata"].items():
            node, _, base = name.rpartition("/")
            marked = base == ".zattrs" and isinstance(value, dict)
            entries[name] = _Attributes(value, join_path(rel, node)) if marked else value
        return {**doc, "metadata": entries}
    return doc


#: the members :meth:`_Plain.convert` takes as they are (floats need it: NaN under ``strict``)
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


class _Plain:
    """The walk of :func:`to_plain_json`, which knows what it names in its messages."""

    __slots__ = ("path", "key", "strict")

    def __init__(self, path: str | None, key: str | None, strict: bool) -> None:
        self.path = path
        self.key = key
        self.strict = strict

    def fail(self, problem: str, node: str | None, attr: Any) -> NoReturn:
        if self.path is not None:
            loc = f" at {where(self.path, self.key)}"
        else:
            loc = f" ({self.key})" if self.key else ""
        if node is not None:  # inside user attributes
            who = f"attribute {short(attr)}" if attr is not None else "the attributes"
            if node:
                who += f" of {where(join_path(self.path or '', node))}"
            problem = f"{who}: {problem}"
        raise MetadataError(f"cannot serialise metadata{loc}: {problem}")

    def convert(self, value: Any, depth: int, node: str | None, attr: Any) -> Any:
        """``value`` as plain JSON; ``node`` and ``attr`` say whose attribute it is part of (None: no attribute)."""
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels", node, attr)
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if self.strict and not math.isfinite(value):
                return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
            return float(value)
        if isinstance(value, _Attributes) and node is None:
            # the attributes' nesting counts from here, as it is checked when they are read
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    self.fail(f"attribute name {short(k)} is not a string", value.node, None)
                out[k] = self.convert(v, 1, value.node, k)
            return out
        # members that are plain JSON scalars are taken as they are, without a call each
        # (below the limit only: one past it must still be refused)
        plain = _PLAIN_SCALARS if depth < MAX_DEPTH else ()
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    self.fail(f"object key {short(k)} is not a string", node, attr)
                out[k] = v if type(v) in plain else self.convert(v, depth + 1, node, attr)
            return out
        if isinstance(value, (list, tuple)):
            return [v if type(v) in plain else self.convert(v, depth + 1, node, attr) for v in value]
        if isinstance(value, np.generic):
            return self.convert(value.item(), depth + 1, node, attr)
        if isinstance(value, np.ndarray):
            return self.convert(value.tolist(), depth + 1, node, attr)
        self.fail(f"{type(value).__name__} {short(value)} is not JSON", node, attr)


def dump_json(
    doc: Any, indent: int | None = 2, *, strict: bool = False, path: str | None = None, key: str | None = None
) -> bytes:
    """JSON bytes as zarr-python writes them: indent 2, ASCII-escaped, no trailing newline.

    A non-finite float (only attributes hold one: fill values are encoded as
    strings before) is written as a bare ``NaN``/``Infinity``/``-Infinity``
    token, as zarr-python writes it; strict JSON has no such tokens, but
    zarr-python, Python's json and this package read them back as floats.
    With ``strict`` it is written as a string instead (see :func:`to_plain_json`).

    ``path`` is the node the document belongs to and ``key`` the document
    (``zarr.json``, ``.zattrs``, ``.zmetadata``, ``attributes.json``...): a
    value that cannot be written is reported with them, and the user attributes
    the document holds, consolidated ones included, are found by ``key`` and
    reported by node and attribute name.
    """
    plain = to_plain_json(_mark_attributes(doc, key), path, key, strict=strict)
    return json.dumps(plain, indent=indent, ensure_ascii=True, allow_nan=not strict).encode("ascii")


def check_depth(value: Any, path: str, key: str, field: str, depth: int = 0) -> None:
    """Refuse JSON values nested deeper than :data:`MAX_DEPTH` (they would break recursion later)."""
    if depth > MAX_DEPTH:
        fail(path, key, f"field {field!r} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for v in value.values():
            check_depth(v, path, key, field, depth + 1)
    elif isinstance(value, list):
        for v in value:
            check_depth(v, path, key, field, depth + 1)


_JSON_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_JSON_SCALARS)


def checked_copy(value: Any, path: str, key: str, field: str, depth: int = 0) -> Any:
    """A copy of a JSON value, refusing one nested deeper than :data:`MAX_DEPTH`.

    One pass does what :func:`check_depth` followed by ``copy.deepcopy`` did in
    two; containers are rebuilt, JSON scalars shared (they are immutable), and
    anything else (a numpy value in attributes given by a caller) deep-copied.
    """
    if depth > MAX_DEPTH:
        fail(path, key, f"field {field!r} is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if depth < MAX_DEPTH and (kind is dict or kind is list):
        # scalars, the usual values, are taken without a call per item
        scalar = _SCALAR_TYPES
        if kind is dict:
            return {k: v if type(v) in scalar else checked_copy(v, path, key, field, depth + 1)
                    for k, v in value.items()}
        return [v if type(v) in scalar else checked_copy(v, path, key, field, depth + 1) for v in value]
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, dict):
        return {k: checked_copy(v, path, key, field, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [checked_copy(v, path, key, field, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(checked_copy(v, path, key, field, depth + 1) for v in value)
    return copy.deepcopy(value)
