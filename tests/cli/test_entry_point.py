"""The installed ``zarr-engine`` script, run as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _script() -> str:
    beside = Path(sys.executable).with_name("zarr-engine")
    found = str(beside) if beside.exists() else shutil.which("zarr-engine")
    if not found:
        pytest.skip("the zarr-engine script is not installed (pip install -e . --no-deps)")
    return found


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_script(), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_version_and_help():
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.startswith("zarr-engine ")
    h = _run("verify", "--help")
    assert h.returncode == 0 and "exit codes" in h.stdout and "--json" in h.stdout


@pytest.mark.parametrize("command", ["info", "tree", "ls", "get", "copy", "verify", "consolidate", "bench", "demo",
                                     "pyramid"])
def test_every_subcommand_help_lists_the_exit_codes(run, command):
    # "Every subcommand has --help" (README), with the exit-code table scripts rely on
    r = run(command, "--help")
    assert r.code == 0 and f"usage: zarr-engine {command}" in r.out
    assert "exit codes:" in r.out and "130  interrupted" in r.out


def test_info_json_through_the_script(hierarchy):
    r = _run("info", hierarchy / "obs/station", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["shards"] == [32, 32]


def test_exit_codes_through_the_script(hierarchy, tmp_path):
    missing = _run("tree", tmp_path / "nowhere.zarr")
    assert missing.returncode == 3
    assert missing.stdout == "" and len(missing.stderr.strip().splitlines()) == 1
    usage = _run("get", hierarchy / "temperature", "--select", "1:2:3:4")
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1
    nocmd = _run()
    assert nocmd.returncode == 2 and len(nocmd.stderr.strip().splitlines()) == 1
    (hierarchy / "temperature/c/0/0/0").write_bytes(b"\x00" * 7)
    corrupt = _run("verify", hierarchy)
    assert corrupt.returncode == 1 and "CORRUPT temperature/c/0/0/0" in corrupt.stdout


def test_python_dash_m(hierarchy):
    r = subprocess.run([sys.executable, "-m", "zarr_engine.cli", "ls", hierarchy], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "temperature" in r.stdout


def test_exit_codes_follow_the_error_kind():
    from zarr_engine import errors
    from zarr_engine.cli._common import EXIT_CORRUPT, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_USAGE, exit_code_for

    assert exit_code_for(errors.ArgumentError("mode")) == EXIT_USAGE
    assert exit_code_for(errors.SelectionError("sel")) == EXIT_USAGE
    assert exit_code_for(errors.ChunkCorruptError("c/0")) == EXIT_CORRUPT
    assert exit_code_for(errors.NodeNotFoundError("/x")) == EXIT_NOT_FOUND
    assert exit_code_for(errors.MetadataError("bad")) == EXIT_INVALID


@pytest.mark.parametrize("command", ["info", "tree", "ls -r", "get --select 0", "verify"])
def test_commands_that_need_no_dask_do_not_import_it(tmp_path, command):
    """Building the parser imports every subcommand's module; importing dask.array
    with them cost every command 0.5 s of its 0.85 s. Only copy, pyramid and demo
    (and bench) import it now, when they run."""
    import numpy as np
    import zarr

    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(4, 4), chunks=(2, 2), dtype="i2")
    z[:] = np.arange(16).reshape(4, 4)
    name, *rest = command.split()
    code = (
        "import sys; from zarr_engine.cli import main; "
        f"rc = main([{name!r}, {str(tmp_path / 'a.zarr')!r}, *{rest!r}]); "
        "print('DASK' if 'dask' in sys.modules else 'NO-DASK', rc, file=sys.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stderr.strip().splitlines()[-1] == "NO-DASK 0", r.stderr
