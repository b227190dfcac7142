"""Fixtures of the dask tests: one real LocalCluster (2 worker processes) for the session,
and targets in a local folder or in S3 (moto) that worker processes can reach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dask
import pytest


@pytest.fixture(scope="session")
def cluster_client() -> Iterator[Any]:
    """A client of a LocalCluster with two single-threaded worker processes.

    It is not made the default scheduler (set_as_default=False), so tests
    elsewhere in the session keep their own scheduler; tests here select it
    with the ``cluster`` fixture or ``client.compute``.
    """
    distributed = pytest.importorskip("distributed")
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
    client = distributed.Client(cluster, set_as_default=False)
    client.wait_for_workers(2, timeout=120)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def cluster(cluster_client: Any) -> Iterator[Any]:
    """The session cluster's client, made the scheduler of ``compute()`` for one test."""
    cluster_client.wait_for_workers(2, timeout=120)
    # Not dask.config.set(scheduler=client): a nanny restarting a dead worker pickles the
    # config into the new process, and a Client object does not pickle.
    with cluster_client.as_current(), dask.config.set(scheduler="dask.distributed"):
        yield cluster_client


@pytest.fixture
def threaded() -> Iterator[None]:
    """dask's threaded scheduler for one test, whatever client may exist in the session."""
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[str, dict[str, Any] | None]:
    """``(url, storage_options)`` of a fresh place for an array: a local folder, or an S3 prefix."""
    if request.param == "local":
        return str(tmp_path / "data.zarr"), None
    url = request.getfixturevalue("s3_bucket_url")
    return url, request.getfixturevalue("s3_store_options")
