"""Fine-tuning a trained model on a small real table (``train(init_from=...)``, training/finetune.py)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from gee_crop.errors import InputError, ModelFileError
from gee_crop.export.cards import card_text, read_card
from gee_crop.models.io import load_model, read_contract, update_model_meta
from gee_crop.models.zoo import zoo_models
from gee_crop.training.finetune import (FINETUNE_EPOCHS, FINETUNE_LR_FACTOR, finetune_config, load_source,
                                        resolve_source_path)
from gee_crop.training.trainer import TrainConfig, train
from tests.training.finetune.conftest import QUIET, SOURCE_OPTIONS


@pytest.fixture(scope="module")
def finetuned(source, bel, tmp_path_factory):
    """The source fine-tuned on Belgium 2021 for two epochs (every other option: the defaults)."""
    out = tmp_path_factory.mktemp("finetuned")
    lines: list[str] = []
    result = train(bel, out, init_from=str(source), epochs=2, progress=False, echo=lines.append)
    return result, out, lines


def test_fine_tuning_moves_the_weights_and_keeps_contract_and_normalisation(source, finetuned):
    result, _, lines = finetuned
    before, _ = load_model(source)
    after, meta = load_model(result.model_path)
    old, new = before.state_dict(), after.state_dict()
    assert old.keys() == new.keys()
    moved = [k for k in old if old[k].is_floating_point() and not torch.equal(old[k], new[k])]
    assert "classifier.weight" in moved and any(k.startswith("blocks.0.") for k in moved)
    # the normalisation is the source's, not refitted on the Belgian samples
    assert torch.equal(old["normalization.mean"], new["normalization.mean"])
    assert torch.equal(old["normalization.std"], new["normalization.std"])
    assert read_contract(result.model_path) == read_contract(source)
    assert meta["arch_kwargs"] == load_model(source)[1]["arch_kwargs"]
    assert any(line.startswith(f"fine-tuning {source}") for line in lines)


def test_fine_tuned_model_records_where_it_started(source, finetuned):
    result, out, _ = finetuned
    _, meta = load_model(result.model_path)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert meta["init_from"]["name"] == str(source) and meta["init_from"]["sha256"] == sha
    assert meta["init_from"]["source_data"]["regions"] == ["FRA"]
    assert json.loads((out / "config.json").read_text())["init_from"]["sha256"] == sha
    text = card_text(read_card(result.model_path))
    assert f"Fine-tuned from {source}" in text and sha in text


def test_fine_tuning_defaults_follow_the_source(source, finetuned):
    result, _, _ = finetuned
    _, meta = load_model(result.model_path)
    config = meta["train_config"]
    assert config["widths"] == [8, 8, 8, 8] and config["max_gap_bins"] == 12 and config["batch_size"] == 64
    assert config["learning_rate"] == pytest.approx(FINETUNE_LR_FACTOR * SOURCE_OPTIONS["learning_rate"])
    assert config["epochs"] == 2  # given
    # 100 rows: no validation split, every label trains
    assert config["val_fraction"] == 0 and result.n_val == 0 and result.n_train == config["data"]["n_samples"]
    spec = load_source(str(source))
    assert finetune_config(TrainConfig(init_from=str(source)), spec, set(), 100).epochs == FINETUNE_EPOCHS
    assert finetune_config(TrainConfig(init_from=str(source)), spec, set(), 5000).val_fraction == 0.1


@pytest.mark.parametrize("options, differs", [
    ({"widths": (16, 16, 16, 16)}, "widths (16, 16, 16, 16) (the source's: (8, 8, 8, 8))"),
    ({"arch": "tempcnn"}, "arch 'tempcnn' (the source's: 'cropnet2d')"),
    ({"window_days": 10}, "window_days 10 (the source's: 5)"),
    ({"arch": "random_forest"}, "a Random Forest cannot be fine-tuned"),
])
def test_incompatible_options_are_refused_naming_what_differs(source, bel, tmp_path, options, differs):
    with pytest.raises(InputError, match="--init-from") as err:
        train(bel, tmp_path / "run", init_from=str(source), **options, **QUIET)
    assert differs in str(err.value)
    assert not (tmp_path / "run").exists()


def test_a_table_with_another_class_list_gets_a_new_head_on_the_source_encoder(source, bel, tmp_path):
    """Issue 23: the table's legend (corn, wheat, other) is not the source's seven classes: the model
    keeps the source's encoder and gets a three-class output layer whose rows start from the source's."""
    three = dataclasses.replace(bel, classes=("corn", "wheat", "other"))
    lines: list[str] = []
    result = train(three, tmp_path / "run", init_from=str(source), epochs=1, freeze_encoder=True, progress=False,
                   echo=lines.append)
    model, meta = load_model(result.model_path)
    assert read_contract(result.model_path).classes == ("corn", "wheat", "other")
    assert meta["arch_kwargs"]["n_classes"] == 3 and model.classifier.out_features == 3
    assert meta["init_from"]["head"] == {"new_head": True, "classes_kept": ["corn", "wheat", "other"],
                                         "classes_added": [], "encoder_frozen": True}
    before, _ = load_model(source)
    old, new = before.state_dict(), model.state_dict()
    encoder = [k for k in old if not k.startswith("classifier.")]
    assert all(torch.equal(old[k], new[k]) for k in encoder)  # frozen: weights and BatchNorm statistics
    assert not torch.equal(old["classifier.weight"][[0, 3, 6]], new["classifier.weight"])  # the head learned
    assert any("new head for 3 classes (kept corn, wheat, other, added none), encoder frozen" in line
               for line in lines)


def test_classes_the_source_switched_off_get_a_new_head(source, bel, tmp_path):
    """A source that predicts only corn and other, and a table holding wheat: wheat's output row is new."""
    switched = tmp_path / "corn_other.pt"
    shutil.copy(source, switched)
    update_model_meta(switched, output_classes=["corn", "other"])
    result = train(bel, tmp_path / "run", init_from=str(switched), epochs=1, freeze_encoder=False, **QUIET)
    model, meta = load_model(result.model_path)
    head = meta["init_from"]["head"]
    assert head["classes_kept"] == ["corn", "other"] and "wheat" in head["classes_added"]
    assert head["encoder_frozen"] is False and "output_classes" not in meta
    before, _ = load_model(source)
    assert not torch.equal(before.state_dict()["blocks.0.0.weight"], model.state_dict()["blocks.0.0.weight"])
    text = card_text(read_card(result.model_path))
    assert "classes kept: corn, other; classes added: soybeans, rice, wheat" in text and "(trained)" in text


def test_freeze_encoder_needs_a_source(bel, tmp_path):
    with pytest.raises(InputError, match="--freeze-encoder / --no-freeze-encoder choose what learns when fine-tuning"):
        train(bel, tmp_path / "run", freeze_encoder=True, epochs=1, **QUIET)
    assert not (tmp_path / "run").exists()


def test_distillation_and_fine_tuning_combine(source, bel, tmp_path):
    """--init-from with --distill-from: the student starts from the source and learns the teacher."""
    result = train(bel, tmp_path / "run", init_from=str(source), distill_from=str(source), epochs=1, **QUIET)
    _, meta = load_model(result.model_path)
    assert meta["init_from"]["name"] == str(source) and meta["train_config"]["distill_from"] == str(source)


def test_an_onnx_model_is_refused_for_it_holds_no_trainable_weights(bel, tmp_path):
    zoo_onnx = zoo_models()[0].path
    with pytest.raises(InputError, match="no trainable fp32 weights; give the model.pt"):
        train(bel, tmp_path / "run", init_from=str(zoo_onnx), **QUIET)


class _Hostile:
    """Unpickling this would create ``marker``: a stand-in for any code a hostile file could run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_hostile_pickle_is_refused_without_running_it(bel, tmp_path):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "model.pt"
    torch.save({"gee_crop_model": "1", "state_dict": {}, "payload": _Hostile(str(marker))}, hostile)
    with pytest.raises(ModelFileError, match="torch cannot read it safely"):
        train(bel, tmp_path / "run", init_from=str(hostile), **QUIET)
    assert not marker.exists()


def test_a_zoo_name_resolves_to_its_shipped_torch_weights(source, tmp_path):
    onnx = tmp_path / "cropnet-weu.int8.onnx"
    onnx.write_bytes(b"stand-in")
    zoo = {"cropnet-weu": onnx}
    with pytest.raises(InputError) as err:
        resolve_source_path("cropnet-weu", zoo)
    message = str(err.value)
    assert "only as int8 ONNX (cropnet-weu.int8.onnx)" in message
    assert "needs its fp32 torch weights (cropnet-weu.pt)" in message
    shutil.copy(source, tmp_path / "cropnet-weu.pt")
    assert resolve_source_path("cropnet-weu", zoo) == tmp_path / "cropnet-weu.pt"
    with pytest.raises(InputError, match="no such file and no zoo model of that name; .* zoo models: cropnet-weu"):
        resolve_source_path("cropnet-eu", zoo)


def test_fine_tuning_the_source_learns_the_target(source, bel, tmp_path):
    """Twenty epochs (the default) on the Belgian samples raise the source's accuracy on them."""
    from gee_crop.training.dataset import series_features
    from gee_crop.training.loop import logits_of

    def accuracy(model_pt) -> float:
        model, meta = load_model(model_pt)
        contract = read_contract(model_pt)
        feats = series_features(bel, contract)
        pred = logits_of(model, contract.model_input(feats.values[feats.keep])).argmax(dim=1).numpy()
        return float(np.mean(pred == bel.labels[feats.keep]))

    result = train(bel, tmp_path / "run", init_from=str(source), **QUIET)
    assert accuracy(result.model_path) > accuracy(source)
