"""Server-side image collections: Sentinel-2 SR harmonized + Cloud Score+, and EMIT (graph builders only).

Nothing here talks to the server; each function returns an ``ee`` object that
:mod:`gee_crop.earthengine.client` sends.
"""

from __future__ import annotations

import datetime as dt

import ee

from gee_crop.config import CLEAR_THRESHOLD, CLOUD_SCORE_PLUS_COLLECTION, EMIT_COLLECTION, S2_COLLECTION
from gee_crop.errors import InputError
from gee_crop.sensors import SENTINEL2

#: Cloud Score+ bands (METHOD.md "Satellite data": which one is a user option, default cs).
CLOUD_SCORE_BANDS = ("cs", "cs_cdf")

#: EMIT L2A in Earth Engine (https://developers.google.com/earth-engine/datasets/catalog/NASA_EMIT_L2A_RFL):
#: 285 reflectance bands ``reflectance_0 … reflectance_284``, their 285 uncertainty bands and the L2A
#: mask bands (``cloud_flag``, ``aggregate_flag``, …; there is no ``cloud_mask`` band). A regex such
#: as ``reflectance_.*`` would also select the uncertainty bands, so the reflectance bands are named
#: one by one. METHOD.md "Hyperspectral" excludes cloud flag 1. Atmospheric absorption windows
#: removed -> 242 of 285 bands kept.
EMIT_N_BANDS = 285
EMIT_REFLECTANCE_BANDS = tuple(f"reflectance_{i}" for i in range(EMIT_N_BANDS))
EMIT_CLOUD_BAND = "cloud_flag"
EMIT_ABSORPTION_NM = ((1320.0, 1440.0), (1760.0, 1960.0))  # water vapour bands


def check_cloud_band(cloud_band: str) -> str:
    """``cloud_band`` if it is a Cloud Score+ band, else InputError naming the choices."""
    if cloud_band not in CLOUD_SCORE_BANDS:
        raise InputError(
            f"--cloud-band {cloud_band!r} is not a Cloud Score+ band; use " + " or ".join(CLOUD_SCORE_BANDS)
        )
    return cloud_band


def check_threshold(threshold: float) -> float:
    """``threshold`` if within (0, 1], else InputError (Cloud Score+ is a clear-sky probability)."""
    if not 0.0 < float(threshold) <= 1.0:
        raise InputError(
            f"--cloud-threshold {threshold} is outside (0, 1]; Cloud Score+ is a clear-sky "
            f"score, the paper keeps pixels with score >= {CLEAR_THRESHOLD}"
        )
    return float(threshold)


def s2_with_cloud_score(
    region: ee.Geometry, start: dt.date, end: dt.date, cloud_band: str = "cs"
) -> ee.ImageCollection:
    """S2 SR harmonized over ``region`` in [start, end), 10 bands (SENTINEL2.bands, DN) + the score band.

    Cloud Score+ images share the S2 ``system:index``, so they are linked image by image.
    """
    check_cloud_band(cloud_band)
    scores = ee.ImageCollection(CLOUD_SCORE_PLUS_COLLECTION)
    s2 = ee.ImageCollection(S2_COLLECTION).filterBounds(region).filterDate(start.isoformat(), end.isoformat())
    return s2.linkCollection(scores, [cloud_band]).select([*SENTINEL2.bands, cloud_band])


def clear_observations(
    collection: ee.ImageCollection, cloud_band: str = "cs", threshold: float = CLEAR_THRESHOLD
) -> ee.ImageCollection:
    """The 10 bands with pixels masked where the Cloud Score+ band is below ``threshold``."""
    check_cloud_band(cloud_band)
    threshold = check_threshold(threshold)

    def mask(image: ee.Image) -> ee.Image:
        return image.updateMask(image.select(cloud_band).gte(threshold)).select(list(SENTINEL2.bands))

    return collection.map(mask)


def emit_wavelengths_kept(wavelengths_nm: list[float]) -> list[int]:
    """Indices of EMIT bands outside the atmospheric absorption windows (242 of 285 for EMIT)."""
    return [i for i, w in enumerate(wavelengths_nm) if not any(lo <= w <= hi for lo, hi in EMIT_ABSORPTION_NM)]


def emit_monthly_median(region: ee.Geometry, year: int, month: int, band_names: list[str] | None = None) -> ee.Image:
    """Median EMIT L2A reflectance of one month over ``region``, cloud flag 1 excluded."""
    start = ee.Date.fromYMD(year, month, 1)
    collection = ee.ImageCollection(EMIT_COLLECTION).filterBounds(region).filterDate(start, start.advance(1, "month"))

    def mask(image: ee.Image) -> ee.Image:
        clear = image.select(EMIT_CLOUD_BAND).neq(1)
        bands = image.select(list(band_names or EMIT_REFLECTANCE_BANDS))
        return bands.updateMask(clear)

    return collection.map(mask).median()


def emit_season_medians(
    region: ee.Geometry, year: int, hemisphere: str = "north", band_names: list[str] | None = None
) -> ee.Image:
    """EMIT features of METHOD.md: June and August medians on their common cloud-free pixels in
    the north (bands suffixed _m06/_m08); February in the south (suffix _m02)."""
    if hemisphere == "south":
        feb = emit_monthly_median(region, year, 2, band_names)
        return feb.regexpRename("$", "_m02")
    june = emit_monthly_median(region, year, 6, band_names)
    august = emit_monthly_median(region, year, 8, band_names)
    both = june.mask().reduce(ee.Reducer.min()).And(august.mask().reduce(ee.Reducer.min()))
    return june.regexpRename("$", "_m06").addBands(august.regexpRename("$", "_m08")).updateMask(both)
