"""What a map will cost before anything is fetched: tiles, requests, bytes, hours, output size, memory.

Pure arithmetic on the tiles of the job (``mapping.engine.plan_map`` plans them exactly as the real
run does) and on rates: measured ones from a pilot (``<out>.pilot/pilot.json``), else the defaults
below. Earth Engine time follows a simple pipe model: each request waits ``seconds_per_request``
(queueing and computation on the server) and then shares one link of ``bytes_per_second`` with the
others; with ``in_flight`` requests overlapped, tiles arrive at

    min(in_flight / (latency + tile bytes / bandwidth), bandwidth / tile bytes)   tiles per second.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from gee_crop.earthengine.quota import tier_line

#: Default Earth Engine rates when no pilot measured them: a computePixels answer of a whole tile
#: after ~3 s, 25 MB/s of download (the planning figures of issue 14; a pilot replaces them).
DEFAULT_SECONDS_PER_REQUEST = 3.0
DEFAULT_BYTES_PER_SECOND = 25e6
#: Requests kept in flight by default (each holds one fetched tile in memory); at most the
#: project's 40 concurrent requests (earthengine.client.MAX_CONCURRENT_REQUESTS).
DEFAULT_IN_FLIGHT = 8
#: map.tif holds 2 uint8 bands, probabilities.tif one per class; overviews add up to 1/3;
#: the per-tile GeoTIFFs in tiles/ are kept for resuming (the same bytes again). Uncompressed: an upper bound.
MAP_BANDS, OVERVIEW_FACTOR = 2, 4 / 3


@dataclass(frozen=True)
class Rates:
    """Rates of the estimate and where they come from (``source``: a pilot file or "defaults")."""

    seconds_per_request: float = DEFAULT_SECONDS_PER_REQUEST
    bytes_per_second: float | None = DEFAULT_BYTES_PER_SECOND
    local_pixels_per_second: float | None = None
    eecu_seconds_per_pixel: float | None = None
    """Earth Engine compute per requested pixel (profiled by ``map --pilot`` or ``gee-crop doctor``); None:
    not measured (there is no documented default)."""
    source: str = "defaults"

    @classmethod
    def from_pilot(cls, path: str | Path, local_pixels_per_second: float | None = None) -> Rates:
        """The rates a pilot measured (keys of this class), the defaults for those it lacks."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        fields = {
            k: data[k]
            for k in ("seconds_per_request", "bytes_per_second", "local_pixels_per_second", "eecu_seconds_per_pixel")
            if data.get(k) is not None
        }
        fields.setdefault("local_pixels_per_second", local_pixels_per_second)
        return cls(**fields, source=str(path))


def fetch_tiles_per_second(bytes_per_tile: float, in_flight: int, rates: Rates) -> float:
    """Tiles per second Earth Engine delivers with ``in_flight`` requests overlapped (pipe model)."""
    transfer = bytes_per_tile / rates.bytes_per_second if rates.bytes_per_second else 0.0
    by_latency = in_flight / (rates.seconds_per_request + transfer)
    return min(by_latency, 1 / transfer) if transfer else by_latency


@dataclass
class MapEstimate:
    """The numbers ``gee-crop map --dry-run`` prints (and a real run then matches: tiles, requests, bytes)."""

    n_tiles: int
    n_tiles_done: int
    grid_pixels: int
    region_pixels: int
    tile_size: int
    requests: int
    bytes_fetched: int
    bytes_per_pixel: float
    min_bytes_per_pixel: int
    fetch_seconds: float
    local_seconds: float | None
    output_bytes: int
    memory_bytes: int
    in_flight: int
    workers: int
    rates: Rates
    requested_pixels: int = 0
    """Pixels of the requests still to send (tiles x their size): what Earth Engine computes."""

    @property
    def eecu_hours(self) -> float | None:
        """Earth Engine compute of the requests still to send at the measured rate; None when unmeasured."""
        rate = self.rates.eecu_seconds_per_pixel
        return None if rate is None or not self.requests else rate * self.requested_pixels / 3600

    @property
    def wall_seconds(self) -> float:
        """Fetch and compute overlap: the slower of the two sets the pace."""
        return max(self.fetch_seconds, self.local_seconds or 0.0)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "rates": asdict(self.rates),
            "wall_seconds": self.wall_seconds,
            "eecu_hours": self.eecu_hours,
        }

    def lines(self) -> list[str]:
        todo = self.n_tiles - self.n_tiles_done
        local = (
            f"{_hours(self.local_seconds)} of local compute at {self.rates.local_pixels_per_second:,.0f} px/s"
            if self.local_seconds is not None
            else "local compute: rate unknown"
        )
        lines = [
            f"dry run: {self.n_tiles} tiles of up to {self.tile_size} x {self.tile_size} px "
            f"({self.n_tiles_done} already done, {todo} to do), {self.region_pixels:,} px in the region "
            f"({self.grid_pixels:,} in the grid)"
        ]
        if self.requests:
            lines.append(
                f"Earth Engine: {self.requests} computePixels requests, {self.bytes_fetched / 1e9:,.2f} GB "
                f"({self.bytes_per_pixel:.0f} B/px; lossless {self.min_bytes_per_pixel}), about "
                f"{_hours(self.fetch_seconds)} with {self.in_flight} requests in flight at "
                f"{self.rates.seconds_per_request:g} s/request and "
                + (
                    f"{self.rates.bytes_per_second / 1e6:g} MB/s"
                    if self.rates.bytes_per_second
                    else "unlimited bandwidth"
                )
                + f" ({self.rates.source})"
            )
            lines.append(
                "Earth Engine compute: "
                + (
                    tier_line(self.eecu_hours) + f", at {self.rates.eecu_seconds_per_pixel:.3g} EECU-s/px"
                    if self.eecu_hours is not None
                    else "EECU-hours not measured yet: `gee-crop map --pilot 3` with the same options (or "
                    "`gee-crop doctor`) profiles real requests, and this dry run then prices them"
                )
            )
        else:
            lines.append("local source: nothing is fetched")
        lines.append(f"{local}; about {_hours(self.wall_seconds)} in all (fetch and compute overlap)")
        lines.append(
            f"output: at most {self.output_bytes / 1e9:,.2f} GB (map.tif with overviews and the tiles/ kept "
            f"for resuming, uncompressed); tiles in memory at once: at most {self.memory_bytes / 2**20:,.0f} MiB "
            f"({self.in_flight} in flight + {self.workers} computing)"
        )
        return lines


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


def output_bytes(grid_pixels: int, n_classes: int, probabilities: bool) -> int:
    """Upper bound of what a map writes (uncompressed): map.tif (+ probabilities.tif) and tiles/."""
    bands = MAP_BANDS + (n_classes if probabilities else 0)
    return int(grid_pixels * bands * (OVERVIEW_FACTOR + 1))
