"""Hostile metadata through the public API: only ZarrEngineError comes out, quickly,
and nothing large is allocated when opening (or reading one chunk of) an array.

The format package fuzzes its parsers directly; these tests go through a store
and ``ze.open`` / a one-element read, where sizes become allocations.
"""

from __future__ import annotations

import copy
import json
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarr_engine as ze
from zarr_engine.errors import ChunkCorruptError, ResourceError, ZarrEngineError
from zarr_engine.storage import MemoryStore
from tests.support import assert_refused_without_allocating

from ._util import scaled

V3 = {
    "zarr_format": 3, "node_type": "array", "shape": [20, 30], "data_type": "int32",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10, 10]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": 0, "attributes": {"a": 1}, "dimension_names": ["x", "y"],
    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
               {"name": "zstd", "configuration": {"level": 1, "checksum": False}}],
}
V2 = {
    "zarr_format": 2, "shape": [20, 30], "chunks": [10, 10], "dtype": "<i4", "fill_value": 0,
    "order": "C", "filters": None, "compressor": {"id": "zlib", "level": 1}, "dimension_separator": ".",
}
NASTY_NUMBERS = [0, -1, -(2**63), 2**63, 2**64, 10**15, 10**300, 1.5, float("nan"), float("inf"), True]
scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(NASTY_NUMBERS), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["", "<f8", "|V0", "int128", "S-1", "<U999999999999", "object",
                                           "zstd", "sharding_indexed", "regular", "v2", "F", "C"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside ``doc`` a value can be replaced."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


def _open_and_touch(store: MemoryStore) -> None:
    """What a user does first: open, look at it, read one element of an array, list a group."""
    node = ze.open(store, mode="r")
    if isinstance(node, ze.Array):
        repr(node), node.shape, node.dtype, node.attrs.asdict()
        if node.size:
            node[(0,) * node.ndim]
    else:
        list(node.members(max_depth=None))


def _assert_only_engine_errors(store: MemoryStore) -> None:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        _open_and_touch(store)
    except ZarrEngineError:
        pass
    except RecursionError:  # pragma: no cover - reported as a failure below
        pytest.fail("RecursionError escaped")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"opening hostile metadata took {elapsed:.2f}s"
    assert peak < 8_000_000, f"opening hostile metadata allocated {peak} bytes"


@settings(max_examples=scaled(250, 3000), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_array_metadata_only_raises_engine_errors(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from([2, 3]))
    doc = V3 if fmt == 3 else V2
    edits = data.draw(st.integers(1, 3))
    for _ in range(edits):
        path = data.draw(st.sampled_from(_paths(doc)))
        value = data.draw(st.one_of(json_values, st.just(_DELETE)))
        doc = _replace(doc, path, value)
    store = MemoryStore()
    try:
        raw = json.dumps(doc, allow_nan=True).encode()
    except (TypeError, ValueError):
        return
    store.set("zarr.json" if fmt == 3 else ".zarray", raw)
    if data.draw(st.booleans()):  # sometimes a stored first chunk too, so reads decode
        store.set("c/0/0" if fmt == 3 else "0.0", data.draw(st.binary(max_size=64)))
    _assert_only_engine_errors(store)


@settings(max_examples=scaled(100, 1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.dictionaries(st.text(max_size=10), json_values, max_size=4), zarr_format=json_values,
       shape=json_values)
def test_hostile_zmetadata_only_raises_engine_errors(nodes: dict[str, Any], zarr_format: Any, shape: Any) -> None:
    store = MemoryStore()
    store.set(".zgroup", b'{"zarr_format": 2}')
    meta = {k: v for k, v in nodes.items()}
    meta["child/.zarray"] = dict(V2, shape=shape)
    store.set(".zmetadata", json.dumps({"zarr_consolidated_format": zarr_format, "metadata": meta}).encode())
    _assert_only_engine_errors(store)


HUGE = [
    ("1e15 squared, 10x10 chunks", [10**15, 10**15], [10, 10]),
    ("2**62 by 1, chunk 1", [2**62, 1], [1, 1]),
    ("huge chunks never stored", [2**40], [2**40]),
    ("chunk bigger than numpy can describe", [2**32, 2**32, 2**32], [2**31, 2**31, 2**31]),
]


@pytest.mark.parametrize("what,shape,chunks", HUGE, ids=[h[0] for h in HUGE])
def test_huge_shapes_open_and_read_in_bounded_memory(what: str, shape: list[int], chunks: list[int]) -> None:
    store = MemoryStore()
    doc = dict(V3, shape=shape, dimension_names=None,
               chunk_grid={"name": "regular", "configuration": {"chunk_shape": chunks}})
    store.set("zarr.json", json.dumps(doc).encode())
    tracemalloc.start()
    try:
        try:
            arr = ze.open_array(store, mode="r")
            sel = tuple(slice(0, min(c, 10)) for c in chunks)
            out = arr[sel]
            assert out.shape == tuple(min(c, 10) for c in chunks) and not out.any()
            assert arr.nchunks_initialized == 0
        except ZarrEngineError:
            pass  # refusing is fine; crashing or allocating is not
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, f"{what}: peak {peak} bytes"


def test_deeply_nested_documents_are_metadata_errors() -> None:
    for key, head in [("zarr.json", b'{"zarr_format":3,"node_type":"group","attributes":'),
                      (".zattrs", b""), (".zmetadata", b'{"zarr_consolidated_format":1,"metadata":')]:
        store = MemoryStore()
        if key == ".zattrs":
            store.set(".zgroup", b'{"zarr_format":2}')
        elif key == ".zmetadata":
            store.set(".zgroup", b'{"zarr_format":2}')
        depth = 200_000
        store.set(key, head + b"[" * depth + b"]" * depth + (b"}" if head else b""))
        _assert_only_engine_errors(store)
        with pytest.raises(ZarrEngineError):
            _open_and_touch(store)


def test_absurd_chunk_shape_with_a_stored_chunk_is_refused_not_allocated() -> None:
    """A chunk shape numpy cannot describe is refused when the codec chain is built."""
    store = MemoryStore()
    doc = dict(V3, shape=[2**32, 2**32, 2**32], dimension_names=None,
               chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2**31, 2**31, 2**31]}})
    store.set("zarr.json", json.dumps(doc).encode())
    store.set("c/0/0/0", b"\0" * 8)
    with pytest.raises(ZarrEngineError, match="more than"):
        ze.open_array(store, mode="r")[0, 0, 0]


def test_chunk_too_large_to_allocate_is_an_engine_error() -> None:
    """Valid metadata whose chunks cannot fit in memory (8 TiB), with a 16-byte chunk stored:
    reading raises a ZarrEngineError (the stored size cannot match), never a bare MemoryError."""
    store = MemoryStore()
    doc = dict(V3, shape=[2**40], dimension_names=None, data_type="float64", fill_value=0.0,
               chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2**40]}},
               codecs=[{"name": "bytes", "configuration": {"endian": "little"}}])
    store.set("zarr.json", json.dumps(doc).encode())
    store.set("c/0", b"\0" * 16)
    arr = ze.open_array(store, mode="r")
    for read in (lambda: arr[0], lambda: arr[0:4], lambda: arr.vindex[[1, 2]]):
        with pytest.raises(ChunkCorruptError, match="16 bytes stored, but its codecs always produce"):
            read()


def test_a_chunk_larger_than_the_machine_is_refused_before_numpy_is_asked() -> None:
    # found by the test above in CI: v2 chunks of (10**15, 10) int32 and an empty
    # stored chunk; numpy's tracing counted its own failed 35 PiB request. zlib
    # now refuses the empty chunk before anything is allocated; bz2 gives no
    # bound on what a stream expands to, so there the allocation is refused
    doc = _replace(V2, ("chunks", 0), 10**15)
    doc = _replace(doc, ("compressor", "level"), _DELETE)
    store = MemoryStore()
    store.set(".zarray", json.dumps(doc).encode())
    store.set("0.0", b"")
    _assert_only_engine_errors(store)
    with pytest.raises(ChunkCorruptError, match=r"chunk '0\.0': 0 stored bytes cannot decode"):
        ze.open_array(store, mode="r")[0, 0]
    store.set(".zarray", json.dumps(_replace(doc, ("compressor",), {"id": "bz2", "level": 1})).encode())
    _assert_only_engine_errors(store)
    with pytest.raises(ResourceError, match="more than this machine's memory and swap"):
        ze.open_array(store, mode="r")[0, 0]
    with pytest.raises(ResourceError, match="more than this machine's memory and swap"):
        ze.open_array(store, mode="r+")[5, 5] = 1  # a chunk not stored yet is made whole first


@pytest.mark.parametrize("fmt", [2, 3])
def test_a_few_garbage_bytes_cannot_claim_a_big_chunk(fmt: int) -> None:
    # found by the mutation test: v2 chunks of (2932936, 1) int32 (11.7 MB) and 8
    # bytes of garbage under zlib allocated the whole chunk before zlib refused it
    if fmt == 2:
        doc = _replace(_replace(V2, ("chunks",), [2932936, 1]), ("shape",), [2932936, 1])
        key = "0.0"
    else:
        doc = _replace(V3, ("chunk_grid", "configuration", "chunk_shape"), [2932936, 1])
        doc = _replace(doc, ("shape",), [2932936, 1])
        key = "c/0/0"
    store = MemoryStore()
    store.set(".zarray" if fmt == 2 else "zarr.json", json.dumps(doc).encode())
    store.set(key, b"\x78\x9c\x01\x02\xff\xfe\x00\x00")
    arr = ze.open_array(store, mode="r")
    with pytest.raises(ChunkCorruptError, match=f"chunk '{key}'"):
        arr[:]  # the output is the chunk's size: decoded straight into it, and refused
    for read in (lambda: arr[0, 0], lambda: arr[100:200, 0], lambda: arr.vindex[[5, 7], [0, 0]]):
        assert_refused_without_allocating(read, ChunkCorruptError,
                                          f"chunk '{key}': 8 stored bytes cannot decode to the "
                                          f"11731744 bytes of a whole chunk")
