"""Groups: hierarchy, members, attributes, consolidated metadata."""

from __future__ import annotations

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.errors import ContainsNodeError, NodeTypeError


@pytest.mark.parametrize("fmt", [2, 3])
def test_hierarchy(tmp_path, fmt):
    root = ze.create_group(str(tmp_path / "h"), zarr_format=fmt, attributes={"r": 1})
    arr = root.create_array("a/b/c", shape=(3,), dtype="i2")  # creates a and a/b
    arr[...] = [1, 2, 3]
    root.create_group("g")
    g = ze.open_group(str(tmp_path / "h"), mode="r")
    assert sorted(g) == ["a", "g"]
    assert "a/b" in g and "a/b/c" in g and "zz" not in g
    assert isinstance(g["a"], ze.Group) and isinstance(g["a/b/c"], ze.Array)
    np.testing.assert_array_equal(g["a"]["b"]["c"][...], [1, 2, 3])
    names = [n for n, _ in g.members(max_depth=None)]
    assert names == ["a", "a/b", "a/b/c", "g"]
    assert g.group_keys() == ["a", "g"]
    assert g["a/b"].array_keys() == ["c"]
    assert dict(g.attrs) == {"r": 1}
    text = repr(g.tree())
    assert "c (3,) int16" in text
    with pytest.raises(KeyError):
        g["missing"]


def test_require_and_conflicts(tmp_path):
    root = ze.open_group(str(tmp_path / "r"), mode="w")
    g1 = root.require_group("x")
    g2 = root.require_group("x")
    assert g1 == g2
    root.create_array("arr", shape=(2,), dtype="f4")
    with pytest.raises(NodeTypeError, match="/arr is an array"):
        root.require_group("arr")
    with pytest.raises(NodeTypeError, match="/arr is an array, not a group"):
        root.create_array("arr/inner", shape=(1,), dtype="i1")
    with pytest.raises(ContainsNodeError):
        root.create_group("x")
    a = root.require_array("arr", shape=(2,), dtype="f4")
    assert a.shape == (2,)
    with pytest.raises(NodeTypeError, match="exists with shape"):
        root.require_array("arr", shape=(3,), dtype="f4")
    del root["x"]
    assert "x" not in root


@pytest.mark.parametrize("fmt", [2, 3])
def test_consolidated_metadata_is_used_and_refreshed(tmp_path, fmt):
    path = str(tmp_path / "c")
    root = ze.create_group(path, zarr_format=fmt)
    for i in range(5):
        root.create_array(f"v{i}", shape=(2,), dtype="i1")
    ze.consolidate_metadata(path)
    g = ze.open_group(path, mode="r")
    assert g.metadata.consolidated is not None and len(g.metadata.consolidated) == 5
    # a node added afterwards is not in the consolidated view until it is refreshed
    ze.open_group(path).create_array("late", shape=(1,), dtype="i1")
    assert "late" not in ze.open_group(path, mode="r")
    assert "late" in ze.open_group(path, mode="r", use_consolidated=False)
    ze.consolidate_metadata(path)
    assert "late" in ze.open_group(path, mode="r")


def test_open_detects_node_kind(tmp_path):
    ze.create_array(str(tmp_path / "o"), path="arr", shape=(1,), dtype="i1")
    assert isinstance(ze.open(str(tmp_path / "o")), ze.Group)
    assert isinstance(ze.open(str(tmp_path / "o"), path="arr"), ze.Array)
    assert isinstance(ze.open(str(tmp_path / "o2"), shape=(2,), dtype="i1"), ze.Array)
    with pytest.raises(ze.errors.NodeNotFoundError):
        ze.open(str(tmp_path / "nope"), mode="r")


def test_use_consolidated_true_requires_consolidated_metadata(tmp_path):
    ze.create_group(str(tmp_path / "nc"))
    for opener in (ze.open_group, ze.open):
        with pytest.raises(ze.errors.MetadataError, match="has no consolidated metadata"):
            opener(str(tmp_path / "nc"), mode="r", use_consolidated=True)


def test_unknown_mode_is_a_clear_error(tmp_path):
    for opener in (ze.open, ze.open_group, ze.open_array):
        with pytest.raises(ze.errors.ArgumentError, match="mode must be one of r, r\\+, a, w, w-; got 'rw'"):
            opener(str(tmp_path / "m"), mode="rw")
    assert not (tmp_path / "m").exists()  # nothing was created


def _consolidated_hierarchy(path, fmt):
    """root: top (4,), sub/{x, y, deep/z}; consolidated at the root. Returns the data by name."""
    data = {"top": np.arange(4, dtype="i2"), "sub/x": np.arange(2, dtype="i2") + 10,
            "sub/y": np.arange(2, dtype="i2") + 20, "sub/deep/z": np.arange(2, dtype="i2") + 30}
    root = ze.create_group(path, zarr_format=fmt)
    for name, values in data.items():
        root.create_array(name, shape=values.shape, chunks=(2,), dtype="i2")[...] = values
    ze.consolidate_metadata(path)
    return data


def _zp_listings(path):
    """What a fresh zarr-python open lists: through the consolidated metadata, and from the store."""
    import warnings

    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        consolidated = zarr.open_group(path, mode="r", use_consolidated=True)
        listed = zarr.open_group(path, mode="r", use_consolidated=False)
        return (sorted(k for k, _ in consolidated.members(max_depth=None)),
                sorted(k for k, _ in listed.members(max_depth=None)))


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("how", ["root", "nested-path", "subgroup-object", "opened-at-path"])
def test_deleting_a_member_removes_it_from_consolidated_metadata(tmp_path, fmt, how):
    path = str(tmp_path / "c")
    data = _consolidated_hierarchy(path, fmt)
    if how == "root":  # a group and everything below it
        del ze.open_group(path, mode="r+")["sub"]
        gone = {"sub", "sub/x", "sub/y", "sub/deep", "sub/deep/z"}
    elif how == "nested-path":
        del ze.open_group(path, mode="r+")["sub/x"]
        gone = {"sub/x"}
    elif how == "subgroup-object":  # the consolidated metadata is the root's, not sub's
        del ze.open_group(path, mode="r+")["sub"]["deep"]
        gone = {"sub/deep", "sub/deep/z"}
    else:
        del ze.open_group(path, mode="r+", path="sub")["y"]
        gone = {"sub/y"}
    expected = sorted({"top", "sub", "sub/x", "sub/y", "sub/deep", "sub/deep/z"} - gone)
    # zarr-python's consolidated view agrees with the store, and so does ours
    assert _zp_listings(path) == (expected, expected)
    g = ze.open_group(path, mode="r")
    assert g.metadata.consolidated is not None
    assert sorted(k for k, _ in g.members(max_depth=None)) == expected
    for name in gone:
        assert name not in g
    for name, values in data.items():
        if name not in gone:
            np.testing.assert_array_equal(g[name][...], values)
    if "sub" not in gone:  # only the root holds consolidated metadata: none was written for sub
        assert ze.open_group(path, mode="r", path="sub").metadata.consolidated is None


@pytest.mark.parametrize("fmt", [2, 3])
def test_deleted_member_stays_out_after_an_attribute_update_through_the_same_group(tmp_path, fmt):
    path = str(tmp_path / "c")
    _consolidated_hierarchy(path, fmt)
    root = ze.open_group(path, mode="r+")
    del root["sub"]
    root.attrs["title"] = "t"  # rewrites the group's metadata, consolidated metadata included
    assert _zp_listings(path) == (["top"], ["top"])
    assert list(ze.open_group(path, mode="r")) == ["top"]


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("how", ["through-a-subgroup", "through-another-handle", "attrs-of-an-older-subgroup"])
def test_an_attribute_update_never_writes_a_deleted_member_back(tmp_path, fmt, how):
    path = str(tmp_path / "c")
    data = _consolidated_hierarchy(path, fmt)
    root = ze.open_group(path, mode="r+")  # with its consolidated metadata
    writer = root
    if how == "through-a-subgroup":  # the root's own handle stops listing sub/x at once
        del root["sub"]["x"]
        assert "sub/x" not in root and "x" not in root["sub"]
        assert sorted(k for k, _ in root.members(max_depth=None)) == ["sub", "sub/deep", "sub/deep/z", "sub/y", "top"]
    elif how == "through-another-handle":
        del ze.open_group(path, mode="r+")["sub/x"]
    else:  # a subgroup handle taken before the delete carries the root's view of sub
        writer = root["sub"]
        del root["sub/x"]
    writer.attrs["note"] = "hello"
    expected = ["sub", "sub/deep", "sub/deep/z", "sub/y", "top"]
    assert _zp_listings(path) == (expected, expected)
    g = ze.open_group(path, mode="r")
    assert g.metadata.consolidated is not None
    assert sorted(k for k, _ in g.members(max_depth=None)) == expected
    assert "sub/x" not in g and "x" not in ze.open_group(path, mode="r", path="sub")
    assert dict(ze.open_group(path, mode="r", path=writer.path).attrs) == {"note": "hello"}
    for name in expected:
        if name in data:
            np.testing.assert_array_equal(g[name][...], data[name])


@pytest.mark.parametrize("fmt", [2, 3])
def test_deleting_from_a_consolidated_group_lists_what_zarr_python_lists(tmp_path, fmt):
    import warnings

    import zarr

    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    _consolidated_hierarchy(ours, fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zg = zarr.open_group(theirs, mode="w", zarr_format=fmt)
        for name in ("top", "sub/x", "sub/y", "sub/deep/z"):
            zg.create_array(name, shape=(2,), dtype="i2")
        zarr.consolidate_metadata(theirs)
        del zarr.open_group(theirs, mode="r+")["sub"]
    del ze.open_group(ours, mode="r+")["sub"]
    assert _zp_listings(ours) == _zp_listings(theirs) == (["top"], ["top"])


def test_unreadable_metadata_above_stops_a_delete_before_anything_is_deleted(tmp_path):
    path = tmp_path / "c"
    data = _consolidated_hierarchy(str(path), 3)
    sub = ze.open_group(str(path), mode="r+", path="sub")
    (path / "zarr.json").write_bytes(b'{"zarr_format": 3, "node_type": ')  # the root's, cut short
    with pytest.raises(ze.errors.MetadataError, match=r"node '/' \(zarr.json\)"):
        del sub["x"]
    np.testing.assert_array_equal(sub["x"][...], data["sub/x"])  # still all there


@pytest.mark.parametrize("fmt", [2, 3])
def test_refreshing_a_handle_whose_node_changed_kind_is_a_node_type_error(tmp_path, fmt):
    import zarr

    path = str(tmp_path / "k")
    root = ze.open_group(path, mode="w", zarr_format=fmt)
    a = root.create_array("x", shape=(4,), chunks=(2,), dtype="i2", attributes={"was": "array"})
    a[...] = [1, 2, 3, 4]
    s = root.create_group("y", attributes={"was": "group"})
    s.create_array("inside", shape=(1,), dtype="i1")
    # another writer (zarr-python) replaces the array by a group and the group by an array
    zarr.create_group(path + "/x", overwrite=True, zarr_format=fmt)
    zarr.create_array(path + "/y", shape=(3,), dtype="i1", overwrite=True, zarr_format=fmt)
    with pytest.raises(NodeTypeError, match="the node at /x is now a group, not an array"):
        a.attrs.refresh()
    with pytest.raises(NodeTypeError, match="the node at /y is now an array, not a group"):
        s.attrs.refresh()
    # the handles are as they were: still an array of shape (4,) and a group with its attributes
    assert a.shape == (4,) and a.dtype == np.dtype("i2") and dict(a.attrs) == {"was": "array"}
    assert isinstance(a.metadata, ze.format.ArrayMetadata)
    assert dict(s.attrs) == {"was": "group"} and isinstance(s.metadata, ze.format.GroupMetadata)
    # the new nodes open as what they now are, as zarr-python opens them
    assert isinstance(zarr.open(path, path="x", mode="r"), zarr.Group)
    assert isinstance(ze.open(path, path="x", mode="r"), ze.Group)
    assert isinstance(zarr.open(path, path="y", mode="r"), zarr.Array)
    assert ze.open_array(path, path="y", mode="r").shape == (3,)


@pytest.mark.parametrize("fmt", [2, 3])
def test_setting_attributes_of_a_group_replaced_or_deleted_since_is_refused(tmp_path, fmt):
    import zarr

    path = str(tmp_path / "r")
    root = ze.open_group(path, mode="w", zarr_format=fmt)
    replaced, deleted = root.create_group("y"), root.create_group("gone")
    zarr.create_array(path + "/y", shape=(3,), dtype="i1", overwrite=True, zarr_format=fmt, fill_value=4)
    del ze.open_group(path, mode="r+")["gone"]
    with pytest.raises(NodeTypeError, match="the node at /y is now an array, not a group"):
        replaced.attrs["k"] = 1
    with pytest.raises(ze.errors.NodeNotFoundError, match="group /gone is no longer in"):
        deleted.attrs["k"] = 1
    # the array another writer put there is intact, and the deleted group stays deleted
    np.testing.assert_array_equal(zarr.open_array(path, path="y", mode="r")[...], [4, 4, 4])
    assert sorted(zarr.open_group(path, mode="r")) == sorted(ze.open_group(path, mode="r")) == ["y"]


@pytest.mark.parametrize("fmt", [2, 3])
def test_attribute_errors_name_the_node_and_deep_attributes_consolidate_like_zarr_python(tmp_path, fmt):
    import shutil
    import warnings

    import zarr

    from zarr_engine.format._util import MAX_DEPTH

    path = tmp_path / "c.zarr"
    a = ze.open_group(str(path), mode="w", zarr_format=fmt).create_group("sub").create_array(
        "temperature", shape=(2,), dtype="i1")
    before = {str(f.relative_to(path)): f.read_bytes() for f in path.rglob("*") if f.is_file()}
    key = "zarr.json" if fmt == 3 else ".zattrs"
    with pytest.raises(ze.errors.MetadataError,
                       match=rf"node '/sub/temperature' \({key}\): attribute 'units': bytes b'K' is not JSON"):
        a.attrs["units"] = b"K"
    assert dict(a.attrs) == {}
    assert {str(f.relative_to(path)): f.read_bytes() for f in path.rglob("*") if f.is_file()} == before
    deep: object = 0
    for _ in range(MAX_DEPTH - 1):  # the deepest attribute accepted, and read back by zarr-python
        deep = [deep]
    a.attrs["deep"] = deep
    assert zarr.open_array(str(path), path="sub/temperature", mode="r").attrs["deep"] == deep
    theirs = tmp_path / "theirs.zarr"
    shutil.copytree(path, theirs)
    ze.consolidate_metadata(str(path))  # consolidated, as zarr-python consolidates it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(theirs))
        assert zarr.open_consolidated(str(path), zarr_format=fmt)["sub/temperature"].attrs["deep"] == deep
    ours, zp = (ze.open_group(str(p), mode="r").metadata.consolidated for p in (path, theirs))
    assert list(ours) == list(zp) == ["sub", "sub/temperature"]
    assert ours["sub/temperature"] == zp["sub/temperature"]
    assert ours["sub/temperature"].attributes == {"deep": deep}


def test_update_attributes_takes_zarr_pythons_keyword(tmp_path):
    import zarr

    ref = zarr.create_group(str(tmp_path / "ref.zarr"), attributes={"a": 1})
    ours = ze.create_group(str(tmp_path / "ours.zarr"), attributes={"a": 1})
    ref.update_attributes(new_attributes={"b": [2, 3]})
    assert ours.update_attributes(new_attributes={"b": [2, 3]}) is ours
    assert dict(ze.open_group(str(tmp_path / "ours.zarr"), mode="r").attrs) == dict(ref.attrs) == {"a": 1, "b": [2, 3]}


@pytest.mark.parametrize("opener", ["open", "open_group", "open_array"])
def test_mode_w_minus_on_an_existing_node_advises_a_mode_the_call_takes(tmp_path, opener):
    # zarr-python refuses with FileExistsError and advises mode 'w' or 'a'; open* take no
    # overwrite=, so advising it (as create_array's message does) would only raise a TypeError
    import zarr

    path = str(tmp_path / "x.zarr")
    kwargs = {"shape": (3,), "dtype": "i4"} if opener == "open_array" else {}
    zarr.create_array(path, shape=(3,), dtype="i4")
    with pytest.raises(FileExistsError):
        getattr(zarr, opener)(path, mode="w-", **kwargs)
    with pytest.raises(ContainsNodeError) as info:
        getattr(ze, opener)(path, mode="w-", **kwargs)
    assert "overwrite=True" not in str(info.value)
    assert "mode='w'" in str(info.value) and "mode='a'" in str(info.value)
    getattr(ze, opener)(path, mode="w", **kwargs)  # the advice works


@pytest.mark.parametrize("fmt", [2, 3])
def test_consolidated_members_of_nested_groups_match_zarr_python(tmp_path, fmt):
    """Each subgroup's part of the consolidated view (split out once per group,
    not by scanning the whole view once per child) lists what zarr-python lists."""
    import zarr

    path = str(tmp_path / "n")
    root = zarr.open_group(path, mode="w", zarr_format=fmt)
    for i in range(12):
        g = root.create_group(f"g{i}")
        g.create_array("x", shape=(i + 1,), dtype="i2")
        g.create_group("sub").create_array("y", shape=(2, i + 1), dtype="f4")
    root.create_array("top", shape=(3,), dtype="u1")
    zarr.consolidate_metadata(path)

    ours = ze.open_group(path, mode="r")
    assert ours.metadata.consolidated is not None
    theirs = zarr.open_group(path, mode="r")
    got = {n: (type(m).__name__, getattr(m, "shape", None)) for n, m in ours.members(max_depth=None)}
    want = {n: (type(m).__name__, getattr(m, "shape", None)) for n, m in theirs.members(max_depth=None)}
    assert got == want and len(got) == 12 * 4 + 1
    for name in ("g3", "g3/sub", "g11/sub"):
        sub = ours[name]
        assert sub.metadata.consolidated is not None  # answered from the view, not the store
        assert sorted(n for n, _ in sub.members(max_depth=None)) == sorted(n for n, _ in theirs[name].members(max_depth=None))
    assert ours["g3"]["sub"].metadata.consolidated == ours["g3/sub"].metadata.consolidated
    # a member deleted through a subgroup is gone from the views of the handles above it
    w = ze.open_group(path, mode="a")
    g5 = w["g5"]
    del g5["sub"]
    assert [n for n, _ in g5.members(max_depth=None)] == ["x"]
    assert "g5/sub" not in w and [n for n, _ in w["g5"].members(max_depth=None)] == ["x"]


def test_creating_below_a_consolidated_group_reads_only_its_kind(tmp_path):
    """Creating a node checks that each ancestor is a group, and nothing more of
    it: the ancestor's consolidated metadata is not parsed (10,000 nodes of it
    cost 0.4 s for each array created below), so an entry there that does not
    parse does not stop the creation, as in zarr-python."""
    import json

    import zarr

    path = tmp_path / "c.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    root.create_array("a", shape=(3,), dtype="i2")
    zarr.consolidate_metadata(str(path))
    doc = json.loads((path / "zarr.json").read_text())
    doc["consolidated_metadata"]["metadata"]["a"]["shape"] = "bad"
    (path / "zarr.json").write_text(json.dumps(doc))
    zarr.create_array(str(path), name="z", shape=(2,), dtype="f4")  # zarr-python creates below it
    b = ze.create_array(str(path), name="sub/b", shape=(4,), dtype="f4")
    b[:] = [1, 2, 3, 4]
    np.testing.assert_array_equal(zarr.open_array(str(path), path="sub/b")[:], [1, 2, 3, 4])
    with pytest.raises(NodeTypeError, match="is an array, not a group"):
        ze.create_array(str(path), name="z/inner", shape=(1,), dtype="i1")
