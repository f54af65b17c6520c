"""``gee-crop train``: train CropNet (or a baseline) on a sample table (defaults: :mod:`gee_crop.config`)."""

from __future__ import annotations

import click

from gee_crop import config
from gee_crop.cli import options
from gee_crop.season import WINDOW_DAYS

#: input scalings offered on the command line: docs/transfer.md finds log scaling breaks the raw-observation
#: target (BEL19), so it stays an experiment option (``train: {input_scaling: log}``) beside the others.
CLI_SCALINGS = tuple(s.value for s in config.InputScaling if s != config.InputScaling.LOG)


def _widths(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(v) for v in value.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise click.BadParameter(f"{value!r}: give four positive channel counts, e.g. 64,128,256,512")
    return widths


@click.command("train")
@click.argument("table", type=click.Path())
@options.out_dir("the run: model.pt (model.onnx for random_forest), config.json, history.csv, checkpoint.pt.")
@click.option(
    "--arch",
    type=click.Choice([*config.Arch.values(), config.AUTO_ARCH]),
    default=config.Arch.CROPNET2D.value,
    help="cropnet2d: CropNet on the 10 x t median matrix; cropnet1d: on flat features; "
    "random_forest: RF-500; linear: logistic regression on 1D medians; or a registered backbone. "
    "auto: choose among linear, RF-500, the zoo model fine-tuned, TempCNN and CropNet 2D by spatial "
    "cross-validation on TABLE (takes only --seed, --device, --year, --init-from).",
)
@click.option(
    "--features",
    "feature_kind",
    type=click.Choice([*config.FeatureKind.values(), *config.EMIT_FEATURE_MONTHS, *config.S2_EMIT_FEATURE_MONTHS]),
    default=None,
    help="Feature kind (default: median2d for cropnet2d, median1d otherwise). On an EMIT table "
    "(docs/emit.md): emit_june, emit_august or emit_june_august medians [default: all its months]; "
    "with --emit-table: s2_emit_june, s2_emit_august or s2_emit_june_august [default: the last]. "
    "EMIT features are flat vectors: --arch random_forest, cropnet1d or linear.",
)
@options.in_file(
    "--emit-table",
    default=None,
    help="S2 and EMIT together: the EMIT table sampled beside TABLE (sample --emit), joined on the sample "
    "location; samples missing from either table are left out (docs/emit.md).",
)
@options.count("--epochs", "Passes over the training samples (METHOD.md: 50).", default=config.EPOCHS)
@options.count("--batch-size", "Samples per optimisation step.", default=config.BATCH_SIZE)
@click.option(
    "--lr", "learning_rate", type=options.positive_float(), default=config.LEARNING_RATE, help="Adam learning rate."
)
@click.option(
    "--widths",
    callback=_widths,
    default=",".join(map(str, config.CROPNET_WIDTHS)),
    help="Channels of the four CropNet blocks.",
)
@options.switch("augment", True, "Random time shift, time scale and magnitude warping per batch (METHOD.md).")
@options.switch("class-weights", False, "Weight the loss by inverse class frequency.")
@click.option(
    "--input-scaling",
    type=click.Choice(CLI_SCALINGS),
    default=config.InputScaling.STANDARD.value,
    help="standard: per-band mean/std of the training reflectance (the paper's); smooth: first a centred "
    "moving mean over neighbouring bins of the 2D medians (median2d features), the transfer "
    "benchmark's recipe (docs/transfer.md). Stored in the model and applied inside it (and its ONNX "
    "graph). Log scaling, cadence dropout and balanced sampling, which the benchmark does not "
    "recommend, are experiment-file options (docs/experiments.md).",
)
@click.option(
    "--val-fraction",
    type=options.fraction(max_open=True),
    default=0.1,
    help="Share of each class held out for validation.",
)
@options.seed
@options.device
@options.year
@options.count(
    "--window-days",
    help=f"Length of a median composite window (days) [default: the table's season's, else {WINDOW_DAYS}].",
)
@options.count(
    "--max-gap-bins", "Drop samples whose longest run of empty bins is longer.", default=config.MAX_GAP_BINS, least=0
)
@options.cloud_threshold
@options.in_file(
    "--distill-from",
    "distill_from",
    default=None,
    help="Teacher model.pt: learn its soft probabilities (on the same augmented batches) plus the "
    "labels; e.g. --arch tempcnn --widths 32,64,64,64 for a fast mapping student.",
)
@click.option(
    "--init-from",
    "init_from",
    default=None,
    metavar="MODEL",
    help="Fine-tune MODEL (a model.pt of `gee-crop train`, or a zoo name from `gee-crop models`) on "
    "TABLE: keeps its inputs and normalisation; options not given take its settings, 20 epochs, "
    "0.1 x its learning rate and no validation split under 500 rows. A TABLE with classes MODEL does "
    "not predict gets a new output layer for its own classes on MODEL's encoder (docs/user_guide.md).",
)
@options.switch(
    "freeze-encoder",
    None,
    "With --init-from: train only the output layer, the source's encoder frozen [default: every layer learns].",
)
@click.option("--resume", is_flag=True, help="Continue from DIR/checkpoint.pt.")
@options.overwrite
@options.quiet
def command(table: str, out_dir: str, resume: bool, overwrite: bool, quiet: bool, **train_options) -> None:
    """Train a model on the sample TABLE (Parquet, see `gee-crop sample`) or a composite cube (see `gee-crop cube`).

    A cube streams block by block (DataLoader workers), holds out whole blocks for validation and
    augments the composites themselves (docs/user_guide.md, "Training from a composite cube")."""
    from gee_crop.pipeline.train import run_train

    source_of = click.get_current_context().get_parameter_source
    if train_options["arch"] == config.AUTO_ARCH:  # auto sets the rest itself; pass only what was given
        train_options = {
            k: v for k, v in train_options.items() if k == "arch" or source_of(k) != click.core.ParameterSource.DEFAULT
        }
    elif train_options.get("init_from"):  # options left at their defaults take the source's / fine-tuning's
        from gee_crop.training.finetune import FINETUNE_OPTIONS

        train_options = {
            k: v
            for k, v in train_options.items()
            if k not in FINETUNE_OPTIONS or source_of(k) != click.core.ParameterSource.DEFAULT
        }
    result = run_train(
        table, out_dir, resume=resume, overwrite=overwrite, progress=not quiet, echo=click.echo, **train_options
    )
    click.echo(f"trained on {result.n_train} samples, validated on {result.n_val}: {result.model_path}")
