"""``gee-crop train``: train CropNet (or the Random Forest baseline) on a sample table."""
from __future__ import annotations

import click

from gee_crop.config import (BATCH_SIZE, CLEAR_THRESHOLD, CROPNET_WIDTHS, EPOCHS, LEARNING_RATE,
                             MAX_GAP_BINS, WINDOW_DAYS)


def _widths(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(v) for v in value.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise click.BadParameter(f"{value!r}: give four positive channel counts, e.g. 64,128,256,512")
    return widths


@click.command("train")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder: model.pt (model.pkl for random_forest), config.json, history.csv, checkpoint.pt.")
@click.option("--arch", type=click.Choice(["cropnet2d", "cropnet1d", "random_forest"]), default="cropnet2d",
              show_default=True, help="CropNet on the 10 x t median matrix, on flat features, or RF-500.")
@click.option("--features", "feature_kind", type=click.Choice(["median2d", "median1d", "harmonic"]),
              default=None, help="Feature kind (default: median2d for cropnet2d, median1d otherwise).")
@click.option("--epochs", type=click.IntRange(min=1), default=EPOCHS, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_SIZE, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=LEARNING_RATE, show_default=True,
              help="Adam learning rate.")
@click.option("--widths", callback=_widths, default=",".join(map(str, CROPNET_WIDTHS)), show_default=True,
              help="Channels of the four CropNet blocks.")
@click.option("--augment/--no-augment", default=True, show_default=True,
              help="Random time shift, time scale and magnitude warping per batch (METHOD.md).")
@click.option("--class-weights/--no-class-weights", default=False, show_default=True,
              help="Weight the loss by inverse class frequency.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Share of each class held out for validation.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto (CUDA if available), cpu or cuda[:N].")
@click.option("--year", type=int, default=None, help="Season year (default: the one the data cover best).")
@click.option("--window-days", type=click.IntRange(min=1), default=WINDOW_DAYS, show_default=True)
@click.option("--max-gap-bins", type=click.IntRange(min=0), default=MAX_GAP_BINS, show_default=True,
              help="Drop samples whose longest run of empty bins is longer.")
@click.option("--cloud-threshold", type=click.FloatRange(0, 1), default=CLEAR_THRESHOLD, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--overwrite", is_flag=True, help="Start over in an OUT that holds a run.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(table: str, out_dir: str, resume: bool, overwrite: bool, quiet: bool, **options) -> None:
    """Train a model on the sample TABLE (Parquet, see `gee-crop sample`)."""
    from gee_crop.training.trainer import train

    result = train(table, out_dir, resume=resume, overwrite=overwrite, progress=not quiet,
                   echo=click.echo, **options)
    click.echo(f"trained on {result.n_train} samples, validated on {result.n_val}: {result.model_path}")
