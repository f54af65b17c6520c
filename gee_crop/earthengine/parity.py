"""The Earth Engine side of ``gee-crop check-parity``: random points as a FeatureCollection and the
server's 5-day median composite sampled at them (the client side is :mod:`gee_crop.features.parity`)."""

from __future__ import annotations

import ee
import numpy as np

from gee_crop.config import BANDS
from gee_crop.earthengine.composite import composite_band_names, median_composite
from gee_crop.earthengine.sampling import SERIES_SCALE_M, features_to_frame
from gee_crop.season import SeasonSpan

POINT_ID = "point_id"


def point_collection(points: list[tuple[float, float]]) -> ee.FeatureCollection:
    """The points as features with ids ``p0000``, ``p0001`` ... (label 0: sampling graphs need one)."""
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point([lon, lat]), {POINT_ID: f"p{i:04d}", "lon": lon, "lat": lat, "class": 0})
            for i, (lon, lat) in enumerate(points)
        ]
    )


def server_composites(
    client,
    region: ee.Geometry,
    points: ee.FeatureCollection,
    season: SeasonSpan,
    *,
    cloud_band: str,
    threshold: float,
    max_gap_bins: int,
) -> dict[str, np.ndarray]:
    """point id -> (10, n_bins) DN of the server composite (points it masks are absent)."""
    image = median_composite(region, season, cloud_band=cloud_band, threshold=threshold, max_gap_bins=max_gap_bins)
    rows = image.sampleRegions(collection=points, properties=[POINT_ID], scale=SERIES_SCALE_M, geometries=False)
    names = composite_band_names(season.n_bins)
    frame = features_to_frame(client.compute_features(rows))
    if frame.empty:
        return {}
    values = frame[names].to_numpy(np.float64).reshape(len(frame), len(BANDS), season.n_bins)
    return dict(zip(frame[POINT_ID].astype(str), values))
