"""The shipped paper configs run on CropGlobe-style sample tables (read with reader 'table').

Constructed case: real French WorldCereal series written as sample tables under the names the
configs expect (data/cropglobe/FRA.parquet, and the same real series standing in for USA and ARG),
so the plumbing (paths, table reader, regions, alignment) runs end to end with tiny training."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gee_crop.data.table import write_table
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.experiments import load_experiment, run_experiment
from gee_crop.testing.paths import REPO_ROOT, shared_data_dir


@pytest.mark.slow
def test_paper_table7_runs_on_cropglobe_style_tables(tmp_path):
    series = read_worldcereal(shared_data_dir() / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")
    folder = tmp_path / "data" / "cropglobe"
    folder.mkdir(parents=True)
    write_table(series.subset(np.arange(0, 80)), folder / "FRA.parquet")
    write_table(series.subset(np.arange(80, 120)), folder / "USA.parquet")
    write_table(series.subset(np.arange(120, 160)), folder / "ARG.parquet")

    config = load_experiment(REPO_ROOT / "experiments" / "paper_table7.yaml", data_dir=tmp_path)
    tiny = {"epochs": 1, "widths": [4, 8, 8, 8], "batch_size": 40, "max_gap_bins": 12}
    config = dataclasses.replace(config, seeds=(0,), insight={"figures": False},
                                 models=tuple(dataclasses.replace(m, train={**m.train, **tiny}) for m in config.models))
    run = run_experiment(config, tmp_path / "out", echo=lambda _: None)
    assert run.n_computed == 8  # 4 augmentation settings x 2 transfers
    by_target = {r["target"]: r for r in run.results if r["model"] == "none"}
    assert by_target["USA"]["target_region"] == "USA" and by_target["USA"]["n_table_samples"] == 40
    assert "sugarcane, cotton samples removed" in by_target["USA"]["alignment_rule"]
    assert "counted as other" in by_target["ARG"]["alignment_rule"]
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| + time shift + time scale | " in table and "FRA→USA OA" in table and "FRA→ARG mF1" in table


def test_paper_emit_config_names_the_emit_rows_and_the_runner_asks_for_the_tables(tmp_path):
    """experiments/paper_emit.yaml loads (pure validation) with the paper's six EMIT rows and a majority-class row
    per feature set; the runner runs EMIT tables (tests/experiments/test_emit_runner.py), and without them says
    which file is missing (none is shipped: docs/emit.md)."""
    from gee_crop.errors import InputError

    config = load_experiment(REPO_ROOT / "experiments" / "paper_emit.yaml", data_dir=tmp_path)
    rows = {(m.arch, m.features) for m in config.models}
    assert rows == {(a, f) for a in ("majority", "random_forest", "cropnet1d")
                    for f in ("emit_june", "emit_august", "emit_june_august")}
    assert {d.reader for d in config.datasets.values()} == {"emit"}
    with pytest.raises(InputError, match="USA_emit.parquet does not exist; fix 'path'"):
        run_experiment(config, tmp_path / "out", echo=lambda _: None)
