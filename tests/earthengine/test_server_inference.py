"""Issue 24 items 1 and 3: the map model inside the Earth Engine graph, checked offline on the real patch.

The composite the server would compute over the shipped Flanders patch (2019, 64 x 64 px) is made here
with the training code and encoded as the map route requests it (sqrt8, 0 = masked); the grid evaluator
(gee_crop.testing.ee_grid_eval, numpy semantics of each EE algorithm) runs the server graph on it, and
the local map's own decoding and predictor (onnxruntime, torch) give the reference.
"""
from __future__ import annotations

import ee
import numpy as np
import pytest
from numpy.lib.recfunctions import unstructured_to_structured

from gee_crop.config import Encoding
from gee_crop.data.demo import demo_patch, patch_composite, patch_footprint
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT, request_body_bytes
from gee_crop.earthengine.composite import composite_band_names, encode_sqrt8
from gee_crop.earthengine.graph import function_names, invocations, resolved
from gee_crop.earthengine.inference import (
    TREE_NEWLINE,
    TREE_PROPERTY,
    ForestTrees,
    model_probabilities,
    tree_table_exports,
)
from gee_crop.errors import ModelFileError
from gee_crop.export.onnx import export_onnx
from gee_crop.mapping.sources import EarthEngineSource, TileComposite, decode_pixels
from gee_crop.mapping.writers import encode_bands
from gee_crop.models.io import ModelFile
from gee_crop.models.predict import open_predictor
from gee_crop.models.server import server_classification, server_cost, server_model
from gee_crop.models.zoo import zoo_model
from gee_crop.testing.ee_grid_eval import Grid, GridEvaluator, Raster
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.training.trainer import train
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels, one_torch_thread

MODELS = zoo_model().path.parent
ASSET = "projects/offline-test/assets/flanders_composite"
#: a quarter of the patch (row, col, size), where a check needs less than the whole
QUARTER = (16, 16, 32)


class Served:
    """The patch's composite as the map route requests it (sqrt8 codes) and as the local map reads it;
    ``window`` (row, col, size): a square of the patch only (the grid evaluator's time grows with pixels)."""

    def __init__(self, max_gap_bins: int) -> None:
        patch = demo_patch()
        spec = ModelFile.read(MODELS / "tempcnn-weu.pt").contract
        composite = patch_composite(patch, season=spec.season, max_gap_bins=max_gap_bins)
        h, w, _, self.n_bins = composite.reflectance.shape
        codes = encode_sqrt8(np.where(composite.keep[..., None, None], composite.reflectance, np.nan))
        self.codes = codes.reshape(h, w, -1)  # band-major, the composite's band order
        self.corner, self.res, self.crs = patch.upper_left, patch.resolution, patch.crs
        names = composite_band_names(self.n_bins)
        self.raster = Raster(self.codes.transpose(2, 0, 1), self.crs, *self.corner, self.res, band_names=tuple(names))
        # the local map: computePixels' structured answer, decoded by mapping.sources.decode_pixels
        self.dn = decode_pixels(unstructured_to_structured(self.codes, names=names), self.n_bins, Encoding.SQRT8)

    def window(self, window: tuple[int, int, int] | None) -> tuple[Grid, TileComposite]:
        row, col, size = window or (0, 0, self.dn.shape[0])
        x0, y0 = self.corner
        grid = Grid(self.crs, x0 + col * self.res, y0 - row * self.res, self.res, size, size)
        dn = self.dn[row : row + size, col : col + size]
        return grid, TileComposite(dn, (dn != 0).all(axis=(2, 3)))

    def run(self, image: ee.Image, model, window=None) -> tuple[dict, np.ndarray, np.ndarray]:
        """(values, mask) per band of ``image`` computed from the stored composite, the local map's
        probabilities of the valid pixels (its predictor) and the valid mask, over ``window``."""
        grid, local = self.window(window)
        bands = {n: (v, m) for n, v, m in GridEvaluator({ASSET: self.raster}).image(resolved(image), grid)}
        return bands, open_predictor(model).predict_proba(local.reflectance()), local.valid


@pytest.fixture(scope="module")
def served():
    # the gap rule of the tests' tiny models keeps nearly every pixel; both sides read the same codes
    return Served(MAX_GAP_BINS)


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean())


@pytest.fixture(scope="module")
def student_fp32_onnx(tmp_path_factory):
    return export_onnx(MODELS / "tempcnn-weu.pt", tmp_path_factory.mktemp("student") / "tempcnn-weu.onnx")


def _server_probabilities(bands: dict, classes, valid: np.ndarray, prefix: str = "p_") -> np.ndarray:
    return np.stack([bands[f"{prefix}{c}"][0] for c in classes], axis=-1)[valid]


def test_student_graph_from_fp32_weights_matches_onnxruntime_on_the_patch(served, student_fp32_onnx):
    model = ModelFile.read(MODELS / "tempcnn-weu.pt")
    classes, composite, layers = model.contract.classes, ee.Image(ASSET), server_model(model)
    p_float = model_probabilities(layers, composite).rename([f"f_{c}" for c in classes])
    image = server_classification(model, composite, probabilities=True)
    bands, local, valid = served.run(image.addBands(p_float), student_fp32_onnx)
    server = _server_probabilities(bands, classes, valid, "f_")
    assert valid.sum() > 4000  # the whole real patch, nearly every pixel
    assert np.abs(server - local).max() < 1e-3
    assert _agreement(server, local) >= 0.999
    # the map bands as the local map writes them (mapping.writers.encode_bands), masked where it has no class
    probabilities = np.zeros((*valid.shape, len(classes)), dtype=np.float32)
    probabilities[valid] = local
    expected = encode_bands(probabilities, valid, True)
    got = np.stack([bands["class"][0], bands["confidence"][0]] + [bands[f"p_{c}"][0] for c in classes])
    assert np.array_equal(bands["class"][1], valid)
    assert (got[0][valid] == expected[0][valid]).mean() >= 0.999
    assert np.abs(got[1:, valid].astype(int) - expected[1:, valid]).max() <= 1  # percent rounding
    # what the server is asked: array algebra only, within one request
    used = function_names(image)
    assert {"Image.matrixMultiply", "Image.arraySlice", "Image.arrayReshape", "Image.arrayCat"} <= used
    # the same layers read from the ONNX export (batch norm folded by the exporter, or here)
    exported = server_model(ModelFile.read(student_fp32_onnx))
    for ours, theirs in zip(layers.convs + layers.dense, exported.convs + exported.dense):
        assert np.allclose(ours.weight, theirs.weight, atol=1e-5) and np.allclose(ours.bias, theirs.bias, atol=1e-5)
    cost = server_cost(model)  # over a placeholder composite: the classifier's own bytes
    assert cost.macs_per_pixel == 474_752 + 10 * 43 * 43  # the network's (bench/timing.py) + the smoothing
    assert 500_000 < cost.request_bytes < REQUEST_PAYLOAD_LIMIT / 5


def test_shipped_int8_student_dequantized_keeps_its_classes(served, student_fp32_onnx):
    """The int8 file's weights dequantized (activations stay float on the server): class agreement with
    the int8 model in onnxruntime measured 98.1 % of the patch's pixels, and 99.98 % with fp32 (here on
    a quarter of the patch, for time)."""
    model = ModelFile.read(MODELS / "tempcnn-weu.int8.onnx")
    image = model_probabilities(server_model(model), ee.Image(ASSET))
    bands, int8, valid = served.run(image, MODELS / "tempcnn-weu.int8.onnx", QUARTER)
    server = _server_probabilities(bands, model.contract.classes, valid)
    assert _agreement(server, int8) >= 0.975
    _, fp32, _ = served.run(ee.Image.constant(0), student_fp32_onnx, QUARTER)
    assert _agreement(server, fp32) >= 0.995


def test_a_tempcnn_the_user_trains_maps_on_the_server(served, tmp_path):
    """A model.pt written by ``gee-crop train`` (log input scaling, its own widths) builds and matches torch."""
    with one_torch_thread():
        run = train(labelled_pixels(), tmp_path, arch="tempcnn", epochs=1, widths=(8, 16, 16, 16),
                    input_scaling="log", max_gap_bins=MAX_GAP_BINS, val_fraction=0.25, progress=False,
                    echo=lambda _: None)
    model = ModelFile.read(run.model_path)
    bands, local, valid = served.run(model_probabilities(server_model(model), ee.Image(ASSET)), model, QUARTER)
    server = _server_probabilities(bands, model.contract.classes, valid)
    assert np.abs(server - local).max() < 1e-3
    assert _agreement(server, local) >= 0.999


@pytest.fixture(scope="module")
def forest(tmp_path_factory):
    run = train(labelled_pixels(), tmp_path_factory.mktemp("rf"), arch="random_forest", n_estimators=10,
                max_gap_bins=MAX_GAP_BINS, val_fraction=0.25, progress=False, echo=lambda _: None)
    return ModelFile.read(run.model_path)


def test_a_forest_maps_on_the_server_as_decision_tree_ensemble(served, forest):
    """Vote shares on the server against scikit-learn's predict_proba in onnxruntime: equal where every
    leaf is pure (fully grown trees), on float32 features as onnxruntime compares them."""
    trees = server_model(forest)
    assert isinstance(trees, ForestTrees) and len(trees.trees) == 10
    image = server_classification(forest, ee.Image(ASSET))
    assert "Classifier.decisionTreeEnsemble" in function_names(image)
    bands, local, valid = served.run(model_probabilities(trees, ee.Image(ASSET)).addBands(image), forest)
    server = _server_probabilities(bands, trees.classes, valid)
    assert np.abs(server - local).max() < 1e-3
    assert _agreement(server, local) >= 0.999
    assert (bands["class"][0][valid] == local.argmax(axis=1)).mean() >= 0.999
    cost = server_cost(forest)
    assert 0 < cost.request_bytes < REQUEST_PAYLOAD_LIMIT


def test_a_forest_too_large_for_one_request_is_stored_as_tree_tables(forest):
    trees = server_model(forest)
    limit = sum(len(t) for t in trees.trees) // 3  # forces at least three parts
    configs = tree_table_exports(trees, "projects/p/assets/forest", body_limit=limit)
    assert len(configs) >= 3
    fake = FakeEarthEngineClient(existing_assets=True)
    for config in configs:
        fake.start_export(config)  # the strict double checks each request body against the service's limit
        assert request_body_bytes({"expression": config["collection"]}) < 2 * limit
    stored = [c["arguments"]["metadata"][TREE_PROPERTY] for config in configs
              for c in (resolved(config["collection"])["arguments"]["features"])]
    assert [t.replace(TREE_NEWLINE, "\n") for t in stored] == list(trees.trees)
    read = server_classification(forest, ee.Image(ASSET), tree_tables=[c["asset_id"] for c in configs])
    assert {c["arguments"]["tableId"] for c in invocations(read, "Collection.loadTable")} == {
        c["asset_id"] for c in configs
    }
    assert "Classifier.decisionTreeEnsemble" in function_names(read)


def test_cropnet_is_refused_in_one_line():
    for name in ("cropnet-weu.int8.onnx", "cropnet-weu.pt"):
        with pytest.raises(ModelFileError) as refused:
            server_classification(ModelFile.read(MODELS / name), ee.Image(ASSET))
        assert str(refused.value) == (
            "cropnet-weu costs 11 M MACs per pixel; it is not for the server: map it locally "
            "(drop --on-server) or use tempcnn-weu"
        )


def test_array_algorithms_follow_their_documented_examples():
    """Synthetic values: the Arrays guide's tasseled-cap pattern (a constant matrix times each pixel's
    column of bands, projected and flattened to named bands), arraySlice by a step, arrayCat, and
    arrayArgmax's first maximum, evaluated on a 2 x 2 grid."""
    coefficients = np.arange(6.0).reshape(2, 3)
    pixel = ee.Image.constant([1, 2, 4])
    column = pixel.toArray().arrayReshape(ee.Image.constant([3, 1]).toArray(), 2)
    product = ee.Image(ee.Array(coefficients.tolist())).matrixMultiply(column).arrayProject([0])
    sliced = pixel.toArray().arraySlice(0, 0, 3, 2).arrayCat(ee.Image(ee.Array([4.0])), 0)
    image = product.arrayFlatten([["a", "b"]]).addBands(
        sliced.arrayArgmax().arrayGet(ee.Image.constant(0)).rename("first_max")
    ).addBands(sliced.arrayFlatten([["s0", "s1", "s2"]]))
    grid = Grid("EPSG:32631", 0.0, 20.0, 10.0, 2, 2)
    bands = {n: v for n, v, _ in GridEvaluator({}).image(resolved(image), grid)}
    assert np.all(bands["a"] == 10.0) and np.all(bands["b"] == 31.0)  # [0 1 2; 3 4 5] @ [1 2 4]
    assert [bands[k][0, 0] for k in ("s0", "s1", "s2")] == [1.0, 4.0, 4.0]  # positions 0 and 2, then the 4
    assert np.all(bands["first_max"] == 1.0)  # the first of two maxima


def test_the_student_map_graph_over_the_map_routes_composite_fits_one_request():
    """The whole request of a server map tile: the composite graph that EarthEngineSource builds (5-day
    medians, gap filling, sqrt8) with the student on top, sent through the strict double (body limit)."""
    patch = demo_patch()
    model = ModelFile.read(MODELS / "tempcnn-weu.pt")
    spec = model.contract
    region = patch_footprint(patch)
    season = spec.season.span_at(2019, region.centroid.y)
    fake = FakeEarthEngineClient(pixels=np.zeros((2, 2), dtype=[("class", "u1"), ("confidence", "u1")]))
    composite = EarthEngineSource(fake).image(region, spec, season)
    image = server_classification(model, composite)
    transform = {"scaleX": 10, "shearX": 0, "translateX": 0, "shearY": 0, "scaleY": -10, "translateY": 0}
    grid = {"dimensions": {"width": 2, "height": 2}, "crsCode": patch.crs, "affineTransform": transform}
    fake.compute_pixels(image, grid, ["class", "confidence"])  # 1.28 MB measured, the composite's 0.24 MB
    assert not fake.refusals
