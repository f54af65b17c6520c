"""The CNN baselines: build, parameter counts next to the paper's, forward passes, training in experiments."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gee_crop.models.backbones import (BACKBONES, PAPER_PARAMETERS, build_backbone, parameter_counts,
                                       parameter_table)
from gee_crop.models.cropnet import count_parameters


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    n = count_parameters(build_backbone(arch))
    assert abs(n - PAPER_PARAMETERS[arch]) / PAPER_PARAMETERS[arch] < 0.005  # within 0.5 %


def test_parameter_table_lists_cropnet_next_to_the_baselines():
    counts = parameter_counts()
    assert counts["cropnet2d"] == 4_689_735
    table = parameter_table(counts)
    assert "cropnet2d" in table.splitlines()[1] and "4.69 M" in table
    assert all(arch in table for arch in BACKBONES)


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


@pytest.mark.slow
@pytest.mark.parametrize("arch", BACKBONES)
def test_baselines_train_and_score_on_real_series(arch, tmp_path):
    from gee_crop.data.worldcereal import read_worldcereal
    from gee_crop.training.backbone_trainer import evaluate_backbone, load_backbone, train_backbone
    from gee_crop.testing.paths import shared_data_dir

    series = read_worldcereal(shared_data_dir() / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")
    series = series.subset(np.arange(24))
    path = train_backbone(series, tmp_path, arch, {"epochs": 1, "batch_size": 12, "max_gap_bins": 12,
                                                   "val_fraction": 0.0, "augment": True, "seed": 3},
                          echo=lambda _: None)
    model, meta = load_backbone(path)
    assert meta["season"]["n_bins"] == 43 and meta["regions"] == ["FRA"]
    assert float(model.band_std.min()) > 0 and not torch.equal(model.band_mean, torch.zeros(10))
    evaluation = evaluate_backbone(path, series, target_region="ARG", source_region="FRA")
    assert evaluation.report.confusion.sum() == 24 - evaluation.n_dropped_gaps
    assert "counted as other" in evaluation.alignment.describe()

    # its model card, with the transfer score an experiment records
    from gee_crop.export.cards import card_text, read_card, record_transfer_scores

    record_transfer_scores(path, [{**evaluation.to_dict(), "target": "ARG_test", "transfer": "FRA→ARG", "seed": 3}])
    text = card_text(read_card(path))
    assert text.startswith(f"# Model card: gee-crop {arch}") and "regions: FRA" in text
    assert f"- FRA→ARG: OA {100 * evaluation.report.overall_accuracy:.2f} %" in text
    assert load_backbone(path)[1]["metrics"]["transfers"][0]["target"] == "ARG_test"

