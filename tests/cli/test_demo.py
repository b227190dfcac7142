"""``zarr-engine demo --size tiny`` end to end on a LocalCluster, and its building blocks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

from zarr_engine import demo


def test_sizes():
    assert demo.parse_size("tiny").shape == (731, 37, 72)
    full = demo.parse_size("full")
    assert 1.0 < full.nbytes / 2**30 < 1.1
    custom = demo.parse_size("300MiB")
    assert 0.7 < custom.nbytes / (300 * 2**20) < 1.4 and custom.years >= 2
    with pytest.raises(ValueError):
        demo.parse_size("huge")
    with pytest.raises(ValueError, match="more than zero"):
        demo.parse_size("0MiB")
    assert demo.parse_size("1B").shape == demo.parse_size("5MB").shape  # below the smallest: the smallest
    chunk, shard = demo.layout(full)
    assert all(s % c == 0 for s, c in zip(shard, chunk))


def test_synthetic_field_is_plausible_and_block_independent():
    src = demo.SyntheticT2m(demo.parse_size("tiny"))
    whole = src[0:200, :, :]
    np.testing.assert_array_equal(src[50:60, 3:20, 10:70], whole[50:60, 3:20, 10:70])
    assert 180 < whole.min() and whole.max() < 330
    assert np.all(np.abs(whole / demo.QUANTUM - np.round(whole / demo.QUANTUM)) < 1e-3)  # quantised
    lat = src.lat
    north = whole[:, lat > 50].mean(axis=(1, 2))
    # northern winter (January, days 0-30) colder than summer (July, days 180-210)
    assert north[:30].mean() < north[180:210].mean() - 10


@pytest.mark.cluster
@pytest.mark.slow
def test_demo_tiny_end_to_end(run, tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--size", "tiny", "--output", out, "--workers", "2", "--no-progress")
    assert r.code == 0, r.err
    assert "zarr-engine demo report" in r.out and "check          : OK" in r.out
    report = json.loads((out / "report.json").read_text())
    assert report["check"]["ok"] is True
    assert [s["name"] for s in report["steps"]][:3] == [
        "start the cluster", "generate + write the sharded v3 store", "open with engine='zarr_engine' (lazy)"]
    assert report["workers"] == 2 and report["compression_ratio"] > 1.5
    png = out / "demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    t2m = zarr.open_array(str(out / "era5_t2m.zarr/t2m"), mode="r")
    assert t2m.shards == (128, 37, 72) and t2m.shape == (731, 37, 72)
    results = zarr.open_group(str(out / "era5_t2m_results.zarr"), mode="r")
    assert results["climatology"].shape == (12, 37, 72) and results["global_mean"].shape == (731,)
    clim = results["climatology"][...]
    # the climatology is the mean of the stored data, month by month
    days = np.arange(731)
    january = (days < 31) | ((days >= 365) & (days < 365 + 31))
    np.testing.assert_allclose(clim[0], t2m[...][january].mean(axis=0), rtol=1e-5)


def test_demo_usage_errors(run, tmp_path):
    r = run("demo", "--size", "enormous", "--output", tmp_path)
    assert r.code == 2 and "size" in r.err
    r = run("demo", "--size", "tiny", "--output", tmp_path, "-O", "anon=true")
    assert r.code == 2 and "remote" in r.err
