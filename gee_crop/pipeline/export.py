"""The one function behind ``gee-crop export``: ONNX with metadata and card, parity-checked against
torch on real inputs, optionally quantised to int8."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gee_crop.data.demo import demo_pixels
from gee_crop.data.emit_table import S2EmitTables
from gee_crop.errors import InputError
from gee_crop.export.ensemble import export_ensemble_and_check
from gee_crop.export.onnx import export_and_check
from gee_crop.export.quantize import quantize_exported
from gee_crop.models.io import ModelLike, read_model_file
from gee_crop.outputs import claim_output
from gee_crop.types import SampleSeries


@dataclass(frozen=True)
class ExportResult:
    """The files ``gee-crop export`` wrote and how closely onnxruntime matched torch."""

    onnx_path: Path
    card_path: Path
    max_abs_diff: float  # max |dprob| between onnxruntime and torch
    n_checked: int  # real samples of the parity check
    int8_path: Path | None = None
    n_calibration: int = 0


def run_export(
    model: ModelLike,
    out_path: str | os.PathLike,
    *,
    opset: int = 17,
    table: str | os.PathLike | None = None,
    overwrite: bool = False,
    quantize: bool = False,
    trust_pickle: bool = False,
    calibration: str | os.PathLike | None = None,
    emit_table: str | os.PathLike | None = None,
) -> ExportResult:
    """Export ``model`` to ``out_path`` (model_card.md beside it), parity-checked on ``table`` (else
    pixels of the demo patch shipped in the package); with ``quantize`` also write NAME.int8.onnx
    calibrated on real samples: ``calibration`` (a sample table of the user's region), else ``table``,
    else the shipped demo pixels. ``trust_pickle`` converts a gee-crop 0.1.0 forest pickle (model.pkl)
    into ONNX. ``emit_table``: an S2+EMIT model is checked on ``table`` joined with it (docs/emit.md). The ONNX
    file is locked (``gee_crop.outputs``) while it is written."""
    with claim_output(out_path, folder=False, overwrite=overwrite):
        if emit_table is not None and table is None:
            raise InputError("--emit-table joins the S2 table of --table; give --table S2_TABLE too")
        data: SampleSeries | str | os.PathLike | S2EmitTables = table if table is not None else demo_pixels()
        if table is not None and emit_table is not None:
            data = S2EmitTables(table, emit_table)
        path, diff, n_checked = export_and_check(
            read_model_file(model), out_path, data, opset=opset, overwrite=overwrite, trust_pickle=trust_pickle
        )
        return _quantized(
            ExportResult(path, path.with_name("model_card.md"), float(diff), n_checked), quantize, data, calibration
        )


def run_export_ensemble(
    models: list[str | os.PathLike],
    out_path: str | os.PathLike,
    *,
    opset: int = 17,
    table: str | os.PathLike | None = None,
    overwrite: bool = False,
    quantize: bool = False,
    calibration: str | os.PathLike | None = None,
) -> ExportResult:
    """Export the torch ``models`` (one contract, e.g. one recipe's seeds) as ONE ONNX graph averaging
    their probabilities, parity-checked against the members' mean torch probabilities on ``table``
    (else the demo pixels); with ``quantize`` also NAME.int8.onnx, calibrated as :func:`run_export`."""
    with claim_output(out_path, folder=False, overwrite=overwrite):
        data = table if table is not None else demo_pixels()
        path, diff, n_checked = export_ensemble_and_check(
            list(models), out_path, data, opset=opset, overwrite=overwrite
        )
        return _quantized(
            ExportResult(path, path.with_name("model_card.md"), float(diff), n_checked), quantize, data, calibration
        )


def _quantized(result: ExportResult, quantize: bool, data, calibration: str | os.PathLike | None) -> ExportResult:
    """``result`` with NAME.int8.onnx when ``quantize`` (calibrated on ``calibration``, else ``data``)."""
    if not quantize:
        return result
    int8, n_calibration = quantize_exported(result.onnx_path, calibration if calibration is not None else data)
    return ExportResult(result.onnx_path, result.card_path, result.max_abs_diff, result.n_checked, int8, n_calibration)
