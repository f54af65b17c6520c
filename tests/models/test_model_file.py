"""ModelFile: a model file read once (bytes, kind, metadata, contract, sha256) and handed on; the commands
that open a model (info, evaluate, export) read it once. Real models: the tiny CropNet trained on the
shipped patch's labelled pixels, its ONNX export and its sample table."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from gee_crop.errors import ModelFileError
from gee_crop.ledger import file_sha256
from gee_crop.models import io as model_io
from gee_crop.models.io import ModelFile, load_model, read_contract, read_model_file
from gee_crop.models.predict import open_predictor
from gee_crop.pipeline.evaluate import run_evaluate
from gee_crop.pipeline.export import run_export
from gee_crop.pipeline.info import model_card_text
from tests.training.realdata import table_file, tiny_run


@pytest.fixture(scope="module")
def model_pt(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory) / "model.pt"


@pytest.fixture(scope="module")
def model_onnx(tmp_path_factory, model_pt) -> Path:
    from gee_crop.export.onnx import export_onnx

    return export_onnx(model_pt, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def counted_reads(monkeypatch) -> list[Path]:
    """The paths the one model-file reader (models.io.read_file_bytes) reads, in order."""
    real, reads = model_io.read_file_bytes, []

    def counting(path):
        reads.append(Path(path))
        return real(path)

    monkeypatch.setattr(model_io, "read_file_bytes", counting)
    return reads


def test_a_model_file_holds_its_bytes_kind_contract_and_digest(model_pt, model_onnx):
    for path, kind in ((model_pt, "torch"), (model_onnx, "onnx")):
        model = ModelFile.read(path)
        assert (model.path, model.kind, model.data) == (path, kind, path.read_bytes())
        assert model.sha256 == file_sha256(path)  # the digest the map's ledger always recorded
        assert model.contract == read_contract(path) and model.meta["gee_crop_model"] == "1"
        assert "state_dict" not in model.meta and read_model_file(model) is model


def test_a_model_file_travels_as_bytes_and_predicts_like_its_path(tmp_path, model_onnx):
    """What a Dask worker gets: the pickled ModelFile, which works with the file gone."""
    model = ModelFile.read(shutil.copy(model_onnx, tmp_path / "m.onnx"))
    (tmp_path / "m.onnx").unlink()
    shipped = pickle.loads(pickle.dumps(model))
    inputs = np.full((8, *model.contract.input_shape), 0.2, dtype=np.float32)  # synthetic: equality only
    expected = open_predictor(model_onnx).predict_proba(inputs)
    np.testing.assert_array_equal(open_predictor(shipped).predict_proba(inputs), expected)
    assert shipped.sha256 == model.sha256


def test_a_pickle_is_read_as_bytes_and_refused_when_used(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"gee_crop_model": "1", "weights": [1, 2]}, protocol=4))
    model = ModelFile.read(path)  # nothing unpickled
    assert model.kind == "pickle"
    for use in (lambda: model.meta, lambda: model.contract, lambda: load_model(model), lambda: open_predictor(model)):
        with pytest.raises(ModelFileError, match="is a pickle.*--trust-pickle"):
            use()


def test_info_evaluate_and_export_read_the_model_once(tmp_path, tmp_path_factory, monkeypatch, model_pt):
    table = table_file(tmp_path_factory)
    model = Path(shutil.copy(model_pt, tmp_path / "model.pt"))
    reads = counted_reads(monkeypatch)
    assert "# Model card" in model_card_text(model)
    assert reads == [model]
    reads.clear()
    run_evaluate(model, table, tmp_path / "eval", record=True)  # reads, scores, then rewrites the card once
    assert reads == [model]
    reads.clear()
    result = run_export(model, tmp_path / "model.onnx", table=table)
    # the model once, then the new ONNX file once for the parity check
    assert reads == [model, result.onnx_path]
