"""Parallel writes from a distributed.LocalCluster (2 worker processes): dask writes
computed on the cluster, appends, and region writes submitted from the workers themselves."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("distributed")

import zarr_engine as ze  # noqa: E402
import zarr_engine.xarray as zx  # noqa: E402

pytestmark = pytest.mark.cluster


def _template(n_time: int) -> xr.Dataset:
    t = pd.date_range("2020-01-01", periods=n_time, freq="D")
    data = np.arange(n_time * 6 * 4, dtype="f8").reshape(n_time, 6, 4)
    return xr.Dataset(
        {"v": (("time", "y", "x"), data), "k": ("time", np.arange(n_time, dtype="i4"))},
        coords={"time": t, "y": np.arange(6), "x": np.arange(4.0)},
        attrs={"source": "cluster test"},
    )


@pytest.mark.parametrize("fmt", [2, 3])
def test_dask_write_and_appends_on_cluster(cluster_client, tmp_path, fmt):
    """A chunked write and three appends, each computed by the cluster's workers, give back
    exactly the concatenated data; every task ran on a worker process."""
    full = _template(16)
    path = str(tmp_path / "append.zarr")
    pieces = [full.isel(time=slice(i, i + 4)).chunk({"time": 2, "y": 3}) for i in range(0, 16, 4)]
    with dask.config.set(scheduler=cluster_client):
        zx.to_zarr(pieces[0], path, zarr_format=fmt, encoding={"v": {"chunks": (2, 3, 4)}, "k": {"chunks": (2,)}})
        for piece in pieces[1:]:
            zx.to_zarr(piece, path, append_dim="time")
    processed = cluster_client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.transition_counter)
    assert all(n > 0 for n in processed.values()), "the workers did no work"
    with xr.open_dataset(path, engine="zarr_engine") as ours, xr.open_zarr(path) as theirs:
        xr.testing.assert_identical(ours.load(), full)
        xr.testing.assert_identical(theirs.load(), full)
    assert ze.open_group(path, mode="r")["v"].shape == (16, 6, 4)


def _write_region(path: str, start: int, stop: int) -> int:
    """Run in a worker: write time steps [start, stop) of the template into the store."""
    import zarr_engine.xarray as zx_worker

    part = _template(24).isel(time=slice(start, stop)).drop_vars(["time", "y", "x"])
    zx_worker.to_zarr(part, path, region={"time": slice(start, stop)}, consolidated=False)
    return stop - start


@pytest.mark.parametrize("fmt", [2, 3])
def test_region_writes_from_workers_in_parallel(cluster_client, tmp_path, fmt):
    """Six region writes (chunk-aligned, disjoint) submitted to two worker processes at once
    fill the array exactly; region="auto" then rewrites part of it from the client."""
    full = _template(24)
    path = str(tmp_path / "region.zarr")
    # metadata and coordinates first; the data variables only as lazy zeros (compute=False)
    skeleton = full.copy()
    skeleton["v"] = skeleton["v"].chunk({"time": 4}) * 0
    skeleton["k"] = skeleton["k"].chunk({"time": 4}) * 0
    zx.to_zarr(skeleton, path, zarr_format=fmt, compute=False,
               encoding={"v": {"chunks": (4, 6, 4)}, "k": {"chunks": (4,)}})
    futures = [cluster_client.submit(_write_region, path, s, s + 4, pure=False) for s in range(0, 24, 4)]
    assert sum(cluster_client.gather(futures)) == 24
    who = {cluster_client.who_has(f)[f.key][0] for f in futures}
    assert len(who) == 2, f"expected both workers to write, got {who}"
    with xr.open_dataset(path, engine="zarr_engine") as back:
        xr.testing.assert_identical(back.load(), full)

    update = full.isel(time=slice(8, 12)).copy()
    update["v"] = update["v"] + 1000
    update["k"] = update["k"] * -1
    zx.to_zarr(update.chunk({"time": 4}), path, region="auto")
    expected = full.copy(deep=True)
    expected["v"][8:12] += 1000
    expected["k"][8:12] *= -1
    with xr.open_dataset(path, engine="zarr_engine") as ours, xr.open_zarr(path, consolidated=False) as theirs:
        xr.testing.assert_identical(ours.load(), expected)
        xr.testing.assert_identical(theirs.load(), expected)
