"""Consolidated metadata: every node's metadata below a group, in one document.

v2 keeps it in a separate ``.zmetadata`` at the group:
``{"metadata": {".zgroup": ..., "a/.zarray": ..., "a/.zattrs": ...},
"zarr_consolidated_format": 1}``. v3 keeps it inline in the group's
zarr.json (parsed and written by :mod:`.v3`; :func:`consolidate` works for
both). Node paths are relative to the consolidating group, ``""`` being the
group itself.
"""

from __future__ import annotations

from typing import Any

from ..errors import MetadataError
from ._util import as_dict, check_relative_path, dump_json, fail, join_path, load_json, require, short
from .metadata import ArrayMetadata, GroupMetadata, NodeMetadata
from .v2 import array_to_documents, group_to_documents, parse_v2_array, parse_v2_group

ZMETADATA_KEY = ".zmetadata"
_NODE_KEYS = (".zarray", ".zgroup", ".zattrs")


def parse_zmetadata(doc: Any, path: str = "") -> dict[str, NodeMetadata]:
    """Parse a v2 ``.zmetadata`` into ``{relative node path: metadata}`` (``""`` = the group itself).

    Keys other than ``.zarray``/``.zgroup``/``.zattrs`` are ignored, and so is
    a ``.zattrs`` whose node has neither of the other two.
    """
    key = ZMETADATA_KEY
    top = load_json(doc, path, key)
    fmt = require(top, "zarr_consolidated_format", path, key)
    if fmt != 1 or isinstance(fmt, bool):
        fail(path, key, f"zarr_consolidated_format must be 1, got {short(fmt)}")
    entries = as_dict(require(top, "metadata", path, key), path, key, "metadata")
    per_node: dict[str, dict[str, Any]] = {}
    for full, value in entries.items():
        rel, _, name = full.rpartition("/")
        if name not in _NODE_KEYS:
            continue
        if rel:
            check_relative_path(rel, path, key)
        per_node.setdefault(rel, {})[name] = value
    out: dict[str, NodeMetadata] = {}
    for rel, docs in per_node.items():
        node_path = join_path(path, rel)
        if ".zarray" in docs and ".zgroup" in docs:
            fail(node_path, key, "both .zarray and .zgroup are present")
        if ".zarray" in docs:
            out[rel] = parse_v2_array(_obj(docs[".zarray"], node_path, ".zarray"), _attrs(docs), node_path)
        elif ".zgroup" in docs:
            out[rel] = parse_v2_group(_obj(docs[".zgroup"], node_path, ".zgroup"), _attrs(docs), node_path)
    return out


def _obj(value: Any, path: str, name: str) -> dict[str, Any]:
    return as_dict(value, path, f"{ZMETADATA_KEY} entry {name}", "document")


def _attrs(docs: dict[str, Any]) -> dict[str, Any] | None:
    return docs.get(".zattrs")


def build_zmetadata(nodes: dict[str, NodeMetadata]) -> dict[str, Any]:
    """The v2 ``.zmetadata`` document for ``{relative path: metadata}`` in zarr-python's layout.

    As zarr-python 3.1 does: the group's own ``.zgroup`` then ``.zattrs``
    first, then for each node in path order its ``.zattrs`` (written even
    when empty) then its ``.zarray`` or ``.zgroup``.
    """
    metadata: dict[str, Any] = {}
    root = nodes.get("")
    if root is not None:
        docs = _v2_docs(root, "")
        metadata[".zgroup" if isinstance(root, GroupMetadata) else ".zarray"] = docs[0]
        metadata[".zattrs"] = docs[1]
    for rel in sorted(k for k in nodes if k):
        node_doc, attrs = _v2_docs(nodes[rel], rel)
        metadata[f"{rel}/.zattrs"] = attrs
        metadata[f"{rel}/.zarray" if isinstance(nodes[rel], ArrayMetadata) else f"{rel}/.zgroup"] = node_doc
    return {"metadata": metadata, "zarr_consolidated_format": 1}


def _v2_docs(node: NodeMetadata, rel: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if node.zarr_format != 2:
        raise MetadataError(f"v2 consolidated metadata cannot hold the v3 node {rel or '/'!r}")
    if isinstance(node, ArrayMetadata):
        docs = array_to_documents(node)
        return docs[".zarray"], docs[".zattrs"]
    docs = group_to_documents(node)
    return docs[".zgroup"], docs[".zattrs"]


def zmetadata_bytes(nodes: dict[str, NodeMetadata], path: str | None = None) -> bytes:
    """``.zmetadata`` as bytes; zarr-python writes this one document without indentation.
    ``path``, the consolidating group's path when known, is named in errors."""
    return dump_json(build_zmetadata(nodes), indent=None, path=path, key=ZMETADATA_KEY)


def consolidate(group: GroupMetadata, nodes: dict[str, NodeMetadata]) -> GroupMetadata:
    """``group`` with its consolidated metadata set to ``nodes`` (sorted by path, the group itself dropped)."""
    below = {rel: nodes[rel] for rel in sorted(nodes) if rel}
    for rel, node in below.items():
        check_relative_path(rel, "", "consolidated metadata")
        if node.zarr_format != group.zarr_format:
            raise MetadataError(
                f"cannot consolidate the v{node.zarr_format} node {rel!r} into a v{group.zarr_format} group"
            )
    return group.replace(consolidated=below)


def without_node(nodes: dict[str, NodeMetadata], rel: str) -> dict[str, NodeMetadata] | None:
    """Consolidated metadata ``nodes`` without the node ``rel`` and every node below it.

    Groups listed in ``nodes`` may carry consolidated metadata of their own
    (zarr-python writes it inline for v3 subgroups); the node is taken out of
    those too. None when nothing named the node: there is nothing to rewrite.
    """
    below = rel + "/"
    out: dict[str, NodeMetadata] = {}
    changed = False
    for key, node in nodes.items():
        if key == rel or key.startswith(below):
            changed = True
            continue
        if isinstance(node, GroupMetadata) and node.consolidated and rel.startswith(key + "/"):
            inner = without_node(node.consolidated, rel[len(key) + 1 :])
            if inner is not None:
                node = node.replace(consolidated=inner)
                changed = True
        out[key] = node
    return out if changed else None


def group_from_zmetadata(doc: Any, path: str = "") -> GroupMetadata:
    """The v2 group at ``path`` with ``consolidated`` filled from its ``.zmetadata``."""
    nodes = parse_zmetadata(doc, path)
    root = nodes.get("")
    if not isinstance(root, GroupMetadata):
        fail(path, ZMETADATA_KEY, "the consolidated metadata has no .zgroup for the group itself")
    return consolidate(root, nodes)
