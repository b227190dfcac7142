"""Fixtures of the codec tests.

The codecs layer imports nothing above it, so these tests must not depend on
``zarr_engine/__init__.py`` (which pulls in ``core``): when that import fails
(another layer mid-change) the package is stood in for by a bare module whose
path still finds ``zarr_engine.errors``, ``zarr_engine.codecs``...
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from pathlib import Path

try:
    import zarr_engine  # noqa: F401
except Exception:  # pragma: no cover - depends on the state of other layers
    for name in [m for m in sys.modules if m == "zarr_engine" or m.startswith("zarr_engine.")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("zarr_engine")
    assert spec is not None and spec.submodule_search_locations
    stub = types.ModuleType("zarr_engine")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules["zarr_engine"] = stub

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """The conformance fixtures folder; the test is skipped where it is absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"conformance fixtures not found at {FIXTURES}")
    return FIXTURES.resolve()


@pytest.fixture(autouse=True)
def _quiet_zarr_warnings():
    # zarr-python warns about numcodecs codecs and unstable dtypes on every use
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
