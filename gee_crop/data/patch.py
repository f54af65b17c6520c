"""Reader for raw per-date Sentinel-2 L2A stacks exported from Earth Engine as NetCDF patches.

A patch folder holds ``S2_L2A_10m_*.nc`` (B02, B03, B04, B08), ``S2_L2A_20m_*.nc`` (B05, B06, B07,
B8A, B11, B12, SCL on a grid downsampled x2 with the same bounds) and optionally a label raster
``OUTPUT_*_10m_*.nc`` (``CT`` crop-type codes, 0 = no data). The 20 m bands are put on the 10 m grid
by nearest neighbour (each 20 m pixel covers 2 x 2 10 m pixels), as Earth Engine does when a 10 m
projection is requested without resampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, overload

import numpy as np
import xarray as xr

from gee_crop.classes import OTHER, Legend
from gee_crop.config import S2_BAND_NAMES
from gee_crop.data.damaged import unreadable_as_input_error
from gee_crop.data.dn import checked_dn
from gee_crop.errors import InputError
from gee_crop.sensors import SENTINEL2
from gee_crop.types import RawStack, SampleSeries


@overload
def _one(folder: Path, pattern: str, required: Literal[True] = True) -> Path: ...
@overload
def _one(folder: Path, pattern: str, required: bool) -> Path | None: ...
def _one(folder: Path, pattern: str, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    if not found:
        if required:
            raise InputError(
                f"{folder} has no file matching {pattern}; give a folder exported like "
                "the Earth Engine patches (S2_L2A_10m_*.nc and S2_L2A_20m_*.nc)"
            )
        return None
    return found[0]


def read_patch(folder: str | Path, *, with_labels: bool = True) -> RawStack:
    """Read an Earth Engine NetCDF patch folder into a RawStack (raw DN, SCL as cloud; the label codes
    read with the WorldCereal legacy crop-type legend); InputError for a damaged or truncated file."""
    with unreadable_as_input_error(Path(folder)):
        return _read_patch(Path(folder), with_labels)


def _read_patch(folder: Path, with_labels: bool) -> RawStack:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the patch folder that holds the S2_L2A_*.nc files")
    with (
        xr.open_dataset(_one(folder, "S2_L2A_10m_*.nc"), mask_and_scale=False) as ds10,
        xr.open_dataset(_one(folder, "S2_L2A_20m_*.nc"), mask_and_scale=False) as ds20,
    ):
        if not np.array_equal(ds10["timestamp"].values, ds20["timestamp"].values):
            raise InputError(f"{folder}: the 10 m and 20 m files have different dates; re-export the patch")
        h, w = ds10.sizes["y"], ds10.sizes["x"]
        if (ds20.sizes["y"] * 2, ds20.sizes["x"] * 2) != (h, w):
            raise InputError(f"{folder}: the 20 m grid is not the 10 m grid downsampled x2")
        dn = np.empty((ds10.sizes["timestamp"], h, w, len(SENTINEL2.bands)), dtype=np.uint16)
        for nc_name, band in S2_BAND_NAMES.items():
            ds = ds10 if nc_name in ds10 else ds20
            values = ds[nc_name].values
            if ds is ds20:
                values = values.repeat(2, axis=1).repeat(2, axis=2)
            dn[..., SENTINEL2.bands.index(band)] = checked_dn(values, str(folder), f"{nc_name} values")
        scl = ds20["SCL"].values.repeat(2, axis=1).repeat(2, axis=2).astype(np.float32)
        dates = ds10["timestamp"].values.astype("datetime64[D]")
        crs = f"EPSG:{int(ds10.attrs['epsg'])}"
        x, y = ds10["x"].values.astype(np.float64), ds10["y"].values.astype(np.float64)
        name = str(ds10.attrs.get("location_id", folder.name))
    labels, label_source = None, ""
    label_file = _one(folder, "OUTPUT_*_10m_*.nc", required=False) if with_labels else None
    if label_file is not None:
        with xr.open_dataset(label_file, mask_and_scale=False) as lab:
            labels = lab["CT"].values.astype(np.int64)
            label_source = str(lab.attrs.get("source", ""))
    return RawStack(
        dates,
        dn,
        scl,
        "scl",
        x,
        y,
        crs,
        labels=labels,
        name=name,
        label_source=label_source,
        legend=Legend.worldcereal(),
    )


def patch_pixels(
    patch: RawStack, rows: np.ndarray, cols: np.ndarray, *, crop_class: np.ndarray | None = None, region: str = ""
) -> SampleSeries:
    """The raw series of the chosen pixels as a SampleSeries (one sample per pixel, all dates)."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    n, t = len(rows), len(patch.dates)
    lon, lat = patch.lonlat()
    if crop_class is None:
        crop_class = np.full(n, OTHER, dtype=object)
    extra = {"row": rows.astype(np.int32), "col": cols.astype(np.int32)}
    if patch.labels is not None:
        extra["source_code"] = patch.labels[rows, cols].astype(np.int64)
    return SampleSeries(
        sample_id=np.array([f"{patch.name}_r{r:03d}c{c:03d}" for r, c in zip(rows, cols)], dtype=object),
        lon=lon[rows, cols],
        lat=lat[rows, cols],
        region=np.full(n, region, dtype=object),
        crop_class=np.asarray(crop_class, dtype=object),
        cloud_kind=np.full(n, patch.cloud_kind, dtype=object),
        dates=np.broadcast_to(patch.dates, (n, t)).copy(),
        dn=patch.dn[:, rows, cols, :].transpose(1, 0, 2).copy(),
        cloud=patch.cloud[:, rows, cols].T.copy(),
        extra=extra,
    )
