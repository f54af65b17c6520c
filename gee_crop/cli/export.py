"""``gee-crop export``: a trained CropNet as ONNX, checked against torch on real inputs."""

from __future__ import annotations

import click

from gee_crop.cli import options


@click.command("export")
@click.argument("model", nargs=-1, required=True, type=click.Path(dir_okay=False))
@options.out_file("the .onnx model (model_card.md is written beside it).")
@click.option(
    "--opset",
    type=options.OpsetRange(),
    default=17,
    help="ONNX opset of the exported graph, from 13 to the highest the installed torch and onnx write.",
)
@options.in_file(
    "--table", default=None, help="Sample table for the parity check (default: pixels of the shipped demo patch)."
)
@options.in_file(
    "--emit-table",
    default=None,
    help="For a model on S2+EMIT features: the EMIT table sampled beside --table (docs/emit.md).",
)
@options.overwrite
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Convert MODEL when it is a gee-crop 0.1.0 Random Forest pickle (model.pkl) into an ONNX "
    "model; unpickling runs code, so only for files you made yourself.",
)
@click.option(
    "--quantize",
    is_flag=True,
    help="Also write NAME.int8.onnx: int8 static QDQ (per channel), calibrated on real samples "
    "(--calibration, else --table, else pixels of the shipped demo patch); about 3x faster on "
    "CPUs with VNNI/AMX.",
)
@options.in_file(
    "--calibration",
    default=None,
    help="Sample table of your region to calibrate the int8 model on (--quantize); best when the "
    "model will map a region unlike the shipped Flanders demo patch.",
)
@click.option(
    "--ensemble",
    is_flag=True,
    help="MODEL... are several model.pt of one recipe (e.g. its seeds): write ONE graph that averages "
    "their probabilities, checked against the mean of the members' torch probabilities.",
)
def command(
    model: tuple[str, ...],
    out_path: str,
    opset: int,
    table: str | None,
    emit_table: str | None,
    overwrite: bool,
    trust_pickle: bool,
    quantize: bool,
    calibration: str | None,
    ensemble: bool,
) -> None:
    """Export MODEL (a CropNet model.pt) to ONNX with its metadata and model card; with --ensemble,
    several model.pt as one averaging graph (gee-crop export --ensemble a.pt b.pt c.pt --out ens.onnx).

    The ONNX graph is run with onnxruntime on real inputs and must match torch within 1e-4.
    """
    from gee_crop.export.onnx import PARITY_TOLERANCE
    from gee_crop.pipeline.export import run_export, run_export_ensemble

    if ensemble:
        if len(model) < 2 or trust_pickle:
            raise click.UsageError(
                f"--ensemble averages two or more model.pt files (no --trust-pickle); got {len(model)} model(s)"
            )
        result = run_export_ensemble(
            list(model),
            out_path,
            opset=opset,
            table=table,
            overwrite=overwrite,
            quantize=quantize,
            calibration=calibration,
        )
    elif len(model) != 1:
        raise click.UsageError(f"give one MODEL (got {len(model)}), or pass --ensemble to average several")
    else:
        result = run_export(
            model[0],
            out_path,
            opset=opset,
            table=table,
            overwrite=overwrite,
            quantize=quantize,
            trust_pickle=trust_pickle,
            calibration=calibration,
            emit_table=emit_table,
        )
    click.echo(f"wrote {result.onnx_path} and {result.card_path}")
    click.echo(
        f"parity: max |dprob| = {result.max_abs_diff:.2e} on {result.n_checked} real samples (< {PARITY_TOLERANCE:.0e})"
    )
    if result.int8_path is not None:
        click.echo(f"wrote {result.int8_path} (int8 static QDQ, calibrated on {result.n_calibration} real samples)")
