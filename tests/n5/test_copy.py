"""N5 <-> Zarr conversion through the core API (what ``zarr-engine copy`` does) and dask on N5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_engine as ze

from .conftest import sample


def _copy_array(src: ze.Array, dst: str, path: str, **create: Any) -> ze.Array:
    """Read ``src`` whole, create an array like it in ``dst`` and write it: a copy."""
    out = ze.create_array(dst, path=path, shape=src.shape, dtype=src.dtype, chunks=src.chunks,
                          attributes=dict(src.attrs), **create)
    out[...] = src[...]
    return out


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_n5_to_zarr_and_back(tmp_path: Path, zarr_format: int) -> None:
    data = sample((17, 9), "uint16", seed=8)
    n5 = ze.create_array(str(tmp_path / "src.n5"), path="vol", shape=data.shape, chunks=(8, 4), dtype="uint16",
                         zarr_format="n5", compressor="zstd", attributes={"res": [4, 4]}, data=data)
    zarr_copy = _copy_array(n5, str(tmp_path / "dst.zarr"), "vol", zarr_format=zarr_format, compressors="auto")
    reopened = ze.open_array(str(tmp_path / "dst.zarr"), path="vol", mode="r")
    assert reopened.zarr_format == zarr_format
    np.testing.assert_array_equal(reopened[...], data)
    assert dict(reopened.attrs) == {"res": [4, 4]}
    assert zarr_copy.chunks == (8, 4)

    back = _copy_array(reopened, str(tmp_path / "back.n5"), "vol", zarr_format="n5", compressor="gzip")
    assert back.metadata.zarr_format == "n5"
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "back.n5"), path="vol", mode="r")[...], data)
    doc = json.loads((tmp_path / "back.n5" / "vol" / "attributes.json").read_text())
    assert doc["dimensions"] == [9, 17] and doc["res"] == [4, 4]


def test_dask_reads_and_writes_n5(tmp_path: Path) -> None:
    zdask = pytest.importorskip("zarr_engine.dask")
    data = sample((10, 12), "float64", seed=9)
    src = ze.create_array(str(tmp_path), path="a", shape=data.shape, chunks=(4, 5), dtype="float64",
                          zarr_format="n5", compressor="blosc", data=data)
    lazy = zdask.from_zarr(src)
    assert lazy.chunks == ((4, 4, 2), (5, 5, 2))
    np.testing.assert_array_equal(lazy.compute(), data)
    dst = ze.create_array(str(tmp_path), path="b", shape=data.shape, chunks=(4, 5), dtype="float64",
                          zarr_format="n5", compressor="gzip")
    zdask.to_zarr(lazy / 2, dst)
    np.testing.assert_array_equal(ze.open_array(str(tmp_path), path="b", mode="r")[...], data / 2)
