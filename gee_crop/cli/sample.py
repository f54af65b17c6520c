"""`gee-crop sample`: build a sample table on Earth Engine (--country / --region) or from local data
(--source). Parses options, calls one pipeline function, prints."""
from __future__ import annotations

import click
from click.core import ParameterSource

from gee_crop.cli import options
from gee_crop.config import GRID_CELL_DEG, INWARD_BUFFER_M, SAMPLE_SPACING_M
from gee_crop.season import MAX_SEASON_DAYS, SEASON_LENGTH_DAYS, WINDOW_DAYS

#: Options that only steer Earth Engine jobs: --source refuses them instead of ignoring them.
EARTH_ENGINE_ONLY = ("year", "cloud_band", "cloud_threshold", "mode", "export_to", "bucket", "exports_dir",
                     "project", "service_account_key", "tile_deg", "tile_scale", "cdl_accuracy",
                     "no_accuracy_filter", "no_wait", "pilot", "from_exports")


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
@click.option("--labels", metavar="FILE_OR_ASSET",
              help="Your own labels: points or polygons (.geojson, .gpkg, .shp; a declared CRS is reprojected to "
                   "WGS84) or an Earth Engine table asset id; with --source also a label raster on the stack's grid "
                   "(default there: the patch's own labels). Polygons get the inward buffer, points are used as they are.")
@click.option("--label-field", metavar="NAME", help="Field of --labels holding each feature's label value.")
@click.option("--legend", type=click.Path(dir_okay=False), metavar="CSV",
              help="Your legend: columns code,class (label value -> class name, or 'exclude' to drop it). "
                   "The class list travels in the table and the model.")
@click.option("--classes", metavar="A,B,...,other",
              help="Your class list (model output order); alone, label values are class names and others go to "
                   "'other' when listed. Default: the paper's seven classes.")
@click.option("--season-start", metavar="MM-DD",
              help="Your season's first day, the same date in both hemispheres (default: the paper's May 1, "
                   "Nov 1 south of the equator). Stored in the table; train and map use it.")
@click.option("--season-days", type=int, metavar="N",
              help=f"Your season's length in days, at most {MAX_SEASON_DAYS} [default: {SEASON_LENGTH_DAYS}].")
@click.option("--window-days", type=int, metavar="D",
              help=f"Composite window in days; bins = ceil(N / D) [default: {WINDOW_DAYS}].")
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
@click.option("--export-to", type=click.Choice(["asset", "drive", "gcs"]), default="asset", show_default=True,
              help="Where export-mode tasks write their parts: Earth Engine table assets (read back by gee-crop "
                   "itself), or CSVs on Google Drive / Cloud Storage (sync them and pass --exports-dir).")
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
@click.option("--pilot", type=click.IntRange(min=1), metavar="N",
              help="Run N tiles spread over the job as batch exports, print their measured EECU-hours, task "
                   "time and bytes extrapolated to the whole job against the quotas, and stop. Run it first.")
@click.option("--dry-run", is_flag=True,
              help="Print the job's tiles and the tasks (or requests) it would run, with EECU-hours and hours "
                   "at the rates of a --pilot when one ran; no Earth Engine call, nothing written.")
@click.option("--from-exports", type=click.Path(file_okay=False, exists=True), metavar="FOLDER",
              help="Build the table from CSVs already exported (e.g. by ee_scripts/sample.js); no Earth Engine.")
@options.out_file("the sample table (.parquet); its resume state goes to FILE.parts/. Default: "
                  "COUNTRY_YEAR.parquet (FRA_2025.parquet) or REGION_YEAR.parquet.", dest="out", required=False)
@options.overwrite
@click.pass_context
def command(ctx: click.Context, country, region, source, labels, label_field, legend, classes, season_start,
            season_days, window_days, year, per_cell, spacing_m, buffer_m, cloud_band,
            cloud_threshold, mode, export_to, bucket, exports_dir, project, service_account_key, tile_deg,
            tile_scale, cdl_accuracy, no_accuracy_filter, seed, no_wait, pilot, dry_run, from_exports, out, overwrite) -> None:
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
    from gee_crop.pipeline.defaults import default_season, sample_out_name, sampling_place
    from gee_crop.pipeline.sample import sample, table_from_exports

    if source is not None:
        _check_source_options(ctx)
    if from_exports is not None:
        click.echo(table_from_exports(from_exports, out, overwrite=overwrite, cloud_band=cloud_band))
        return
    if dry_run and source is None:
        from gee_crop.pipeline.pilot import sampling_dry_run

        name, latitude = sampling_place(country, region)
        year, _ = default_season(year, latitude)
        click.echo(sampling_dry_run(out=out or sample_out_name(name, year), mode=mode, project=project,
                                    country=country, region=region, year=year, per_cell=per_cell,
                                    cdl_accuracy=cdl_accuracy, accuracy_filter=not no_accuracy_filter,
                                    cloud_band=cloud_band, threshold=cloud_threshold, buffer_m=buffer_m, seed=seed,
                                    tile_deg=tile_deg, tile_scale=tile_scale, cell_deg=GRID_CELL_DEG,
                                    spacing_m=spacing_m))
        return
    if pilot is not None:
        from gee_crop.pipeline.pilot import pilot as run_pilot

        click.echo(run_pilot(n=pilot, out=out, overwrite=overwrite, project=project,
                             service_account_key=service_account_key, export_to=export_to, bucket=bucket,
                             exports_dir=exports_dir, country=country, region=region,
                             year=default_season(year, sampling_place(country, region)[1])[0], per_cell=per_cell,
                             cdl_accuracy=cdl_accuracy, accuracy_filter=not no_accuracy_filter,
                             cloud_band=cloud_band, threshold=cloud_threshold, buffer_m=buffer_m, seed=seed,
                             tile_deg=tile_deg, tile_scale=tile_scale, cell_deg=GRID_CELL_DEG, spacing_m=spacing_m))
        return
    if source is not None:
        if out is None:
            raise click.UsageError("--source needs --out FILE.parquet", ctx)
    elif labels is not None and not (country or region):
        if out is None or year is None:
            raise click.UsageError("--labels without --region needs --year YEAR and --out FILE.parquet", ctx)
    elif country or region:
        name, latitude = sampling_place(country, region)
        year, note = default_season(year, latitude)
        out = out or sample_out_name(name, year)
        click.echo(f"sampling {name}, {note}; writing {out}")
    summary = sample(country=country, region=region, source=source, labels=labels, year=year,
                     per_cell=per_cell, cloud_band=cloud_band, threshold=cloud_threshold, buffer_m=buffer_m,
                     mode=mode, export_to=export_to, bucket=bucket, exports_dir=exports_dir,
                     project=project, service_account_key=service_account_key, tile_deg=tile_deg,
                     tile_scale=tile_scale, cdl_accuracy=cdl_accuracy,
                     accuracy_filter=not no_accuracy_filter, seed=seed, wait=not no_wait, out=out,
                     overwrite=overwrite, cell_deg=GRID_CELL_DEG, spacing_m=spacing_m, label_field=label_field,
                     legend=legend, classes=classes, season_start=season_start, season_days=season_days,
                     window_days=window_days)
    click.echo(summary)
