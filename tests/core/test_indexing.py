"""Selection plans agree with numpy: every chunk projection, scattered, rebuilds numpy's answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarr_engine.core.indexing import (
    OrthogonalPlan,
    PointPlan,
    blocks_to_selection,
    get_orthogonal,
    selection_kind,
    set_orthogonal,
)
from zarr_engine.errors import SelectionError


def chunk_of(a: np.ndarray, coords, chunks) -> np.ndarray:
    """The stored chunk at ``coords``: padded to the full chunk shape like Zarr does."""
    region = tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, chunks))
    out = np.full(chunks, -1, dtype=a.dtype)
    part = a[region]
    out[tuple(slice(0, s) for s in part.shape)] = part
    return out


def read_via_plan(a: np.ndarray, sel, chunks) -> np.ndarray:
    plan = OrthogonalPlan(sel, a.shape, chunks)
    out = np.full(plan.out_shape, -7, dtype=a.dtype)
    for p in plan:
        set_orthogonal(out, p.out_sel, get_orthogonal(chunk_of(a, p.coords, chunks), p.chunk_sel))
    return out


def numpy_orthogonal(a: np.ndarray, sel) -> np.ndarray:
    """numpy's result for an orthogonal selection (one axis at a time)."""
    sel = sel if isinstance(sel, tuple) else (sel,)
    sel = sel + (slice(None),) * (a.ndim - len(sel))
    out = a
    axis = 0
    for s in sel:
        if isinstance(s, (int, np.integer)):
            out = np.take(out, s, axis=axis)
        elif isinstance(s, slice):
            out = out[(slice(None),) * axis + (s,)]
            axis += 1
        else:
            out = np.take(out, np.flatnonzero(s) if np.asarray(s).dtype == bool else np.asarray(s), axis=axis)
            axis += 1
    return out


@st.composite
def shapes_and_chunks(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 13)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    return shape, chunks


@st.composite
def basic_selection(draw, shape):
    sel = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "full"])) if n else "slice"
        if kind == "int":
            sel.append(draw(st.integers(-n, n - 1)))
        elif kind == "full":
            sel.append(slice(None))
        else:
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            step = draw(st.none() | st.integers(-4, 4).filter(lambda x: x != 0))
            sel.append(slice(start, stop, step))
    return tuple(sel)


@st.composite
def orthogonal_selection(draw, shape):
    sel = list(draw(basic_selection(shape)))
    for i, n in enumerate(shape):
        if n and draw(st.booleans()):
            if draw(st.booleans()):
                sel[i] = np.array(draw(st.lists(st.integers(-n, n - 1), max_size=8)), dtype=np.int64)
            else:
                sel[i] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return tuple(sel)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_basic_plan_matches_numpy(data):
    shape, chunks = data.draw(shapes_and_chunks())
    a = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    sel = data.draw(basic_selection(shape))
    expected = a[sel]
    got = read_via_plan(a, sel, chunks)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_orthogonal_plan_matches_numpy(data):
    shape, chunks = data.draw(shapes_and_chunks())
    a = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    sel = data.draw(orthogonal_selection(shape))
    expected = numpy_orthogonal(a, sel)
    got = read_via_plan(a, sel, chunks)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_point_plan_matches_numpy(data):
    shape, chunks = data.draw(shapes_and_chunks())
    if 0 in shape:
        return
    a = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    npts = data.draw(st.integers(0, 20))
    coords = tuple(
        np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=npts, max_size=npts)), dtype=np.int64)
        for n in shape
    )
    plan = PointPlan(coords, shape, chunks)
    out = np.full(plan.out_shape, -7, dtype=a.dtype).reshape(-1)
    for g in plan:
        out[g.positions] = chunk_of(a, g.coords, chunks)[g.local]
    np.testing.assert_array_equal(out.reshape(plan.out_shape), a[coords])


def test_covers_flags_mark_whole_chunks_only():
    plan = OrthogonalPlan((slice(0, 10), slice(2, 8)), (10, 10), (5, 5))
    flags = {p.coords: (p.covers_valid, p.is_whole) for p in plan}
    assert flags[(0, 0)] == (False, False)
    assert flags[(1, 1)] == (False, False)
    plan = OrthogonalPlan((slice(None), slice(None)), (7, 10), (5, 5))
    flags = {p.coords: (p.covers_valid, p.is_whole) for p in plan}
    assert flags[(0, 0)] == (True, True)
    # the ragged edge chunk is wholly covered for a write, but not whole for a read
    assert flags[(1, 0)] == (True, False)


@pytest.mark.parametrize(
    "sel, message",
    [
        ((10,), "out of bounds for axis 0 with size 10"),
        ((slice(None), -11), "out of bounds for axis 1"),
        ((slice(0, 5, 0),), "step cannot be zero"),
        ((0, 0, 0), "too many indices"),
        ((Ellipsis, Ellipsis), "at most one Ellipsis"),
        ((None,), "newaxis"),
        (("a",), "unsupported selection"),
        ((np.array([0.5]),), "must be of integers or booleans"),
        ((np.ones(3, dtype=bool),), r"boolean index on axis 0 has shape \(3,\), expected \(10,\)"),
    ],
)
def test_bad_selections_raise_clear_errors(sel, message):
    with pytest.raises(SelectionError, match=message):
        OrthogonalPlan(sel, (10, 10), (3, 3))


def test_basic_plan_refuses_arrays():
    with pytest.raises(SelectionError, match="use .oindex or .vindex"):
        OrthogonalPlan((np.array([1, 2]),), (10,), (3,), allow_arrays=False)


def test_vindex_errors():
    with pytest.raises(SelectionError, match="one coordinate array per axis"):
        PointPlan((np.array([1]),), (4, 4), (2, 2))
    with pytest.raises(SelectionError, match="cannot be broadcast"):
        PointPlan((np.array([1, 2]), np.array([1, 2, 3])), (4, 4), (2, 2))
    with pytest.raises(SelectionError, match="does not match the array's shape"):
        PointPlan((np.ones((3, 3), bool),), (4, 4), (2, 2))


def test_selection_kinds_follow_zarr_python():
    assert selection_kind((slice(None), 1), 2) == "basic"
    assert selection_kind(([1, 2], slice(None)), 2) == "orthogonal"
    assert selection_kind(([1, 2], [0, 1]), 2) == "vindex"
    assert selection_kind(np.ones((2, 2), bool), 2) == "vindex"
    assert selection_kind(np.ones(2, bool), 1) == "orthogonal"
    # integers beside two or more integer arrays are broadcast with them into points
    assert selection_kind(([0, 2], 1, [1, 2]), 3) == "vindex"
    assert selection_kind((np.int64(1), np.array([0, 1]), [1, 2]), 3) == "vindex"
    assert selection_kind(([0, 2], Ellipsis, [1, 2]), 2) == "vindex"
    # one array per axis with a boolean among them: per axis, as zarr-python
    assert selection_kind(([True, False], [0, 1]), 2) == "orthogonal"
    assert selection_kind(([0, 2], slice(None), 1), 3) == "orthogonal"
    # one integer array of several dimensions with an integer for every other axis: points
    assert selection_kind((1, np.array([[0, 1], [2, 3]])), 2) == "vindex"
    assert selection_kind(np.array([[0, 1], [2, 3]]), 1) == "vindex"
    assert selection_kind((slice(None), np.array([[0, 1], [2, 3]])), 2) == "orthogonal"  # refused by the plan


@pytest.mark.parametrize(
    "sel, mixed",
    [
        ((slice(None), [0, 1], [1, 2]), "slices"),
        (([0, 1], [1, 2]), r"axes left out \(2 of 3 given\)"),
        (([0, 1], [1, 2], Ellipsis), "an Ellipsis"),
        (([True, False, True], 2, [1, 2]), "integers and boolean arrays"),
    ],
)
def test_several_index_arrays_beside_other_indices_are_refused(sel, mixed):
    with pytest.raises(SelectionError, match=f"of array /t mixes 2 index arrays with {mixed}: .*Use .oindex"):
        selection_kind(sel, 3, "/t")


def test_blocks_translate_to_element_ranges():
    assert blocks_to_selection((1, slice(0, 2)), (10, 7), (4, 3)) == (slice(4, 8), slice(0, 6))
    assert blocks_to_selection((-1,), (10,), (4,)) == (slice(8, 10),)
    with pytest.raises(SelectionError, match="out of bounds"):
        blocks_to_selection((3,), (10,), (4,))
