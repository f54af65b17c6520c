"""``gee-crop map``: a wall-to-wall crop-type map (COG + PNG + area table) from a local stack or Earth Engine."""

from __future__ import annotations

from pathlib import Path

import click

from gee_crop.cli import options
from gee_crop.config import Encoding, ExportDestination, Precision, Scheduler


def _bbox(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    try:
        lon_min, lat_min, lon_max, lat_max = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: give lon_min,lat_min,lon_max,lat_max in degrees") from None
    return lon_min, lat_min, lon_max, lat_max


@click.command("map")
@options.in_file(
    "--model",
    "model_path",
    default=None,
    help="ONNX model written by `gee-crop export` (fp32 or --quantize int8), a CropNet model.pt to "
    "run on torch (see --precision), or the name of a shipped model (`gee-crop models`). "
    "Default: the shipped default model (tempcnn-weu, the distilled student of cropnet-weu; "
    "Western-Europe corn/wheat/other).",
)
@options.out_dir(
    "map.tif (COG), map.png, areas.csv, summary.json, report.html and tiles/ (a rerun resumes from them). "
    "Default: REGION_map for --region REGION.geojson, STACK_map for --source STACK.",
    required=False,
)
@options.source(
    "Local raw S2 L2A stack: an Earth Engine patch folder, NetCDF, Zarr or GeoTIFF.", dest="source_path", default=None
)
@click.option(
    "--earthengine",
    is_flag=True,
    help="Composite on Earth Engine (the default when --region or --bbox comes without --source).",
)
@options.country("Map a country with registered labels (its shipped outline): USA FRA BEL NLD GBR AUS ARG CHN.")
@options.region("GeoJSON polygon to map (default: the whole --source).", dest="region_path", default=None)
@click.option("--bbox", callback=_bbox, default=None, help="lon_min,lat_min,lon_max,lat_max instead of --region.")
@options.year
@click.option(
    "--crs",
    type=options.CrsType(),
    default=None,
    help="Output CRS, e.g. EPSG:32631 (default: the stack's, or the UTM zone).",
)
@options.scale("Output pixel size in CRS units (default: the stack's, or 10 m).", default=None)
@options.count(
    "--tile-size",
    "Tile side in pixels (default 256 local; the largest under 48 MiB per request on Earth Engine).",
)
@options.count("--batch-size", "Pixels per onnxruntime call.", default=512)
@options.count(
    "--workers",
    "Tiles processed at once (default: one per CPU core; onnxruntime gets cores / workers threads).",
)
@click.option(
    "--scheduler",
    default=Scheduler.LOCAL.value,
    help="'local' (a Dask LocalCluster), 'threads', 'synchronous', or the address of a running "
    "Dask scheduler (tcp://host:8786) whose workers see --model and --source.",
)
@click.option("--probabilities", is_flag=True, help="Also write probabilities.tif (one band per class, percent).")
@click.option(
    "--cropland-mask",
    is_flag=True,
    help="Classify only ESA WorldCover cropland (class 40): on Earth Engine directly, locally from --worldcover.",
)
@options.in_file("--worldcover", default=None, help="Local WorldCover GeoTIFF for --cropland-mask with --source.")
@options.count(
    "--max-gap-bins",
    "Longest run of empty bins to interpolate (default: the model's training value); "
    "pixels with longer gaps stay unmapped.",
    least=0,
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    help="onnxruntime execution provider(s), e.g. CUDAExecutionProvider (default: best available).",
)
@options.choice("--precision", Precision.FP32, "bf16 runs a model.pt on torch (CPUs with AVX-512 BF16/AMX, CUDA GPUs).")
@click.option(
    "--in-flight",
    "in_flight",
    type=click.IntRange(min=1, max=40),
    default=None,
    help="Earth Engine requests kept in flight while earlier tiles are classified (default 8; "
    "each holds one fetched tile in memory; at most the project's 40).",
)
@options.choice(
    "--encoding",
    Encoding.SQRT8,
    "How Earth Engine sends the composite: sqrt8 (1 byte per value, square-root scaled "
    "reflectance; half the bytes, the same predictions on the benchmark folds) or uint16 "
    "(2 bytes, DN exact to half a DN).",
)
@options.dry_run(
    "Print the tiles, requests, bytes, estimated Earth Engine and local time (at the rates of "
    "OUT.pilot/pilot.json, else defaults) and the output size; fetch and write nothing."
)
@click.option(
    "--pilot",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Fetch N tiles of the map on Earth Engine (spread over the region), profiled, and save their "
    "seconds per request, bytes per second and EECU per tile to OUT.pilot/pilot.json for --dry-run; "
    "nothing is classified or written to OUT.",
)
@options.in_file(
    "--parcels",
    "parcels_path",
    default=None,
    help="Field polygons (any one-layer file GDAL reads, as --labels; reprojected to the map's CRS): after "
    "the map, parcels.csv and parcels.gpkg beside it give each parcel's fields, its majority class, the "
    "class of its mean probability, the winning share, mean confidence, pixel count and flags. Parcels "
    "are eroded by half a pixel before counting, so edge pixels of neighbours do not vote. With --on-server, "
    "one batch reduceRegions task counts them on Earth Engine (no pixel download); too large a file is "
    "refused: give a table asset id (projects/P/assets/NAME) instead.",
)
@options.count("--min-parcel-pixels", "Flag parcels with fewer counted pixels as small.", default=4)
@click.option(
    "--mmu",
    type=float,
    default=None,
    metavar="HA",
    help="Minimum mapping unit in hectares: also write map_clean.tif, where regions (8-connected) "
    "smaller than HA take the class most of their bordering pixels have (map.tif stays raw).",
)
@click.option(
    "--majority",
    type=int,
    default=None,
    metavar="K",
    help="Also write map_clean.tif with a K x K majority filter (K odd, >= 3; unmapped pixels do not "
    "vote and stay unmapped), applied before --mmu.",
)
@click.option(
    "--on-server",
    is_flag=True,
    help="Classify on Earth Engine: one batch export task (Export.image) per export tile writes class and "
    "confidence (2 B/px come home instead of the 430 B/px composite); resumable like `sample`. The model must "
    "run on the server (a TempCNN or a forest; a CropNet stays local).",
)
@click.option(
    "--keep-on-server",
    is_flag=True,
    help="With --on-server: leave the finished map assets on Earth Engine and print their ids (no download).",
)
@options.choice(
    "--export-to",
    ExportDestination.ASSET,
    "With --on-server: where the tasks write: image assets (downloaded into map.tif), or GeoTIFFs on "
    "Cloud Storage (--bucket) or Drive (you sync them).",
)
@options.bucket
@options.cloud_band
@options.project
@options.service_account_key
@options.overwrite
@options.quiet
def command(
    model_path,
    out_dir,
    source_path,
    earthengine,
    country,
    region_path,
    bbox,
    year,
    crs,
    scale,
    tile_size,
    batch_size,
    workers,
    scheduler,
    probabilities,
    cropland_mask,
    worldcover,
    max_gap_bins,
    providers,
    precision,
    in_flight,
    encoding,
    dry_run,
    pilot,
    parcels_path,
    min_parcel_pixels,
    mmu,
    majority,
    on_server,
    keep_on_server,
    export_to,
    bucket,
    cloud_band,
    project,
    service_account_key,
    overwrite,
    quiet,
) -> None:
    """Map crop types wall to wall with an exported CropNet.

    Composites 5-day medians exactly as in training (season, window, cloud threshold and gap rule are
    read from the model), classifies every pixel with onnxruntime, tile by tile (in parallel with
    Dask), and writes map.tif (class + confidence COG), map.png and areas.csv. A rerun of the same
    command resumes: finished tiles are kept.

    \b
    On Earth Engine, with the shipped default model, the latest complete season and --out aoi_map:
      gee-crop map --region aoi.geojson
    Offline, on a local stack:
      gee-crop map --source PATCH_DIR --model cropnet2d.onnx --out map
    A country, classified on Earth Engine by batch tasks (plan it first):
      gee-crop map --country FRA --on-server --dry-run
    """
    from gee_crop.config import SourceKind
    from gee_crop.countries import country_region
    from gee_crop.data.regions import region_of_options
    from gee_crop.earthengine.tasks import ExportTarget
    from gee_crop.features.seasons import default_season
    from gee_crop.features.shift import describe_score, shift_warnings
    from gee_crop.mapping.engine import MapResult
    from gee_crop.mapping.estimate import MapEstimate
    from gee_crop.mapping.request import MapRequest, MapSettings, OnServer, SourceRequest
    from gee_crop.mapping.server_map import ServerMapResult
    from gee_crop.mapping.server_plan import ServerMapPlan
    from gee_crop.models.domain import region_points
    from gee_crop.models.io import ModelFile
    from gee_crop.models.zoo import domain_report, resolve_model
    from gee_crop.pipeline.defaults import map_out_name
    from gee_crop.pipeline.map import map_command
    from gee_crop.pipeline.map import pilot as run_pilot

    if sum(bool(v) for v in (country, region_path, bbox)) > 1:
        raise click.UsageError("give one of --country, --region or --bbox")
    if source_path is None and not earthengine and not (country or region_path or bbox):
        raise click.UsageError("say what to map: --region aoi.geojson (Earth Engine) or --source STACK (local)")
    if (keep_on_server or bucket or export_to != ExportDestination.ASSET) and not on_server:
        raise click.UsageError("--keep-on-server, --export-to and --bucket apply to --on-server maps")
    if on_server and (source_path or pilot is not None):
        raise click.UsageError("--on-server maps on Earth Engine by batch tasks: drop --source and --pilot")
    earthengine = earthengine or source_path is None
    # read once: the request carries the geometry
    region = country_region(country) if country else region_of_options(region_path, bbox)
    if earthengine and region is not None:
        year, note = default_season(year, region.centroid.y)
        click.echo(note)
    model_path, zoo = resolve_model(model_path)
    if zoo is not None:
        click.echo(
            f"model: {zoo.name} (the shipped default: {zoo.summary}; `gee-crop info {zoo.name}` shows "
            "its card, --model to use another)"
            if zoo.default
            else f"model: {zoo.name} ({zoo.summary})"
        )
    model = ModelFile.read(model_path)  # read once: the request carries it
    if earthengine and region is not None:  # the domain guard (models/domain.py): the region against the model's
        # footprint, before any tile is fetched (a local stack's region is checked against the stack first)
        guard = domain_report(model.path, model.meta, *region_points(region), what="the region's points")
        click.echo(guard.line, err=guard.fires)
    # the one request of this command: the run and --dry-run both take it whole
    request = MapRequest(
        model=model,
        out_dir=Path(out_dir or (f"{country.upper()}_map" if country else map_out_name(region_path, source_path))),
        source=SourceRequest(
            SourceKind.EARTHENGINE if earthengine else SourceKind.LOCAL,
            path=Path(source_path) if source_path else None,
            cropland_mask=cropland_mask,
            worldcover=Path(worldcover) if worldcover else None,
            cloud_band=cloud_band,
            project=project,
            encoding=encoding,
            service_account_key=Path(service_account_key) if service_account_key else None,
        ),
        settings=MapSettings(
            region=region,
            year=year,
            crs=crs,
            scale=scale,
            tile_size=tile_size,
            batch_size=batch_size,
            workers=workers,
            scheduler=scheduler,
            in_flight=in_flight,
            probabilities=probabilities,
            max_gap_bins=max_gap_bins,
            providers=tuple(providers),
            precision=precision,
            overwrite=overwrite,
            progress=not quiet,
            mmu=mmu,
            majority=majority,
        ),
        dry_run=dry_run,
        pilot=pilot,
        parcels=Path(parcels_path) if parcels_path else None,
        min_parcel_pixels=min_parcel_pixels,
        on_server=OnServer(
            country.upper() if country else Path(region_path).stem if region_path else "bbox",
            ExportTarget(export_to, bucket=bucket),
            keep_on_server,
        )
        if on_server
        else None,
    )
    if pilot is not None:
        if dry_run:
            raise click.UsageError("give --pilot N or --dry-run, not both (run the pilot first, then --dry-run)")
        for line in run_pilot(request).lines():
            click.echo(line)
        return
    result = map_command(request)
    if isinstance(result, (ServerMapPlan, ServerMapResult)):
        for line in result.lines():
            click.echo(line)
        return
    if dry_run:
        assert isinstance(result, MapEstimate)  # map_command plans a dry run
        for line in result.lines():
            click.echo(line)
        return
    assert isinstance(result, MapResult)  # ... and runs anything else
    grid = result.grid
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(
        f"mapped season {result.year}: {grid.width} x {grid.height} px of {grid.scale:g} {grid.units} "
        f"({grid.crs}), {result.n_tiles} tile(s) ({result.n_tiles_resumed} resumed), "
        f"{result.n_pixels_classified:,} pixels at {result.pixels_per_second:,.0f} px/s"
    )
    for path in (result.cog, result.clean, result.probabilities, result.preview, result.areas_csv, *result.parcels):
        if path is not None:
            click.echo(f"wrote {path}")
    whole_map = result.domain_shift.get("whole_map")
    if whole_map:  # transfer risk (docs/mapping.md): per tile in summary.json and report.html
        click.echo(describe_score(whole_map))
        for warning in shift_warnings(whole_map):
            click.echo(warning, err=True)
    click.echo("pixel-count area (ha): " + ", ".join(f"{c} {ha:,.2f}" for c, ha in result.hectares.items() if ha))
    click.echo(
        "  (pixel counts are biased by the map's errors, not area estimates: estimate areas with 95 % "
        "confidence intervals with `gee-crop assess`, see docs/assessment.md)"
    )
    if result.bytes_fetched:
        click.echo(
            f"fetched {result.bytes_per_pixel:.0f} bytes/pixel (lossless at their smallest: "
            f"{result.min_bytes_per_pixel})"
        )
    if result.accuracy is not None:
        a = result.accuracy
        click.echo(
            f"map accuracy vs the source's label raster: OA {100 * a.overall_accuracy:.2f} %, "
            f"macro-F1 {100 * a.macro_f1:.2f} % on {a.n_pixels:,} labelled pixels"
            + (f" ({a.n_unmapped:,} labelled pixels unmapped)" if a.n_unmapped else "")
        )
    if result.clean_accuracy is not None:
        c = result.clean_accuracy
        click.echo(
            f"cleaned map (map_clean.tif): OA {100 * c.overall_accuracy:.2f} %, macro-F1 {100 * c.macro_f1:.2f} %"
        )
