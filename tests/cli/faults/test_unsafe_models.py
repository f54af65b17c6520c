"""Item 1: loading a model never runs code. A pickle whose __reduce__ would run a shell command is refused
by info, evaluate and map before anything is unpickled (the command's side effect must not happen), and
every torch load uses weights_only=True."""
from __future__ import annotations

import os
import pickle
import shutil
import zipfile

import pytest
import torch

from gee_crop.errors import InputError, ModelFileError
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.models.io import read_contract
from gee_crop.pipeline.evaluate import run_evaluate
from gee_crop.pipeline.info import model_card_text
from gee_crop.mapping.engine import run_map
from gee_crop.training.loop import read_checkpoint
from tests.cli.faults.conftest import FAST


class RunsACommand:
    """Unpickling this runs ``touch <sentinel>`` in a shell."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def hostile_files(tmp_path):
    sentinel = tmp_path / "PWNED"
    payload = {"gee_crop_model": "1", "estimator": RunsACommand(sentinel)}
    files = []
    for name, protocol in (("model.pt", 4), ("model.onnx", 2), ("model.pkl", 4), ("legacy.pt", 0)):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(payload, protocol=protocol))
        files.append(path)
    # a torch zip whose data.pkl names os.system: torch.save pickles the object as it is
    zipped = tmp_path / "zipped.pt"
    torch.save({"gee_crop_model": "1", "state_dict": {}, "x": RunsACommand(sentinel)}, zipped)
    assert zipfile.is_zipfile(zipped)
    files.append(zipped)
    return sentinel, files


def test_hostile_pickles_are_refused_by_info_evaluate_and_map_without_running(tmp_path, bel_table, patch_stack):
    sentinel, files = hostile_files(tmp_path)
    for path in files:
        with pytest.raises(ModelFileError):
            model_card_text(path)
        with pytest.raises(ModelFileError):
            run_evaluate(path, bel_table, tmp_path / f"eval_{path.stem}")
        with pytest.raises(ModelFileError):
            run_map(LocalStackSource(patch_stack), path, tmp_path / f"map_{path.stem}", **FAST)
        assert not sentinel.exists(), f"{path.name} ran its command"
    # the fixture is live: unpickling it does run the command
    pickle.loads(files[0].read_bytes())
    assert sentinel.exists()


def test_pickle_message_names_the_conversion(tmp_path):
    _, files = hostile_files(tmp_path)
    with pytest.raises(ModelFileError, match="is a pickle.*unpickling can run any code.*--trust-pickle"):
        read_contract(files[2])


def test_every_torch_load_is_weights_only(monkeypatch, tmp_path, tiny_model_pt):
    calls = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    read_contract(tiny_model_pt)
    checkpoint = tiny_model_pt.with_name("checkpoint.pt")
    with pytest.raises(InputError, match="other training options"):
        read_checkpoint(checkpoint, {"arch": "something else"})
    assert calls and all(flag is True for flag in calls)


def test_a_checkpoint_with_code_in_it_is_refused(tmp_path):
    sentinel = tmp_path / "PWNED"
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 1, "model": {}, "optimizer": {}, "history": [], "config": {},
                "x": RunsACommand(sentinel)}, checkpoint)
    with pytest.raises(InputError, match="damaged or truncated"):
        read_checkpoint(checkpoint, {})
    assert not sentinel.exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
