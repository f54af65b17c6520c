"""Server against client composites, compared (``gee-crop check-parity``): the report, random points of a
region, and the pure comparisons (differences in DN, same-day duplicate granules, windows with an even
number of clear observations). The Earth Engine side is :mod:`gee_crop.earthengine.parity`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely import geometry as sg

from gee_crop.features.composite import composite_pixels, prepare_series
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2
from gee_crop.types import SampleSeries

#: Largest difference (DN) counted as equal: both sides round to whole DN.
TOLERANCE_DN = 1.0


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


def count_duplicates(raw: pd.DataFrame, report: ParityReport) -> None:
    """Same-day duplicate acquisitions of the raw series (overlapping Sentinel-2 tiles), into ``report``."""
    keys = raw.groupby(["lon", "lat", "date"]).size()
    extra = keys[keys > 1] - 1
    report.same_day_duplicates = int(extra.sum())
    report.points_with_same_day_duplicates = (
        int(extra.reset_index().groupby(["lon", "lat"]).ngroups) if len(extra) else 0
    )


def even_windows(series: SampleSeries, season: SeasonSpan, threshold: float) -> int:
    """Windows with an even number of clear observations (where a median may round either way)."""
    arrays = prepare_series(series, threshold)
    start = int(np.datetime64(season.start, "D").astype(np.int64))
    offset = arrays.days.astype(np.int64) - start
    bins = np.where(arrays.observed & (offset >= 0), offset // season.window_days, -1)
    counts = np.stack([(bins == k).sum(axis=1) for k in range(season.n_bins)], axis=1)
    return int(((counts > 0) & (counts % 2 == 0)).sum())


def client_composites(
    series: SampleSeries, season: SeasonSpan, threshold: float, max_gap_bins: int, decimals: int
) -> dict[tuple[float, float], np.ndarray]:
    """The composite training makes of each kept sample's raw series, in DN (x 1e4), keyed by the sample's
    lon/lat rounded to ``decimals`` (how the server's points are keyed)."""
    start = int(np.datetime64(season.start, "D").astype(np.int64))
    composite = composite_pixels(
        series, start, season.window_days, season.n_bins, threshold=threshold, max_gap_bins=max_gap_bins
    )
    return {
        (round(float(lon), decimals), round(float(lat), decimals)): np.round(composite.values[i] * 1e4)
        for i, (lon, lat) in enumerate(zip(series.lon, series.lat))
        if composite.keep[i]
    }


def compare(report: ParityReport, server: dict[str, np.ndarray], client_dn: dict, where: dict) -> None:
    """Differences of the server's (point id -> (10, n_bins) DN) and the client's composites, into ``report``."""
    differences, per_band = [], np.zeros(len(SENTINEL2.bands))
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
        report.max_abs_dn_per_band = {b: float(v) for b, v in zip(SENTINEL2.bands, per_band)}
