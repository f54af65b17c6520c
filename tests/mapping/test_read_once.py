"""Issue 21, item 4: ``gee-crop map`` reads its model file once and its region file once, whatever the
scheduler, and hands the values on (the Dask workers get the model's bytes, not its path).

Each count is made two ways: the one reader is wrapped to count its calls and, after its one read,
moves the file away, so that any later open of the path (by Python, onnxruntime's C++ or torch) fails
the run; and every Python-level open of the path is recorded."""
from __future__ import annotations

import builtins
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import box, mapping

from gee_crop import cli
from gee_crop.data import regions
from gee_crop.mapping.engine import run_map
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.models import io as model_io
from tests.mapping.conftest import class_band
from tests.training.realdata import tiny_run

#: lon/lat box inside the shipped patch (4.0585-4.0677 E, 50.7431-50.7489 N)
INSIDE_PATCH = (4.0610, 50.7450, 4.0640, 50.7470)


class OpenRecorder:
    """Records every Python-level open of ``path`` (builtins.open and io.open, which pathlib uses)."""

    def __init__(self, monkeypatch, path: Path) -> None:
        self.path, self.opened = path.resolve(), []
        real_open = io.open

        def recording_open(file, *args, **kwargs):
            if isinstance(file, (str, Path)) and Path(file).resolve() == self.path:
                self.opened.append(str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", recording_open)
        monkeypatch.setattr(io, "open", recording_open)


def read_once_then_move_away(monkeypatch, module, name: str) -> list:
    """Wrap ``module.name`` (a reader taking the path first): count its calls, and move the file away
    after the first, so that nothing can open it again. The paths read."""
    real = getattr(module, name)
    calls = []

    def wrapper(path, *args, **kwargs):
        calls.append(Path(path))
        value = real(path, *args, **kwargs)
        Path(path).rename(Path(path).with_name(Path(path).name + ".moved"))
        return value

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.fixture
def map_cli(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "map", "map")
    return lambda *args: CliRunner().invoke(cli.main, ["map", *map(str, args)])


@pytest.mark.parametrize("scheduler", ["synchronous", "local"])
def test_a_map_reads_its_model_file_once(tmp_path, monkeypatch, patch_stack, tiny_onnx, reference_run, scheduler):
    model = Path(shutil.copy(tiny_onnx, tmp_path / "model.onnx"))
    reads = read_once_then_move_away(monkeypatch, model_io, "read_file_bytes")
    opens = OpenRecorder(monkeypatch, model)
    result = run_map(LocalStackSource(patch_stack), model, tmp_path / "map", tile_size=16, scheduler=scheduler,
                     workers=2, progress=False)
    assert reads == [model] and opens.opened == [str(model)]  # the reader's own open, nothing after it
    assert not model.exists() and result.n_tiles == 16
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()


def test_a_map_on_torch_reads_its_model_pt_once(tmp_path, tmp_path_factory, monkeypatch, patch_stack):
    model = Path(shutil.copy(tiny_run(tmp_path_factory) / "model.pt", tmp_path / "model.pt"))
    reads = read_once_then_move_away(monkeypatch, model_io, "read_file_bytes")
    opens = OpenRecorder(monkeypatch, model)
    result = run_map(LocalStackSource(patch_stack), model, tmp_path / "map", tile_size=32, scheduler="synchronous",
                     progress=False)
    assert reads == [model] and opens.opened == [str(model)] and result.n_pixels_classified > 4000


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_map_command_reads_the_model_and_the_region_once(tmp_path, monkeypatch, map_cli, patch_dir, tiny_onnx,
                                                            dry_run):
    model = Path(shutil.copy(tiny_onnx, tmp_path / "model.onnx"))
    region = tmp_path / "aoi.geojson"
    region.write_text(json.dumps(mapping(box(*INSIDE_PATCH))), encoding="utf-8")
    model_reads = read_once_then_move_away(monkeypatch, model_io, "read_file_bytes")
    region_reads = read_once_then_move_away(monkeypatch, regions, "read_region")
    model_opens, region_opens = OpenRecorder(monkeypatch, model), OpenRecorder(monkeypatch, region)
    out = tmp_path / "aoi_map"
    result = map_cli("--source", patch_dir, "--model", model, "--region", region, "--out", out, "--scheduler",
                     "synchronous", "--quiet", *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 0, result.output
    assert model_reads == [model] and len(model_opens.opened) == 1
    assert region_reads == [region] and len(region_opens.opened) == 1
    assert ("dry run: " in result.output) == dry_run and (out / "map.tif").exists() != dry_run
