"""Mapping straight from a model.pt on torch, in fp32 and bf16, against the onnxruntime map."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio

from gee_crop.errors import ModelFileError
from gee_crop.mapping.engine import run_map
from gee_crop.mapping.sources import LocalStackSource
from tests.training.realdata import tiny_run

FAST = dict(scheduler="synchronous", progress=False, tile_size=32)


def _class_band(result) -> np.ndarray:
    with rasterio.open(result.cog) as src:
        return src.read(1)


@pytest.fixture(scope="module")
def onnx_map(tmp_path_factory, patch_stack, tiny_onnx):
    return _class_band(run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path_factory.mktemp("ort"), **FAST))


@pytest.mark.parametrize("precision, min_agreement", [("fp32", 0.999), ("bf16", 0.97)])
def test_model_pt_maps_like_the_onnx_export(precision, min_agreement, tmp_path, tmp_path_factory, patch_stack,
                                           onnx_map):
    model_pt = tiny_run(tmp_path_factory) / "model.pt"
    result = run_map(LocalStackSource(patch_stack), model_pt, tmp_path / "map", precision=precision, **FAST)
    classes = _class_band(result)
    mapped = onnx_map != 255
    assert np.array_equal(classes == 255, ~mapped)  # same pixels mapped: same compositing and gap rule
    assert (classes[mapped] == onnx_map[mapped]).mean() >= min_agreement


def test_bf16_needs_the_model_pt(tmp_path, patch_stack, tiny_onnx):
    with pytest.raises(ModelFileError, match="pass the trained model.pt"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", precision="bf16", **FAST)
    assert not (tmp_path / "map" / "map.tif").exists()
