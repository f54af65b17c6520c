"""``gee-crop export``: a trained CropNet as ONNX, checked against torch on real inputs."""
from __future__ import annotations

import click


@click.command("export")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="The .onnx file to write (model_card.md is written beside it).")
@click.option("--opset", type=click.IntRange(min=13), default=17, show_default=True)
@click.option("--table", type=click.Path(dir_okay=False), default=None,
              help="Sample table for the parity check (default: pixels of the shipped demo patch).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--quantize", is_flag=True,
              help="Also write NAME.int8.onnx: int8 static QDQ (per channel), calibrated on real samples "
                   "(--table or the demo patch); about 3x faster on CPUs with VNNI/AMX.")
def command(model: str, out_path: str, opset: int, table: str | None, overwrite: bool, quantize: bool) -> None:
    """Export MODEL (a CropNet model.pt) to ONNX with its metadata and model card.

    The ONNX graph is run with onnxruntime on real inputs and must match torch within 1e-4.
    """
    from gee_crop.export.onnx import PARITY_TOLERANCE, export_and_check

    path, diff, n = export_and_check(model, out_path, opset=opset, overwrite=overwrite, table=table)
    click.echo(f"wrote {path} and {path.with_name('model_card.md')}")
    click.echo(f"parity: max |dprob| = {diff:.2e} on {n} real samples (< {PARITY_TOLERANCE:.0e})")
    if quantize:
        from gee_crop.export.quantize import quantize_exported

        int8, n_cal = quantize_exported(path, model, table=table)
        click.echo(f"wrote {int8} (int8 static QDQ, calibrated on {n_cal} real samples)")
