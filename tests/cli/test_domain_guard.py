"""The domain guard through the commands: `evaluate` takes zoo names and judges the table's places, `map` the
region's, `train --init-from` the table's against the source model; `train` records the footprint.

Tables: real labelled pixels of the demo patch (Flanders). The "Togo" tables are the same real pixels placed at
the real location of the Togo data (synthetic placement: only lon/lat change), so that only where they lie differs.
"""
from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import write_table
from gee_crop.models.domain import FOOTPRINT_KEY
from gee_crop.models.io import read_model_meta
from tests.cli.errors import user_error
from tests.training.realdata import labelled_pixels, one_torch_thread, table_file, tiny_run

#: the centre of the Togo GeoTIFF (cropharvest-togo/PROVENANCE.md: 1.42203-1.42356 E, 7.71877-7.72030 N)
TOGO = (1.4228, 7.7195)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def togo_table(tmp_path_factory):
    series = labelled_pixels()
    placed = dataclasses.replace(series, lon=np.full(len(series), TOGO[0]), lat=np.full(len(series), TOGO[1]))
    return write_table(placed, tmp_path_factory.mktemp("togo") / "togo.parquet")


def test_evaluate_takes_a_zoo_name_and_stays_quiet_in_its_domain(tmp_path, tmp_path_factory):
    table = table_file(tmp_path_factory)
    result = CliRunner().invoke(main, ["evaluate", "tempcnn-weu", str(table), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "OA" in result.output and "does not exist" not in result.output
    assert "domain guard: the table's samples lie in climate zones tempcnn-weu trained in (Cfb 100 %)" in result.output
    guard = json.loads((tmp_path / "metrics.json").read_text())["domain_guard"]
    assert guard["model"] == "tempcnn-weu" and guard["fires"] is False and guard["target_zones"] == {"Cfb": 1.0}


def test_evaluate_warns_when_the_table_lies_in_a_climate_the_zoo_never_saw(tmp_path, togo_table):
    result = CliRunner().invoke(main, ["evaluate", "cropnet-weu", str(togo_table), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if line.startswith("warning: cropnet-weu"))
    assert "never trained in Aw (tropical savanna), where 100 % of the table's samples lie" in warning
    assert "--init-from cropnet-weu" in warning and "domain shift" in result.output  # the input scores stay
    assert json.loads((tmp_path / "metrics.json").read_text())["domain_guard"]["unseen_zones"] == ["Aw"]


def test_evaluate_refuses_to_record_into_a_shipped_model(tmp_path, tmp_path_factory):
    table = table_file(tmp_path_factory)
    result = CliRunner().invoke(main, ["evaluate", "tempcnn-weu", str(table), "--out", str(tmp_path), "--record"])
    user_error(result, "tempcnn-weu is a shipped model", "evaluate a copy")


def test_train_records_the_footprint_and_an_older_file_cannot_be_judged(tmp_path, tmp_path_factory, togo_table):
    model = tiny_run(tmp_path_factory) / "model.pt"
    assert read_model_meta(model)[FOOTPRINT_KEY]["zone_counts"].keys() == {"Cfb"}  # trained on Flanders pixels
    judged = CliRunner().invoke(main, ["evaluate", str(model), str(togo_table), "--out", str(tmp_path / "a")])
    assert judged.exit_code == 0 and f"warning: {model} never trained in Aw" in judged.output, judged.output
    payload = torch.load(io.BytesIO(model.read_bytes()), weights_only=True)
    del payload[FOOTPRINT_KEY]
    older = tmp_path / "older.pt"
    torch.save(payload, older)
    result = CliRunner().invoke(main, ["evaluate", str(older), str(togo_table), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "records no training footprint" in line]
    assert len(lines) == 1 and "cannot be judged" in lines[0] and "warning:" not in result.output


def test_fine_tuning_a_zoo_model_on_a_table_in_another_climate_warns(tmp_path, togo_table):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(togo_table), "--out", str(out), "--init-from", "tempcnn-weu",
                                       "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "warning: tempcnn-weu never trained in Aw (tropical savanna), where 100 % of the table's samples" in (
        result.output
    )
    assert read_model_meta(out / "model.pt")[FOOTPRINT_KEY]["zone_counts"] == {"Aw": len(labelled_pixels())}


def test_map_warns_for_a_region_in_another_climate_before_it_maps(tmp_path):
    args = ["map", "--year", "2019", "--dry-run", "--out", str(tmp_path / "m")]
    togo = CliRunner().invoke(main, [*args, "--bbox", "1.40,7.70,1.45,7.74"])
    assert togo.exit_code == 0, togo.output
    assert "warning: tempcnn-weu never trained in Aw (tropical savanna), where 100 % of the region's points" in (
        togo.output
    )
    flanders = CliRunner().invoke(main, [*args, "--bbox", "4.06,50.744,4.066,50.748"])
    assert flanders.exit_code == 0 and "warning: tempcnn-weu" not in flanders.output, flanders.output
    assert "domain guard: the region's points lie in climate zones tempcnn-weu trained in" in flanders.output
