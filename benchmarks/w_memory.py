"""W8: peak resident memory of a whole W1 read, as a multiple of the array's size.

Each engine reads in a fresh child process (``python -m benchmarks.w_memory
ENGINE FOLDER``), so that no engine inherits another's heap. The child opens
the array and reads one element (imports, thread pools and caches are set up
before the baseline), resets the kernel's high-water mark of its resident set
(``/proc/self/clear_refs``), reads the whole array, and reports the peak above
the baseline. 1.0 means the output array alone; anything above it is the
engine's own buffers.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
from typing import Any

from .common import US, Context, Row, attempt
from .engines import Loc, available
from .w_local import ensure_store


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def measure(engine: str, folder: str) -> dict[str, Any]:
    """In this process: the peak resident bytes above the baseline while ``engine`` reads ``folder`` whole."""
    adapter = next(a for a in available() if a.name == engine)
    handle = adapter.open(Loc(folder))
    probe = adapter.read(handle, (slice(0, 1),) * 3)
    del probe
    gc.collect()
    base = (_status_kib("VmRSS") or 0) * 1024
    reset = _reset_peak()
    if not reset:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = adapter.read(handle)
    peak = (_status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) or 0
    return {"engine": engine, "base": base, "peak": peak * 1024, "nbytes": int(out.nbytes),
            "multiple": (peak * 1024 - base) / out.nbytes}


def _child(engine: str, folder: str) -> float:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "benchmarks.w_memory", engine, folder], capture_output=True,
                          text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["multiple"])


def w8(ctx: Context) -> list[Row]:
    """W8: one child process per engine reading W1 (zstd level 1) whole."""
    s = ctx.sizes
    data = ctx.data(s.w1_shape, "float32")
    loc = ensure_store(ctx, "W1", "zstd1", data, s.w1_chunks, None)
    row = Row("W8", "peak RSS of a W1 zstd1 read", "x array size", higher_is_better=False)
    for ad in ctx.adapters:
        ctx.log(f"  W8: {ad.name}")
        attempt(row, ad.name, lambda name=ad.name: _child(name, loc.path), ctx.log)
    return [row]


WORKLOADS: dict[str, Any] = {"W8": w8}

if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
