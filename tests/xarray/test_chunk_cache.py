"""``open_dataset(..., engine="zarr_engine", chunk_cache_bytes=N)``: one decoded-chunk
cache for all of a dataset's variables, checked against xarray's zarr-python engine."""

from __future__ import annotations

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")

from zarr_engine.errors import ArgumentError  # noqa: E402
from zarr_engine.storage.local import LocalStore  # noqa: E402
from zarr_engine.xarray import ZarrEngineStore  # noqa: E402
from zarr_engine.xarray.array import ZarrEngineBackendArray  # noqa: E402
from tests.sharding.counting import CountingStore  # noqa: E402


def written_by_xarray(path) -> xr.Dataset:
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {
            "temp": (("time", "y", "x"), rng.normal(280, 5, (12, 20, 20)).astype("f4")),
            "rain": (("time", "y", "x"), rng.gamma(1.0, 2.0, (12, 20, 20))),
        },
        coords={"time": np.arange(12), "y": np.arange(20.0), "x": np.arange(20.0)},
    )
    enc = {v: {"chunks": (4, 10, 10)} for v in ds.data_vars}
    ds.to_zarr(str(path), mode="w", zarr_format=3, consolidated=False, encoding=enc)  # zarr-python writes
    return xr.open_zarr(str(path), chunks=None, consolidated=False)


def test_variables_share_one_cache_and_read_what_zarr_python_reads(tmp_path):
    expected = written_by_xarray(tmp_path / "d.zarr")
    counting = CountingStore(LocalStore(str(tmp_path / "d.zarr"), read_only=True))
    store = ZarrEngineStore.open_group(counting, "r", consolidated=False, chunk_cache_bytes=1 << 20)
    ds = xr.open_dataset(store, engine="zarr_engine", chunks=None)
    series = dict(time=slice(None), y=3, x=4)  # a time series at one point: 3 chunks per variable
    for name in ("temp", "rain"):
        xr.testing.assert_identical(ds[name].isel(series).load(), expected[name].isel(series).load())
    counting.reset()
    for name in ("temp", "rain"):  # the neighbouring points: every chunk is kept
        for y, x in ((3, 5), (9, 0), (0, 9)):
            got = ds[name].isel(time=slice(None), y=y, x=x).values
            np.testing.assert_array_equal(got, expected[name].isel(time=slice(None), y=y, x=x).values)
    assert counting.reads() == 0, counting.log
    cache = store._chunk_cache
    assert cache is not None and len(cache) == 6 and cache.hits == 18


def test_the_open_dataset_argument_turns_it_on(tmp_path):
    expected = written_by_xarray(tmp_path / "d.zarr")
    ds = xr.open_dataset(tmp_path / "d.zarr", engine="zarr_engine", chunks=None, consolidated=False,
                         chunk_cache_bytes=1 << 20)
    window = dict(time=slice(2, 6), y=slice(5, 15), x=slice(8, 12))
    for _ in range(2):
        xr.testing.assert_identical(ds.isel(window).load(), expected.isel(window).load())
    caches = {id(backend_array(ds[v]).get_array().chunk_cache) for v in ("temp", "rain")}
    cache = backend_array(ds["temp"]).get_array().chunk_cache
    assert len(caches) == 1 and cache.max_bytes == 1 << 20
    # the window spans 2x2x2 chunks a variable, kept by the first pass; the 3 other misses
    # are the index coordinates, read whole when the dataset opened (and not kept)
    assert (len(cache), cache.hits, cache.misses) == (16, 16, 16 + 3)
    xr.testing.assert_identical(ds.load(), expected.load())


def backend_array(da: xr.DataArray) -> ZarrEngineBackendArray:
    """The backend array under xarray's lazy wrappers."""
    inner = da.variable._data
    while not isinstance(inner, ZarrEngineBackendArray):
        inner = inner.array
    return inner


def test_a_bad_budget_or_one_for_a_store_already_open_is_refused(tmp_path):
    written_by_xarray(tmp_path / "d.zarr")
    with pytest.raises(ArgumentError, match="chunk_cache_bytes"):
        xr.open_dataset(tmp_path / "d.zarr", engine="zarr_engine", consolidated=False, chunk_cache_bytes=-5)
    store = ZarrEngineStore.open_group(str(tmp_path / "d.zarr"), "r", consolidated=False)
    with pytest.raises(ArgumentError, match="ZarrEngineStore.open_group"):
        xr.open_dataset(store, engine="zarr_engine", chunk_cache_bytes=1 << 20)


def test_dask_chunks_smaller_than_the_stored_ones_read_each_chunk_once(tmp_path):
    """One dask task per time step of a chunk 4 steps deep: without the cache each
    task reads and decodes the whole stored chunk again."""
    dask = pytest.importorskip("dask")
    expected = written_by_xarray(tmp_path / "d.zarr")
    counting = CountingStore(LocalStore(str(tmp_path / "d.zarr"), read_only=True))
    store = ZarrEngineStore.open_group(counting, "r", consolidated=False, chunk_cache_bytes=1 << 20)
    with pytest.warns(UserWarning, match="separate the stored chunks"):
        ds = xr.open_dataset(store, engine="zarr_engine", chunks={"time": 1})
    assert ds.temp.data.numblocks == (12, 2, 2)
    counting.reset()
    with dask.config.set(scheduler="threads", num_workers=2):
        got = ds.temp.max("time").compute()
    xr.testing.assert_identical(got, expected.temp.max("time"))
    chunk_reads = [k for m, keys in counting.log for k in ([keys] if isinstance(keys, str) else keys)]
    # 48 tasks, each wanting part of one of the 12 stored chunks: 48 reads without a
    # cache. With it a chunk is read again only by a task that missed it while the
    # other thread was still decoding it.
    assert len(set(chunk_reads)) == 12
    assert len(chunk_reads) <= 2 * 12
