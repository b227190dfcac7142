"""Fixtures of the CLI tests: small stores to inspect, and a runner of ``main(argv)``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.cli import main


@dataclass
class Result:
    """What one in-process run of ``zarr-engine`` produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``zarr-engine ARGS...`` in-process and capture its exit code, stdout and stderr."""

    def _run(*argv: str) -> Result:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def option_args(options: dict[str, Any], flag: str = "-O", prefix: str = "") -> list[str]:
    """storage_options as repeated ``-O key=value`` arguments, nested dicts as dotted keys."""
    out: list[str] = []
    for key, value in options.items():
        if isinstance(value, dict):
            out += option_args(value, flag, f"{prefix}{key}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out += [flag, f"{prefix}{key}={text}"]
    return out


TEMPERATURE = (np.arange(20 * 30 * 40, dtype="f4").reshape(20, 30, 40) % 97) / 3.0


@pytest.fixture
def hierarchy(tmp_path: Path) -> Path:
    """A v3 group: /temperature (f4, 20x30x40, chunks 8x16x16), /obs/count (i4, with
    missing chunks) and /obs/station (sharded u2), with attributes everywhere."""
    root = tmp_path / "h.zarr"
    g = ze.create_group(str(root), attributes={"title": "CLI test", "version": 3})
    t = g.create_array("temperature", shape=TEMPERATURE.shape, dtype="f4", chunks=(8, 16, 16), fill_value=np.nan,
                       dimension_names=("time", "y", "x"), attributes={"units": "K"})
    t[...] = TEMPERATURE
    obs = g.create_group("obs", attributes={"kind": "observations"})
    c = obs.create_array("count", shape=(100,), dtype="i4", chunks=(10,), fill_value=-1)
    c[:35] = np.arange(35)  # chunks 4..9 never written: missing, reading as -1
    s = obs.create_array("station", shape=(64, 64), dtype="u2", chunks=(8, 8), shards=(32, 32))
    s[...] = np.arange(64 * 64, dtype="u2").reshape(64, 64)
    return root


@pytest.fixture
def v2_array(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A v2 array (f8, 50x60, chunks 7x11, F order, zlib) and its data."""
    data = np.random.default_rng(5).standard_normal((50, 60))
    path = tmp_path / "v2.zarr"
    a = ze.create_array(str(path), shape=data.shape, dtype="f8", chunks=(7, 11), zarr_format=2, order="F",
                        compressor={"id": "zlib", "level": 3}, fill_value=0.0, attributes={"source": "v2"})
    a[...] = data
    return path, data
