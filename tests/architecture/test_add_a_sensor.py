"""docs/architecture.md, "Add a sensor": a sensor used like EMIT (monthly medians of its bands, sampled beside the
Sentinel-2 series, trained on flat vectors, mapped from its own composite) is one `Sensor` entry; the generic
paths take it whole. A SYNTHETIC third sensor, registered in-process only (``SENSORS``, as its entry in
``sensors.py`` would be), goes through the plan of `sample --medians`, the tile graph and its export names, the
medians table on disk, the flat features, a forest's contract and evaluation, and the map source, with no other
module told about it. Its band values are SYNTHETIC too: this is pure wiring logic, no sensor's data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.emit_table import emit_features, emit_table_path, read_emit_table, table_from_rows, write_emit_table
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine import sampling
from gee_crop.earthengine.graph import invocations
from gee_crop.errors import InputError
from gee_crop.mapping.emit_source import EmitSource, source_for_model
from gee_crop.mapping.sources import EarthEngineSource
from gee_crop.models.io import read_model_file
from gee_crop.pipeline.sample import plan
from gee_crop.sensors import EMIT, SENSORS, ClearRule, Sensor
from gee_crop.testing.offline_ee import initialize_offline
from gee_crop.testing.paths import REPO_ROOT
from gee_crop.training.emit import evaluate_emit_model, train_emit_forest

AOI = str(REPO_ROOT / "examples" / "aoi.geojson")
#: SYNTHETIC: no such collection exists; the fields are what a Landsat-like entry would give.
THIRD = Sensor(
    name="synthwave",
    collection="SYNTHETIC/THIRD_SENSOR",
    product_bands=("b_blue", "b_red", "b_nir"),
    mask_band="cloud",
    clear_rule=ClearRule.FLAG_NOT_SET,
    resolution_m=30.0,
    scale=1e-4,
    fill=0.0,
)
CLASSES = ("crop", "other")


@pytest.fixture(autouse=True)
def third_sensor(monkeypatch):
    """The synthetic sensor in the registry for this test only (the one line its ``sensors.py`` entry adds)."""
    monkeypatch.setitem(SENSORS, THIRD.name, THIRD)
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: (_ for _ in ()).throw(AssertionError("no EE")))


def test_the_dry_run_plans_a_third_sensor_and_emit_plans_as_before():
    run = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", "--medians", THIRD.name, "--dry-run"])
    assert run.exit_code == 0, run.output
    (line,) = [line for line in run.output.splitlines() if line.startswith("SYNTHWAVE")]
    assert "SYNTHETIC/THIRD_SENSOR" in line and "2023-06 and 2023-08, on the pixels clear in both" in line
    assert "3 bands (b_blue, b_red, b_nir)" in line and "6 values per sample" in line and "30 m" in line
    assert "EMIT" not in run.output
    alias = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", "--medians", "emit", "--dry-run"])
    flag = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", "--emit", "--dry-run"])
    assert alias.exit_code == 0 and alias.output == flag.output and "244 of 285 bands" in flag.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--medians", "sentinel2"], "--medians sentinel2 names no sensor sampled beside Sentinel-2"),
        (
            ["--medians", "landsat"],
            "--medians landsat names no sensor sampled beside Sentinel-2; use one of emit, synthwave",
        ),
        (["--emit", "--medians", THIRD.name], "--emit and --medians synthwave ask for two sensors"),
    ],
)
def test_a_wrong_medians_sensor_is_a_user_error(args, message):
    run = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", *args, "--dry-run"])
    assert run.exit_code == 1 and f"Error: {message}" in run.output, run.output


def test_the_job_graph_and_exports_of_a_third_sensor():
    initialize_offline()
    job = plan(SamplingRequest.from_options(region=AOI, project="p", year=2023, medians=THIRD.name)).job
    assert job.medians is THIRD and not job.emit and job.fingerprint()["medians"] == "synthwave"
    assert "emit" not in job.fingerprint()
    (bounds,) = sampling.job_tiles(job).values()
    rows = sampling.medians_rows(THIRD)
    graph = rows.graph(job, 0, bounds)
    (call,) = invocations(graph, "Image.sampleRegions")
    assert call["arguments"]["scale"] == 30.0 and "SYNTHETIC/THIRD_SENSOR" in graph.serialize()
    assert "NASA/EMIT" not in graph.serialize()
    scaled = [c for c in invocations(graph, "Image.multiply") if "0.0001" in json.dumps(c)]
    assert scaled, "stored values become reflectance by the sensor's scale"
    assert rows.selectors(job) == ["lon", "lat", "class", *(f"{b}_m{m:02d}" for m in (6, 8) for b in THIRD.bands)]
    assert sampling.export_names(job, 0, rows.suffix)[0].endswith("_tile0000_synthwave")
    assert sampling.EMIT_ROWS.suffix == "_emit" and sampling.medians_rows(EMIT) == sampling.EMIT_ROWS


def _rows(n: int, seed: int) -> pd.DataFrame:
    """SYNTHETIC Earth Engine rows: class 0 bright in b_nir, class 1 dark, in June and August."""
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 2
    frame = pd.DataFrame({"lon": np.arange(n) * 1e-3, "lat": np.zeros(n), "class": label})
    for month in (6, 8):
        for band in THIRD.bands:
            bright = 0.5 if band == "b_nir" else 0.1
            frame[f"{band}_m{month:02d}"] = np.where(label == 0, bright, 0.05) + rng.normal(0, 0.01, n)
    return frame


def test_the_medians_table_features_model_and_map_source_take_the_sensor_whole(tmp_path):
    table = table_from_rows(_rows(40, 0), (6, 8), CLASSES, THIRD)
    path = write_emit_table(table, emit_table_path(tmp_path / "t.parquet", THIRD))
    assert path.name == "t.synthwave.parquet" and emit_table_path(tmp_path / "t.parquet").name == "t.emit.parquet"
    back = read_emit_table(path)
    assert back.sensor is THIRD and back.months == (6, 8) and back.n_samples == 40
    features, names = emit_features(back, (6, 8))
    assert features.shape == (40, 6) and np.allclose(features[0, [2, 5]], 0.5, atol=0.05)  # b_nir, month-major
    model_path, metrics = train_emit_forest(
        back, (6, 8), tmp_path / "m.onnx", test=read_emit_table(path), n_estimators=5, classes=CLASSES
    )
    assert metrics is not None and metrics["test"]["overall_accuracy"] == 1.0  # separable by construction
    model = read_model_file(model_path)
    contract = model.contract
    assert contract.sensor is THIRD and contract.bands == THIRD.bands and contract.n_features == 6
    assert json.loads(json.dumps(contract.to_meta()))["sensor"] == "synthwave"
    assert evaluate_emit_model(model, back).n_samples == 40
    source = source_for_model(EarthEngineSource(client=object()), contract, 2023)
    assert isinstance(source, EmitSource) and source.sensor is THIRD and source.default_scale() == 30.0
    assert source.band_names == [f"{b}_m{m:02d}" for m in (6, 8) for b in THIRD.bands] + ["emit_clear"]
    assert "SYNTHWAVE monthly medians (SYNTHETIC/THIRD_SENSOR" in source.description
    assert "SYNTHWAVE has no clear pixel" in source.empty_message() and "arid" not in source.empty_message()
    with pytest.raises(InputError, match="reads synthwave bands, not EMIT"):
        evaluate_emit_model(model, table_from_rows(_emit_like_rows(), (6,), CLASSES))


def _emit_like_rows() -> pd.DataFrame:
    """SYNTHETIC EMIT rows (zeros): a table of another sensor than the model's."""
    frame = pd.DataFrame({"lon": [0.0], "lat": [0.0], "class": [0]})
    return pd.concat(
        [frame, pd.DataFrame(np.zeros((1, len(EMIT.bands))), columns=[f"{b}_m06" for b in EMIT.bands])], axis=1
    )
