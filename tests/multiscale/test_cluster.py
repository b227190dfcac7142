"""Building on a LocalCluster of two worker processes stores the same bytes as building
with dask's local threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_engine.multiscale import build_pyramid

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _stored(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_cluster_build_stores_the_same_bytes_as_a_local_build(tmp_path, pyramid_cluster, zarr_format):
    data = np.random.default_rng(2).integers(0, 60000, (2, 21, 70, 66)).astype("uint16")
    kw = dict(chunks=(1, 4, 16, 16), zarr_format=zarr_format, shards=(1, 8, 32, 32) if zarr_format == 3 else None)
    local = build_pyramid(data, str(tmp_path / "local.zarr"), **kw)
    seen = []

    def on_cluster(delayed, description):
        seen.append(description)
        return pyramid_cluster.compute(delayed).result()

    from distributed import get_task_stream

    with get_task_stream(client=pyramid_cluster) as stream:
        remote = build_pyramid(data, str(tmp_path / "cluster.zarr"), run=on_cluster, **kw)
    assert len(seen) == len(local) == len(remote) >= 3
    # the worker processes did the work: the task stream saw tasks on the cluster's workers
    workers = {t["worker"] for t in stream.data}
    assert workers and workers <= set(pyramid_cluster.scheduler_info()["workers"])
    a, b = _stored(tmp_path / "local.zarr"), _stored(tmp_path / "cluster.zarr")
    assert sorted(a) == sorted(b)
    chunk_keys = [k for k in a if not k.endswith(("zarr.json", ".zarray", ".zattrs", ".zgroup"))]
    assert len(chunk_keys) > 20
    for key in a:
        assert a[key] == b[key], key
