"""Analysis cubes of the server-side composite, read lazily with xee (notebooks, exploration).

Mapping sends one multi-band computePixels per tile (``gee_crop.mapping.sources``); for looking at
the composite itself, xee gives an ``xarray`` cube that loads only the slices a notebook touches.
xee reads one band (variable) per request and stacks the images of a collection along its first
dimension, so the composite is handed over as one image per 5-day window with the 10 bands of
SENTINEL2.bands: a tile costs 10 requests (one per band, all windows at once) instead of the 430 that
the single ``10 x n_bins``-band image would cost.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from typing import TYPE_CHECKING

import ee
import numpy as np
import shapely

from gee_crop.config import CLEAR_THRESHOLD, MAX_GAP_BINS, REFLECTANCE_SCALE
from gee_crop.earthengine.composite import composite_band_names, median_composite
from gee_crop.errors import XeeMissingError
from gee_crop.features.indices import ndvi
from gee_crop.mapping.tiling import grid_for_region
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2

if TYPE_CHECKING:
    import xarray

#: The pixel value masked composite pixels travel as: 0 DN, as in ``EarthEngineSource.image`` (mapping
#: treats 0 as masked too); the uint16 composite has no room for xee's default int32-max mask value.
MASKED_DN = 0


def _import_xee():
    try:
        import xee  # noqa: F401 - registers xarray's "ee" engine
    except ImportError as exc:
        raise XeeMissingError(
            "composite cubes need xee, which is not installed; run pip install 'gee-crop[notebooks]'"
        ) from exc


def _epoch_ms(day: dt.date) -> int:
    return int(np.datetime64(day, "ms").astype(np.int64))


def composite_collection(image: ee.Image, season: SeasonSpan) -> ee.ImageCollection:
    """The band-major composite ``image`` (``config.composite_band`` names) as an ee.ImageCollection of
    ``season.n_bins`` images, image k holding the 10 bands of SENTINEL2.bands of window k, with
    ``system:time_start`` = the window's first day and property ``bin`` = k (nothing is sent)."""
    names = np.array(composite_band_names(season.n_bins)).reshape(len(SENTINEL2.bands), season.n_bins)
    images = [
        image.select(names[:, k].tolist(), list(SENTINEL2.bands)).set(
            {"system:time_start": _epoch_ms(first_day), "bin": k}
        )
        for k, first_day in enumerate(season.bin_starts())
    ]
    return ee.ImageCollection.fromImages(images)


def composite_cube(
    region_wgs84: shapely.Geometry,
    season: SeasonSpan,
    *,
    crs: str,
    scale: float = 10,
    cloud_band: str = "cs",
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
) -> xarray.DataArray:
    """Lazy cube of the gap-filled 5-day medians over the region (``median_composite``).

    Returns an ``xarray.DataArray`` named ``reflectance``, dims (band, bin, y, x): band = SENTINEL2.bands,
    bin = 0 … n_bins-1 with a ``bin_start`` date coordinate, x / y pixel centres in ``crs`` on the
    grid of ``gee-crop map`` (``scale``-sized pixels aligned to multiples of ``scale``). Values are
    float32 reflectance (DN / 1e4), NaN where masked (outside the region, or a gap longer than
    ``max_gap_bins``). Dask-backed: nothing is requested until ``.load()`` / ``.values``.
    """
    _import_xee()
    import xarray as xr

    grid = grid_for_region(region_wgs84, crs=crs, scale=scale)
    region = ee.Geometry(shapely.geometry.mapping(region_wgs84))
    image = median_composite(region, season, cloud_band=cloud_band, threshold=threshold, max_gap_bins=max_gap_bins)
    with warnings.catch_warnings():
        # xee warns when the server lists no image ids/times for a computed collection; the bin
        # coordinates are set below from the season, so that warning is noise here
        warnings.filterwarnings("ignore", message="Unable to retrieve", category=UserWarning)
        ds = xr.open_dataset(
            # xarray annotates paths and buffers only; a backend engine (xee's "ee") takes its own objects
            composite_collection(image, season),  # type: ignore[arg-type]
            engine="ee",
            crs=grid.crs,
            crs_transform=grid.transform,
            shape_2d=(grid.width, grid.height),
            primary_dim_name="bin",
            ee_mask_value=MASKED_DN,
            chunks={},
        )
    dn = ds[list(SENTINEL2.bands)].to_dataarray(dim="band").transpose("band", "bin", "y", "x")
    bin_starts = np.array(season.bin_starts(), dtype="datetime64[D]")
    cube = (dn / np.float32(REFLECTANCE_SCALE)).astype(np.float32)
    cube = cube.assign_coords(band=list(SENTINEL2.bands), bin=np.arange(season.n_bins), bin_start=("bin", bin_starts))
    cube.name = "reflectance"
    cube.attrs = {
        "units": "reflectance (DN / 1e4)",
        "crs": grid.crs,
        "transform": list(grid.transform),
        "season": json.dumps(season.to_dict()),
        "cloud_band": cloud_band,
        "threshold": threshold,
        "max_gap_bins": max_gap_bins,
    }
    return cube


def ndvi_cube(cube: xarray.DataArray) -> xarray.DataArray:
    """NDVI (bin, y, x) float32 of a :func:`composite_cube` (lazy when the cube is)."""
    import xarray as xr

    out = xr.apply_ufunc(
        ndvi, cube, input_core_dims=[["band"]], kwargs={"band_axis": -1}, dask="allowed"
    )  # ndvi selects B4, B8 lazily: only they are fetched
    out.name = "ndvi"
    out.attrs = {k: v for k, v in cube.attrs.items() if k != "units"}
    return out
