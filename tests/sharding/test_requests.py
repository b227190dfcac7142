"""The request pattern of sharded reads and writes, counted by a store wrapper."""

from __future__ import annotations

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.core.array import Array
from zarr_engine.storage.memory import MemoryStore

from .counting import CountingStore

# shape (16, 16), shards (8, 8), inner chunks (4, 4): 2x2 shards of 2x2 inner chunks
DATA = np.arange(256, dtype="int32").reshape(16, 16) + 1


def make(index_location: str = "end", batched: bool = False, data: np.ndarray | None = DATA) -> tuple[Array, CountingStore]:
    mem = MemoryStore()
    a = ze.create_array(mem, shape=(16, 16), dtype="int32", chunks=(4, 4), shards=(8, 8), fill_value=0,
        compressors=None,  # uncompressed: every inner chunk is 64 bytes, so offsets are predictable
    )
    meta = a.metadata
    if index_location == "start":
        a = _with_index_at_start(mem)
        meta = a.metadata
    if data is not None:
        a[...] = data
    counting = CountingStore(mem, prefers_batches=batched)
    return Array(counting, "", meta), counting


def _with_index_at_start(mem: MemoryStore) -> Array:
    import json

    doc = json.loads(mem.get("zarr.json"))
    doc["codecs"][0]["configuration"]["index_location"] = "start"
    mem.set("zarr.json", json.dumps(doc).encode())
    return ze.open_array(mem)


MODES = [("end", False), ("end", True), ("start", False), ("start", True)]


def chunk_requests(st: CountingStore) -> list[tuple[str, int, int]]:
    """The inner-chunk ranges a partial read asked for after its one batch of
    index requests: a second batch from a remote store, one ``get_range`` per
    request (each read by the pool task that decodes it) from a local one."""
    (first, _), *rest = st.log
    assert first == "get_ranges"
    if st.prefers_batches:
        assert [m for m, _ in rest] == ["get_ranges"]
        return rest[0][1]
    assert {m for m, _ in rest} <= {"get_range"}
    return [what for _, what in rest]


@pytest.mark.parametrize("loc,batched", MODES)
def test_one_inner_chunk_costs_index_plus_chunk(loc, batched):
    a, st = make(loc, batched)
    got = a[4:8, 8:12]
    np.testing.assert_array_equal(got, DATA[4:8, 8:12])
    assert dict(st.calls) == ({"get_ranges": 2} if batched else {"get_ranges": 1, "get_range": 1})
    index_req = st.log[0][1]
    chunk_req = chunk_requests(st)
    assert len(index_req) == 1 and len(chunk_req) == 1
    key, start, end = index_req[0]
    assert key == "c/0/1"
    index_size = 4 * 16 + 4  # 4 inner chunks x (offset, length) + crc32c
    if loc == "end":
        assert (start, end) == (-index_size, None)
    else:
        assert (start, end) == (0, index_size)
    key, start, end = chunk_req[0]
    assert key == "c/0/1" and end - start == 4 * 4 * 4

@pytest.mark.parametrize("loc,batched", MODES)
def test_whole_shard_read_is_one_request(loc, batched):
    a, st = make(loc, batched)
    np.testing.assert_array_equal(a[8:16, 0:8], DATA[8:16, 0:8])
    assert st.reads() == 1
    method = "get_many" if batched else "get"
    assert st.calls[method] == 1


@pytest.mark.parametrize("batched", [False, True])
def test_whole_array_read_fetches_each_shard_once(batched):
    a, st = make(batched=batched)
    np.testing.assert_array_equal(a[...], DATA)
    if batched:
        assert dict(st.calls) == {"get_many": 1} and sorted(st.log[0][1]) == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
    else:
        assert dict(st.calls) == {"get": 4}


@pytest.mark.parametrize("loc,batched", MODES)
def test_full_shard_write_reads_nothing(loc, batched):
    a, st = make(loc, batched)
    new = -DATA[0:8, 8:16]
    a[0:8, 8:16] = new
    assert st.reads() == 0
    assert st.writes() == 1
    np.testing.assert_array_equal(a[0:8, 8:16], new)


def test_write_of_whole_array_reads_nothing_and_writes_every_shard():
    a, st = make(batched=True)
    a[...] = DATA * 3
    assert st.reads() == 0
    assert dict(st.calls) == {"set_many": 1} and len(st.log[0][1]) == 4


@pytest.mark.parametrize("batched", [False, True])
def test_partial_shard_write_reads_the_shard_once(batched):
    a, st = make(batched=batched)
    a[1:3, 1:3] = 99
    assert st.reads() == 1 and st.writes() == 1
    expected = DATA.copy()
    expected[1:3, 1:3] = 99
    np.testing.assert_array_equal(a[...], expected)


def test_reads_over_several_partial_shards_are_two_batches():
    a, st = make(batched=True)
    np.testing.assert_array_equal(a[2:4, 2:14], DATA[2:4, 2:14])  # half of each of two shards
    assert dict(st.calls) == {"get_ranges": 2}
    assert len(st.log[0][1]) == 2  # both shards' indexes in one batch
    assert {k for k, _, _ in st.log[1][1]} == {"c/0/0", "c/0/1"}


@pytest.mark.parametrize(
    ("rows", "cols", "chunks_read"),
    [
        # shards store their inner chunks in Morton order, as zarr-python does: (0, 0), (1, 0),
        # (0, 1), (1, 1). The first column of shard (0, 0) is one run of bytes...
        (slice(0, 8), slice(0, 4), 2),
        # ...and its first row is stored first and third: one range, the chunk between included
        (slice(0, 4), slice(0, 8), 3),
    ],
    ids=["adjacent", "small-gap"],
)
def test_nearby_inner_chunks_merge_into_one_range(rows, cols, chunks_read):
    a, st = make()
    np.testing.assert_array_equal(a[rows, cols], DATA[rows, cols])
    ranges = chunk_requests(st)
    assert len(ranges) == 1
    _, start, end = ranges[0]
    assert end - start == chunks_read * 4 * 4 * 4


@pytest.mark.parametrize("batched", [False, True])
def test_big_neighbours_are_separate_local_requests(batched):
    """Two adjacent inner chunks of 1 MiB each: a remote store gets them in one
    merged range; a local one reads each in the pool task that decodes it
    (the merged range would pass MAX_MERGED_LOCAL)."""
    from zarr_engine.core.sharded import MAX_MERGED_LOCAL

    mem = MemoryStore()
    a = ze.create_array(mem, shape=(512, 2048), dtype="int32", chunks=(256, 1024), shards=(512, 2048),
                        fill_value=0, compressors=None)
    data = np.arange(512 * 2048, dtype="int32").reshape(512, 2048)
    a[...] = data
    size = 256 * 1024 * 4
    assert size <= MAX_MERGED_LOCAL < 2 * size
    st = CountingStore(mem, prefers_batches=batched)
    b = Array(st, "", a.metadata)
    # inner chunks (0, 0) and (1, 0): stored one after the other (Morton order)
    np.testing.assert_array_equal(b[200:300, 100:200], data[200:300, 100:200])
    ranges = chunk_requests(st)
    assert [end - start for _, start, end in ranges] == ([2 * size] if batched else [size, size])


def test_short_range_of_a_local_shard_is_corrupt_in_the_task_that_reads_it(tmp_path):
    """A shard that shrinks after its index was read: the pool task reading the
    inner chunk names the shard and the bytes missing (a LocalStore on disk)."""
    from zarr_engine.errors import ChunkCorruptError
    from zarr_engine.storage.local import LocalStore

    a = ze.create_array(str(tmp_path / "s"), shape=(16, 16), dtype="int32", chunks=(4, 4), shards=(8, 8),
                        fill_value=0, compressors=None)
    a[...] = DATA
    store = LocalStore(tmp_path / "s")
    good = store.get("c/0/0")
    index = good[-(4 * 16 + 4):]

    class Shrinking(CountingStore):
        def get_range(self, key, start, end):  # the index was read whole; the chunk bytes are gone
            return b"" if key == "c/0/0" else super().get_range(key, start, end)

    b = Array(Shrinking(store), "", a.metadata)
    with pytest.raises(ChunkCorruptError, match=r"shard 'c/0/0': bytes \[\d+, \d+\).*got 0 bytes"):
        b[0:2, 0:8]
    assert store.get("c/0/0") == good and good.endswith(index)  # nothing written


def test_a_folder_where_a_shard_would_be_reads_as_missing_like_zarr_python(tmp_path):
    """A folder at a shard's key (a half-copied or hand-made store) is no shard,
    for whole and partial reads alike, as zarr-python and tensorstore read it;
    a partial read of it raised a bare IsADirectoryError."""
    import zarr

    path = tmp_path / "s.zarr"
    z = zarr.create_array(str(path), shape=(16, 16), dtype="int32", chunks=(4, 4), shards=(8, 8), fill_value=0)
    z[...] = DATA
    shard = path / "c" / "0" / "0"
    shard.unlink()
    shard.mkdir()
    expected = zarr.open_array(str(path), mode="r")[...]
    assert (expected[:8, :8] == 0).all()
    a = ze.open_array(str(path), mode="r")
    np.testing.assert_array_equal(a[...], expected)
    np.testing.assert_array_equal(a[1:7, 2:12], expected[1:7, 2:12])
    np.testing.assert_array_equal(a[3, 3], expected[3, 3])


def test_missing_shard_reads_fill_after_the_index_request():
    a, st = make(data=None)
    np.testing.assert_array_equal(a[1:3, 1:3], np.zeros((2, 2), "int32"))
    assert dict(st.calls) == {"get_ranges": 1}


def test_missing_inner_chunk_is_not_requested():
    sparse = DATA.copy()
    sparse[0:4, 0:4] = 0  # inner chunk (0, 0) is all fill: left out of shard (0, 0)
    a, st = make(data=sparse)
    np.testing.assert_array_equal(a[0:4, 0:4], np.zeros((4, 4), "int32"))
    assert dict(st.calls) == {"get_ranges": 1}
    st.reset()
    np.testing.assert_array_equal(a[0:8, 0:8], sparse[0:8, 0:8])
    assert st.reads() == 1


@pytest.mark.parametrize("batched", [False, True])
def test_shard_left_all_fill_is_deleted(batched):
    a, st = make(batched=batched)
    a[0:8, 0:8] = 0
    assert st.reads() == 0
    assert st.calls["delete" if not batched else "delete_many"] == 1
    assert st.inner.get("c/0/0") is None
    a[0:2, 8:16] = 0  # partial: the shard keeps its other inner chunks
    assert st.inner.get("c/0/1") is not None
    np.testing.assert_array_equal(a[0:8, 8:16], np.where(np.arange(8)[:, None] < 2, 0, DATA[0:8, 8:16]))


def test_partial_write_keeps_untouched_inner_chunks_bytes():
    a, st = make()
    before = st.inner.get("c/1/1")
    a[12:14, 12:14] = 7  # touches inner chunk (1, 1) of shard (1, 1) only
    after = st.inner.get("c/1/1")
    index_size = 4 * 16 + 4
    # inner chunks (0,0), (0,1), (1,0) are stored first and unchanged, byte for byte
    assert after[: 3 * 64] == before[: 3 * 64]
    assert after[3 * 64 : 4 * 64] != before[3 * 64 : 4 * 64]
    assert len(after) == len(before) == 4 * 64 + index_size


def test_big_remote_shards_are_fetched_once_each_in_overlapping_batches():
    # shards of 256 KiB: the read fetches the next batch while decoding this one,
    # in several get_many calls, and still asks for every shard exactly once
    mem = MemoryStore()
    data = np.arange(512 * 512, dtype="int32").reshape(512, 512)
    a = ze.create_array(mem, shape=data.shape, dtype="int32", chunks=(64, 64), shards=(256, 256), fill_value=0,
                        compressors=[{"name": "zstd", "configuration": {"level": 1}}])
    a[...] = data
    counting = CountingStore(mem, prefers_batches=True)
    np.testing.assert_array_equal(Array(counting, "", a.metadata)[...], data)
    assert set(counting.calls) == {"get_many"} and counting.calls["get_many"] == 2
    fetched = [k for _, keys in counting.log for k in keys]
    assert sorted(fetched) == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]


class _FailingSet(CountingStore):
    """Fails the ``fail_at``-th shard it is asked to store (1-based), after recording it."""

    def __init__(self, inner, fail_at: int, **kw):
        super().__init__(inner, **kw)
        self.fail_at = fail_at
        self.stored: list[str] = []

    def _store(self, keys):
        for k in keys:
            self.stored.append(k)
            if len(self.stored) == self.fail_at:
                raise ze.errors.StoreError(f"disk full while writing {k!r}")

    def set(self, key, value):
        self._store([key])
        super().set(key, value)

    def set_many(self, items):
        pairs = list(items)
        self._store([k for k, _ in pairs])
        super().set_many(pairs)


@pytest.mark.parametrize("batched", [False, True])
def test_writes_go_in_steps_that_overlap_encoding_and_storing(monkeypatch, batched, tmp_path):
    import zarr

    from zarr_engine.core import sharded

    # steps of one shard (1 KiB each): every shard is stored on its own, in order,
    # each encoded while the one before was stored; values equal zarr-python's reading
    monkeypatch.setattr(sharded, "WRITE_STEP_BYTES", 1)
    local = ze.storage.LocalStore(tmp_path / "a.zarr")
    ze.create_array(local, shape=(16, 16), dtype="int32", chunks=(4, 4), shards=(8, 8), fill_value=0,
                    compressors=[{"name": "zstd", "configuration": {"level": 1}}])
    st = CountingStore(local, prefers_batches=batched)
    a = ze.open_array(st, mode="r+")
    st.reset()  # (opening read the metadata)
    a[...] = DATA
    method = "set_many" if batched else "set"
    assert [m for m, _ in st.log] == [method] * 4
    stored = [k if isinstance(k, str) else k[0] for _, k in st.log]
    assert stored == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
    st.reset()
    expected = DATA.copy()
    expected[2:14, 3:13] = -5  # partial in every shard: each step reads its shard first
    a[2:14, 3:13] = -5
    assert st.calls[method] == 4 and st.reads() == 4
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "a.zarr"), mode="r")[...], expected)


def test_a_write_keeps_two_steps_encoding_while_one_is_stored(monkeypatch):
    from zarr_engine.core import sharded

    # steps of one shard: the encoding of steps k+1 and k+2 is under way before
    # step k is stored, so the pool is never left waiting between two steps
    monkeypatch.setattr(sharded, "WRITE_STEP_BYTES", 1)
    events: list[str] = []
    real = sharded.start_indexed

    def logged(fn, n, **kw):
        events.append("encode")
        return real(fn, n, **kw)

    monkeypatch.setattr(sharded, "start_indexed", logged)
    mem = MemoryStore()
    a = ze.create_array(mem, shape=(16, 16), dtype="int32", chunks=(4, 4), shards=(8, 8), fill_value=0)

    class Logging(CountingStore):
        def set(self, key, value):
            events.append(key)
            super().set(key, value)

    Array(Logging(mem), "", a.metadata)[...] = DATA
    assert events == ["encode", "encode", "encode", "c/0/0", "encode", "c/0/1", "c/1/0", "c/1/1"]
    np.testing.assert_array_equal(a[...], DATA)


@pytest.mark.parametrize("batched", [False, True])
def test_a_store_failing_mid_write_raises_its_error_and_stores_no_later_step(monkeypatch, batched):
    from zarr_engine.core import sharded

    monkeypatch.setattr(sharded, "WRITE_STEP_BYTES", 1)
    mem = MemoryStore()
    a = ze.create_array(mem, shape=(16, 16), dtype="int32", chunks=(4, 4), shards=(8, 8), fill_value=0)
    a[...] = DATA
    st = _FailingSet(mem, fail_at=2, prefers_batches=batched)
    with pytest.raises(ze.errors.StoreError, match=r"disk full while writing 'c/0/1'"):
        Array(st, "", a.metadata)[...] = -DATA
    assert st.stored == ["c/0/0", "c/0/1"]  # the third shard was encoded, never stored
    after = a[...]
    np.testing.assert_array_equal(after[0:8, 0:8], -DATA[0:8, 0:8])  # the step before the failure landed
    np.testing.assert_array_equal(after[:, 8:], DATA[:, 8:])  # the failed shard and later ones kept their data
    np.testing.assert_array_equal(after[8:, 0:8], DATA[8:, 0:8])
