"""`gee-crop sample`: build a sample table on Earth Engine (--country / --region) or from local data
(--source). Parses options, calls one library function, prints."""
from __future__ import annotations

import click

from gee_crop.config import CLEAR_THRESHOLD, GRID_CELL_DEG, INWARD_BUFFER_M, SAMPLE_SPACING_M


@click.command("sample")
@click.option("--country", metavar="ISO3", help="Country with registered labels: USA FRA BEL NLD GBR AUS ARG CHN.")
@click.option("--region", type=click.Path(dir_okay=False), help="GeoJSON polygon (WGS84) to sample.")
@click.option("--source", type=click.Path(), help="Local raw stack (e.g. an Earth Engine patch folder) instead of Earth Engine.")
@click.option("--labels", type=click.Path(), help="Label raster for --source.")
@click.option("--year", type=int, default=2023, show_default=True, help="Season year (south: Jul of year-1 .. Jun).")
@click.option("--per-cell", type=int, help="Samples per 0.1 deg cell [1 in USA, 5 elsewhere].")
@click.option("--cloud-band", type=click.Choice(["cs", "cs_cdf"]), default="cs", show_default=True)
@click.option("--threshold", type=float, default=CLEAR_THRESHOLD, show_default=True, help="Clear if Cloud Score+ >= this.")
@click.option("--buffer-m", type=float, default=INWARD_BUFFER_M, show_default=True, help="Inward buffer of the labels (m).")
@click.option("--mode", type=click.Choice(["auto", "interactive", "export"]), default="auto", show_default=True,
              help="interactive streams small regions; export runs batch tasks (one per tile).")
@click.option("--export-to", type=click.Choice(["drive", "gcs", "asset"]), default="drive", show_default=True)
@click.option("--bucket", help="Cloud Storage bucket for --export-to gcs.")
@click.option("--exports-dir", type=click.Path(file_okay=False), help="Local folder holding the exported CSVs (Drive/GCS sync).")
@click.option("--project", help="Cloud project registered for Earth Engine (or set EE_PROJECT).")
@click.option("--service-account-key", type=click.Path(dir_okay=False), help="Service-account JSON key.")
@click.option("--tile-deg", type=float, default=1.0, show_default=True, help="Tile size of the job (deg, multiple of 0.1).")
@click.option("--tile-scale", type=float, default=1.0, show_default=True, help="Earth Engine tileScale (raise on memory errors).")
@click.option("--cdl-accuracy", type=click.Path(dir_okay=False), help="Per-state CDL accuracy CSV (USA).")
@click.option("--no-accuracy-filter", is_flag=True, help="USA: skip the per-state CDL accuracy filter.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-wait", is_flag=True, help="Export mode: start/poll tasks once and return (rerun to resume).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Sample table to write (.parquet).")
@click.option("--overwrite", is_flag=True, help="Replace --out and its resume state.")
def command(country, region, source, labels, year, per_cell, cloud_band, threshold, buffer_m, mode,
            export_to, bucket, exports_dir, project, service_account_key, tile_deg, tile_scale,
            cdl_accuracy, no_accuracy_filter, seed, no_wait, out, overwrite) -> None:
    """Sample labelled pixels with their raw Sentinel-2 series into a sample table.

    \b
    Examples:
      gee-crop sample --country FRA --project my-proj --export-to asset --out fra.parquet
      gee-crop sample --region aoi.geojson --project my-proj --out aoi.parquet
      gee-crop sample --source PATCH_DIR --out demo.parquet
    A rerun of the same command resumes: finished tiles are kept, failed tasks restarted.
    """
    from gee_crop.pipeline.sample import sample

    summary = sample(country=country, region=region, source=source, labels=labels, year=year,
                     per_cell=per_cell, cloud_band=cloud_band, threshold=threshold, buffer_m=buffer_m,
                     mode=mode, export_to=export_to, bucket=bucket, exports_dir=exports_dir,
                     project=project, service_account_key=service_account_key, tile_deg=tile_deg,
                     tile_scale=tile_scale, cdl_accuracy=cdl_accuracy,
                     accuracy_filter=not no_accuracy_filter, seed=seed, wait=not no_wait, out=out,
                     overwrite=overwrite, cell_deg=GRID_CELL_DEG, spacing_m=SAMPLE_SPACING_M)
    click.echo(summary)
