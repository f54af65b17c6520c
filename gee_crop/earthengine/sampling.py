"""Server-side sampling graphs (METHOD.md "Sampling"): inward buffer, 0.1° grid sampling at 60 m,
raw per-date series extraction at the sample points, the graph of one tile of a job, table export configs;
and the job itself: :class:`SamplingJob` and its tiles of whole sampling cells (:func:`job_tiles`).

Every graph function builds and returns ``ee`` objects; :mod:`gee_crop.earthengine.tasks` sends the
graphs through the client and resumes. One extracted row is one acquisition of one sample, with the
properties of :func:`row_properties`, read back as a frame by :func:`features_to_frame` (streamed) or
:func:`read_export_csv` (exported); :mod:`gee_crop.data.ee_rows` turns the rows into the sample table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ee
import numpy as np
import pandas as pd
import shapely
from shapely import geometry as sg

from gee_crop.classes import CLASSES, NO_CLASS, Legend
from gee_crop.config import (
    CLEAR_THRESHOLD,
    GRID_CELL_DEG,
    INWARD_BUFFER_M,
    SAMPLE_SPACING_M,
    ExportDestination,
    Hemisphere,
    acquisition_window,
    hemisphere_of,
)
from gee_crop.countries import CountrySpec
from gee_crop.earthengine.collections import check_threshold, clear_observations, s2_with_cloud_score
from gee_crop.earthengine.emit import emit_rows, month_suffix, season_months
from gee_crop.earthengine.labels import (
    LABEL_BAND,
    LABEL_SCALE_M,
    asset_labels,
    inline_labels,
    paint_classes,
    reference_labels,
    split_points,
)
from gee_crop.season import Season, SeasonSpan
from gee_crop.sensors import EMIT, SENTINEL2, Sensor
from gee_crop.types import PAPER_RULES, SamplingRules

CELL_BAND = "cell"
COUNTRY_BOUNDARIES = "WM/geoLab/geoBoundaries/600/ADM0"
COUNTRY_CODE_PROPERTY = "shapeGroup"  # ISO 3166-1 alpha-3 in geoBoundaries
SERIES_SCALE_M = 10  # S2 10 m grid: the series is read at the sample's 10 m pixel
DEFAULT_TILE_DEG = 1.0
#: Decimals of tile bounds (degrees): edges computed on the cell grid land exactly on the multiples.
BOUNDS_DECIMALS = 9
#: Folder of the sample-table assets under a project's assets.
SAMPLES_FOLDER = "gee-crop/samples"
#: Task descriptions: "only the following characters: a..z, A..Z, 0..9, ".", ",", ":", ";", "_" or
#: "-" ... at most 100 characters" (the rule the Code Editor states, quoted by geetools'
#: format_description); asset ids: letters, digits, "_" and "-"
#: (https://developers.google.com/earth-engine/guides/manage_assets). The stem keeps the stricter set.
DESCRIPTION_MAX = 100
_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")

Bounds = tuple[float, float, float, float]


EXPORT_DESTINATIONS = ExportDestination.values()
DEFAULT_EXPORT_TO = ExportDestination.ASSET


@dataclass
class OwnLabels:
    """A user's own labels for an Earth Engine job: inline (``geometries`` WGS84 with class indices
    ``classes``, sent inside each tile's request) or a table ``asset`` whose ``field`` the legend maps."""

    source: str
    legend: Legend
    field: str
    geometries: np.ndarray | None = None
    classes: np.ndarray | None = None
    asset: str | None = None

    def collection(self, bounds: Bounds | None = None, region: ee.Geometry | None = None) -> ee.FeatureCollection:
        """The labels of a tile (``bounds`` degrees) as a FeatureCollection with a ``class`` property:
        inline, only the features touching the tile travel; an asset is filtered on the server."""
        if self.asset is not None:
            return asset_labels(self.asset, self.field, self.legend, region)
        assert self.geometries is not None, "inline labels (no asset) hold their geometries"
        keep = (
            np.ones(len(self.geometries), np.bool_)
            if bounds is None
            else shapely.intersects(self.geometries, sg.box(*bounds))
        )
        return inline_labels(self.geojson(keep))

    def geojson(self, keep: np.ndarray | None = None) -> dict:
        """The inline features (all, or those where ``keep``) as GeoJSON with their class index."""
        assert self.geometries is not None and self.classes is not None, "geojson() is of inline labels"
        keep = np.ones(len(self.geometries), np.bool_) if keep is None else keep
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": sg.mapping(g), "properties": {LABEL_BAND: int(c)}}
                for g, c in zip(self.geometries[keep], self.classes[keep])
            ],
        }

    def fingerprint(self) -> dict:
        digest = (
            hashlib.sha1(json.dumps(self.geojson(), sort_keys=True).encode()).hexdigest()[:16]
            if self.asset is None
            else None
        )
        return {
            "source": self.asset or self.source,
            "field": self.field,
            "features": digest,
            "legend": sorted(self.legend.table.items()),
            "classes": list(self.legend.classes),
        }


@dataclass
class SamplingJob:
    """Everything that defines a sampling run (its fingerprint guards resumes). ``spec`` is the
    registered country (None for a user's own labels, ``own_labels``); ``season`` a user's own season
    (None: the paper's acquisition window)."""

    name: str
    spec: CountrySpec | None
    geometry: Any  # shapely geometry (WGS84): the area to sample
    year: int
    per_cell: int
    cloud_band: str = "cs"
    cloud_threshold: float = CLEAR_THRESHOLD
    buffer_m: float = INWARD_BUFFER_M
    cell_deg: float = GRID_CELL_DEG
    spacing_m: float = SAMPLE_SPACING_M
    seed: int = 0
    tile_deg: float = DEFAULT_TILE_DEG
    tile_scale: float = 1.0
    project: str | None = None
    from_country: bool = True
    accuracy: dict[int, set[int]] | None = None
    own_labels: OwnLabels | None = None
    season: Season | None = None  # the user's own season (sample --season-start ...); None: the paper's
    medians: Sensor | None = None  # also sample this sensor's monthly medians at the same points (sample --medians)

    @property
    def emit(self) -> bool:
        """Whether the job samples EMIT's monthly medians (``sample --emit``)."""
        return self.medians == EMIT

    @property
    def hemisphere(self) -> Hemisphere:
        return hemisphere_of(self.geometry.centroid.y)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class list the job's ``class`` indices point into."""
        return self.own_labels.legend.classes if self.own_labels is not None else CLASSES

    @property
    def season_span(self) -> SeasonSpan | None:
        """The user's own season of ``year`` at the region (None: the paper's season)."""
        return None if self.season is None else self.season.span_at(self.year, self.geometry.centroid.y)

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        """Raw acquisition window (METHOD.md: Jan–Dec north, Jul–Jun south; a user's own season: its span)."""
        span = self.season_span
        if span is not None:
            return span.start, span.covered_end
        return acquisition_window(self.year, self.hemisphere)

    def rules(self, index: int = 0) -> SamplingRules:
        """The job's sampling rules on tile ``index`` (whose seed is the job's seed + ``index``)."""
        return SamplingRules(self.buffer_m, self.cell_deg, self.spacing_m, self.per_cell, self.seed + index)

    def fingerprint(self) -> dict:
        return {
            "name": self.name,
            "country": self.spec.code if self.spec else None,
            "year": self.year,
            "per_cell": self.per_cell,
            "cloud_band": self.cloud_band,
            "threshold": self.cloud_threshold,  # the key of ledgers written before the rename
            "buffer_m": self.buffer_m,
            "cell_deg": self.cell_deg,
            "spacing_m": self.spacing_m,
            "seed": self.seed,
            "tile_deg": self.tile_deg,
            "bounds": [round(b, 6) for b in self.geometry.bounds],
            **({"labels": self.own_labels.fingerprint()} if self.own_labels else {}),
            **({"season": self.season.to_dict()} if self.season is not None else {}),
            **self._medians_fingerprint(),
        }

    def _medians_fingerprint(self) -> dict:
        """The medians sensor's fingerprint entry: none for S2-only jobs, ``emit`` for EMIT (both as before)."""
        if self.medians is None:
            return {}
        return {"emit": True} if self.emit else {"medians": self.medians.name}


# ------------------------------------------------------------------ the job's tiles


def tile_bounds(column: int, row: int, tile_deg: float = DEFAULT_TILE_DEG, cell_deg: float = GRID_CELL_DEG) -> Bounds:
    """(west, south, east, north) degrees of tile ``column``, ``row`` of the sampling grid: the global
    WGS84 grid of ``cell_deg`` cells in windows of ``tile_deg`` whole cells, counted from -180° / -90°.

    The grid's northern edge is the first multiple of the tile above 90° (so the windows start where
    the cells start); edges are computed from that edge down, as the north-up raster grid of the
    earlier releases did, so the bounds (and the ledgers of runs they started) stay the same.
    """
    side = round(tile_deg / cell_deg)
    n_rows = math.ceil(round(180 / cell_deg) / side) * side
    top = -90.0 + n_rows * cell_deg
    first_row = (n_rows // side - 1 - row) * side  # the tile's top row of cells, counted from the top
    first_col = column * side
    west, east = first_col * cell_deg - 180.0, (first_col + side) * cell_deg - 180.0
    south, north = top - (first_row + side) * cell_deg, top - first_row * cell_deg
    return (
        round(west, BOUNDS_DECIMALS),
        round(south, BOUNDS_DECIMALS),
        round(east, BOUNDS_DECIMALS),
        round(north, BOUNDS_DECIMALS),
    )


def sampling_tiles(geometry, tile_deg: float = DEFAULT_TILE_DEG, cell_deg: float = GRID_CELL_DEG) -> list[Bounds]:
    """The tiles of the sampling grid (:func:`tile_bounds`) that overlap ``geometry`` with some area,
    south to north, then west to east: that order gives each tile its index (the seed offset and the
    name of its part)."""
    west, south, east, north = geometry.bounds
    columns = range(math.floor((west + 180) / tile_deg), math.ceil((east + 180) / tile_deg))
    tiles = []
    for row in range(math.floor((south + 90) / tile_deg), math.ceil((north + 90) / tile_deg)):
        for column in columns:
            bounds = tile_bounds(column, row, tile_deg, cell_deg)
            part = geometry.intersection(sg.box(*bounds))
            if not part.is_empty and part.area > 0:
                tiles.append(bounds)
    return tiles


def job_tiles(job: SamplingJob) -> dict[str, Bounds]:
    """Ledger unit (the tile's index, as text) -> bounds of every tile of the job."""
    return {str(k): b for k, b in enumerate(sampling_tiles(job.geometry, job.tile_deg, job.cell_deg))}


def row_properties(cloud_band: str = "cs") -> list[str]:
    """Properties of one extracted row: lon, lat, class, date (YYYY-MM-dd), the 10 bands, the score."""
    return ["lon", "lat", LABEL_BAND, "date", *SENTINEL2.bands, cloud_band]


def features_to_frame(features: list[dict]) -> pd.DataFrame:
    """GeoJSON features (computeFeatures pages) -> one row per feature, properties as columns."""
    return pd.DataFrame.from_records([f.get("properties", {}) for f in features])


def read_export_csv(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Rows of exported CSV files (Export.table.toDrive / toCloudStorage with the row selectors)."""
    frames = [pd.read_csv(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def country_boundary(iso3: str) -> ee.Geometry:
    """A country's outline from the Earth Engine catalog (geoBoundaries ADM0, by ISO3 code)."""
    countries = ee.FeatureCollection(COUNTRY_BOUNDARIES)
    return countries.filter(ee.Filter.eq(COUNTRY_CODE_PROPERTY, iso3.upper())).geometry()


def utm_crs(lon: float, lat: float) -> str:
    """The EPSG code of the UTM zone at (lon, lat) (WGS84): a local grid with square metre pixels."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def label_grid(labels: ee.Image, crs: str, scale_m: float = LABEL_SCALE_M) -> ee.Image:
    """``labels`` pinned to a ``scale_m`` grid of ``crs`` (nearest neighbour, full resolution).

    Earth Engine computes each operation in the projection its output is requested in, and
    ``reproject`` pins only what is upstream of it
    (https://developers.google.com/earth-engine/guides/projections: "inputs are requested in the
    output projection"). So this call goes AFTER the operations it must pin (the inward buffer's
    focal operations, :func:`inward_buffer`): placed before them, the focal operations would run in
    the projection the sampling asks for, not on this grid. Uploaded label rasters are then read at
    full resolution, not from their pyramids (https://developers.google.com/earth-engine/guides/scale).
    """
    return labels.reproject(crs=crs, scale=scale_m)


def inward_buffer(labels: ee.Image, radius_m: float = INWARD_BUFFER_M, crs: str | None = None) -> ee.Image:
    """Labels eroded by ``radius_m``: a pixel keeps its class only when every pixel within the radius
    has the same class (METHOD.md step 1: removes field edges and small patches).

    Unlabelled pixels count as a class of their own (NO_CLASS), so erosion also works from the
    edges of the labelled area. With ``crs`` (a metric CRS, e.g. :func:`utm_crs` of the tile) the
    buffered labels are pinned to its 10 m grid (:func:`label_grid`), which pins the focal
    operations upstream too: the circle is isotropic and 60 m is 6 pixels, whatever projection the
    sampling requests. Without ``crs`` the buffer runs in the projection the caller requests.
    """
    filled = labels.unmask(NO_CLASS)
    lowest = filled.focalMin(radius=radius_m, kernelType="circle", units="meters")
    highest = filled.focalMax(radius=radius_m, kernelType="circle", units="meters")
    keep = lowest.eq(highest).And(filled.neq(NO_CLASS))
    buffered = labels.updateMask(keep).rename(LABEL_BAND)
    return buffered if crs is None else label_grid(buffered, crs)


def cell_index_image(cell_deg: float = GRID_CELL_DEG) -> ee.Image:
    """Band ``cell``: an integer id of each ``cell_deg`` x ``cell_deg`` WGS84 cell."""
    lonlat = ee.Image.pixelLonLat()
    n_cols = round(360 / cell_deg)
    col = lonlat.select("longitude").add(180).divide(cell_deg).floor()
    row = lonlat.select("latitude").add(90).divide(cell_deg).floor()
    return row.multiply(n_cols).add(col).toInt32().rename(CELL_BAND)


def clear_observation_count(
    region: ee.Geometry, start: dt.date, end: dt.date, cloud_band: str = "cs", threshold: float = CLEAR_THRESHOLD
) -> ee.Image:
    """Number of cloud-free acquisitions per pixel in [start, end) (METHOD.md step 2)."""
    clear = clear_observations(s2_with_cloud_score(region, start, end, cloud_band), cloud_band, threshold)
    return clear.select(SENTINEL2.bands[0]).count()


def sample_points(
    labels: ee.Image,
    region: ee.Geometry,
    clear_count: ee.Image,
    rules: SamplingRules = PAPER_RULES,
    *,
    tile_scale: float = 1,
    crs: str | None = None,
) -> ee.FeatureCollection:
    """``per_cell`` random points per ``cell_deg`` cell at ``spacing_m`` resolution (METHOD.md step 3, as
    ``rules`` say; their buffer is the caller's).

    Sampling on a ``spacing_m`` grid of a metric ``crs`` (:func:`utm_crs` of the tile) keeps any two
    points at least ``spacing_m`` apart. Without ``projection``, ``stratifiedSample`` samples in the
    projection of the image's first band (https://developers.google.com/earth-engine/apidocs/ee-image-stratifiedsample),
    here ``pixelLonLat``'s EPSG:4326, whose 60 m pixels are ≈ 39 m wide east-west at 49° N. Only
    pixels with a label and at least one clear acquisition qualify. Each point carries ``lon``,
    ``lat``, ``class``.
    """
    candidates = labels.updateMask(clear_count.gt(0))
    lonlat = ee.Image.pixelLonLat().rename(["lon", "lat"])
    stack = cell_index_image(rules.cell_deg).addBands(candidates).addBands(lonlat).updateMask(candidates.mask())
    return stack.stratifiedSample(
        numPoints=int(rules.per_cell),
        classBand=CELL_BAND,
        region=region,
        scale=float(rules.spacing_m),
        projection=None if crs is None else ee.Projection(crs),
        seed=int(rules.seed),
        dropNulls=True,
        tileScale=float(tile_scale),
        geometries=True,
    )


def series_rows(
    points: ee.FeatureCollection,
    region: ee.Geometry,
    start: dt.date,
    end: dt.date,
    cloud_band: str = "cs",
    tile_scale: float = 1,
    crs: str | None = None,
) -> ee.FeatureCollection:
    """One row per (point, acquisition) in [start, end): raw DN of the 10 bands and the cloud score.

    ``crs``: sample on the 10 m grid of that CRS (a point's UTM zone); default: each granule's own grid.

    Clouds are not masked here: the sample table keeps the raw series and the score, so masking can
    be redone with another threshold (METHOD.md step 4).
    """
    collection = s2_with_cloud_score(region, start, end, cloud_band)
    keep = ["lon", "lat", LABEL_BAND]

    def rows_of(image: ee.Image) -> ee.FeatureCollection:
        date = image.date().format("YYYY-MM-dd")
        rows = image.sampleRegions(
            collection=points,
            properties=keep,
            scale=SERIES_SCALE_M,
            projection=None if crs is None else ee.Projection(crs),
            tileScale=float(tile_scale),
            geometries=False,
        )
        return rows.map(lambda row: row.set("date", date))

    return collection.map(rows_of).flatten()


def point_samples(points: ee.FeatureCollection, region: ee.Geometry) -> ee.FeatureCollection:
    """A user's labelled points in ``region`` as sample points, as they are (no buffer, no grid):
    each carries ``lon``, ``lat`` and ``class`` (a MultiPoint is sampled at its centroid)."""

    def as_sample(feature: ee.Feature) -> ee.Feature:
        point = feature.geometry().centroid(1)
        xy = point.coordinates()
        return ee.Feature(point, {"lon": xy.get(0), "lat": xy.get(1), LABEL_BAND: feature.get(LABEL_BAND)})

    return points.filterBounds(region).map(as_sample)


def sampling_graph(
    labels: ee.Image,
    region: ee.Geometry,
    start: dt.date,
    end: dt.date,
    rules: SamplingRules = PAPER_RULES,
    **options: Any,
) -> ee.FeatureCollection:
    """The whole sampling of one region: buffered labels -> grid points (:func:`points_graph`, whose keyword
    ``options`` these are: ``cloud_band``, ``threshold``, ``tile_scale``, ``label_crs``, ``extra_points``)
    -> raw series rows."""
    points = points_graph(labels, region, start, end, rules, **options)
    return series_rows(points, region, start, end, options.get("cloud_band", "cs"), options.get("tile_scale", 1))


def points_graph(
    labels: ee.Image,
    region: ee.Geometry,
    start: dt.date,
    end: dt.date,
    rules: SamplingRules = PAPER_RULES,
    *,
    cloud_band: str = "cs",
    threshold: float = CLEAR_THRESHOLD,
    tile_scale: float = 1,
    label_crs: str | None = None,
    extra_points: ee.FeatureCollection | None = None,
) -> ee.FeatureCollection:
    """The sample points of one region: buffered labels -> grid points.

    ``label_crs``: the metric CRS whose 10 m grid the labels and their buffer are computed on (see
    :func:`label_grid`) and whose ``spacing_m`` grid the points are sampled on.
    ``extra_points``: sample points taken as they are besides the grid's (a user's labelled points).
    """
    check_threshold(threshold)
    if rules.buffer_m > 0:
        buffered = inward_buffer(labels, rules.buffer_m, crs=label_crs)
    else:
        buffered = labels if label_crs is None else label_grid(labels, label_crs)
    clear = clear_observation_count(region, start, end, cloud_band, threshold)
    points = sample_points(buffered, region, clear, rules, tile_scale=tile_scale, crs=label_crs)
    return points if extra_points is None else points.merge(extra_points)


def tile_region(job: SamplingJob, bounds: Bounds) -> ee.Geometry:
    """A tile's area on the server: its box (west, south, east, north degrees) ∩ the catalog country
    outline, or ∩ the user's polygon."""
    if job.from_country:
        assert job.spec is not None, "a job sampled from a country has its CountrySpec"
        box = ee.Geometry.Rectangle(list(bounds), "EPSG:4326", False)
        return box.intersection(country_boundary(job.spec.code), 1)
    part = job.geometry.intersection(sg.box(*bounds))
    return ee.Geometry(sg.mapping(part), "EPSG:4326", False)


def tile_points(job: SamplingJob, index: int, bounds: Bounds) -> tuple[ee.FeatureCollection, ee.Geometry, str]:
    """The sample points of tile ``index`` of the job (its seed is the job's seed + ``index``), the tile's
    area and the metric CRS (its UTM zone) the labels, their buffer and the points are computed on."""
    start, end = job.window
    region = tile_region(job, bounds)
    extra = None
    if job.own_labels is not None:
        # polygons are painted, buffered and grid-sampled like a product's; points are used as they are
        points, polygons = split_points(job.own_labels.collection(bounds, region))
        labels, extra = paint_classes(polygons), point_samples(points, region)
    else:
        assert job.spec is not None, "a job without its own labels samples a country's reference labels"
        labels = reference_labels(job.spec, job.year, project=job.project, accuracy=job.accuracy, region=region)
    west, south, east, north = bounds
    crs = utm_crs((west + east) / 2, (south + north) / 2)
    points = points_graph(
        labels,
        region,
        start,
        end,
        job.rules(index),
        cloud_band=job.cloud_band,
        threshold=job.cloud_threshold,
        tile_scale=job.tile_scale,
        label_crs=crs,
        extra_points=extra,
    )
    return points, region, crs


def tile_graph(job: SamplingJob, index: int, bounds: Bounds) -> ee.FeatureCollection:
    """The sampling rows of tile ``index`` of the job (its seed is the job's seed + ``index``)."""
    start, end = job.window
    points, region, _ = tile_points(job, index, bounds)
    return series_rows(points, region, start, end, job.cloud_band, job.tile_scale)


def _medians_sensor(job: SamplingJob) -> Sensor:
    assert job.medians is not None, "a job with monthly medians (sample --medians)"
    return job.medians


def medians_tile_graph(job: SamplingJob, index: int, bounds: Bounds) -> ee.FeatureCollection:
    """The monthly-median rows of tile ``index`` (``sample --emit`` / ``--medians``): for the same points as
    :func:`tile_graph`, the medians of the job's medians sensor's kept bands (``<band>_m06``, ``<band>_m08``;
    ``_m02`` south) where it is clear in every month (others drop out), read on its grid (EMIT: 60 m) in the
    tile's UTM zone: the inward buffer (METHOD.md step 1, on that metric grid) keeps a pixel around each point
    inside its field."""
    points, region, crs = tile_points(job, index, bounds)
    return emit_rows(points, region, job.year, job.hemisphere, crs, job.tile_scale, _medians_sensor(job))


#: The name the EMIT tests and callers know (the graph serves every medians sensor).
emit_tile_graph = medians_tile_graph


def medians_row_properties(job: SamplingJob) -> list[str]:
    """Properties of one monthly-median row: lon, lat, class and the kept bands of each month."""
    months, bands = season_months(job.hemisphere), _medians_sensor(job).bands
    return ["lon", "lat", LABEL_BAND, *(f"{band}{month_suffix(m)}" for m in months for band in bands)]


@dataclass(frozen=True)
class TileRows:
    """What every tile of a sampling job returns: its rows' graph, the properties an export keeps and the suffix
    of its task and asset names (the two kinds of a job's rows never share a task or an asset)."""

    graph: Callable[[SamplingJob, int, Bounds], ee.FeatureCollection]
    selectors: Callable[[SamplingJob], list[str]]
    suffix: str = ""


def medians_rows(sensor: Sensor) -> TileRows:
    """A tile's monthly medians of ``sensor`` (``sample --medians``): tasks and assets suffixed ``_<name>``."""
    return TileRows(medians_tile_graph, medians_row_properties, f"_{sensor.name}")


#: The Sentinel-2 series of a tile (every job), and its EMIT monthly medians (``sample --emit``).
S2_ROWS = TileRows(tile_graph, lambda job: row_properties(job.cloud_band))
EMIT_ROWS = medians_rows(EMIT)


def safe_stem(name: str, max_chars: int) -> str:
    """``name`` with every run of characters outside [A-Za-z0-9_-] made one "_", at most
    ``max_chars`` long; a changed or shortened name gets 6 hex digits of its hash, so two region
    files never share tasks or assets."""
    clean = _NOT_ID_CHARS.sub("_", name).strip("_") or "region"
    if clean == name and len(clean) <= max_chars:
        return clean
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
    return f"{clean[: max_chars - 7].rstrip('_')}_{digest}"


def export_names(job: SamplingJob, index: int, suffix: str = "") -> tuple[str, str | None]:
    """(task description = file prefix, table asset id or None) of tile ``index``'s export (``suffix``: the
    kind of rows, :class:`TileRows`); the job name (a region file's stem) is made safe for both
    (:func:`safe_stem`)."""
    tail = f"_{job.year}_tile{index:04d}{suffix}"
    fixed = f"gee-crop__{tail}"
    description = f"gee-crop_{safe_stem(job.name, DESCRIPTION_MAX - len(fixed) + 1)}{tail}"
    asset = f"{samples_folder(job.project)}/{description}" if job.project else None
    return description, asset


def samples_folder(project: str) -> str:
    """The asset folder holding a project's exported sample tables."""
    return f"projects/{project}/assets/{SAMPLES_FOLDER}"


def export_config(
    rows: ee.FeatureCollection,
    destination: str,
    description: str,
    *,
    cloud_band: str = "cs",
    folder: str | None = None,
    bucket: str | None = None,
    asset_id: str | None = None,
    overwrite: bool = False,
    selectors: list[str] | None = None,
) -> dict:
    """A table-export config for :meth:`EarthEngineClient.start_export` (CSV for Drive and Cloud
    Storage, a table asset otherwise); ``description`` doubles as the file name prefix.
    ``overwrite``: an asset export replaces an existing asset of the same id. ``selectors``: the properties kept
    (None: the Sentinel-2 rows', :func:`row_properties`)."""
    if destination not in EXPORT_DESTINATIONS:
        raise ValueError(f"destination must be one of {EXPORT_DESTINATIONS}, got {destination!r}")
    config = {
        "collection": rows,
        "description": description,
        "destination": destination,
        "selectors": row_properties(cloud_band) if selectors is None else selectors,
        "file_prefix": description,
        "file_format": "CSV",
    }
    if destination == "drive":
        config["folder"] = folder or "gee-crop"
    elif destination == "gcs":
        config["bucket"] = bucket
        config["file_prefix"] = f"{folder or 'gee-crop'}/{description}"
    else:
        config["asset_id"] = asset_id
        config["overwrite"] = bool(overwrite)
    return config
