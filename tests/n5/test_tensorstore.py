"""Interoperability with tensorstore's ``n5`` driver, both ways.

tensorstore indexes an N5 dataset in N5 order (``dimensions`` as stored), we
in C order (reversed), so its view is our array transposed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_engine as ze

from .conftest import COMPRESSIONS, DTYPES, sample

ts = pytest.importorskip("tensorstore")

#: tensorstore has no lz4 for N5
TS_COMPRESSIONS = sorted(c for c in COMPRESSIONS if c != "lz4")


def _ts_compression(name: str) -> dict[str, Any]:
    """The compression object without Java's blosc ``nthreads``, which tensorstore refuses."""
    return {k: v for k, v in COMPRESSIONS[name].items() if k != "nthreads"}


def _ts_open(path: Path, **kwargs: Any) -> Any:
    spec = {"driver": "n5", "kvstore": {"driver": "file", "path": str(path)}}
    spec.update(kwargs.pop("spec", {}))
    return ts.open(spec, **kwargs).result()


@pytest.mark.parametrize("compression", TS_COMPRESSIONS)
def test_tensorstore_writes_we_read(tmp_path: Path, compression: str) -> None:
    data = sample((11, 6, 5), "int32", seed=1)  # ragged along every axis
    n5_meta = {"dimensions": list(reversed(data.shape)), "blockSize": [2, 4, 3], "dataType": "int32",
               "compression": _ts_compression(compression)}
    t = _ts_open(tmp_path / "arr", spec={"metadata": n5_meta}, create=True)
    t[...] = data.T
    arr = ze.open_array(str(tmp_path), path="arr", mode="r")
    assert arr.shape == (11, 6, 5) and arr.chunks == (3, 4, 2)
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(arr[4:10, 1:, ::2], data[4:10, 1:, ::2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensorstore_writes_every_dtype(tmp_path: Path, dtype: str) -> None:
    data = sample((5, 7), dtype, seed=2)
    t = _ts_open(tmp_path, spec={"metadata": {"dimensions": [7, 5], "blockSize": [3, 2], "dataType": dtype,
                                              "compression": {"type": "zstd"}}}, create=True)
    t[...] = data.T
    np.testing.assert_array_equal(ze.open_array(str(tmp_path), mode="r")[...], data)


@pytest.mark.parametrize("compression", TS_COMPRESSIONS)
def test_we_write_tensorstore_reads(tmp_path: Path, compression: str) -> None:
    data = sample((9, 10, 3), "float32", seed=3)
    ze.create_array(str(tmp_path), path="g/arr", shape=data.shape, chunks=(4, 3, 2), dtype="float32",
                    zarr_format="n5", compressor=_ts_compression(compression), data=data)
    t = _ts_open(tmp_path / "g" / "arr", open=True)
    assert tuple(t.shape) == (3, 10, 9)
    np.testing.assert_array_equal(np.asarray(t.read().result()).T, data)


@pytest.mark.parametrize("dtype", DTYPES)
def test_we_write_every_dtype_tensorstore_reads(tmp_path: Path, dtype: str) -> None:
    data = sample((6, 5), dtype, seed=4)
    ze.create_array(str(tmp_path), shape=data.shape, chunks=(4, 4), dtype=dtype, zarr_format="n5",
                    compressor="blosc", data=data)
    np.testing.assert_array_equal(np.asarray(_ts_open(tmp_path, open=True).read().result()).T, data)


def test_tensorstore_hierarchy_with_group_attributes(tmp_path: Path) -> None:
    # tensorstore writes datasets only; the group attributes are written as a Java writer would
    (tmp_path / "attributes.json").write_text(json.dumps({"n5": "2.5.1", "project": "fly"}))
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "attributes.json").write_text(json.dumps({"resolution": [8, 8, 40]}))
    a = sample((4, 5), "uint8", seed=5)
    b = sample((3,), "uint64", seed=6)
    t = _ts_open(tmp_path / "raw" / "s0", spec={"metadata": {"dimensions": [5, 4], "blockSize": [2, 2],
                                                             "dataType": "uint8", "compression": {"type": "gzip"}}},
                 create=True)
    t[...] = a.T
    t = _ts_open(tmp_path / "labels" / "ids", spec={"metadata": {"dimensions": [3], "blockSize": [2],
                                                                 "dataType": "uint64", "compression": {"type": "raw"}}},
                 create=True)
    t[...] = b
    doc = json.loads((tmp_path / "raw" / "s0" / "attributes.json").read_text())
    doc["offset"] = [1, 2]
    (tmp_path / "raw" / "s0" / "attributes.json").write_text(json.dumps(doc))

    root = ze.open(str(tmp_path), mode="r")
    assert isinstance(root, ze.Group) and root.zarr_format == "n5"
    assert dict(root.attrs) == {"project": "fly"}
    names = [n for n, _ in root.members(None)]
    assert names == ["labels", "labels/ids", "raw", "raw/s0"]  # "labels" has no attributes.json
    assert dict(root["raw"].attrs) == {"resolution": [8, 8, 40]}
    s0 = root["raw/s0"]
    assert dict(s0.attrs) == {"offset": [1, 2]}
    np.testing.assert_array_equal(s0[...], a)
    np.testing.assert_array_equal(root["labels"]["ids"][...], b)


def test_our_hierarchy_tensorstore_reads(tmp_path: Path) -> None:
    root = ze.open_group(str(tmp_path), mode="w", zarr_format="n5", attributes={"about": "test"})
    em = root.create_group("em", attributes={"scale": 2})
    data = sample((13, 7), "int16", seed=7)
    arr = em.create_array("s1", shape=data.shape, chunks=(5, 5), dtype="int16", compressor="xz",
                          attributes={"note": "nm"})
    arr[...] = data
    t = _ts_open(tmp_path / "em" / "s1", open=True)
    np.testing.assert_array_equal(np.asarray(t.read().result()).T, data)
    # tensorstore can write into what we created, and we read its writes
    t[0:2, 0:3] = np.full((2, 3), -5, dtype="int16")
    data[0:3, 0:2] = -5
    np.testing.assert_array_equal(ze.open_array(str(tmp_path), path="em/s1", mode="r")[...], data)
    assert json.loads((tmp_path / "attributes.json").read_text()) == {"n5": "2.0.0", "about": "test"}
    assert json.loads((tmp_path / "em" / "attributes.json").read_text()) == {"scale": 2}
    assert json.loads((tmp_path / "em" / "s1" / "attributes.json").read_text())["note"] == "nm"


def test_a_container_tensorstore_wrote_without_root_metadata_opens_as_an_n5_group(tmp_path: Path) -> None:
    # tensorstore writes an attributes.json only beside each dataset: the container
    # (and the folders between) have none, yet it is an N5 hierarchy, not "nothing"
    import subprocess
    import sys

    root = tmp_path / "data.n5"
    vol, deep = sample((10, 6), "int16", seed=3), sample((4, 3, 2), "float32", seed=4)
    for path, data in (("vol", vol), ("g/sub/arr", deep)):
        meta = {"dimensions": list(reversed(data.shape)), "blockSize": [2] * data.ndim, "dataType": str(data.dtype),
                "compression": {"type": "gzip"}}
        _ts_open(root / path, spec={"metadata": meta}, create=True)[...] = data.T
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert "attributes.json" not in before

    for mode in ("r", "a"):  # mode "a" opens it too, and writes no metadata of another format into it
        g = ze.open(str(root), mode=mode)
        assert isinstance(g, ze.Group) and g.metadata.zarr_format == "n5"
        assert [name for name, _ in g.members(max_depth=None)] == ["g", "g/sub", "g/sub/arr", "vol"]
        np.testing.assert_array_equal(g["vol"][...], vol)
        np.testing.assert_array_equal(g["g/sub/arr"][...], deep)
        np.testing.assert_array_equal(ze.open_group(str(root), mode=mode)["vol"][...], vol)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before

    out = subprocess.run([sys.executable, "-m", "zarr_engine.cli", "ls", str(root)], capture_output=True, text=True)
    assert out.returncode == 0 and "vol" in out.stdout and "(10, 6) int16" in out.stdout, out.stderr
    # a folder with other files (no N5 dataset below) is still no node
    (tmp_path / "other" / "x").mkdir(parents=True)
    (tmp_path / "other" / "x" / "attributes.json").write_text('{"unrelated": 1}')
    with pytest.raises(ze.errors.NodeNotFoundError):
        ze.open(str(tmp_path / "other"), mode="r")
