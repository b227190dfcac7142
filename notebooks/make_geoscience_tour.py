"""Build ``geoscience_tour.ipynb`` from the cells below (outputs left empty).

Run ``python notebooks/make_geoscience_tour.py`` after editing; the test
suite executes the notebook, so edit here rather than in the .ipynb.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS: list[tuple[str, str]] = [
    ("md", """# A geoscience tour of zarr_engine

This notebook does, one step at a time, what `zarr-engine demo` does in one go:

1. make a synthetic, ERA5-like dataset of daily 2 m temperature (time × latitude × longitude);
2. start a `distributed.LocalCluster` and write the dataset, without locks, into a **sharded Zarr v3** store;
3. open it again, lazily, with `xr.open_dataset(..., engine="zarr_engine", chunks={})` and look at its chunking;
4. compute a monthly climatology, the anomaly of the last year and a cos(latitude)-weighted global mean on the cluster,
   and write the results as a second store;
5. reopen the results with zarr-python (`engine="zarr"`) and check they are identical.

The data is synthetic (a zonal climate, a seasonal cycle, a warming trend and smooth random weather), so the notebook
runs anywhere without downloads. The next cell holds the parameters: `SIZE` is `tiny` (7 MiB), `small` (68 MiB),
`medium` (272 MiB), `full` (1.06 GiB) or a byte count such as `"500MiB"`."""),
    ("params", """SIZE = "small"          # tiny, small, medium, full, or e.g. "500MiB"
WORKERS = 2             # worker processes of the LocalCluster
OUTPUT = "geoscience-tour"  # folder for the two stores"""),
    ("code", """import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from distributed import Client, LocalCluster

import zarr_engine as ze
from zarr_engine import demo
from zarr_engine.xarray import to_zarr

%matplotlib inline
out = Path(OUTPUT)
out.mkdir(exist_ok=True)
data_store = str(out / "era5_t2m.zarr")
results_store = str(out / "era5_t2m_results.zarr")
size = demo.parse_size(SIZE)
print(size.describe())"""),
    ("md", """## 1. The dataset, lazily

`demo.synthetic_era5` returns an `xarray.Dataset` whose data is a dask array: nothing is computed yet. Each dask
block is one future **shard** of the store, and is generated where the task runs, on a worker."""),
    ("code", """ds = demo.synthetic_era5(size)
chunk, shard = demo.layout(size)
print("inner chunks:", chunk, " shards (one dask block each):", shard)
ds"""),
    ("md", """## 2. A local cluster, and a lock-free sharded write

A sharded array stores many inner chunks in one object (the shard). Two tasks writing into the same shard would
race, so the writer checks, before any task runs, that every shard is owned by exactly one dask block; here the
blocks *are* the shards, so no lock is needed."""),
    ("code", """cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, dashboard_address=":0")
client = Client(cluster)
client"""),
    ("code", """compressor = {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "shuffle",
                                              "typesize": 4, "blocksize": 0}}
write = to_zarr(ds, data_store, mode="w", zarr_format=3, compute=False,
                encoding={"t2m": {"chunks": chunk, "shards": shard, "compressors": [compressor]}})
t0 = time.perf_counter()
write.compute()
seconds = time.perf_counter() - t0
print(f"wrote {size.nbytes / 2**20:.0f} MiB in {seconds:.1f} s ({size.nbytes / 2**20 / seconds:.0f} MiB/s)")"""),
    ("md", """`zarr_engine.open` gives the array itself; `info_complete()` lists its codecs (the sharding codec wraps the inner
chunks' codecs), the stored size and the compression ratio."""),
    ("code", """t2m_array = ze.open(data_store + "/t2m", mode="r")
print(t2m_array.info_complete())"""),
    ("md", """## 3. Open it lazily with `engine="zarr_engine"`

`chunks={}` asks for the stored layout: one dask task per shard. Opening reads metadata only."""),
    ("code", """era5 = xr.open_dataset(data_store, engine="zarr_engine", chunks={})
print("dask chunks along time:", era5.t2m.chunks[0])
print("number of tasks to read everything:", era5.t2m.data.npartitions)
era5.t2m"""),
    ("md", """Selecting one day reads only the inner chunks it touches (a few ranges of one shard), not whole shards:"""),
    ("code", """day = era5.t2m.isel(time=-1).load()
fig, ax = plt.subplots(figsize=(8, 3.8))
day.plot(ax=ax, cmap="RdYlBu_r", cbar_kwargs={"label": "K"})
ax.set_title(f"2 m temperature on {str(day.time.values)[:10]}")
plt.show()"""),
    ("md", """## 4. Climatology, anomaly and global mean on the cluster

`demo.analyse` builds the three results lazily; `to_zarr(..., compute=False)` turns them into one graph that
reads every shard once and writes the results."""),
    ("code", """results = demo.analyse(era5)
t0 = time.perf_counter()
to_zarr(results, results_store, mode="w", zarr_format=3, compute=False).compute()
print(f"analysed {size.nbytes / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s")
results"""),
    ("md", """## 5. Reopen the results with zarr-python and compare

The reference implementation reads what zarr_engine wrote, and xarray's own zarr backend decodes it to the very
same dataset."""),
    ("code", """ours = xr.open_dataset(results_store, engine="zarr_engine").load()
reference = xr.open_dataset(results_store, engine="zarr").load()
xr.testing.assert_identical(ours, reference)
print("identical:", list(ours.data_vars))"""),
    ("code", """fig, (ax_map, ax_ts) = plt.subplots(2, 1, figsize=(8, 7.5), gridspec_kw={"height_ratios": [1.3, 1]})
anomaly = ours.anomaly.mean("month")
limit = float(abs(anomaly).max())
anomaly.plot(ax=ax_map, cmap="RdBu_r", vmin=-limit, vmax=limit, cbar_kwargs={"label": "K"})
ax_map.set_title(f"Mean anomaly of {ours.attrs['anomaly_year']}")
ours.global_mean.plot(ax=ax_ts, lw=0.6, color="0.6", label="daily")
ours.global_mean.rolling(time=30, center=True, min_periods=15).mean().plot(ax=ax_ts, color="tab:red", label="30-day mean")
ax_ts.set_title("Global mean (cos latitude weighted)")
ax_ts.legend()
plt.tight_layout()
plt.show()"""),
    ("md", """The seasonal cycle of the zonal mean, from the climatology: opposite phases in the two hemispheres, a larger
amplitude towards the poles."""),
    ("code", """zonal = ours.climatology.mean("longitude")
fig, ax = plt.subplots(figsize=(8, 3.5))
zonal.plot(ax=ax, x="month", y="latitude", cmap="RdYlBu_r", cbar_kwargs={"label": "K"})
ax.set_title("Monthly climatology, zonal mean")
plt.show()"""),
    ("code", """client.close()
cluster.close()"""),
]


def build() -> nbformat.NotebookNode:
    """The notebook, cells in order; the parameter cell is tagged ``parameters`` (papermill's convention)."""
    cells = []
    for kind, source in CELLS:
        if kind == "md":
            cells.append(new_markdown_cell(source))
        else:
            cell = new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    target = Path(__file__).with_name("geoscience_tour.ipynb")
    notebook = build()
    nbformat.validate(notebook)
    nbformat.write(notebook, target)
    print(f"wrote {target}")
