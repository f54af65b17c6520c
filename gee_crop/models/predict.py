"""One way to run a model file: :func:`open_predictor` for evaluate, map, the parity check and quantisation.

Three back ends, chosen by what the file holds (``ModelFile.kind``), each with the same
``predict_proba(x)`` -> (n, 7) float32 probabilities and ``.contract`` (the model's FeatureSpec):

* :class:`TorchPredictor` -- a ``model.pt`` (CropNet or a CNN baseline) in fp32, or bf16 where the
  hardware has it (CPUs with AVX-512 BF16 / AMX, CUDA GPUs; onnxruntime's CPU provider has no bf16
  convolutions);
* :class:`OnnxPredictor` -- an ONNX export (fp32 or int8), with onnxruntime's execution providers;
* :class:`ForestPredictor` -- a Random Forest's ``model.onnx`` (flat features), with onnxruntime.

``x`` is the model's features in any of the shapes ``FeatureSpec.model_input`` accepts: (n, 10, t)
medians or (n, 1, 10, t) reflectance, (n, F) or (n, 1, F) vectors. Each back end is built from a
:class:`~gee_crop.models.io.ModelFile` (its bytes; the file is not opened again), or a path read once.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import onnxruntime as ort
import torch

from gee_crop.classes import CLASSES, resolve_class_list
from gee_crop.config import Arch, FeatureKind, Precision
from gee_crop.errors import ModelFileError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.device import resolve_device
from gee_crop.models.io import INPUT_NAME, OUTPUT_NAME, ModelFile, ModelLike, load_model, read_model_file
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2, Sensor

DEFAULT_BATCH_SIZE = 512
#: Providers tried in this order when the user names none (the first available wins; CPU always last).
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def _batched(run, x: np.ndarray, n_classes: int, batch_size: int) -> np.ndarray:
    """(n, n_classes) float32 outputs of ``run`` over ``x`` in batches of ``batch_size``."""
    out = np.empty((len(x), n_classes), dtype=np.float32)
    for lo in range(0, len(x), batch_size):
        out[lo : lo + batch_size] = run(np.ascontiguousarray(x[lo : lo + batch_size], dtype=np.float32))
    return out


class TorchPredictor:
    """Softmax probabilities of a torch ``model.pt`` (eval mode; bf16 through autocast; 2D inputs
    channels-last in bf16, where it is faster)."""

    def __init__(
        self,
        model_file: ModelLike,
        precision: Precision | str = Precision.FP32,
        device: str | torch.device = "auto",
        threads: int | None = None,
    ) -> None:
        model, self.meta = load_model(model_file)
        self.contract = FeatureSpec.from_meta(self.meta)
        if threads:
            torch.set_num_threads(int(threads))
        self.device = resolve_device(device)
        self.precision = Precision(precision)
        self.channels_last = self.precision == Precision.BF16 and self.contract.feature_kind == FeatureKind.MEDIAN2D
        self.model = model.to(self.device)
        if self.channels_last:
            # Module.to takes memory_format at runtime; torch's overload stubs leave it out
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == Precision.BF16),
        ):
            logits = self.model(x)
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def predict_proba(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(n, 7) float32 class probabilities of the model's features ``x``."""
        return _batched(self._run, self.contract.model_input(x), len(self.contract.classes), batch_size)


class OnnxPredictor:
    """Probabilities of a gee-crop ONNX graph (input ``reflectance``, output ``probabilities``)."""

    flat = False

    def __init__(self, model_file: ModelLike, providers: list[str] | None = None, threads: int | None = None) -> None:
        model_file = read_model_file(model_file)
        self.meta = model_file.meta
        self.contract = FeatureSpec.from_meta(self.meta)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(model_file.data, options, providers=select_providers(providers))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph types, no common base
            raise ModelFileError(
                f"onnxruntime cannot load {model_file.path} ({str(exc).splitlines()[0]}); "
                "re-export it with `gee-crop export`"
            ) from None

    @property
    def quantized(self) -> bool:
        return "quantization" in self.meta

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def predict_proba(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(n, 7) float32 class probabilities of the model's features ``x``."""
        return _batched(self._run, self.contract.model_input(x, flat=self.flat), len(self.contract.classes), batch_size)


class ForestPredictor(OnnxPredictor):
    """A Random Forest's ``model.onnx``: the same graph I/O on flat (n, F) features."""

    flat = True


Predictor = TorchPredictor | OnnxPredictor


def select_providers(requested: list[str] | None = None) -> list[str]:
    """Execution providers to use: the requested ones (must be available) or the preferred available."""
    available = ort.get_available_providers()
    if requested:
        unknown = [p for p in requested if p not in available]
        if unknown:
            raise ModelFileError(
                f"onnxruntime provider(s) {unknown} are not available here "
                f"(available: {available}); install e.g. onnxruntime-gpu for CUDA, or drop --provider"
            )
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available]


def check_precision(model_file: ModelLike, precision: Precision | str) -> bool:
    """Whether the model file runs on the torch back end (a torch model file); ModelFileError for a
    precision the model file cannot run at (bf16 needs the torch back end)."""
    try:
        precision = Precision(precision)
    except ValueError:
        raise ModelFileError(f"precision {precision!r} is not one of {', '.join(Precision.values())}") from None
    model_file = read_model_file(model_file)
    is_torch = model_file.kind == "torch"
    if precision != Precision.FP32 and not is_torch:
        raise ModelFileError(
            f"--precision {precision} runs through torch: pass the trained model.pt as --model "
            f"instead of {model_file.path.name} (onnxruntime on CPU has no {precision} convolutions)"
        )
    return is_torch


_cache: dict[tuple, Predictor] = {}
_cache_lock = threading.Lock()


def _open(
    model_file: ModelFile,
    precision: Precision | str,
    providers: list[str] | None,
    device: str | torch.device,
    threads: int | None,
) -> Predictor:
    if check_precision(model_file, precision):
        return TorchPredictor(model_file, precision, device, threads)
    if model_file.meta.get("arch") == Arch.RANDOM_FOREST:
        return ForestPredictor(model_file, providers, threads)
    return OnnxPredictor(model_file, providers, threads)


def open_predictor(
    model_file: ModelLike,
    precision: Precision | str = Precision.FP32,
    providers: list[str] | None = None,
    *,
    device: str | torch.device = "auto",
    threads: int | None = None,
    cache: bool = False,
) -> Predictor:
    """The predictor of a model file (a ModelFile, or a path read once), its back end chosen by the
    file's content.

    ``precision`` "bf16" needs a torch file; ``providers`` are onnxruntime's (default: CUDA if
    available, then CPU); ``device`` is torch's. ``cache=True`` shares one predictor per file content
    (its sha256) and settings between calls and threads (the map's tiles).
    """
    model_file = read_model_file(model_file)
    if not cache:
        return _open(model_file, precision, providers, device, threads)
    key = (model_file.sha256, str(precision), tuple(providers or ()), str(device), threads)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _open(model_file, precision, providers, device, threads)
        return _cache[key]


def check_model_matches(
    contract: FeatureSpec,
    season: SeasonSpan | None = None,
    model_path: str | os.PathLike = "the model",
    sensor: Sensor = SENTINEL2,
) -> None:
    """ModelFileError when the model's sensor, bands or classes differ from what ``sensor``'s source delivers,
    or (given the map's ``season``) when it cannot map median composites of that season (a model of monthly
    medians, EMIT's, has no season to match)."""
    if contract.sensor != sensor:
        raise ModelFileError(
            f"{model_path} reads {contract.sensor.name} bands, and this source delivers {sensor.name} bands "
            f"only; map with a {sensor.name} model, or map the {contract.sensor.name} model with a plain "
            "`gee-crop map --region` run on Earth Engine, without --on-server or --pilot (docs/emit.md)"
        )
    if contract.joined is not None:  # S2+EMIT: the EMIT half comes from an EMIT table, not a composite
        raise ModelFileError(
            f"{model_path} reads {'+'.join(contract.sensor_names)} features; score it with `gee-crop evaluate "
            "MODEL S2_TABLE --emit-table EMIT_TABLE` (maps of two-sensor models are not made yet, docs/emit.md)"
        )
    if tuple(contract.bands) != sensor.bands:
        raise ModelFileError(
            f"{model_path} was trained on bands {list(contract.bands)}, but gee-crop composites "
            f"{list(sensor.bands)}; retrain the model on gee-crop sample tables"
        )
    if resolve_class_list(contract.classes) != tuple(contract.classes):
        raise ModelFileError(
            f"{model_path} predicts classes {list(contract.classes)}, not a gee-crop class list "
            f"(the paper's {list(CLASSES)}, or two or more names of a user's legend); retrain it "
            "with gee-crop"
        )
    if season is None or contract.months:
        return
    if not contract.is_median:
        raise ModelFileError(
            f"model {model_path} uses {contract.feature_kind} features; maps need a CropNet 2D "
            "or another model of median features (train with --features median2d or median1d)"
        )
    if contract.n_bins != season.n_bins:
        raise ModelFileError(
            f"{model_path} expects {contract.n_bins} time bins, the map's season gives "
            f"{season.n_bins} ({season.length_days} days / {season.window_days}-day windows); "
            "map with the model's own season (do not override --window or the span)"
        )
