"""``gee-crop map --on-server``: the map made by Earth Engine's batch system, one byte per band coming home.

The region's grid (planned as every map is, :func:`gee_crop.mapping.engine.plan_job`) is cut into export
tiles (:func:`gee_crop.mapping.server_plan.export_tiles`); each is one ``Export.image`` task of the
composite the Earth Engine route fetches (:meth:`EarthEngineSource.image`) classified on the server
(:func:`gee_crop.models.server.server_classification`): bands ``class`` and ``confidence``. The tasks
run through the bounded queue, run ledger and resume of ``sample`` (:func:`gee_crop.earthengine.tasks.run_task_queue`;
state in ``OUT/exports/manifest.json``). Then the finished image assets are downloaded tile by tile
(computePixels, each answer under 48 MiB) into ``map.tif`` with the usual colour table, ``map.png`` and
``areas.csv``, or left on the server (``keep_on_server``).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import ee
import numpy as np

from gee_crop.classes import NO_CLASS
from gee_crop.config import ExportDestination
from gee_crop.earthengine.map_exports import MAP_BANDS, image_export_config, map_collection, map_export_names
from gee_crop.earthengine.tasks import ExportTarget, check_export_target, run_task_queue
from gee_crop.errors import EmptyResultError
from gee_crop.ledger import DONE, RunLedger
from gee_crop.mapping import writers
from gee_crop.mapping.engine import (
    AREAS_NAME,
    LEDGER_NAME,
    MAP_NAME,
    PREVIEW_NAME,
    SUMMARY_NAME,
    TILES_DIR,
    MapJob,
    composite_settings,
    plan_job,
)
from gee_crop.mapping.estimate import Rates
from gee_crop.mapping.request import MapSettings, OnServer
from gee_crop.mapping.server_parcels import (
    ParcelExport,
    ServerParcels,
    check_parcel_asset,
    parcel_export,
    write_server_parcel_table,
)
from gee_crop.mapping.server_plan import (
    DEFAULT_EECU_SECONDS_PER_PIXEL,
    ServerMapPlan,
    download_tiles,
    export_tiles,
    local_route_bytes_per_pixel,
    local_route_tile_size,
    region_area_km2,
)
from gee_crop.mapping.sources import EarthEngineSource, PixelClient, tile_footprint
from gee_crop.mapping.tiling import Tile
from gee_crop.models.io import ModelFile
from gee_crop.models.server import server_classification

EXPORTS_DIR = "exports"


@dataclass(frozen=True)
class ServerJob:
    """An on-server map planned without any request: the map job (grid, season, region) and its export tiles."""

    job: MapJob
    tiles: tuple[Tile, ...]
    name: str
    """The map's name in task descriptions and asset ids (a country code, a region file's stem)."""

    def names(self, tile: Tile, project: str | None) -> tuple[str, str | None]:
        """(task description, image asset id or None) of one export tile."""
        return map_export_names(self.name, self.job.year, tile.name, project)


def plan_server_job(source: EarthEngineSource, model: ModelFile, settings: MapSettings, name: str) -> ServerJob:
    """The map's grid, season and export tiles (the run and its dry run plan the same ones)."""
    job = plan_job(source, model, settings, cut=False)
    tiles = export_tiles(job.grid, job.region_grid)
    if not tiles:
        raise EmptyResultError("the region holds no pixel of the output grid; give a larger region")
    return ServerJob(job, tuple(tiles), name)


def plan_server_map(
    source: EarthEngineSource,
    model: ModelFile,
    settings: MapSettings,
    out_dir: Path,
    on_server: OnServer,
    rates: Rates | None = None,
) -> ServerMapPlan:
    """``--on-server --dry-run``: the plan of the run, at the EECU rate of a pilot (else the planning default)."""
    server = plan_server_job(source, model, settings, on_server.name)
    job = server.job
    measured = rates.eecu_seconds_per_pixel if rates is not None else None
    return ServerMapPlan(
        name=on_server.name,
        year=job.year,
        grid=job.grid,
        tiles=server.tiles,
        windows=tuple(w for t in server.tiles for w in download_tiles(job.grid, t, job.region_grid)),
        area_km2=region_area_km2(job.region),
        local_bytes_per_pixel=local_route_bytes_per_pixel(job.season.n_bins, source.value_bytes),
        local_tile_size=local_route_tile_size(job.season.n_bins),
        destination=str(on_server.target.destination),
        keep_on_server=on_server.keep_on_server,
        eecu_seconds_per_pixel=measured if measured is not None else DEFAULT_EECU_SECONDS_PER_PIXEL,
        rate_source=rates.source if measured is not None and rates is not None else "planning default",
        done=frozenset(_finished_exports(out_dir)),
    )


def _finished_exports(out_dir: Path) -> list[str]:
    try:
        saved = json.loads((out_dir / EXPORTS_DIR / LEDGER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [u for u, e in (saved.get("tiles") or {}).items() if isinstance(e, dict) and e.get("state") == DONE]


@dataclass(frozen=True)
class MapExports:
    """The export tasks of an on-server map, as the task queue sees them (``tasks.ExportBatch``)."""

    source: EarthEngineSource
    model: ModelFile
    server: ServerJob
    project: str | None
    target: ExportTarget
    parcels: ParcelExport | None = None
    """The parcel table's export (``--parcels``): one more unit of the queue, beside the tiles."""
    retry_hint: str = "rerun the same command with --overwrite, or map a smaller region"

    @property
    def label(self) -> str:
        return f"export tasks {self.server.name}"

    def tile(self, unit: str) -> Tile:
        return next(t for t in self.server.tiles if t.name == unit)

    def description(self, unit: str) -> str:
        if self.parcels is not None and unit == self.parcels.unit:
            return self.parcels.description
        return self.server.names(self.tile(unit), self.project)[0]

    def classified(self, probabilities: bool = False) -> ee.Image:
        """The region's classified composite (``class``, ``confidence`` and with ``probabilities`` the
        ``p_<class>`` bands; masked where nothing was classified), the composite over the whole region's
        footprint (:func:`~gee_crop.mapping.sources.tile_footprint` of the grid)."""
        job, grid = self.server.job, self.server.job.grid
        footprint = tile_footprint(grid, Tile(0, 0, grid.height, grid.width), job.region_grid)
        composite = self.source.image(footprint, job.spec, job.season)
        return server_classification(self.model, composite, probabilities=probabilities, encoding=self.source.encoding)

    @functools.cached_property
    def image(self) -> ee.Image:
        """The map's bands ``class`` (NO_CLASS where nothing was classified) and ``confidence``: one graph
        for every task, each computing only its export grid."""
        classified = self.classified().select(list(MAP_BANDS))
        # masked pixels (outside the region, gap-heavy) are exported as NO_CLASS, never as class 0
        return classified.unmask(ee.Image.constant([NO_CLASS, 0]), False).toUint8()

    def export_config(self, unit: str, overwrite: bool) -> dict:
        if self.parcels is not None and unit == self.parcels.unit:
            return self.parcels.export_config(overwrite)
        tile = self.tile(unit)
        description, asset = self.server.names(tile, self.project)
        return image_export_config(
            self.image,
            description,
            crs=self.server.job.grid.crs,
            crs_transform=tile.transform(self.server.job.grid),
            dimensions=(tile.width, tile.height),
            destination=self.target.destination,
            asset_id=asset,
            bucket=self.target.bucket,
            folder=self.target.folder,
            overwrite=overwrite,
        )

    def collect(self, client: Any, ledger: RunLedger, unit: str) -> bool:
        if self.parcels is not None and unit == self.parcels.unit:
            return self.parcels.collect(client, ledger)
        asset = self.server.names(self.tile(unit), self.project)[1]
        if self.target.destination == ExportDestination.ASSET and client.get_asset(asset) is None:
            return False
        ledger.finish(unit, asset_id=asset)
        return True


@dataclass
class ServerMapResult:
    """What an on-server run did: its export tiles' assets, the tasks still waiting, the files written."""

    server: ServerJob
    assets: list[str]
    pending: list[str]
    collection: str | None = None
    """The map's image collection asset (export to assets), what ``gee-crop assess --map`` takes."""
    cog: Path | None = None
    preview: Path | None = None
    areas_csv: Path | None = None
    hectares: dict[str, float] = field(default_factory=dict)
    downloads: int = 0
    bytes_fetched: int = 0
    message: str = ""
    parcel_tasks: int = 0
    """Export tasks of the parcel table (``--parcels``: 1) beside the tiles'."""
    parcel_asset: str | None = None
    """The parcel table's asset (``--parcels``), once its export finished."""
    parcels: list[Path] = field(default_factory=list)
    """parcels.csv and parcels.gpkg, read back from ``parcel_asset``."""

    def lines(self) -> list[str]:
        """What the command prints."""
        n, job = len(self.server.tiles) + self.parcel_tasks, self.server.job
        lines = [
            f"on-server map of {self.server.name}, season {job.year}: {n - len(self.pending)}/{n} export tasks done"
        ]
        if self.message:
            lines.append(self.message)
        if self.cog is not None:
            pixels = self.bytes_fetched / len(MAP_BANDS) or 1
            lines += [f"wrote {p}" for p in (self.cog, self.preview, self.areas_csv)]
            lines.append(
                f"downloaded {self.downloads:,} windows, {self.bytes_fetched:,} bytes "
                f"({self.bytes_fetched / pixels:.0f} B/px)"
            )
            lines.append(
                "pixel-count area (ha): " + ", ".join(f"{c} {ha:,.2f}" for c, ha in self.hectares.items() if ha)
            )
        elif self.assets and not self.pending:
            lines.append(
                f"the map stays on Earth Engine (--keep-on-server): {self.collection}, an image collection of "
                f"{len(self.assets)} export tile(s); assess it with `gee-crop assess --map {self.collection} ...`:"
            )
            lines += [f"  {a}" for a in self.assets]
        if self.parcel_asset is not None:
            lines.append(f"parcel table on Earth Engine: {self.parcel_asset}")
        lines += [f"wrote {p}" for p in self.parcels]
        return lines


def run_server_map(
    client: Any,
    source: EarthEngineSource,
    model: ModelFile,
    out_dir: Path,
    settings: MapSettings,
    on_server: OnServer,
    *,
    parcels: ServerParcels | None = None,
    wait: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> ServerMapResult:
    """Run the map's export tasks (resumable: ``out_dir/exports/manifest.json``), then download the finished
    image assets into ``map.tif``, ``map.png`` and ``areas.csv`` unless ``keep_on_server`` (or the tasks wrote
    GeoTIFFs to Cloud Storage / Drive, which the user syncs). With ``parcels``, their table is one more
    export task of the same queue (:mod:`gee_crop.mapping.server_parcels`), read back into ``parcels.csv``
    and ``parcels.gpkg`` unless ``keep_on_server``."""
    name, target = on_server.name, on_server.target
    server = plan_server_job(source, model, settings, name)
    job = server.job
    project = getattr(client, "project", None)
    check_export_target(client, project, target.destination, target.bucket, len(server.tiles))
    batch = MapExports(source, model, server, project, target)
    if parcels is not None:
        check_parcel_asset(client, parcels)
        exported = parcel_export(
            parcels,
            batch.classified(probabilities=True),
            job.grid,
            name=name,
            year=job.year,
            project=str(project),
            destination=target.destination,
        )
        batch = MapExports(source, model, server, project, target, exported)
    ledger = RunLedger.open(
        out_dir / EXPORTS_DIR / LEDGER_NAME,
        {
            "model_sha256": model.sha256,
            "grid": job.grid.to_dict(),
            "spec": composite_settings(job.spec, job.season),
            "region_wkt": job.region.wkt,
            "destination": str(target.destination),
            "project": project,
        },
        units="tiles",
        overwrite=settings.overwrite,
    )
    units = [t.name for t in server.tiles] + ([batch.parcels.unit] if batch.parcels is not None else [])
    ledger.register(units)
    collection: str | None = None
    if target.destination == ExportDestination.ASSET:
        assert project is not None  # check_export_target refuses an asset export without a project
        collection = map_collection(project, name, job.year)  # the parent of every tile's image asset
        client.ensure_folder(collection.rsplit("/", 1)[0])
        if client.get_asset(collection) is None:
            client.create_image_collection(collection)
    pending = run_task_queue(
        client,
        batch,
        units,
        ledger,
        target,
        sleep=sleep if sleep is not None else getattr(client, "sleep", time.sleep),
        wait=wait,
        progress=settings.progress,
        overwrite=settings.overwrite,
    )
    ledger.save()
    tiles = [t.name for t in server.tiles]
    assets = [str(ledger.entry(u).get("asset_id")) for u in tiles if ledger.entry(u).get("asset_id")]
    result = ServerMapResult(server, assets, pending, collection, parcel_tasks=int(batch.parcels is not None))
    if pending:
        result.message = (
            f"{len(pending)} of {len(units)} export tasks are not finished; rerun the same command to resume"
        )
    elif target.destination != ExportDestination.ASSET:
        result.message = f"the tasks wrote GeoTIFFs to {target.destination}; sync them to mosaic them yourself"
    elif not on_server.keep_on_server:
        _download(cast(PixelClient, client), server, assets, out_dir, result)
    if batch.parcels is not None and not pending:
        result.parcel_asset = batch.parcels.asset_id
        if not on_server.keep_on_server:
            result.parcels = write_server_parcel_table(client, batch.parcels, job.grid, job.spec.classes, out_dir)
    return result


def _download(
    client: PixelClient, server: ServerJob, assets: list[str], out_dir: Path, result: ServerMapResult
) -> None:
    """Each finished asset, window by window, into ``out_dir/tiles`` (a window already there is kept), then
    the COG, preview and area table of the map route."""
    job, grid, classes = server.job, server.job.grid, server.job.spec.classes
    tile_paths: dict[Tile, Path] = {}
    for tile, asset in zip(server.tiles, assets, strict=True):
        image = ee.Image(asset)
        for window in download_tiles(grid, tile, job.region_grid):
            path = out_dir / TILES_DIR / f"{window.name}.tif"
            tile_paths[window] = path
            if path.is_file():
                continue
            pixels = client.compute_pixels(image, window.ee_grid(grid), list(MAP_BANDS))
            result.downloads += 1
            result.bytes_fetched += int(pixels.nbytes)
            bands = np.stack([np.asarray(pixels[b], dtype=np.uint8) for b in MAP_BANDS])
            writers.write_tile(path, bands, grid, window)
    tags = {"gee_crop_season": json.dumps(composite_settings(job.spec, job.season)), "year": str(job.year)}
    tags["source"] = "Earth Engine batch export (classified on the server)"
    counts = writers.assemble_cog(tile_paths, grid, out_dir / MAP_NAME, bands=[1, 2], tags=tags, classes=classes)
    rows = writers.area_table(counts, grid, classes)
    writers.write_area_csv(rows, out_dir / AREAS_NAME)
    writers.write_preview(
        out_dir / MAP_NAME,
        out_dir / PREVIEW_NAME,
        classes=classes,
        title=f"gee-crop map (on server), season {job.year}",
    )
    summary = {"year": job.year, "assets": assets, "downloads": result.downloads, "areas": rows}
    writers.write_atomic(out_dir / SUMMARY_NAME, lambda tmp: tmp.write_text(json.dumps(summary, indent=1), "utf-8"))
    result.cog, result.preview, result.areas_csv = out_dir / MAP_NAME, out_dir / PREVIEW_NAME, out_dir / AREAS_NAME
    result.hectares = {r["class"]: r["hectares"] for r in rows}
