"""Server and client composites at random points of a region (``gee-crop check-parity``'s engine).

Maps are made from composites built on Earth Engine (``earthengine.composite.median_composite``);
models are trained on composites built on the client from the sample table's raw series
(``features.composite.composite_pixels``). Where the two differ, a model meets other inputs on the map
than in training. :func:`compare_composites` samples random points of a region, asks the server for its
composite there and for the raw series there, composites the series on the client and reports the
differences, with the likely causes it can see: same-day duplicate granules (overlapping MGRS tiles),
windows with an even number of clear observations (the median of an even count), points masked on
one side only (gap rule).
"""

from __future__ import annotations

import os
from pathlib import Path

import ee
from shapely import geometry as sg

from gee_crop.data import ee_rows
from gee_crop.data.regions import read_region
from gee_crop.earthengine.parity import composite_rows, raw_rows, server_composites
from gee_crop.earthengine.sampling import features_to_frame
from gee_crop.errors import InputError
from gee_crop.features.parity import (
    ParityReport,
    client_composites,
    compare,
    count_duplicates,
    even_windows,
    random_points,
)
from gee_crop.season import Season

PARITY_REGION = "parity"


def compare_composites(
    client,
    region: str | os.PathLike,
    year: int,
    n_points: int,
    seed: int,
    cloud_band: str,
    threshold: float,
    max_gap_bins: int,
) -> ParityReport:
    """The parity report of ``n_points`` random points (``seed``) of ``region`` in ``year`` (see module)."""
    if n_points < 1:
        raise InputError(f"--points {n_points} must be at least 1 (about 100 is enough)")
    geometry = read_region(Path(region))
    season = Season().span_at(int(year), geometry.centroid.y)
    points = random_points(geometry, n_points, seed)
    ids = [f"p{i:04d}" for i in range(len(points))]
    where = {
        pid: (round(lon, ee_rows.ID_DECIMALS), round(lat, ee_rows.ID_DECIMALS)) for pid, (lon, lat) in zip(ids, points)
    }
    region_ee = ee.Geometry(sg.mapping(geometry), "EPSG:4326", False)
    # both sides on the 10 m grid of the point's UTM zone: the same Sentinel-2 pixel (earthengine.parity)
    composite = composite_rows(
        region_ee, points, season, cloud_band=cloud_band, threshold=threshold, max_gap_bins=max_gap_bins
    )
    server = server_composites(client, composite, season.n_bins)
    raw = features_to_frame(client.compute_features(raw_rows(region_ee, points, season, cloud_band)))
    report = ParityReport(region=Path(region).stem, year=int(year), n_points=len(points), n_server=len(server))
    if not raw.empty:
        count_duplicates(raw, report)
        series = ee_rows.rows_to_series(raw, region=PARITY_REGION, cloud_band=cloud_band)
        client_dn = client_composites(series, season, threshold, max_gap_bins, ee_rows.ID_DECIMALS)
        report.n_client = len(client_dn)
        report.even_count_windows = even_windows(series, season, threshold)
        compare(report, server, client_dn, where)
    return report
