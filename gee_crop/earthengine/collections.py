"""Server-side image collections: Sentinel-2 SR harmonized + Cloud Score+ (graph builders only; EMIT's are in
:mod:`gee_crop.earthengine.emit`).

Nothing here talks to the server; each function returns an ``ee`` object that
:mod:`gee_crop.earthengine.client` sends.
"""

from __future__ import annotations

import datetime as dt

import ee

from gee_crop.config import CLEAR_THRESHOLD, CLOUD_SCORE_PLUS_COLLECTION, S2_COLLECTION
from gee_crop.errors import InputError
from gee_crop.sensors import SENTINEL2

#: Cloud Score+ bands (METHOD.md "Satellite data": which one is a user option, default cs).
CLOUD_SCORE_BANDS = ("cs", "cs_cdf")


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
