"""ONNX inference for maps: model contract checks, batching, providers, int8 static quantization."""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import onnx
import pytest

from gee_crop.classes import NO_CLASS
from gee_crop.errors import InputError, ModelFileError
from gee_crop.export.quantize import quantize_exported, quantize_static_onnx
from gee_crop.mapping.sources import CompositeRequest, LocalStackSource
from gee_crop.mapping.tiling import Tile, stack_grid
from gee_crop.models.io import read_contract
from gee_crop.models.predict import check_model_matches, open_predictor, select_providers
from gee_crop.season import Season
from tests.training.realdata import labelled_pixels


@pytest.fixture(scope="module")
def real_inputs(patch_stack, tiny_onnx):
    """(n, 1, 10, 43) model inputs of every valid pixel of the real patch (2019 season)."""
    contract = read_contract(tiny_onnx)
    request = CompositeRequest(stack_grid(patch_stack), contract, contract.season.span_at(2019, 50.75))
    composite = LocalStackSource(patch_stack).read_tile(Tile(0, 0, 64, 64), request)
    return composite.reflectance(), patch_stack.classes[composite.valid]


def test_model_contract_reads_the_season_from_metadata(tiny_onnx):
    info = read_contract(tiny_onnx)
    assert info.n_bins == 43 and info.season == Season((5, 1), 213, 5, 6)
    assert info.max_gap_bins == 12 and info.cloud_threshold == 0.75 and info.year_trained == 2019
    assert info.season.span_at(2023, -30.0).start.isoformat() == "2022-11-01"  # south: six months earlier
    assert not open_predictor(tiny_onnx).quantized


def test_model_that_does_not_match_the_source_is_refused(tiny_onnx):
    info = read_contract(tiny_onnx)
    season = Season().span(2019)
    check_model_matches(info, season)  # matches
    with pytest.raises(ModelFileError, match="expects 43 time bins.*gives 22"):
        check_model_matches(info, Season(window_days=10).span(2019))
    with pytest.raises(ModelFileError, match="trained on bands .*retrain"):
        check_model_matches(dataclasses.replace(info, bands=info.bands[:9]), season)
    with pytest.raises(ModelFileError, match="predicts classes"):
        check_model_matches(dataclasses.replace(info, classes=("corn", "other")), season)


def test_files_that_are_not_gee_crop_models_are_refused(tmp_path, tiny_onnx):
    proto = onnx.load(str(tiny_onnx))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "plain.onnx"))
    with pytest.raises(ModelFileError, match="without gee-crop metadata"):
        read_contract(tmp_path / "plain.onnx")
    with pytest.raises(ModelFileError, match="does not exist"):
        read_contract(tmp_path / "missing.onnx")
    proto = onnx.load(str(tiny_onnx))
    for entry in proto.metadata_props:
        if entry.key == "feature_kind":
            entry.value = "harmonic"
    onnx.save(proto, str(tmp_path / "harmonic.onnx"))
    # metadata edited to say harmonic while the graph takes 10 x 43 medians: refused as not matching
    with pytest.raises(ModelFileError, match="does not match the gee-crop metadata it carries"):
        read_contract(tmp_path / "harmonic.onnx")
    # a consistent model of harmonic features cannot map median composites
    harmonic = dataclasses.replace(read_contract(tiny_onnx), feature_kind="harmonic")
    with pytest.raises(ModelFileError, match="harmonic features; maps need a CropNet 2D"):
        check_model_matches(harmonic, Season().span(2019))


def test_batches_do_not_change_probabilities(tiny_onnx, real_inputs):
    x, _ = real_inputs
    predictor = open_predictor(tiny_onnx, cache=True)
    whole = predictor.predict_proba(x, batch_size=4096)
    small = predictor.predict_proba(x, batch_size=7)
    np.testing.assert_allclose(small, whole, atol=1e-6)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, atol=1e-5)
    assert open_predictor(tiny_onnx, cache=True) is predictor  # cached per file and settings


def test_providers(tiny_onnx):
    assert select_providers()[-1] == "CPUExecutionProvider"
    with pytest.raises(ModelFileError, match="not available here"):
        select_providers(["NoSuchExecutionProvider"])


def test_int8_model_agrees_with_fp32_on_real_pixels(tmp_path, tiny_onnx, real_inputs):
    x, labels = real_inputs
    calibration = x[np.random.default_rng(0).choice(len(x), 256, replace=False)]
    int8 = quantize_static_onnx(tiny_onnx, tmp_path / "tiny.int8.onnx", calibration)
    p32 = open_predictor(tiny_onnx).predict_proba(x)
    p8 = open_predictor(int8).predict_proba(x)
    agree = (p32.argmax(1) == p8.argmax(1)).mean()
    assert agree >= 0.97, agree
    labelled = labels != NO_CLASS
    oa32 = (p32.argmax(1) == labels)[labelled].mean()
    oa8 = (p8.argmax(1) == labels)[labelled].mean()
    assert oa8 >= oa32 - 0.02, (oa32, oa8)
    assert open_predictor(int8).quantized and read_contract(int8).n_bins == 43
    props = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert json.loads(props["quantization"])["calibration_samples"] == 256
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_quantization_needs_real_calibration_inputs(tmp_path, tiny_onnx):
    with pytest.raises(InputError, match="at least 16"):
        quantize_static_onnx(tiny_onnx, tmp_path / "q.onnx", np.zeros((3, 1, 10, 43), np.float32))
    assert not (tmp_path / "q.onnx").exists()


def test_quantize_an_exported_model_with_its_own_features(tmp_path, tiny_onnx):
    """What `gee-crop export --quantize` calls: calibration inputs from the demo patch's pixels."""
    onnx_copy = shutil.copy(tiny_onnx, tmp_path / "model.onnx")
    path, n = quantize_exported(onnx_copy, labelled_pixels())
    assert path == tmp_path / "model.int8.onnx" and n >= 16
    assert open_predictor(path).quantized
