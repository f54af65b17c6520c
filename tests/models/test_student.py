"""The distilled mapping student: TempCNN (registry, shape, cost), ``train --distill-from`` on real patch
pixels, and its ONNX export (fp32 parity and int8 agreement with torch, onnxruntime vs torch)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.config import Arch
from gee_crop.errors import InputError
from gee_crop.export.onnx import PARITY_TOLERANCE, check_parity, export_onnx, real_inputs
from gee_crop.export.quantize import quantize_static_onnx
from gee_crop.models.cropnet import CropNet2D
from gee_crop.models.io import load_model, read_model_meta
from gee_crop.models.predict import open_predictor
from gee_crop.models.registry import build_model, torch_archs
from gee_crop.models.tempcnn import TempCNN
from gee_crop.training.distill import DistillationLoss
from gee_crop.training.trainer import train
from tests.training.realdata import TINY_RUN, labelled_pixels, table_file, tiny_run

STUDENT = dict(TINY_RUN, arch="tempcnn", widths=(32, 64, 64, 64))


@pytest.fixture(scope="module")
def student_run(tmp_path_factory):
    """A TempCNN distilled from the shared tiny CropNet on the same 360 real labelled patch pixels."""
    teacher = tiny_run(tmp_path_factory) / "model.pt"
    out = tmp_path_factory.mktemp("student")
    result = train(labelled_pixels(), out, progress=False, echo=lambda _: None, distill_from=str(teacher), **STUDENT)
    return result, teacher


def _macs(model: torch.nn.Module) -> int:
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += output.numel() * (module.in_features if isinstance(module, torch.nn.Linear)
                                   else int(np.prod(module.kernel_size)) * module.in_channels)

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, 10, 43))
    for h in handles:
        h.remove()
    return total


def test_tempcnn_reads_cropnets_input_at_a_hundredth_of_the_cost():
    student = build_model(Arch.TEMPCNN, {"n_bands": 10, "n_bins": 43, "n_classes": 7, "widths": [32, 64, 64, 64]})
    assert isinstance(student, TempCNN) and Arch.TEMPCNN in torch_archs()
    assert student.eval()(torch.rand(5, 1, 10, 43)).shape == (5, 7)
    assert _macs(CropNet2D()) == pytest.approx(174.4e6, rel=0.01)  # the paper's CropNet
    assert _macs(student) < _macs(CropNet2D()) / 100
    with pytest.raises(ValueError, match="three convolution widths"):
        TempCNN(widths=(8, 16, 32))


def test_distillation_loss_pulls_towards_the_teachers_soft_probabilities():
    """Synthetic logits (pure loss arithmetic): alpha=1 is zero exactly where student and teacher agree."""
    torch.manual_seed(0)
    teacher = torch.nn.Linear(4, 3)
    x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    with torch.no_grad():
        same = teacher(x)
    loss = DistillationLoss(teacher, temperature=2.0, alpha=1.0)
    assert float(loss(x, same, y)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(x, same + torch.tensor([3.0, 0.0, 0.0]), y)) > 0.1
    assert not any(p.requires_grad for p in teacher.parameters())  # the teacher is frozen


def test_distilled_student_learns_the_patch(student_run):
    result, teacher = student_run
    validation = result.metrics["validation"]
    assert validation["overall_accuracy"] > 0.85 and validation["macro_f1"] > 0.75
    meta = read_model_meta(result.model_path)
    assert meta["arch"] == "tempcnn" and meta["train_config"]["distill_from"] == str(teacher)


def test_teacher_reading_other_inputs_is_refused(tmp_path, tmp_path_factory):
    teacher = tiny_run(tmp_path_factory) / "model.pt"
    with pytest.raises(InputError, match=r"teacher reads other inputs \(season\.window_days differ\)"):
        train(labelled_pixels(), tmp_path, progress=False, echo=lambda _: None, distill_from=str(teacher),
              **dict(STUDENT, window_days=10, epochs=1))
    with pytest.raises(InputError, match="random_forest cannot learn soft targets"):
        train(labelled_pixels(), tmp_path / "rf", progress=False, echo=lambda _: None, distill_from=str(teacher),
              arch="random_forest")


def test_student_export_parity_onnxruntime_vs_torch(tmp_path, student_run):
    model_pt = student_run[0].model_path
    inputs = real_inputs(read_model_meta(model_pt), labelled_pixels(), max_samples=360)
    fp32 = export_onnx(model_pt, tmp_path / "student.onnx")
    assert check_parity(model_pt, fp32, inputs) < PARITY_TOLERANCE
    int8 = quantize_static_onnx(fp32, tmp_path / "student.int8.onnx", inputs[:256])
    torch_p = open_predictor(model_pt, device="cpu").predict_proba(inputs)
    int8_p = open_predictor(int8).predict_proba(inputs)
    assert (torch_p.argmax(1) == int8_p.argmax(1)).mean() >= 0.97
    assert np.abs(torch_p - int8_p).max() < 0.2
    model, _ = load_model(model_pt)
    assert isinstance(model, TempCNN)


def test_train_cli_distills(tmp_path, tmp_path_factory):
    teacher = tiny_run(tmp_path_factory) / "model.pt"
    result = CliRunner().invoke(cli.main, ["train", str(table_file(tmp_path_factory)), "--out", str(tmp_path / "s"),
                                           "--arch", "tempcnn", "--widths", "16,32,32,32", "--epochs", "2",
                                           "--max-gap-bins", "12", "--distill-from", str(teacher), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "model.pt").is_file()
