"""FsspecStore: conformance on memory://, S3 (moto), GCS (emulator) and HTTP; retries; errors."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from tests.services import FaultProxy, HTTPFolder, copy_into
from zarr_engine.errors import ReadOnlyError, StoreError
from zarr_engine.storage import FsspecStore, resolve_store, store_from_url
from zarr_engine.storage.conformance import StoreConformance


class TestFsspecMemoryConformance(StoreConformance):
    @pytest.fixture
    def store(self) -> FsspecStore:
        return FsspecStore(f"memory://fsspec-conformance/{uuid.uuid4().hex}")


@pytest.mark.services
class TestS3Conformance(StoreConformance):
    large_size = 3 * 2**20
    overwrite_rounds = 15

    @pytest.fixture
    def store(self, s3_bucket_url: str, s3_store_options: dict[str, Any]) -> FsspecStore:
        return FsspecStore(s3_bucket_url, s3_store_options)


@pytest.mark.services
class TestGCSConformance(StoreConformance):
    large_size = 2 * 2**20
    overwrite_rounds = 10

    @pytest.fixture
    def store(self, gcs_bucket_url: str, gcs_store_options: dict[str, Any]) -> FsspecStore:
        return FsspecStore(gcs_bucket_url, gcs_store_options)


@pytest.mark.services
class TestHTTPConformance(StoreConformance):
    writable = False
    folders_are_absent = False  # the server redirects a folder to its index page

    @pytest.fixture
    def folder(self, http_server: HTTPFolder) -> tuple[str, Path]:
        name = uuid.uuid4().hex
        (http_server.root / name).mkdir()
        return f"{http_server.url}/{name}", http_server.root / name

    @pytest.fixture
    def store(self, folder: tuple[str, Path]) -> FsspecStore:
        return FsspecStore(folder[0])

    @pytest.fixture
    def put(self, folder: tuple[str, Path]):
        return lambda items: copy_into(folder[1], dict(items))

    def test_http_is_read_only(self, store: FsspecStore) -> None:
        assert store.read_only
        with pytest.raises(ReadOnlyError):
            store.set("k", b"v")


# -- retry logic, with a filesystem that fails on purpose ------------------------
class _Flaky(MemoryFileSystem):
    """Memory filesystem whose reads and writes fail transiently, or permanently."""

    protocol = "flakymem"
    failures: dict[str, int] = {}
    calls: dict[str, int] = {}
    fail_every = 3
    permanent = False

    def _maybe_fail(self, path: str) -> None:
        n = _Flaky.calls[path] = _Flaky.calls.get(path, 0) + 1
        if _Flaky.permanent:
            raise PermissionError(f"access denied to {path}")
        if n % _Flaky.fail_every:
            _Flaky.failures[path] = _Flaky.failures.get(path, 0) + 1
            raise ConnectionResetError(104, "Connection reset by peer")

    def cat_file(self, path: str, start: Any = None, end: Any = None, **kw: Any) -> bytes:
        self._maybe_fail(path)
        return super().cat_file(path, start=start, end=end, **kw)

    def pipe_file(self, path: str, value: bytes, *a: Any, **kw: Any) -> None:
        self._maybe_fail(path)
        return super().pipe_file(path, value, *a, **kw)


@pytest.fixture
def flaky_fs():
    fsspec.register_implementation("flakymem", _Flaky, clobber=True)
    _Flaky.failures, _Flaky.calls, _Flaky.permanent, _Flaky.fail_every = {}, {}, False, 3
    yield _Flaky
    _Flaky.permanent = False


def test_transient_failures_are_retried(flaky_fs) -> None:
    store = FsspecStore(f"flakymem://retry/{uuid.uuid4().hex}", retry_base=0.001, retry_cap=0.01)
    data = {f"k/{i}": bytes([i]) * 100 for i in range(10)}
    store.set_many(data)
    assert store.get_many(list(data)) == data
    assert sum(flaky_fs.failures.values()) >= 20  # two failures before each success


def test_retries_exhausted(flaky_fs) -> None:
    flaky_fs.fail_every = 10**9
    store = FsspecStore(f"flakymem://retry/{uuid.uuid4().hex}", retries=3, retry_base=0.001, retry_cap=0.01)
    with pytest.raises(StoreError, match=r"flakymem://retry/.*/x failed after 4 attempts"):
        store.set("x", b"1")


def test_permanent_failure_not_retried(flaky_fs) -> None:
    flaky_fs.permanent = True
    url = f"flakymem://retry/{uuid.uuid4().hex}"
    store = FsspecStore(url, retry_base=1.0)
    t0 = time.monotonic()
    with pytest.raises(StoreError, match="PermissionError") as info:
        store.get("a/b")
    assert f"{url}/a/b" in str(info.value)
    assert time.monotonic() - t0 < 0.5
    assert sum(flaky_fs.calls.values()) == 1


# -- S3 through the fault proxy, and permanent S3/GCS errors ----------------------
@pytest.mark.services
def test_s3_through_fault_proxy_keeps_data_exact(
    s3_bucket_url: str, flaky_s3_store_options: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    store = FsspecStore(s3_bucket_url, flaky_s3_store_options, retries=10, retry_base=0.01, retry_cap=0.2)
    data = {f"a/c/{i}/{j}": (f"{i}.{j}|".encode() * (50 + i * 7 + j)) for i in range(10) for j in range(10)}
    store.set_many(data)
    assert store.get_many(list(data) + ["a/c/missing"]) == data
    requests = [(k, 3, 40) for k in list(data)[:30]] + [(k, -9, None) for k in list(data)[30:60]]
    assert store.get_ranges(requests) == [data[k][s:e] for k, s, e in requests]
    assert list(store.list_prefix("a/c/")) == sorted(data)
    store.delete_many(list(data)[:50])
    assert list(store.list_prefix("")) == sorted(list(data)[50:])
    injected = {k: v for k, v in fault_proxy.counts.items() if k != "pass"}
    print("fault proxy:", fault_proxy.counts)
    assert sum(injected.values()) >= 20, fault_proxy.counts


@pytest.mark.services
def test_s3_access_denied_fails_fast(
    s3_bucket_url: str, flaky_s3_store_options: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    fault_proxy.reset(mode="deny")
    store = FsspecStore(s3_bucket_url, flaky_s3_store_options, retry_base=1.0)
    t0 = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.get("zarr.json")
    assert f"{s3_bucket_url}/zarr.json" in str(info.value)
    assert time.monotonic() - t0 < 2.0
    assert fault_proxy.counts.get("deny") == 1, fault_proxy.counts
    fault_proxy.reset()


@pytest.mark.services
def test_s3_missing_bucket_fails_fast(s3_store_options: dict[str, Any]) -> None:
    url = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/data.zarr"
    store = FsspecStore(url, s3_store_options, retry_base=1.0)
    t0 = time.monotonic()
    with pytest.raises(StoreError, match="no-such-bucket"):
        store.get("zarr.json")
    with pytest.raises(StoreError, match="no-such-bucket"):
        store.set("zarr.json", b"{}")
    assert time.monotonic() - t0 < 3.0


@pytest.mark.services
def test_gcs_missing_bucket_fails_on_write(gcs_store_options: dict[str, Any]) -> None:
    store = FsspecStore(f"gs://no-such-bucket-{uuid.uuid4().hex[:8]}/x", gcs_store_options, retry_base=1.0)
    t0 = time.monotonic()
    with pytest.raises(StoreError, match="no-such-bucket"):
        store.set("zarr.json", b"{}")
    assert time.monotonic() - t0 < 3.0


# -- resolution and pickling -------------------------------------------------------
@pytest.mark.services
def test_resolve_and_reopen_s3(s3_bucket_url: str, s3_store_options: dict[str, Any]) -> None:
    store, inner = resolve_store(s3_bucket_url, mode="a", storage_options=s3_store_options)
    assert isinstance(store, FsspecStore) and inner == "" and not store.read_only
    store.set("g/zarr.json", b"{}")
    again = store_from_url(store.url, store.storage_options, read_only=True)
    assert again.read_only and again.get("g/zarr.json") == b"{}"


@pytest.mark.services
@pytest.mark.parametrize("service", ["s3", "gcs"])
def test_pickle_to_subprocess(request: pytest.FixtureRequest, service: str, tmp_path: Path) -> None:
    url = request.getfixturevalue(f"{service}_bucket_url")
    options = request.getfixturevalue(f"{service}_store_options")
    store = FsspecStore(url, options)
    store.get("warm-up")  # the filesystem exists now; it must not go into the pickle
    store.set("a/0", b"from parent")
    blob = pickle.dumps(store)
    assert b"aiohttp" not in blob and b"aiobotocore" not in blob
    code = (
        "import pickle, sys; s = pickle.loads(sys.stdin.buffer.read()); "
        "assert s.get('a/0') == b'from parent', s.get('a/0'); s.set('a/1', b'from child'); print(s.url)"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert out.stdout.decode().strip() == url
    assert store.get("a/1") == b"from child"


def test_chained_zip_url(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.zarr/zarr.json", b"{}")
        zf.writestr("data.zarr/c/0", b"chunk")
    store, inner = resolve_store(f"zip://data.zarr::file://{path}")
    assert isinstance(store, FsspecStore)
    assert store.get("zarr.json") == b"{}"
    assert store.get_range("c/0", 1, 3) == b"hu"
    assert list(store.list_prefix("")) == ["c/0", "zarr.json"]


# -- S3 deletes in DeleteObjects calls ---------------------------------------------
def _count_s3_calls(monkeypatch: pytest.MonkeyPatch, store: FsspecStore) -> list[str]:
    """The botocore operations ``store``'s filesystem calls from now on (each still made)."""
    fs = store.fs
    real = fs._call_s3
    calls: list[str] = []

    async def counted(method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return await real(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", counted)
    return calls


@pytest.mark.services
def test_s3_delete_many_goes_out_in_delete_objects_calls(
    s3_bucket_url: str, s3_store_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr_engine.storage.fsspec_store as fsspec_store

    monkeypatch.setattr(fsspec_store, "BULK_DELETE_MAX", 40)
    options = {**s3_store_options, "use_listings_cache": True, "skip_instance_cache": True}
    store = FsspecStore(s3_bucket_url, options)
    doomed = [f"a/c/{i}" for i in range(100)]
    kept = [f"a/d/{i}" for i in range(5)]
    store.set_many({k: k.encode() for k in doomed + kept})
    folder = f"{s3_bucket_url[len('s3://'):]}/a/c"
    assert len(store.fs.ls(folder)) == 100  # s3fs caches this listing
    calls = _count_s3_calls(monkeypatch, store)
    store.delete_many(doomed + ["a/c/missing", "never/there"])
    assert calls.count("delete_objects") == 3  # 102 keys, 40 a call
    assert list(store.list_prefix("a/")) == sorted(kept)
    with pytest.raises(FileNotFoundError):  # the cached listing was dropped
        store.fs.ls(folder)
    store.delete_many(kept[:fsspec_store.BULK_DELETE_MIN - 1])  # a few keys: single deletes
    assert calls.count("delete_objects") == 3
    assert list(store.list_prefix("a/")) == kept[fsspec_store.BULK_DELETE_MIN - 1:]


@pytest.fixture
def exact_s3_store(s3_bucket_url: str, flaky_s3_store_options: dict[str, Any],
                   fault_proxy: FaultProxy) -> Iterator[FsspecStore]:
    """A store behind the fault proxy with no random failures, holding 30 keys."""
    fault_proxy.reset(fail_rate=0.0)
    store = FsspecStore(s3_bucket_url, flaky_s3_store_options, retries=3, retry_base=0.01, retry_cap=0.05)
    store.set_many({f"c/{i}": b"%d" % i for i in range(30)})
    yield store
    fault_proxy.reset()


@pytest.mark.services
@pytest.mark.parametrize("answer", ["InternalError", "501", "404"])
def test_s3_delete_objects_failures_that_still_delete_every_key(exact_s3_store: FsspecStore,
                                                                fault_proxy: FaultProxy, answer: str) -> None:
    """InternalError for every key of a call: those keys are sent again. 501 or
    404 for the call itself (no DeleteObjects there): single deletes, and the
    service is not asked again."""
    fault_proxy.reset(fail_rate=0.0, delete_objects=answer)
    exact_s3_store.delete_many([f"c/{i}" for i in range(10)])
    exact_s3_store.delete_many([f"c/{i}" for i in range(10, 20)])
    assert fault_proxy.counts.get(f"delete-objects-{answer}") == 1, fault_proxy.counts
    assert list(exact_s3_store.list_prefix("")) == sorted(f"c/{i}" for i in range(20, 30))


@pytest.mark.services
def test_s3_delete_objects_refused_for_a_key_names_it_and_loses_nothing(
    exact_s3_store: FsspecStore, fault_proxy: FaultProxy
) -> None:
    fault_proxy.reset(fail_rate=0.0, delete_objects="AccessDenied")
    with pytest.raises(StoreError) as info:
        exact_s3_store.delete_many([f"c/{i}" for i in range(20)])
    assert f"{exact_s3_store.url}/c/0 failed: AccessDenied" in str(info.value)
    assert sorted(exact_s3_store.list_prefix("")) == sorted(f"c/{i}" for i in range(30))
    assert exact_s3_store.get("c/0") == b"0"


@pytest.mark.services
def test_s3_delete_objects_refused_as_a_whole_names_the_keys_and_loses_nothing(
    exact_s3_store: FsspecStore, fault_proxy: FaultProxy
) -> None:
    fault_proxy.reset(mode="deny")
    t0 = time.monotonic()
    with pytest.raises(StoreError) as info:
        exact_s3_store.delete_many([f"c/{i}" for i in range(20)])
    assert f"deleting {exact_s3_store.url}/c/0 (and 19 more keys) failed" in str(info.value)
    assert time.monotonic() - t0 < 2.0  # a refusal is not retried
    fault_proxy.reset(fail_rate=0.0)
    assert sorted(exact_s3_store.list_prefix("")) == sorted(f"c/{i}" for i in range(30))
