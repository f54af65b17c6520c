"""The one input normalisation every architecture uses (models/normalization.py): the contract's input
scaling, then the training mean / std per band or feature, inside the model; older files' buffer names."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gee_crop.config import InputScaling
from gee_crop.data.demo import demo_samples
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.cropnet import CropNet2D
from gee_crop.models.io import load_model, read_contract
from gee_crop.models.normalization import (InputNormalization, apply_input_scaling, input_scaling_of,
                                           normalization_of, scale_input)
from gee_crop.models.registry import arch_kwargs, architecture, build_model, torch_archs
from gee_crop.models.zoo import zoo_model
from gee_crop.season import Season
from gee_crop.training.dataset import series_features

SMALL_WIDTHS = {"cropnet2d": (4, 4, 4, 4), "cropnet1d": (4, 4, 4, 4), "tempcnn": (4, 4, 4, 8)}


def _small(arch: str) -> tuple[torch.nn.Module, FeatureSpec]:
    contract = FeatureSpec(architecture(arch).features[0].value, season=Season(length_days=100, window_days=10))
    torch.manual_seed(0)
    return build_model(arch, arch_kwargs(arch, contract, widths=SMALL_WIDTHS.get(arch, ()))).eval(), contract


@pytest.mark.parametrize("arch", [a.value for a in torch_archs()])
def test_every_torch_architecture_standardises_with_the_one_module(arch):
    """Synthetic inputs (pure arithmetic): the model on raw x equals the same weights, with identity
    statistics, on (x - mean) / std; the statistics are the state_dict's normalization buffers."""
    model, contract = _small(arch)
    modules = [m for m in model.modules() if isinstance(m, InputNormalization)]
    assert modules == [normalization_of(model)]
    n = len(modules[0].mean)
    mean = np.linspace(0.05, 0.4, n, dtype=np.float32)
    std = np.linspace(0.02, 0.2, n, dtype=np.float32)
    identity = copy.deepcopy(model)
    model.set_normalization(mean, std)
    assert torch.equal(model.state_dict()["normalization.mean"], torch.from_numpy(mean))
    x = torch.rand(3, *contract.input_shape) * 0.4
    shape = [1] * x.dim()
    shape[-2 if contract.feature_kind == "median2d" else -1] = -1
    standardised = (x - torch.from_numpy(mean).view(shape)) / torch.from_numpy(std).view(shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), identity(standardised), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("scaling", [InputScaling.LOG, InputScaling.SMOOTH])
def test_input_scaling_runs_inside_the_normalization_before_the_statistics(scaling):
    """Synthetic inputs: a model of ``scaling`` on x equals the standard model on scale_input(x)."""
    model, contract = _small("tempcnn")
    model.set_normalization(np.full(10, 0.3), np.full(10, 0.1))
    standard = copy.deepcopy(model)
    x = torch.rand(2, *contract.input_shape) * 0.4
    assert apply_input_scaling(model, scaling) is model and input_scaling_of(model) == scaling
    assert input_scaling_of(standard) == InputScaling.STANDARD
    with torch.no_grad():
        torch.testing.assert_close(model(x), standard(scale_input(x, scaling)))
    apply_input_scaling(model, scaling)  # replaced, never stacked
    with torch.no_grad():
        torch.testing.assert_close(model(x), standard(scale_input(x, scaling)))
    with pytest.raises(ValueError, match="no input normalization"):
        apply_input_scaling(torch.nn.Linear(2, 2), scaling)


@pytest.mark.parametrize("name", ["cropnet-weu", "tempcnn-weu"])
def test_the_shipped_weights_load_from_their_older_buffer_names(name):
    """The zoo's fp32 weights were saved with the architecture's own band_mean / band_std buffers: they
    load into the normalization module, and on the real demo patch the model computes exactly what the
    older architecture computed from those buffers (scaling, (x - band_mean) / band_std, then the body)."""
    path = zoo_model(name).path.with_name(f"{name}.pt")
    state = torch.load(path, weights_only=True)["state_dict"]
    assert {"band_mean", "band_std"} <= set(state) and "normalization.mean" not in state
    model, _ = load_model(path)
    assert torch.equal(model.normalization.mean, state["band_mean"])
    assert torch.equal(model.normalization.std, state["band_std"])
    contract = read_contract(path)
    assert input_scaling_of(model) == contract.input_scaling == InputScaling.SMOOTH
    feats = series_features(demo_samples(), contract)
    x = torch.from_numpy(contract.model_input(feats.values[feats.keep][:64]))
    mean, std = state["band_mean"].view(1, 1, -1, 1), state["band_std"].view(1, 1, -1, 1)
    with torch.no_grad():
        older = (scale_input(x, contract.input_scaling) - mean) / std
        if name.startswith("tempcnn"):
            expected = model.head(model.convs(older.flatten(1, 2)))
        else:
            expected = model.classifier(torch.nn.functional.adaptive_avg_pool2d(model.blocks(older), 1).flatten(1))
        assert torch.equal(model(x), expected)


def test_a_state_dict_of_an_older_version_loads_strictly():
    """Synthetic weights: an interrupted run's checkpoint written before the module existed resumes; a
    state_dict missing the statistics is still refused."""
    torch.manual_seed(0)
    old = CropNet2D(widths=(4, 4, 4, 4))
    old.set_normalization(np.linspace(0.1, 0.2, 10), np.linspace(0.01, 0.02, 10))
    state = {("band_" + k.split(".")[1] if k.startswith("normalization.") else k): v
             for k, v in old.state_dict().items()}
    new = CropNet2D(widths=(4, 4, 4, 4))
    new.load_state_dict(state)
    assert all(torch.equal(v, new.state_dict()[k]) for k, v in old.state_dict().items())
    state.pop("band_std")
    with pytest.raises(RuntimeError, match="normalization.std"):
        CropNet2D(widths=(4, 4, 4, 4)).load_state_dict(state)
