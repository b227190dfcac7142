"""Fixtures of the xarray tests: the markers xarray's own test classes use, and a
session-wide distributed.LocalCluster with two worker processes."""

from __future__ import annotations

import pytest

# fixtures xarray's inherited test classes ask for
from xarray.tests.conftest import time_unit, use_dask  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    # xarray's test_backends marks tests with these; our suite runs with --strict-markers
    for name in ("flaky", "network", "asyncio", "skip_if_param", "skip_with_dask_array", "slow_hypothesis"):
        config.addinivalue_line("markers", f"{name}: used by xarray's own backend tests")


@pytest.fixture(scope="session")
def cluster_client():
    """A client of a LocalCluster of 2 worker processes (1 thread each), shared by the session.
    Not the default scheduler: the tests that use it say so (``dask.config.set(scheduler=client)``),
    and the tests after them keep dask's local schedulers."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def tmp_store(tmp_path):
    """xarray's fixture of the same name, local-folder variant only (its other variant is a
    zarr-python ZipStore object)."""
    return tmp_path
