"""CropNet inference with onnxruntime: model metadata checks, execution providers, batching.

The ONNX file is gee-crop's export (``gee_crop.export.onnx``): input ``reflectance`` (N, 1, 10, t)
float32, output ``probabilities`` (N, 7), metadata_props with the classes, bands and season the
model was trained on. Everything the map needs to composite its input the way training did
(season span, window, clear threshold, gap limit) is read from there.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gee_crop.config import BANDS, CLASSES, SeasonSpan, hemisphere_of, season_span
from gee_crop.errors import ModelFileError

INPUT_NAME = "reflectance"
OUTPUT_NAME = "probabilities"
DEFAULT_BATCH_SIZE = 512
#: Providers tried in this order when the user names none (the first available wins; CPU always last).
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class ModelInfo:
    """What a gee-crop ONNX model expects, from its metadata_props."""

    classes: tuple[str, ...]
    bands: tuple[str, ...]
    start_month_day: tuple[int, int]
    length_days: int
    window_days: int
    n_bins: int
    year_trained: int | None
    cloud_threshold: float
    max_gap_bins: int
    feature_kind: str
    quantized: bool = False

    def season(self, year: int, latitude: float) -> SeasonSpan:
        """The model's season span in ``year`` for a region at ``latitude`` (south: shifted 6 months)."""
        return season_span(year, hemisphere_of(latitude), start_month_day=self.start_month_day,
                           length_days=self.length_days, window_days=self.window_days)


def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def model_info(onnx_path: str | os.PathLike) -> ModelInfo:
    """Read and check a gee-crop model's metadata (an ONNX export, or a ``model.pt`` for the torch
    backend); ModelFileError if it cannot map median stacks."""
    from gee_crop.export.onnx import read_onnx_metadata
    from gee_crop.models.io import read_model_file

    path = Path(onnx_path)
    if not path.is_file():
        raise ModelFileError(f"model {path} does not exist; export one with "
                             f"`gee-crop export model.pt --out {path.name}`")
    if path.suffix == ".pt":
        meta = read_model_file(path)
    else:
        meta = {k: _json(v) for k, v in read_onnx_metadata(path).items()}
    season = meta.get("season") or {}
    kind = str(meta.get("feature_kind", ""))
    if kind != "median2d":
        raise ModelFileError(f"model {path} uses {kind or 'unknown'} features; maps need a CropNet 2D "
                             "median model (train with the default --features median2d and export it)")
    year = season.get("year_trained")
    return ModelInfo(
        classes=tuple(meta["classes"]), bands=tuple(meta["bands"]),
        start_month_day=tuple(int(v) for v in season.get("start_month_day", (5, 1))),
        length_days=int(season["length_days"]), window_days=int(season["window_days"]),
        n_bins=int(season["n_bins"]), year_trained=int(year) if year is not None else None,
        cloud_threshold=float(meta["cloud_threshold"]), max_gap_bins=int(meta["max_gap_bins"]),
        feature_kind=kind, quantized="quantization" in meta)


def check_model_matches(info: ModelInfo, season: SeasonSpan, model_path: str | os.PathLike = "the model") -> None:
    """Raise ModelFileError when the model's bands, bins or classes differ from what the map makes."""
    if tuple(info.bands) != BANDS:
        raise ModelFileError(f"{model_path} was trained on bands {list(info.bands)}, but maps are made from "
                             f"{list(BANDS)}; retrain the model on gee-crop sample tables")
    if info.n_bins != season.n_bins:
        raise ModelFileError(f"{model_path} expects {info.n_bins} time bins, the map's season gives "
                             f"{season.n_bins} ({season.length_days} days / {season.window_days}-day windows); "
                             "map with the model's own season (do not override --window or the span)")
    if tuple(info.classes) != CLASSES:
        raise ModelFileError(f"{model_path} predicts classes {list(info.classes)}, not gee-crop's "
                             f"{list(CLASSES)}; retrain it with gee-crop's class list")


def select_providers(requested: list[str] | None = None) -> list[str]:
    """Execution providers to use: the requested ones (must be available) or the preferred available."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested:
        unknown = [p for p in requested if p not in available]
        if unknown:
            raise ModelFileError(f"onnxruntime provider(s) {unknown} are not available here "
                                 f"(available: {available}); install e.g. onnxruntime-gpu for CUDA, or drop --provider")
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available]


def check_precision(model_path: str | os.PathLike, precision: str) -> bool:
    """Whether ``model_path`` runs on the torch backend (a ``model.pt``); ModelFileError for a precision
    the model file cannot run at (bf16 needs the torch backend)."""
    from gee_crop.models.torch_predict import PRECISIONS

    path = Path(model_path)
    if precision not in PRECISIONS:
        raise ModelFileError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision != "fp32" and path.suffix != ".pt":
        raise ModelFileError(f"--precision {precision} runs through torch: pass the trained model.pt as --model "
                             f"instead of {path.name} (onnxruntime on CPU has no {precision} convolutions)")
    return path.suffix == ".pt"


_sessions: dict[tuple, object] = {}
_sessions_lock = threading.Lock()


def session_for(onnx_path: str | os.PathLike, providers: list[str] | None = None,
                threads: int | None = None, precision: str = "fp32"):
    """A cached session (one per model file and settings, shared by threads): onnxruntime for an ONNX
    file; :class:`~gee_crop.models.torch_predict.TorchSession` for a ``model.pt`` (fp32 or bf16)."""
    import onnxruntime as ort

    path = Path(onnx_path).resolve()
    torch_backend = check_precision(path, precision)
    providers = [] if torch_backend else select_providers(providers)
    key = (str(path), path.stat().st_mtime_ns, tuple(providers), threads, precision)
    with _sessions_lock:
        if key not in _sessions and torch_backend:
            from gee_crop.models.torch_predict import TorchSession

            _sessions[key] = TorchSession(path, precision, threads=threads)
        if key not in _sessions:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if threads:
                options.intra_op_num_threads = int(threads)
            try:
                _sessions[key] = ort.InferenceSession(str(path), options, providers=providers)
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise ModelFileError(f"onnxruntime cannot load {path} ({str(exc).splitlines()[0]}); "
                                     "re-export it with `gee-crop export`") from None
        return _sessions[key]


def predict_proba(session, reflectance: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """(n, 7) float32 class probabilities of (n, 1, 10, t) float32 reflectance, in batches."""
    n = len(reflectance)
    out = np.empty((n, len(CLASSES)), dtype=np.float32)
    for lo in range(0, n, batch_size):
        batch = np.ascontiguousarray(reflectance[lo:lo + batch_size], dtype=np.float32)
        out[lo:lo + batch_size] = session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
    return out
