"""Where the model's input comes from, one tile at a time: a local raw S2 stack or Earth Engine.

Both sources deliver the same thing, a :class:`TileComposite`: the gap-filled 5-day median stack
of every pixel of a tile as uint16 DN, (h, w, 10, n_bins) in SENTINEL2.bands order. The local path
rounds its composite to DN (METHOD.md reflectance x 10,000). Earth Engine is asked for one of two
encodings (``config.Encoding``, transform in ``gee_crop.earthengine.composite``): ``uint16`` DN, bit-identical to
the local path, or ``sqrt8`` (the default), one byte per value, kept as it arrived and decoded to reflectance
and then DN when read, by table (within ``sqrt8_error_bound`` of the uint16 values; the same predictions on the
bench's folds).

* :class:`LocalStackSource` composites raw dated observations with the training code
  (``gee_crop.features.composite.composite_pixels``: cloud mask -> medians -> gap fill).
* :class:`EarthEngineSource` asks Earth Engine for the server-side composite of the sampling issue
  (``gee_crop.earthengine.composite.median_composite``), one multi-band computePixels per tile.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import ee
import numpy as np
import rasterio
import shapely
from numpy.lib.recfunctions import structured_to_unstructured
from pyproj import Transformer
from rasterio.windows import Window
from shapely.geometry import box

from gee_crop.classes import NO_CLASS
from gee_crop.config import REFLECTANCE_SCALE, S2_COLLECTION, WORLDCOVER_IMAGE, Encoding
from gee_crop.data.regions import WGS84, reproject_geometry, utm_crs_for
from gee_crop.data.stacks import open_local_stack
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.composite import cast_image, composite_band_names, decode_sqrt8, median_composite
from gee_crop.earthengine.labels import WORLDCOVER_CROPLAND
from gee_crop.errors import InputError, RegionError, SeasonError
from gee_crop.features.composite import composite_pixels, stack_arrays
from gee_crop.features.seasons import infer_season_year
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.tiling import DEFAULT_SCALE_M, OutputGrid, Tile, max_ee_tile_size
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2, Sensor
from gee_crop.types import RawStack

__all__ = [
    "EarthEngineSource",
    "LocalStackSource",
    "RasterClassMask",
    "TileComposite",
    "composite_of",
    "decode_pixels",
    "open_source",
    "quantize_dn",
    "region_on_source",
]

#: DN written for a valid pixel whose composite rounds to 0 (0 is Earth Engine's "masked").
_MIN_VALID_DN = 1
#: First day of COPERNICUS/S2_SR_HARMONIZED ("Dataset Availability: 2017-03-28", Earth Engine catalog,
#: https://developers.google.com/earth-engine/datasets/catalog/COPERNICUS_S2_SR_HARMONIZED).
EE_S2_FIRST_DAY = dt.date(2017, 3, 28)
#: float32 copies of a pixel's values held at once while compositing (values, medians, masks, gap fill).
_WORKING_COPIES = 4


@dataclass(frozen=True)
class CompositeRequest:
    """What every tile of a map is composited for: the output grid, the model's contract (clear
    threshold, gap limit), the season and, in the grid CRS, the region (which may let a source skip
    pixels). Built once per map and handed whole to :meth:`FeatureSource.read_tile`."""

    grid: OutputGrid
    spec: FeatureSpec
    season: SeasonSpan
    region: shapely.Geometry | None = None


@dataclass
class TileComposite:
    """Model input of one tile: ``values`` (h, w, 10, n_bins) as the source delivered them, uint16 DN or
    uint8 ``sqrt8`` codes (``encoding``), ``valid`` (h, w) bool, and the bytes read from the source for it
    (the network cost for Earth Engine). Values of pixels that are not valid mean nothing."""

    values: np.ndarray
    valid: np.ndarray
    bytes_fetched: int = 0
    encoding: Encoding = Encoding.UINT16

    @property
    def dn(self) -> np.ndarray:
        """(h, w, 10, n_bins) uint16 DN, 0 where not valid."""
        dn = (
            np.take(sqrt8_dn_table(), self.values) if self.encoding is Encoding.SQRT8 else self.values.astype(np.uint16)
        )
        dn[~self.valid] = 0
        return dn

    def valid_values(self) -> np.ndarray:
        """(n_valid, 10, n_bins) values of the valid pixels, as delivered (one copy, 1 or 2 bytes a value)."""
        return self.values[self.valid]

    def reflectance(self, values: np.ndarray | None = None) -> np.ndarray:
        """(n, 1, 10, n_bins) float32 reflectance (CropNet's input) of ``values`` (rows of
        :meth:`valid_values`; default all of them): DN / 10,000, for ``sqrt8`` the DN of its code (the same
        floats, bit for bit, looked up in one step)."""
        values = self.valid_values() if values is None else values
        if self.encoding is Encoding.SQRT8:
            # two codes per lookup (a little-endian uint16 into a table of pairs): the same floats as one code
            # per lookup, in about 60 % of its time (bench_scale's local overhead); np.take, not fancy indexing
            codes = np.ascontiguousarray(values).reshape(len(values), -1)
            if codes.shape[1] % 2:
                return np.take(sqrt8_reflectance_table(), values)[:, None]
            pairs = np.take(sqrt8_reflectance_pairs(), codes.view("<u2"), axis=0)
            return pairs.reshape(values.shape)[:, None]
        x = values.astype(np.float32)
        x /= np.float32(REFLECTANCE_SCALE)  # in place: one float32 copy, not two
        return x[:, None]


class PixelClient(Protocol):
    """What :class:`EarthEngineSource` asks of its client (EarthEngineClient, or a test's fake)."""

    def compute_pixels(self, expression: Any, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        """Pixels of ``expression`` on ``grid`` as a structured array (h, w), one field per band."""


class FeatureSource(Protocol):
    """What the pipeline needs from a source (both classes below implement it)."""

    @property
    def description(self) -> str:
        """What the source is, for the run's report."""

    @property
    def sensor(self) -> Sensor:
        """The sensor whose bands the source delivers (a model of another sensor cannot map from it)."""

    def footprint(self) -> shapely.Geometry | None:
        """WGS84 area with data (None = anywhere, e.g. Earth Engine)."""

    def default_grid_origin(self, crs: str) -> tuple[float, float]:
        """Pixel-edge origin to align the output grid with in ``crs``."""

    def default_crs(self, region_wgs84: shapely.Geometry) -> str:
        """Output CRS when the user gives none."""

    def default_scale(self) -> float:
        """Output pixel size when the user gives none."""

    def tile_size_limit(self, values_per_pixel: int) -> int | None:
        """Largest tile side one request may ask for (None: no limit)."""

    def infer_year(self, spec: FeatureSpec, latitude: float) -> int:
        """The season year to map when the user gives none."""

    def check_season(self, spec: FeatureSpec, season: SeasonSpan, latitude: float) -> None:
        """SeasonError naming the years the source covers when ``season`` lies outside its data."""

    def bytes_per_pixel(self, season: SeasonSpan) -> int:
        """Working memory of one tile pixel while it is composited and classified (bytes)."""

    def request_bytes(self, tile: Tile, season: SeasonSpan) -> int:
        """Bytes one tile costs on the network (0 for local data); a run's ``bytes_fetched`` sums them."""

    def max_in_flight(self) -> int | None:
        """Requests the source may have in flight at once (None: a local source, nothing to overlap)."""

    def read_tile(self, tile: Tile, request: CompositeRequest) -> TileComposite:
        """The composite of one tile as ``request`` says."""


def quantize_dn(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance -> uint16 DN (x 1e4, rounded half to even, clipped to 1..65535; NaN -> 0)."""
    dn = np.rint(np.nan_to_num(reflectance, nan=0.0) * REFLECTANCE_SCALE)
    dn = np.clip(dn, _MIN_VALID_DN, np.iinfo(np.uint16).max).astype(np.uint16)
    dn[np.isnan(reflectance)] = 0
    return dn


# ------------------------------------------------------------------------------- local stacks


@dataclass
class LocalStackSource:
    """Composites a local raw stack per tile with the training code (vectorized over pixels)."""

    stack: RawStack
    _to_stack: dict = field(default_factory=dict, repr=False)

    @property
    def description(self) -> str:
        return f"local stack {self.stack.name} ({len(self.stack.dates)} dates, {self.stack.crs})"

    @property
    def sensor(self) -> Sensor:
        return SENTINEL2

    def default_crs(self, region_wgs84: shapely.Geometry) -> str:
        return self.stack.crs

    def default_scale(self) -> float:
        return self.stack.resolution

    def tile_size_limit(self, values_per_pixel: int) -> None:
        return None

    def infer_year(self, spec: FeatureSpec, latitude: float) -> int:
        """The season year the stack's clear observations cover best (a pixel subsample decides)."""
        s = self.stack
        rows = np.linspace(0, len(s.y) - 1, min(len(s.y), 16)).astype(np.int64)
        cols = np.linspace(0, len(s.x) - 1, min(len(s.x), 16)).astype(np.int64)
        r, c = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        arrays = stack_arrays(s, r, c, threshold=spec.cloud_threshold)
        return infer_season_year(arrays, np.full(len(r), latitude), season=spec.season)

    def check_season(self, spec: FeatureSpec, season: SeasonSpan, latitude: float) -> None:
        """SeasonError when no acquisition of the stack falls in ``season``, or when the stack covers the
        season only in part (an edge of more than ``spec.max_gap_bins`` windows without acquisition),
        naming the season years it does cover (a map of such a year would be empty)."""
        first, last = (d.astype("datetime64[D]").item() for d in (self.stack.dates.min(), self.stack.dates.max()))
        years = range(first.year - 1, last.year + 2)
        if not _n_dates_in(self.stack.dates, season):
            covered = [y for y in years if _n_dates_in(self.stack.dates, spec.season.span_at(y, latitude))]
            listed = ", ".join(map(str, covered)) or "none"
            raise SeasonError(
                f"the {self.description} has no acquisition in the season of that --year "
                f"({season.start} to {season.end}); "
                f"its acquisitions ({first} to {last}) cover the season(s) of {listed}: "
                f"pass --year {covered[-1] if covered else first.year}"
            )
        whole = [y for y in years if max(uncovered_windows(spec.season.span_at(y, latitude), first, last)) == 0]
        check_season_covered(spec, season, first, last, f"the {self.description}", whole)

    def bytes_per_pixel(self, season: SeasonSpan) -> int:
        n_dates = max(1, _n_dates_in(self.stack.dates, season))
        return _WORKING_COPIES * 4 * (len(SENTINEL2.bands) + 1) * max(n_dates, season.n_bins)

    def request_bytes(self, tile: Tile, season: SeasonSpan) -> int:
        return 0

    def max_in_flight(self) -> None:
        return None

    def footprint(self) -> shapely.Geometry:
        s, (x0, y1) = self.stack, self.stack.upper_left
        extent = box(x0, y1 - len(s.y) * s.resolution, x0 + len(s.x) * s.resolution, y1)
        # densify first: straight UTM edges are curves in lon/lat, and back again the grid must not grow
        return reproject_geometry(shapely.segmentize(extent, s.resolution), s.crs, WGS84)

    def default_grid_origin(self, crs: str) -> tuple[float, float]:
        return self.stack.upper_left if crs == self.stack.crs else (0.0, 0.0)

    def source_index(self, grid: OutputGrid, tile: Tile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest stack (row, col) of each tile pixel centre, and (h, w) inside-the-stack mask."""
        x, y = tile.pixel_centres(grid)
        if grid.crs != self.stack.crs:
            key = (grid.crs, self.stack.crs)
            if key not in self._to_stack:
                self._to_stack[key] = Transformer.from_crs(grid.crs, self.stack.crs, always_xy=True)
            x, y = self._to_stack[key].transform(x, y)
        s, (x0, y1) = self.stack, self.stack.upper_left
        col = np.floor((np.asarray(x) - x0) / s.resolution).astype(np.int64)
        row = np.floor((y1 - np.asarray(y)) / s.resolution).astype(np.int64)
        inside = (row >= 0) & (row < len(s.y)) & (col >= 0) & (col < len(s.x))
        return np.clip(row, 0, len(s.y) - 1), np.clip(col, 0, len(s.x) - 1), inside

    def read_tile(self, tile: Tile, request: CompositeRequest) -> TileComposite:
        """Gap-filled 5-day medians of the tile's pixels (nearest stack pixel), as uint16 DN."""
        grid, spec, season = request.grid, request.spec, request.season
        row, col, inside = self.source_index(grid, tile)
        r, c = row[inside], col[inside]
        n_bins = season.n_bins
        dn = np.zeros((tile.height, tile.width, len(SENTINEL2.bands), n_bins), dtype=np.uint16)
        valid = np.zeros((tile.height, tile.width), dtype=bool)
        if len(r):
            # only acquisitions inside the season's windows can enter a median: composite those alone
            # (the medians are the same; a year-long stack shrinks to the ~7 months of the season)
            dates = self.stack.dates
            in_season = np.flatnonzero(
                (dates >= np.datetime64(season.start, "D")) & (dates < np.datetime64(season.covered_end, "D"))
            )
            arrays = stack_arrays(self.stack, r, c, dates=in_season, threshold=spec.cloud_threshold)
            composite = composite_pixels(
                arrays, season.start_day, season.window_days, n_bins, max_gap_bins=spec.max_gap_bins
            )
            composite.values[~composite.keep] = np.nan
            dn[inside] = quantize_dn(composite.values)
            valid[inside] = composite.keep
        return TileComposite(dn, valid, bytes_fetched=0)

    def labels_on_grid(self, grid: OutputGrid, tile: Tile) -> np.ndarray | None:
        """(h, w) uint8 reference class indices at the tile's pixels (NO_CLASS unlabelled or outside), or None."""
        if self.stack.classes is None:
            return None
        row, col, inside = self.source_index(grid, tile)
        return np.where(inside, self.stack.classes[row, col], NO_CLASS).astype(np.uint8)


# ------------------------------------------------------------------------------- Earth Engine


def pixel_values(pixels: np.ndarray, n_bins: int) -> np.ndarray:
    """computePixels' structured (h, w) array -> its (h, w, 10, n_bins) values in SENTINEL2.bands order, a
    view (no copy) of the answer; InputError when bands are missing."""
    names = composite_band_names(n_bins)
    missing = [n for n in names if n not in (pixels.dtype.names or ())]
    if missing:
        raise InputError(
            f"the Earth Engine composite lacks bands {missing[:3]}…; the model expects "
            f"{len(SENTINEL2.bands)} bands x {n_bins} bins: map with the model's season settings"
        )
    values = structured_to_unstructured(pixels[names])  # (h, w, 10 * n_bins), band-major
    return values.reshape((*pixels.shape, len(SENTINEL2.bands), n_bins))


def composite_of(pixels: np.ndarray, n_bins: int, encoding: Encoding | str = Encoding.UINT16) -> TileComposite:
    """The tile composite of computePixels' structured (h, w) answer in ``encoding`` (a pixel is masked
    where any of its values is 0); the values are kept as they arrived, decoded when read."""
    values = pixel_values(pixels, n_bins)
    valid = values.min(axis=(2, 3)) != 0
    return TileComposite(values, valid, int(pixels.nbytes), Encoding(encoding))


def decode_pixels(pixels: np.ndarray, n_bins: int, encoding: Encoding | str = Encoding.UINT16) -> np.ndarray:
    """computePixels' structured (h, w) array in ``encoding`` -> (h, w, 10, n_bins) uint16 DN in
    SENTINEL2.bands order (0 where the pixel is masked: any of its values is 0)."""
    return composite_of(pixels, n_bins, encoding).dn


@functools.cache
def sqrt8_dn_table() -> np.ndarray:
    """(256,) uint16: the DN of each sqrt8 code, ``quantize_dn(decode_sqrt8(code))`` (code 0, masked: 0).

    Decoding is elementwise, so looking the 256 answers up gives the very DN of decoding a tile value by
    value (bit for bit) at a fraction of the cost (issue 24)."""
    table = quantize_dn(decode_sqrt8(np.arange(256, dtype=np.uint8)))
    table.flags.writeable = False
    return table


@functools.cache
def sqrt8_reflectance_table() -> np.ndarray:
    """(256,) float32: the model's reflectance of each sqrt8 code, its DN / 10,000 (as TileComposite computes
    it from DN), so a tile's codes become the model input in one gather."""
    table = sqrt8_dn_table().astype(np.float32)
    table /= np.float32(REFLECTANCE_SCALE)
    table.flags.writeable = False
    return table


@functools.cache
def sqrt8_reflectance_pairs() -> np.ndarray:
    """(65536, 2) float32: the reflectance of the two sqrt8 codes of each little-endian uint16 (low byte
    first), from :func:`sqrt8_reflectance_table`; 512 KiB, so a tile's codes are looked up two at a time."""
    table = sqrt8_reflectance_table()
    pair = np.arange(65536)
    pairs = np.stack([table[pair & 255], table[pair >> 8]], axis=1)
    pairs.flags.writeable = False
    return pairs


class EarthEngineGrid:
    """What every Earth Engine source shares: data anywhere, the output grid on the region's UTM zone with pixel
    edges on multiples of the scale, and the client's cap of requests in flight."""

    client: object

    def footprint(self) -> None:
        return None

    def default_grid_origin(self, crs: str) -> tuple[float, float]:
        return (0.0, 0.0)

    def default_crs(self, region_wgs84: shapely.Geometry) -> str:
        return utm_crs_for(region_wgs84)

    def max_in_flight(self) -> int:
        """The client's cap of concurrent requests (the project's quota, 40 by default)."""
        return int(getattr(self.client, "max_concurrent", ee_client.MAX_CONCURRENT_REQUESTS))


@dataclass
class EarthEngineSource(EarthEngineGrid):
    """Fetches the server-side composite of each tile with one multi-band computePixels request.

    ``client`` is a ``gee_crop.earthengine.client.EarthEngineClient`` (retries inside) or a fake
    with the same ``compute_pixels``. ``cropland_only`` masks non-cropland pixels (ESA WorldCover
    class 40) on the server, so they are neither composited, sent nor classified. ``encoding``: how
    the values travel (``sqrt8``: 1 B per value, half the bytes of ``uint16``).
    """

    client: object
    cloud_band: str = "cs"
    cropland_only: bool = False
    encoding: Encoding = Encoding.SQRT8

    def __post_init__(self) -> None:
        self.encoding = Encoding(self.encoding)

    @property
    def value_bytes(self) -> int:
        """Bytes of one value on the network (2 for uint16, 1 for sqrt8)."""
        return 1 if self.encoding is Encoding.SQRT8 else 2

    @property
    def description(self) -> str:
        return f"Earth Engine composite (Cloud Score+ {self.cloud_band}, {self.encoding.value})"

    @property
    def sensor(self) -> Sensor:
        return SENTINEL2

    def default_scale(self) -> float:
        return DEFAULT_SCALE_M

    def tile_size_limit(self, values_per_pixel: int) -> int:
        """Largest tile whose uint16 answer fits one computePixels request (48 MiB; kept for sqrt8 too,
        so both encodings cut the same tiles)."""
        return max_ee_tile_size(values_per_pixel)

    def infer_year(self, spec: FeatureSpec, latitude: float) -> int:
        raise InputError("mapping from Earth Engine needs the season year; pass --year, e.g. --year 2023")

    def check_season(self, spec: FeatureSpec, season: SeasonSpan, latitude: float) -> None:
        """SeasonError for a season that ends before Sentinel-2 L2A starts or starts in the future, or
        that the data covers only in part (more than ``spec.max_gap_bins`` windows before the first
        image or after today)."""
        today = dt.date.today()
        if season.end <= EE_S2_FIRST_DAY or season.start > today:
            raise SeasonError(
                f"the season {season.start} to {season.end} is outside the Sentinel-2 L2A data on "
                f"Earth Engine ({S2_COLLECTION}: {EE_S2_FIRST_DAY} to today); pass a --year from "
                f"{EE_S2_FIRST_DAY.year} to {today.year}"
            )
        check_season_covered(spec, season, EE_S2_FIRST_DAY, today, f"{S2_COLLECTION} on Earth Engine", [])

    def bytes_per_pixel(self, season: SeasonSpan) -> int:
        # the request's values and masks, the decoded copy (float32 on the way for sqrt8) and the model input
        decoded = 2 + (4 if self.encoding is Encoding.SQRT8 else 0)
        return len(SENTINEL2.bands) * season.n_bins * (self.value_bytes + 1 + decoded + _WORKING_COPIES)

    def request_bytes(self, tile: Tile, season: SeasonSpan) -> int:
        """The answer of the tile's one request: 10 bands x n_bins x 2 B (uint16) or 1 B (sqrt8) per
        pixel; masked pixels travel as 0, no mask band."""
        return tile.n_pixels * len(SENTINEL2.bands) * season.n_bins * self.value_bytes

    def image(self, region_wgs84: shapely.Geometry, spec: FeatureSpec, season: SeasonSpan) -> ee.Image:
        """The ee.Image of the composite over ``region`` (building it sends nothing to the server)."""
        region = ee.Geometry(shapely.geometry.mapping(region_wgs84))
        image = median_composite(
            region,
            season,
            cloud_band=self.cloud_band,
            threshold=spec.cloud_threshold,
            max_gap_bins=spec.max_gap_bins,
            encoding=self.encoding,
        )
        if self.cropland_only:
            # WorldCover class 40 = cropland (METHOD.md also takes "other" from it)
            worldcover = ee.ImageCollection(WORLDCOVER_IMAGE).first().select("Map")
            image = image.updateMask(worldcover.eq(WORLDCOVER_CROPLAND))
        # masked pixels (gap-heavy, outside the region, not cropland) travel as 0, the one value a
        # valid composite never holds, so no extra mask band is needed; cast last, as unmask may widen
        return cast_image(image.unmask(0), self.encoding)

    def read_tile(self, tile: Tile, request: CompositeRequest) -> TileComposite:
        """The tile's server composite: one request of 10 x n_bins bands (band-major names) in the
        source's encoding, kept as it arrived (decoded when the tile is classified).

        The composite is built over the tile (grown by a pixel, so reprojection never clips an edge
        pixel) intersected with the request's region (grid CRS): the server skips pixels outside it.
        """
        grid, spec, season = request.grid, request.spec, request.season
        client = cast(PixelClient, self.client)  # ``client: object`` also holds a dry run's unconnected one
        pixels = client.compute_pixels(
            self.image(tile_footprint(grid, tile, request.region), spec, season),
            tile.ee_grid(grid),
            composite_band_names(season.n_bins),
        )
        return composite_of(pixels, season.n_bins, self.encoding)


def tile_footprint(grid: OutputGrid, tile: Tile, region: shapely.Geometry | None) -> shapely.Geometry:
    """The WGS84 area a tile's server composite is built over: the tile grown by a pixel (so reprojection
    never clips an edge pixel), intersected with ``region`` (grid CRS), so the server skips pixels outside.
    Edges are cut into pieces of 16 pixels, or 1/64 of the tile's side on an export tile (thousands of
    pixels a side: the projected edge bends by far less than a pixel over such a piece)."""
    footprint = tile.bounds_geometry(grid).buffer(grid.scale, join_style="mitre")
    if region is not None:
        footprint = footprint.intersection(region.buffer(grid.scale))
    piece = max(16, max(tile.width, tile.height) // 64) * grid.scale
    return reproject_geometry(shapely.segmentize(footprint, piece), grid.crs, WGS84)


def uncovered_windows(season: SeasonSpan, first: dt.date, last: dt.date) -> tuple[int, int]:
    """(windows of ``season`` before ``first``, windows after ``last``): its edges without data."""
    before = min(season.n_bins, max(0, (first - season.start).days // season.window_days))
    after = min(season.n_bins, max(0, season.n_bins - 1 - (last - season.start).days // season.window_days))
    return before, after


def check_season_covered(
    spec: FeatureSpec, season: SeasonSpan, first: dt.date, last: dt.date, data: str, whole_years: list[int]
) -> None:
    """SeasonError when data from ``first`` to ``last`` covers ``season`` only in part: a leading or
    trailing run of empty windows longer than the gap limit (``spec.max_gap_bins``) makes every pixel
    gap-heavy (METHOD.md), so the map would be empty. The fix names the fully covered ``whole_years``
    and the explicit option that accepts the part (``--max-gap-bins``)."""
    before, after = uncovered_windows(season, first, last)
    gap = max(before, after)
    if gap <= spec.max_gap_bins:
        return
    edge = f"its first {before}" if before >= after else f"its last {after}"
    other = f"pass --year {whole_years[-1]} (a season covered whole), or " if whole_years else ""
    raise SeasonError(
        f"{data} covers only {max(first, season.start)} to {min(last, season.end)} of the season of that --year "
        f"({season.start} to {season.end}): {edge} windows of {season.window_days} days have no data, more than the "
        f"model's gap limit of {spec.max_gap_bins}, so every pixel would be gap-heavy and the map empty; "
        f"{other}pass --max-gap-bins {gap} to map the covered part"
    )


def _n_dates_in(dates: np.ndarray, season: SeasonSpan) -> int:
    """Acquisitions in the season's windows."""
    return int(((dates >= np.datetime64(season.start, "D")) & (dates < np.datetime64(season.covered_end, "D"))).sum())


#: The least share of a region's area that must lie on a local source's data: below it, the map would be
#: nodata almost everywhere (a world --bbox on a 600 m patch), so the region is refused rather than clipped.
MIN_REGION_OVERLAP = 0.01


def region_on_source(region_wgs84: shapely.Geometry, source: FeatureSource) -> tuple[shapely.Geometry, str]:
    """The part of the region that has the source's data, and a note when the rest was dropped ("" when the
    region lies inside the data). RegionError when the region misses the data, or when less than
    MIN_REGION_OVERLAP of its area lies on it (it was meant for other data)."""
    footprint = source.footprint()
    if footprint is None or footprint.contains(region_wgs84):
        return region_wgs84, ""
    inside = footprint.intersection(region_wgs84)
    inside = shapely.union_all([p for p in shapely.get_parts(inside) if p.geom_type in ("Polygon", "MultiPolygon")])
    share = inside.area / region_wgs84.area
    fx0, fy0, fx1, fy1 = footprint.bounds
    rx0, ry0, rx1, ry1 = region_wgs84.bounds
    where = f"the region ({rx0:.4f},{ry0:.4f} to {rx1:.4f},{ry1:.4f})"
    data = f"the source's data ({fx0:.4f},{fy0:.4f} to {fx1:.4f},{fy1:.4f}, lon/lat)"
    if inside.is_empty or share == 0:
        raise RegionError(f"{where} is outside {data}; give a region inside it or another --source")
    if share < MIN_REGION_OVERLAP:
        raise RegionError(
            f"{where} lies almost entirely outside {data}: {share:.3%} of it has data, less than "
            f"{MIN_REGION_OVERLAP:.0%}; give a region inside the data (or no --region/--bbox: the whole --source)"
        )
    return inside, f"the region was clipped to the source's data ({1 - share:.0%} of it lies outside)"


@dataclass
class RasterClassMask:
    """Cropland mask from a local land-cover raster (e.g. an ESA WorldCover tile: class 40 = cropland).

    Called with (grid, tile) it returns (h, w) bool, True where the raster pixel under the tile's
    pixel centre holds one of ``classes`` (nearest neighbour; False outside the raster).
    """

    path: Path
    classes: tuple[int, ...] = (WORLDCOVER_CROPLAND,)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise InputError(
                f"cropland raster {self.path} does not exist; give an ESA WorldCover GeoTIFF "
                "covering the region (class 40 = cropland)"
            )
        try:
            with rasterio.open(self.path) as src:
                dtype = np.dtype(src.dtypes[0])
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                f"cropland raster {self.path} cannot be read as a raster ({str(exc)[:120]}); give an ESA "
                "WorldCover GeoTIFF (class 40 = cropland)"
            ) from None
        if dtype.kind not in "iu":
            raise InputError(
                f"cropland raster {self.path} holds {dtype} values, not land-cover class codes; give an ESA "
                f"WorldCover GeoTIFF (integer classes, {', '.join(map(str, self.classes))} = cropland)"
            )

    def __call__(self, grid: OutputGrid, tile: Tile) -> np.ndarray:
        x, y = tile.pixel_centres(grid)
        with rasterio.open(self.path) as src:
            if src.crs is not None and src.crs.to_string() != grid.crs:
                x, y = Transformer.from_crs(grid.crs, src.crs, always_xy=True).transform(x, y)
            col, row = ~src.transform @ (np.asarray(x), np.asarray(y))
            row, col = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
            inside = (row >= 0) & (row < src.height) & (col >= 0) & (col < src.width)
            if not inside.any():
                return inside
            r0, c0 = row[inside].min(), col[inside].min()
            window = Window(c0, r0, col[inside].max() - c0 + 1, row[inside].max() - r0 + 1)
            values = src.read(1, window=window)
        rr, cc = np.clip(row - r0, 0, values.shape[0] - 1), np.clip(col - c0, 0, values.shape[1] - 1)
        return inside & np.isin(values[rr, cc], self.classes)


def open_source(
    source_path: str | Path | None,
    earthengine: bool,
    *,
    cropland_mask: bool = False,
    worldcover: str | Path | None = None,
    cloud_band: str = "cs",
    project: str | None = None,
    service_account_key: str | Path | None = None,
    client: object | None = None,
    encoding: Encoding | str = Encoding.SQRT8,
) -> tuple[FeatureSource, RasterClassMask | None]:
    """The source (and local cropland mask) named by the ``gee-crop map`` options."""
    if bool(source_path) == bool(earthengine):
        raise InputError("give exactly one of --source STACK (a local raw S2 stack) or --earthengine")
    if earthengine:
        if worldcover:
            raise InputError(
                "--worldcover is for local stacks; with --earthengine, --cropland-mask "
                "reads ESA WorldCover on the server"
            )
        if client is None:
            client = ee_client.get_client(project, service_account_key=service_account_key)
        ee_source = EarthEngineSource(
            client, cloud_band=cloud_band, cropland_only=cropland_mask, encoding=Encoding(encoding)
        )
        return ee_source, None
    if cropland_mask and not worldcover:
        raise InputError(
            "--cropland-mask with a local --source needs --worldcover WORLDCOVER.tif "
            "(an ESA WorldCover GeoTIFF covering the stack)"
        )
    cropland = RasterClassMask(Path(worldcover)) if worldcover else None
    assert source_path, "exactly one of source_path and earthengine is given (checked above)"
    return LocalStackSource(open_local_stack(source_path)), cropland
