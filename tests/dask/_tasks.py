"""Functions the dask tests run inside worker processes (importable there by module name)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import zarr_engine as ze


def blosc_uses_threads() -> Any:
    """numcodecs' blosc threading switch as this process sees it."""
    import numcodecs.blosc

    return numcodecs.blosc.use_threads


def die_once(
    block: np.ndarray,
    marker: str,
    victim: tuple[int, ...],
    url: str,
    block_start: tuple[int, ...],
    block_id: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Pass ``block`` through, except on the first attempt at block ``victim``: there, write
    garbage into part of that block's place in the array (a write caught half done), then kill
    this worker process outright. The marker file makes only the first attempt die."""
    if block_id == victim and not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        arr = ze.open_array(url, mode="r+")
        half = tuple(slice(s, s + max(1, n // 2)) for s, n in zip(block_start, block.shape))
        arr[half] = -12345
        os._exit(1)
    return block
