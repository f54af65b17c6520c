"""The one function behind ``gee-crop report``: an experiment's tables and figures in one HTML page."""

from __future__ import annotations

import os
from pathlib import Path

from gee_crop.experiments.report import write_report


def run_report(experiment_dir: str | os.PathLike, out_path: str | os.PathLike | None = None) -> Path:
    """Write the offline report page of ``experiment_dir`` (default: ``experiment_dir/report.html``)."""
    return write_report(experiment_dir, out_path)
