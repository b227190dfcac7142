"""The store conformance suite, reusable by every store's tests.

Subclass :class:`StoreConformance` in a test module and provide a ``store``
fixture returning a fresh, empty, writable store. A read-only backend (e.g.
HTTP) sets ``writable = False`` and overrides the ``put`` fixture with a
function that makes ``{key: value}`` visible through ``store`` by other means.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Mapping

import pytest

from ..errors import InvalidKeyError, ReadOnlyError
from .base import Store

BAD_KEYS = ["../x", "a/../../x", "/abs", "a\\b", "nul\x00", "C:/x", "c:x", "a//b", "./a", "a/./b", ""]


class StoreConformance:
    """The contract of :class:`~zarr_engine.storage.base.Store`, as pytest tests."""

    #: False for stores that cannot be written through the Store API.
    writable: bool = True
    #: Size of the "large value" test, in bytes.
    large_size: int = 4 * 2**20
    #: Iterations of the torn-read test.
    overwrite_rounds: int = 40
    #: False where reading a "folder" yields something (a web server's index page).
    folders_are_absent: bool = True

    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - subclasses provide it
        raise NotImplementedError("a StoreConformance subclass must define a `store` fixture")

    @pytest.fixture
    def put(self, store: Store) -> Callable[[Mapping[str, bytes]], None]:
        """A function storing ``{key: value}`` so that ``store`` sees it."""
        return store.set_many

    def _need_writes(self) -> None:
        if not self.writable:
            pytest.skip("store is read-only by nature")

    # -- single keys --------------------------------------------------------
    def test_get_absent(self, store: Store) -> None:
        assert store.get("absent") is None
        assert store.get("a/b/absent") is None
        assert not store.exists("absent")
        assert store.getsize("absent") is None

    def test_set_get(self, store: Store, put) -> None:
        put({"a": b"hello", "g/x/0.0": b"\x00\x01\x02", "zarr.json": b"{}"})
        assert store.get("a") == b"hello"
        assert store.get("g/x/0.0") == b"\x00\x01\x02"
        assert store.get("zarr.json") == b"{}"
        assert store.exists("g/x/0.0")
        assert store.getsize("a") == 5
        if self.folders_are_absent:  # a "folder" is not a key
            assert store.get("g") is None
            assert not store.exists("g/x")

    def test_empty_value(self, store: Store, put) -> None:
        put({"empty": b""})
        assert store.get("empty") == b""
        assert store.exists("empty")
        assert store.getsize("empty") == 0
        assert store.get_range("empty", 0, None) == b""

    def test_large_value(self, store: Store, put) -> None:
        value = bytes(range(256)) * (self.large_size // 256)
        put({"big/0": value})
        assert store.get("big/0") == value
        assert store.get_range("big/0", 1_000_003, 1_000_103) == value[1_000_003:1_000_103]
        assert store.getsize("big/0") == len(value)

    def test_overwrite_and_buffer_types(self, store: Store) -> None:
        self._need_writes()
        store.set("k", b"one")
        store.set("k", bytearray(b"two!"))
        assert store.get("k") == b"two!"
        store.set("m", memoryview(b"view"))
        assert store.get("m") == b"view"

    def test_delete(self, store: Store) -> None:
        self._need_writes()
        store.set("d/a", b"1")
        store.set("d/b", b"2")
        store.delete("d/a")
        assert store.get("d/a") is None
        assert store.get("d/b") == b"2"
        store.delete("d/a")  # absent: not an error
        store.delete("never/there")
        assert list(store.list_prefix("")) == ["d/b"]

    # -- ranges -------------------------------------------------------------
    def test_get_range(self, store: Store, put) -> None:
        value = bytes(range(100))
        put({"r": value})
        assert store.get_range("r", 0, 10) == value[:10]
        assert store.get_range("r", 10, 20) == value[10:20]
        assert store.get_range("r", 90, None) == value[90:]
        assert store.get_range("r", -7, None) == value[-7:]
        assert store.get_range("r", 95, 200) == value[95:]
        assert store.get_range("r", 5, 5) == b""
        assert store.get_range("absent", 0, 10) is None

    def test_get_ranges(self, store: Store, put) -> None:
        value = bytes(range(200))
        put({"s/0": value, "s/1": value[::-1]})
        requests = [
            ("s/0", 0, 4),
            ("s/1", 10, None),
            ("s/0", -16, None),
            ("missing", 0, 4),
            ("s/1", 100, 150),
            ("s/0", 0, None),
        ]
        got = store.get_ranges(requests)
        assert got == [value[0:4], value[::-1][10:], value[-16:], None, value[::-1][100:150], value]

    # -- batches ------------------------------------------------------------
    def test_get_many(self, store: Store, put) -> None:
        put({f"c/{i}": str(i).encode() * (i + 1) for i in range(20)})
        keys = [f"c/{i}" for i in range(25)] + ["nope"]
        got = store.get_many(keys)
        assert set(got) == {f"c/{i}" for i in range(20)}
        for i in range(20):
            assert got[f"c/{i}"] == str(i).encode() * (i + 1)
        assert store.get_many([]) == {}

    def test_set_many_delete_many(self, store: Store) -> None:
        self._need_writes()
        items = {f"m/{i}/{j}": bytes([i, j]) * 10 for i in range(5) for j in range(5)}
        store.set_many(items)
        assert store.get_many(list(items)) == items
        store.set_many([("m/pairs", b"from an iterable")])
        assert store.get("m/pairs") == b"from an iterable"
        doomed = [k for k in items if k.startswith("m/1/")] + ["m/absent"]
        store.delete_many(doomed)
        assert sorted(store.list_prefix("m/")) == sorted(set(items) - set(doomed)) + ["m/pairs"]

    def test_delete_prefix(self, store: Store) -> None:
        self._need_writes()
        store.set_many({"p/a/0": b"0", "p/a/1": b"1", "p/ab": b"x", "p/b/0": b"2", "q": b"3"})
        store.delete_prefix("p/a/")
        assert sorted(store.list_prefix("")) == ["p/ab", "p/b/0", "q"]
        store.delete_prefix("p/")
        assert list(store.list_prefix("")) == ["q"]
        store.delete_prefix("")
        assert list(store.list_prefix("")) == []

    # -- listing ------------------------------------------------------------
    def test_listing(self, store: Store, put) -> None:
        put({
            "zarr.json": b"{}",
            "a/zarr.json": b"{}",
            "a/c/0/0": b"x",
            "a/c/0/1": b"x",
            "a-b/zarr.json": b"{}",
            "ab": b"x",
            "b/deep/er/k": b"x",
        })
        everything = ["a-b/zarr.json", "a/c/0/0", "a/c/0/1", "a/zarr.json", "ab", "b/deep/er/k", "zarr.json"]
        assert list(store.list_prefix("")) == everything  # sorted
        assert list(store.list()) == everything
        assert list(store.list_prefix("a/")) == ["a/c/0/0", "a/c/0/1", "a/zarr.json"]
        assert list(store.list_prefix("a")) == ["a-b/zarr.json", "a/c/0/0", "a/c/0/1", "a/zarr.json", "ab"]
        assert list(store.list_prefix("a/c/0/")) == ["a/c/0/0", "a/c/0/1"]
        assert list(store.list_prefix("nothing/")) == []
        assert store.list_dir("") == (["ab", "zarr.json"], ["a", "a-b", "b"])
        assert store.list_dir("a") == (["zarr.json"], ["c"])
        assert store.list_dir("a/") == (["zarr.json"], ["c"])
        assert store.list_dir("b/deep") == ([], ["er"])
        assert store.list_dir("nothing") == ([], [])

    # -- key validation and read-only ----------------------------------------
    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_refused(self, store: Store, key: str) -> None:
        with pytest.raises(InvalidKeyError):
            store.get(key)
        with pytest.raises(InvalidKeyError):
            store.get_range(key, 0, 1)
        if self.writable:
            with pytest.raises(InvalidKeyError):
                store.set(key, b"x")
            with pytest.raises(InvalidKeyError):
                store.delete(key)

    def test_bad_prefix_refused(self, store: Store) -> None:
        for prefix in ("../", "/abs/", "a/../"):
            with pytest.raises(InvalidKeyError):
                list(store.list_prefix(prefix))

    def test_read_only_refuses_writes(self, store: Store, put) -> None:
        put({"ro": b"value"})
        ro = store.with_read_only(True)
        assert ro.read_only
        assert ro.get("ro") == b"value"
        for write in (
            lambda: ro.set("ro", b"x"),
            lambda: ro.set_many({"ro": b"x"}),
            lambda: ro.delete("ro"),
            lambda: ro.delete_many(["ro"]),
            lambda: ro.delete_prefix(""),
        ):
            with pytest.raises(ReadOnlyError):
                write()
        assert store.get("ro") == b"value"

    # -- identity and pickling ----------------------------------------------
    def test_pickle_round_trip(self, store: Store, put) -> None:
        put({"pk/0": b"pickled", "pk/1": b""})
        store.close()  # some stores (zip) flush on close; they reopen lazily
        clone = pickle.loads(pickle.dumps(store))
        try:
            assert type(clone) is type(store)
            assert clone.url == store.url
            assert clone.read_only == store.read_only
            assert clone == store
            assert clone.get_many(["pk/0", "pk/1", "pk/2"]) == {"pk/0": b"pickled", "pk/1": b""}
            assert list(clone.list_prefix("pk/")) == ["pk/0", "pk/1"]
        finally:
            clone.close()

    def test_url_and_repr(self, store: Store) -> None:
        assert "://" in store.url
        assert store.url in repr(store)

    # -- concurrency --------------------------------------------------------
    def test_concurrent_sets_land(self, store: Store) -> None:
        self._need_writes()
        errors: list[BaseException] = []

        def writer(t: int) -> None:
            try:
                for i in range(15):
                    store.set(f"t/{t}/{i}", f"{t}:{i}".encode() * 50)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        expected = {f"t/{t}/{i}": f"{t}:{i}".encode() * 50 for t in range(8) for i in range(15)}
        assert store.get_many(list(expected)) == expected
        assert len(list(store.list_prefix("t/"))) == len(expected)

    def test_overwrite_never_torn(self, store: Store) -> None:
        self._need_writes()
        size = 256 * 1024
        versions = [bytes([v]) * size for v in range(4)]
        store.set("torn", versions[0])
        done = threading.Event()
        bad: list[str] = []

        def reader() -> None:
            while not done.is_set():
                value = store.get("torn")
                if value is None or len(value) != size or value.count(value[:1]) != size:
                    bad.append("torn or missing value")
                    return

        th = threading.Thread(target=reader)
        th.start()
        try:
            for r in range(self.overwrite_rounds):
                store.set("torn", versions[r % 4])
        finally:
            done.set()
            th.join()
        assert not bad
