"""The Earth Engine side of ``gee-crop check-parity``: random points as a FeatureCollection and the
server's 5-day median composite sampled at them (the client side is :mod:`gee_crop.features.parity`).

Both sides read the same pixel: the composite and the raw series are sampled in the 10 m grid of
the point's UTM zone (``projection``). Without it ``sampleRegions`` samples in the projection of the
image's first band (https://developers.google.com/earth-engine/apidocs/ee-image-sampleregions):
a composite of many granules has "a default WGS84 projection with a 1-degree scale"
(https://developers.google.com/earth-engine/guides/projections), a raw granule its own UTM grid,
and a point near a pixel edge would then read a neighbouring Sentinel-2 pixel on one side.
"""

from __future__ import annotations

from collections.abc import Callable

import ee
import numpy as np

from gee_crop.earthengine.composite import composite_band_names, median_composite
from gee_crop.earthengine.sampling import SERIES_SCALE_M, features_to_frame, series_rows, utm_crs
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2

POINT_ID = "point_id"


def point_collection(points: list[tuple[float, float]], indices: list[int] | None = None) -> ee.FeatureCollection:
    """The points (those at ``indices``, default all) as features with ids ``p0000``, ``p0001`` ... of
    their index (label 0: sampling graphs need one)."""
    indices = list(range(len(points))) if indices is None else indices
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point([lon, lat]), {POINT_ID: f"p{i:04d}", "lon": lon, "lat": lat, "class": 0})
            for i, (lon, lat) in ((i, points[i]) for i in indices)
        ]
    )


def zone_collections(points: list[tuple[float, float]]) -> dict[str, ee.FeatureCollection]:
    """UTM CRS (:func:`utm_crs`) -> the points in that zone, as :func:`point_collection` numbers them."""
    zones: dict[str, list[int]] = {}
    for i, (lon, lat) in enumerate(points):
        zones.setdefault(utm_crs(lon, lat), []).append(i)
    return {crs: point_collection(points, indices) for crs, indices in sorted(zones.items())}


def per_zone(
    points: list[tuple[float, float]], rows: Callable[[str, ee.FeatureCollection], ee.FeatureCollection]
) -> ee.FeatureCollection:
    """``rows(crs, zone_points)`` for the points of each UTM zone, merged into one collection."""
    parts = [rows(crs, zone) for crs, zone in zone_collections(points).items()]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    return merged


def composite_rows(
    region: ee.Geometry,
    points: list[tuple[float, float]],
    season: SeasonSpan,
    *,
    cloud_band: str,
    threshold: float,
    max_gap_bins: int,
) -> ee.FeatureCollection:
    """The server composite at each point, sampled on the 10 m grid of the point's UTM zone."""
    image = median_composite(region, season, cloud_band=cloud_band, threshold=threshold, max_gap_bins=max_gap_bins)
    return per_zone(
        points,
        lambda crs, zone: image.sampleRegions(
            collection=zone,
            properties=[POINT_ID],
            scale=SERIES_SCALE_M,
            projection=ee.Projection(crs),
            geometries=False,
        ),
    )


def raw_rows(
    region: ee.Geometry, points: list[tuple[float, float]], season: SeasonSpan, cloud_band: str
) -> ee.FeatureCollection:
    """The raw series at each point (:func:`series_rows`), on the same grid as :func:`composite_rows`."""
    return per_zone(
        points, lambda crs, zone: series_rows(zone, region, season.start, season.covered_end, cloud_band, crs=crs)
    )


def server_composites(client, rows: ee.FeatureCollection, n_bins: int) -> dict[str, np.ndarray]:
    """point id -> (10, n_bins) DN of the server composite ``rows`` (:func:`composite_rows`; points it masks
    are absent)."""
    names = composite_band_names(n_bins)
    frame = features_to_frame(client.compute_features(rows))
    if frame.empty:
        return {}
    values = frame[names].to_numpy(np.float64).reshape(len(frame), len(SENTINEL2.bands), n_bins)
    return dict(zip(frame[POINT_ID].astype(str), values))
