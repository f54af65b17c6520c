"""ONNX export: metadata, dynamic batch, parity with torch on real inputs, model card, errors; the
conversion of a gee-crop 0.1.0 forest pickle."""
from __future__ import annotations

from dataclasses import replace

import joblib
import numpy as np
import onnx
import pytest
import torch

from gee_crop.errors import ModelFileError, OutputExistsError
from gee_crop.export.onnx import check_parity, export_and_check, export_onnx, real_inputs
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.cropnet import CropNet2D
from gee_crop.models.forest import fit_random_forest, forest_probabilities
from gee_crop.models.io import load_model, read_onnx_metadata, save_model
from gee_crop.models.predict import open_predictor
from gee_crop.testing.demo_data import demo_pixels
from gee_crop.training.dataset import series_features
from gee_crop.training.trainer import train
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels, table_file, tiny_run


def onnx_probabilities(path, inputs):
    """(n, 7) probabilities of model inputs with onnxruntime on CPU."""
    return open_predictor(path, providers=["CPUExecutionProvider"]).predict_proba(inputs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    run = tiny_run(tmp_path_factory)
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    return run / "model.pt", export_onnx(run / "model.pt", out)


def test_graph_io_opset_and_metadata(exported):
    model_pt, path = exported
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["reflectance"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 10, 43]
    assert next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == 17
    meta = read_onnx_metadata(path)
    _, model_meta = load_model(model_pt)
    assert meta["gee_crop_model"] == "1"
    assert meta["classes"] == ["corn", "soybeans", "rice", "wheat", "sugarcane", "cotton", "other"]
    assert meta["bands"] == ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"]
    assert meta["season"] == model_meta["season"] and meta["feature_kind"] == "median2d"
    assert meta["cloud_threshold"] == 0.75 and meta["max_gap_bins"] == MAX_GAP_BINS
    card = meta["model_card"]
    assert card["training_data"]["regions"] == ["BEL"] and card["parameters"] == 74_159
    assert card["metrics"]["validation_overall_accuracy"] == model_meta["metrics"]["validation"]["overall_accuracy"]
    assert any("soybeans, rice, sugarcane, cotton" in limit for limit in card["known_limits"])
    text = (path.parent / "model_card.md").read_text()
    assert "## Known limits" in text and "BEL" in text and "Copernicus" in text


def test_parity_on_real_pixels_and_dynamic_batch(exported):
    model_pt, path = exported
    _, meta = load_model(model_pt)
    inputs = real_inputs(meta, demo_pixels())
    assert inputs.shape[1:] == (1, 10, 43) and len(inputs) >= 20
    assert check_parity(model_pt, path, inputs) < 1e-4
    one = onnx_probabilities(path, inputs[:1])
    many = onnx_probabilities(path, inputs[:7])
    assert one.shape == (1, 7) and many.shape == (7, 7)
    np.testing.assert_allclose(one[0], many[0], atol=1e-6)
    np.testing.assert_allclose(many.sum(axis=1), 1, atol=1e-5)


def test_full_size_cropnet_exports_with_parity(tmp_path, exported):
    """The paper's 4.69 M-parameter model, normalization from real pixels, checked on 4 real samples."""
    _, meta = load_model(exported[0])
    inputs = real_inputs(meta, demo_pixels(), max_samples=4)
    torch.manual_seed(0)
    model = CropNet2D().eval()
    model.set_normalization(inputs.mean(axis=(0, 1, 3)), inputs.std(axis=(0, 1, 3)))
    full = save_model(tmp_path / "model.pt", model, "cropnet2d", {"n_bins": 43}, FeatureSpec.from_meta(meta),
                      train_config=meta["train_config"], metrics=meta["metrics"])
    path = export_onnx(full, tmp_path / "full.onnx")
    assert read_onnx_metadata(path)["model_card"]["parameters"] == 4_689_735
    assert check_parity(full, path, inputs) < 1e-4


def test_export_and_check_with_a_table(tmp_path_factory, tmp_path):
    run = tiny_run(tmp_path_factory)
    path, diff, n = export_and_check(run / "model.pt", tmp_path / "m.onnx", table_file(tmp_path_factory))
    assert path.exists() and diff < 1e-4 and n == 64


def test_existing_output_needs_overwrite(exported, tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_onnx(exported[0], target)
    assert target.read_bytes() == b"old"
    export_onnx(exported[0], target, overwrite=True)
    assert read_onnx_metadata(target)["feature_kind"] == "median2d"


def test_random_forest_does_not_export_it_is_already_onnx(tmp_path):
    rf = train(labelled_pixels().subset(np.arange(60)), tmp_path / "rf", arch="random_forest", n_estimators=5,
               max_gap_bins=MAX_GAP_BINS, progress=False, echo=lambda _: None)
    with pytest.raises(ModelFileError, match="Random Forest.*only CropNet"):
        export_onnx(rf.model_path, tmp_path / "rf.onnx")


def test_metadata_of_foreign_files(tmp_path):
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(ModelFileError, match="not an ONNX model"):
        read_onnx_metadata(noise)
    plain = tmp_path / "plain.onnx"
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "plain", [x], [y])
    onnx.save(onnx.helper.make_model(graph), str(plain))
    with pytest.raises(ModelFileError, match="without gee-crop metadata"):
        read_onnx_metadata(plain)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_onnx_metadata(tmp_path / "absent.onnx")


def test_cropnet1d_on_harmonics_exports_with_parity(tmp_path):
    run = train(labelled_pixels().subset(np.arange(80)), tmp_path / "h", arch="cropnet1d",
                feature_kind="harmonic", epochs=1, widths=(4, 8, 8, 16), max_gap_bins=MAX_GAP_BINS,
                progress=False, echo=lambda _: None)
    path = export_onnx(run.model_path, tmp_path / "h.onnx")
    _, meta = load_model(run.model_path)
    inputs = real_inputs(meta, demo_pixels(), max_samples=16)
    assert inputs.shape == (16, 1, 35)
    assert check_parity(run.model_path, path, inputs) < 1e-4
    assert read_onnx_metadata(path)["feature_kind"] == "harmonic"


@pytest.mark.slow
def test_opset_18_goes_through_the_dynamo_exporter(exported, tmp_path):
    """Opset 18 is written natively by torch's dynamo exporter (the one torch recommends); same parity."""
    model_pt, _ = exported
    path = export_onnx(model_pt, tmp_path / "m18.onnx", opset=18)
    proto = onnx.load(str(path))
    assert next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == 18
    assert proto.producer_name == "gee-crop"
    # nodes written by the dynamo exporter carry their torch.fx provenance
    assert any(p.key.startswith("pkg.torch.onnx") for n in proto.graph.node for p in n.metadata_props)
    _, meta = load_model(model_pt)
    inputs = real_inputs(meta, demo_pixels(), max_samples=9)
    assert check_parity(model_pt, path, inputs) < 1e-4
    assert onnx_probabilities(path, inputs[:3]).shape == (3, 7)  # batch axis stays dynamic


def _pickle_of_0_1_0(tmp_path, n_estimators: int = 30):
    """A forest pickle as gee-crop 0.1.0 wrote it (joblib dict: metadata + estimator), fitted on real
    1D medians of the patch pixels; returns (path, forest, flat features)."""
    series = labelled_pixels()
    spec = FeatureSpec("median1d", max_gap_bins=MAX_GAP_BINS)
    feats = series_features(series, spec)
    x = spec.model_input(feats.values[feats.keep], flat=True)
    forest = fit_random_forest(x, series.labels[feats.keep], n_estimators=n_estimators)
    payload = {"gee_crop_model": "1", **replace(spec, year_trained=2019).to_meta(), "arch": "random_forest",
               "arch_kwargs": {"n_estimators": n_estimators},
               "train_config": {"data": {"regions": ["BEL"], "class_counts": {"corn": 1}}},
               "metrics": {"validation": None, "n_train": len(x), "n_val": 0}, "estimator": forest}
    path = tmp_path / "model.pkl"
    joblib.dump(payload, path)
    return path, forest, x


def test_a_0_1_0_forest_pickle_converts_to_onnx_only_when_trusted(tmp_path, tmp_path_factory):
    path, forest, x = _pickle_of_0_1_0(tmp_path)
    out = tmp_path / "model.onnx"
    with pytest.raises(ModelFileError, match="--trust-pickle"):
        export_and_check(path, out, table_file(tmp_path_factory))
    assert not out.exists()
    with pytest.warns(UserWarning, match="trust_pickle"):
        onnx_path, diff, n = export_and_check(path, out, table_file(tmp_path_factory), trust_pickle=True)
    assert onnx_path == out and diff < 1e-4 and n == 64
    assert (tmp_path / "model_card.md").read_text().startswith("# Model card: gee-crop random_forest")
    predictor = open_predictor(out)
    assert predictor.contract.feature_kind == "median1d"
    assert predictor.meta["train_config"]["data"]["regions"] == ["BEL"]
    np.testing.assert_array_equal(predictor.predict_proba(x).argmax(1),
                                  forest_probabilities(forest, x).argmax(1))
