"""Reading and writing on a real LocalCluster of two worker processes: round trips to a local
folder and to S3, concurrent region writes, a worker killed in the middle of a write, and the
stores the workers cannot share (memory, and a zip file being written)."""

from __future__ import annotations

import uuid
import zipfile

import dask
import dask.array as da
import numpy as np
import pytest

import zarr_engine as ze
from tests.dask import _tasks
from tests.support import sample
from zarr_engine.dask import WriteResult, from_zarr, to_zarr
from zarr_engine.errors import StoreError
from zarr_engine.storage import MemoryStore

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_write_then_read_round_trip_on_the_cluster(cluster, target):
    url, options = target
    data = sample("f8", (64, 48), seed=20)
    x = da.from_array(data, chunks=(16, 24))
    result = to_zarr(x, url, storage_options=options)
    assert result == WriteResult(chunks_written=8, chunks_empty=0)
    y = from_zarr(url, storage_options=options)
    assert y.chunks == ((16,) * 4, (24, 24))
    assert y.compute().tobytes() == data.tobytes()
    assert float(y[1:].sum().compute()) == pytest.approx(float(data[1:].sum()))  # NaN and inf sit in row 0
    direct = ze.open_array(url, mode="r", storage_options=options)
    assert direct[...].tobytes() == data.tobytes()


def test_read_and_rewrite_on_the_cluster_through_dask_store(cluster, tmp_path):
    data = sample("i4", (40, 30), seed=21)
    src = ze.create_array(str(tmp_path / "src.zarr"), shape=data.shape, dtype=data.dtype, chunks=(10, 10))
    src[...] = data
    dst = ze.create_array(str(tmp_path / "dst.zarr"), shape=data.shape, dtype=data.dtype, chunks=(10, 10))
    da.store(da.from_array(src, chunks=(10, 10)) + 1, dst, lock=False)  # our Array pickled to workers
    np.testing.assert_array_equal(dst[...], data + 1)


def test_workers_switch_off_blosc_threads(cluster, tmp_path):
    arr = ze.create_array(str(tmp_path / "b.zarr"), shape=(40,), dtype="u1", chunks=(5,))
    arr[...] = 1
    assert int(from_zarr(arr).sum().compute()) == 40
    seen = cluster.run(_tasks.blosc_uses_threads)
    assert False in seen.values()  # a worker that ran a read task turned it off
    # the client process (threaded scheduler) is left with the user's setting
    import numcodecs.blosc

    before = numcodecs.blosc.use_threads
    numcodecs.blosc.use_threads = None
    try:
        assert int(from_zarr(arr).sum().compute(scheduler="threads")) == 40
        assert numcodecs.blosc.use_threads is None
    finally:
        numcodecs.blosc.use_threads = before


def test_four_concurrent_computations_fill_disjoint_regions(cluster, target):
    url, options = target
    shape = (80, 60)
    arr = ze.create_array(url, shape=shape, dtype="f4", chunks=(10, 20), storage_options=options)
    data = sample("f4", shape, seed=22)
    rows = [slice(0, 20), slice(20, 40), slice(40, 60), slice(60, 80)]
    writes = [
        to_zarr(da.from_array(data[r], chunks=(10, 20)), arr, region=(r,), compute=False) for r in rows
    ]
    futures = cluster.compute(writes)  # four graphs submitted at once, no lock anywhere
    results = cluster.gather(futures)
    assert results == [WriteResult(chunks_written=6, chunks_empty=0)] * 4
    reread = ze.open_array(url, mode="r", storage_options=options)
    assert reread[...].tobytes() == data.tobytes()


def test_worker_killed_mid_write_then_the_computation_finishes_exactly(cluster, tmp_path):
    url = str(tmp_path / "kill.zarr")
    marker = str(tmp_path / "died")
    data = np.arange(8 * 40, dtype="i8").reshape(8 * 40 // 10, 10)  # (32, 10)
    arr = ze.create_array(url, shape=data.shape, dtype="i8", chunks=(4, 10))
    victim = (3, 0)
    x = da.from_array(data, chunks=(4, 10)).map_blocks(
        _tasks.die_once, marker, victim, url, (12, 0), dtype=data.dtype
    )
    result = to_zarr(x, arr)
    with open(marker) as f:  # the first attempt really ran, wrote garbage and died
        assert int(f.read()) > 0
    assert result.chunks_written + result.chunks_empty == 8
    np.testing.assert_array_equal(ze.open_array(url, mode="r")[...], data)
    cluster.wait_for_workers(2, timeout=120)  # the nanny restarted the killed worker


def test_sharded_round_trip_on_the_cluster(cluster, tmp_path):
    data = sample("f4", (48, 32), seed=23)
    where = str(tmp_path / "sh.zarr")
    result = to_zarr(da.from_array(data, chunks=(12, 16)), where, chunks=(4, 8), shards=(24, 16), align=True)
    assert result == WriteResult(chunks_written=4, chunks_empty=0)  # one task, one write per shard
    y = from_zarr(where)
    assert y.chunks == ((24, 24), (16, 16))
    assert y.compute().tobytes() == data.tobytes()


def test_memory_store_is_refused_on_the_cluster_before_anything_is_written(cluster):
    name = f"cluster-{uuid.uuid4().hex}"
    try:
        with pytest.raises(StoreError, match=f"memory://{name}.*other processes.*scheduler='threads'"):
            to_zarr(da.arange(10, chunks=5, dtype="i4"), f"memory://{name}")
        assert list(MemoryStore(name).list_prefix("")) == []  # not even metadata
        arr = ze.create_array(f"memory://{name}", shape=(10,), dtype="i4", chunks=(5,))
        arr[...] = np.arange(10, dtype="i4")
        with pytest.raises(StoreError, match="reads would return fill values"):
            from_zarr(arr)
        with pytest.raises(StoreError, match="data written would be lost"):
            to_zarr(da.zeros(10, chunks=5, dtype="i4"), arr)
        np.testing.assert_array_equal(arr[...], np.arange(10, dtype="i4"))
    finally:
        MemoryStore.discard(name)


def test_memory_graph_built_for_threads_fails_on_the_cluster_instead_of_reading_fill_values(cluster):
    name = f"cluster-{uuid.uuid4().hex}"
    try:
        data = np.arange(1, 11, dtype="i4")
        arr = ze.create_array(f"memory://{name}", shape=(10,), dtype="i4", chunks=(5,))
        arr[...] = data
        with dask.config.set(scheduler="threads"):
            x = from_zarr(arr)  # no refusal: these tasks would run in this process
            np.testing.assert_array_equal(x.compute(), data)
        # the workers unpickle the store in their own process, where its data is not
        with pytest.raises(StoreError, match=f"memory://{name} lives in the memory of process"):
            x.compute()
    finally:
        MemoryStore.discard(name)


def test_zip_write_is_refused_on_the_cluster_and_zip_reads_work(cluster, tmp_path):
    zarr = pytest.importorskip("zarr")
    data = sample("f8", (20, 6), seed=24)
    path = tmp_path / "r.zip"
    arr = ze.create_array(f"zip://{path}", shape=data.shape, dtype="f8", chunks=(5, 6))
    arr[...] = data
    arr.store.close()
    before = path.read_bytes()
    arr = ze.open_array(f"zip://{path}", mode="r+")
    with pytest.raises(StoreError, match="zip it afterwards"):
        to_zarr(da.from_array(data * 2, chunks=(5, 6)), arr)
    arr.store.close()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(from_zarr(f"zip://{path}").compute(), data)  # read in the workers
    np.testing.assert_array_equal(zarr.open_array(zarr.storage.ZipStore(str(path), mode="r"))[...], data)

    new = tmp_path / "new.zip"
    with pytest.raises(StoreError, match="cannot take writes from several workers"):
        to_zarr(da.from_array(data, chunks=(5, 6)), f"zip://{new}")
    assert not new.exists() or zipfile.ZipFile(new).namelist() == []
