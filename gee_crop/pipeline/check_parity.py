"""`gee-crop check-parity`: do the server's composites equal the ones training makes from raw series?

Maps are made from composites built on Earth Engine (``earthengine.composite.median_composite``);
models are trained on composites built on the client from the sample table's raw series
(``features.composite.composite_pixels``). Where the two differ, a model meets other inputs on the map
than in training. This command samples ~100 random points of a region, asks the server for its
composite there and for the raw series there, composites the series on the client and reports the
differences, with the likely causes it can see: same-day duplicate granules (overlapping MGRS tiles),
windows with an even number of clear observations (the median of an even count), points masked on
one side only (gap rule).

It is how a user checks on the real service what no offline test can: that the server behaves as
the graphs assume.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ee
import numpy as np
import shapely
from shapely import geometry as sg

from gee_crop.atomic import write_json_atomic
from gee_crop.config import BANDS, CLEAR_THRESHOLD, MAX_GAP_BINS
from gee_crop.data import ee_rows
from gee_crop.data.regions import read_region
from gee_crop.earthengine.composite import composite_band_names, median_composite
from gee_crop.earthengine.sampling import SERIES_SCALE_M, features_to_frame, series_rows
from gee_crop.errors import InputError
from gee_crop.features.composite import composite_pixels, prepare_series
from gee_crop.season import Season

DEFAULT_POINTS = 100
#: Largest difference (DN) counted as equal: both sides round to whole DN.
TOLERANCE_DN = 1.0
POINT_ID = "point_id"
PARITY_REGION = "parity"


@dataclass
class ParityReport:
    """What ``check-parity`` found; DN differences are |server - client| over the 10 bands x bins."""

    region: str
    year: int
    n_points: int
    n_server: int = 0
    n_client: int = 0
    n_compared: int = 0
    n_differing: int = 0
    max_abs_dn: float = 0.0
    mean_abs_dn: float = 0.0
    max_abs_dn_per_band: dict[str, float] = field(default_factory=dict)
    masked_on_server_only: int = 0
    masked_on_client_only: int = 0
    points_with_same_day_duplicates: int = 0
    same_day_duplicates: int = 0
    even_count_windows: int = 0
    differing_points: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return (
            self.n_compared > 0
            and self.n_differing == 0
            and not (self.masked_on_server_only or self.masked_on_client_only)
        )

    def summary(self) -> str:
        """A few lines for the terminal."""
        head = (
            f"check-parity {self.region} {self.year}: {self.n_points} points, composites from the server "
            f"at {self.n_server}, from the raw series at {self.n_client}, compared at {self.n_compared}"
        )
        if self.n_compared == 0:
            return head + "; nothing to compare (no point has a composite on both sides): use a larger region"
        lines = [head]
        if self.agree:
            lines.append(f"server and client composites agree (max |difference| {self.max_abs_dn:.0f} DN)")
        else:
            lines.append(
                f"composites DIFFER at {self.n_differing} of {self.n_compared} points: max |difference| "
                f"{self.max_abs_dn:.0f} DN, mean {self.mean_abs_dn:.1f} DN; masked on the server only "
                f"at {self.masked_on_server_only}, on the client only at {self.masked_on_client_only}"
            )
        if self.same_day_duplicates:
            lines.append(
                f"same-day duplicate acquisitions (overlapping S2 tiles): {self.same_day_duplicates} at "
                f"{self.points_with_same_day_duplicates} points; the sample table keeps the one with the "
                "highest cloud score, the server composite must merge them the same way"
            )
        if self.even_count_windows:
            lines.append(
                f"windows with an even number of clear observations: {self.even_count_windows} "
                "(the median of an even count is where server and client may round differently)"
            )
        return "\n".join(lines)


def random_points(geometry: sg.base.BaseGeometry, n: int, seed: int = 0) -> list[tuple[float, float]]:
    """``n`` uniform random (lon, lat) points inside ``geometry`` (WGS84), reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    west, south, east, north = geometry.bounds
    points: list[tuple[float, float]] = []
    while len(points) < n:
        lon = rng.uniform(west, east, 4 * n)
        lat = rng.uniform(south, north, 4 * n)
        inside = shapely.contains_xy(geometry, lon, lat)
        points.extend(zip(lon[inside].tolist(), lat[inside].tolist()))
    return points[:n]


def _point_collection(points: list[tuple[float, float]]) -> ee.FeatureCollection:
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point([lon, lat]), {POINT_ID: f"p{i:04d}", "lon": lon, "lat": lat, "class": 0})
            for i, (lon, lat) in enumerate(points)
        ]
    )


def _server_composites(
    client,
    region: ee.Geometry,
    points: ee.FeatureCollection,
    season,
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


def check_parity(
    client,
    region: str | os.PathLike,
    *,
    year: int,
    n_points: int = DEFAULT_POINTS,
    seed: int = 0,
    cloud_band: str = "cs",
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
    out: str | os.PathLike | None = None,
) -> ParityReport:
    """Compare server and client composites at ``n_points`` random points of ``region`` (see module)."""
    if n_points < 1:
        raise InputError(f"--points {n_points} must be at least 1 (about 100 is enough)")
    geometry = read_region(region)
    season = Season().span_at(int(year), geometry.centroid.y)
    points = random_points(geometry, n_points, seed)
    ids = [f"p{i:04d}" for i in range(len(points))]
    where = {
        pid: (round(lon, ee_rows.ID_DECIMALS), round(lat, ee_rows.ID_DECIMALS)) for pid, (lon, lat) in zip(ids, points)
    }
    region_ee = ee.Geometry(sg.mapping(geometry), "EPSG:4326", False)
    collection = _point_collection(points)
    server = _server_composites(
        client, region_ee, collection, season, cloud_band=cloud_band, threshold=threshold, max_gap_bins=max_gap_bins
    )
    raw = features_to_frame(
        client.compute_features(series_rows(collection, region_ee, season.start, season.covered_end, cloud_band))
    )
    report = ParityReport(region=Path(region).stem, year=int(year), n_points=len(points), n_server=len(server))
    if not raw.empty:
        _count_duplicates(raw, report)
        series = ee_rows.rows_to_series(raw, region=PARITY_REGION, cloud_band=cloud_band)
        start = int(np.datetime64(season.start, "D").astype(np.int64))
        composite = composite_pixels(
            series, start, season.window_days, season.n_bins, threshold=threshold, max_gap_bins=max_gap_bins
        )
        client_dn = {
            (round(float(lo), ee_rows.ID_DECIMALS), round(float(la), ee_rows.ID_DECIMALS)): np.round(
                composite.values[i] * 1e4
            )
            for i, (lo, la) in enumerate(zip(series.lon, series.lat))
            if composite.keep[i]
        }
        report.n_client = len(client_dn)
        report.even_count_windows = _even_windows(series, season, threshold)
        _compare(report, server, client_dn, where)
    if out is not None:
        write_json_atomic(out, {**asdict(report), "agree": report.agree}, indent=2)
    return report


def _count_duplicates(raw, report: ParityReport) -> None:
    keys = raw.groupby(["lon", "lat", "date"]).size()
    extra = keys[keys > 1] - 1
    report.same_day_duplicates = int(extra.sum())
    report.points_with_same_day_duplicates = (
        int(extra.reset_index().groupby(["lon", "lat"]).ngroups) if len(extra) else 0
    )


def _even_windows(series, season, threshold: float) -> int:
    arrays = prepare_series(series, threshold)
    start = int(np.datetime64(season.start, "D").astype(np.int64))
    offset = arrays.days.astype(np.int64) - start
    bins = np.where(arrays.observed & (offset >= 0), offset // season.window_days, -1)
    counts = np.stack([(bins == k).sum(axis=1) for k in range(season.n_bins)], axis=1)
    return int(((counts > 0) & (counts % 2 == 0)).sum())


def _compare(report: ParityReport, server: dict[str, np.ndarray], client_dn: dict, where: dict) -> None:
    differences, per_band = [], np.zeros(len(BANDS))
    for pid, key in where.items():
        on_server, on_client = pid in server, key in client_dn
        report.masked_on_server_only += int(on_client and not on_server)
        report.masked_on_client_only += int(on_server and not on_client)
        if not (on_server and on_client):
            continue
        diff = np.abs(server[pid] - client_dn[key])  # (10, n_bins) DN
        per_band = np.maximum(per_band, diff.max(axis=1))
        differences.append(diff)
        if diff.max() > TOLERANCE_DN:
            report.differing_points.append(pid)
    report.n_compared = len(differences)
    report.n_differing = len(report.differing_points)
    if differences:
        stacked = np.stack(differences)
        report.max_abs_dn, report.mean_abs_dn = float(stacked.max()), float(stacked.mean())
        report.max_abs_dn_per_band = {b: float(v) for b, v in zip(BANDS, per_band)}
