"""Reader for raw per-date Sentinel-2 L2A stacks exported from Earth Engine as NetCDF patches.

A patch folder holds ``S2_L2A_10m_*.nc`` (B02, B03, B04, B08), ``S2_L2A_20m_*.nc`` (B05, B06, B07,
B8A, B11, B12, SCL on a grid downsampled x2 with the same bounds) and optionally a label raster
``OUTPUT_*_10m_*.nc`` (``CT`` crop-type codes, 0 = no data). The 20 m bands are put on the 10 m grid
by nearest neighbour (each 20 m pixel covers 2 x 2 10 m pixels), as Earth Engine does when a 10 m
projection is requested without resampling.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr

from gee_crop.config import BANDS, CLASSES
from gee_crop.types import SampleSeries
from gee_crop.errors import InputError

#: band names in the NetCDF files (Sentinel-2 two-digit names) -> gee-crop (Earth Engine) names.
NETCDF_BAND_NAMES = {"B02": "B2", "B03": "B3", "B04": "B4", "B08": "B8", "B05": "B5", "B06": "B6",
                     "B07": "B7", "B8A": "B8A", "B11": "B11", "B12": "B12"}
UNLABELED = "unlabeled"


@dataclass
class PatchStack:
    """Raw dated S2 L2A observations of a patch on its 10 m grid.

    ``dn`` (T, H, W, 10) uint16 in config.BANDS order (0 = no data); ``cloud`` (T, H, W) float32
    holding the indicator named by ``cloud_kind`` (SCL classes here); ``dates`` (T,) datetime64[D];
    ``x`` (W,) and ``y`` (H,) pixel-centre coordinates in ``crs``; ``labels`` (H, W) source codes or None.
    """

    name: str
    dates: np.ndarray
    dn: np.ndarray
    cloud: np.ndarray
    cloud_kind: str
    x: np.ndarray
    y: np.ndarray
    crs: str
    labels: np.ndarray | None = None
    label_source: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return self.dn.shape[1], self.dn.shape[2]

    @property
    def resolution(self) -> float:
        return float(abs(self.x[1] - self.x[0]))

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL/affine order (a, b, c, d, e, f): x = a*col + c, y = e*row + f (upper-left corner)."""
        res_x = float(self.x[1] - self.x[0])
        res_y = float(self.y[1] - self.y[0])
        return (res_x, 0.0, float(self.x[0] - res_x / 2), 0.0, res_y, float(self.y[0] - res_y / 2))

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) longitude and latitude of the pixel centres (WGS84)."""
        from pyproj import Transformer

        xx, yy = np.meshgrid(self.x, self.y)
        to_wgs84 = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lon, lat = to_wgs84.transform(xx, yy)
        return np.asarray(lon), np.asarray(lat)


def _one(folder: Path, pattern: str, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    if not found:
        if required:
            raise InputError(f"{folder} has no file matching {pattern}; give a folder exported like "
                             "the Earth Engine patches (S2_L2A_10m_*.nc and S2_L2A_20m_*.nc)")
        return None
    return found[0]


def read_patch(folder: str | Path, *, with_labels: bool = True) -> PatchStack:
    """Read an Earth Engine NetCDF patch folder into a :class:`PatchStack` (raw DN, SCL as cloud)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the patch folder that holds the S2_L2A_*.nc files")
    with xr.open_dataset(_one(folder, "S2_L2A_10m_*.nc"), mask_and_scale=False) as ds10, \
            xr.open_dataset(_one(folder, "S2_L2A_20m_*.nc"), mask_and_scale=False) as ds20:
        if not np.array_equal(ds10["timestamp"].values, ds20["timestamp"].values):
            raise InputError(f"{folder}: the 10 m and 20 m files have different dates; re-export the patch")
        h, w = ds10.sizes["y"], ds10.sizes["x"]
        if (ds20.sizes["y"] * 2, ds20.sizes["x"] * 2) != (h, w):
            raise InputError(f"{folder}: the 20 m grid is not the 10 m grid downsampled x2")
        dn = np.empty((ds10.sizes["timestamp"], h, w, len(BANDS)), dtype=np.uint16)
        for nc_name, band in NETCDF_BAND_NAMES.items():
            ds = ds10 if nc_name in ds10 else ds20
            values = ds[nc_name].values
            if ds is ds20:
                values = values.repeat(2, axis=1).repeat(2, axis=2)
            dn[..., BANDS.index(band)] = values
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
    return PatchStack(name, dates, dn, scl, "scl", x, y, crs, labels, label_source)


def worldcereal_legend() -> dict[int, str]:
    """WorldCereal legacy crop-type code -> gee-crop class ('unlabeled' for code 0)."""
    text = resources.files("gee_crop.resources").joinpath("labels/worldcereal_legacy_croptype.csv")
    with text.open(encoding="utf-8") as fh:
        return {int(row["code"]): row["gee_crop_class"] for row in csv.DictReader(fh)}


def remap_codes(codes: np.ndarray, legend: dict[int, str]) -> np.ndarray:
    """Map source codes to class names (object array); codes absent from the legend raise InputError."""
    uniques, inverse = np.unique(codes, return_inverse=True)
    missing = [int(u) for u in uniques if int(u) not in legend]
    if missing:
        raise InputError(f"label codes {missing[:10]} are not in the class-mapping table; add them "
                         "to the table (code -> one of " + ", ".join(CLASSES) + ")")
    names = np.array([legend[int(u)] for u in uniques], dtype=object)
    return names[inverse].reshape(codes.shape)


def patch_pixels(patch: PatchStack, rows: np.ndarray, cols: np.ndarray, *,
                 crop_class: np.ndarray | None = None, region: str = "") -> SampleSeries:
    """The raw series of the chosen pixels as a SampleSeries (one sample per pixel, all dates)."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    n, t = len(rows), len(patch.dates)
    lon, lat = patch.lonlat()
    if crop_class is None:
        crop_class = np.full(n, "other", dtype=object)
    extra = {"row": rows.astype(np.int32), "col": cols.astype(np.int32)}
    if patch.labels is not None:
        extra["source_code"] = patch.labels[rows, cols].astype(np.int64)
    return SampleSeries(
        sample_id=np.array([f"{patch.name}_r{r:03d}c{c:03d}" for r, c in zip(rows, cols)], dtype=object),
        lon=lon[rows, cols], lat=lat[rows, cols],
        region=np.full(n, region, dtype=object), crop_class=np.asarray(crop_class, dtype=object),
        cloud_kind=np.full(n, patch.cloud_kind, dtype=object),
        dates=np.broadcast_to(patch.dates, (n, t)).copy(),
        dn=patch.dn[:, rows, cols, :].transpose(1, 0, 2).copy(),
        cloud=patch.cloud[:, rows, cols].T.copy(),
        extra=extra,
    )
