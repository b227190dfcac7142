"""xarray's own backend test classes, run against zarr_engine's writer and reader.

``ZarrBase`` (which extends ``CFEncodedBase`` and ``DatasetIOBase``) is
subclassed with our ``save`` (``zarr_engine.to_zarr``), ``open``
(``engine="zarr_engine"``) and ``create_store`` (a ``ZarrEngineStore``), for
Zarr formats 2 and 3. Tests that call zarr-python directly, or test a
zarr-python feature we do not have, are skipped one by one in ``SKIPS`` with
the reason.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("xarray.tests.test_backends")

from xarray.tests import test_backends as tb  # noqa: E402

import zarr_engine.xarray as zx  # noqa: E402
from zarr_engine.xarray.store import ZarrEngineStore  # noqa: E402

from .skips import SKIPS  # noqa: E402


class _ZarrEngineMixin:
    """Our save/open/create_store in place of zarr-python's."""

    zarr_format = 3

    @contextlib.contextmanager
    def create_zarr_target(self):
        with tempfile.TemporaryDirectory() as d:
            yield os.path.join(d, "test.zarr")

    @contextlib.contextmanager
    def create_store(self, cache_members: bool = False):
        with self.create_zarr_target() as target:
            yield ZarrEngineStore.open_group(
                target, "w", zarr_format=self.zarr_format, cache_members=cache_members
            )

    def save(self, dataset, store_target, **kwargs):
        kwargs.setdefault("zarr_format", self.zarr_format)
        return zx.to_zarr(dataset, store_target, **kwargs)

    @contextlib.contextmanager
    def open(self, path, **kwargs):
        with xr.open_dataset(path, engine="zarr_engine", mode="r", **kwargs) as ds:
            yield ds


@pytest.fixture
def default_zarr_format(request):
    """xarray's classes ask for this fixture (parametrised over formats there); here each
    class has one format, which also becomes zarr-python's default for the tests that use it."""
    import zarr

    with zarr.config.set(default_zarr_format=request.cls.zarr_format):
        yield


def _apply_skips(cls: type) -> type:
    """Mark each test of ``cls`` named in SKIPS (for its format) as skipped with its reason."""
    table = {**SKIPS["any"], **SKIPS[cls.zarr_format]}
    for name in dir(cls):
        if name in table and name.startswith("test_"):
            reason = table[name]

            @pytest.mark.skip(reason=reason)
            def skipped(self, *args, **kwargs):  # pragma: no cover - never runs
                pass

            skipped.__name__ = name
            setattr(cls, name, skipped)
    return cls


@_apply_skips
class TestZarrEngineV3(_ZarrEngineMixin, tb.ZarrBase):
    zarr_format = 3
    version_kwargs: dict = {}


@_apply_skips
class TestZarrEngineV2(_ZarrEngineMixin, tb.ZarrBase):
    zarr_format = 2
    version_kwargs: dict = {}


class _RegionAutoMixin:
    zarr_format = 3

    def save(self, target, ds, **kwargs):
        kwargs.setdefault("zarr_format", self.zarr_format)
        if kwargs.get("region") is not None or kwargs.get("mode") in ("a", "r+"):
            kwargs.pop("zarr_format")  # an existing store keeps its format
        zx.to_zarr(ds, target, **kwargs)


@pytest.mark.usefixtures("default_zarr_format")
class TestZarrEngineRegionAutoV3(_RegionAutoMixin, tb.TestZarrRegionAuto):
    """region="auto" and its errors: our writer, checked with xr.open_zarr (zarr-python)."""

    zarr_format = 3


@pytest.mark.usefixtures("default_zarr_format")
class TestZarrEngineRegionAutoV2(_RegionAutoMixin, tb.TestZarrRegionAuto):
    zarr_format = 2


class _WriteEmptyMixin:
    """xarray's write_empty_chunks test: first write by zarr-python, append by us, then the
    chunk files on disk are counted."""

    zarr_format = 3
    temp_dir = tb.TestZarrWriteEmpty.temp_dir
    test_write_empty = tb.TestZarrWriteEmpty.test_write_empty
    version_kwargs: dict = {}

    @contextlib.contextmanager
    def roundtrip_dir(self, data, store, save_kwargs=None, open_kwargs=None, allow_cleanup_failure=False):
        zx.to_zarr(data, store, **(save_kwargs or {}))
        with xr.open_dataset(store, engine="zarr_engine", **(open_kwargs or {})) as ds:
            yield ds


@pytest.mark.usefixtures("default_zarr_format")
class TestZarrEngineWriteEmptyV3(_WriteEmptyMixin):
    zarr_format = 3


@pytest.mark.usefixtures("default_zarr_format")
class TestZarrEngineWriteEmptyV2(_WriteEmptyMixin):
    zarr_format = 2
