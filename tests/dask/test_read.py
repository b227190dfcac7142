"""from_zarr: one task per stored chunk, chunk choices, graph size, and interop (threaded scheduler)."""

from __future__ import annotations

import pickle
import warnings

import dask
import dask.array as da
import numpy as np
import pytest
from dask.blockwise import Blockwise

import zarr_engine as ze
from tests.support import sample
from zarr_engine.dask import ChunkSplitWarning, from_zarr
from zarr_engine.errors import ArgumentError, UnknownCodecError

pytestmark = pytest.mark.usefixtures("threaded")


@pytest.fixture
def stored(tmp_path):
    data = sample("f4", (50, 36), seed=1)
    arr = ze.create_array(str(tmp_path / "a.zarr"), shape=data.shape, dtype=data.dtype, chunks=(10, 12))
    arr[...] = data
    return arr, data


def test_default_chunks_are_the_stored_chunks(stored):
    arr, data = stored
    x = from_zarr(arr)
    assert x.chunks == ((10,) * 5, (12,) * 3)
    assert x.dtype == data.dtype
    np.testing.assert_array_equal(x.compute(), data)  # NaN, inf and -0.0 included, bit for bit
    assert x.compute().tobytes() == data.tobytes()


def test_source_as_url_with_path(tmp_path):
    data = sample("i8", (30,), seed=2)
    ze.create_array(str(tmp_path / "g.zarr"), path="sub/arr", shape=(30,), dtype="i8", chunks=(7,))[...] = data
    x = from_zarr(str(tmp_path / "g.zarr"), path="sub/arr")
    assert x.chunks == ((7, 7, 7, 7, 2),)
    np.testing.assert_array_equal(x.compute(), data)


def test_multiples_of_stored_chunks_do_not_warn(stored):
    arr, data = stored
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChunkSplitWarning)
        x = from_zarr(arr, chunks=(20, 36))
    assert x.chunks == ((20, 20, 10), (36,))
    np.testing.assert_array_equal(x.compute(), data)


def test_chunks_that_split_stored_chunks_warn_and_read_exactly(stored):
    arr, data = stored
    with pytest.warns(ChunkSplitWarning, match="axis 0"):
        x = from_zarr(arr, chunks=(15, 12))
    np.testing.assert_array_equal(x.compute(), data)
    np.testing.assert_array_equal(x[7:33, 5:30].compute(), data[7:33, 5:30])


@pytest.mark.parametrize("chunks", [(0, 12), {0: 0}, (-3, 12), (10,), (10.5, 12), "bogus", ((25, 20), (36,))])
def test_chunks_that_do_not_fit_the_array_are_an_argument_error_naming_it(stored, chunks):
    # no ZeroDivisionError, and no dask array of negative shape (dask turns -3 into a block of -2)
    arr, data = stored
    with pytest.raises(ArgumentError, match=r"from_zarr\(/ in .*a\.zarr.*chunks="):
        from_zarr(arr, chunks=chunks)
    x = from_zarr(arr, chunks=(-1, 12))  # -1 is dask's whole axis
    assert x.chunks == ((50,), (12, 12, 12))
    np.testing.assert_array_equal(x.compute(), data)


def test_auto_chunks_are_multiples_of_stored_chunks(tmp_path):
    arr = ze.create_array(str(tmp_path / "big.zarr"), shape=(2000, 3000), dtype="f4", chunks=(10, 30))
    with dask.config.set({"array.chunk-size": "1MiB"}):
        x = from_zarr(arr, chunks="auto")
    for sizes, c in zip(x.chunks, (10, 30)):
        assert all(n % c == 0 for n in sizes[:-1])
    block = x.chunksize[0] * x.chunksize[1] * 4
    assert 10 * 30 * 4 < block <= 1.25 * 2**20  # several stored chunks per task, near the target
    assert x[1990:, 2990:].compute().shape == (10, 10)


def test_missing_chunks_read_as_fill_value(tmp_path):
    arr = ze.create_array(str(tmp_path / "f.zarr"), shape=(20,), dtype="i2", chunks=(5,), fill_value=-7)
    arr[5:10] = 3
    expected = np.full(20, -7, dtype="i2")
    expected[5:10] = 3
    np.testing.assert_array_equal(from_zarr(arr).compute(), expected)


def test_zero_dimensional_and_empty_arrays(tmp_path):
    scalar = ze.create_array(str(tmp_path / "s.zarr"), shape=(), dtype="f8", chunks=())
    scalar[...] = 2.5
    assert from_zarr(scalar).compute() == 2.5
    empty = ze.create_array(str(tmp_path / "e.zarr"), shape=(0, 4), dtype="u1", chunks=(3, 2))
    assert from_zarr(empty).compute().shape == (0, 4)


def test_graph_of_a_million_chunks_is_one_lazy_layer():
    arr = ze.create_array("memory://dask-million", shape=(1000, 1000), dtype="u1", chunks=(1, 1), overwrite=True)
    x = from_zarr(arr)
    assert x.numblocks == (1000, 1000)
    layers = x.dask.layers
    # the read layer plus one layer holding the array handle, once
    assert len(layers) == 2
    blockwise = layers[x.name]
    assert isinstance(blockwise, Blockwise)
    assert not blockwise.is_materialized()
    handle_layers = [layer for name, layer in layers.items() if name != x.name]
    assert len(handle_layers[0]) == 1
    size = len(pickle.dumps(x.dask))
    assert not blockwise.is_materialized()
    assert size < 100_000  # a materialised graph of 10^6 tasks would be hundreds of MB
    # inline_array: no separate handle key, still one unmaterialised layer
    y = from_zarr(arr, inline_array=True)
    assert len(y.dask.layers) == 1 and not y.dask.layers[y.name].is_materialized()


def test_a_graph_block_reads_its_stored_chunk(tmp_path):
    data = sample("u2", (40, 40), seed=3)
    arr = ze.create_array(str(tmp_path / "b.zarr"), shape=(40, 40), dtype="u2", chunks=(10, 10))
    arr[...] = data
    x = from_zarr(arr)
    np.testing.assert_array_equal(x.blocks[2, 3].compute(), data[20:30, 30:40])


def test_inline_array_reads_the_same(stored):
    arr, data = stored
    np.testing.assert_array_equal(from_zarr(arr, inline_array=True).compute(), data)


def test_same_array_same_name_and_name_override(stored):
    arr, _ = stored
    assert from_zarr(arr).name == from_zarr(arr).name
    assert from_zarr(arr).name != from_zarr(arr, chunks=(20, 12)).name
    assert from_zarr(arr, name="mine").name == "mine"


def test_da_from_array_over_our_array(stored):
    arr, data = stored
    x = da.from_array(arr, chunks=(10, 12))
    np.testing.assert_array_equal(x.compute(), data)
    np.testing.assert_array_equal(da.from_array(arr).compute(), data)


def test_reads_what_zarr_python_wrote(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = sample("i4", (33, 20), seed=4)
    for fmt in (2, 3):
        where = str(tmp_path / f"zp{fmt}.zarr")
        z = zarr.create_array(where, shape=data.shape, dtype=data.dtype, chunks=(8, 6), zarr_format=fmt)
        z[...] = data
        x = from_zarr(where)
        assert x.chunks[0][:2] == (8, 8) and x.chunks[1][:2] == (6, 6)
        np.testing.assert_array_equal(x.compute(), data)


def test_sharded_array_reads_one_task_per_shard(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = sample("f8", (40, 24), seed=5)
    where = str(tmp_path / "sh.zarr")
    z = zarr.create_array(where, shape=data.shape, dtype=data.dtype, chunks=(5, 4), shards=(20, 12))
    z[...] = data
    try:
        x = from_zarr(where)
        got = x.compute()
    except UnknownCodecError as e:  # sharding lands in the engine separately
        pytest.skip(f"sharding not available yet: {e}")
    assert x.chunks == ((20, 20), (12, 12))
    np.testing.assert_array_equal(got, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChunkSplitWarning)
        x = from_zarr(where, chunks=(10, 12))  # splits shards between inner chunks: no extra decoding
    np.testing.assert_array_equal(x.compute(), data)
