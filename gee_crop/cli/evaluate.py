"""``gee-crop evaluate``: score a trained model on a labelled sample table."""
from __future__ import annotations

import click


@click.command("evaluate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for metrics.json, confusion_matrix.csv and confusion_matrix.png.")
@click.option("--target-region", default=None,
              help="ISO3 code of the test data (default: the table's region, if it has one).")
@click.option("--source-region", default=None,
              help="ISO3 code of the training data (default: the model's, if it had one).")
@click.option("--year", type=int, default=None, help="Season year (default: the one the data cover best).")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA if available), cpu or cuda[:N].")
@click.option("--record", is_flag=True,
              help="Also store these scores in MODEL's card (one entry per TABLE), so that `gee-crop export` "
                   "and `gee-crop info` report them.")
def command(model: str, table: str, out_dir: str, target_region: str | None, source_region: str | None,
            year: int | None, device: str, record: bool) -> None:
    """Evaluate MODEL (model.pt or model.pkl) on TABLE: OA, macro-F1, per-class scores.

    Classes are aligned as in the paper: for ARG, AUS and CHN targets predictions outside their
    label set count as "other"; for FRA -> USA sugarcane and cotton samples are left out.
    """
    from gee_crop.training.evaluate import evaluate_model, write_evaluation

    evaluation = evaluate_model(model, table, target_region=target_region, source_region=source_region,
                                year=year, device=device)
    paths = write_evaluation(evaluation, out_dir)
    click.echo(evaluation.summary())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")
    if record:
        from pathlib import Path

        from gee_crop.export.cards import evaluation_entry, record_transfer_scores

        record_transfer_scores(model, [evaluation_entry(evaluation, Path(table).stem)])
        click.echo(f"recorded the scores on {Path(table).stem} in the card of {model}")
