"""Raw dated Sentinel-2 L2A stacks on disk: an Earth Engine patch folder, NetCDF / Zarr, or GeoTIFF.

Every reader returns a :class:`gee_crop.types.RawStack` (raw DN, the cloud indicator and its kind,
dates, pixel centres, CRS; labels for a patch folder), the input of local sampling and of
:class:`gee_crop.mapping.sources.LocalStackSource`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from pyproj import CRS

from gee_crop.config import S2_BAND_NAMES, band_name
from gee_crop.data.cube import InputKind, input_kind
from gee_crop.data.damaged import unreadable_as_input_error
from gee_crop.data.dn import checked_dn
from gee_crop.data.patch import read_patch
from gee_crop.errors import InputError
from gee_crop.sensors import SENTINEL2
from gee_crop.types import RawStack

#: Variable / band names of the cloud indicators and the cloud_kind each one is read as.
_CLOUD_VARS = {
    "SCL": "scl",
    "scl": "scl",
    "cs": "cs",
    "cs_cdf": "cs_cdf",
    "cloud_probability": "cloud_probability",
    "probability": "cloud_probability",
}
#: GeoTIFF band descriptions: a YYYYMMDD date, then the band name at the end after a '_' (Earth
#: Engine's ``toBands()`` names, e.g. ``20190501T105031_20190501T105351_T31UES_B8A``, or ``20190501_SCL``).
_DESCRIPTION = re.compile(
    r"(?P<date>(?:19|20)\d{2}-?\d{2}-?\d{2}).*?_"
    r"(?P<band>B\d{1,2}A?|" + "|".join(sorted(_CLOUD_VARS, key=len, reverse=True)) + r")$"
)


def open_local_stack(path: str | Path) -> RawStack:
    """Read a raw dated S2 L2A stack: an Earth Engine patch folder, a NetCDF / Zarr file with
    (time, y, x) band variables, or a GeoTIFF whose band descriptions carry date and band name."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"--source {path} does not exist; give a patch folder, a NetCDF, Zarr or GeoTIFF stack")
    if input_kind(path) is InputKind.CUBE:
        raise InputError(
            f"--source {path} is a gee-crop composite cube (training input), not a raw stack; map from the raw "
            f"stack it was built from (its 'source' attribute), or train on it: gee-crop train {path}"
        )
    if path.is_dir() and any(path.glob("S2_L2A_10m_*.nc")):
        return read_patch(path)
    if path.is_dir() and not _is_zarr_store(path):
        raise InputError(_not_a_stack_folder(path))
    if path.suffix.lower() in (".nc", ".nc4", ".zarr") or path.is_dir():
        return _stack_from_xarray(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return _stack_from_geotiff(path)
    raise InputError(f"--source {path}: unknown stack format; give a patch folder, .nc, .zarr or .tif")


#: files that mark a folder as a Zarr store (Zarr v2 group / array metadata, Zarr v3 metadata)
_ZARR_MARKERS = (".zgroup", ".zarray", ".zattrs", "zarr.json")


def _is_zarr_store(path: Path) -> bool:
    return any((path / marker).is_file() for marker in _ZARR_MARKERS)


def _not_a_stack_folder(path: Path) -> str:
    """Why folder ``path`` is neither an Earth Engine patch folder nor a Zarr store, naming what it holds."""
    files = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
    expected = (
        "give an Earth Engine patch folder (its 10 m and 20 m band files S2_L2A_10m_*.nc and S2_L2A_20m_*.nc), "
        "or a NetCDF (.nc) or Zarr (.zarr) stack"
    )
    if not files:
        return f"--source {path} is an empty folder; {expected}"
    if any(name.startswith("S2_L2A_20m_") for name in files):
        return f"--source {path} holds 20 m band files but no 10 m ones (S2_L2A_10m_*.nc); {expected}"
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return f"--source {path} is a folder of {shown}, not a stack; {expected}"


def _stack_from_xarray(path: Path) -> RawStack:
    with unreadable_as_input_error(path):
        return _read_xarray_stack(path)


def _read_xarray_stack(path: Path) -> RawStack:
    engine = "zarr" if path.suffix.lower() == ".zarr" or path.is_dir() else None
    try:
        ds = xr.open_dataset(path, engine=engine, mask_and_scale=False)
    except (ImportError, ValueError) as exc:
        raise InputError(f"cannot open {path} ({exc}); install the package it names (zarr for .zarr)") from None
    with ds:
        ds = ds.rename({k: v for k, v in S2_BAND_NAMES.items() if k in ds.variables and k != v})
        time_dim = next((d for d in ("time", "t", "timestamp", "date") if d in ds.dims), None)
        missing = [b for b in SENTINEL2.bands if b not in ds.variables]
        cloud_var = next((v for v in _CLOUD_VARS if v in ds.variables), None)
        if time_dim is None or missing or cloud_var is None or not {"x", "y"} <= set(ds.dims):
            raise InputError(
                f"{path} is not a raw S2 stack: it needs dims (time, y, x), the bands "
                f"{', '.join(SENTINEL2.bands)} and a cloud variable ({', '.join(_CLOUD_VARS)}); "
                f"missing: {', '.join(missing) or ('cloud variable' if cloud_var is None else 'dims')}"
            )
        dims = (time_dim, "y", "x")
        dn = checked_dn(np.stack([ds[b].transpose(*dims).values for b in SENTINEL2.bands], axis=-1), str(path))
        crs = _xarray_crs(ds, path)
        return RawStack(
            ds[time_dim].values.astype("datetime64[D]"),
            dn,
            ds[cloud_var].transpose(*dims).values.astype(np.float32),
            _CLOUD_VARS[cloud_var],
            ds["x"].values.astype(np.float64),
            ds["y"].values.astype(np.float64),
            crs,
            None,
            path.stem,
        )


def _xarray_crs(ds, path: Path) -> str:
    if "epsg" in ds.attrs:
        return f"EPSG:{int(ds.attrs['epsg'])}"
    for var in ("spatial_ref", "crs"):
        if var in ds.variables:
            wkt = ds[var].attrs.get("crs_wkt") or ds[var].attrs.get("spatial_ref")
            if wkt:
                return CRS.from_wkt(wkt).to_string()
    if "crs" in ds.attrs:
        return CRS.from_user_input(ds.attrs["crs"]).to_string()
    raise InputError(f"{path} does not say its CRS; add an 'epsg' attribute or a CF 'spatial_ref' variable")


def _stack_from_geotiff(path: Path) -> RawStack:
    with unreadable_as_input_error(path), rasterio.open(path) as src:
        searched = [_DESCRIPTION.search(d or "") for d in src.descriptions]
        parsed = [m for m in searched if m is not None]
        if len(parsed) != len(searched):
            raise InputError(
                f"{path}: band descriptions must name date and band (e.g. 20190501_B8A, as "
                "Earth Engine's toBands() exports); found " + repr(src.descriptions[:3])
            )
        dates = sorted({m["date"].replace("-", "") for m in parsed})
        names = {band_name(m["band"]) for m in parsed}
        cloud_name = next((n for n in _CLOUD_VARS if n in names), None)
        missing = [b for b in SENTINEL2.bands if b not in names]
        if missing or cloud_name is None:
            raise InputError(
                f"{path}: the stack lacks band(s) {missing or ''} "
                f"{'and a cloud band (SCL, cs, ...)' if cloud_name is None else ''}; "
                "export all 10 bands and the cloud indicator per date"
            )
        data = src.read()
        band_rows = [i for i, m in enumerate(parsed) if band_name(m["band"]) in SENTINEL2.bands]
        checked_dn(data[band_rows], str(path))
        index = {(m["date"].replace("-", ""), band_name(m["band"])): i for i, m in enumerate(parsed)}
        t, h, w = len(dates), src.height, src.width
        dn = np.zeros((t, h, w, len(SENTINEL2.bands)), dtype=np.uint16)
        cloud = np.full((t, h, w), np.nan, dtype=np.float32)
        for k, day in enumerate(dates):  # loop over dates and bands while reading: I/O, not a hot path
            for j, band in enumerate(SENTINEL2.bands):
                if (day, band) in index:
                    dn[k, :, :, j] = data[index[(day, band)]]
            if (day, cloud_name) in index:
                cloud[k] = data[index[(day, cloud_name)]]
        a, _, c, _, e, f = tuple(src.transform)[:6]
        x = c + a * (np.arange(w) + 0.5)
        y = f + e * (np.arange(h) + 0.5)
        dates64 = np.array([dt.date(int(d[:4]), int(d[4:6]), int(d[6:])) for d in dates], dtype="datetime64[D]")
        return RawStack(dates64, dn, cloud, _CLOUD_VARS[cloud_name], x, y, src.crs.to_string(), None, path.stem)
