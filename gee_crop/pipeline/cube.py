"""The one function behind ``gee-crop cube``: a composite cube of a labelled local stack."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gee_crop.config import CUBE_BLOCK_PX
from gee_crop.data.cube import import_zarr
from gee_crop.data.sampling import stack_classes
from gee_crop.mapping.cube_build import build_cube
from gee_crop.outputs import claim_output


def run_cube(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    labels: str | None = None,
    label_field: str | None = None,
    legend: str | None = None,
    buffer_m: float,
    year: int | None = None,
    block_px: int = CUBE_BLOCK_PX,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> str:
    """Build the cube of ``source`` (its own label raster unless ``labels``) into ``out``; a summary line.
    ``out`` is locked while it is built; an existing cube needs ``overwrite``; an interrupted build resumes."""
    import_zarr()  # refused in one line before any work when zarr is missing
    with claim_output(out, folder=False, overwrite=overwrite):
        labelled = stack_classes(Path(source), labels, buffer_m, legend=legend, label_field=label_field)
        summary = build_cube(labelled, out, year=year, block_px=block_px, overwrite=overwrite, echo=echo)
    listed = ", ".join(f"{c} {n}" for c, n in summary.class_counts.items())
    resumed = f" ({summary.n_resumed} kept from an earlier run)" if summary.n_resumed else ""
    return (
        f"wrote {sum(summary.class_counts.values())} labelled pixels ({listed}) in {summary.n_blocks} blocks"
        f"{resumed}, season {summary.season}, to {summary.out}"
    )
