"""``gee-crop cube``: a composite cube (Zarr) of every labelled pixel, for training (``gee-crop train CUBE``)."""

from __future__ import annotations

import click

from gee_crop.cli import options
from gee_crop.config import CUBE_BLOCK_PX, INWARD_BUFFER_M


@click.command("cube")
@options.source("Local raw stack (an Earth Engine patch folder) to composite.", required=True)
@click.option(
    "--labels",
    metavar="FILE",
    help="Your labels: a label raster on the stack's grid, or points / polygons (.geojson, .gpkg, .shp, ...) "
    "[default: the patch's own label raster].",
)
@click.option("--label-field", metavar="NAME", help="Field of vector --labels holding each feature's label value.")
@options.in_file("--legend", metavar="CSV", help="Your legend: columns code,class (label value -> class name).")
@click.option(
    "--buffer-m", type=options.FiniteFloat(min=0), default=INWARD_BUFFER_M, help="Inward buffer of the labels (m)."
)
@options.year
@options.count(
    "--block-px",
    "Side of a cube block (pixels): one Zarr chunk, the unit of resuming, reading and of the spatial validation split.",
    default=CUBE_BLOCK_PX,
)
@options.out_dir("the cube, a Zarr store (e.g. cube.zarr); its resume state goes to DIR.parts/.", dest="out")
@options.overwrite
def command(
    source: str,
    labels: str | None,
    label_field: str | None,
    legend: str | None,
    buffer_m: float,
    year: int | None,
    block_px: int,
    out: str,
    overwrite: bool,
) -> None:
    """Composite every labelled pixel of a local stack into a chunked Zarr cube for training.

    \b
    Each labelled pixel (after the inward buffer) gets the 10 x t gap-filled 5-day-median composite that
    `gee-crop map` computes, as uint16 DN, beside its class; other pixels are masked. The cube carries
    its season, classes and model contract; `gee-crop train CUBE` streams it block by block.
    Examples:
      gee-crop cube --source PATCH_DIR --buffer-m 10 --block-px 16 --out demo_cube.zarr
      gee-crop cube --source PATCH_DIR --labels fields.gpkg --label-field crop --legend legend.csv --out c.zarr
    A rerun of the same command resumes: finished blocks are kept.
    """
    from gee_crop.pipeline.cube import run_cube

    click.echo(
        run_cube(
            source,
            out,
            labels=labels,
            label_field=label_field,
            legend=legend,
            buffer_m=buffer_m,
            year=year,
            block_px=block_px,
            overwrite=overwrite,
            echo=click.echo,
        )
    )
