"""Fixtures of the multiscale tests: a LocalCluster of two worker processes for the session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def pyramid_cluster() -> Iterator[Any]:
    """A client of a LocalCluster with two single-threaded worker processes (not the default
    scheduler: tests pass it explicitly)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    client.wait_for_workers(2, timeout=120)
    yield client
    client.close()
    cluster.close()
