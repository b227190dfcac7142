"""Every store in ../shared/fixtures opens, and every array in it reads what
zarr-python reads, or fails with our clear error where zarr-python cannot read
it either (a codec whose package is not installed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr

import zarr_engine as ze
from zarr_engine.errors import UnknownCodecError, ZarrEngineError
from tests.support import PROJECT, assert_same, fixtures_dir

FIXTURES = PROJECT.parent / "shared" / "fixtures"


def array_nodes() -> list[tuple[str, str]]:
    """(store folder, array path inside it) for every array in the folder fixtures."""
    if not FIXTURES.is_dir():
        return []
    out = []
    for meta in sorted(FIXTURES.rglob("*")):
        if meta.name not in ("zarr.json", ".zarray"):
            continue
        if meta.name == "zarr.json" and '"node_type": "group"' in meta.read_text().replace("\n", " ").replace('":"', '": "'):
            continue
        node = meta.parent
        # the store is the outermost *.zarr folder holding the node
        root = node
        for p in node.parents:
            if p.suffix == ".zarr":
                root = p
        out.append((str(root), str(node.relative_to(root))))
    return out


def decode_v2_by_hand(node: Path) -> np.ndarray:
    """A single-chunk v2 array decoded with numcodecs directly (compressor, then filters in reverse)."""
    import json

    import numcodecs

    meta = json.loads((node / ".zarray").read_text())
    if meta["shape"] != meta["chunks"]:
        pytest.fail(f"{node}: zarr-python cannot read it and it is not a single-chunk v2 array")
    raw = (node / "0").read_bytes()
    if meta["compressor"]:
        raw = numcodecs.get_codec(meta["compressor"]).decode(raw)
    data = raw
    for f in reversed(meta["filters"] or []):
        data = numcodecs.get_codec(f).decode(data)
    return np.asarray(data, dtype=object).reshape(meta["shape"])


def zarr_python_read(root: str, path: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            a = zarr.open_array(root, path=path if path != "." else "", mode="r")
            return a[...], None
        except Exception as e:  # the oracle could not read it
            return None, e


@pytest.mark.parametrize("root,path", array_nodes(), ids=lambda v: v.replace(str(FIXTURES) + "/", ""))
def test_fixture_array_reads_like_zarr_python(root, path):
    fixtures_dir()
    expected, their_error = zarr_python_read(root, path)
    node_path = "" if path == "." else path
    if their_error is not None:
        try:
            got = ze.open_array(root, path=node_path, mode="r")[...]
        except ZarrEngineError as e:
            # a clear error that names the node or the missing codec
            assert node_path.split("/")[-1] in str(e) or isinstance(e, UnknownCodecError), e
            return
        # we read what zarr-python cannot: check against numcodecs applied by hand
        assert_same(got, decode_v2_by_hand(Path(root) / path))
        return
    ours = ze.open_array(root, path=node_path, mode="r")
    got = ours[...]
    assert_same(got, np.asarray(expected))


def test_every_fixture_group_lists_its_members():
    base = fixtures_dir()
    for name in ("zarrita-js/v2/data.zarr", "zarrita-js/v3/data.zarr"):
        g = ze.open_group(str(base / name), mode="r")
        # zarr-python cannot list this group (it chokes on the json2 array), so the
        # folders that hold a metadata document are the reference
        expected = sorted(
            p.name for p in (base / name).iterdir()
            if any((p / m).exists() for m in ("zarr.json", ".zarray", ".zgroup"))
        )
        assert sorted(g.keys()) == expected
        assert len(expected) > 5


ZIPS = [
    ("zarrita-js/v2/data.zipped_from_parent.zarr.zip", "zarrita-js/v2/data.zarr"),
    ("zarrita-js/v2/data.zipped_from_within.zarr.zip", "zarrita-js/v2/data.zarr"),
    ("zarrita-js/v3/data.zipped_from_parent.zarr.zip", "zarrita-js/v3/data.zarr"),
    ("zarrita-js/v3/data.zipped_from_within.zarr.zip", "zarrita-js/v3/data.zarr"),
    ("zarrita-js/v3/data.uncompressed.zarr.zip", "zarrita-js/v3/data.zarr"),
]


@pytest.mark.parametrize("zip_name,folder", ZIPS)
def test_zipped_hierarchies_read_like_their_folders(zip_name, folder):
    base = fixtures_dir()
    g = ze.open_group(f"zip://{base / zip_name}", mode="r")
    checked = 0
    for name, node in g.members(max_depth=None):
        if not isinstance(node, ze.Array):
            continue
        expected, err = zarr_python_read(str(base / folder), name)
        if err is not None:
            continue
        assert_same(node[...], np.asarray(expected))
        checked += 1
    assert checked >= 5
