"""Label rasters for local sampling: a crop-code grid read from a GeoTIFF or a patch label NetCDF.

A label raster holds the reference product's own class codes (e.g. WorldCereal legacy crop-type
codes, 0 = no information); the codes are turned into gee-crop classes with a
:class:`gee_crop.classes.Legend` (the WorldCereal legacy one by default) only after the inward
buffer, which erodes the product's own parcels (METHOD.md "Sampling", step 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gee_crop.errors import InputError
from gee_crop.types import RawStack

#: NetCDF variable holding crop-type codes in WorldCereal/Earth Engine patch label files.
NETCDF_LABEL_VARIABLE = "CT"
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
GEOTIFF_SUFFIXES = (".tif", ".tiff")
#: Grids match when their corners agree to this fraction of a pixel.
GRID_TOLERANCE_PX = 0.01


@dataclass
class LabelRaster:
    """Class codes on a grid: ``codes`` (H, W) int64, ``nodata`` the no-label code.

    ``transform`` is in GDAL/affine order (a, b, c, d, e, f): x = a*col + c, y = e*row + f at the
    upper-left pixel corner, in ``crs`` units (as :attr:`RawStack.transform`).
    """

    codes: np.ndarray
    crs: str
    transform: tuple[float, float, float, float, float, float]
    nodata: int = 0
    source: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape


def _read_geotiff(path: Path) -> LabelRaster:
    import rasterio

    with rasterio.open(path) as src:
        if src.count < 1:
            raise InputError(f"{path} has no band; give a single-band label GeoTIFF of class codes")
        codes = src.read(1)
        if src.crs is None:
            raise InputError(f"{path} has no CRS; write the label raster with the stack's CRS")
        nodata = int(src.nodata) if src.nodata is not None and np.isfinite(src.nodata) else 0
        if np.issubdtype(codes.dtype, np.floating):
            finite = np.isfinite(codes)
            if np.any(codes[finite] % 1):
                raise InputError(f"{path} holds non-integer values; a label raster must hold integer class codes")
            codes = np.where(finite, codes, nodata)
        t = src.transform
        return LabelRaster(
            codes.astype(np.int64), src.crs.to_string(), (t.a, t.b, t.c, t.d, t.e, t.f), nodata, path.name
        )


def _read_netcdf(path: Path, variable: str) -> LabelRaster:
    import xarray as xr

    with xr.open_dataset(path, mask_and_scale=False) as ds:
        if variable not in ds:
            raise InputError(
                f"{path} has no variable {variable!r} (it has {', '.join(ds.data_vars)}); "
                "give the patch's OUTPUT_*_10m_*.nc label file or a label GeoTIFF"
            )
        if "epsg" not in ds.attrs or "x" not in ds.coords or "y" not in ds.coords:
            raise InputError(
                f"{path} lacks the 'epsg' attribute or x/y coordinates; give a label file exported with the patch"
            )
        x, y = ds["x"].values.astype(np.float64), ds["y"].values.astype(np.float64)
        codes = ds[variable].values.astype(np.int64)
        nodata = int(ds.attrs.get("NoData", 0))
        source = str(ds.attrs.get("source", path.name))
        crs = f"EPSG:{int(ds.attrs['epsg'])}"
    res_x, res_y = float(x[1] - x[0]), float(y[1] - y[0])
    transform = (res_x, 0.0, float(x[0] - res_x / 2), 0.0, res_y, float(y[0] - res_y / 2))
    return LabelRaster(codes, crs, transform, nodata, source)


def read_label_raster(path: str | Path, *, variable: str = NETCDF_LABEL_VARIABLE) -> LabelRaster:
    """Read a label raster of integer class codes: a GeoTIFF (band 1) or a patch label NetCDF."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"label raster {path} does not exist; give a GeoTIFF or the patch's OUTPUT_*_10m_*.nc label file"
        )
    suffix = path.suffix.lower()
    if suffix in GEOTIFF_SUFFIXES:
        return _read_geotiff(path)
    if suffix in NETCDF_SUFFIXES:
        return _read_netcdf(path, variable)
    raise InputError(
        f"{path}: unknown label raster format {suffix!r}; give a GeoTIFF "
        f"({', '.join(GEOTIFF_SUFFIXES)}) or a NetCDF ({', '.join(NETCDF_SUFFIXES)})"
    )


def _same_crs(a: str, b: str) -> bool:
    from pyproj import CRS

    return CRS.from_user_input(a) == CRS.from_user_input(b)


def check_same_grid(labels: LabelRaster, patch: RawStack, label_path: str | Path = "the label raster") -> None:
    """Raise InputError unless ``labels`` lies on exactly the stack's grid (shape, CRS, pixel corners)."""
    if labels.shape != patch.shape:
        raise InputError(
            f"{label_path} is {labels.shape[0]}x{labels.shape[1]} px but the stack is "
            f"{patch.shape[0]}x{patch.shape[1]} px; resample the labels onto the stack's "
            "grid (same CRS, transform and size)"
        )
    if not _same_crs(labels.crs, patch.crs):
        raise InputError(
            f"{label_path} is in {labels.crs} but the stack is in {patch.crs}; "
            "reproject the labels onto the stack's grid"
        )
    tolerance = GRID_TOLERANCE_PX * patch.resolution
    if not np.allclose(labels.transform, patch.transform, rtol=0, atol=tolerance):
        raise InputError(
            f"{label_path} has transform {tuple(round(v, 3) for v in labels.transform)} "
            f"but the stack has {tuple(round(v, 3) for v in patch.transform)} (same CRS "
            f"{patch.crs}); resample the labels onto the stack's pixel grid"
        )
