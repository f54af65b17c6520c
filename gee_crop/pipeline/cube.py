"""The functions behind ``gee-crop cube``: a composite cube of a labelled local stack, or from Earth Engine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gee_crop.classes import user_legend
from gee_crop.config import CUBE_BLOCK_PX
from gee_crop.data.cube import import_zarr
from gee_crop.data.regions import read_region
from gee_crop.data.sample_jobs import own_labels
from gee_crop.data.sampling import stack_classes
from gee_crop.earthengine import client as ee_client
from gee_crop.errors import InputError
from gee_crop.mapping.cube_build import CubeSummary, build_cube
from gee_crop.mapping.cube_ee import build_ee_cube, ee_cube_plan_lines, plan_ee_cube
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
    return _summary_line(summary)


def run_ee_cube(
    region: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    labels: str | None,
    label_field: str | None,
    legend: str | None,
    buffer_m: float,
    year: int | None,
    block_px: int = CUBE_BLOCK_PX,
    project: str | None = None,
    service_account_key: str | None = None,
    dry_run: bool = False,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> str:
    """The cube of ``region`` with the user's ``labels`` (a vector file or a table asset) from Earth Engine
    into ``out``; with ``dry_run`` its plan (requests, pixels, bytes), no credentials needed."""
    if labels is None:
        raise InputError("a cube from Earth Engine needs your labels: --labels FILE_OR_ASSET --label-field NAME")
    area = read_region(region)
    cube = plan_ee_cube(
        area,
        own_labels(labels, label_field, user_legend(legend), area),
        buffer_m=buffer_m,
        year=year,
        block_px=block_px,
    )
    if dry_run:
        return "\n".join([f"cube of {Path(region).name} from Earth Engine, writing {out}", *ee_cube_plan_lines(cube)])
    import_zarr()
    client = ee_client.get_client(project=project, service_account_key=service_account_key)
    with claim_output(out, folder=False, overwrite=overwrite):
        summary = build_ee_cube(cube, client, str(out), overwrite=overwrite, echo=echo)
    return _summary_line(summary)


def _summary_line(summary: CubeSummary) -> str:
    listed = ", ".join(f"{c} {n}" for c, n in summary.class_counts.items())
    resumed = f" ({summary.n_resumed} kept from an earlier run)" if summary.n_resumed else ""
    return (
        f"wrote {sum(summary.class_counts.values())} labelled pixels ({listed}) in {summary.n_blocks} blocks"
        f"{resumed}, season {summary.season}, to {summary.out}"
    )
