"""The CNN baselines: build, parameter counts next to the paper's, forward passes, saved / exported / mapped
like CropNet, trained by the one trainer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.export.cards import card_text, read_card, record_transfer_scores
from gee_crop.export.onnx import check_parity, export_onnx
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.cropnet import count_parameters
from gee_crop.models.io import load_model, read_contract, save_model
from gee_crop.models.predict import check_model_matches, open_predictor
from gee_crop.models.registry import architecture, arch_kwargs, build_model, parameter_counts, parameter_table
from gee_crop.season import Season
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.evaluate import evaluate_model
from gee_crop.training.trainer import train

#: the paper's CNN baselines (models/backbones.py)
BACKBONES = ("resnet50", "efficientnet_v2_s", "convnext_tiny")


def build_backbone(arch: str):
    """A baseline with its default constructor arguments (10 bands, 7 classes), built by the registry."""
    return build_model(arch, {})


@pytest.mark.parametrize("arch", BACKBONES)
@pytest.mark.parametrize("n_bins", [43, 15])  # 5-day and 15-day windows over the season
def test_every_baseline_runs_a_forward_and_backward_pass(arch, n_bins):
    torch.manual_seed(0)
    model = build_backbone(arch)
    x = torch.rand(3, 1, 10, n_bins) * 0.4
    model.train()
    logits = model(x)
    assert logits.shape == (3, 7) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # no dropout in eval


@pytest.mark.parametrize("arch", BACKBONES)
def test_parameter_counts_are_close_to_the_papers(arch):
    n, paper = count_parameters(build_backbone(arch)), architecture(arch).paper_parameters
    assert abs(n - paper) / paper < 0.005  # within 0.5 %


def test_parameter_table_lists_cropnet_next_to_the_baselines():
    counts = parameter_counts()
    assert counts["cropnet2d"] == 4_689_735
    table = parameter_table(counts)
    assert "cropnet2d" in table.splitlines()[1] and "4.69 M" in table
    assert all(arch in table for arch in BACKBONES) and list(counts) == ["cropnet2d", *BACKBONES]


def test_normalization_lives_inside_the_model():
    model = build_backbone("resnet50").eval()
    x = torch.rand(2, 1, 10, 43)
    mean, std = np.linspace(0.05, 0.4, 10), np.linspace(0.02, 0.2, 10)
    model.set_normalization(mean, std)
    shifted = build_backbone("resnet50").eval()
    shifted.load_state_dict(model.state_dict())
    shifted.set_normalization(np.zeros(10), np.ones(10))
    normalized = (x - torch.tensor(mean, dtype=torch.float32).view(1, 1, -1, 1)) / torch.tensor(
        std, dtype=torch.float32).view(1, 1, -1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), shifted(normalized), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", BACKBONES)
def test_baselines_are_saved_loaded_exported_and_mapped_like_cropnet(arch, tmp_path):
    """A registered architecture: model.pt (weights_only), its contract, ONNX export with parity, and
    the predictor and season check the map uses."""
    contract = FeatureSpec(year_trained=2019)
    torch.manual_seed(0)
    kwargs = arch_kwargs(arch, contract)
    model = build_model(arch, kwargs).eval()
    model.set_normalization(np.linspace(0.05, 0.4, 10), np.linspace(0.02, 0.2, 10))
    path = save_model(tmp_path / "model.pt", model, arch, kwargs, contract, train_config={}, metrics={})
    assert torch.load(path, weights_only=True)["arch"] == arch
    loaded, meta = load_model(path)
    x = torch.rand(3, 1, 10, 43) * 0.4
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert meta["arch_kwargs"] == {"n_bands": 10, "n_classes": 7} and read_contract(path) == contract
    onnx_path = export_onnx(path, tmp_path / "model.onnx")
    assert check_parity(path, onnx_path, x.numpy()) < 1e-4
    predictor = open_predictor(path)
    check_model_matches(predictor.contract, Season().span(2019))  # maps a 2019 season of medians
    assert predictor.predict_proba(x.numpy()[:, 0]).shape == (3, 7)


@pytest.mark.slow
@pytest.mark.parametrize("arch", BACKBONES)
def test_baselines_train_and_score_on_real_series(arch, tmp_path):
    """The one trainer with ``arch``, as an experiment runs it; scored and carded like CropNet."""
    series = read_worldcereal(shared_data_dir() / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")
    series = series.subset(np.arange(24))
    run = train(series, tmp_path, arch=arch, epochs=1, batch_size=12, max_gap_bins=12, val_fraction=0.0,
                augment=True, seed=3, progress=False, echo=lambda _: None)
    path = run.model_path
    assert path.name == "model.pt" and (tmp_path / "checkpoint.pt").is_file()
    model, meta = load_model(path)
    assert meta["season"]["n_bins"] == 43 and meta["train_config"]["data"]["regions"] == ["FRA"]
    assert float(model.normalization.std.min()) > 0 and not torch.equal(model.normalization.mean, torch.zeros(10))
    evaluation = evaluate_model(path, series, target_region="ARG", source_region="FRA")
    assert evaluation.report.confusion.sum() == 24 - evaluation.n_dropped_gaps
    assert "counted as other" in evaluation.alignment.describe()

    # its model card, with the transfer score an experiment records
    record_transfer_scores(path, [{**evaluation.to_dict(), "target": "ARG_test", "transfer": "FRA→ARG", "seed": 3}])
    text = card_text(read_card(path))
    assert text.startswith(f"# Model card: gee-crop {arch}") and "regions: FRA" in text
    assert f"- FRA→ARG: OA {100 * evaluation.report.overall_accuracy:.2f} %" in text
    assert load_model(path)[1]["metrics"]["transfers"][0]["target"] == "ARG_test"
