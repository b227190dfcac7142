"""Keys and node paths that could escape a store's root are refused everywhere.

Every store (local, memory, zip, SQLite, fsspec on S3 and on a local folder)
refuses them in every operation, the public API refuses them as node paths,
and a zip archive whose member names escape is refused when opened. Nothing
is ever written outside the root.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest

import zarr_engine as ze
from zarr_engine.errors import InvalidKeyError, StoreError, ZarrEngineError
from zarr_engine.storage import LocalStore, MemoryStore, Store, ZipStore
from zarr_engine.storage.fsspec_store import FsspecStore
from zarr_engine.storage.sqlite import SQLiteStore

BAD_KEYS = [
    "../escape", "a/../../escape", "..", ".", "a/./b", "/etc/passwd", "//server/share", "a//b", "a/",
    "a\\..\\b", "..\\escape", "C:/Windows/x", "c:escape", "D:\\x", "a\x00b", "\x00", "",
]
OPS: list[tuple[str, Callable[[Store, str], Any]]] = [
    ("get", lambda s, k: s.get(k)),
    ("set", lambda s, k: s.set(k, b"pwned")),
    ("delete", lambda s, k: s.delete(k)),
    ("exists", lambda s, k: s.exists(k)),
    ("get_range", lambda s, k: s.get_range(k, 0, 2)),
    ("getsize", lambda s, k: s.getsize(k)),
    ("get_many", lambda s, k: s.get_many(["ok", k])),
    ("set_many", lambda s, k: s.set_many([("ok2", b"x"), (k, b"pwned")])),
]


def _stores(tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> Store:
    root = tmp_path / "inside" / "root"
    if kind == "local":
        return LocalStore(root)
    if kind == "memory":
        return MemoryStore()
    if kind == "zip":
        root.parent.mkdir(parents=True, exist_ok=True)
        return ZipStore(tmp_path / "inside" / "s.zip", "w")
    if kind == "sqlite":
        root.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(tmp_path / "inside" / "s.db")
    if kind == "fsspec-file":
        root.mkdir(parents=True, exist_ok=True)
        return FsspecStore("file://" + str(root))
    if kind == "s3":
        url = request.getfixturevalue("s3_bucket_url")
        return FsspecStore(url, request.getfixturevalue("s3_store_options"))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["local", "memory", "zip", "sqlite", "fsspec-file", "s3"])
def test_every_store_refuses_escaping_keys(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = _stores(tmp_path, kind, request)
    store.set("ok", b"1")  # a legitimate key, so listings below have something to list
    before = {p for p in tmp_path.rglob("*")}
    for key in BAD_KEYS:
        for name, op in OPS:
            with pytest.raises(InvalidKeyError):
                op(store, key)
        for prefix_op in (lambda s, k: list(s.list_prefix(k + "/")), lambda s, k: s.delete_prefix(k + "/")):
            if key in ("",):
                continue
            with pytest.raises(InvalidKeyError):
                prefix_op(store, key)
    # Nothing new appeared outside the store's own files, and no escaping key was stored.
    created = {p for p in tmp_path.rglob("*")} - before
    assert all("inside" in p.parts for p in created), created
    assert not any(p.name in ("escape", "pwned", "passwd") for p in tmp_path.parent.rglob("*") if p.is_file()
                   and tmp_path in p.parents)
    assert [k for k in store.list() if "pwned" in k or "escape" in k] == []
    store.close()


BAD_PATHS = ["../x", "a/../../x", "..", "a/./b", "a\\b", "C:/x", "c:x", "a\x00b", "a//b"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_public_api_refuses_escaping_node_paths(path: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    calls: list[Callable[[], Any]] = [
        lambda: ze.open_group(str(root), path=path, mode="a"),
        lambda: ze.create_group(str(root), path=path),
        lambda: ze.create_array(str(root), path=path, shape=(2,), dtype="i1"),
        lambda: ze.open_array(str(root), path=path, mode="a", shape=(2,), dtype="i1"),
        lambda: ze.open(str(root), path=path, mode="a"),
    ]
    for call in calls:
        with pytest.raises(ZarrEngineError) as info:
            call()
        assert isinstance(info.value, (InvalidKeyError, StoreError)), type(info.value)
    group = ze.open_group(str(root), mode="a")
    with pytest.raises(InvalidKeyError):
        group.create_group(path)
    with pytest.raises(InvalidKeyError):
        group.create_array(path, shape=(2,), dtype="i1")
    # Nothing was written anywhere but the root folder.
    assert {p.name for p in tmp_path.iterdir()} == {"root"}
    assert all(p.name in ("zarr.json",) or p.is_dir() for p in root.rglob("*"))


@pytest.mark.parametrize("member", ["../evil", "a/../../evil", "/abs/evil", "C:/evil", "a\\..\\evil", "x/./y"])
def test_zip_with_escaping_member_names_is_refused_on_open(member: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("zarr.json", '{"zarr_format": 3, "node_type": "group", "attributes": {}}')
        # ZipInfo keeps the name as given (writestr would normalise some of them).
        info = zipfile.ZipInfo(member)
        zf.writestr(info, b"payload")
    for mode in ("r", "a", "r+"):
        with pytest.raises(InvalidKeyError, match="unsafe member"):
            ZipStore(path, mode)
    with pytest.raises(InvalidKeyError):
        ze.open_group(f"zip://{path}", mode="r")
    assert not (tmp_path / "evil").exists()


def test_the_quick_key_check_accepts_only_keys_the_full_checks_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    # validate_key answers plain keys (letters, digits, '_', '-', inner '.') with one
    # regular expression; nothing it lets through may be a key the full checks refuse
    import re

    import numpy as np

    from zarr_engine.storage import base

    rng = np.random.default_rng(7)
    alphabet = list("ab0_-./\\:\x00C ")
    keys = {"".join(rng.choice(alphabet, size=int(rng.integers(1, 9)))) for _ in range(20000)}
    quick = sorted(k for k in keys if base._PLAIN_KEY.fullmatch(k))
    assert len(quick) > 500  # the generator does reach the quick path
    monkeypatch.setattr(base, "_PLAIN_KEY", re.compile(r"(?!)"))  # never matches: the full checks alone
    for key in quick:
        assert base.validate_key(key) == key
    monkeypatch.undo()
    for key in ("c/0/1", "zarr.json", "a.b/c-d_e/0.0"):
        assert base._PLAIN_KEY.fullmatch(key)
    for key in ("..", "a/../b", "a//b", "/a", "a/", ".zattrs", "C:x", "a\\b", "a\x00"):
        assert not base._PLAIN_KEY.fullmatch(key)
