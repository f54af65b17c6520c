"""Seed ensembles as one ONNX graph (issue 12): the graph's probabilities equal the mean of the members'
torch probabilities, it carries the contract and the members' checksums, and it quantises and maps
like any exported model."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.errors import InputError, OutputExistsError
from gee_crop.export.ensemble import ENSEMBLE_KEY, export_ensemble, export_ensemble_and_check
from gee_crop.export.onnx import real_inputs
from gee_crop.export.quantize import quantize_exported
from gee_crop.ledger import file_sha256
from gee_crop.models.io import read_contract, read_model_meta
from gee_crop.models.predict import OnnxPredictor, open_predictor
from tests.training.recipes.conftest import ENSEMBLE_SEEDS


@pytest.fixture(scope="module")
def ensemble(recipe_models, fra_dekadal, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble") / "ens.onnx"
    path, diff, n = export_ensemble_and_check(recipe_models, out, fra_dekadal)
    return path, diff, n


def test_graph_equals_mean_of_members(ensemble, recipe_models, fra_monthly):
    path, diff, n = ensemble
    assert diff < 1e-4 and n == 64
    # on other real data than the parity check's: France 2022 monthly
    inputs = real_inputs(read_contract(path), fra_monthly, max_samples=200)
    members = [open_predictor(p, device="cpu").predict_proba(inputs) for p in recipe_models]
    got = open_predictor(path, providers=["CPUExecutionProvider"]).predict_proba(inputs)
    np.testing.assert_allclose(got, np.mean(members, axis=0), atol=1e-4)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    # the members really differ (else the test would prove nothing)
    assert np.abs(members[0] - members[1]).max() > 1e-3


def test_metadata_carries_contract_and_members(ensemble, recipe_models):
    path = ensemble[0]
    meta = read_model_meta(path)
    assert read_contract(path) == read_contract(recipe_models[0])
    assert meta["input_scaling"] == "log" and meta["arch"] == "cropnet2d"
    members = meta[ENSEMBLE_KEY]["members"]
    assert [m["sha256"] for m in members] == [file_sha256(p) for p in recipe_models]
    assert [m["seed"] for m in members] == list(ENSEMBLE_SEEDS)
    card = meta["model_card"]
    assert card["training"]["seed"] == list(ENSEMBLE_SEEDS) and "ensemble of 3" in card["model"]
    assert card["training"]["balanced_sampling"] is True
    # the first member's training footprint (models/domain.py) is the ensemble's, as its input summary
    assert meta["training_footprint"] == read_model_meta(recipe_models[0])["training_footprint"]
    text = (path.parent / "model_card.md").read_text()
    assert text.count("sha256") == 3 and "Ensemble members" in text


def test_quantised_ensemble_opens_as_onnx_predictor(ensemble, fra_dekadal, fra_monthly):
    path = ensemble[0]
    int8, n_calibration = quantize_exported(path, fra_dekadal, max_samples=128)
    predictor = open_predictor(int8)
    assert isinstance(predictor, OnnxPredictor) and predictor.quantized
    assert ENSEMBLE_KEY in predictor.meta and predictor.contract == read_contract(path)
    inputs = real_inputs(predictor.contract, fra_monthly, max_samples=200)
    fp32 = open_predictor(path).predict_proba(inputs)
    q = predictor.predict_proba(inputs)
    assert n_calibration == 128 and np.isfinite(q).all()
    assert np.abs(q - fp32).max() < 0.1 and (q.argmax(axis=1) == fp32.argmax(axis=1)).mean() > 0.9


def test_members_must_share_one_contract(recipe_models, standard_model, tmp_path):
    with pytest.raises(InputError, match="input_scaling differ"):
        export_ensemble([recipe_models[0], standard_model], tmp_path / "mixed.onnx")
    with pytest.raises(InputError, match="at least 2 models"):
        export_ensemble(recipe_models[:1], tmp_path / "one.onnx")
    with pytest.raises(InputError, match="given twice"):
        export_ensemble([recipe_models[0], recipe_models[0]], tmp_path / "twice.onnx")
    assert not list(tmp_path.iterdir())


def test_refuses_an_onnx_member_and_an_existing_output(ensemble, recipe_models):
    with pytest.raises(InputError, match="not a torch model.pt"):
        export_ensemble([recipe_models[0], ensemble[0]], ensemble[0].with_name("other.onnx"))
    with pytest.raises(OutputExistsError):
        export_ensemble(recipe_models, ensemble[0])


def test_cli_exports_an_ensemble(recipe_models, tmp_path):
    out = tmp_path / "ens.onnx"
    result = CliRunner().invoke(main, ["export", "--ensemble", *map(str, recipe_models[:2]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "parity: max |dprob|" in result.output and out.is_file()
    assert len(read_model_meta(out)[ENSEMBLE_KEY]["members"]) == 2
    two = CliRunner().invoke(main, ["export", *map(str, recipe_models[:2]), "--out", str(tmp_path / "x.onnx")])
    assert two.exit_code == 2 and "--ensemble" in two.output
