"""MemoryStore: conformance plus the per-process registry of names."""

from __future__ import annotations

import pickle

import pytest

from zarr_engine.storage import MemoryStore, resolve_store
from zarr_engine.storage.conformance import StoreConformance


class TestMemoryConformance(StoreConformance):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


def test_named_store_shared_in_process() -> None:
    a = MemoryStore("shared-test")
    try:
        a.set("k", b"v")
        b, path = resolve_store("memory://shared-test/grp", mode="r")
        assert isinstance(b, MemoryStore) and path == "grp" and b.read_only
        assert b.get("k") == b"v"
        assert a.url == "memory://shared-test"
    finally:
        MemoryStore.discard("shared-test")
    assert MemoryStore("shared-test").get("k") is None
    MemoryStore.discard("shared-test")


def test_anonymous_store_survives_pickle_while_alive() -> None:
    a = MemoryStore()
    a.set("x", b"1")
    b = pickle.loads(pickle.dumps(a))
    b.set("y", b"2")
    assert a.get("y") == b"2"
    assert a.url.startswith("memory://anon-")


def test_values_are_copied() -> None:
    store = MemoryStore()
    buf = bytearray(b"abc")
    store.set("k", buf)
    buf[0] = ord("z")
    assert store.get("k") == b"abc"
