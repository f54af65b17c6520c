"""Running a real (tiny) experiment: results per (combination, seed), resuming, repeatability, tables."""
from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from gee_crop.errors import InputError
from gee_crop.experiments import run_experiment
from gee_crop.experiments.tables import aggregate, csv_table, markdown_table
from gee_crop.testing.paths import shared_data_dir
from tests.experiments.conftest import load_tiny


def test_every_combination_and_seed_is_scored(tiny_experiment):
    run, out, lines = tiny_experiment
    assert run.n_computed == 8 and run.n_skipped == 0  # 2 models x 2 transfers x 2 seeds
    assert sorted(p.relative_to(out).as_posix() for p in (out / "runs").rglob("*.json")) == sorted(
        f"runs/{m}/{t}/seed{s}.json" for m in ("cropnet_2d_aug", "rf_1d") for t in ("FRA-BEL", "FRA-BEL_patch")
        for s in (0, 1))
    for r in run.results:
        assert 0 <= r["overall_accuracy"] <= 1 and r["source_region"] == "FRA" and r["target_region"] == "BEL"
        assert r["n_samples"] == sum(map(sum, r["confusion_matrix"]))
        assert r["alignment_rule"] == "none"
    # one model per (model, training set, seed): both targets were scored by the same file
    cropnet = [r for r in run.results if r["model"] == "CropNet 2D + aug" and r["seed"] == 0]
    assert len({r["model_path"] for r in cropnet}) == 1
    patch = [r for r in run.results if r["target"] == "BEL_patch"]
    assert all(r["n_samples"] == 60 and r["season_year"] == 2019 for r in patch)
    assert any("training on 120 samples" in line for line in lines)


def test_rerun_skips_finished_results_and_redoes_missing_or_changed_ones(experiment_copy, tiny_config):
    before = {p: p.read_text() for p in (experiment_copy / "runs").rglob("*.json")}
    again = run_experiment(tiny_config, experiment_copy, figures=False, shared_data=shared_data_dir,
                           echo=lambda _: None)
    assert again.n_computed == 0 and again.n_skipped == 8
    assert {p: p.read_text() for p in before} == before

    # a lost result is recomputed from the saved model (no retraining), with the same numbers
    lost = experiment_copy / "runs" / "cropnet_2d_aug" / "FRA-BEL" / "seed1.json"
    old = json.loads(lost.read_text())
    lost.unlink()
    lines: list[str] = []
    again = run_experiment(tiny_config, experiment_copy, figures=False, shared_data=shared_data_dir,
                           echo=lines.append)
    assert again.n_computed == 1 and not any("training on" in line for line in lines)
    assert json.loads(lost.read_text())["overall_accuracy"] == old["overall_accuracy"]

    # a result edited by hand no longer matches the ledger's checksum: it is recomputed
    lost.write_text(lost.read_text().replace('"seed": 1', '"seed": 1 '), encoding="utf-8")
    again = run_experiment(tiny_config, experiment_copy, figures=False, shared_data=shared_data_dir,
                           echo=lambda _: None)
    assert again.n_computed == 1
    assert json.loads(lost.read_text())["overall_accuracy"] == json.loads(before[lost])["overall_accuracy"]
    assert (experiment_copy / "ledger.json").is_file()

    # changed settings of one model: only that model's results are redone, its models retrained
    config = load_tiny(tiny_config)
    rf = dataclasses.replace(config.models[1], train={**config.models[1].train, "n_estimators": 5})
    again = run_experiment(dataclasses.replace(config, models=(config.models[0], rf)), experiment_copy,
                           figures=False, echo=lambda _: None)
    assert again.n_computed == 4


def test_same_seed_repeats_exactly_and_other_seeds_differ(tiny_experiment, tiny_config, tmp_path):
    run, _, _ = tiny_experiment
    config = load_tiny(tiny_config)
    config = dataclasses.replace(config, seeds=(1,), models=config.models[:1], transfers=config.transfers[1:])
    repeat = run_experiment(config, tmp_path / "repeat", figures=False, echo=lambda _: None)
    (again,) = repeat.results
    (first,) = [r for r in run.results
                if r["model"] == again["model"] and r["target"] == "BEL_patch" and r["seed"] == 1]
    assert again["confusion_matrix"] == first["confusion_matrix"]
    assert again["overall_accuracy"] == first["overall_accuracy"]
    rf = [r["confusion_matrix"] for r in run.results if r["model"] == "RF 1D" and r["target"] == "BEL"]
    assert rf[0] != rf[1]  # seeds 0 and 1 fit different forests


def test_tables_report_mean_and_std_over_seeds(tiny_experiment):
    run, out, _ = tiny_experiment
    summary = json.loads((out / "results.json").read_text())
    rows = aggregate(summary)
    cell = next(r for r in rows if r["model"] == "RF 1D" and r["transfer"] == "FRA→BEL")
    oas = [100 * r["overall_accuracy"] for r in run.results if r["model"] == "RF 1D" and r["target"] == "BEL"]
    assert cell["n_seeds"] == 2
    assert cell["OA_mean"] == pytest.approx(sum(oas) / 2)
    assert cell["OA_std"] == pytest.approx(abs(oas[0] - oas[1]) / 2)
    md = markdown_table(summary)
    assert md == (out / "table.md").read_text()
    assert f"| RF 1D | – | {cell['OA_mean']:.2f} ± {cell['OA_std']:.2f} |" in md
    assert "| CropNet 2D + aug | 0.07 M |" in md  # 73 k parameters with widths 8-16-32-64
    table = list(csv.reader(io.StringIO(csv_table(summary))))
    assert table[0][:4] == ["model", "n_parameters", "FRA→BEL OA mean", "FRA→BEL OA std"]
    assert float(table[2][2]) == pytest.approx(cell["OA_mean"], abs=1e-4) and table[2][-1] == "2"


@pytest.mark.slow
def test_in_region_split_trains_and_tests_on_disjoint_samples(tmp_path, tiny_config):
    config = load_tiny(tiny_config)
    split = dataclasses.replace(config.transfers[0], target="FRA", split=0.25, label="")
    config = dataclasses.replace(config, transfers=(split,), models=config.models[1:], seeds=(0,),
                                 insight={"figures": False})
    (result,) = run_experiment(config, tmp_path, echo=lambda _: None).results
    assert result["transfer"] == "FRA→FRA (75/25)"
    assert result["n_table_samples"] == 30  # a quarter of the 120 French samples
    assert (tmp_path / "models" / "rf_1d" / "FRA_split25" / "seed0" / "model.onnx").is_file()


def test_missing_table_and_emit_features_are_user_errors(tmp_path, tiny_config):
    config = load_tiny(tiny_config)
    gone = dataclasses.replace(config.datasets["BEL"], path=tmp_path / "nope.parquet")
    with pytest.raises(InputError, match="nope.parquet does not exist; fix 'path'"):
        run_experiment(dataclasses.replace(config, datasets={**config.datasets, "BEL": gone}), tmp_path / "a",
                       echo=lambda _: None)
    emit = dataclasses.replace(config.models[1], name="RF EMIT", features="emit")
    with pytest.raises(InputError, match="EMIT features need EMIT datasets"):
        run_experiment(dataclasses.replace(config, models=(emit,)), tmp_path / "b", echo=lambda _: None)
