"""``gee-crop report``: gather an experiment's tables and figures into one offline HTML page."""
from __future__ import annotations

import click


@click.command("report")
@click.argument("experiment_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write (default: EXPERIMENT_DIR/report.html).")
def command(experiment_dir: str, out_path: str | None) -> None:
    """Write the report page of EXPERIMENT_DIR (the --out folder of `gee-crop experiment`):
    results table, every raw result and the insight figures, all in one file that opens offline."""
    from gee_crop.experiments.report import write_report

    click.echo(f"wrote {write_report(experiment_dir, out_path)}")
