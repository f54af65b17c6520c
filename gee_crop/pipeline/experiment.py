"""The one function behind ``gee-crop experiment``: run a declarative experiment, print its table,
optionally write the report page."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gee_crop.experiments.config import load_experiment
from gee_crop.experiments.data_folder import experiment_data_dir
from gee_crop.experiments.layout import LEDGER_FILE
from gee_crop.experiments.report import write_report
from gee_crop.experiments.runner import ExperimentRun, run_experiment
from gee_crop.outputs import claim_output


@dataclass(frozen=True)
class ExperimentResult:
    """The finished run, its Markdown table, and the report page (None with ``report=False``)."""

    run: ExperimentRun
    table_markdown: str
    report_path: Path | None


def run_experiment_file(
    config: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    seeds: tuple[int, ...] | None = None,
    data_dir: str | os.PathLike | None = None,
    figures: bool | None = None,
    report: bool = True,
    echo: Callable[[str], None] = print,
    overwrite: bool = False,
) -> ExperimentResult:
    """Train and evaluate every model x transfer x seed of the YAML ``config`` into ``out_dir``
    (finished results are reused; ``overwrite`` recomputes them all) and gather the table; with ``report``
    also write report.html. ``out_dir`` is locked (``gee_crop.outputs``) while the experiment runs."""
    # {shared_data} in dataset paths: the experiment data folder (experiments/data_folder.py)
    experiment = load_experiment(config, data_dir=data_dir, shared_data=experiment_data_dir)
    with claim_output(out_dir, folder=True, overwrite=overwrite, resumes=True):  # a rerun resumes
        if overwrite:
            (Path(out_dir) / LEDGER_FILE).unlink(missing_ok=True)  # forget every finished result
        run = run_experiment(experiment, out_dir, seeds=seeds, figures=figures, echo=echo)
        table = run.tables["markdown"].read_text(encoding="utf-8")
        return ExperimentResult(run, table, write_report(out_dir) if report else None)
