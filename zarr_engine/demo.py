"""The demo's data and analysis: a synthetic ERA5-like 2 m temperature dataset,
and the climatology / anomaly / global-mean computation run on it.

Used by ``zarr-engine demo`` and by ``notebooks/geoscience_tour.ipynb``. The
data is made lazily, block by block, where dask runs the tasks (on the
workers of a cluster), so even the 1 GiB size never sits in one process.

The field is not real weather: a zonal climate, a seasonal cycle whose
amplitude grows towards the poles (opposite in the two hemispheres), a
warming trend and spatially smooth "weather" made of random large-scale and
meso-scale patterns that change daily. Every value depends only on its day
and its grid point, never on how the array is split into blocks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

#: named sizes: (grid spacing in degrees, years)
SIZES: dict[str, tuple[float, int]] = {
    "tiny": (5.0, 2),    # 37 x 72 points, 730 days: about 8 MB
    "small": (2.0, 3),   # 91 x 180, 1095 days: about 72 MB
    "medium": (1.0, 3),  # 181 x 360: about 286 MB
    "full": (0.5, 3),    # 361 x 720: about 1.1 GB (1.06 GiB)
}
#: grid spacings a custom size may use (each divides 180 and 360)
_SPACINGS = (0.25, 0.5, 1.0, 2.0, 2.5, 5.0)
#: the last year of the series (the anomaly is computed for it)
LAST_YEAR = 2024
#: warming trend of the synthetic climate, K per year (about twice the real one, to be visible)
TREND_K_PER_YEAR = 0.04
#: values are multiples of this (K): like a packed ERA5 file, and the zeroed
#: low mantissa bits are what lets the compressor do its job
QUANTUM = 1.0 / 64.0


@dataclass(frozen=True)
class DemoSize:
    """The grid and period of a demo dataset."""

    spacing: float
    years: int

    @property
    def nlat(self) -> int:
        return int(round(180 / self.spacing)) + 1

    @property
    def nlon(self) -> int:
        return int(round(360 / self.spacing))

    @property
    def first_year(self) -> int:
        return LAST_YEAR - self.years + 1

    @property
    def ndays(self) -> int:
        import pandas as pd

        return len(pd.date_range(f"{self.first_year}-01-01", f"{LAST_YEAR}-12-31", freq="D"))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.ndays, self.nlat, self.nlon)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * 4

    def describe(self) -> str:
        return (f"{self.ndays} days ({self.first_year}-{LAST_YEAR}) x {self.nlat} latitudes x {self.nlon} longitudes "
                f"at {self.spacing:g} degrees, float32: {self.nbytes / 2**20:.0f} MiB")


def parse_size(text: str) -> DemoSize:
    """A named size (tiny, small, medium, full) or a byte count such as ``1GiB``
    or ``300MB``, turned into a grid and a period close to that many bytes."""
    key = text.strip().lower()
    if key in SIZES:
        return DemoSize(*SIZES[key])
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?", key)
    if m is None:
        raise ValueError(f"size {text!r}: use tiny, small, medium, full or a size such as 500MiB or 1GiB")
    scale = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20, "g": 1e9,
             "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}[m.group(2) or ""]
    target = float(m.group(1)) * scale
    if target <= 0:
        smallest = DemoSize(_SPACINGS[-1], 2).nbytes / 2**20
        raise ValueError(f"size {text!r}: must be more than zero (any size up to the smallest demo, "
                         f"{smallest:.0f} MiB, gives that one)")
    # the finest grid that still gives at least two years; then as many years as fill the target
    for spacing in _SPACINGS:
        per_year = DemoSize(spacing, 1).nlat * DemoSize(spacing, 1).nlon * 4 * 365.25
        if target / per_year >= 2:
            return DemoSize(spacing, min(100, int(round(target / per_year))))
    return DemoSize(_SPACINGS[-1], 2)


def layout(size: DemoSize) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(inner chunk shape, shard shape) of the stored temperature.

    Inner chunks of about 1 MiB (a month of days over a latitude x longitude
    tile) are what a reader fetches; shards of 4 months x 2 x 2 tiles are the
    stored objects and the unit each write task owns.
    """
    t, y, x = size.shape
    chunk = (min(t, 32), min(y, 96), min(x, 96 if x <= 192 else 192))
    shard = tuple(min(c * k, -(-n // c) * c) for c, k, n in zip(chunk, (4, 2, 2), (t, y, x)))
    return chunk, shard  # type: ignore[return-value]


class SyntheticT2m:
    """The temperature field as a lazy, sliceable, picklable array (dask reads it block by block)."""

    ndim = 3
    dtype = np.dtype("float32")

    def __init__(self, size: DemoSize, seed: int = 2024) -> None:
        self.size = size
        self.shape = size.shape
        self.seed = seed
        self.lat = np.linspace(90.0, -90.0, size.nlat)  # north to south, as ERA5
        self.lon = np.arange(size.nlon) * size.spacing

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        key = key + (slice(None),) * (3 - len(key))
        t = np.arange(self.shape[0])[key[0]]
        lat = self.lat[key[1]]
        lon = self.lon[key[2]]
        return self.values(t, lat, lon)

    def values(self, days: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Temperature (K) on ``days`` (indices from 1 January of the first year) x ``lat`` x ``lon``."""
        days = np.atleast_1d(days)
        phi = np.deg2rad(lat)[None, :, None]
        lam = np.deg2rad(lon)[None, None, :]
        # zonal climate: warm tropics, cold poles, a colder Antarctic plateau, and land/sea-like waves
        base = 252.0 + 48.0 * np.cos(phi) ** 2 - 10.0 * np.exp(-(((np.rad2deg(phi) + 90.0) / 15.0) ** 2))
        base = base + 3.0 * np.cos(2 * lam) * np.cos(phi) + 2.0 * np.sin(lam + 0.5) * np.sin(2 * phi)
        # seasonal cycle: coldest in mid-January in the north, mid-July in the south, stronger
        # over the (northern, land-rich) high latitudes
        year_phase = 2 * np.pi * (days[:, None, None] - 15.0) / 365.2425
        amplitude = (1.5 + 17.0 * np.abs(np.sin(phi)) ** 1.5) * np.where(phi < 0, 0.6, 1.0)
        seasonal = -amplitude * np.sign(phi) * np.cos(year_phase)
        trend = TREND_K_PER_YEAR * days[:, None, None] / 365.2425
        weather = self._weather(days, lat, lon) * (1.0 + 3.5 * np.abs(np.sin(phi)))
        t2m = base + seasonal + trend + weather
        return (np.round(t2m / QUANTUM) * QUANTUM).astype(np.float32)

    def _weather(self, days: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Smooth random anomalies: a large-scale (15 degree) and a meso-scale (5 degree)
        pattern per day, each averaged over three days so weather persists a little."""
        out = np.zeros((len(days), len(lat), len(lon)), dtype=np.float32)
        for spacing, weight, salt in ((15.0, 1.0, 1), (5.0, 0.45, 2)):
            ny, nx = int(180 / spacing) + 1, int(360 / spacing)
            window = np.arange(days.min() - 1, days.max() + 2)
            fields = np.stack([
                np.random.default_rng([self.seed, salt, int(d) + 10]).standard_normal((ny, nx)) for d in window
            ])
            smooth = (fields[:-2] + fields[1:-1] + fields[2:]) / np.sqrt(3.0)
            smooth = smooth[days - window[0] - 1]  # smooth[i] is centred on window[i + 1]
            out += weight * _bilinear(smooth, lat, lon, spacing)
        return out


def _bilinear(fields: np.ndarray, lat: np.ndarray, lon: np.ndarray, spacing: float) -> np.ndarray:
    """Interpolate ``fields`` (days x coarse lat from 90 south x coarse lon from 0) to ``lat`` x ``lon``,
    periodic in longitude."""
    ny, nx = fields.shape[1:]
    # bilinear interpolation is separable: two small weight matrices, applied
    # with matrix products (BLAS) rather than gathers over the whole block
    ypos = np.clip((90.0 - lat) / spacing, 0, ny - 1)
    y0 = np.minimum(np.floor(ypos).astype(int), ny - 2)
    wy = np.zeros((len(lat), ny), dtype=np.float32)
    rows = np.arange(len(lat))
    wy[rows, y0] = 1 - (ypos - y0)
    wy[rows, y0 + 1] += ypos - y0
    xpos = (lon % 360.0) / spacing
    x0 = np.floor(xpos).astype(int) % nx
    wx = np.zeros((len(lon), nx), dtype=np.float32)
    cols = np.arange(len(lon))
    wx[cols, x0] = 1 - (xpos - np.floor(xpos))
    wx[cols, (x0 + 1) % nx] += xpos - np.floor(xpos)
    rows_i = np.matmul(wy, fields.astype(np.float32))  # days x lat x coarse lon
    # one 2-D product for the longitudes: numpy's batched matmul is far slower here
    out = rows_i.reshape(-1, nx) @ np.ascontiguousarray(wx.T)
    return out.reshape(len(fields), len(lat), len(lon))


def synthetic_era5(size: str | DemoSize = "small", *, seed: int = 2024, chunks: Any = None) -> Any:
    """The synthetic dataset as a lazy ``xarray.Dataset`` (variable ``t2m``) with
    CF coordinates and attributes; dask blocks default to the stored shards."""
    import dask.array as da
    import pandas as pd
    import xarray as xr

    size = parse_size(size) if isinstance(size, str) else size
    src = SyntheticT2m(size, seed)
    blocks = chunks or layout(size)[1]
    data = da.from_array(src, chunks=blocks, name=f"synthetic-t2m-{size.spacing}-{size.years}-{seed}",
                         asarray=False, fancy=False)
    time = pd.date_range(f"{size.first_year}-01-01", f"{LAST_YEAR}-12-31", freq="D")
    ds = xr.Dataset(
        {"t2m": (("time", "latitude", "longitude"), data, {
            "long_name": "2 metre temperature", "standard_name": "air_temperature", "units": "K",
            "cell_methods": "time: mean (daily)",
        })},
        coords={
            "time": ("time", time, {"long_name": "time", "standard_name": "time", "axis": "T"}),
            "latitude": ("latitude", src.lat, {"long_name": "latitude", "standard_name": "latitude",
                                               "units": "degrees_north", "axis": "Y"}),
            "longitude": ("longitude", src.lon, {"long_name": "longitude", "standard_name": "longitude",
                                                 "units": "degrees_east", "axis": "X"}),
        },
        attrs={
            "title": "Synthetic ERA5-like daily mean 2 metre temperature",
            "Conventions": "CF-1.8",
            "institution": "zarr_engine demo",
            "source": "synthetic: zonal climate + seasonal cycle + trend + smooth random weather; not observations",
            "history": f"generated by zarr_engine.demo.synthetic_era5(size={size.spacing:g} deg x {size.years} years, "
                       f"seed={seed})",
        },
    )
    ds["time"].encoding.update({"units": f"days since {size.first_year}-01-01", "calendar": "proleptic_gregorian",
                                "dtype": "int32"})
    return ds


def analyse(ds: Any) -> Any:
    """Monthly climatology, the last year's monthly anomaly and the cos(latitude)-weighted
    global mean series of ``ds.t2m``, as a lazy dataset."""
    import numpy as np
    import xarray as xr

    t2m = ds["t2m"]
    years = ds["time"].dt.year
    last = int(years.max())
    first = int(years.min())
    climatology = t2m.groupby("time.month").mean("time")
    anomaly = t2m.sel(time=str(last)).groupby("time.month").mean("time") - climatology
    weights = np.cos(np.deg2rad(ds["latitude"])).astype("float32")
    global_mean = t2m.weighted(weights).mean(("latitude", "longitude")).astype("float32")
    out = xr.Dataset(
        {
            "climatology": climatology.astype("float32").assign_attrs(
                long_name=f"monthly climatology of 2 metre temperature, {first}-{last}", units="K"),
            "anomaly": anomaly.astype("float32").assign_attrs(
                long_name=f"monthly mean 2 metre temperature anomaly of {last} from the climatology", units="K"),
            "global_mean": global_mean.assign_attrs(
                long_name="area-weighted (cos latitude) global mean 2 metre temperature", units="K"),
        },
        attrs={"title": "Climatology, anomaly and global mean of the synthetic ERA5-like temperature",
               "Conventions": "CF-1.8", "anomaly_year": last, "climatology_period": f"{first}-{last}"},
    )
    # one chunk per month of maps and one for the series: small results, few objects
    return out.chunk({"month": 1, "latitude": -1, "longitude": -1, "time": -1})
