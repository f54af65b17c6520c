"""``gee-crop map --pilot N``'s measurement: N tiles spread over the run's own plan
(:func:`~gee_crop.mapping.engine.plan_job`, the tiles the run and its dry run have), each fetched with the
run's own composite request under the profiler, and what they cost: seconds per request, bytes per second,
EECU per tile (and per pixel) and the local inference rate, which ``--dry-run`` then prices the job with."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from gee_crop.earthengine.pilot import pilot_tiles
from gee_crop.mapping.engine import MapJob, measure_inference_rate
from gee_crop.mapping.request import MapSettings
from gee_crop.mapping.sources import CompositeRequest, FeatureSource
from gee_crop.models.io import ModelFile


@dataclass(frozen=True)
class PilotMeasurement:
    """What ``map --pilot`` measured; :meth:`to_dict` is the pilot file's content, ``file`` where it went."""

    tiles_measured: int
    tiles_in_job: int
    seconds_per_request: float
    bytes_per_second: float
    eecu_seconds_per_tile: float | None
    eecu_seconds_per_pixel: float | None
    local_pixels_per_second: float
    tile_size: int
    file: Path | None = None

    def to_dict(self) -> dict:
        """The pilot file's content (``file`` left out)."""
        return {k: v for k, v in asdict(self).items() if k != "file"}

    def lines(self) -> list[str]:
        """What ``map --pilot`` prints."""
        eecu = self.eecu_seconds_per_tile
        return [
            f"pilot: {self.tiles_measured} of {self.tiles_in_job} tiles fetched and profiled: "
            f"{self.seconds_per_request:.2f} s per request, {self.bytes_per_second / 1e6:.2f} MB/s, "
            + (f"{eecu:.2f} EECU-s per tile" if eecu is not None else "no EECU profile returned"),
            f"rates saved to {self.file}; `--dry-run` with the same options now prices the whole map with them",
        ]


def measure_pilot(
    source: FeatureSource, model: ModelFile, job: MapJob, settings: MapSettings, n: int
) -> PilotMeasurement:
    """Fetch ``n`` of the tiles of ``job`` (:func:`~gee_crop.mapping.engine.plan_job` of the same source, model
    and settings) from ``source`` (an Earth Engine source: its client profiles each request) and measure
    them; nothing is written."""
    composite = CompositeRequest(job.grid, job.spec, job.season, job.region_grid)
    measured = []
    for i in pilot_tiles(len(job.tiles), n):
        tile = job.tiles[i]
        with source.client.profiling() as profile:  # type: ignore[attr-defined]
            fetched = source.read_tile(tile, composite)
        measured.append((tile.n_pixels, fetched.bytes_fetched, profile.seconds, profile.eecu_seconds))
    pixels = sum(m[0] for m in measured)
    seconds = [m[2] for m in measured]
    eecu = [m[3] for m in measured if m[3] is not None]
    return PilotMeasurement(
        tiles_measured=len(measured),
        tiles_in_job=len(job.tiles),
        seconds_per_request=statistics.median(seconds),
        bytes_per_second=sum(m[1] for m in measured) / max(sum(seconds), 1e-9),
        eecu_seconds_per_tile=statistics.fmean(eecu) if eecu else None,
        eecu_seconds_per_pixel=sum(eecu) / pixels if eecu and len(eecu) == len(measured) else None,
        local_pixels_per_second=measure_inference_rate(
            model, job.spec, settings.precision, list(settings.providers) or None
        ),
        tile_size=job.tile_size,
    )
