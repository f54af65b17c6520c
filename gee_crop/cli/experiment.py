"""``gee-crop experiment``: run a declarative experiment (models x transfers x seeds) and print its table."""

from __future__ import annotations

import click

from gee_crop.cli import options


def _seeds(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        seeds = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: give comma-separated integer seeds, e.g. 0,1,2") from None
    if len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"{value!r}: list each seed once")
    return seeds


@click.command("experiment")
@click.argument("config", type=click.Path(dir_okay=False))
@options.out_dir(
    "models/, runs/, results.json, table.md/.csv, figures/ and report.html. Rerunning into "
    "the same folder skips finished (combination, seed) results."
)
@click.option(
    "--seeds", callback=_seeds, default=None, help="Comma-separated seeds overriding the file's 'seeds', e.g. 0,1,2."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Base folder of relative dataset paths (default: the file's data_dir, relative to the file).",
)
@options.switch("figures", None, "Draw the insight figures (default: the file's insight.figures, else on).")
@options.switch("report", True, "Also write DIR/report.html (see `gee-crop report`).")
@options.overwrite
@options.quiet
def command(
    config: str,
    out_dir: str,
    seeds,
    data_dir: str | None,
    figures: bool | None,
    report: bool,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Train and evaluate every model x transfer x seed of the experiment file CONFIG (YAML, see
    docs/experiments.md) and print OA / macro-F1 as mean ± std over seeds."""
    from gee_crop.pipeline.experiment import run_experiment_file

    result = run_experiment_file(
        config,
        out_dir,
        seeds=seeds,
        data_dir=data_dir,
        figures=figures,
        report=report,
        echo=(lambda _: None) if quiet else click.echo,
        overwrite=overwrite,
    )
    click.echo(result.table_markdown)
    if result.report_path is not None:
        click.echo(f"report: {result.report_path}")
