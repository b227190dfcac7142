"""Reading and writing node metadata, and what arrays and groups share (paths, attributes)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from ..errors import ContainsNodeError, InvalidKeyError, NodeNotFoundError, NodeTypeError
from ..format import consolidated as _consolidated
from ..format._util import load_json
from ..format.metadata import ArrayMetadata, GroupMetadata, NodeMetadata
from ..format.serialize import METADATA_KEYS, parse_node, to_documents
from ..storage.base import Store, validate_key

if TYPE_CHECKING:  # pragma: no cover
    pass

ZMETADATA = ".zmetadata"


def normalize_path(path: str | None) -> str:
    """``"a/b"`` for ``"/a/b/"`` and the like; ``""`` for the root. Refuses escaping paths."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidKeyError(f"node path must be a string, got {type(path).__name__}: {path!r}")
    p = path.strip("/")
    if p:
        validate_key(p)
    return p


def join_path(parent: str, name: str) -> str:
    name = normalize_path(name)
    return f"{parent}/{name}" if parent and name else (parent or name)


def prefix_of(path: str) -> str:
    return f"{path}/" if path else ""


def display_path(path: str) -> str:
    return "/" + path


def read_metadata(store: Store, path: str, *, zarr_format: int | None = None) -> NodeMetadata:
    """Metadata of the node at ``path``, v2 consolidated metadata included.

    A v3 node costs one request (its ``zarr.json``, consolidated metadata
    inline); only when there is none are the other formats' documents fetched,
    in one more batch. On object stores every request is a round trip, and v3
    is what new data is written as.
    """
    prefix = prefix_of(path)
    docs: dict[str, Any] = {}
    if zarr_format in (None, 3):
        v3 = store.get(prefix + "zarr.json")
        if v3 is not None:
            docs["zarr.json"] = v3
    if not docs and zarr_format != 3:
        keys = [k for k in METADATA_KEYS if k != "zarr.json"] + [ZMETADATA]
        got = store.get_many([prefix + k for k in keys])
        docs = {k: got[prefix + k] for k in keys if prefix + k in got}
    zmeta = docs.pop(ZMETADATA, None)
    try:
        meta = parse_node(docs, display_path(path), zarr_format)
    except NodeNotFoundError:
        # N5 needs no attributes.json for a group: any folder is one (tensorstore writes none)
        if zarr_format != "n5" or not any(store.list_dir(prefix)):
            raise
        meta = GroupMetadata(zarr_format="n5")
    if zmeta is not None and isinstance(meta, GroupMetadata) and meta.zarr_format == 2:
        nodes = _consolidated.parse_zmetadata(zmeta, display_path(path))
        meta = meta.replace(consolidated={k: v for k, v in nodes.items() if k})
    return meta


#: folders looked into, at most, when telling whether a folder without metadata is an N5 container
N5_PROBE_FOLDERS = 16


def bare_n5_group(store: Store, path: str) -> GroupMetadata | None:
    """An N5 group for a folder that has no metadata of its own but holds N5
    datasets: tensorstore (and other N5 writers) store no root ``attributes.json``.

    Looks for an N5 dataset's ``attributes.json`` (or a group's with the ``n5``
    version key) in the folders up to two levels below, visiting at most
    :data:`N5_PROBE_FOLDERS` folders; None when there is none (an empty folder,
    or one with other content), so only the open calls' not-found path pays it.
    """
    from ..errors import MetadataError
    from ..format.n5 import ATTRIBUTES_KEY, is_n5_array_document

    prefix = prefix_of(path)
    level = [prefix]
    visited = 0
    for _ in range(2):
        below: list[str] = []
        for folder in level:
            if visited >= N5_PROBE_FOLDERS:
                break
            visited += 1
            below += [folder + d + "/" for d in store.list_dir(folder)[1]]
        below = below[:N5_PROBE_FOLDERS]
        if not below:
            return None
        docs = store.get_many([f + ATTRIBUTES_KEY for f in below])
        for key, raw in docs.items():
            try:
                doc = load_json(raw, display_path(path), key)
            except MetadataError:  # not an N5 document: this folder says nothing
                continue
            if is_n5_array_document(doc) or "n5" in doc:
                return GroupMetadata(zarr_format="n5")
        level = below
    return None


def try_read_metadata(store: Store, path: str, *, zarr_format: int | None = None) -> NodeMetadata | None:
    try:
        return read_metadata(store, path, zarr_format=zarr_format)
    except NodeNotFoundError:
        return None


def write_metadata(store: Store, path: str, meta: NodeMetadata) -> None:
    """Write the node's metadata documents (a v2 node's ``.zattrs`` among them, ``{}``
    when it has no attributes, so nothing is left to delete)."""
    prefix = prefix_of(path)
    store.set_many([(prefix + k, v) for k, v in to_documents(meta, path).items()])


def _hierarchy_root(store: Store) -> str:
    """The folder inside ``store`` that holds its root node: ``""`` but for a zip
    zipped from the parent folder of a hierarchy (``data.zarr/...``)."""
    from ..storage.zip import ZipStore

    return store.root if isinstance(store, ZipStore) else ""


def ensure_parents(store: Store, path: str, zarr_format: int) -> None:
    """Create the missing groups above ``path``; refuse when an ancestor is an array.

    Nothing is created above the store's hierarchy root (a zip zipped from the
    parent folder keeps everything under its one top folder, so that it is
    still found as the root when the zip is opened again).
    """
    parts = path.split("/") if path else []
    ancestors = ["/".join(parts[:i]) for i in range(len(parts))]
    root = _hierarchy_root(store) if ancestors else ""
    if root:
        ancestors = [a for a in ancestors if a != "" and not root.startswith(a + "/")]
    if not ancestors:
        return
    keys = [prefix_of(a) + k for a in ancestors for k in METADATA_KEYS]
    present = store.get_many(keys)
    for a in ancestors:
        p = prefix_of(a)
        if any(p + k in present for k in ("zarr.json", ".zarray", ".zgroup", "attributes.json")):
            docs = {k: present[p + k] for k in METADATA_KEYS if p + k in present}
            if "zarr.json" in docs:
                # only the ancestor's own kind matters here: a group's consolidated metadata
                # is left unparsed (10,000 nodes of it cost 0.4 s for every array created below)
                doc = load_json(docs["zarr.json"], display_path(a), "zarr.json")
                docs["zarr.json"] = {k: v for k, v in doc.items() if k != "consolidated_metadata"}
            meta = parse_node(docs, display_path(a), None)
            if isinstance(meta, ArrayMetadata):
                raise NodeTypeError(
                    f"cannot create a node at {display_path(path)}: {display_path(a)} is an array, not a group"
                )
            continue
        if zarr_format == "n5":
            from ..format.n5 import new_n5_group

            write_metadata(store, a, new_n5_group(a))
            continue
        write_metadata(store, a, GroupMetadata(zarr_format=zarr_format))  # type: ignore[arg-type]


#: how a refusal to replace an existing node ends (the open functions say which mode replaces it instead)
OVERWRITE_HINT = "; pass overwrite=True to replace it"


def prepare_new_node(store: Store, path: str, *, overwrite: bool) -> None:
    """Make room for a new node at ``path``: refuse if one exists, or clear it when overwriting."""
    existing = try_read_metadata(store, path)
    if existing is None:
        if overwrite:
            # stray chunk keys of an earlier node must not leak into the new one
            store.delete_prefix(prefix_of(path))
        return
    if not overwrite:
        raise ContainsNodeError(
            f"{'an' if existing.node_type == 'array' else 'a'} {existing.node_type} already exists at "
            f"{display_path(path)} in {store!r}{OVERWRITE_HINT}"
        )
    store.delete_prefix(prefix_of(path))


class Node:
    """What arrays and groups share: where they live and their attributes."""

    _store: Store
    _path: str
    _meta: Any

    @property
    def store(self) -> Store:
        return self._store

    @property
    def path(self) -> str:
        return self._path

    @property
    def name(self) -> str:
        return display_path(self._path)

    @property
    def basename(self) -> str:
        return self._path.rsplit("/", 1)[-1]

    @property
    def zarr_format(self) -> Any:
        return self._meta.zarr_format

    @property
    def attrs(self) -> "Attributes":
        return Attributes(self)

    @property
    def read_only(self) -> bool:
        return self._store.read_only


class Attributes(MutableMapping[str, Any]):
    """A node's user attributes; every change is written to the store at once."""

    def __init__(self, node: Any):
        self._node = node

    def _data(self) -> dict[str, Any]:
        return self._node.metadata.attributes

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def __setitem__(self, key: str, value: Any) -> None:
        new = dict(self._data())
        new[key] = value
        self._node._set_attributes(new)

    def __delitem__(self, key: str) -> None:
        new = dict(self._data())
        del new[key]
        self._node._set_attributes(new)

    def update(self, *args: Any, **kwargs: Any) -> None:  # one write for many keys
        new = dict(self._data())
        new.update(*args, **kwargs)
        self._node._set_attributes(new)

    def put(self, d: dict[str, Any]) -> None:
        """Replace every attribute with ``d``."""
        self._node._set_attributes(dict(d))

    def asdict(self) -> dict[str, Any]:
        return dict(self._data())

    def refresh(self) -> None:
        self._node._refresh()

    def __repr__(self) -> str:
        return repr(self._data())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attributes):
            return self._data() == other._data()
        if isinstance(other, dict):
            return self._data() == other
        return NotImplemented
