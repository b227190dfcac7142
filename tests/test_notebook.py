"""Execute ``notebooks/geoscience_tour.ipynb`` at the tiny size; any failing cell fails the test."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "geoscience_tour.ipynb"
KERNEL = "zarr-engine-tests"


def _kernel_in(folder: Path) -> None:
    """A kernelspec running this very interpreter, so the notebook sees this venv's packages."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "zarr_engine tests", "language": "python",
    }))


def test_notebook_is_what_the_generator_makes():
    sys.path.insert(0, str(NOTEBOOK.parent))
    try:
        import make_geoscience_tour
    finally:
        sys.path.pop(0)
    stored = nbformat.read(NOTEBOOK, as_version=4)
    built = make_geoscience_tour.build()
    assert [c.source for c in stored.cells] == [c.source for c in built.cells]
    assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code")


@pytest.mark.cluster
@pytest.mark.slow
def test_notebook_runs_at_tiny_size(tmp_path, monkeypatch):
    _kernel_in(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    params[0].source = f'SIZE = "tiny"\nWORKERS = 2\nOUTPUT = {str(tmp_path / "tour")!r}'
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    line = next(ln for ln in text.splitlines() if ln.startswith("identical:"))
    assert all(name in line for name in ("climatology", "anomaly", "global_mean"))
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 3
    assert (tmp_path / "tour" / "era5_t2m_results.zarr" / "zarr.json").is_file()
