"""Stores that only some schedulers can reach: memory:// (this process only) and zip files
(one writer). Refused up front where the tasks would run elsewhere; unchanged under threads."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest

import zarr_engine as ze
from tests.support import sample
from zarr_engine.dask import WriteResult, from_zarr, to_zarr
from zarr_engine.errors import StoreError
from zarr_engine.storage import MemoryStore


@pytest.fixture
def memory_name():
    name = f"sched-{uuid.uuid4().hex}"
    yield name
    MemoryStore.discard(name)


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_memory_store_round_trip_in_this_process(memory_name, scheduler):
    data = sample("f4", (12, 10), seed=30)
    with dask.config.set(scheduler=scheduler):
        result = to_zarr(da.from_array(data, chunks=(4, 5)), f"memory://{memory_name}")
        assert result == WriteResult(chunks_written=6, chunks_empty=0)
        assert from_zarr(f"memory://{memory_name}").compute().tobytes() == data.tobytes()
    assert ze.open_array(f"memory://{memory_name}")[...].tobytes() == data.tobytes()


def test_zip_write_under_threads_is_read_by_zarr_python(tmp_path, threaded):
    zarr = pytest.importorskip("zarr")
    data = sample("i4", (20, 9), seed=31)
    path = tmp_path / "t.zip"
    arr = ze.create_array(f"zip://{path}", shape=data.shape, dtype="i4", chunks=(5, 9))
    assert to_zarr(da.from_array(data, chunks=(5, 9)), arr) == WriteResult(chunks_written=4, chunks_empty=0)
    arr.store.close()
    np.testing.assert_array_equal(zarr.open_array(zarr.storage.ZipStore(str(path), mode="r"))[...], data)


def test_multiprocessing_scheduler_refuses_memory_and_zip_before_writing(memory_name, tmp_path):
    x = da.arange(10, chunks=5, dtype="i4")
    arr = ze.create_array(str(tmp_path / "z.zip"), shape=(10,), dtype="i4", chunks=(5,), fill_value=-1)
    with dask.config.set(scheduler="processes"):
        with pytest.raises(StoreError, match="multiprocessing scheduler.*data written would be lost"):
            to_zarr(x, f"memory://{memory_name}")
        with pytest.raises(StoreError, match="multiprocessing scheduler.*zip it afterwards"):
            to_zarr(x, arr)
    assert list(MemoryStore(memory_name).list_prefix("")) == []
    np.testing.assert_array_equal(arr[...], np.full(10, -1, dtype="i4"))


def test_memory_store_unpickled_in_another_process_refuses_to_be_used(memory_name):
    store = MemoryStore(memory_name)
    store.set("k", b"v")
    same = pickle.loads(pickle.dumps(store))
    assert same.get("k") == b"v"  # in this process the data is found
    code = (
        "import pickle, sys\n"
        "from zarr_engine.errors import StoreError\n"
        "s = pickle.loads(sys.stdin.buffer.read())\n"
        "for call in (lambda: s.get('k'), lambda: s.set('k', b'w'), lambda: list(s.list_prefix(''))):\n"
        "    try:\n"
        "        call()\n"
        "        print('no error')\n"
        "    except StoreError as e:\n"
        "        print('StoreError', e)\n"
        "again = pickle.loads(pickle.dumps(s))\n"  # passed on from there: still not this data
        "try:\n"
        "    again.get('k')\n"
        "    print('no error')\n"
        "except StoreError:\n"
        "    print('StoreError again')\n"
    )
    here = str(Path(ze.__file__).resolve().parents[1])  # this checkout of zarr_engine, in the child too
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(store), capture_output=True, check=True, env=env
    ).stdout.decode().splitlines()
    assert len(out) == 4
    for line in out[:3]:
        assert line.startswith(f"StoreError memory://{memory_name} lives in the memory of process {os.getpid()}")
    assert out[3] == "StoreError again"
    assert store.get("k") == b"v"
