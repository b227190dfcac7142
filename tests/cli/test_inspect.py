"""``info``, ``tree``, ``ls`` and ``get``, in-process, and the exit codes of common mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli.conftest import TEMPERATURE
from zarr_engine.cli._common import UsageError, parse_selection, parse_storage_options


def test_info_array_json(run, hierarchy):
    r = run("info", hierarchy / "temperature", "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["node"] == "array" and s["zarr_format"] == 3
    assert s["shape"] == [20, 30, 40] and s["chunks"] == [8, 16, 16] and s["shards"] is None
    assert s["dtype"] == "float32" and s["fill_value"] == "NaN"
    assert s["dimension_names"] == ["time", "y", "x"]
    assert s["nbytes"] == TEMPERATURE.nbytes
    assert s["stored_units_total"] == 3 * 2 * 3 and s["stored_units_initialized"] == 18
    assert 0 < s["nbytes_stored"] and s["compression_ratio"] == pytest.approx(s["nbytes"] / s["nbytes_stored"], rel=1e-3)
    assert s["compressors"] and s["compressors"][0]["name"] == "zstd"
    assert s["attributes"] == {"units": "K"}


def test_info_sharded_and_missing(run, hierarchy):
    s = run("info", hierarchy / "obs/station", "--json").json()
    assert s["shards"] == [32, 32] and s["chunks"] == [8, 8]
    assert s["stored_unit"] == "shard" and s["stored_units_total"] == 4 and s["stored_units_initialized"] == 4
    assert s["serializer"]["name"] == "sharding_indexed"
    c = run("info", hierarchy / "obs/count", "--json").json()
    assert c["stored_units_initialized"] == 4 and c["stored_units_total"] == 10 and c["fill_value"] == -1


def test_info_text_and_group(run, hierarchy):
    r = run("info", hierarchy / "obs/station")
    assert r.code == 0
    assert "Shard shape        : (32, 32)" in r.out and "Shards initialised : 4/4" in r.out
    g = run("info", hierarchy, "--json").json()
    assert g["node"] == "group" and g["arrays"] == 3 and g["groups"] == 1
    assert g["attributes"] == {"title": "CLI test", "version": 3}
    assert {m["name"] for m in g["members"]} == {"temperature", "obs", "obs/count", "obs/station"}


def test_tree_and_ls(run, hierarchy):
    r = run("tree", hierarchy)
    assert r.code == 0
    assert "temperature (20, 30, 40) float32" in r.out and "station (64, 64) uint16" in r.out
    assert run("tree", hierarchy, "--level", "1").out.count("count") == 0
    ls = run("ls", hierarchy)
    assert ls.out.splitlines()[0].startswith("obs/") and "temperature" in ls.out and "count" not in ls.out
    rec = run("ls", hierarchy, "-r", "--json").json()
    assert {r["name"]: r["node"] for r in rec} == {"obs": "group", "obs/count": "array", "obs/station": "array",
                                                  "temperature": "array"}


@pytest.mark.parametrize("text, expected", [
    ("0:10, :, 5", np.s_[0:10, :, 5]),
    ("-3:, ::7, -1", np.s_[-3:, ::7, -1]),
    ("..., 2:9:3", np.s_[..., 2:9:3]),
    ("4", np.s_[4]),
    ("19:0:-4, 1", np.s_[19:0:-4, 1]),
])
def test_get_matches_numpy(run, hierarchy, text, expected):
    r = run("get", hierarchy / "temperature", "--select", text, "--json")
    assert r.code == 0, r.err
    got = r.json()
    want = TEMPERATURE[expected]
    assert got["shape"] == list(want.shape)
    np.testing.assert_array_equal(np.array(got["data"], dtype="f4"), want)


def test_get_integer_lists_and_npy(run, hierarchy, tmp_path):
    out = tmp_path / "sel.npy"
    r = run("get", hierarchy / "temperature", "-s", "[1, 5, 7], 3, [0, 39]", "-o", out)
    assert r.code == 0, r.err
    np.testing.assert_array_equal(np.load(out), TEMPERATURE[[1, 5, 7]][:, 3][:, [0, 39]])
    text = run("get", hierarchy / "obs/count", "-s", "30:40").out
    assert text.split() == ["[30", "31", "32", "33", "34", "-1", "-1", "-1", "-1", "-1]"]


def test_parse_selection_is_strict():
    assert parse_selection("0:10, :, 5") == ((slice(0, 10), slice(None), 5), False)
    sel, ortho = parse_selection("[2, 4],")
    assert ortho and sel[0].tolist() == [2, 4] and len(sel) == 1
    for bad in ("__import__('os')", "1:2:0", "..., ...", "[1, 2", "1.5", "a:b"):
        with pytest.raises(UsageError):
            parse_selection(bad)


def test_parse_storage_options():
    opts = parse_storage_options(["anon=true", "client_kwargs.endpoint_url=http://h:9", "n=3", "s=abc",
                                  "client_kwargs.region_name=us"])
    assert opts == {"anon": True, "n": 3, "s": "abc", "client_kwargs": {"endpoint_url": "http://h:9", "region_name": "us"}}
    with pytest.raises(UsageError):
        parse_storage_options(["novalue"])


def test_errors_are_one_line_with_trustworthy_codes(run, hierarchy, tmp_path):
    cases = [
        (("info", tmp_path / "absent.zarr"), 3, "no array or group"),
        (("get", hierarchy / "temperature", "--select", "1, 2, 3, 4"), 2, "selection"),
        (("get", hierarchy / "temperature", "--select", "os.system('x')"), 2, "cannot read"),
        (("get", hierarchy / "temperature", "--select", "99"), 2, "selection"),
        (("get", hierarchy, "--select", "0"), 2, "is a group"),
        (("get", hierarchy / "temperature", "--max-bytes", "1KiB"), 2, "--max-bytes"),
        (("info", hierarchy, "--no-such-flag"), 2, "unrecognized arguments"),
        (("info", "nosuchproto://bucket/x"), 4, "unknown protocol"),
        (("info", hierarchy, "-O", "anon=true"), 4, "storage_options"),
        (("verify", hierarchy, "--jobs", "0"), 2, "--jobs"),
    ]
    for argv, code, words in cases:
        r = run(*argv)
        assert r.code == code, (argv, r.code, r.err)
        assert len(r.err.strip().splitlines()) == 1, (argv, r.err)
        assert words in r.err, (argv, r.err)
        assert "Traceback" not in r.err


def test_debug_shows_the_traceback(run, tmp_path):
    r = run("info", tmp_path / "absent.zarr", "--debug")
    assert r.code == 3 and "Traceback" in r.err


def test_unreadable_metadata_is_exit_5(run, tmp_path):
    bad = tmp_path / "bad.zarr"
    bad.mkdir()
    (bad / "zarr.json").write_text('{"zarr_format": 3, "node_type": "array"}')
    r = run("info", bad)
    assert r.code == 5 and len(r.err.strip().splitlines()) == 1


def test_help_everywhere(run):
    top = run("--help")
    assert top.code == 0 and "exit codes" in top.out
    for cmd in ("info", "tree", "ls", "get", "copy", "verify", "consolidate", "bench", "demo"):
        r = run(cmd, "--help")
        assert r.code == 0 and "usage: zarr-engine " + cmd in r.out, cmd
    assert "--storage-option" in run("copy", "--help").out


def test_consolidate(run, hierarchy):
    r = run("consolidate", hierarchy)
    assert r.code == 0 and "4 node(s)" in r.out
    assert run("info", hierarchy, "--json").json()["consolidated"] is True


def test_bench_reports_what_it_does(run, monkeypatch, tmp_path):
    import zarr_engine.cli as cli

    monkeypatch.setattr(cli, "_source_root", lambda: tmp_path)
    r = run("bench")
    assert r.code == 3 and "no benchmark suite" in r.err
