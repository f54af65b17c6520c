"""`gee-crop sample`: build a sample table on Earth Engine (--country / --region) or from local data
(--source). Parses the options into ONE :class:`~gee_crop.data.sample_request.SamplingRequest`, calls the
pipeline function of its path with it, prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from gee_crop.cli import options
from gee_crop.config import INWARD_BUFFER_M, SAMPLE_SPACING_M, ExportDestination, SamplingMode
from gee_crop.season import MAX_SEASON_DAYS, SEASON_LENGTH_DAYS, WINDOW_DAYS
from gee_crop.sensors import medians_sensor_names

if TYPE_CHECKING:
    from gee_crop.data.sample_request import SamplingRequest

#: Options that only steer Earth Engine jobs: --source refuses them instead of ignoring them.
EARTH_ENGINE_ONLY = (
    "year",
    "cloud_band",
    "cloud_threshold",
    "mode",
    "export_to",
    "bucket",
    "exports_dir",
    "project",
    "service_account_key",
    "tile_deg",
    "tile_scale",
    "cdl_accuracy",
    "no_accuracy_filter",
    "no_wait",
    "pilot",
    "dry_run",
    "from_exports",
    "emit",
    "medians",
)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _check_source_options(ctx: click.Context) -> None:
    """--source samples a local stack: an Earth Engine option there is a usage error, not a no-op."""
    given = [p for p in ctx.command.params if p.name in EARTH_ENGINE_ONLY and _given(ctx, p.name)]
    if not given:
        return
    names = ", ".join(p.opts[0] for p in given)
    hint = (
        " (a --source table keeps every date of the stack; pick the season with `gee-crop train --year`)"
        if any(p.name == "year" for p in given)
        else ""
    )
    raise click.UsageError(f"{names} only apply to Earth Engine jobs; drop them with --source{hint}", ctx)


def _check_usage(ctx: click.Context, request: SamplingRequest) -> None:
    """Usage errors of the whole request, whichever path it takes."""
    out = request.run.out
    if request.source is not None:
        _check_source_options(ctx)
        if out is None:
            raise click.UsageError("--source needs --out FILE.parquet", ctx)
    elif request.run.from_exports is not None:
        if out is None:
            raise click.UsageError("--from-exports needs --out FILE.parquet", ctx)
    elif (
        request.labelling.labels is not None
        and not (request.country or request.region)
        and (out is None or request.season.year is None)
    ):
        raise click.UsageError("--labels without --region needs --year YEAR and --out FILE.parquet", ctx)


@click.command("sample")
@options.country("Country with registered labels: USA FRA BEL NLD GBR AUS ARG CHN.")
@options.region("GeoJSON polygon (WGS84) to sample.")
@options.source("Local raw stack (e.g. an Earth Engine patch folder) instead of Earth Engine.")
@click.option(
    "--labels",
    metavar="FILE_OR_ASSET",
    help="Your own labels: points or polygons in a one-layer file GDAL reads (.geojson, .gpkg, .shp, .fgb, "
    ".kml, .parquet; a declared CRS is reprojected to WGS84) or an Earth Engine table asset id; with --source "
    "also a label raster on the stack's grid (default there: the patch's own labels). Polygons get the inward "
    "buffer, points are used as they are.",
)
@click.option("--label-field", metavar="NAME", help="Field of --labels holding each feature's label value.")
@options.in_file(
    "--legend",
    metavar="CSV",
    help="Your legend: columns code,class (label value -> class name, or 'exclude' to drop it). "
    "The class list travels in the table and the model.",
)
@click.option(
    "--classes",
    metavar="A,B,...,other",
    help="Your class list (model output order); alone, label values are class names and others go to "
    "'other' when listed. Default: the paper's seven classes.",
)
@click.option(
    "--season-start",
    metavar="MM-DD",
    help="Your season's first day, the same date in both hemispheres (default: the paper's May 1, "
    "Nov 1 south of the equator). Stored in the table; train and map use it.",
)
@click.option(
    "--season-days",
    type=click.IntRange(min=1),
    metavar="N",
    help=f"Your season's length in days, at most {MAX_SEASON_DAYS} [default: {SEASON_LENGTH_DAYS}].",
)
@click.option(
    "--window-days",
    type=click.IntRange(min=1),
    metavar="D",
    help=f"Composite window in days; bins = ceil(N / D) [default: {WINDOW_DAYS}].",
)
@options.year
@options.count("--per-cell", "Samples per 0.1 deg cell, at least 1 [default: 1 in USA, 5 elsewhere and with --source].")
@click.option(
    "--spacing-m",
    type=options.FiniteFloat(min=0),
    default=SAMPLE_SPACING_M,
    help="Least distance between two samples (m), on Earth Engine and with --source.",
)
@click.option(
    "--buffer-m", type=options.FiniteFloat(min=0), default=INWARD_BUFFER_M, help="Inward buffer of the labels (m)."
)
@options.cloud_band
@options.cloud_threshold
@click.option(
    "--emit",
    is_flag=True,
    help="Also sample EMIT hyperspectral reflectance at the same points: medians of the 244 kept bands in "
    "June and August (north, on pixels clear in both) or February (south), on the 60 m EMIT grid; samples "
    "EMIT never saw clear drop out of the EMIT part. The EMIT table is written beside --out as OUT.emit.parquet "
    "(resumable per tile); --dry-run plans it.",
)
@click.option(
    "--medians",
    metavar="SENSOR",
    help="Also sample SENSOR's monthly medians at the same points, as --emit does for EMIT (known: "
    f"{', '.join(medians_sensor_names())}); written beside --out as OUT.SENSOR.parquet. --emit is --medians emit.",
)
@options.choice(
    "--mode", SamplingMode.AUTO, "interactive streams small regions; export runs batch tasks (one per tile)."
)
@options.choice(
    "--export-to",
    ExportDestination.ASSET,
    "Where export-mode tasks write their parts: Earth Engine table assets (read back by gee-crop "
    "itself), or CSVs on Google Drive / Cloud Storage (sync them and pass --exports-dir).",
)
@options.bucket
@click.option(
    "--exports-dir", type=click.Path(file_okay=False), help="Local folder holding the exported CSVs (Drive/GCS sync)."
)
@options.project
@options.service_account_key
@click.option(
    "--tile-deg", type=options.positive_float(), default=1.0, help="Tile size of the job (deg, multiple of 0.1)."
)
@click.option(
    "--tile-scale", type=options.positive_float(), default=1.0, help="Earth Engine tileScale (raise on memory errors)."
)
@options.in_file("--cdl-accuracy", help="Per-state CDL accuracy CSV (USA).")
@click.option("--no-accuracy-filter", is_flag=True, help="USA: skip the per-state CDL accuracy filter.")
@options.seed
@click.option("--no-wait", is_flag=True, help="Export mode: start/poll tasks once and return (rerun to resume).")
@options.count(
    "--pilot",
    metavar="N",
    help="Run N tiles spread over the job as batch exports, print their measured EECU-hours, task "
    "time and bytes extrapolated to the whole job against the quotas, and stop. Run it first.",
)
@options.dry_run(
    "Print the job's tiles and the tasks (or requests) it would run, with EECU-hours and hours "
    "at the rates of a --pilot when one ran; no Earth Engine call, nothing written."
)
@click.option(
    "--from-exports",
    type=click.Path(file_okay=False, exists=True),
    metavar="FOLDER",
    help="Build the table from CSVs already exported (e.g. by ee_scripts/sample.js); no Earth Engine.",
)
@options.out_file(
    "the sample table (.parquet); its resume state goes to FILE.parts/. Default: "
    "COUNTRY_YEAR.parquet (FRA_2025.parquet) or REGION_YEAR.parquet.",
    dest="out",
    required=False,
)
@options.overwrite
@click.pass_context
def command(ctx: click.Context, **given: Any) -> None:
    """Sample labelled pixels with their raw Sentinel-2 series into a sample table.

    \b
    Examples:
      gee-crop sample --country FRA          # latest complete season, FRA_<year>.parquet
      gee-crop sample --region aoi.geojson --year 2023 --project my-proj --out aoi.parquet
      gee-crop sample --source PATCH_DIR --out demo.parquet
      gee-crop sample --region aoi.geojson --labels fields.gpkg --label-field crop --legend legend.csv \\
          --season-start 11-01 --season-days 180 --year 2022 --out malawi.parquet
      gee-crop sample --country FRA --project my-proj --pilot 4 --out fra.parquet
    A rerun of the same command resumes: finished tiles are kept, failed tasks restarted.
    On Earth Engine --year defaults to the most recent complete season of the country's (region's)
    hemisphere, and --project to $EE_PROJECT, $GOOGLE_CLOUD_PROJECT, then your saved credentials'
    project; --source keeps every date of the stack.
    """
    from gee_crop.data.sample_request import SamplingRequest

    sample_command(ctx, SamplingRequest.from_options(**given))


def sample_command(ctx: click.Context, request: SamplingRequest) -> None:
    """`gee-crop sample` with its one request: the path it asks for (--from-exports, --dry-run, --pilot,
    else the run) gets the whole request."""
    from gee_crop.pipeline.pilot import dry_run, pilot
    from gee_crop.pipeline.sample import sample, table_from_exports

    _check_usage(ctx, request)
    if request.run.from_exports is not None:
        click.echo(table_from_exports(request))
    elif request.run.dry_run:
        click.echo(dry_run(request))
    elif request.run.pilot is not None:
        click.echo(pilot(request))
    else:
        click.echo(sample(request, echo=click.echo))
