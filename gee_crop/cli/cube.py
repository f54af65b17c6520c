"""``gee-crop cube``: a composite cube (Zarr) of every labelled pixel, for training (``gee-crop train CUBE``)."""

from __future__ import annotations

from typing import Any

import click

from gee_crop.cli import options
from gee_crop.config import CUBE_BLOCK_PX, INWARD_BUFFER_M


@click.command("cube")
@options.source("Local raw stack (an Earth Engine patch folder) to composite.")
@options.region("Area (GeoJSON polygon) to read from Earth Engine instead of a local --source; needs --labels.")
@click.option(
    "--labels",
    metavar="FILE_OR_ASSET",
    help="Your labels: polygons (.geojson, .gpkg, .shp, ...) or, with --region, an Earth Engine table asset id; "
    "with --source also points or a label raster on the stack's grid [default with --source: the patch's own "
    "label raster].",
)
@click.option("--label-field", metavar="NAME", help="Field of vector --labels holding each feature's label value.")
@options.in_file("--legend", metavar="CSV", help="Your legend: columns code,class (label value -> class name).")
@click.option(
    "--buffer-m", type=options.FiniteFloat(min=0), default=INWARD_BUFFER_M, help="Inward buffer of the labels (m)."
)
@options.year
@options.count(
    "--block-px",
    "Side of a cube block (pixels): one Zarr chunk, the unit of resuming, reading and of the spatial validation split "
    "(with --region: one Earth Engine request).",
    default=CUBE_BLOCK_PX,
)
@options.project
@options.service_account_key
@options.dry_run("With --region: print the Earth Engine requests, pixels and bytes of the run; needs no credentials.")
@options.out_dir("the cube, a Zarr store (e.g. cube.zarr); its resume state goes to DIR.parts/.", dest="out")
@options.overwrite
def command(
    source: str | None,
    region: str | None,
    labels: str | None,
    label_field: str | None,
    legend: str | None,
    buffer_m: float,
    year: int | None,
    block_px: int,
    project: str | None,
    service_account_key: str | None,
    dry_run: bool,
    out: str,
    overwrite: bool,
) -> None:
    """Composite every labelled pixel into a chunked Zarr cube for training, from a local stack or Earth Engine.

    \b
    Each labelled pixel (after the inward buffer) gets the 10 x t gap-filled 5-day-median composite that
    `gee-crop map` computes, as uint16 DN, beside its class; other pixels are masked. The cube carries
    its season, classes and model contract; `gee-crop train CUBE` streams it block by block.
    With --region, the composite and your labels (painted as one more band) come from Earth Engine,
    one request per block with labels.
    Examples:
      gee-crop cube --source PATCH_DIR --buffer-m 10 --block-px 16 --out demo_cube.zarr
      gee-crop cube --source PATCH_DIR --labels fields.gpkg --label-field crop --legend legend.csv --out c.zarr
      gee-crop cube --region aoi.geojson --labels fields.gpkg --label-field crop --legend l.csv --year 2023 --out c.zarr
    A rerun of the same command resumes: finished blocks are kept.
    """
    from gee_crop.pipeline.cube import run_cube, run_ee_cube

    if bool(source) == bool(region):
        raise click.UsageError(
            "give exactly one of --source STACK (a local stack) or --region AOI.geojson (Earth Engine)"
        )
    if source and dry_run:
        raise click.UsageError("--dry-run plans Earth Engine requests: it goes with --region, not --source")
    common: dict[str, Any] = {
        "labels": labels,
        "label_field": label_field,
        "legend": legend,
        "buffer_m": buffer_m,
        "year": year,
        "block_px": block_px,
        "overwrite": overwrite,
        "echo": click.echo,
    }
    if source:
        line = run_cube(source, out, **common)
    else:
        assert region is not None, "exactly one of --source and --region (checked above)"
        line = run_ee_cube(
            region, out, project=project, service_account_key=service_account_key, dry_run=dry_run, **common
        )
    click.echo(line)
