"""The plan of a map made on Earth Engine's batch system (``gee-crop map --on-server --dry-run``).

The region's grid is cut into export tiles (:func:`export_tiles`, each one batch task under the limits of
:mod:`gee_crop.earthengine.map_exports`); :class:`ServerMapPlan` holds what the run would do and prints it:
tasks, the EECU-hours and the quota tier they need, and the bytes that come home, against the local
route's computePixels requests of the sqrt8 composite. Pure arithmetic: no request, no credentials.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import shapely
from pyproj import Geod

from gee_crop.earthengine.map_exports import (
    BYTES_PER_PIXEL,
    EXPORT_TILE_SIZE,
    MAP_BANDS,
    MAX_TASK_PIXELS,
    TASK_LIFETIME_DAYS,
)
from gee_crop.earthengine.quota import tier_line
from gee_crop.earthengine.tasks import CONCURRENT_TASKS, MAX_ASSETS, MAX_QUEUED_TASKS
from gee_crop.mapping.tiling import EE_REQUEST_LIMIT_BYTES, OutputGrid, Tile, max_ee_tile_size, plan_tiles
from gee_crop.sensors import SENTINEL2

#: EECU-seconds per exported pixel when no pilot measured them: a planning figure, not a documented one
#: (Earth Engine publishes no per-pixel cost); ``gee-crop map --pilot N`` measures the account's own.
DEFAULT_EECU_SECONDS_PER_PIXEL = 5e-5
#: Side (px) of a download request of a finished map asset: 2 uint8 bands + 1 mask byte each under the
#: 48 MiB computePixels answer (``tiling.max_ee_tile_size``).
DOWNLOAD_TILE_SIZE = max_ee_tile_size(len(MAP_BANDS), bytes_per_value=1)
_GEOD = Geod(ellps="WGS84")


def export_tiles(grid: OutputGrid, region_grid: shapely.Geometry, tile_size: int = EXPORT_TILE_SIZE) -> list[Tile]:
    """Row-major tiles of at most ``tile_size`` px covering ``grid`` whose rectangle meets ``region_grid``
    (grid CRS). A rectangle test, not a pixel-centre one: a country holds ~10^10 pixel centres."""
    shapely.prepare(region_grid)
    return [t for t in plan_tiles(grid, tile_size) if region_grid.intersects(t.bounds_geometry(grid))]


def download_tiles(
    grid: OutputGrid, tile: Tile, region_grid: shapely.Geometry, size: int = DOWNLOAD_TILE_SIZE
) -> list[Tile]:
    """The computePixels windows (output-grid tiles) of one finished export tile that meet the region."""
    windows = [
        Tile(tile.row_off + r, tile.col_off + c, min(size, tile.height - r), min(size, tile.width - c))
        for r in range(0, tile.height, size)
        for c in range(0, tile.width, size)
    ]
    return [w for w in windows if region_grid.intersects(w.bounds_geometry(grid))]


def region_area_km2(region_wgs84: shapely.Geometry) -> float:
    """Geodesic area (km²) of a WGS84 region."""
    return abs(_GEOD.geometry_area_perimeter(region_wgs84)[0]) / 1e6


@dataclass(frozen=True)
class ServerMapPlan:
    """What ``gee-crop map --on-server`` would do; the run makes exactly these tasks."""

    name: str
    year: int
    grid: OutputGrid
    tiles: tuple[Tile, ...]
    """The export tiles, one batch task each."""
    windows: tuple[Tile, ...]
    """The download windows of the export tiles (computePixels answers under 48 MiB) that meet the region."""
    area_km2: float
    local_bytes_per_pixel: int
    """What the local route fetches per pixel (10 bands x n_bins values, 1 B each in sqrt8)."""
    local_tile_size: int
    """The local route's computePixels tile side (the 48 MiB answer limit)."""
    destination: str
    keep_on_server: bool
    eecu_seconds_per_pixel: float = DEFAULT_EECU_SECONDS_PER_PIXEL
    rate_source: str = "planning default"
    done: frozenset[str] = frozenset()
    """Names of the export tiles whose tasks finished in an earlier run of the same output."""

    @property
    def region_pixels(self) -> int:
        """Pixels of the region (its geodesic area over the pixel area)."""
        return round(self.area_km2 * 1e6 / abs(self.grid.transform[0] * self.grid.transform[4]))

    @property
    def task_pixels(self) -> int:
        """Pixels the tasks still to run compute (whole export tiles)."""
        return sum(t.n_pixels for t in self.tiles if t.name not in self.done)

    @property
    def all_pixels(self) -> int:
        return sum(t.n_pixels for t in self.tiles)

    @property
    def downloads(self) -> int:
        """computePixels requests that bring the finished assets home (0 with --keep-on-server)."""
        return 0 if self.keep_on_server else len(self.windows)

    @property
    def bytes_home(self) -> int:
        """Bytes the downloads carry: class and confidence of every pixel of their windows."""
        return 0 if self.keep_on_server else BYTES_PER_PIXEL * sum(w.n_pixels for w in self.windows)

    @property
    def local_bytes(self) -> int:
        """What the local route would fetch for the region's pixels alone (a lower bound: its tiles overhang)."""
        return self.local_bytes_per_pixel * self.region_pixels

    @property
    def local_requests(self) -> int:
        """computePixels requests of the local route: the region's pixels in tiles of ``local_tile_size``."""
        return math.ceil(self.region_pixels / self.local_tile_size**2)

    @property
    def eecu_hours(self) -> float:
        return self.eecu_seconds_per_pixel * self.task_pixels / 3600

    def to_dict(self) -> dict:
        return {
            **{k: v for k, v in asdict(self).items() if k not in ("grid", "tiles", "windows", "done")},
            "tasks_done": len(self.done),
            "grid": self.grid.to_dict(),
            "tasks": len(self.tiles),
            "region_pixels": self.region_pixels,
            "task_pixels": self.task_pixels,
            "downloads": self.downloads,
            "bytes_home": self.bytes_home,
            "local_bytes": self.local_bytes,
            "local_requests": self.local_requests,
            "eecu_hours": self.eecu_hours,
        }

    def lines(self) -> list[str]:
        n = len(self.tiles)
        largest = max((t.n_pixels for t in self.tiles), default=0)
        scale, units = abs(self.grid.transform[0]), "m" if not self.grid.crs.endswith("4326") else "deg"
        home = (
            "0 B (--keep-on-server: the maps stay assets)"
            if self.keep_on_server
            else f"{_size(self.bytes_home)} in {self.downloads:,} computePixels downloads "
            f"({BYTES_PER_PIXEL} B/px: class + confidence, uint8)"
        )
        lines = [
            f"on-server map of {self.name}, season {self.year}: {self.area_km2:,.0f} km², "
            f"{self.region_pixels:,} px of {scale:g} {units} ({self.grid.crs})",
            f"batch tasks: {n:,} ({len(self.done):,} done) of at most {EXPORT_TILE_SIZE:,} x {EXPORT_TILE_SIZE:,} px "
            f"(largest {largest:,} px, under the {MAX_TASK_PIXELS:.0e} maxPixels default; a task lives at most "
            f"{TASK_LIFETIME_DAYS} days), Export.image to {self.destination}; at most {MAX_QUEUED_TASKS} queued, "
            f"about {CONCURRENT_TASKS} run at once",
            f"EECU: {self.eecu_seconds_per_pixel:.2g} EECU-s/px ({self.rate_source}) x {self.task_pixels:,} px "
            f"-> {tier_line(self.eecu_hours)}",
            f"bytes home: {home}",
            f"the local route instead: {self.local_requests:,} computePixels requests of {self.local_tile_size} px "
            f"and at least {_size(self.local_bytes)} ({self.local_bytes_per_pixel} B/px of sqrt8 composite)",
        ]
        if self.destination == "asset":
            lines.append(f"assets: {n:,} image assets of a project's {MAX_ASSETS:,}")
        return lines


def local_route_bytes_per_pixel(n_bins: int, value_bytes: int = 1) -> int:
    """Bytes per pixel the local route fetches: 10 bands x ``n_bins`` values of ``value_bytes`` (sqrt8: 1)."""
    return len(SENTINEL2.bands) * n_bins * value_bytes


def local_route_tile_size(n_bins: int) -> int:
    """The local route's computePixels tile side for ``n_bins`` (uint16 tiles, kept for sqrt8 too)."""
    return max_ee_tile_size(len(SENTINEL2.bands) * n_bins, limit_bytes=EE_REQUEST_LIMIT_BYTES)


def _size(n: float) -> str:
    for unit, step in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= step:
            return f"{n / step:,.1f} {unit}"
    return f"{n:,.0f} B"
