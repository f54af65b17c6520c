"""Input scaling stored in the model (issue 12): ``log`` rescales reflectance inside the model, fitted
on training data, identically in training, torch prediction and the ONNX graph."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from gee_crop.config import InputScaling
from gee_crop.errors import InputError, ModelFileError
from gee_crop.export.cards import read_card
from gee_crop.export.onnx import export_and_check, real_inputs
from gee_crop.features.spec import FeatureSpec, scale_reflectance
from gee_crop.models.io import load_model, read_contract, read_model_meta
from gee_crop.models.predict import open_predictor
from gee_crop.models.normalization import apply_input_scaling, input_scaling_of, scale_input
from gee_crop.training.dataset import series_features
from gee_crop.training.trainer import train


def test_numpy_and_torch_scaling_agree_on_real_medians(fra_dekadal):
    values = series_features(fra_dekadal, FeatureSpec()).values
    expected = scale_reflectance(values, "log")
    got = scale_input(torch.from_numpy(values), InputScaling.LOG).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    # a gain of 100: dark (0.01) -> log 2, bright (0.3) -> log 31; negative or zero reflectance -> 0
    np.testing.assert_allclose(scale_reflectance(np.array([-0.1, 0.0, 0.01, 0.3]), "log"),
                               np.log([1.0, 1.0, 2.0, 31.0]), rtol=1e-6)
    assert scale_reflectance(values, "standard") is values


def test_old_contracts_load_as_standard_and_log_round_trips():
    meta = FeatureSpec().to_meta()
    meta.pop("input_scaling")  # a file written before the option existed
    assert FeatureSpec.from_meta(meta).input_scaling == InputScaling.STANDARD
    spec = FeatureSpec(input_scaling="log")
    assert spec.to_meta()["input_scaling"] == "log" and FeatureSpec.from_meta(spec.to_meta()) == spec
    with pytest.raises(ModelFileError, match="upgrade gee-crop"):
        FeatureSpec.from_meta({**spec.to_meta(), "input_scaling": "sqrt"})


def test_log_model_stores_scaling_and_standardises_log_reflectance(recipe_models, fra_dekadal):
    path = recipe_models[0]
    contract = read_contract(path)
    assert contract.input_scaling == InputScaling.LOG
    model, meta = load_model(path)
    assert input_scaling_of(model) == InputScaling.LOG and meta["train_config"]["input_scaling"] == "log"
    # the stored mean is that of log-scaled training reflectance (about log(1 + 100 * 0.1) ~ 2.4), not of
    # raw reflectance (~0.1)
    mean = model.normalization.mean.numpy()
    assert (mean > 1.0).all() and (mean < 4.5).all(), mean


def test_scaling_is_applied_inside_the_model(recipe_models, fra_dekadal):
    model, _ = load_model(recipe_models[0])
    x = torch.from_numpy(real_inputs(read_contract(recipe_models[0]), fra_dekadal))
    with torch.no_grad():
        scaled = model(x)
        apply_input_scaling(model, "standard")  # the same weights fed raw reflectance
        raw = model(x)
        apply_input_scaling(model, "log")        # replaced, never stacked
        again = model(x)
    assert not torch.allclose(scaled, raw, atol=1e-3)
    torch.testing.assert_close(again, scaled)


def test_log_model_exports_with_parity(recipe_models, fra_monthly, tmp_path):
    out = tmp_path / "log.onnx"
    path, diff, n = export_and_check(recipe_models[0], out, fra_monthly)
    assert diff < 1e-4 and n == 64
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Log" in ops  # the rescaling is in the graph: callers feed reflectance
    onnx_model = open_predictor(path, providers=["CPUExecutionProvider"])
    assert onnx_model.contract.input_scaling == InputScaling.LOG
    assert read_model_meta(path)["input_scaling"] == "log"
    card = read_card(path)
    assert card["input"]["input_scaling"] == "log" and card["training"]["input_scaling"] == "log"
    assert (out.parent / "model_card.md").read_text().count("input scaling `log`") == 1


def test_standard_model_is_unchanged(standard_model):
    model, meta = load_model(standard_model)
    assert input_scaling_of(model) == InputScaling.STANDARD and meta["input_scaling"] == "standard"
    assert (model.normalization.mean.numpy() < 0.5).all()  # raw reflectance means


@pytest.mark.parametrize("options, words", [
    ({"input_scaling": "sqrt"}, "--input-scaling 'sqrt' is unknown"),
    ({"input_scaling": "log", "arch": "random_forest"}, "monotone rescaling changes nothing"),
    ({"input_scaling": "log", "arch": "cropnet1d", "feature_kind": "harmonic"}, "not reflectance"),
    ({"balanced_sampling": True, "arch": "random_forest"}, "fitted once"),
])
def test_bad_options_are_refused_before_training(fra_dekadal, tmp_path, options, words):
    with pytest.raises(InputError) as err:
        train(fra_dekadal, tmp_path / "run", progress=False, echo=lambda _: None, **options)
    assert words in str(err.value)
    assert not (tmp_path / "run").exists()


def test_smooth_scaling_is_a_centred_moving_mean_over_time(fra_dekadal):
    values = series_features(fra_dekadal, FeatureSpec()).values          # (n, 10, t) real medians
    smooth = scale_reflectance(values, "smooth")
    np.testing.assert_allclose(smooth[..., 20], values[..., 18:23].mean(axis=-1), rtol=1e-5)
    # the edges repeat the first / last bin: (3 x0 + x1 + x2) / 5
    np.testing.assert_allclose(smooth[..., 0], (3 * values[..., 0] + values[..., 1] + values[..., 2]) / 5, rtol=1e-5)
    np.testing.assert_allclose(smooth.mean(axis=-1), values.mean(axis=-1), atol=0.01)   # levels kept
    assert np.abs(np.diff(smooth, axis=-1)).mean() < np.abs(np.diff(values, axis=-1)).mean()
    got = scale_input(torch.from_numpy(values), InputScaling.SMOOTH).numpy()
    np.testing.assert_allclose(got, smooth, rtol=1e-5, atol=1e-6)


def test_smooth_model_exports_with_parity(fra_dekadal, fra_monthly, tmp_path):
    from tests.training.recipes.conftest import _train

    model_pt = _train(fra_dekadal, tmp_path / "run", seed=0, input_scaling="smooth")
    assert read_contract(model_pt).input_scaling == InputScaling.SMOOTH
    path, diff, n = export_and_check(model_pt, tmp_path / "smooth.onnx", fra_monthly)
    assert diff < 1e-4 and n == 64
    assert open_predictor(path, providers=["CPUExecutionProvider"]).contract.input_scaling == InputScaling.SMOOTH


def test_smooth_scaling_needs_the_2d_median_matrix(fra_dekadal, tmp_path):
    with pytest.raises(InputError, match="no time axis to smooth"):
        train(fra_dekadal, tmp_path / "run", progress=False, echo=lambda _: None, arch="cropnet1d",
              feature_kind="median1d", input_scaling="smooth")
