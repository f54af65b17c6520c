"""Export a trained torch model (CropNet or a CNN baseline) to ONNX, with everything a mapper needs in
the file's metadata; convert a gee-crop 0.1.0 forest pickle to ONNX.

The graph takes ``reflectance`` (N, 1, 10, t) float32 (DN / 1e4, SENTINEL2.bands order, 5-day medians of
the season in ``season``; (N, 1, F) for 1D models) and returns ``probabilities`` (N, 7) (softmax
included). Normalization (and the contract's ``input_scaling``) is inside the graph. ``metadata_props``
(written by ``models.io``):

================  =====================================================================
gee_crop_model    model file format version
classes, bands    JSON lists, output / input order
season            JSON: start_month_day, length_days, window_days, n_bins, year_trained (and
                  south_shift_months for a season other than the paper's: FeatureSpec.season_dict)
feature_kind      median2d | median1d | harmonic
cloud_threshold   clear threshold used for training (float, as text)
max_gap_bins      gap limit used for training (int, as text)
input_scaling     standard | log: the rescaling inside the graph (absent in older files: standard)
arch              the architecture
model_card        JSON: training data, classes, season, metrics, known limits
domain_summary    JSON: the training inputs' distribution (features/shift.py; absent in old models)
training_footprint JSON: climate zones and extent of the training samples (models/domain.py; absent in old models)
================  =====================================================================
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from gee_crop.atomic import atomic_write
from gee_crop.data.emit_table import S2EmitTables, emit_features, is_emit_table, read_emit_table
from gee_crop.data.table import read_table
from gee_crop.errors import GeeCropError, InputError, ModelFileError, OutputExistsError, ParityError
from gee_crop.export.cards import model_card, model_card_markdown, model_card_of
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.cropnet import count_parameters
from gee_crop.models.domain import FOOTPRINT_KEY
from gee_crop.models.forest import forest_probabilities
from gee_crop.models.io import (
    FORMAT_KEY,
    FORMAT_VERSION,
    INPUT_NAME,
    OUTPUT_NAME,
    ModelFile,
    ModelLike,
    load_model,
    load_pickled_forest,
    read_model_file,
    save_forest,
    set_onnx_metadata,
)
from gee_crop.models.predict import open_predictor
from gee_crop.sensors import SENTINEL2
from gee_crop.training.dataset import series_features
from gee_crop.training.s2_emit import joined_features
from gee_crop.types import SampleSeries

PARITY_TOLERANCE = 1e-4


class _WithSoftmax(nn.Module):
    """The exported graph: CropNet (normalization inside) followed by softmax over classes."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, reflectance: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(reflectance), dim=1)


#: the lowest opset the dynamo exporter writes natively. Below it, dynamo exports at 18 and down-converts,
#: which fails for ReduceMean (measured with torch 2.13 / onnxscript 0.7.2: the file silently stays at 18),
#: so lower opsets go straight to the TorchScript exporter.
DYNAMO_MIN_OPSET = 18


def _opset_of(path: Path) -> int:
    proto = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _exporters(opset: int) -> list[dict]:
    """The torch.onnx.export settings to try in turn, each with a dynamic batch axis: the dynamo exporter
    where it writes ``opset`` natively, then the TorchScript exporter (``dynamo=False``)."""
    dynamo = {
        "dynamo": True,
        "dynamic_shapes": {"reflectance": {0: torch.export.Dim("batch", min=1)}},
        "external_data": False,
        "verbose": False,
    }
    torchscript = {"dynamo": False, "dynamic_axes": {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}}
    return [dynamo, torchscript] if opset >= DYNAMO_MIN_OPSET else [torchscript]


def _torch_export(module: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    """torch.onnx.export of ``module`` at ``opset`` by the first of :func:`_exporters` that writes it; a
    failing dynamo export falls back to the TorchScript one, whose own failure is raised."""
    for settings in _exporters(opset):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module,
                    (example,),
                    str(path),
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    opset_version=opset,
                    **settings,
                )
        except Exception:
            if settings["dynamo"]:
                continue
            raise
        if _opset_of(path) == opset:
            return
    raise GeeCropError(f"the ONNX exporter wrote opset {_opset_of(path)} instead of {opset}; choose another --opset")


#: what an exported graph carries over from the trained model's metadata (absent in older models): the training
#: inputs' summary (features/shift.py, the shift score) and the training footprint (models/domain.py, the guard).
CARRIED_KEYS = ("domain_summary", FOOTPRINT_KEY)


def graph_meta(contract: FeatureSpec, arch: str, trained: Mapping[str, Any], **extra: object) -> dict:
    """The metadata_props of an exported graph: the format, the input contract, the architecture,
    ``extra`` and the CARRIED_KEYS of the trained model's metadata ``trained``, so that evaluate and map
    score transfer risk."""
    carried = {key: trained[key] for key in CARRIED_KEYS if trained.get(key) is not None}
    return {FORMAT_KEY: FORMAT_VERSION, **contract.to_meta(), "arch": arch, **extra, **carried}


def write_graph(
    module: nn.Module, input_shape: tuple[int, ...], out_path: Path, opset: int, meta: dict, card: str
) -> None:
    """Export ``module`` (eval mode) to ONNX at ``opset`` with ``meta`` as its metadata_props, check it
    and write it to ``out_path`` with the Markdown ``card`` beside it as model_card.md."""
    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    with tempfile.TemporaryDirectory() as tmpdir:
        raw = Path(tmpdir) / "model.onnx"
        _torch_export(module, example, raw, opset)
        proto = onnx.load(str(raw))
    set_onnx_metadata(proto, meta)
    proto.producer_name = "gee-crop"
    onnx.checker.check_model(proto)
    atomic_write(out_path, lambda tmp: onnx.save(proto, str(tmp)))
    _write_text(out_path.with_name("model_card.md"), card)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _check_out(out_path: Path, overwrite: bool) -> None:
    if out_path.exists() and not overwrite:
        raise OutputExistsError(f"{out_path} exists; pass --overwrite to replace it or choose another --out")


def export_onnx(
    model_path: ModelLike, out_path: str | os.PathLike, *, opset: int = 17, overwrite: bool = False
) -> Path:
    """Export a torch model file (``model.pt``) to ONNX (+ ``model_card.md`` beside it); returns the ONNX path.

    Raises OutputExistsError when ``out_path`` exists and ``overwrite`` is False, ModelFileError for
    a file that is not a torch model (a Random Forest is already ONNX: its model.onnx maps as it is).
    """
    out_path = Path(out_path)
    _check_out(out_path, overwrite)
    source = read_model_file(model_path)
    if source.kind == "onnx":
        meta = source.meta
        what = "a Random Forest, already stored as ONNX" if meta.get("arch") == "random_forest" else "an ONNX model"
        raise ModelFileError(
            f"{source.path} is {what}; only CropNet and the CNN baselines (model.pt) export "
            "to ONNX: map or evaluate the file as it is"
        )
    model, meta = load_model(source)
    contract = FeatureSpec.from_meta(meta)
    card = model_card(meta, count_parameters(model), contract.input_shape, INPUT_NAME, OUTPUT_NAME)
    graph = graph_meta(contract, meta["arch"], meta, model_card=card)
    write_graph(_WithSoftmax(model).eval(), contract.input_shape, out_path, opset, graph, model_card_markdown(card))
    return out_path


def _max_difference(expected: np.ndarray, got: np.ndarray, tolerance: float) -> float:
    """Max |probability difference|; ParityError above ``tolerance``."""
    diff = float(np.abs(expected - got).max()) if len(expected) else 0.0
    if not diff < tolerance:
        raise ParityError(
            f"the ONNX model differs from the original model by {diff:.2e} in probability "
            f"(> {tolerance:.0e}); retry with another --opset and report the issue"
        )
    return diff


def check_parity(
    model_pt_path: ModelLike, onnx_path: ModelLike, inputs: np.ndarray, tolerance: float = PARITY_TOLERANCE
) -> float:
    """Max |probability difference| between torch (fp32, CPU) and onnxruntime (CPU) on model inputs;
    ParityError above ``tolerance``."""
    expected = open_predictor(model_pt_path, device="cpu").predict_proba(inputs)
    got = open_predictor(onnx_path, providers=["CPUExecutionProvider"]).predict_proba(inputs)
    return _max_difference(expected, got, tolerance)


def real_inputs(
    contract: FeatureSpec | dict, data: SampleSeries | str | os.PathLike | S2EmitTables, max_samples: int = 64
) -> np.ndarray:
    """Model inputs from real data (a SampleSeries or a sample table; both tables for an S2+EMIT model) for the
    parity check and int8 calibration: at most ``max_samples`` samples, computed as the model's features."""
    contract = contract if isinstance(contract, FeatureSpec) else FeatureSpec.from_meta(contract)
    if contract.joined is not None:  # S2+EMIT: the samples of the S2 table found in the EMIT table
        if not isinstance(data, S2EmitTables):
            raise InputError(
                "a model on S2+EMIT features is checked on both tables; give --table S2_TABLE --emit-table"
            )
        series, emit = data.opened()
        return contract.model_input(joined_features(series, emit, contract).values[:max_samples])
    if isinstance(data, S2EmitTables):
        raise InputError("--emit-table is for models on S2+EMIT features; this model reads one sensor")
    if contract.sensor != SENTINEL2:  # monthly medians (EMIT's) come from their table, never from S2 series
        if isinstance(data, SampleSeries) or not is_emit_table(data):
            label = contract.sensor.label
            raise InputError(f"a model on {label} medians is checked on {label} samples; give --table {label}_TABLE")
        values, _ = emit_features(read_emit_table(data), contract.months)
        return contract.model_input(values[:max_samples])
    series = data if isinstance(data, SampleSeries) else read_table(data)
    feats = series_features(series, contract)
    values = feats.values[feats.keep] if feats.keep.any() else feats.values
    return contract.model_input(values[:max_samples])


def convert_forest_pickle(
    pickle_path: ModelLike,
    out_path: str | os.PathLike,
    data: SampleSeries | str | os.PathLike | S2EmitTables,
    *,
    trust_pickle: bool = False,
    overwrite: bool = False,
) -> tuple[Path, float, int]:
    """Convert a gee-crop 0.1.0 Random Forest pickle into a ``model.onnx`` (unpickled only with
    ``trust_pickle``), checked against scikit-learn on real inputs: ``(path, max |dprob|, n_samples)``."""
    out_path = Path(out_path)
    _check_out(out_path, overwrite)
    forest, meta = load_pickled_forest(pickle_path, trust_pickle=trust_pickle)
    contract = FeatureSpec.from_meta(meta)
    extra = {k: meta[k] for k in ("train_config", "metrics") if k in meta}
    path = save_forest(
        out_path,
        forest,
        meta.get("arch_kwargs", {}),
        contract,
        **extra,
        feature_importances=[float(v) for v in forest.feature_importances_],
    )
    written = ModelFile.read(path)  # the new file, read once for its card and the parity check
    _write_text(path.with_name("model_card.md"), model_card_markdown(model_card_of(written)))
    inputs = real_inputs(contract, data)
    expected = forest_probabilities(forest, contract.model_input(inputs, flat=True))
    got = open_predictor(written).predict_proba(inputs)
    return path, _checked(path, lambda: _max_difference(expected, got, PARITY_TOLERANCE)), len(inputs)


def _checked(path: Path, parity) -> float:
    """``parity()``, removing ``path`` again when it fails, so no unchecked file is left behind."""
    try:
        return parity()
    except ParityError:
        path.unlink(missing_ok=True)
        raise


def export_and_check(
    model_path: ModelLike,
    out_path: str | os.PathLike,
    data: SampleSeries | str | os.PathLike | S2EmitTables,
    *,
    opset: int = 17,
    overwrite: bool = False,
    trust_pickle: bool = False,
) -> tuple[Path, float, int]:
    """Export (or, for a 0.1.0 forest pickle, convert), then compare onnxruntime with the original model
    on real inputs from ``data``: ``(path, max |dprob|, n_samples)``. The ONNX file is removed again
    when the parity check fails."""
    source = read_model_file(model_path)
    if source.kind == "pickle":
        return convert_forest_pickle(source, out_path, data, trust_pickle=trust_pickle, overwrite=overwrite)
    path = export_onnx(source, out_path, opset=opset, overwrite=overwrite)
    inputs = real_inputs(source.contract, data)
    return path, _checked(path, lambda: check_parity(source, path, inputs)), len(inputs)
