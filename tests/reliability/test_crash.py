"""Crash safety: SIGKILL a writing process at random moments, many times over.

The writer stamps every chunk with its generation (see ``_util.stamp``) and
rewrites whole chunks in several ways (whole array, block by block, orthogonal
selections of whole chunks), bumping an attribute each generation. After each
kill the array must open, every stored chunk must be one clean generation (its
old or its new value, never torn), and listings must show no temporary file.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import zarr_engine as ze
from zarr_engine.storage import LocalStore, Store
from zarr_engine.storage.sqlite import SQLiteStore

from ._util import generation_of, scaled, stamp

CHUNK = (64, 64)  # 32 KiB of int64 per chunk: writes take long enough to be interrupted
GRID = (4, 4)
SHAPE = (CHUNK[0] * GRID[0], CHUNK[1] * GRID[1])


def _open(kind: str, where: str) -> Store:
    return LocalStore(where) if kind == "local" else SQLiteStore(where)


def _image(gen: int) -> np.ndarray:
    out = np.empty(SHAPE, dtype="i8")
    for c in range(GRID[0] * GRID[1]):
        i, j = divmod(c, GRID[1])
        out[i * CHUNK[0]:(i + 1) * CHUNK[0], j * CHUNK[1]:(j + 1) * CHUNK[1]] = stamp(c, gen, CHUNK)
    return out


def _writer(kind: str, where: str, start: int) -> None:
    """Write generation after generation until killed."""
    arr = ze.open_array(_open(kind, where), mode="r+")
    gen = start
    while True:
        gen += 1
        image = _image(gen)
        style = gen % 3
        if style == 0:
            arr[...] = image
        elif style == 1:
            for c in random.sample(range(GRID[0] * GRID[1]), GRID[0] * GRID[1]):
                i, j = divmod(c, GRID[1])
                arr.blocks[i, j] = image[i * CHUNK[0]:(i + 1) * CHUNK[0], j * CHUNK[1]:(j + 1) * CHUNK[1]]
        else:
            rows = np.arange(SHAPE[0])
            for j in range(GRID[1]):  # one column band of whole chunks per write
                cols = np.arange(j * CHUNK[1], (j + 1) * CHUNK[1])
                arr.oindex[rows, cols] = image[:, cols]
        arr.attrs["generation"] = gen


def _check(kind: str, where: str) -> tuple[list[int], int]:
    """Open after a kill; return the generation of every chunk and the recorded one."""
    store = _open(kind, where)
    arr = ze.open_array(store, mode="r")
    keys = list(store.list())
    assert all(not k.rsplit("/", 1)[-1].startswith(".") for k in keys), keys  # no temp files listed
    expected = {"zarr.json"} | {f"c/{i}/{j}" for i in range(GRID[0]) for j in range(GRID[1])}
    assert set(keys) == expected, sorted(set(keys) ^ expected)
    data = arr[...]
    gens = []
    for c in range(GRID[0] * GRID[1]):
        i, j = divmod(c, GRID[1])
        g = generation_of(data[i * CHUNK[0]:(i + 1) * CHUNK[0], j * CHUNK[1]:(j + 1) * CHUNK[1]], c)
        assert g is not None, f"chunk {c} is torn or foreign after a kill"
        gens.append(g)
    store.close()
    return gens, int(arr.attrs["generation"])


@pytest.mark.parametrize("kind", ["local", "sqlite"])
def test_sigkill_during_writes_never_tears_a_chunk(kind: str, tmp_path: Path) -> None:
    where = str(tmp_path / ("crash.zarr" if kind == "local" else "crash.db"))
    arr = ze.create_array(_open(kind, where), shape=SHAPE, chunks=CHUNK, dtype="i8",
                          compressors=[{"name": "zstd", "configuration": {"level": 1}}],
                          attributes={"generation": 1})
    arr[...] = _image(1)
    ctx = mp.get_context("fork")
    rng = random.Random(20240611)
    kills = scaled(25, 150)
    mixed = 0  # kills that landed with the array half rewritten
    last_max = 1
    for _ in range(kills):
        before, recorded = _check(kind, where)
        start = max(before + [recorded])
        proc = ctx.Process(target=_writer, args=(kind, where, start))
        proc.start()
        time.sleep(rng.uniform(0.02, 0.35))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL
        gens, recorded = _check(kind, where)
        # Each chunk holds its value from before this writer ran, or one this
        # writer wrote; the writer's generations are consecutive, so the new
        # values present span at most the generation in progress and the one before.
        for c, (old, new) in enumerate(zip(before, gens)):
            assert new == old or new > start, (c, old, new, start)
        fresh = [g for g in gens if g > start]
        assert not fresh or max(fresh) - min(fresh) <= 1, gens
        assert recorded <= max(gens)
        mixed += len(set(gens)) > 1
        last_max = max(last_max, max(gens))
    assert last_max > kills // 2, "the writer barely wrote anything between kills"
    assert mixed >= 3, "no kill landed in the middle of rewriting the array; the test proved nothing"
    if kind == "local":
        # Temporaries of killed writers may remain on disk, but only hidden ones.
        for dirpath, _, files in os.walk(where):
            for name in files:
                if name.endswith(".zetmp"):
                    assert name.startswith(".")
