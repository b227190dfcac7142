"""Zarr v2 chunks compressed by a numcodecs compressor are zarr-python's bytes:
it hands the compressor the chunk's array, so Blosc shuffles items of the
dtype's size. Compared file by file with the same writes through zarr-python."""

from __future__ import annotations

import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

import zarr_engine as ze
from tests.support import sample


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file() and not p.name.startswith(".z")}


@pytest.mark.parametrize("shuffle", [0, 1, 2, -1], ids=["noshuffle", "shuffle", "bitshuffle", "auto"])
@pytest.mark.parametrize(("dtype", "order"), [("f8", "C"), ("i4", "C"), ("u2", "C"), (">f8", "F")], ids=str)
def test_v2_blosc_chunks_are_zarr_pythons_files(tmp_path, dtype, order, shuffle):
    data = np.round(sample(dtype, (23, 17), seed=4), 1) if np.dtype(dtype).kind == "f" else sample(dtype, (23, 17), seed=4)
    kw = dict(shape=data.shape, chunks=(8, 6), dtype=dtype, zarr_format=2, order=order, fill_value=0,
              compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=shuffle))
    ze.create_array(str(tmp_path / "ours"), **kw)[...] = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(str(tmp_path / "theirs"), **kw)[...] = data
    ours, theirs = _files(tmp_path / "ours"), _files(tmp_path / "theirs")
    assert sorted(ours) == sorted(theirs) and len(theirs) == 9
    for key in theirs:
        assert ours[key][3] == np.dtype(dtype).itemsize  # blosc's typesize, in its header
        assert ours[key] == theirs[key], key


def test_v2_blosc_shuffle_shrinks_float_chunks(tmp_path):
    data = np.linspace(0, 1, 64 * 64, dtype="f8").reshape(64, 64)
    kw = dict(shape=data.shape, chunks=(64, 64), dtype="f8", zarr_format=2,
              compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE))
    a = ze.create_array(str(tmp_path / "a"), **kw)
    a[...] = data
    stored = (tmp_path / "a" / "0.0").read_bytes()
    bytewise = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1).encode(data.reshape(-1).view("u1"))
    assert 3 * len(stored) < len(bytewise)  # ~10 KB against ~31 KB for these 32 KiB
    np.testing.assert_array_equal(ze.open_array(str(tmp_path / "a"))[...], data)
