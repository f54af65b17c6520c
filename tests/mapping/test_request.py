"""Issue 21, item 3: ``gee-crop map`` builds one frozen MapRequest; ``--dry-run`` plans exactly the request
the full run executes, and every option of the command is carried by it."""
from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from shapely.geometry import box, mapping

from gee_crop import cli
from gee_crop.cli.map import command as map_command_cli
from gee_crop.config import Encoding, Precision, Scheduler, SourceKind
from gee_crop.errors import InputError
from gee_crop.mapping.request import MapRequest, MapSettings, SourceRequest
from gee_crop.pipeline import map as map_pipeline

#: lon/lat box inside the shipped patch (4.0585-4.0677 E, 50.7431-50.7489 N)
INSIDE_PATCH = (4.0610, 50.7450, 4.0640, 50.7470)
#: command options -> where the request carries them (the rest keep their names)
CARRIED_AS = {"model_path": "model", "source_path": "source.path", "earthengine": "source.kind",
              "region_path": "settings.region", "bbox": "settings.region", "quiet": "settings.progress",
              "dry_run": "dry_run", "pilot": "pilot", "out_dir": "out_dir",
              "parcels_path": "parcels", "min_parcel_pixels": "min_parcel_pixels", "country": "settings.region",
              "on_server": "on_server", "keep_on_server": "on_server", "export_to": "on_server", "bucket": "on_server"}


def _request_fields() -> set[str]:
    return ({f.name for f in dataclasses.fields(MapRequest)}
            | {f"source.{f.name}" for f in dataclasses.fields(SourceRequest)}
            | {f"settings.{f.name}" for f in dataclasses.fields(MapSettings)})


def test_every_map_option_is_carried_by_the_request():
    fields = _request_fields()
    missing = []
    for param in map_command_cli.params:
        carried = CARRIED_AS.get(param.name)
        names = [carried] if carried else [f"source.{param.name}", f"settings.{param.name}"]
        if not any(n in fields for n in names):
            missing.append(param.name)
    assert not missing, f"options the MapRequest does not carry: {missing}"


def test_dry_run_plans_exactly_the_request_the_run_executes(tmp_path, monkeypatch, patch_dir, tiny_onnx):
    """The same command line with and without --dry-run: the same request reaches the pipeline, and the
    engine's plan and run get the same source, model file, output folder and settings, whole."""
    region = tmp_path / "aoi.geojson"
    region.write_text(json.dumps(mapping(box(*INSIDE_PATCH))), encoding="utf-8")
    requests, engine_calls = {}, {}

    def recording(name, real):
        def call(*args, **kwargs):
            if name in ("run", "plan"):
                requests[name] = args[0]
            else:
                source, model, out_dir, settings = args
                engine_calls[name] = (source.description, model.sha256, out_dir, settings)
            return real(*args, **kwargs)
        return call

    for name in ("run", "plan", "run_map", "plan_map"):
        monkeypatch.setattr(map_pipeline, name, recording(name, getattr(map_pipeline, name)))
    monkeypatch.setitem(cli.COMMANDS, "map", "map")
    args = ["map", "--source", str(patch_dir), "--model", str(tiny_onnx), "--region", str(region),
            "--out", str(tmp_path / "map"), "--year", "2019", "--crs", "EPSG:32631", "--scale", "10",
            "--tile-size", "16", "--batch-size", "256", "--workers", "1", "--scheduler", "synchronous",
            "--probabilities", "--max-gap-bins", "6", "--in-flight", "3", "--encoding", "uint16", "--quiet",
            "--mmu", "0.05", "--majority", "3"]
    planned = CliRunner().invoke(cli.main, args + ["--dry-run"])
    ran = CliRunner().invoke(cli.main, args)
    assert planned.exit_code == 0 and ran.exit_code == 0, planned.output + ran.output

    assert requests["plan"].dry_run and not requests["run"].dry_run
    assert dataclasses.replace(requests["plan"], dry_run=False) == requests["run"]
    assert engine_calls["plan_map"] == engine_calls["run_map"]
    settings = engine_calls["run_map"][3]
    assert settings is not None and settings == requests["run"].settings
    assert (settings.year, settings.crs, settings.scale, settings.tile_size, settings.batch_size, settings.workers,
            settings.probabilities, settings.max_gap_bins, settings.in_flight, settings.progress) == (
        2019, "EPSG:32631", 10.0, 16, 256, 1, True, 6, 3, False)
    assert settings.scheduler is Scheduler.SYNCHRONOUS and settings.precision is Precision.FP32
    assert (settings.mmu, settings.majority) == (0.05, 3)
    assert settings.region.equals(box(*INSIDE_PATCH))
    assert requests["run"].source == SourceRequest(SourceKind.LOCAL, path=patch_dir, encoding=Encoding.UINT16)
    # the plan counted what the run then did
    summary = json.loads((tmp_path / "map" / "summary.json").read_text())
    assert f"{summary['n_tiles']} tiles of up to 16 x 16 px" in planned.output
    assert (tmp_path / "map" / "probabilities.tif").exists()


def test_mode_options_are_enums_and_a_bad_one_is_a_user_error():
    settings = MapSettings(scheduler="threads", precision="bf16")
    assert settings.scheduler is Scheduler.THREADS and settings.precision is Precision.BF16
    assert MapSettings(scheduler="tcp://host:8786").scheduler == "tcp://host:8786"  # a Dask address stays text
    source = SourceRequest("earthengine", encoding="sqrt8")
    assert source.kind is SourceKind.EARTHENGINE and source.encoding is Encoding.SQRT8
    with pytest.raises(InputError, match="--scheduler 'lcoal' is neither local, threads, synchronous"):
        MapSettings(scheduler="lcoal")
    with pytest.raises(InputError, match="--precision 'fp16' is not one of fp32, bf16"):
        MapSettings(precision="fp16")
    with pytest.raises(InputError, match="--encoding 'png' is not one of sqrt8, uint16"):
        SourceRequest("local", encoding="png")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.year = 2020
