"""The direct S3 path (storage/s3direct.py): signatures equal botocore's, when it engages,
keys and ranges as s3fs sees them, errors, and the s3fs path still conforming when it is off."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import botocore.auth
import botocore.config
import botocore.credentials
import numpy as np
import pytest
from botocore.awsrequest import AWSRequest
from botocore.exceptions import NoCredentialsError

import zarr_engine as ze
from zarr_engine.errors import StoreError
from zarr_engine.storage import FsspecStore, s3direct
from zarr_engine.storage.conformance import StoreConformance

FIXED = datetime.datetime(2026, 11, 24, 5, 6, 7, tzinfo=datetime.timezone.utc)


class _Frozen:
    def __init__(self, access_key: str, secret_key: str, token: str | None) -> None:
        self.access_key, self.secret_key, self.token = access_key, secret_key, token


class _Creds:
    def __init__(self, frozen: _Frozen) -> None:
        self._frozen = frozen

    def get_frozen_credentials(self) -> _Frozen:
        return self._frozen


def _ours(method: str, endpoint: str, path: str, extra: dict[str, str], token: str | None) -> dict[str, str]:
    import asyncio

    client = s3direct.S3Direct.__new__(s3direct.S3Direct)
    client.host = endpoint.split("://", 1)[1]
    client._region = "eu-west-3"
    client._keys = {}
    client._credentials = _Creds(_Frozen("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token))
    return asyncio.run(client._headers(method, path, extra))


def _botocore(method: str, endpoint: str, path: str, extra: dict[str, str], token: str | None) -> dict[str, str]:
    creds = botocore.credentials.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(method=method, url=endpoint + path, headers=dict(extra))
    request.context["client_config"] = botocore.config.Config(s3={"payload_signing_enabled": False})
    botocore.auth.S3SigV4Auth(creds, "s3", "eu-west-3").add_auth(request)
    return dict(request.headers)


@pytest.mark.parametrize("token", [None, "session-token/with+chars="])
@pytest.mark.parametrize(
    ("method", "key", "extra"),
    [
        ("GET", "bucket/a/zarr.json", {}),
        ("GET", "bucket/c/0/1 with space+plus=eq:colon/ü", {}),
        ("PUT", "bucket/data/c/0.0", {"x-amz-checksum-crc32": "AAAAAA=="}),
        ("DELETE", "bucket/deep/~tilde/(paren)", {}),
    ],
)
def test_signature_equals_botocores(monkeypatch, method, key, extra, token):
    monkeypatch.setattr(s3direct, "_utcnow", lambda: FIXED)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: FIXED.replace(tzinfo=None))
    endpoint = "https://s3.example.test:9000"
    path = "/" + __import__("urllib.parse").parse.quote(key, safe="/~")
    ours = _ours(method, endpoint, path, extra, token)
    theirs = _botocore(method, endpoint, path, extra, token)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["x-amz-date"] == theirs["X-Amz-Date"]
    assert ours["x-amz-content-sha256"] == theirs["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    if token:
        assert ours["x-amz-security-token"] == theirs["X-Amz-Security-Token"] == token


@pytest.mark.services
class TestEngagement:
    def test_engages_for_an_endpoint_url_with_plain_options(self, s3_bucket_url, s3_store_options):
        store = FsspecStore(s3_bucket_url, s3_store_options)
        store.fs  # noqa: B018 - connects
        assert store._direct is not None

    @pytest.mark.parametrize("extra", [
        {"requester_pays": True},
        {"s3_additional_kwargs": {"ServerSideEncryption": "AES256"}},
        {"version_aware": True},
        {"config_kwargs": {"s3": {"addressing_style": "virtual"}}},
    ])
    def test_options_that_change_requests_keep_s3fs(self, s3_bucket_url, s3_store_options, extra):
        store = FsspecStore(s3_bucket_url, {**s3_store_options, **extra, "skip_instance_cache": True})
        store.fs  # noqa: B018
        assert store._direct is None

    def test_no_endpoint_url_keeps_s3fs(self, monkeypatch):
        import s3fs

        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        fs = s3fs.S3FileSystem(key="k", secret="s", skip_instance_cache=True)
        assert not s3direct.eligible(fs)

    def test_turned_off_by_the_environment(self, monkeypatch, s3_bucket_url, s3_store_options):
        monkeypatch.setenv("ZARR_ENGINE_S3_DIRECT", "0")
        store = FsspecStore(s3_bucket_url, s3_store_options)
        store.fs  # noqa: B018
        assert store._direct is None


@pytest.mark.services
def test_odd_keys_written_directly_read_by_s3fs_and_back(s3_bucket_url, s3_store_options):
    import s3fs

    store = FsspecStore(s3_bucket_url, s3_store_options)
    plain = s3fs.S3FileSystem(**s3_store_options, skip_instance_cache=True)
    root = s3_bucket_url[len("s3://"):]
    keys = ["a b/c+d=e", "ü/日本/€", "x/~y/(z)!*'", "q?/r#/s&t;u,v@w$"]
    for i, key in enumerate(keys):
        store.set(key, f"value {i}".encode())
    for i, key in enumerate(keys):
        assert plain.cat_file(f"{root}/{key}") == f"value {i}".encode()
        plain.pipe_file(f"{root}/{key}", f"from s3fs {i}".encode())
    assert store.get_many(keys) == {k: f"from s3fs {i}".encode() for i, k in enumerate(keys)}
    assert sorted(store.list_prefix("")) == sorted(keys)
    store.delete_many(keys[:2])
    assert not plain.exists(f"{root}/{keys[0]}") and plain.exists(f"{root}/{keys[2]}")


@pytest.mark.services
def test_ranges_through_the_direct_path(s3_bucket_url, s3_store_options):
    store = FsspecStore(s3_bucket_url, s3_store_options)
    value = bytes(range(256)) * 40
    store.set("k", value)
    assert store.get_ranges([("k", 0, 10), ("k", 100, 356), ("k", -7, None), ("k", 10000, None),
                             ("k", 20000, 20010), ("missing", 0, 5)]) == [
        value[:10], value[100:356], value[-7:], value[10000:], b"", None]


@pytest.mark.services
def test_a_missing_bucket_fails_at_once_naming_the_url(s3_store_options):
    url = f"s3://no-such-bucket-{uuid.uuid4().hex[:12]}/x"
    store = FsspecStore(url, s3_store_options, retries=6, retry_base=5.0)
    assert store.fs is not None and store._direct is not None
    import time

    t0 = time.monotonic()
    with pytest.raises(StoreError, match=r"no-such-bucket-.*NoSuchBucket"):
        store.set("k", b"v")
    assert time.monotonic() - t0 < 5  # no backoff: a permanent error


@pytest.mark.services
def test_no_credentials_is_refused_as_botocore_refuses_it(monkeypatch, s3_bucket_url, s3_store_options):
    """Without credentials botocore (s3fs, zarr-python) raises NoCredentialsError and sends
    nothing; the direct path must not send the requests unsigned instead (a read then looks
    like AccessDenied, and a write goes through anonymously where a bucket allows it)."""
    import s3fs
    import zarr

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    no_creds = {"client_kwargs": s3_store_options["client_kwargs"], "skip_instance_cache": True}
    with pytest.raises(NoCredentialsError):  # the reference
        zarr.open_array(f"{s3_bucket_url}/ref", mode="r", storage_options={"client_kwargs": no_creds["client_kwargs"]})

    store = FsspecStore(f"{s3_bucket_url}/arr", no_creds)
    assert store.fs is not None and store._direct is not None
    with pytest.raises(StoreError, match="Unable to locate credentials"):
        ze.open_array(store, mode="r")
    with pytest.raises(StoreError, match="Unable to locate credentials"):
        ze.create_array(store, shape=(4,), chunks=(2,), dtype="i4")
    with pytest.raises(StoreError, match="Unable to locate credentials"):
        store.set("probe", b"x")
    fs = s3fs.S3FileSystem(**s3_store_options, skip_instance_cache=True)
    assert fs.find(s3_bucket_url) == []  # nothing was written


@pytest.mark.services
class TestS3ConformanceThroughS3fs(StoreConformance):
    """The same contract with the direct path off: the s3fs route stays exercised."""

    large_size = 1 * 2**20
    overwrite_rounds = 5

    @pytest.fixture
    def store(self, monkeypatch, s3_bucket_url: str, s3_store_options: dict[str, Any]) -> FsspecStore:
        monkeypatch.setenv("ZARR_ENGINE_S3_DIRECT", "0")
        store = FsspecStore(s3_bucket_url, s3_store_options)
        store.fs  # noqa: B018 - connect while the variable is set
        assert store._direct is None
        return store


@pytest.mark.services
def test_a_batch_arriving_at_once_sets_up_one_session(monkeypatch, s3_bucket_url, s3_store_options):
    opened = []
    real_open = s3direct.S3Direct._open

    async def counting_open(self, loop):
        opened.append(self)
        return await real_open(self, loop)

    monkeypatch.setattr(s3direct.S3Direct, "_open", counting_open)
    store = FsspecStore(s3_bucket_url, {**s3_store_options, "skip_instance_cache": True})
    store.set_many({f"k/{i}": bytes([i]) for i in range(40)})
    assert store.get_many([f"k/{i}" for i in range(40)]) == {f"k/{i}": bytes([i]) for i in range(40)}
    assert len(opened) == 1


@pytest.mark.services
class TestS3ConformanceThroughAiohttp(StoreConformance):
    """The direct path with aiohttp (as for https:// endpoints and proxies) instead of the lean client."""

    large_size = 1 * 2**20
    overwrite_rounds = 5

    @pytest.fixture
    def store(self, monkeypatch, s3_bucket_url: str, s3_store_options: dict[str, Any]) -> FsspecStore:
        monkeypatch.setenv("ZARR_ENGINE_S3_HTTP1", "0")
        store = FsspecStore(s3_bucket_url, {**s3_store_options, "skip_instance_cache": True})
        store.set("probe", b"x")
        assert store._direct is not None and type(store._direct._session).__name__ == "ClientSession"
        store.delete("probe")
        return store


@pytest.mark.services
def test_http_endpoints_use_the_lean_client_and_keep_its_connections(s3_bucket_url, s3_store_options):
    from zarr_engine.storage import http1

    store = FsspecStore(s3_bucket_url, {**s3_store_options, "skip_instance_cache": True})
    values = {f"lean/{i}": bytes([i]) * (i + 1) for i in range(50)}
    store.set_many(values)
    assert store.get_many(list(values)) == values
    assert isinstance(store._direct._session, http1.Http1Client)
    assert store.get_range("lean/9", 2, 5) == bytes([9]) * 3
    store.delete_many(list(values))
    assert store.get_many(list(values)) == {}


@pytest.mark.services
def test_large_values_come_back_without_a_copy_and_small_ones_as_bytes(s3_bucket_url, s3_store_options):
    from zarr_engine.storage.http1 import LARGE_BODY

    store = FsspecStore(s3_bucket_url, {**s3_store_options, "skip_instance_cache": True})
    big = np.random.default_rng(3).integers(0, 256, LARGE_BODY + 4096, dtype=np.uint8).tobytes()
    store.set_many({"large/big": big, "large/small": b"small"})
    got = store.get_many(["large/big", "large/small"])
    assert isinstance(got["large/small"], bytes) and got["large/small"] == b"small"
    # the body's own buffer, read-only: bytes() of it would copy every byte again
    assert isinstance(got["large/big"], memoryview) and got["large/big"].readonly and got["large/big"] == big
    assert store.get_range("large/big", 5, LARGE_BODY + 5) == big[5 : LARGE_BODY + 5]
    # an array written from and read back through such values is exact
    a = ze.create_array(FsspecStore(f"{s3_bucket_url}/large/arr", s3_store_options), shape=(512, 1024), dtype="f8",
                        chunks=(256, 1024), compressors=None, overwrite=True)
    data = np.random.default_rng(4).standard_normal((512, 1024))
    a[...] = data
    np.testing.assert_array_equal(ze.open_array(FsspecStore(f"{s3_bucket_url}/large/arr", s3_store_options))[...], data)
    store.delete_many(["large/big", "large/small"])
