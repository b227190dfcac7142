"""Session-wide fixtures: local S3 (moto), GCS (emulator), HTTP and a fault-injecting proxy.

Every service listens on 127.0.0.1 only and starts once per session, on first
use. Tests get a fresh, unique prefix inside the shared bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import (
    GCS_BUCKET,
    S3_BUCKET,
    FaultProxy,
    GCSService,
    HTTPFolder,
    HTTPFolderServer,
    S3Service,
    set_test_environment,
)

# Before anything imports gcsfs or botocore (see set_test_environment).
set_test_environment()


@pytest.fixture(scope="session")
def s3_service() -> Iterator[S3Service]:
    """The running moto S3 server (object with .endpoint, .options(), .create_bucket())."""
    service = S3Service()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def s3_server(s3_service: S3Service) -> str:
    """Endpoint URL of the local S3 server, e.g. ``http://127.0.0.1:PORT``."""
    return s3_service.endpoint


@pytest.fixture
def s3_store_options(s3_service: S3Service) -> dict[str, Any]:
    """storage_options for s3fs: dummy key/secret and client_kwargs.endpoint_url."""
    return s3_service.options()


@pytest.fixture
def s3_bucket_url() -> str:
    """A fresh, unique prefix in the test bucket: ``s3://test-bucket/<uuid>``."""
    return f"s3://{S3_BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def fault_proxy(s3_service: S3Service) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of the S3 server."""
    proxy = FaultProxy(s3_service.endpoint)
    yield proxy
    proxy.stop()


@pytest.fixture
def flaky_s3_store_options(s3_service: S3Service, fault_proxy: FaultProxy) -> dict[str, Any]:
    """storage_options reaching S3 through the fault proxy (25% of requests fail, seed 1234).

    botocore's own retries are turned off so that the store's retry logic is
    what keeps the data exact.
    """
    fault_proxy.reset(seed=1234, fail_rate=0.25)
    options = s3_service.options(fault_proxy.url)
    options["config_kwargs"] = {"retries": {"max_attempts": 1, "mode": "standard"}}
    options["skip_instance_cache"] = True
    return options


@pytest.fixture(scope="session")
def gcs_service() -> Iterator[GCSService]:
    service = GCSService()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def gcs_server(gcs_service: GCSService) -> str:
    """Endpoint URL of the local GCS emulator."""
    return gcs_service.endpoint


@pytest.fixture
def gcs_store_options(gcs_service: GCSService) -> dict[str, Any]:
    """storage_options for gcsfs: endpoint_url, token="anon", project."""
    return gcs_service.options()


@pytest.fixture
def gcs_bucket_url() -> str:
    """A fresh, unique prefix in the test bucket: ``gs://test-bucket/<uuid>``."""
    return f"gs://{GCS_BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HTTPFolder]:
    """A read-only HTTP server (with Range support) of a folder: ``(url, root)``.

    Files written below ``root`` are served at ``url + "/" + relative path``;
    use a unique subfolder per test.
    """
    root: Path = tmp_path_factory.mktemp("http-root")
    server = HTTPFolderServer(root)
    yield HTTPFolder(server.url, root)
    server.stop()
