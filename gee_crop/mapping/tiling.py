"""The output grid of a map and its split into tiles sized for one Earth Engine request each.

Grid transforms use GDAL/affine order ``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``,
``y = d*col + e*row + f`` with ``(c, f)`` the upper-left corner of the upper-left pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import shapely
from rasterio.transform import Affine
from shapely.geometry import box

from gee_crop.data.regions import WGS84, reproject_geometry, utm_crs_for
from gee_crop.errors import RegionError
from gee_crop.types import RawStack

#: Earth Engine's computePixels payload limit (bytes), as xee enforces it.
EE_REQUEST_LIMIT_BYTES = 48 * 1024 * 1024
#: Bytes Earth Engine may add per value for the mask (xee counts itemsize + 1); kept as a margin.
EE_MASK_BYTES_PER_VALUE = 1
#: Tile sides are multiples of this (GeoTIFF blocks are 16-pixel multiples).
TILE_ALIGN = 16
#: Default tile side for local stacks (memory per tile: dates x pixels x 10 bands x 2 bytes).
LOCAL_TILE_SIZE = 256
DEFAULT_SCALE_M = 10.0
#: Fraction of a pixel by which a region may overshoot a pixel edge without adding a row/column.
SNAP_TOLERANCE = 0.01
#: Metres of one degree along a meridian (spherical earth, mean radius): the scale check of a geographic CRS.
METRES_PER_DEGREE = math.pi * 6_371_008.8 / 180
#: Coarsest output pixel (m): a crop map needs field-scale pixels; a larger --scale is most often metres
#: given in a degree CRS (``--crs EPSG:4326 --scale 10``: 1,100 km pixels).
MAX_SCALE_M = 1_000.0
#: An output pixel is at most this many times finer (per side) than its source's pixels: finer only
#: repeats each source pixel (16 output pixels per source pixel at most).
MAX_OVERSAMPLING = 4
#: Most pixels an output grid may hold (about the United States at 10 m); beyond, the grid is a
#: mistake (a world box, a scale in the wrong unit) and planning it alone would not finish.
MAX_GRID_PIXELS = 10**11


@dataclass(frozen=True)
class OutputGrid:
    """A north-up raster grid: ``width`` x ``height`` pixels in ``crs`` with GDAL ``transform``."""

    crs: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform)

    @property
    def scale(self) -> float:
        """Pixel size in CRS units (metres for UTM)."""
        return abs(self.transform[0])

    @property
    def units(self) -> str:
        """Unit of the CRS axes ("metre", "degree", ...)."""
        from pyproj import CRS

        return CRS.from_user_input(self.crs).axis_info[0].unit_name

    def to_dict(self) -> dict:
        return {"crs": self.crs, "transform": list(self.transform), "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, d: dict) -> OutputGrid:
        # the six numbers to_dict wrote
        transform = cast("tuple[float, float, float, float, float, float]", tuple(float(v) for v in d["transform"]))
        return cls(d["crs"], transform, int(d["width"]), int(d["height"]))


@dataclass(frozen=True)
class Tile:
    """A window of the output grid: rows [row_off, row_off + height), cols [col_off, col_off + width)."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def name(self) -> str:
        return f"tile_r{self.row_off:06d}_c{self.col_off:06d}"

    @property
    def n_pixels(self) -> int:
        return self.height * self.width

    def transform(self, grid: OutputGrid) -> tuple[float, float, float, float, float, float]:
        """The tile's own GDAL transform (upper-left corner moved to the tile)."""
        a, b, c, d, e, f = grid.transform
        return (a, b, c + a * self.col_off + b * self.row_off, d, e, f + d * self.col_off + e * self.row_off)

    def ee_grid(self, grid: OutputGrid) -> dict:
        """The ``grid`` argument of Earth Engine's computePixels for this tile."""
        a, b, c, d, e, f = self.transform(grid)
        return {
            "dimensions": {"width": self.width, "height": self.height},
            "affineTransform": {"scaleX": a, "shearX": b, "translateX": c, "shearY": d, "scaleY": e, "translateY": f},
            "crsCode": grid.crs,
        }

    def bounds(self, grid: OutputGrid) -> tuple[float, float, float, float]:
        """(min x, min y, max x, max y) of the tile in the grid CRS."""
        x0, y0 = grid.affine @ (self.col_off, self.row_off + self.height)
        x1, y1 = grid.affine @ (self.col_off + self.width, self.row_off)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def bounds_geometry(self, grid: OutputGrid) -> shapely.Geometry:
        """The tile's rectangle in the grid CRS."""
        return box(*self.bounds(grid))

    def pixel_centres(self, grid: OutputGrid) -> tuple[np.ndarray, np.ndarray]:
        """(height, width) x and y of the pixel centres in the grid CRS."""
        cols, rows = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        a, b, c, d, e, f = self.transform(grid)
        return a * cols + b * rows + c, d * cols + e * rows + f


def metres_per_unit(crs: str) -> tuple[str, float]:
    """(unit name, metres per unit) of the x axis of ``crs``; for a geographic CRS a degree of latitude."""
    from pyproj import CRS

    parsed = CRS.from_user_input(crs)
    axis = parsed.axis_info[0]
    return axis.unit_name, METRES_PER_DEGREE if parsed.is_geographic else float(axis.unit_conversion_factor)


def check_scale(scale: float, crs: str, source_scale_m: float) -> None:
    """RegionError unless ``scale`` (in the units of ``crs``) is a pixel of at most MAX_SCALE_M metres and
    at most MAX_OVERSAMPLING times finer than the source's ``source_scale_m`` metres; the message names
    the unit and a scale that fits."""
    unit, metres = metres_per_unit(crs)
    scale_m = float(scale) * metres
    ten_m = f"--scale {10 / metres:.2g} for about 10 m"
    if scale_m > MAX_SCALE_M:
        fix = (
            f"give it in {unit}s ({ten_m}) or a metric CRS (the region's UTM zone, e.g. EPSG:32631)"
            if unit != "metre"
            else f"give at most --scale {MAX_SCALE_M / metres:g} (the source's pixels are {source_scale_m:g} m)"
        )
        raise RegionError(
            f"--scale {scale:g} is in {unit}s for {crs}: pixels of about {scale_m:,.0f} m, coarser than the "
            f"{MAX_SCALE_M:,.0f} m a crop map may have; {fix}"
        )
    finest_m = source_scale_m / MAX_OVERSAMPLING
    if scale_m < finest_m:
        raise RegionError(
            f"--scale {scale:g} {unit}s ({scale_m:.3g} m pixels) is more than {MAX_OVERSAMPLING} times finer than "
            f"the source's {source_scale_m:g} m pixels (each would be repeated {(source_scale_m / scale_m) ** 2:,.0f} "
            f"times); give --scale {finest_m / metres:.3g} or coarser (default: the source's pixel)"
        )


def check_region_pixels(region_wgs84: shapely.Geometry, scale: float, crs: str) -> None:
    """RegionError when the region's extent holds more than MAX_GRID_PIXELS pixels of ``scale`` (units of
    ``crs``): measured on the sphere, box by box of its parts, before any grid is projected (a world box has
    no UTM grid)."""
    area_m2 = 0.0
    for west, south, east, north in shapely.bounds(shapely.get_parts(region_wgs84)):
        band = math.sin(math.radians(north)) - math.sin(math.radians(south))
        area_m2 += math.radians(east - west) * band * (METRES_PER_DEGREE * 180 / math.pi) ** 2
    scale_m = scale * metres_per_unit(crs)[1]
    pixels = area_m2 / scale_m**2
    if pixels > MAX_GRID_PIXELS:
        raise RegionError(
            f"the region spans {area_m2 / 1e6:,.0f} km², {pixels:,.0f} pixels of {scale_m:g} m, above the "
            f"{MAX_GRID_PIXELS:,} a map may hold; map a smaller region (or split it) or give a coarser --scale"
        )


def grid_for_region(
    region_wgs84: shapely.Geometry,
    *,
    crs: str | None = None,
    scale: float = DEFAULT_SCALE_M,
    origin: tuple[float, float] = (0.0, 0.0),
) -> OutputGrid:
    """The smallest grid of ``scale``-sized pixels, aligned to ``origin``, that covers the region.

    ``crs`` defaults to the UTM zone of the region's centroid. Pixel edges fall on
    ``origin + k * scale`` so that maps of neighbouring regions line up (and a local stack's own
    pixel edges can be kept by passing its upper-left corner as ``origin``).
    """
    if scale <= 0:
        raise RegionError(f"--scale {scale} must be positive; give the pixel size in CRS units, e.g. 10")
    crs = crs or utm_crs_for(region_wgs84)
    scale = float(scale)
    minx, miny, maxx, maxy = reproject_geometry(region_wgs84, WGS84, crs).bounds
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))):
        raise RegionError(
            f"the region does not project to {crs} (it reaches beyond that CRS's area of use); give a "
            "smaller region, or a --crs that covers it"
        )
    ox, oy = origin
    # a region that reaches a pixel edge by less than 1 % of a pixel (reprojection round-off) does
    # not add a row or column
    x0 = ox + math.floor((minx - ox) / scale + SNAP_TOLERANCE) * scale
    x1 = ox + math.ceil((maxx - ox) / scale - SNAP_TOLERANCE) * scale
    y0 = oy + math.floor((miny - oy) / scale + SNAP_TOLERANCE) * scale
    y1 = oy + math.ceil((maxy - oy) / scale - SNAP_TOLERANCE) * scale
    width, height = max(1, round((x1 - x0) / scale)), max(1, round((y1 - y0) / scale))
    if width * height > MAX_GRID_PIXELS:
        raise RegionError(
            f"the output grid would be {width:,} x {height:,} pixels of {scale:g} in {crs}, above the "
            f"{MAX_GRID_PIXELS:,} a map may hold; map a smaller region (or split it) or give a coarser --scale"
        )
    return OutputGrid(crs, (scale, 0.0, x0, 0.0, -scale, y1), width, height)


def max_ee_tile_size(
    n_values_per_pixel: int, bytes_per_value: int = 2, limit_bytes: int = EE_REQUEST_LIMIT_BYTES
) -> int:
    """Largest square tile side (multiple of 16) whose request stays under Earth Engine's limit.

    For the default stack (10 bands x 43 bins as uint16) this is 192 px: 192^2 x 430 x 3 B = 45.4 MiB.
    """
    per_pixel = n_values_per_pixel * (bytes_per_value + EE_MASK_BYTES_PER_VALUE)
    side = math.isqrt(limit_bytes // per_pixel)
    if side < TILE_ALIGN:
        raise RegionError(
            f"{n_values_per_pixel} values per pixel do not fit one Earth Engine request; "
            "use fewer bins (a longer --window) or fewer bands"
        )
    return side - side % TILE_ALIGN


def plan_tiles(grid: OutputGrid, tile_size: int, region: shapely.Geometry | None = None) -> list[Tile]:
    """Row-major tiles of at most ``tile_size`` px that cover the grid exactly once.

    ``region`` (in the grid CRS) drops the tiles that contain no pixel centre of the region.
    """
    if tile_size < 1:
        raise RegionError(f"--tile-size {tile_size} must be a positive number of pixels")
    tiles = [
        Tile(r, c, min(tile_size, grid.height - r), min(tile_size, grid.width - c))
        for r in range(0, grid.height, tile_size)
        for c in range(0, grid.width, tile_size)
    ]
    if region is None:
        return tiles
    shapely.prepare(region)  # many intersects tests against one polygon
    kept = []
    for tile in tiles:
        if region.intersects(tile.bounds_geometry(grid)) and region_mask(grid, tile, region).any():
            kept.append(tile)
    return kept


def region_mask(grid: OutputGrid, tile: Tile, region: shapely.Geometry | None) -> np.ndarray:
    """(height, width) bool: True where the pixel centre lies in ``region`` (grid CRS); all True if None."""
    if region is None:
        return np.ones((tile.height, tile.width), dtype=bool)
    x, y = tile.pixel_centres(grid)
    # a centre on the boundary counts as inside (GDAL's rasterization rule); GEOS, vectorized, thread-safe
    return shapely.intersects_xy(region, x, y)


def stack_grid(stack: RawStack) -> OutputGrid:
    """A raw stack's own pixel grid (north up, as RawStack stores it)."""
    height, width = stack.shape
    return OutputGrid(stack.crs, stack.transform, width, height)
