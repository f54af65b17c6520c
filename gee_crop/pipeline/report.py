"""The one function behind ``gee-crop report``: an experiment's tables and figures in one HTML page."""

from __future__ import annotations

import os
from pathlib import Path

from gee_crop.errors import InputError
from gee_crop.experiments.report import write_report
from gee_crop.outputs import claim_output


def run_report(
    experiment_dir: str | os.PathLike, out_path: str | os.PathLike | None = None, *, overwrite: bool = False
) -> Path:
    """Write the offline report page of ``experiment_dir`` (default: ``experiment_dir/report.html``); an
    existing page is refused without ``overwrite``."""
    if not Path(experiment_dir).is_dir():
        raise InputError(f"{experiment_dir} is not a folder; give the --out folder of `gee-crop experiment`")
    out = Path(out_path) if out_path is not None else Path(experiment_dir) / "report.html"
    with claim_output(out, folder=False, overwrite=overwrite):
        return write_report(experiment_dir, out)
