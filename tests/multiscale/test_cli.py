"""``zarr-engine pyramid``: builds the same pyramid as the function, reports it, and refuses bad input."""

from __future__ import annotations

import json

import numpy as np

import zarr_engine as ze
from tests.multiscale.reference import reference_pyramid
from zarr_engine.cli import main
from zarr_engine.multiscale import open_pyramid


def _source(tmp_path):
    data = np.random.default_rng(3).integers(0, 255, (10, 50, 44)).astype("uint8")
    src = ze.create_array(str(tmp_path / "src.zarr"), shape=data.shape, dtype=data.dtype, chunks=(5, 16, 16))
    src[...] = data
    return data, str(tmp_path / "src.zarr")


def test_cli_builds_a_pyramid_with_progress_and_json(tmp_path, capsys):
    data, src = _source(tmp_path)
    dst = str(tmp_path / "img.zarr")
    code = main(["pyramid", src, dst, "--chunks", "4,16,16", "--zarr-format", "2", "--scale", "2,1,1",
                 "--units", "micrometer", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["version"] == "0.4" and report["axes"] == ["z", "y", "x"]
    assert "level 1" in err  # the progress bar names each level
    pyr = open_pyramid(dst)
    assert [r["shape"] for r in report["levels"]] == [list(lev.shape) for lev in pyr]
    assert pyr[0].scale == (2.0, 1.0, 1.0) and pyr.axes[0].unit == "micrometer"
    for lev, want in zip(pyr, reference_pyramid(data, [True] * 3, "mean", len(pyr))):
        np.testing.assert_array_equal(lev.array[...], want)


def test_cli_adds_labels_and_refuses_bad_input(tmp_path, capsys):
    data, src = _source(tmp_path)
    dst = str(tmp_path / "img.zarr")
    assert main(["pyramid", src, dst, "--levels", "2", "--no-progress"]) == 0
    assert main(["pyramid", src, dst, "--levels", "2", "--no-progress"]) == 2  # exists: usage error
    assert "--overwrite" in capsys.readouterr().err
    assert main(["pyramid", src, dst, "--label", "seg", "--no-progress"]) == 0
    pyr = open_pyramid(dst)
    assert pyr.labels == ["seg"] and pyr.label("seg").method == "mode" and len(pyr.label("seg")) == 2
    assert main(["pyramid", src, str(tmp_path / "x.zarr"), "--chunks", "a,b"]) == 2
    assert main(["pyramid", src, str(tmp_path / "x.zarr"), "--zarr-format", "2", "--shards", "8"]) == 2
    assert main(["pyramid", str(tmp_path / "missing.zarr"), str(tmp_path / "y.zarr")]) == 3
    capsys.readouterr()
