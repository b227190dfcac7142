"""Every level of a built pyramid equals a plain-numpy reference downsampling of the level
before it: 2-D, 3-D and 5-D images, uint8/uint16/float32, Zarr v2 and v3, every method."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

import zarr_engine as ze
from tests.multiscale.reference import reference_pyramid
from zarr_engine.multiscale import build_pyramid, open_pyramid

#: (axes, shape, chunks) with sizes that are odd at some level, so the edge trimming is exercised
CASES = {
    "2d": ("yx", (77, 93), (16, 16)),
    "3d": ("zyx", (13, 45, 38), (4, 8, 8)),
    "5d": ("tczyx", (2, 3, 11, 30, 27), (1, 2, 4, 8, 8)),
}


def _image(dtype: str, shape: tuple[int, ...], seed: int, labels: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if labels:
        return rng.integers(0, 4, shape).astype(dtype)  # few values: ties and repeats in windows
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) * 1000 - 200).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)


def _expected_levels(shape: tuple[int, ...], chunks: tuple[int, ...], space: list[bool]) -> int:
    """The default rule, restated: add levels until every space axis fits in one chunk."""
    n, cur = 1, list(shape)
    while any(s > c for s, c, sp in zip(cur, chunks, space) if sp):
        cur = [s // 2 if sp and s >= 2 else s for s, sp in zip(cur, space)]
        n += 1
    return n


def _check(pyr, data: np.ndarray, method: str, space: list[bool]) -> None:
    ref = reference_pyramid(data, space, method, len(pyr))
    for lev, want in zip(pyr, ref):
        got = lev.array[...]
        assert got.dtype == data.dtype
        assert got.shape == want.shape, f"level {lev.path}"
        np.testing.assert_array_equal(got, want, err_msg=f"level {lev.path}")


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_mean_pyramid_equals_numpy_reference(tmp_path, case, dtype, zarr_format):
    names, shape, chunks = CASES[case]
    data = _image(dtype, shape, seed=len(case) + len(dtype) + zarr_format)
    space = [n in "zyx" for n in names]
    pyr = build_pyramid(data, str(tmp_path / "img.zarr"), chunks=chunks, zarr_format=zarr_format)
    assert len(pyr) == _expected_levels(shape, chunks, space)
    assert len(pyr) >= 3
    assert pyr.axis_names == tuple(names)
    assert pyr.version == {2: "0.4", 3: "0.5"}[zarr_format]
    for lev in pyr:
        assert lev.array.zarr_format == zarr_format
    _check(pyr, data, "mean", space)


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("method", ["nearest", "mode"])
def test_nearest_and_mode_pyramids_equal_numpy_reference(tmp_path, case, method, zarr_format):
    names, shape, chunks = CASES[case]
    data = _image("uint16", shape, seed=7, labels=method == "mode")
    space = [n in "zyx" for n in names]
    pyr = build_pyramid(data, str(tmp_path / "img.zarr"), chunks=chunks, zarr_format=zarr_format, method=method)
    assert pyr.method == method
    _check(pyr, data, method, space)


@pytest.mark.parametrize("kind", ["dask", "zarr_engine"])
def test_dask_and_zarr_engine_sources_give_the_same_levels(tmp_path, kind):
    names, shape, chunks = CASES["3d"]
    data = _image("uint16", shape, seed=3)
    if kind == "dask":
        # irregular dask chunks that cut the stored grid: level 0 is realigned, not refused
        source = da.from_array(data, chunks=(5, 17, 11))
    else:
        source = ze.create_array(str(tmp_path / "src.zarr"), shape=shape, dtype=data.dtype, chunks=(3, 10, 10))
        source[...] = data
    pyr = build_pyramid(source, str(tmp_path / "img.zarr"), chunks=chunks)
    assert len(pyr) == _expected_levels(shape, chunks, [True, True, True])
    np.testing.assert_array_equal(pyr[0].array[...], data)  # level 0 is the source, whatever its chunking
    assert pyr[0].array.chunks == chunks
    _check(pyr, data, "mean", [True, True, True])


def test_sharded_levels_equal_reference_and_keep_their_layout(tmp_path):
    data = _image("uint16", (40, 70, 66), seed=5)
    pyr = build_pyramid(data, str(tmp_path / "img.zarr"), chunks=(4, 8, 8), shards=(8, 16, 32))
    _check(pyr, data, "mean", [True, True, True])
    assert pyr[0].array.shards == (8, 16, 32)
    assert pyr[0].array.chunks == (4, 8, 8)
    # a level smaller than a shard gets a shard clipped to whole chunks covering it
    assert pyr[2].shape == (10, 17, 16)
    assert pyr[2].array.shards == (8, 16, 16)


def test_levels_and_factor_arguments(tmp_path):
    data = _image("uint8", (3, 81, 81), seed=9)
    pyr = build_pyramid(data, str(tmp_path / "a.zarr"), levels=3, factor=3, chunks=(3, 9, 9))
    assert [lev.shape for lev in pyr] == [(3, 81, 81), (1, 27, 27), (1, 9, 9)]
    assert pyr[1].scale == (3.0, 3.0, 3.0)
    # asking for more levels than the image can give stops when nothing can shrink
    pyr = build_pyramid(data[:, :8, :8], str(tmp_path / "b.zarr"), levels=10, chunks=4)
    assert [lev.shape for lev in pyr] == [(3, 8, 8), (1, 4, 4), (1, 2, 2), (1, 1, 1)]


def test_reopened_pyramid_matches_the_returned_one(tmp_path):
    data = _image("float32", (50, 60), seed=11)
    url = str(tmp_path / "img.zarr")
    built = build_pyramid(data, url, chunks=16)
    opened = open_pyramid(url)
    assert [(lev.path, lev.shape, lev.scale, lev.translation) for lev in opened] == [
        (lev.path, lev.shape, lev.scale, lev.translation) for lev in built
    ]
    np.testing.assert_array_equal(opened.to_dask(2).compute(), built[2].array[...])


def test_level_zero_is_a_byte_copy_when_the_source_is_stored_alike(tmp_path):
    data = _image("uint16", (13, 45, 38), seed=4)
    data[:4] = 0  # whole chunks of fill value: absent in the source, absent in the copy
    src = ze.create_array(str(tmp_path / "src.zarr"), shape=data.shape, dtype=data.dtype, chunks=(4, 8, 8),
                          fill_value=0)
    src[...] = data
    pyr = build_pyramid(src, str(tmp_path / "img.zarr"), chunks=(4, 8, 8))
    src_dir, lev_dir = tmp_path / "src.zarr" / "c", tmp_path / "img.zarr" / "0" / "c"
    src_chunks = {p.relative_to(src_dir): p.read_bytes() for p in src_dir.rglob("*") if p.is_file()}
    lev_chunks = {p.relative_to(lev_dir): p.read_bytes() for p in lev_dir.rglob("*") if p.is_file()}
    assert src_chunks == lev_chunks
    assert len(src_chunks) < src.nchunks  # the empty chunks stayed unstored
    _check(pyr, data, "mean", [True, True, True])
