"""Shared helpers of the format tests: the fixtures folder and the zarr-python oracle."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


@pytest.fixture
def fixtures_root() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"conformance fixtures not found at {FIXTURES}")
    return FIXTURES


def read_docs(folder: Path) -> dict[str, bytes]:
    """The metadata documents of one node folder, as the core would fetch them."""
    return {k: (folder / k).read_bytes() for k in ("zarr.json", ".zarray", ".zgroup", ".zattrs") if (folder / k).exists()}


def zp_create(folder: Path, **kwargs: Any) -> dict[str, bytes]:
    """Create an array with zarr-python (the oracle) and return its metadata documents."""
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(store=str(folder), **kwargs)
    return read_docs(folder)


def zp_canonical(folder: Path) -> dict[str, Any]:
    """What zarr-python makes of the node in ``folder``: its own re-serialised metadata, as JSON."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        node = zarr.open(store=str(folder), mode="r")
    bufs = node.metadata.to_buffer_dict(default_buffer_prototype())
    return {k: json.loads(v.to_bytes()) for k, v in bufs.items()}


def write_docs(folder: Path, docs: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for key, data in docs.items():
        (folder / key).write_bytes(data)
