"""Export a trained CropNet to ONNX, with everything a mapper needs in the file's metadata.

The graph takes ``reflectance`` (N, 1, 10, t) float32 (DN / 1e4, config.BANDS order, 5-day medians of
the season in ``season``; (N, 1, F) for 1D models) and returns ``probabilities`` (N, 7) (softmax
included). Normalization is inside the graph. ``metadata_props``:

================  =====================================================================
gee_crop_model    model file format version
classes, bands    JSON lists, output / input order
season            JSON: start_month_day, length_days, window_days, n_bins, year_trained
feature_kind      median2d | median1d | harmonic
cloud_threshold   clear threshold used for training (float, as text)
max_gap_bins      gap limit used for training (int, as text)
model_card        JSON: training data, classes, season, metrics, known limits
================  =====================================================================
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gee_crop.errors import GeeCropError, ModelFileError, OutputExistsError
from gee_crop.export.model_card import model_card, model_card_markdown
from gee_crop.models.cropnet import count_parameters, input_shape
from gee_crop.atomic import atomic_write
from gee_crop.models.io import FORMAT_KEY, is_random_forest, load_model

INPUT_NAME = "reflectance"
OUTPUT_NAME = "probabilities"
PARITY_TOLERANCE = 1e-4
#: metadata keys stored as JSON (the others are plain text).
JSON_KEYS = ("classes", "bands", "season", "model_card")


class ParityError(GeeCropError):
    """The ONNX graph does not reproduce the torch model's probabilities."""


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
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _torch_export(module: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    """torch.onnx.export with a dynamic batch axis: the dynamo exporter where it writes ``opset``
    natively, else (or when it fails) the TorchScript exporter with ``dynamo=False``."""
    if opset >= DYNAMO_MIN_OPSET:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, (example,), str(path), input_names=[INPUT_NAME],
                                  output_names=[OUTPUT_NAME], opset_version=opset, dynamo=True,
                                  dynamic_shapes={"reflectance": {0: torch.export.Dim("batch", min=1)}},
                                  external_data=False, verbose=False)
            if _opset_of(path) == opset:
                return
        except Exception:  # noqa: BLE001 - fall back to the exporter that handles this model exactly
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], opset_version=opset, dynamo=False,
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    if _opset_of(path) != opset:
        raise GeeCropError(f"the ONNX exporter wrote opset {_opset_of(path)} instead of {opset}; "
                           "choose another --opset")


def metadata_for(meta: dict, card: dict) -> dict[str, str]:
    """The ``metadata_props`` of the ONNX file, as strings."""
    return {
        FORMAT_KEY: str(meta[FORMAT_KEY]),
        "classes": json.dumps(list(meta["classes"])),
        "bands": json.dumps(list(meta["bands"])),
        "season": json.dumps(meta["season"]),
        "feature_kind": str(meta["feature_kind"]),
        "cloud_threshold": repr(float(meta["cloud_threshold"])),
        "max_gap_bins": str(int(meta["max_gap_bins"])),
        "model_card": json.dumps(card),
    }


def export_onnx(model_pt_path: str | os.PathLike, out_path: str | os.PathLike, *, opset: int = 17,
                overwrite: bool = False) -> Path:
    """Export a CropNet model file to ONNX (+ ``model_card.md`` beside it); returns the ONNX path.

    Raises OutputExistsError when ``out_path`` exists and ``overwrite`` is False, ModelFileError for
    a file that is not a CropNet model (Random Forests do not export).
    """
    import onnx

    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise OutputExistsError(f"{out_path} exists; pass --overwrite to replace it or choose another --out")
    model, meta = load_model(model_pt_path)
    if is_random_forest(meta):
        raise ModelFileError(f"{model_pt_path} is a Random Forest baseline; only CropNet models export "
                             "to ONNX (train one with `gee-crop train --arch cropnet2d`)")
    wrapped = _WithSoftmax(model).eval()
    example = torch.zeros((2, *input_shape(model)), dtype=torch.float32)
    card = model_card(meta, count_parameters(model), input_shape(model), INPUT_NAME, OUTPUT_NAME)
    with tempfile.TemporaryDirectory() as tmpdir:
        raw = Path(tmpdir) / "model.onnx"
        _torch_export(wrapped, example, raw, opset)
        proto = onnx.load(str(raw))
    del proto.metadata_props[:]
    for key, value in metadata_for(meta, card).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "gee-crop"
    onnx.checker.check_model(proto)
    atomic_write(out_path, lambda tmp: onnx.save(proto, str(tmp)))
    atomic_write(out_path.with_name("model_card.md"),
                 lambda tmp: tmp.write_text(model_card_markdown(card), encoding="utf-8"))
    return out_path


def read_onnx_metadata(path: str | os.PathLike) -> dict:
    """The gee-crop metadata of an ONNX file, decoded: classes/bands lists, season/model_card dicts,
    cloud_threshold float, max_gap_bins int, feature_kind and gee_crop_model str.

    Raises ModelFileError when the file is not an ONNX model exported by gee-crop.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"ONNX file {path} does not exist; create it with `gee-crop export`")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not an ONNX model"
        raise ModelFileError(f"{path} is not an ONNX model ({type(exc).__name__}); give a file written "
                             "by `gee-crop export`") from None
    props = {p.key: p.value for p in proto.metadata_props}
    if FORMAT_KEY not in props:
        raise ModelFileError(f"{path} is an ONNX model without gee-crop metadata; export it with "
                             "`gee-crop export MODEL.pt --out FILE.onnx`")
    out: dict = dict(props)
    try:
        for key in JSON_KEYS:
            if key in out:
                out[key] = json.loads(out[key])
        out["cloud_threshold"] = float(out["cloud_threshold"])
        out["max_gap_bins"] = int(out["max_gap_bins"])
    except (ValueError, KeyError) as exc:
        raise ModelFileError(f"{path} has damaged gee-crop metadata ({exc}); export the model again") from None
    return out


def onnx_probabilities(onnx_path: str | os.PathLike, inputs: np.ndarray) -> np.ndarray:
    """(n, 7) probabilities of model inputs with onnxruntime (CPU)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(inputs, dtype=np.float32)})[0]


def check_parity(model_pt_path: str | os.PathLike, onnx_path: str | os.PathLike, inputs: np.ndarray,
                 tolerance: float = PARITY_TOLERANCE) -> float:
    """Max |probability difference| between torch and onnxruntime on ``inputs``; ParityError above
    ``tolerance``."""
    model, _ = load_model(model_pt_path)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(np.asarray(inputs, dtype=np.float32))), dim=1).numpy()
    got = onnx_probabilities(onnx_path, inputs)
    diff = float(np.abs(expected - got).max()) if len(inputs) else 0.0
    if not diff < tolerance:
        raise ParityError(f"the ONNX model differs from the torch model by {diff:.2e} in probability "
                          f"(> {tolerance:.0e}); retry with another --opset and report the issue")
    return diff


def real_inputs(meta: dict, table: str | os.PathLike | None = None, max_samples: int = 64) -> np.ndarray:
    """Model inputs from real data for the parity check: the given sample table, else pixels of the
    shipped Earth Engine demo patch; at most ``max_samples`` samples, computed as the model's features."""
    from gee_crop.training.dataset import FeatureSpec, as_model_input, series_features

    if table is not None:
        from gee_crop.data.table import read_table

        series = read_table(table)
    else:
        from gee_crop.data.patch import patch_pixels, read_patch
        from gee_crop.testing.paths import demo_patch_dir

        patch = read_patch(demo_patch_dir(), with_labels=False)
        h, w = patch.shape
        # an even spread of pixels over the patch (every 8th row and column)
        rows, cols = np.meshgrid(np.arange(0, h, 8), np.arange(0, w, 8), indexing="ij")
        series = patch_pixels(patch, rows.ravel(), cols.ravel())
    spec = FeatureSpec.from_meta(meta)
    feats = series_features(series, spec)
    values = feats.values[feats.keep] if feats.keep.any() else feats.values
    return as_model_input(values[:max_samples], spec)


def export_and_check(model_pt_path: str | os.PathLike, out_path: str | os.PathLike, *, opset: int = 17,
                     overwrite: bool = False, table: str | os.PathLike | None = None
                     ) -> tuple[Path, float, int]:
    """Export, then compare onnxruntime with torch on real inputs: ``(path, max |dprob|, n_samples)``.

    The ONNX file is removed again when the parity check fails, so no unchecked file is left behind.
    """
    path = export_onnx(model_pt_path, out_path, opset=opset, overwrite=overwrite)
    _, meta = load_model(model_pt_path)
    inputs = real_inputs(meta, table)
    try:
        diff = check_parity(model_pt_path, path, inputs)
    except ParityError:
        path.unlink(missing_ok=True)
        raise
    return path, diff, len(inputs)
