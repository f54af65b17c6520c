"""The in-memory data types every room shares: :class:`SampleSeries` (labelled samples with raw
series; the sample table in memory) and :class:`RawStack` (a raw dated raster stack)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from pyproj import Transformer

from gee_crop.classes import CLASSES, Legend, class_indices
from gee_crop.config import GRID_CELL_DEG, INWARD_BUFFER_M, SAMPLE_SPACING_M, SAMPLES_PER_CELL_DEFAULT
from gee_crop.season import Season
from gee_crop.sensors import SENTINEL2


@dataclass(frozen=True)
class SamplingRules:
    """METHOD.md "Sampling", the same on Earth Engine and on a local stack: the labels' inward buffer
    (step 1), then per ``cell_deg`` x ``cell_deg`` WGS84 cell at most ``per_cell`` points at least
    ``spacing_m`` apart, drawn with ``seed`` (step 3)."""

    buffer_m: float = INWARD_BUFFER_M
    cell_deg: float = GRID_CELL_DEG
    spacing_m: float = SAMPLE_SPACING_M
    per_cell: int = SAMPLES_PER_CELL_DEFAULT
    seed: int = 0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The rules' names (as options of an experiment file's ``sampling``)."""
        return tuple(f.name for f in dataclasses.fields(cls))


#: The paper's sampling rules.
PAPER_RULES = SamplingRules()


@dataclass
class SampleSeries:
    """Raw dated observations of ``n`` samples, padded to a common length ``T``.

    Shapes: ``dates`` (n, T) datetime64[D], NaT where padded; ``dn`` (n, T, 10) uint16 DN in
    SENTINEL2.bands order, 0 where padded or no data; ``cloud`` (n, T) float32, NaN where padded.
    Per-sample arrays are (n,). ``classes`` is the class list ``crop_class`` names index into (the
    paper's seven unless the table was sampled with a user's legend); ``season`` the season the table
    was sampled with (e.g. ``sample --season-start``), or None for the paper's (``Season()``).
    """

    sample_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    region: np.ndarray
    crop_class: np.ndarray
    cloud_kind: np.ndarray
    dates: np.ndarray
    dn: np.ndarray
    cloud: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    classes: tuple[str, ...] = CLASSES
    season: Season | None = None
    season_year: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        n = len(self.sample_id)
        if self.season_year is not None:
            self.season_year = np.broadcast_to(np.asarray(self.season_year, dtype=np.int64), (n,)).copy()
        for name in ("lon", "lat", "region", "crop_class", "cloud_kind"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, expected {n}")
        if self.dates.shape[0] != n or self.dn.shape[:2] != self.dates.shape or self.cloud.shape != self.dates.shape:
            raise ValueError(
                f"inconsistent shapes: dates {self.dates.shape}, dn {self.dn.shape}, cloud {self.cloud.shape}"
            )
        if self.dn.shape[2] != len(SENTINEL2.bands):
            raise ValueError(f"dn must have {len(SENTINEL2.bands)} bands, got {self.dn.shape[2]}")

    def __len__(self) -> int:
        return len(self.sample_id)

    @property
    def n_obs(self) -> np.ndarray:
        """(n,) number of acquisitions per sample (not padded)."""
        return np.asarray((~np.isnat(self.dates)).sum(axis=1))

    @property
    def labels(self) -> np.ndarray:
        """(n,) int64 class indices into ``classes``."""
        return class_indices(self.crop_class, self.classes)

    def subset(self, index: np.ndarray) -> SampleSeries:
        """Rows selected by a boolean mask or an integer index (padding trimmed)."""
        index = np.asarray(index)
        sub = SampleSeries(
            self.sample_id[index],
            self.lon[index],
            self.lat[index],
            self.region[index],
            self.crop_class[index],
            self.cloud_kind[index],
            self.dates[index],
            self.dn[index],
            self.cloud[index],
            {k: v[index] for k, v in self.extra.items()},
            self.classes,
            self.season,
            None if self.season_year is None else self.season_year[index],
        )
        return sub.trimmed()

    def trimmed(self) -> SampleSeries:
        """Drop trailing padding columns that no sample uses."""
        t = int(self.n_obs.max()) if len(self) else 0
        if t == self.dates.shape[1]:
            return self
        return SampleSeries(
            self.sample_id,
            self.lon,
            self.lat,
            self.region,
            self.crop_class,
            self.cloud_kind,
            self.dates[:, :t],
            self.dn[:, :t],
            self.cloud[:, :t],
            self.extra,
            self.classes,
            self.season,
            self.season_year,
        )

    @property
    def season_counts(self) -> dict[int, int]:
        """{season year: number of samples}, by year (empty when ``season_year`` is None)."""
        if self.season_year is None:
            return {}
        years, counts = np.unique(self.season_year, return_counts=True)
        return {int(y): int(c) for y, c in zip(years, counts)}


def concat(tables: list[SampleSeries]) -> SampleSeries:
    """Stack several tables (padding to the longest series); they must share one class list and season
    (its shape: start, length, window), not its year: each sample keeps its ``season_year``, which is
    kept when every table has one (else None: inferred from the dates where features are computed)."""
    if not tables:
        raise ValueError("nothing to concatenate")
    if len({(tab.classes, tab.season or Season()) for tab in tables}) > 1:
        raise ValueError(
            "the tables have different class lists or seasons; sample them with the same "
            "--legend/--classes and season options"
        )
    t = max(tab.dates.shape[1] for tab in tables)

    def pad(a: np.ndarray, fill: float | np.datetime64) -> np.ndarray:
        widths = [(0, 0), (0, t - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        return np.pad(a, widths, constant_values=fill)

    def stacked(name: str) -> np.ndarray:
        return np.concatenate([getattr(tab, name) for tab in tables])

    extra_keys = set.intersection(*(set(tab.extra) for tab in tables))
    return SampleSeries(
        stacked("sample_id"),
        stacked("lon"),
        stacked("lat"),
        stacked("region"),
        stacked("crop_class"),
        stacked("cloud_kind"),
        np.concatenate([pad(tab.dates, np.datetime64("NaT")) for tab in tables]),
        np.concatenate([pad(tab.dn, 0) for tab in tables]),
        np.concatenate([pad(tab.cloud, np.nan) for tab in tables]),
        {k: np.concatenate([tab.extra[k] for tab in tables]) for k in sorted(extra_keys)},
        tables[0].classes,
        tables[0].season,
        None if any(tab.season_year is None for tab in tables) else np.concatenate([tab.season_year for tab in tables]),
    )


@dataclass
class RawStack:
    """Raw dated Sentinel-2 L2A observations of a raster, stored north up.

    ``dn`` (T, H, W, 10) uint16 DN in SENTINEL2.bands order (0 = no data); ``cloud`` (T, H, W) float32
    holding the indicator named by ``cloud_kind`` (config.CLOUD_KINDS); ``dates`` (T,) datetime64[D];
    ``x`` (W,) and ``y`` (H,) pixel-centre coordinates in ``crs``; ``labels`` (H, W) int64 codes of a
    reference product or None, read into classes by ``legend`` (:attr:`classes`); ``label_source``
    names the product.
    """

    dates: np.ndarray
    dn: np.ndarray
    cloud: np.ndarray
    cloud_kind: str
    x: np.ndarray
    y: np.ndarray
    crs: str
    labels: np.ndarray | None = None
    name: str = "stack"
    label_source: str = ""
    legend: Legend | None = None

    def __post_init__(self) -> None:
        # Stored north-up (y decreasing, x increasing) whatever the file's order: the grid, the
        # transform and every pixel lookup rely on it.
        rows = slice(None, None, -1) if len(self.y) > 1 and self.y[0] < self.y[-1] else slice(None)
        cols = slice(None, None, -1) if len(self.x) > 1 and self.x[0] > self.x[-1] else slice(None)
        self.y, self.x = self.y[rows], self.x[cols]
        self.dn, self.cloud = self.dn[:, rows, cols], self.cloud[:, rows, cols]
        if self.labels is not None:
            self.labels = self.labels[rows, cols]

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) pixels."""
        return self.dn.shape[1], self.dn.shape[2]

    @property
    def resolution(self) -> float:
        return float(abs(self.x[1] - self.x[0])) if len(self.x) > 1 else float(abs(self.y[1] - self.y[0]))

    @property
    def upper_left(self) -> tuple[float, float]:
        """(x, y) of the upper-left corner of the upper-left pixel."""
        half = self.resolution / 2
        return float(self.x.min() - half), float(self.y.max() + half)

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL/affine order (a, b, c, d, e, f): x = a*col + c, y = e*row + f (upper-left corner)."""
        res, (x0, y1) = self.resolution, self.upper_left
        return (res, 0.0, x0, 0.0, -res, y1)

    @cached_property
    def classes(self) -> np.ndarray | None:
        """(H, W) uint8 class indices of ``labels`` read with ``legend`` (NO_CLASS where the code has
        no class), or None without labels or legend."""
        if self.labels is None or self.legend is None:
            return None
        return self.legend.indices(self.labels).astype(np.uint8)

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) longitude and latitude of the pixel centres (WGS84)."""
        xx, yy = np.meshgrid(self.x, self.y)
        lon, lat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(xx, yy)
        return np.asarray(lon), np.asarray(lat)
