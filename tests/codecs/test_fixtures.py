"""Chunks written by other implementations (../shared/fixtures): every non-sharded
array's chunks decode with our chains to what zarr-python reads, or fail with
an UnknownCodecError naming the missing codec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from zarr_engine.codecs import ChunkSpec, CodecChain, get_codec
from zarr_engine.errors import UnknownCodecError

from .conftest import FIXTURES
from .oracle import v2_codec_specs


class _Raw(dict):
    """What oracle.v2_codec_specs expects: key -> object with to_bytes()."""


class _B(bytes):
    def to_bytes(self) -> bytes:
        return bytes(self)


def _arrays() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    found = []
    for meta in sorted(FIXTURES.rglob("zarr.json")) + sorted(FIXTURES.rglob(".zarray")):
        if ".zip" in str(meta):
            continue
        doc = json.loads(meta.read_text())
        if doc.get("node_type", "array") != "array" or "shape" not in doc:
            continue
        if any(c.get("name") == "sharding_indexed" for c in doc.get("codecs", [])):
            continue  # sharding is built on top of the chain, tested with it
        found.append(meta)
    return found


ARRAYS = _arrays()


def _key(doc: dict, coords: tuple[int, ...]) -> str:
    if doc.get("zarr_format") == 2:
        sep = doc.get("dimension_separator", ".")
        return sep.join(map(str, coords)) if coords else "0"
    enc = doc["chunk_key_encoding"]
    sep = enc.get("configuration", {}).get("separator", "/" if enc["name"] == "default" else ".")
    if enc["name"] == "default":
        return "c" + "".join(sep + str(c) for c in coords)
    return sep.join(map(str, coords)) if coords else "0"


@pytest.mark.skipif(not ARRAYS, reason="conformance fixtures not found beside the project")
@pytest.mark.parametrize("meta", ARRAYS, ids=lambda p: str(p.parent.relative_to(FIXTURES.resolve()) if p.is_relative_to(FIXTURES.resolve()) else p.parent))
def test_fixture_chunks_decode_like_zarr_python(meta: Path) -> None:
    folder = meta.parent
    doc = json.loads(meta.read_text())
    v2 = meta.name == ".zarray"
    specs = v2_codec_specs(_Raw({".zarray": _B(meta.read_bytes())})) if v2 else doc["codecs"]
    try:
        for s in specs:
            get_codec(s, folder.name)
    except UnknownCodecError as e:  # e.g. numcodecs.zfpy / pcodec without their packages
        msg = str(e)
        assert folder.name in msg and any(repr(s["name"]) in msg for s in specs), msg
        if any(s["name"] in ("numcodecs.zfpy", "numcodecs.pcodec") for s in specs):
            assert "pip install" in msg, msg
        return
    try:
        arr = zarr.open_array(store=zarr.storage.LocalStore(folder, read_only=True), zarr_format=2 if v2 else 3)
        expected = arr[...]
    except Exception as e:  # what zarr-python cannot read is not ours to compare
        pytest.skip(f"zarr-python cannot read it: {type(e).__name__}")
    chunks = tuple(doc["chunks"] if v2 else doc["chunk_grid"]["configuration"]["chunk_shape"])
    dtype = arr.dtype if arr.dtype.kind != "T" else np.dtype(object)
    chain = CodecChain.from_specs(specs, ChunkSpec(chunks, dtype), str(folder.name))
    grid = [-(-s // c) for s, c in zip(arr.shape, chunks)]
    checked = 0
    for coords in np.ndindex(*grid):
        path = folder / _key(doc, coords)
        if not path.is_file():
            continue
        got = chain.decode(path.read_bytes(), key=path.name)
        region = tuple(slice(c * n, min((c + 1) * n, s)) for c, n, s in zip(coords, chunks, arr.shape))
        want = expected[region]
        part = got[tuple(slice(0, r.stop - r.start) for r in region)]
        if dtype.kind in "fcmM":  # NaN / NaT compare equal here
            np.testing.assert_array_equal(part, np.asarray(want, dtype=dtype))
        else:
            assert np.array_equal(part, np.asarray(want, dtype=dtype)), path
        checked += 1
    assert checked or not any(folder.iterdir())
