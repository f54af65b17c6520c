"""``gee-crop map`` through the CLI group (options parsed, one library call, results printed)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from gee_crop import cli


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "map", "map")  # registered by the lead in gee_crop/cli/__init__.py
    return CliRunner()


def test_map_the_shipped_patch(runner, tmp_path, patch_dir, tiny_onnx):
    out = tmp_path / "map"
    args = ["map", "--source", str(patch_dir), "--model", str(tiny_onnx), "--out", str(out),
            "--tile-size", "32", "--scheduler", "synchronous", "--quiet"]
    result = runner.invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert "mapped season 2019: 64 x 64 px of 10 metre (EPSG:32631), 4 tile(s) (0 resumed)" in result.output
    assert "map accuracy vs the source's label raster: OA " in result.output
    assert {p.name for p in out.iterdir()} >= {"map.tif", "map.png", "areas.csv", "summary.json", "tiles"}
    again = runner.invoke(cli.main, args)
    assert again.exit_code == 1
    assert again.output.strip().splitlines()[-1].startswith("Error: ") and "--overwrite" in again.output


def test_bad_options_are_one_line_errors(runner, tmp_path, patch_dir, tiny_onnx):
    base = ["map", "--model", str(tiny_onnx), "--out", str(tmp_path / "m"), "--scheduler", "synchronous"]
    neither = runner.invoke(cli.main, base)
    assert neither.exit_code == 2 and "say what to map: --region" in neither.output  # a usage error
    mask = runner.invoke(cli.main, base + ["--source", str(patch_dir), "--cropland-mask"])
    assert mask.exit_code == 1 and "needs --worldcover" in mask.output
    bbox = runner.invoke(cli.main, base + ["--source", str(patch_dir), "--bbox", "4.0,50.7,nope"])
    assert bbox.exit_code == 2 and "lon_min,lat_min,lon_max,lat_max" in bbox.output
    outside = runner.invoke(cli.main, base + ["--source", str(patch_dir), "--bbox", "14.0,46.0,14.1,46.1"])
    assert outside.exit_code == 1 and "outside the source's data" in outside.output
    assert len(outside.output.strip().splitlines()) == 1


def test_clean_map_through_the_cli(runner, tmp_path, patch_dir, tiny_onnx):
    """--mmu and --majority write map_clean.tif and print its accuracy beside the raw map's."""
    out = tmp_path / "map"
    args = ["map", "--source", str(patch_dir), "--model", str(tiny_onnx), "--out", str(out), "--tile-size", "32",
            "--scheduler", "synchronous", "--quiet", "--mmu", "0.05", "--majority", "3"]
    result = runner.invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'map_clean.tif'}" in result.output
    assert "cleaned map (map_clean.tif): OA " in result.output


@pytest.mark.parametrize("extra, code, says", [
    (["--majority", "4"], 1, "--majority 4 must be an odd window side of at least 3"),
    (["--majority", "1"], 1, "--majority 1 must be an odd window side"),
    (["--mmu", "0"], 1, "--mmu 0.0 must be a finite area in hectares above 0"),
    (["--mmu", "nan"], 1, "--mmu nan must be a finite area"),
])
def test_bad_cleaning_options_are_one_line_errors(runner, tmp_path, patch_dir, tiny_onnx, extra, code, says):
    args = ["map", "--source", str(patch_dir), "--model", str(tiny_onnx), "--out", str(tmp_path / "m"),
            "--scheduler", "synchronous", "--dry-run", *extra]
    result = runner.invoke(cli.main, args)
    assert result.exit_code == code and says in result.output
    assert len(result.output.strip().splitlines()) == 1
