"""``gee-crop report``: gather an experiment's tables and figures into one offline HTML page."""

from __future__ import annotations

import click

from gee_crop.cli import options


@click.command("report")
@click.argument("experiment_dir", type=click.Path(file_okay=False))
@options.out_file("the HTML page (default: EXPERIMENT_DIR/report.html).", required=False)
@options.overwrite
def command(experiment_dir: str, out_path: str | None, overwrite: bool) -> None:
    """Write the report page of EXPERIMENT_DIR (the --out folder of `gee-crop experiment`):
    results table, every raw result and the insight figures, all in one file that opens offline."""
    from gee_crop.pipeline.report import run_report

    click.echo(f"wrote {run_report(experiment_dir, out_path, overwrite=overwrite)}")
