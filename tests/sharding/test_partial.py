"""Partial reads and writes of sharded arrays against numpy (hypothesis, small shapes)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import zarr_engine as ze
from zarr_engine.storage.memory import MemoryStore

from .counting import CountingStore


@st.composite
def arrays(draw):
    ndim = draw(st.integers(1, 3))
    inner = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    shard = tuple(c * draw(st.integers(1, 3)) for c in inner)
    shape = tuple(draw(st.integers(1, 2 * s + 1)) for s in shard)
    location = draw(st.sampled_from(["start", "end"]))
    batched = draw(st.booleans())
    return shape, inner, shard, location, batched


def selection(draw, shape):
    sel = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "array"]))
        if kind == "int":
            sel.append(draw(st.integers(-n, n - 1)))
        elif kind == "array":
            sel.append(np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4, unique=True))))
        else:
            start = draw(st.integers(0, n))
            stop = draw(st.integers(start, n))
            step = draw(st.sampled_from([1, 1, 2, 3]))
            sel.append(slice(start, stop, step) if draw(st.booleans()) else slice(stop - 1 if stop else None, None if start == 0 else start - 1, -step))
    return tuple(sel)


def open_sharded(shape, inner, shard, location, batched):
    mem = MemoryStore()
    ze.create_array(mem, shape=shape, dtype="int16", chunks=inner, shards=shard, fill_value=-1)
    doc = json.loads(mem.get("zarr.json"))
    doc["codecs"][0]["configuration"]["index_location"] = location
    mem.set("zarr.json", json.dumps(doc).encode())
    return ze.open_array(CountingStore(mem, prefers_batches=batched), mode="r+")


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_orthogonal_writes_then_reads_match_numpy(data):
    shape, inner, shard, location, batched = data.draw(arrays())
    a = open_sharded(shape, inner, shard, location, batched)
    expected = np.full(shape, -1, dtype="int16")
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    for _ in range(3):
        sel = selection(data.draw, shape)
        # values include the fill value so that some inner chunks end up left out
        value = rng.integers(-1, 3, size=_oshape(shape, sel)).astype("int16")
        a.oindex[sel] = value
        _oset(expected, sel, value)
        np.testing.assert_array_equal(a[...], expected)
        rsel = selection(data.draw, shape)
        np.testing.assert_array_equal(a.oindex[rsel], _oget(expected, rsel))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_point_writes_then_reads_match_numpy(data):
    shape, inner, shard, location, batched = data.draw(arrays())
    a = open_sharded(shape, inner, shard, location, batched)
    expected = np.full(shape, -1, dtype="int16")
    n = data.draw(st.integers(1, min(6, int(np.prod(shape)))))
    flat = data.draw(st.lists(st.integers(0, int(np.prod(shape)) - 1), min_size=n, max_size=n, unique=True))
    coords = np.unravel_index(np.array(flat), shape)
    values = np.arange(len(flat), dtype="int16") * 3 - 1
    a.vindex[coords] = values
    expected[coords] = values
    np.testing.assert_array_equal(a[...], expected)
    np.testing.assert_array_equal(a.vindex[coords[::-1] if len(shape) == 1 else coords], expected[coords])


def _oshape(shape, sel):
    out = []
    for n, s in zip(shape, sel):
        if isinstance(s, slice):
            out.append(len(range(*s.indices(n))))
        elif isinstance(s, np.ndarray):
            out.append(s.size)
    return tuple(out)


def _oget(arr, sel):
    view = arr
    axis = 0
    for s in sel:
        if isinstance(s, np.ndarray):
            view = np.take(view, s, axis=axis)
            axis += 1
        elif isinstance(s, slice):
            view = view[(slice(None),) * axis + (s,)]
            axis += 1
        else:
            view = view[(slice(None),) * axis + (s,)]
    return view


def _oset(arr, sel, value):
    idx = [np.atleast_1d(np.arange(n)[s]) for n, s in zip(arr.shape, sel)]
    full_shape = tuple(i.size for i in idx)
    arr[np.ix_(*idx)] = np.asarray(value).reshape(full_shape)
