"""``gee-crop evaluate``: score a trained model on a labelled sample table."""

from __future__ import annotations

import click

from gee_crop.cli import options


@click.command("evaluate")
@click.argument("model")
@click.argument("table", type=click.Path())
@options.out_dir("metrics.json, confusion_matrix.csv and confusion_matrix.png/.svg.")
@click.option(
    "--target-region", default=None, help="ISO3 code of the test data (default: the table's region, if it has one)."
)
@click.option(
    "--source-region", default=None, help="ISO3 code of the training data (default: the model's, if it had one)."
)
@options.year
@options.device
@options.in_file(
    "--emit-table",
    default=None,
    help="For a model on S2+EMIT features: the EMIT table sampled beside TABLE, joined on the sample "
    "location (docs/emit.md).",
)
@click.option(
    "--record",
    is_flag=True,
    help="Also store these scores in MODEL's card (one entry per TABLE), so that `gee-crop export` "
    "and `gee-crop info` report them.",
)
@options.overwrite
def command(
    model: str,
    table: str,
    out_dir: str,
    target_region: str | None,
    source_region: str | None,
    year: int | None,
    device: str,
    emit_table: str | None,
    record: bool,
    overwrite: bool,
) -> None:
    """Evaluate MODEL (a shipped model's name from `gee-crop models`, model.pt, a forest's model.onnx or an ONNX
    export) on TABLE (a sample table or a composite cube): OA, macro-F1, per-class scores, and whether MODEL
    trained where TABLE's samples lie.

    Classes are aligned as in the paper: for ARG, AUS and CHN targets predictions outside their
    label set count as "other"; for FRA -> USA sugarcane and cotton samples are left out.
    """
    from gee_crop.errors import InputError
    from gee_crop.features.shift import describe_score, shift_warnings
    from gee_crop.models.zoo import resolve_model
    from gee_crop.pipeline.evaluate import run_evaluate
    from gee_crop.viz.text import for_terminal

    path, zoo = resolve_model(model)  # a zoo name, as map and info take it, or a file
    if zoo is not None and record:
        raise InputError(
            f"--record writes into the model file, and {zoo.name} is a shipped model; evaluate a copy of "
            f"{path} (or your own model) to record scores in its card"
        )
    result = run_evaluate(
        path,
        table,
        out_dir,
        target_region=target_region,
        source_region=source_region,
        year=year,
        device=device,
        record=record,
        overwrite=overwrite,
        emit_table=emit_table,
    )
    click.echo(for_terminal(result.evaluation.summary(), newlines=True))  # class names come from the files
    click.echo(describe_score(result.evaluation.domain_shift))
    for warning in shift_warnings(result.evaluation.domain_shift, "the table's samples"):
        click.echo(warning, err=True)
    guard = result.evaluation.domain_guard
    if guard is not None:
        click.echo(guard.line, err=guard.fires)
    click.echo(f"wrote {', '.join(str(p) for p in result.paths.values())}")
    if result.recorded_as is not None:
        click.echo(f"recorded the scores on {result.recorded_as} in the card of {model}")
