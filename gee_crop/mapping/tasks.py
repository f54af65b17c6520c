"""One tile's work in a map: read its composite (the fetch stage), then mask, classify and write it
(the compute stage). :class:`TilePlan` is everything a tile needs, shared read-only by all tiles and
sent once to each Dask worker (it carries the model file's bytes, not its path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from gee_crop.errors import GeeCropError
from gee_crop.features.shift import DomainSummary, sample_stride, tally_sample, tally_shift
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping import writers
from gee_crop.mapping.sources import CompositeRequest, FeatureSource, TileComposite
from gee_crop.mapping.tiling import OutputGrid, Tile, region_mask
from gee_crop.models.io import ModelFile
from gee_crop.models.predict import open_predictor
from gee_crop.season import SeasonSpan

#: Batches of a tile decoded and classified together (a chunk's model input, ~0.9 MB, stays in the CPU cache).
CHUNK_BATCHES = 1


@dataclass
class TileReport:
    """What happened to one tile: status 'done' | 'skipped' (finished earlier) | 'failed'."""

    tile: Tile
    status: str
    n_classified: int = 0
    bytes_fetched: int = 0
    seconds: float = 0.0
    error: str = ""
    read_seconds: float = 0.0  # source: composite (local) or request + decode (Earth Engine)
    inference_seconds: float = 0.0  # the model alone (onnxruntime or torch)
    shift: dict | None = None  # the tile's ShiftTally.to_dict() (features/shift.py), kept in the ledger


@dataclass
class TilePlan:
    """Everything a tile worker needs (shared read-only by all tiles)."""

    source: FeatureSource
    model: ModelFile
    spec: FeatureSpec
    season: SeasonSpan
    grid: OutputGrid
    region: shapely.Geometry
    tiles_dir: Path
    probabilities: bool
    batch_size: int
    threads: int | None
    providers: list[str] | None
    precision: str
    cropland: Callable[[OutputGrid, Tile], np.ndarray] | None
    tile_hook: Callable[[Tile], None] | None
    domain: DomainSummary | None = None  # the model's training-input summary (None: shift unavailable)

    @property
    def composite(self) -> CompositeRequest:
        """What every tile of the plan is composited for."""
        return CompositeRequest(self.grid, self.spec, self.season, self.region)


def tile_path(plan: TilePlan, tile: Tile) -> Path:
    return plan.tiles_dir / f"{tile.name}.tif"


def process_tile(plan: TilePlan, tile: Tile) -> TileReport:
    """Composite, classify and write one tile. User-level failures (Earth Engine after retries, disk
    full) become a 'failed' report; bugs propagate."""
    return classify_tile(plan, tile, read_tile(plan, tile))


def read_tile(plan: TilePlan, tile: Tile) -> tuple[TileComposite | TileReport, float]:
    """The tile's composite (or the failure as a 'failed' report) and the seconds it took: the
    fetch stage of a tile (for Earth Engine mostly waiting on the request)."""
    started = time.perf_counter()
    try:
        composite = plan.source.read_tile(tile, plan.composite)
    except GeeCropError as exc:
        return TileReport(tile, "failed", error=str(exc), seconds=time.perf_counter() - started), 0.0
    return composite, time.perf_counter() - started


def classify_tile(plan: TilePlan, tile: Tile, fetched: tuple[TileComposite | TileReport, float]) -> TileReport:
    """Mask, classify and write one tile already read (the compute stage)."""
    composite, read_s = fetched
    if isinstance(composite, TileReport):
        return composite
    if plan.tile_hook is not None:
        plan.tile_hook(tile)
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    try:
        valid = composite.valid & region_mask(plan.grid, tile, plan.region)
        if plan.cropland is not None:
            valid &= plan.cropland(plan.grid, tile)
        composite.valid = valid
        read_s += lap()
        predictor = open_predictor(plan.model, plan.precision, plan.providers, threads=plan.threads, cache=True)
        values = composite.valid_values()
        classified = np.empty((len(values), len(plan.spec.classes)), dtype=np.float32)
        inference_s = 0.0
        # a chunk at a time: its model input is decoded and classified while it is in the CPU cache (a whole
        # tile's input is ~60 MB); chunks are whole batches, so every batch is as before
        for start in range(0, len(values), plan.batch_size * CHUNK_BATCHES):
            stop = start + plan.batch_size * CHUNK_BATCHES
            inputs = composite.reflectance(values[start:stop])
            begun = time.perf_counter()
            classified[start:stop] = predictor.predict_proba(inputs, plan.batch_size)
            inference_s += time.perf_counter() - begun
        # the shift of a large tile from a systematic sample of its pixels (features/shift.sample_stride)
        stride = sample_stride(len(values))
        sample = composite.reflectance(values[::stride])
        shift = (tally_sample(plan.domain, sample, len(values), stride) + tally_shift(None, None, classified)).to_dict()
        probabilities = np.zeros((*valid.shape, len(plan.spec.classes)), dtype=np.float32)
        probabilities[valid] = classified
        bands = writers.encode_bands(probabilities, valid, plan.probabilities)
        writers.write_tile(tile_path(plan, tile), bands, plan.grid, tile)
    except GeeCropError as exc:
        return TileReport(tile, "failed", error=str(exc), seconds=time.perf_counter() - clock[0] + read_s)
    return TileReport(
        tile,
        "done",
        int(valid.sum()),
        composite.bytes_fetched,
        time.perf_counter() - clock[0] + fetched[1],
        read_seconds=read_s,
        inference_seconds=inference_s,
        shift=shift,
    )
