"""The CLI against S3 (moto's server), with storage options given as -O key=value."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from tests.cli.conftest import TEMPERATURE, option_args

pytestmark = pytest.mark.services


def test_copy_info_verify_get_on_s3(run, hierarchy, s3_bucket_url, s3_store_options):
    opts = option_args(s3_store_options)
    url = f"{s3_bucket_url}/h.zarr"
    r = run("copy", hierarchy, url, "--dst-storage-option", "use_listings_cache=false",
            *[a.replace("-O", "--dst-storage-option") for a in opts], "--no-progress")
    assert r.code == 0, r.err
    info = run("info", f"{url}/temperature", "--json", *opts)
    assert info.code == 0, info.err
    assert info.json()["shape"] == [20, 30, 40] and info.json()["stored_units_initialized"] == 18
    got = run("get", f"{url}/temperature", "-s", "3, 4:9, ::5", "--json", *opts)
    np.testing.assert_array_equal(np.array(got.json()["data"], dtype="f4"), TEMPERATURE[3, 4:9, ::5])
    ver = run("verify", url, "--json", *opts)
    assert ver.code == 0 and ver.json()["corrupt_count"] == 0
    assert {a["path"] for a in ver.json()["arrays"]} == {"/temperature", "/obs/count", "/obs/station"}
    # and zarr-python reads what the CLI wrote there
    g = zarr.open_group(url, mode="r", storage_options=s3_store_options)
    np.testing.assert_array_equal(g["obs/station"][...], np.arange(64 * 64, dtype="u2").reshape(64, 64))


def test_corrupt_object_on_s3(run, hierarchy, s3_bucket_url, s3_store_options):
    import fsspec

    opts = option_args(s3_store_options)
    url = f"{s3_bucket_url}/c.zarr"
    assert run("copy", hierarchy / "temperature", url, *opts, "--no-progress").code == 0
    fs = fsspec.filesystem("s3", **s3_store_options)
    fs.pipe(f"{url[len('s3://'):]}/c/0/1/1", b"garbage")
    r = run("verify", url, "--json", *opts)
    assert r.code == 1
    assert [c["key"] for c in r.json()["arrays"][0]["corrupt"]] == ["c/0/1/1"]


def test_missing_things_on_s3(run, hierarchy, s3_bucket_url, s3_store_options):
    opts = option_args(s3_store_options)
    r = run("info", f"{s3_bucket_url}/nothing.zarr", *opts)
    assert r.code == 3 and len(r.err.strip().splitlines()) == 1
    # a missing bucket is "not found" (3), as the exit-code table says, not a store failure (4)
    r = run("ls", "s3://no-such-bucket-zarr-engine/x.zarr", *opts)
    assert r.code == 3 and len(r.err.strip().splitlines()) == 1 and "NoSuchBucket" in r.err
    r = run("copy", hierarchy, "s3://no-such-bucket-zarr-engine/x.zarr", *opts, "--no-progress")
    assert r.code == 3 and len(r.err.strip().splitlines()) == 1 and "NoSuchBucket" in r.err


@pytest.mark.cluster
@pytest.mark.slow
def test_demo_writes_to_s3(run, tmp_path, s3_bucket_url, s3_store_options):
    opts = option_args(s3_store_options)
    store = f"{s3_bucket_url}/era5.zarr"
    r = run("demo", "--size", "tiny", "--store", store, "--output", tmp_path, "--workers", "2", "--no-progress", *opts)
    assert r.code == 0, r.err
    assert "check          : OK" in r.out
    results = zarr.open_group(f"{s3_bucket_url}/era5_results.zarr", mode="r", storage_options=s3_store_options)
    assert results["anomaly"].shape == (12, 37, 72)
    assert zarr.open_array(f"{store}/t2m", mode="r", storage_options=s3_store_options).shards == (128, 37, 72)
    assert (tmp_path / "demo.png").is_file()
