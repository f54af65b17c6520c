"""S2 and EMIT together: the two tables joined on the sample location, a two-sensor contract, and
`gee-crop train S2_TABLE --emit-table EMIT_TABLE --features s2_emit_june_august`, evaluate and export.
The Sentinel-2 series are REAL (360 labelled pixels of the shipped Flanders patch); the EMIT spectra are REAL
(the 100 pixels of the EMIT cube in ../shared/data/emit); their pairing with the S2 samples (the first 100 S2
samples get the cube's pixels, June as read, August 10 % darker) is SYNTHETIC: no EMIT table was sampled beside
a labelled Sentinel-2 table in the shared data."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gee_crop.config import FeatureKind
from gee_crop.data.emit import read_emit_l2a
from gee_crop.data.emit_table import EmitTable, S2EmitTables, write_emit_table
from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.io import read_model_file
from gee_crop.models.predict import open_predictor
from gee_crop.sensors import EMIT, SENTINEL2
from gee_crop.training.dataset import series_features
from gee_crop.training.s2_emit import joined_features, s2_emit_contract
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels, one_torch_thread, table_file

N_EMIT = 100


@pytest.fixture(scope="module")
def emit(shared_data) -> EmitTable:
    """The cube's 100 real spectra at the places (and classes) of the first 100 S2 samples, and one more row at
    a place the S2 table does not hold (SYNTHETIC pairing)."""
    s2 = labelled_pixels()
    cube = read_emit_l2a(shared_data / "emit" / "emit20250324t221005_10x10_l2a_layout.nc").select(EMIT.bands)
    spectra = cube.reshape(-1, len(EMIT.bands)).astype(np.float64)
    lon, lat, names = np.append(s2.lon[:N_EMIT], 1.0), np.append(s2.lat[:N_EMIT], 1.0), s2.crop_class[: N_EMIT + 1]
    parts = []
    for month, scale in ((6, 1.0), (8, 0.9)):
        part = pd.DataFrame(np.vstack([spectra, spectra[:1]]) * scale, columns=list(EMIT.bands))
        part.insert(0, "month", np.int8(month))
        part.insert(0, "crop_class", names)
        part.insert(0, "lat", lat)
        part.insert(0, "lon", lon)
        parts.append(part)
    return EmitTable(pd.concat(parts, ignore_index=True), (6, 8))


def _s2_spec(series) -> FeatureSpec:
    return FeatureSpec(FeatureKind.MEDIAN1D, classes=series.classes, max_gap_bins=MAX_GAP_BINS)


def test_the_tables_join_on_the_sample_location_and_samples_missing_from_one_are_left_out(emit):
    series = labelled_pixels()
    contract = s2_emit_contract(_s2_spec(series), (6, 8))
    assert contract.sensors == (SENTINEL2, EMIT) and contract.joined is not None
    s2_only = series_features(series, replace(contract, joined=None))
    joined = joined_features(series, emit, contract)
    in_emit = np.arange(len(series)) < N_EMIT
    assert np.array_equal(joined.keep, s2_only.keep & in_emit)  # the EMIT row at no S2 sample is unused
    assert joined.n_no_emit == int((s2_only.keep & ~in_emit).sum()) and joined.n_gaps == int((~s2_only.keep).sum())
    n_s2 = 10 * contract.n_bins
    assert joined.values.shape == (int(joined.keep.sum()), n_s2 + 2 * 244) == (joined.keep.sum(), contract.n_features)
    assert np.array_equal(joined.values[:, :n_s2], s2_only.values[joined.keep].reshape(-1, n_s2))  # band-major S2
    cube_rows = np.flatnonzero(joined.keep)  # S2 sample i holds cube pixel i
    june = emit.rows[emit.rows.month == 6][list(EMIT.bands)].to_numpy(np.float32)[cube_rows]
    assert np.array_equal(joined.values[:, n_s2 : n_s2 + 244], june)
    assert np.allclose(joined.values[:, n_s2 + 244 :], june * np.float32(0.9), rtol=1e-6)
    assert 0.0 < joined.values[:, n_s2:].min() and joined.values[:, n_s2:].max() < 1.0  # real reflectance
    other = emit.rows.assign(crop_class=np.where(emit.rows.lon == series.lon[0], "zz_other", emit.rows.crop_class))
    with pytest.raises(InputError, match="disagree at lon"):
        joined_features(series, EmitTable(other, (6, 8)), contract)


def test_a_two_sensor_contract_round_trips_and_one_sensor_files_stay_as_they_were():
    s2 = FeatureSpec(FeatureKind.MEDIAN1D)
    assert "joined" not in s2.to_meta() and s2.sensors == (SENTINEL2,)
    both = s2_emit_contract(s2, (8,))
    meta = both.to_meta()
    assert meta["joined"] == {"sensor": "emit", "bands": list(EMIT.bands), "months": [8]} and "sensor" not in meta
    back = FeatureSpec.from_meta(json.loads(json.dumps(meta)))
    assert back == both and back.n_features == 10 * s2.n_bins + 244
    with pytest.raises(ValueError, match="flat 1D medians only"):
        replace(both, feature_kind=FeatureKind.MEDIAN2D)


@pytest.mark.parametrize("arch", ["random_forest", "cropnet1d", "linear"])  # every flat architecture
def test_gee_crop_trains_evaluates_and_exports_an_s2_emit_model(emit, tmp_path, tmp_path_factory, arch):
    from click.testing import CliRunner

    from gee_crop.cli import main

    s2_path = table_file(tmp_path_factory)
    emit_path = write_emit_table(emit, tmp_path / "emit.parquet")
    run = CliRunner()
    given = ["--emit-table", str(emit_path), "--features", "s2_emit_june_august", "--arch", arch]
    common = ["--epochs", "8", "--widths", "4,4,4,4", "--lr", "1e-2", "--batch-size", "16",
              "--max-gap-bins", str(MAX_GAP_BINS), "--val-fraction", "0.2", "--quiet"]
    with one_torch_thread():
        trained = run.invoke(main, ["train", str(s2_path), "--out", str(tmp_path / "run"), *given, *common])
        assert trained.exit_code == 0, trained.output
        assert "S2+EMIT: " in trained.output and "that EMIT did not see clear in every month" in trained.output
        model_path = tmp_path / "run" / ("model.onnx" if arch == "random_forest" else "model.pt")
        contract = read_model_file(model_path).contract
        assert contract.sensors == (SENTINEL2, EMIT) and contract.joined is not None
        assert contract.joined.months == (6, 8) and contract.classes == labelled_pixels().classes
        scored = run.invoke(main, ["evaluate", str(model_path), str(s2_path), "--emit-table", str(emit_path),
                                   "--out", str(tmp_path / "eval")])
        assert scored.exit_code == 0, scored.output
        metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
        joined = joined_features(labelled_pixels(), emit, contract)
        assert metrics["n_samples"] == int(joined.keep.sum()) > 50
        assert metrics["n_table_samples"] == 360 and metrics["n_dropped_gaps"] == 360 - int(joined.keep.sum())
        plain = run.invoke(main, ["evaluate", str(model_path), str(s2_path), "--out", str(tmp_path / "e2")])
        assert plain.exit_code == 1 and "reads sentinel2+emit features" in plain.output
        assert "--emit-table EMIT_TABLE" in plain.output
        if arch == "random_forest":
            return
        no_emit = run.invoke(main, ["export", str(model_path), "--out", str(tmp_path / "x.onnx"), "--table", str(s2_path)])
        assert no_emit.exit_code == 1 and "give --table S2_TABLE --emit-table" in no_emit.output
        exported = run.invoke(main, ["export", str(model_path), "--out", str(tmp_path / "m.onnx"), "--table",
                                     str(s2_path), "--emit-table", str(emit_path)])
        assert exported.exit_code == 0, exported.output
        onnx_model = read_model_file(tmp_path / "m.onnx")
        assert onnx_model.contract == contract
        torch_proba = open_predictor(model_path, device="cpu").predict_proba(joined.values)
        assert np.abs(torch_proba - open_predictor(onnx_model).predict_proba(joined.values)).max() < 1e-4


def test_2d_backbones_and_a_missing_emit_table_are_one_line_errors(emit, tmp_path, tmp_path_factory):
    from click.testing import CliRunner

    from gee_crop.cli import main

    s2_path = table_file(tmp_path_factory)
    emit_path = write_emit_table(emit, tmp_path / "emit.parquet")
    run = CliRunner()
    for table, extra in ((s2_path, ["--emit-table", str(emit_path), "--features", "s2_emit_june"]),
                         (emit_path, ["--features", "emit_june"])):
        refused = run.invoke(main, ["train", str(table), "--out", str(tmp_path / "r"), "--arch", "resnet50", *extra])
        assert refused.exit_code == 1
        assert "--arch resnet50 reads a (bands, time) matrix" in refused.output
        assert "use one of cropnet1d, random_forest, linear" in refused.output
    alone = run.invoke(main, ["train", str(s2_path), "--out", str(tmp_path / "a"), "--features", "s2_emit_august"])
    assert alone.exit_code == 1 and "give --emit-table EMIT_TABLE" in alone.output
