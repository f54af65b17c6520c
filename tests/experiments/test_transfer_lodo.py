"""Leave-one-domain-out transfer: multi-domain sources, the ``lodo`` expansion, controlled shifts of
real data, the majority-class row, per-class F1 columns, and the CI-size benchmark end to end."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.errors import ExperimentConfigError
from gee_crop.experiments.config import parse_experiment
from gee_crop.experiments.tables import markdown_table
from gee_crop.experiments.variants import drop_months, move_dates, thin
from gee_crop.features.composite import prepare_series
from gee_crop.testing.paths import REPO_ROOT, shared_data_dir

FRA23 = "wc-extractions/2023_FRA_LPIS_POLY_110_dekadal.geoparquet"


def _config(**overrides) -> dict:
    base = {
        "datasets": {k: {"reader": "worldcereal", "path": f"/data/{k}.parquet"} for k in ("A", "B", "C", "D")},
        "lodo": {"domains": ["A", "B", "C", "D"], "extra_targets": {"A": ["A2"]}},
        "models": [{"name": "majority class", "arch": "majority"},
                   {"name": "RF", "arch": "random_forest", "features": "median1d"}],
    }
    base["datasets"]["A2"] = {"reader": "worldcereal", "path": "/data/A.parquet", "tiles": ["30UYU"],
                              "variant": {"thin_days": 30}}
    base.update(overrides)
    return base


def test_lodo_expands_to_one_fold_per_domain_trained_on_the_union_of_the_others(tmp_path):
    config = parse_experiment(_config(), tmp_path)
    pairs = [(t.source, t.target) for t in config.transfers]
    assert pairs == [("B+C+D", "A"), ("B+C+D", "A2"), ("A+C+D", "B"), ("A+B+D", "C"), ("A+B+C", "D")]
    assert config.transfers[0].sources == ("B", "C", "D")
    assert config.transfer_label(config.transfers[1]) == "LODO→A2"
    assert config.datasets["A2"].tiles == ("30UYU",) and config.datasets["A2"].variant == {"thin_days": 30}
    assert config.models[0].arch == "majority"


@pytest.mark.parametrize("change, message", [
    ({"lodo": {"domains": ["A", "B"]}}, "at least three distinct"),
    ({"lodo": {"domains": ["A", "B", "Z"]}}, "'Z' is not a dataset"),
    ({"lodo": {"domains": ["A", "B", "C"], "extra_targets": {"Q": ["A2"]}}}, "must be a domain"),
    ({"lodo": None, "transfers": [{"source": ["A", "B"], "target": "A"}]}, "target 'A' is also a source"),
    ({"lodo": None, "transfers": [{"source": ["A", "A"], "target": "C"}]}, "distinct datasets"),
])
def test_bad_lodo_and_multi_source_transfers_name_the_fix(tmp_path, change, message):
    with pytest.raises(ExperimentConfigError, match=message):
        parse_experiment(_config(**change), tmp_path)


@pytest.mark.parametrize("variant, message", [({"thin_days": 0}, "thin_days"), ({"drop_months": [13]}, "1-12"),
                                              ({"shift": 3}, "unknown key")])
def test_bad_variants_are_refused(tmp_path, variant, message):
    raw = _config()
    raw["datasets"]["A2"]["variant"] = variant
    with pytest.raises(ExperimentConfigError, match=message):
        parse_experiment(raw, tmp_path)


@pytest.fixture(scope="module")
def fra23():
    return read_worldcereal(shared_data_dir() / FRA23)


def _clear(series) -> np.ndarray:
    return np.isfinite(prepare_series(series).reflectance).all(axis=2)


def test_thinning_a_dekadal_series_leaves_one_clear_observation_per_30_days(fra23):
    thinned = thin(fra23, 30)
    before, after = _clear(fra23), _clear(thinned)
    assert not (after & ~before).any()                      # nothing invented
    days = thinned.dates.astype("datetime64[D]").astype(np.int64) // 30
    for i in range(0, len(fra23), 25):                      # one per window, every clear window kept
        assert len(days[i][after[i]]) == len(set(days[i][after[i]])) == len(set(days[i][before[i]]))
    span = (np.nanmax(days[before]) - np.nanmin(days[before]) + 1)   # 30-day windows the data span
    assert after.sum(axis=1).max() <= span                   # at most one observation per 30 days
    assert after.sum() / before.sum() < 0.6                  # dekadal with gaps (~27 clear) to ~monthly
    assert np.array_equal(thinned.crop_class, fra23.crop_class)


def test_dropping_july_and_moving_dates_keep_labels_and_values(fra23):
    no_july = drop_months(fra23, (7,))
    month = fra23.dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    clear = _clear(no_july)
    assert not clear[month == 7].any() and clear[(month != 7) & _clear(fra23)].all()
    moved = move_dates(fra23, 30)
    valid = ~np.isnat(fra23.dates)
    assert (moved.dates[valid] - fra23.dates[valid] == np.timedelta64(30, "D")).all()
    assert np.array_equal(moved.dn, fra23.dn)


def test_a_table_with_many_transfers_is_written_long():
    summary = {"title": "t", "seeds": [0], "class_f1": ["corn"],
               "models": [{"name": "m"}], "transfers": [{"label": f"T{i}"} for i in range(5)],
               "results": [{"model": "m", "transfer": f"T{i}", "overall_accuracy": 0.5 + i / 10, "macro_f1": 0.4,
                            "n_parameters": None, "per_class": {"corn": {"f1": 0.25, "support": 3}}}
                           for i in range(5)]}
    text = markdown_table(summary)
    assert "| transfer | model | params | OA | mF1 | corn F1 | seeds |" in text
    assert "| T2 | m | – | 70.00 ± 0.00 | 40.00 ± 0.00 | 25.00 ± 0.00 | 1 |" in text


@pytest.mark.slow
def test_ci_size_lodo_benchmark_end_to_end(tmp_path):
    from gee_crop.cli.experiment import command as experiment

    out = tmp_path / "lodo"
    config = REPO_ROOT / "experiments" / "transfer_lodo_ci.yaml"
    result = CliRunner().invoke(experiment, [str(config), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text())
    targets = [t["target"] for t in summary["transfers"]]
    assert targets == ["FRA23", "FRA23_30UYU", "FRA23_monthly", "FRA22", "BEL21", "BEL19", "BEL19_plus30d"]
    runs = summary["results"]
    assert len(runs) == 4 * 7 * 2
    # every fold trains on the union of the three other domains (all four read, none dropped wholesale)
    first = next(r for r in runs if r["model"] == "CropNet 2D" and r["target"] == "FRA23")
    assert first["source"] == "FRA22+BEL21+BEL19"

    def mean(model: str, target: str, key: str) -> float:
        return float(np.mean([r[key] for r in runs if r["model"] == model and r["target"] == target]))

    # the majority class predicts "other" everywhere: macro-F1 is low, corn F1 zero
    for target in ("FRA23", "BEL19"):
        assert mean("majority class", target, "macro_f1") < 0.35
        for model in ("RF-500", "CropNet 2D", "CropNet 2D + aug"):
            assert mean(model, target, "macro_f1") > mean("majority class", target, "macro_f1") + 0.15
    tables = subprocess.run([sys.executable, str(REPO_ROOT / "experiments" / "transfer_tables.py"), str(out)],
                            capture_output=True, text=True, check=True).stdout
    assert "| majority class |" in tables and "Recipe chosen for each fold" in tables
    for fold in ("FRA23", "FRA22", "BEL21", "BEL19"):   # a CropNet recipe, chosen on the other three folds
        assert re.search(rf"^\| {fold} \| CropNet 2D( \+ aug)? \(\d+\.\d on the others\)", tables, re.M), tables


def test_an_ensemble_model_trains_its_members_and_scores_one_averaging_onnx_graph(tmp_path):
    from gee_crop.experiments import run_experiment
    from gee_crop.models.predict import open_predictor

    raw = {"name": "ens", "seeds": [3], "torch_threads": 1,
           "defaults": {"max_gap_bins": 12, "epochs": 1, "widths": [8, 8, 8, 8]},
           "datasets": {"FRA": {"reader": "worldcereal", "path": "{shared_data}/" + FRA23, "limit": 80},
                        "BEL": {"reader": "worldcereal", "limit": 40, "path": "{shared_data}/wc-extractions/"
                                "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"}},
           "transfers": [{"source": "FRA", "target": "BEL"}],
           "models": [{"name": "ens", "arch": "cropnet2d", "train": {"ensemble": 2}}],
           "insight": {"figures": False}}
    config = parse_experiment(raw, tmp_path, shared_data=shared_data_dir)
    run = run_experiment(config, tmp_path / "out", echo=lambda m: None)
    folder = tmp_path / "out" / "models" / "ens" / "FRA" / "seed3"
    members = sorted(folder.glob("member*/model.pt"))
    assert [m.parent.name for m in members] == ["member0", "member1"]
    result = run.results[0]
    assert result["model_path"] == "models/ens/FRA/seed3/model.onnx"
    seeds = [open_predictor(m, device="cpu").meta["train_config"]["seed"] for m in members]
    assert seeds == [3000, 3001]
    single = open_predictor(members[0], device="cpu")
    per_member = sum(p.numel() for p in single.model.parameters())
    assert result["n_parameters"] == 2 * per_member


def _tables_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("transfer_tables", REPO_ROOT / "experiments" / "transfer_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spearman_and_the_held_out_domain_of_a_fold():
    tables = _tables_module()
    assert tables.spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40])) == pytest.approx(1.0)
    assert tables.spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    # ties get average ranks: (1, 2.5, 2.5, 4) against (1, 2, 3, 4)
    assert tables.spearman(np.array([1.0, 2, 2, 3]), np.array([1.0, 2, 3, 4])) == pytest.approx(0.9486833)
    summary = {"transfers": [{"source": "B+C+D", "target": "A"}, {"source": "B+C+D", "target": "A_monthly"},
                             {"source": "A+C+D", "target": "B"}, {"source": "A+B+D", "target": "C"}]}
    assert tables.held_out_domain(summary, "B+C+D") == "A"
    assert tables.held_out_domain(summary, "A+B+D") == "C"


def test_a_recipe_is_never_chosen_on_the_fold_it_is_scored_on():
    tables = _tables_module()
    # synthetic scores: recipe "x" is far best on fold A, "y" better on folds B and C
    folds = ["LODO→A", "LODO→B", "LODO→C"]
    mf1 = {("x", "LODO→A"): 0.9, ("y", "LODO→A"): 0.5, ("x", "LODO→B"): 0.6, ("y", "LODO→B"): 0.8,
           ("x", "LODO→C"): 0.6, ("y", "LODO→C"): 0.8}
    results = [{"model": m, "transfer": f, "macro_f1": mf1.get((m, f), 0.4), "overall_accuracy": 0.8,
                "per_class": {}} for m in ("x", "y", "RF-500") for f in folds]
    text = tables.nested_selection({"results": results}, folds, ["x", "y"])
    assert "| A | y (80.0 on the others) | 80.0 ± 0.0 | 50.0 ± 0.0 |" in text   # not x, although x wins on A
    assert "| B | x (75.0 on the others) | 80.0 ± 0.0 | 60.0 ± 0.0 |" in text
