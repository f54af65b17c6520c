"""``gee-crop experiment``: run a declarative experiment (models x transfers x seeds) and print its table."""
from __future__ import annotations

import click


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
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for models/, runs/, results.json, table.md/.csv and figures/. Rerunning into "
                   "the same folder skips finished (combination, seed) results.")
@click.option("--seeds", callback=_seeds, default=None,
              help="Comma-separated seeds overriding the file's 'seeds', e.g. 0,1,2.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Base folder of relative dataset paths (default: the file's data_dir, relative to the file).")
@click.option("--figures/--no-figures", default=None,
              help="Draw the insight figures (default: the file's insight.figures, else on).")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Also write OUT/report.html (see `gee-crop report`).")
@click.option("--quiet", is_flag=True, help="Print only the final table.")
def command(config: str, out_dir: str, seeds, data_dir: str | None, figures: bool | None, report: bool,
            quiet: bool) -> None:
    """Train and evaluate every model x transfer x seed of the experiment file CONFIG (YAML, see
    docs/experiments.md) and print OA / macro-F1 as mean ± std over seeds."""
    from gee_crop.experiments.config import load_experiment
    from gee_crop.experiments.runner import run_experiment

    experiment = load_experiment(config, data_dir=data_dir)
    run = run_experiment(experiment, out_dir, seeds=seeds, figures=figures,
                         echo=(lambda _: None) if quiet else click.echo)
    click.echo(run.tables["markdown"].read_text(encoding="utf-8"))
    if report:
        from gee_crop.experiments.report import write_report

        click.echo(f"report: {write_report(out_dir)}")
