"""The opt-in decoded-chunk cache (``chunk_cache_bytes``): what it saves, and
that it never returns what the store no longer holds after this array's writes."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from zarr_engine.core.array import Array
from zarr_engine.core.cache import ChunkCache
from zarr_engine.errors import ArgumentError, ChunkCorruptError, ZarrEngineError
from zarr_engine.storage.local import LocalStore
from tests.sharding.counting import CountingStore
from tests.support import assert_same, sample

SHAPE, CHUNKS, SHARDS = (24, 40, 40), (8, 16, 16), (8, 32, 32)
CHUNK_BYTES = 8 * 16 * 16 * 4
WINDOW = (slice(3, 7), slice(10, 20), slice(14, 18))  # inside 2x2 chunks of (16, 16) on the last axes


def written_by_zarr(path: Path, sharded: bool, data: np.ndarray) -> zarr.Array:
    z = zarr.create_array(str(path), shape=data.shape, chunks=CHUNKS, shards=SHARDS if sharded else None,
                          dtype=data.dtype, fill_value=0, compressors=zarr.codecs.ZstdCodec(level=1))
    z[...] = data
    return z


def cached(path: Path, budget: int, *, batched: bool = False, mode: str = "r") -> tuple[Array, CountingStore]:
    st = CountingStore(LocalStore(str(path), read_only=(mode == "r")), prefers_batches=batched)
    meta = ze.open_array(str(path), mode="r").metadata
    return Array(st, "", meta, chunk_cache_bytes=budget), st


@pytest.mark.parametrize("sharded", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_a_repeated_window_is_served_without_reading_the_store(tmp_path, sharded, batched):
    data = sample("float32", SHAPE)
    z = written_by_zarr(tmp_path / "a", sharded, data)
    a, st = cached(tmp_path / "a", 1 << 20, batched=batched)
    first = a[WINDOW]
    assert st.reads() > 0
    assert len(a.chunk_cache) == 4 and a.chunk_cache.nbytes == 4 * CHUNK_BYTES
    st.reset()
    for sel in (WINDOW, (slice(0, 8), 12, slice(16, 30)), (5, slice(0, 32), slice(2, 32))):
        got = a[sel]
        assert_same(got, z[sel])
        assert_same(got, data[sel])
    assert st.reads() == 0, st.log  # every chunk these windows touch was kept by the first
    assert_same(first, data[WINDOW])
    assert (a.chunk_cache.hits, a.chunk_cache.misses) == (4 + 1 + 4, 4)
    assert "Chunk cache" in repr(a.info) and "9 hits, 4 misses" in repr(a.info)


def test_a_chunk_is_kept_whole_whatever_part_the_first_read_wanted(tmp_path):
    """Without a cache the first element of a zstd chunk costs only the front of its
    stream; with one, the chunk is decoded whole so that any later read is a hit."""
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", False, data)
    a, st = cached(tmp_path / "a", 1 << 20)
    assert_same(np.asarray(a[0, 0, 0]), data[0, 0, 0])  # (sample() puts a NaN there)
    st.reset()
    assert_same(np.asarray(a[7, 15, 15]), data[7, 15, 15])  # the chunk's last element
    assert st.reads() == 0


@pytest.mark.parametrize("sharded", [False, True])
def test_coordinate_selections_use_the_cache_too(tmp_path, sharded):
    data = sample("int16", SHAPE)
    z = written_by_zarr(tmp_path / "a", sharded, data)
    a, st = cached(tmp_path / "a", 1 << 20)
    pts = (np.array([0, 5, 7, 20]), np.array([1, 17, 39, 0]), np.array([3, 3, 30, 39]))
    assert_same(a.vindex[pts], z.vindex[pts])
    st.reset()
    assert_same(a.vindex[pts], data[pts])
    assert_same(a[7, 39, 30], data[7, 39, 30])
    assert st.reads() == 0


def last_of_each_chunk(a: Array) -> None:
    """Read the last element of each of the 2x2 chunks under WINDOW: each is then kept whole."""
    for cy in (0, 1):
        for cx in (0, 1):
            a[7, cy * 16 + 15, cx * 16 + 15]


def test_whole_chunk_reads_are_not_kept_but_are_served_when_kept(tmp_path):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", False, data)
    a, st = cached(tmp_path / "a", 1 << 24)
    assert_same(a[...], data)
    assert len(a.chunk_cache) == 0  # a big read does not flood the cache
    last_of_each_chunk(a)
    st.reset()
    assert_same(a[0:8, 0:32, 0:32], data[0:8, 0:32, 0:32])  # the four chunks kept
    assert st.reads() == 0


def test_the_least_recently_used_chunk_goes_first(tmp_path):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", False, data)
    a, st = cached(tmp_path / "a", 2 * CHUNK_BYTES)
    a[7, 15, 15]
    a[7, 15, 31]
    a[7, 15, 15]  # now chunk (0, 0, 1) is the oldest
    a[7, 31, 15]
    assert len(a.chunk_cache) == 2 and a.chunk_cache.nbytes == 2 * CHUNK_BYTES
    st.reset()
    assert_same(a[1:3, 1:21, 3], data[1:3, 1:21, 3])
    assert st.reads() == 0
    assert_same(a[1, 1, 17:19], data[1, 1, 17:19])
    assert st.reads() == 1


def test_a_chunk_larger_than_the_budget_is_read_but_never_kept(tmp_path):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", False, data)
    a, st = cached(tmp_path / "a", CHUNK_BYTES - 1)
    for _ in range(2):
        assert_same(a[WINDOW], data[WINDOW])
    assert len(a.chunk_cache) == 0 and a.chunk_cache.nbytes == 0
    assert st.reads() == 8


def test_what_a_read_returns_is_the_callers_own(tmp_path):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", True, data)
    a, _ = cached(tmp_path / "a", 1 << 20)
    got = a[WINDOW]
    got[...] = -1
    assert_same(a[WINDOW], data[WINDOW])
    assert all(not chunk.flags.writeable for chunk in a.chunk_cache._items.values())


@pytest.mark.parametrize("sharded", [False, True])
def test_writes_through_the_array_empty_the_cache(tmp_path, sharded):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", sharded, data)
    a, _ = cached(tmp_path / "a", 1 << 20, mode="a")
    expected = data.copy()
    a[WINDOW]
    a[4, 12, 15] = 99.5
    expected[4, 12, 15] = 99.5
    assert_same(a[WINDOW], expected[WINDOW])
    a.vindex[np.array([5, 6]), np.array([11, 19]), np.array([14, 17])] = -3
    expected[[5, 6], [11, 19], [14, 17]] = -3
    assert_same(a[WINDOW], expected[WINDOW])
    a.resize((6, 40, 40))  # the window's chunks now straddle the edge: the rest is reset to fill
    a.resize(SHAPE)
    expected[6:] = 0
    assert_same(a[WINDOW], expected[WINDOW])
    assert_same(a[:, 10:20, 14:18], expected[:, 10:20, 14:18])
    a.append(np.ones((8, 40, 40), "float32"))
    assert_same(a[-12:-4, 10:20, 14:18], np.concatenate([expected[-4:], np.ones((4, 40, 40), "f4")])[:, 10:20, 14:18])
    assert_same(zarr.open_array(str(tmp_path / "a"), mode="r")[:24], expected)  # and the oracle agrees


def test_a_read_that_started_before_a_write_does_not_keep_what_it_decoded():
    cache = ChunkCache(1 << 20)
    seen = cache.generation
    cache.clear()  # what a write does when it finishes
    cache.put("c/0", np.zeros(4), seen)
    assert len(cache) == 0
    cache.put("c/0", np.zeros(4), cache.generation)
    assert len(cache) == 1


def test_a_corrupt_chunk_is_an_error_every_time_and_never_kept(tmp_path):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", False, data)
    (tmp_path / "a" / "c" / "0" / "0" / "0").write_bytes(b"\x28\xb5\x2f\xfd not zstd at all")
    a, _ = cached(tmp_path / "a", 1 << 20)
    for _ in range(2):
        with pytest.raises(ChunkCorruptError, match="c/0/0/0"):
            a[1, 2, 3]
    assert len(a.chunk_cache) == 0
    assert_same(a[1, 2, 20], data[1, 2, 20])  # a neighbour still reads, and is kept


def test_strings_are_cached_too(tmp_path):
    data = np.array([f"s{i}" for i in range(64)], dtype=object).reshape(8, 8)
    ze.create_array(str(tmp_path / "s"), shape=(8, 8), chunks=(4, 4), dtype=str)[...] = data
    a = ze.open_array(str(tmp_path / "s"), mode="r", chunk_cache_bytes=1 << 20)
    assert list(a[1:3, 2]) == list(data[1:3, 2])
    assert len(a.chunk_cache) == 1
    assert list(a[0, 0:3]) == ["s0", "s1", "s2"]
    assert a.chunk_cache.hits == 1


def test_a_pickled_array_has_an_empty_cache_of_the_same_size(tmp_path):
    data = sample("float32", SHAPE)
    written_by_zarr(tmp_path / "a", False, data)
    a = ze.open_array(str(tmp_path / "a"), mode="r", chunk_cache_bytes=123456)
    a[WINDOW]
    b = pickle.loads(pickle.dumps(a))
    assert b.chunk_cache is not None and b.chunk_cache.max_bytes == 123456 and len(b.chunk_cache) == 0
    assert_same(b[WINDOW], data[WINDOW])
    assert ze.open_array(str(tmp_path / "a"), mode="r").chunk_cache is None  # off unless asked for


@pytest.mark.parametrize("bad", [-1, 1.5, "1GB", True])
def test_a_bad_budget_is_refused_before_anything_is_created(tmp_path, bad):
    with pytest.raises(ArgumentError, match="chunk_cache_bytes") as err:
        ze.open_array(str(tmp_path / "new"), mode="w", shape=(4,), dtype="i4", chunk_cache_bytes=bad)
    assert isinstance(err.value, ZarrEngineError)
    assert not (tmp_path / "new").exists()
