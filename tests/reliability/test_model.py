"""Model-based testing: random sequences of operations on an array, checked against numpy.

A hypothesis ``RuleBasedStateMachine`` creates an array (format 2 or 3,
sharded or not, several codecs and dtypes, memory / local folder / SQLite
store, default or optimistic writes), then drives basic, orthogonal, block and
coordinate writes, resizes, appends, attribute updates, re-creation and
reopening, keeping a numpy array as the model. Every step ends by reading the
whole array and one random region and comparing with the model.

A few hundred steps by default; ``ZARR_ENGINE_STRESS=1`` runs thousands.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import zarr_engine as ze
from zarr_engine.errors import UnknownCodecError
from zarr_engine.storage import LocalStore, MemoryStore, Store
from zarr_engine.storage.sqlite import SQLiteStore

from ._util import scaled

DTYPES = ["i2", "u1", "f4", "f8", "i8", "bool"]
CODECS_V3: list[Any] = [
    None,
    [{"name": "zstd", "configuration": {"level": 1}}],
    [{"name": "gzip", "configuration": {"level": 1}}],
    [{"name": "blosc", "configuration": {"cname": "lz4", "clevel": 3, "shuffle": "shuffle"}}],
    [{"name": "crc32c"}],
]
CODECS_V2: list[Any] = [None, {"id": "zlib", "level": 1}, {"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 2}]


def _sharding_available() -> bool:
    try:
        ze.create_array(MemoryStore(), shape=(4,), chunks=(2,), shards=(4,), dtype="i1")
        return True
    except UnknownCodecError:
        return False


SHARDING = _sharding_available()


def _values(draw: Any, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    dt = np.dtype(dtype)
    if dt.kind == "f":
        out = rng.standard_normal(n).astype(dt)
        if n and draw(st.booleans()):
            out[rng.integers(0, n)] = np.nan
        return out.reshape(shape)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)


def _slice(draw: Any, length: int) -> slice:
    if length == 0:
        return slice(None)
    start = draw(st.integers(0, length - 1))
    stop = draw(st.integers(start + 1, length))
    step = draw(st.sampled_from([1, 1, 1, 2, 3]))
    return slice(start, stop, step)


class ArrayModel(RuleBasedStateMachine):
    """The state: one stored array, a handle on it and the numpy model of its contents."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="ze-model-")
        self.arr: ze.Array | None = None
        self.model: np.ndarray | None = None

    def teardown(self) -> None:
        if self.arr is not None:
            self.arr.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- set-up ---------------------------------------------------------------
    @initialize(data=st.data())
    def create(self, data: st.DataObject) -> None:
        draw = data.draw
        self.kind = draw(st.sampled_from(["memory", "local", "sqlite"]))
        self.fmt = draw(st.sampled_from([2, 3]))
        self.sharded = self.fmt == 3 and SHARDING and draw(st.booleans())
        self.dtype = draw(st.sampled_from(DTYPES))
        ndim = draw(st.integers(1, 2))
        self.chunks = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
        self.shards = tuple(c * draw(st.integers(1, 3)) for c in self.chunks) if self.sharded else None
        shape = tuple(draw(st.integers(0, 14)) for _ in range(ndim))
        self.codec = draw(st.sampled_from(CODECS_V3 if self.fmt == 3 else CODECS_V2))
        self.fill = False if self.dtype == "bool" else draw(st.sampled_from([0, 7]))
        self.optimistic = self.kind != "memory" and draw(st.booleans())
        self.write_empty = draw(st.booleans())
        self.note = (f"{self.kind} v{self.fmt} sharded={self.sharded} {self.dtype} chunks={self.chunks} "
                     f"shards={self.shards} codec={self.codec} fill={self.fill} optimistic={self.optimistic}")
        self._make(shape)

    def _store(self) -> Store:
        if self.kind == "memory":
            if not hasattr(self, "_mem"):
                self._mem = f"model-{id(self)}"
            return MemoryStore(self._mem)
        if self.kind == "local":
            return LocalStore(f"{self.tmp}/a.zarr")
        return SQLiteStore(f"{self.tmp}/a.db")

    def _make(self, shape: tuple[int, ...]) -> None:
        kw: dict[str, Any] = {"compressors": self.codec} if self.fmt == 3 else {"compressor": self.codec}
        if self.sharded:
            kw["shards"] = self.shards
        arr = ze.create_array(self._store(), shape=shape, chunks=self.chunks, dtype=self.dtype,
                              fill_value=self.fill, zarr_format=self.fmt, overwrite=True,
                              write_empty_chunks=self.write_empty, **kw)
        self.arr = self._handle(arr)
        self.model = np.full(shape, self.fill, dtype=self.dtype)

    def _handle(self, arr: ze.Array) -> ze.Array:
        return ze.Array(arr.store, arr.path, arr.metadata, write_empty_chunks=self.write_empty,
                        optimistic=self.optimistic)

    # -- writes ---------------------------------------------------------------
    @rule(data=st.data())
    def write_basic(self, data: st.DataObject) -> None:
        assert self.arr is not None and self.model is not None
        sel = tuple(_slice(data.draw, n) for n in self.model.shape)
        shape = self.model[sel].shape
        if data.draw(st.booleans()):
            value: Any = _values(data.draw, self.dtype, shape)
        else:  # a scalar broadcast over the region, often the fill value (chunks may vanish)
            value = data.draw(st.sampled_from([self.fill, 1]))
        self.arr[sel] = value
        self.model[sel] = value

    @precondition(lambda self: self.model is not None and self.model.size > 0)
    @rule(data=st.data())
    def write_orthogonal(self, data: st.DataObject) -> None:
        assert self.arr is not None and self.model is not None
        idx = []
        for n in self.model.shape:
            picks = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
            idx.append(np.array(picks, dtype=np.intp))
        value = _values(data.draw, self.dtype, tuple(len(i) for i in idx))
        self.arr.oindex[tuple(idx)] = value
        self.model[np.ix_(*idx)] = value

    @precondition(lambda self: self.model is not None and self.model.size > 0)
    @rule(data=st.data())
    def write_block(self, data: st.DataObject) -> None:
        assert self.arr is not None and self.model is not None
        grid = [-(-n // c) for n, c in zip(self.model.shape, self.arr.chunks)]
        block = tuple(data.draw(st.integers(0, g - 1)) for g in grid)
        region = tuple(slice(b * c, min((b + 1) * c, n)) for b, c, n in zip(block, self.arr.chunks, self.model.shape))
        value = _values(data.draw, self.dtype, self.model[region].shape)
        self.arr.blocks[block] = value
        self.model[region] = value

    @precondition(lambda self: self.model is not None and self.model.size > 0)
    @rule(data=st.data())
    def write_points(self, data: st.DataObject) -> None:
        assert self.arr is not None and self.model is not None
        flat = data.draw(st.lists(st.integers(0, self.model.size - 1), min_size=1, max_size=12, unique=True))
        coords = np.unravel_index(np.array(flat, dtype=np.intp), self.model.shape)
        value = _values(data.draw, self.dtype, (len(flat),))
        self.arr.vindex[coords] = value
        self.model[coords] = value

    # -- shape, attributes, lifecycle -----------------------------------------
    @rule(data=st.data())
    def resize(self, data: st.DataObject) -> None:
        assert self.arr is not None and self.model is not None
        new = tuple(data.draw(st.integers(0, 16)) for _ in self.model.shape)
        self.arr.resize(new)
        grown = np.full(new, self.fill, dtype=self.dtype)
        keep = tuple(slice(0, min(a, b)) for a, b in zip(new, self.model.shape))
        grown[keep] = self.model[keep]
        self.model = grown

    @precondition(lambda self: self.model is not None and self.model.shape[0] < 24)
    @rule(data=st.data())
    def append(self, data: st.DataObject) -> None:
        assert self.arr is not None and self.model is not None
        extra = (data.draw(st.integers(1, 6)),) + self.model.shape[1:]
        value = _values(data.draw, self.dtype, extra)
        self.arr.append(value, axis=0)
        self.model = np.concatenate([self.model, value], axis=0)

    @rule(key=st.sampled_from(["a", "b", "ünï"]), value=st.one_of(st.integers(), st.text(max_size=5), st.none()))
    def attrs(self, key: str, value: Any) -> None:
        assert self.arr is not None
        self.arr.attrs[key] = value
        self.expected_attrs = dict(getattr(self, "expected_attrs", {}), **{key: value})

    @rule()
    def reopen(self) -> None:
        assert self.arr is not None
        self.arr.store.close()
        self.arr = self._handle(ze.open_array(self._store(), mode="r+"))
        assert self.arr.attrs.asdict() == getattr(self, "expected_attrs", {})

    @rule(data=st.data())
    def delete_and_recreate(self, data: st.DataObject) -> None:
        assert self.model is not None
        # Stray chunks of the old array must not show through the new one.
        self._make(tuple(data.draw(st.integers(0, 14)) for _ in self.model.shape))
        self.expected_attrs = {}

    # -- checks ---------------------------------------------------------------
    @invariant()
    def matches_model(self) -> None:
        if self.arr is None or self.model is None:
            return
        got = self.arr[...]
        assert got.shape == self.model.shape, (got.shape, self.model.shape, self.note)
        np.testing.assert_array_equal(got, self.model, err_msg=self.note)
        fresh = ze.open_array(self._store(), mode="r")
        assert fresh.shape == self.model.shape
        if self.model.size:
            sel = tuple(slice(n // 3, n) for n in self.model.shape)
            np.testing.assert_array_equal(fresh[sel], self.model[sel], err_msg=self.note)


ArrayModel.TestCase.settings = settings(
    max_examples=scaled(40, 400),
    stateful_step_count=scaled(15, 40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestArrayModel = ArrayModel.TestCase
