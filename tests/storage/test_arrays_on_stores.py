"""Arrays, chunked and sharded, v2 and v3, written and read through S3 (moto),
GCS (emulator), SQLite and zip; zarr-python's FsspecStore on the same S3
bucket both ways; and consolidated metadata over S3 costing one request."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from tests.sharding.counting import CountingStore
from tests.support import assert_same, sample
from zarr_engine.storage import FsspecStore

LAYOUTS = {
    "v2": dict(zarr_format=2, chunks=(8, 8)),
    "v3": dict(zarr_format=3, chunks=(8, 8)),
    "v3-sharded": dict(zarr_format=3, chunks=(4, 8), shards=(8, 16)),
}


@pytest.fixture(params=["s3", "gcs", "sqlite", "zip"])
def where(request, tmp_path) -> tuple[str, dict[str, Any] | None]:
    """(URL, storage_options) of a fresh place in each kind of store."""
    kind = request.param
    if kind == "s3":
        return request.getfixturevalue("s3_bucket_url"), request.getfixturevalue("s3_store_options")
    if kind == "gcs":
        return request.getfixturevalue("gcs_bucket_url"), request.getfixturevalue("gcs_store_options")
    if kind == "sqlite":
        return f"sqlite://{tmp_path / 'arrays.db'}", None
    return f"zip://{tmp_path / 'arrays.zip'}", None


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_arrays_round_trip_through_every_store(where, layout):
    url, opts = where
    data = sample("float32", (37, 29), seed=7)
    a = ze.create_array(url, path="grp/arr", shape=data.shape, dtype="f4", storage_options=opts,
                        attributes={"units": "K"}, **LAYOUTS[layout])
    a[...] = data
    a[3:9, 2:20] = -data[3:9, 2:20]  # a partial write: read-modify-write of chunks (and shards)
    expected = data.copy()
    expected[3:9, 2:20] *= -1
    a.store.close()  # a zip's index is written on close

    b = ze.open_array(url, path="grp/arr", mode="r", storage_options=opts)
    assert b.zarr_format == LAYOUTS[layout]["zarr_format"]
    assert b.shards == LAYOUTS[layout].get("shards")
    assert dict(b.attrs) == {"units": "K"}
    assert_same(b[...], expected)
    assert_same(b[30:, ::3], expected[30:, ::3])
    np.testing.assert_array_equal(b.vindex[[0, 36, 5], [28, 0, 5]], expected[[0, 36, 5], [28, 0, 5]])
    g = ze.open_group(url, mode="r", storage_options=opts)
    assert g.keys() == ["grp"] and g["grp"].keys() == ["arr"]
    b.store.close()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_zarr_python_shares_an_s3_bucket_with_us(s3_bucket_url, s3_store_options, layout):
    """zarr-python's FsspecStore and ours on the same bucket: each reads what the other wrote."""
    from zarr.storage import FsspecStore as ZarrFsspecStore

    kw = dict(LAYOUTS[layout])
    data = sample("int32", (37, 29), seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ZarrFsspecStore.from_url(f"{s3_bucket_url}/theirs", storage_options=s3_store_options,
                                          read_only=False)
        z = zarr.create_array(theirs, shape=data.shape, dtype="i4", **kw)
        z[...] = data
    ours = ze.open_array(f"{s3_bucket_url}/theirs", mode="r", storage_options=s3_store_options)
    assert_same(ours[...], data)

    mine = ze.create_array(f"{s3_bucket_url}/ours", shape=data.shape, dtype="i4",
                           storage_options=s3_store_options, **kw)
    mine[...] = data * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = ZarrFsspecStore.from_url(f"{s3_bucket_url}/ours", storage_options=s3_store_options, read_only=True)
        np.testing.assert_array_equal(zarr.open_array(back, mode="r")[...], data * 3)


class ListingCountingStore(CountingStore):
    """CountingStore that also counts listings (a listing is a request too)."""

    def list_prefix(self, prefix: str) -> Iterator[str]:
        self._note("list_prefix", prefix)
        return self.inner.list_prefix(prefix)

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        self._note("list_dir", prefix)
        return self.inner.list_dir(prefix)


@pytest.mark.parametrize("fmt", [3, 2])
def test_consolidated_group_of_100_arrays_opens_with_one_request(s3_bucket_url, s3_store_options, fmt):
    url, opts = s3_bucket_url, s3_store_options
    root = ze.create_group(url, zarr_format=fmt, storage_options=opts)
    for i in range(100):
        root.create_array(f"var{i:03d}", shape=(10, 4), chunks=(5, 4), dtype="f4", attributes={"i": i})
    ze.consolidate_metadata(url, storage_options=opts)

    store = ListingCountingStore(FsspecStore(url, opts, read_only=True), prefers_batches=True)
    g = ze.open_group(store, mode="r")
    names = sorted(g.keys())
    shapes = {n: g[n].shape for n in names}
    attrs = [g[n].attrs["i"] for n in names]
    assert len(names) == 100 and set(shapes.values()) == {(10, 4)} and attrs == list(range(100))
    if fmt == 3:
        # the root's zarr.json holds everything: one GET, no listing, no per-array request
        assert store.log == [("get", "zarr.json")]
    else:
        # v2: zarr.json is looked for first (absent), then .zgroup/.zattrs/.zmetadata in one batch
        assert [m for m, _ in store.log] == ["get", "get_many"]
        assert ".zmetadata" in store.log[1][1]
