"""The lazily indexed array xarray wraps around each zarr_engine array."""

from __future__ import annotations

from typing import Any

import numpy as np
from xarray.backends.common import BackendArray
from xarray.core import indexing

from ..core.array import Array

#: numpy's variable-length string dtype, which zarr-python 3 hands to xarray for
#: vlen-utf8 arrays; we return the same so a dataset read either way is alike
STRING_DTYPE = np.dtypes.StringDType()


def is_vlen_string(array: Array) -> bool:
    """True when ``array`` holds variable-length UTF-8 text (v3 ``string`` or v2 vlen-utf8)."""
    return array.metadata.data_type.name == "string"


class ZarrEngineBackendArray(BackendArray):
    """A zarr_engine :class:`~zarr_engine.Array` seen through xarray's explicit indexers.

    Basic indexers become a plain selection, outer indexers ``oindex`` and
    vectorized indexers ``vindex``, so xarray never has to emulate one kind
    of indexing with another. Safe to share between threads (each read plans
    its own chunks) and picklable (the array pickles as its store URL, path
    and metadata), so dask can ship it to worker processes.
    """

    __slots__ = ("_array", "dtype", "shape")

    def __init__(self, array: Array) -> None:
        self._array = array
        self.shape = tuple(array.shape)
        self.dtype = STRING_DTYPE if is_vlen_string(array) else array.dtype

    def get_array(self) -> Array:
        """The wrapped zarr_engine array. (Not an ``array`` property: xarray takes objects
        with one for array wrappers and tries to unwrap them.)"""
        return self._array

    def _basic(self, key: tuple[Any, ...]) -> Any:
        return self._array[key]

    def _outer(self, key: tuple[Any, ...]) -> Any:
        return self._array.oindex[key]

    def _vectorized(self, key: tuple[Any, ...]) -> Any:
        return self._array.vindex[key]

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        # the kind of indexer decides the method; the adapter only splits off
        # whatever part of the key the store cannot do itself (nothing, here)
        if isinstance(key, indexing.VectorizedIndexer):
            method = self._vectorized
        elif isinstance(key, indexing.OuterIndexer):
            method = self._outer
        else:
            method = self._basic
        value = indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.VECTORIZED, method
        )
        return self._to_dtype(value)

    async def async_getitem(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        """``self[key]`` for xarray's ``load_async``: our reads are synchronous (their
        parallelism is the engine's thread pool), so run one in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.__getitem__, key)

    def _to_dtype(self, value: Any) -> np.ndarray:
        if self.dtype is STRING_DTYPE:
            # our core returns vlen text as object arrays (or a bare str for 0-d)
            return np.asarray(value, dtype=STRING_DTYPE)
        return np.asarray(value)

    def __repr__(self) -> str:
        return f"ZarrEngineBackendArray({self._array!r})"
