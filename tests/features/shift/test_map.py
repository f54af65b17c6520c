"""Transfer risk of a map (gee-crop map on the real Flanders 2019 patch): per tile and whole map in
summary.json and report.html, kept across a kill and resume, the same from (fake) Earth Engine, a
printed warning above the threshold, and "unavailable" for a model without a summary."""
from __future__ import annotations

import json
import math
import shutil

import pytest
import rasterio
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.classes import NO_CLASS
from gee_crop.features.shift import fit_domain_summary
from gee_crop.mapping.sources import EarthEngineSource, LocalStackSource
from gee_crop.models.io import update_model_meta
from gee_crop.mapping.engine import run_map
from gee_crop.testing.fake_ee_patch import PatchComputePixels
from tests.mapping.conftest import Killed, killed_after

FAST = dict(scheduler="synchronous", progress=False)


def low_confidence_counts(cog) -> tuple[int, int, int]:
    """(classified pixels, those surely below 50 % confidence, those possibly below) read from a map's COG.
    Band 2 is the highest class probability in whole percent (rounded): 49 or less is below 0.5 for sure,
    51 or more above; 50 may be either side."""
    with rasterio.open(cog) as src:
        classes, confidence = src.read(1), src.read(2)
    confidence = confidence[classes != NO_CLASS]
    return confidence.size, int((confidence < 50).sum()), int((confidence <= 50).sum())


def assert_low_confidence_share_is_the_maps(score: dict, cog) -> None:
    """The low-confidence share of a map's summary is the count of its COG's low-confidence pixels over its
    classified pixels."""
    n_classified, surely, possibly = low_confidence_counts(cog)
    assert score["n_classified"] == n_classified > 0
    assert surely <= round(score["low_confidence_share"] * n_classified) <= possibly


def test_summary_json_scores_every_tile_and_the_whole_map(reference_run):
    shift = json.loads((reference_run.out_dir / "summary.json").read_text())["domain_shift"]
    whole, tiles = shift["whole_map"], shift["tiles"]
    assert len(tiles) == 16 and shift["n_tiles_unscored"] == 0
    assert whole["available"] and whole["n_scored"] == reference_run.n_pixels_classified
    assert sum(t["n_scored"] for t in tiles) == whole["n_scored"]
    # the whole map is the pixel-weighted combination of its tiles
    weighted = sum(t["n_scored"] * math.log(t["shift"]) for t in tiles) / whole["n_scored"]
    assert whole["shift"] == pytest.approx(math.exp(weighted))
    assert whole["ood_share"] == pytest.approx(sum(t["n_scored"] * t["ood_share"] for t in tiles) / whole["n_scored"])
    # the tiny model was trained on 360 pixels of this very patch: its map is near its training data
    assert whole["shift"] < 1.5 and whole["ood_share"] < 0.1
    assert_low_confidence_share_is_the_maps(whole, reference_run.cog)
    page = (reference_run.out_dir / "report.html").read_text()
    assert "Transfer risk" in page and "domain shift" in page and 'src="map.png"' in page


def test_a_resumed_map_scores_exactly_as_an_uninterrupted_one(tmp_path, patch_stack, tiny_onnx, reference_run):
    kill_after_five, _ = killed_after(5)
    with pytest.raises(Killed):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16, tile_hook=kill_after_five,
                **FAST)
    resumed = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16, **FAST)
    assert resumed.n_tiles_resumed == 5
    assert resumed.domain_shift == reference_run.domain_shift


def test_earth_engine_maps_score_as_local_ones(offline_ee, tmp_path, patch_stack, tiny_onnx, contract, season_2019,
                                               reference_run):
    fake = PatchComputePixels(patch_stack, contract, season_2019)
    region = LocalStackSource(patch_stack).footprint()
    result = run_map(EarthEngineSource(fake, encoding="uint16"), tiny_onnx, tmp_path / "ee", region=region,
                     year=2019, crs="EPSG:32631", tile_size=32, **FAST)
    ee, local = result.domain_shift["whole_map"], reference_run.domain_shift["whole_map"]
    assert len(result.domain_shift["tiles"]) == 4
    assert (ee["n_scored"], ee["ood_share"]) == (local["n_scored"], local["ood_share"])
    assert ee["shift"] == pytest.approx(local["shift"], rel=1e-9)


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "map", "map")
    return CliRunner()


def test_the_cli_warns_when_the_map_is_unlike_the_training_data(runner, tmp_path, patch_dir, tiny_onnx,
                                                                domain_inputs):
    # the same model, its summary replaced by one of France 2022 monthly composites (another country, year
    # and cadence): the 5-day composites of the 2019 patch are then far from "its" training data
    model = shutil.copy(tiny_onnx, tmp_path / "monthly.onnx")
    update_model_meta(model, domain_summary=fit_domain_summary(domain_inputs["FRA 2022"]).to_dict())
    out = tmp_path / "map"
    result = runner.invoke(cli.main, ["map", "--source", str(patch_dir), "--model", str(model), "--out", str(out),
                                      "--tile-size", "32", "--scheduler", "synchronous", "--quiet"])
    assert result.exit_code == 0, result.output
    whole = json.loads((out / "summary.json").read_text())["domain_shift"]["whole_map"]
    assert whole["ood_share"] > 0.5 and whole["shift"] > 2
    assert (f"warning: {100 * whole['ood_share']:.0f} % of the map's pixels are unlike the model's training data "
            f"(shift {whole['shift']:.1f}") in result.output
    assert "docs/mapping.md" in result.output
    assert "warning: " in (out / "report.html").read_text()


def test_a_model_without_a_summary_maps_with_the_shift_unavailable(runner, tmp_path, patch_dir, old_model):
    out = tmp_path / "map"
    result = runner.invoke(cli.main, ["map", "--source", str(patch_dir), "--model", str(old_model), "--out", str(out),
                                      "--tile-size", "32", "--scheduler", "synchronous", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "domain shift: unavailable" in result.output
    shift = json.loads((out / "summary.json").read_text())["domain_shift"]
    assert shift["whole_map"]["available"] is False and shift["whole_map"]["shift"] is None
    assert len(shift["tiles"]) == 4 and all(t["ood_share"] is None for t in shift["tiles"])
    assert_low_confidence_share_is_the_maps(shift["whole_map"], out / "map.tif")
    assert "unavailable" in (out / "report.html").read_text()


def test_a_kill_while_writing_the_report_resumes_to_a_full_map(tmp_path, monkeypatch, patch_stack, tiny_onnx,
                                                               reference_run):
    from gee_crop.mapping import engine

    def killed(*args, **kwargs):   # SIGKILL after summary.json, before report.html
        raise Killed

    out = tmp_path / "map"
    monkeypatch.setattr(engine, "map_report_html", killed)
    with pytest.raises(Killed):
        run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, **FAST)
    assert (out / "summary.json").exists() and not (out / "report.html").exists()
    monkeypatch.undo()
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, **FAST)
    assert result.n_tiles_resumed == 16 and (out / "report.html").exists()
    assert result.domain_shift == reference_run.domain_shift
