"""Whether two nodes, each given by its store and path, are one node or one holds the other.

Writing a node from another one that it is, holds or lies inside goes wrong
silently: replacing the destination deletes the source before it is read, and
a destination inside the source is written into what is being read. Writers
(the pyramid builder, the ``copy`` and ``pyramid`` commands) ask
:func:`overlap` before anything is written.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from .nodes import normalize_path

#: how two nodes overlap: one node, the destination holds the source, or lies inside it
Overlap = Literal["same", "holds", "inside"]


def place(store: Any, path: str) -> tuple[str, tuple[str, ...]]:
    """Where the node at ``path`` in ``store`` lives: the identity of the place
    that holds it, and the node's path there, in parts. Two nodes overlap when
    the identities are equal and one path starts with the other."""
    from ..storage.local import LocalStore
    from ..storage.sqlite import SQLiteStore
    from ..storage.zip import ZipStore

    parts = tuple(p for p in normalize_path(path).split("/") if p)
    if isinstance(store, LocalStore):
        # realpath: "a.zarr", "./a.zarr", file:// and symbolic links are one folder
        full = os.path.realpath(os.path.join(store.root, *parts))
        return "file", tuple(p for p in full.split(os.sep) if p)
    if isinstance(store, (ZipStore, SQLiteStore)):
        return f"{type(store).__name__}:{os.path.realpath(store.path)}", parts
    # fsspec and memory stores: the URL, and the endpoint of an S3-compatible
    # service (one bucket name on two services is two places)
    options = getattr(store, "storage_options", None) or {}
    endpoint = options.get("endpoint_url") or (options.get("client_kwargs") or {}).get("endpoint_url") or ""
    scheme, sep, rest = store.url.partition("://")
    return f"{scheme.lower()}{sep}|{endpoint}", tuple(p for p in rest.split("/") if p) + parts


def overlap(src_store: Any, src_path: str, dst_store: Any, dst_path: str) -> Overlap | None:
    """How the destination node ``dst_path`` in ``dst_store`` overlaps the source
    node ``src_path`` in ``src_store``: ``"same"`` (one node), ``"holds"`` (the
    destination holds the source), ``"inside"`` (the destination lies inside the
    source), or None when they are apart."""
    src_id, src_parts = place(src_store, src_path)
    dst_id, dst_parts = place(dst_store, dst_path)
    if src_id != dst_id:
        return None
    if src_parts == dst_parts:
        return "same"
    if src_parts[:len(dst_parts)] == dst_parts:
        return "holds"
    if dst_parts[:len(src_parts)] == src_parts:
        return "inside"
    return None
