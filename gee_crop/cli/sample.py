"""`gee-crop sample`: build a sample table on Earth Engine (--country / --region) or from local data
(--source). Parses options, calls one pipeline function, prints."""
from __future__ import annotations

import click
from click.core import ParameterSource

from gee_crop.cli import options
from gee_crop.config import GRID_CELL_DEG, INWARD_BUFFER_M, SAMPLE_SPACING_M

#: The season year sampled on Earth Engine when --year is not given (the paper's year).
EARTH_ENGINE_YEAR = 2023
#: Options that only steer Earth Engine jobs: --source refuses them instead of ignoring them.
EARTH_ENGINE_ONLY = ("year", "cloud_band", "cloud_threshold", "mode", "export_to", "bucket", "exports_dir",
                     "project", "service_account_key", "tile_deg", "tile_scale", "cdl_accuracy",
                     "no_accuracy_filter", "no_wait")


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _check_source_options(ctx: click.Context) -> None:
    """--source samples a local stack: an Earth Engine option there is a usage error, not a no-op."""
    given = [p for p in ctx.command.params if p.name in EARTH_ENGINE_ONLY and _given(ctx, p.name)]
    if not given:
        return
    names = ", ".join(p.opts[0] for p in given)
    hint = (" (a --source table keeps every date of the stack; pick the season with "
            "`gee-crop train --year`)" if any(p.name == "year" for p in given) else "")
    raise click.UsageError(f"{names} only apply to Earth Engine jobs; drop them with --source{hint}", ctx)


@click.command("sample")
@click.option("--country", metavar="ISO3", help="Country with registered labels: USA FRA BEL NLD GBR AUS ARG CHN.")
@click.option("--region", type=click.Path(dir_okay=False), help="GeoJSON polygon (WGS84) to sample.")
@click.option("--source", type=click.Path(), help="Local raw stack (e.g. an Earth Engine patch folder) instead of Earth Engine.")
@click.option("--labels", type=click.Path(), help="Label raster for --source (default: the patch's own labels).")
@options.year
@click.option("--per-cell", type=click.IntRange(min=1),
              help="Samples per 0.1 deg cell, at least 1 [default: 1 in USA, 5 elsewhere and with --source].")
@click.option("--spacing-m", type=click.FloatRange(min=0), default=SAMPLE_SPACING_M, show_default=True,
              help="Least distance between two samples (m), on Earth Engine and with --source.")
@click.option("--buffer-m", type=float, default=INWARD_BUFFER_M, show_default=True, help="Inward buffer of the labels (m).")
@options.cloud_band
@options.cloud_threshold
@click.option("--mode", type=click.Choice(["auto", "interactive", "export"]), default="auto", show_default=True,
              help="interactive streams small regions; export runs batch tasks (one per tile).")
@click.option("--export-to", type=click.Choice(["drive", "gcs", "asset"]), default="drive", show_default=True,
              help="Where export-mode tasks write their CSV parts: Google Drive, Cloud Storage or Earth Engine assets.")
@click.option("--bucket", help="Cloud Storage bucket for --export-to gcs.")
@click.option("--exports-dir", type=click.Path(file_okay=False), help="Local folder holding the exported CSVs (Drive/GCS sync).")
@options.project
@options.service_account_key
@click.option("--tile-deg", type=float, default=1.0, show_default=True, help="Tile size of the job (deg, multiple of 0.1).")
@click.option("--tile-scale", type=float, default=1.0, show_default=True, help="Earth Engine tileScale (raise on memory errors).")
@click.option("--cdl-accuracy", type=click.Path(dir_okay=False), help="Per-state CDL accuracy CSV (USA).")
@click.option("--no-accuracy-filter", is_flag=True, help="USA: skip the per-state CDL accuracy filter.")
@options.seed
@click.option("--no-wait", is_flag=True, help="Export mode: start/poll tasks once and return (rerun to resume).")
@options.out_file("the sample table (.parquet); its resume state goes to FILE.parts/.", dest="out")
@options.overwrite
@click.pass_context
def command(ctx: click.Context, country, region, source, labels, year, per_cell, spacing_m, buffer_m, cloud_band,
            cloud_threshold, mode, export_to, bucket, exports_dir, project, service_account_key, tile_deg,
            tile_scale, cdl_accuracy, no_accuracy_filter, seed, no_wait, out, overwrite) -> None:
    """Sample labelled pixels with their raw Sentinel-2 series into a sample table.

    \b
    Examples:
      gee-crop sample --country FRA --project my-proj --export-to asset --out fra.parquet
      gee-crop sample --region aoi.geojson --project my-proj --out aoi.parquet
      gee-crop sample --source PATCH_DIR --out demo.parquet
    A rerun of the same command resumes: finished tiles are kept, failed tasks restarted.
    On Earth Engine --year defaults to 2023; --source keeps every date of the stack.
    """
    from gee_crop.pipeline.sample import sample

    if source is not None:
        _check_source_options(ctx)
    summary = sample(country=country, region=region, source=source, labels=labels,
                     year=EARTH_ENGINE_YEAR if year is None else year,
                     per_cell=per_cell, cloud_band=cloud_band, threshold=cloud_threshold, buffer_m=buffer_m,
                     mode=mode, export_to=export_to, bucket=bucket, exports_dir=exports_dir,
                     project=project, service_account_key=service_account_key, tile_deg=tile_deg,
                     tile_scale=tile_scale, cdl_accuracy=cdl_accuracy,
                     accuracy_filter=not no_accuracy_filter, seed=seed, wait=not no_wait, out=out,
                     overwrite=overwrite, cell_deg=GRID_CELL_DEG, spacing_m=spacing_m)
    click.echo(summary)
