"""Issue 26, classes 2 and 4: no output that is silently empty, and no resource bomb.

Class 2: an output with no valid pixel or sample is a one-line error saying why (exit 1), never a map of
nodata or scores of nothing; a season the data covers only in part is refused unless --max-gap-bins
accepts it; a scale is checked against its CRS's unit; antimeridian-crossing regions are split; a legend
listing a code twice is refused. Class 4: a bound is named up front (seeds and runs of an experiment, the
inward buffer, a scale finer than the stack, a region's file size and JSON depth, a region almost entirely
outside a local stack, a grid of more pixels than a map may hold). Real inputs: the shipped demo patch
(Flanders, 2018-08-04 .. 2019-11-27, 64 x 64 px at 10 m), its labelled pixels and the shipped models; a test
says *synthetic* where a region, labels or a file only describe a place or a shape."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.classes import Legend
from gee_crop.data.regions import read_region, region_from_bbox, utm_crs_for
from gee_crop.data.table import write_table
from gee_crop.earthengine.sampling import sampling_tiles
from gee_crop.errors import EmptyResultError, ExperimentConfigError, InputError, RegionError
from gee_crop.experiments.config import load_experiment
from gee_crop.mapping.engine import plan_job, run_map
from gee_crop.mapping.request import MapSettings
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.mapping.tiling import stack_grid
from gee_crop.models.io import ModelFile
from gee_crop.testing.paths import demo_patch_dir
from gee_crop.training.evaluate import evaluate_model
from tests.cli.faults.conftest import FAST
from tests.training.realdata import labelled_pixels

ROOT = Path(__file__).resolve().parents[3]
#: the shipped default model (TempCNN, Western Europe, gap limit 12 windows) and the shipped CropNet
TEMPCNN = ROOT / "gee_crop" / "resources" / "models" / "tempcnn-weu.int8.onnx"
CROPNET = ROOT / "gee_crop" / "resources" / "models" / "cropnet-weu.pt"
PATCH = demo_patch_dir()
#: a 0.2 deg wide area of interest across the antimeridian (Fiji), as GeoJSON writes it (synthetic place)
ACROSS_180 = {"type": "Polygon", "coordinates": [[[179.9, -17.0], [-179.9, -17.0], [-179.9, -16.8],
                                                  [179.9, -16.8], [179.9, -17.0]]]}


def gee(*args) -> object:
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def refused(result, *phrases: str) -> str:
    """The one-line error of a refused command (exit 1, no traceback), checked for ``phrases``."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: "), result.output
    for phrase in phrases:
        assert phrase in line, line
    return line


def map_args(tmp_path, *more) -> list:
    return ["map", "--source", PATCH, "--out", tmp_path / "map", "--scheduler", "synchronous", "--quiet", *more]


def plan(patch_stack, **settings):
    return plan_job(LocalStackSource(patch_stack), ModelFile.read(TEMPCNN), MapSettings(**settings))


# ================================================================ class 2: silent empty outputs

def test_a_season_the_stack_covers_in_part_is_refused(tmp_path):
    """--year 2018 on the patch, whose first acquisition is 2018-08-04: 19 empty windows lead the season."""
    line = refused(gee(*map_args(tmp_path, "--year", "2018")), "covers only 2018-08-04 to 2018-11-30",
                   "first 19 windows", "gap limit of 12", "pass --year 2019", "--max-gap-bins 19")
    assert "0 pixels" not in line and not (tmp_path / "map").exists()


def test_the_covered_part_is_mapped_with_an_explicit_max_gap_bins(patch_stack):
    job = plan(patch_stack, year=2018, max_gap_bins=19)
    assert job.year == 2018 and job.spec.max_gap_bins == 19 and job.tiles


def test_a_metre_scale_in_a_degree_crs_is_refused(tmp_path):
    refused(gee(*map_args(tmp_path, "--crs", "EPSG:4326", "--scale", "10", "--dry-run")),
            "--scale 10 is in degrees for EPSG:4326", "give it in degrees (--scale 9e-05 for about 10 m)",
            "or a metric CRS")


def test_a_degree_crs_without_scale_gets_the_stacks_pixel_in_degrees(patch_stack):
    """The default 10 m becomes ~9e-05 degree (not 10 degree pixels: a 1 x 1 map)."""
    job = plan(patch_stack, crs="EPSG:4326")
    assert job.grid.scale == pytest.approx(10 / 111_195, rel=1e-3)
    # the 640 m patch: 64 rows of 10 m, and 64 / cos(50.75 deg) = 101 columns of 9e-05 deg longitude
    assert 60 <= job.grid.height <= 70 and 95 <= job.grid.width <= 110


def test_the_whole_world_on_a_local_stack_is_refused(tmp_path):
    refused(gee(*map_args(tmp_path, "--bbox", "-180,-90,180,90")), "lies almost entirely outside the source's data",
            "0.000% of it has data", "no --region/--bbox")
    assert not (tmp_path / "map").exists()


def test_a_region_smaller_than_a_pixel_is_refused(tmp_path):
    """0.7 m x 1.1 m inside the patch: no pixel centre of the 10 m grid lies in it."""
    refused(gee(*map_args(tmp_path, "--bbox", "4.0620,50.7450,4.06201,50.74501")),
            "holds no pixel centre of the 10 metre grid", "smaller than a pixel", "give a larger region")
    assert not (tmp_path / "map").exists()


def test_a_float_raster_as_worldcover_is_refused(tmp_path, patch_stack):
    path = tmp_path / "fraction.tif"  # a cropland fraction 0..1 on the patch's grid, not WorldCover classes
    grid = stack_grid(patch_stack)
    with rasterio.open(path, "w", driver="GTiff", width=grid.width, height=grid.height, count=1, dtype="float32",
                       crs=grid.crs, transform=grid.affine) as dst:
        dst.write(np.full((1, grid.height, grid.width), 0.4, np.float32))
    refused(gee(*map_args(tmp_path, "--cropland-mask", "--worldcover", path)),
            "holds float32 values, not land-cover class codes", "40 = cropland")
    assert not (tmp_path / "map").exists()


def test_evaluate_on_a_table_of_no_rows_is_refused(tmp_path):
    table = write_table(labelled_pixels().subset(np.zeros(0, np.int64)), tmp_path / "empty.parquet")
    refused(gee("evaluate", CROPNET, table, "--out", tmp_path / "eval"), "holds no samples (0 rows)")
    assert not (tmp_path / "eval").exists()


def test_sampling_across_the_antimeridian_plans_the_tiles_on_each_side(tmp_path):
    """The 0.2 deg AOI of the issue with own labels on both sides (synthetic): 2 tiles, not the 360 of the
    latitude band the polygon would span if read as written."""
    region = tmp_path / "fiji.geojson"
    region.write_text(json.dumps(ACROSS_180))
    labels = tmp_path / "fields.geojson"
    fields = [((179.95, -16.95, 179.99, -16.9), "corn"), ((-179.99, -16.95, -179.95, -16.9), "wheat")]
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"crop": crop},
         "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}
        for (w, s, e, n), crop in fields]}))
    for place in (["--region", region], []):  # the AOI, or the labels' own extent
        result = gee("sample", *place, "--labels", labels, "--label-field", "crop", "--classes", "corn,wheat",
                     "--year", "2023", "--dry-run", "--out", tmp_path / "fiji.parquet")
        assert result.exit_code == 0, result.output
        assert ": 2 tiles of 1 deg" in result.output


def test_an_antimeridian_polygon_is_split_into_its_two_sides(tmp_path):
    path = tmp_path / "fiji.geojson"
    path.write_text(json.dumps(ACROSS_180))
    region = read_region(path)
    assert region.geom_type == "MultiPolygon" and len(region.geoms) == 2
    assert region.area == pytest.approx(0.2 * 0.2)  # not 359.8 x 0.2
    assert sampling_tiles(region, 1.0) == [(-180.0, -17.0, -179.0, -16.0), (179.0, -17.0, 180.0, -16.0)]
    assert utm_crs_for(region) in ("EPSG:32701", "EPSG:32760")  # the zones at 180 deg, not zone 31 at 0 deg


def test_a_legend_that_lists_a_code_twice_is_refused(tmp_path):
    """The patch's own codes: 1110 listed as wheat and as other (before: the last row won, wheat vanished)."""
    legend = tmp_path / "legend.csv"
    legend.write_text("code,class\n1110,wheat\n1200,corn\n1500,other\n1110,other\n*,exclude\n")
    refused(gee("sample", "--source", PATCH, "--legend", legend, "--out", tmp_path / "s.parquet"),
            "lists code '1110' twice (as 'wheat' and 'other')", "keep one row per code")
    assert not (tmp_path / "s.parquet").exists()


# --------------------------------------------------------------- class 2: further cases

def test_a_legend_code_written_two_ways_is_one_code(tmp_path):
    legend = tmp_path / "legend.csv"
    legend.write_text("code,gee_crop_class\n1200,corn\n01200,wheat\n")
    with pytest.raises(InputError, match="lists code '01200' twice"):
        Legend.read(legend)


def test_a_map_of_no_classified_pixel_writes_no_map(tmp_path):
    """--max-gap-bins 0 on the patch (SCL clears 45 % of its observations): every pixel is gap-heavy."""
    refused(gee(*map_args(tmp_path, "--max-gap-bins", "0", "--tile-size", "64")),
            "the map has no classified pixel", "more than 0 windows", "raise --max-gap-bins")
    assert not (tmp_path / "map" / "map.tif").exists() and not (tmp_path / "map" / "summary.json").exists()


def test_evaluate_where_every_sample_is_gap_heavy_is_refused():
    """40 real pixels of the patch, clear in May 2019 only (later observations marked SCL 9, cloud): six
    empty months end every series, so nothing can be scored (before: OA nan, exit 0)."""
    pixels = labelled_pixels().subset(np.arange(40))
    pixels.cloud = np.where(pixels.dates > np.datetime64("2019-06-01"), 9, pixels.cloud).astype(pixels.cloud.dtype)
    with pytest.raises(EmptyResultError, match="all 40 samples of the table are gap-heavy"):
        evaluate_model(CROPNET, pixels, year=2019)


def test_a_bbox_across_the_antimeridian_is_its_two_sides():
    region = region_from_bbox(179.9, -17.0, -179.9, -16.8)
    assert region.geom_type == "MultiPolygon" and region.area == pytest.approx(0.04)
    with pytest.raises(RegionError, match="empty or out of range"):
        region_from_bbox(10.0, 50.0, 10.0, 51.0)


def test_a_region_partly_outside_the_stack_is_clipped_with_a_note(tmp_path, patch_stack):
    """Half the box lies south of the patch: only the part with data is gridded and tiled."""
    result = run_map(LocalStackSource(patch_stack), TEMPCNN, tmp_path / "map",
                     region=region_from_bbox(4.0630, 50.7400, 4.0700, 50.7460), **FAST)
    assert any("clipped to the source's data" in n for n in result.notes)
    assert result.n_pixels_classified > 0 and result.grid.height <= 64


# ================================================================ class 4: resource bombs

def ci_small(tmp_path, **changes) -> Path:
    """experiments/ci_small.yaml (the shipped CI experiment on real data) with ``changes``."""
    raw = yaml.safe_load((ROOT / "experiments" / "ci_small.yaml").read_text(encoding="utf-8"))
    raw.update(changes)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_a_billion_seeds_are_refused_up_front(tmp_path, shared_data):
    with pytest.raises(ExperimentConfigError, match=r"seeds: 1,000,000,000 seeds, above the 1000"):
        load_experiment(ci_small(tmp_path, seeds=1_000_000_000), shared_data=shared_data)


def test_a_hundred_km_inward_buffer_is_refused_up_front(tmp_path):
    refused(gee("sample", "--source", PATCH, "--buffer-m", "100000", "--out", tmp_path / "s.parquet"),
            "--buffer-m 100000 is outside 0..500 m")


def test_a_centimetre_scale_on_a_local_stack_is_refused_up_front(tmp_path):
    refused(gee(*map_args(tmp_path, "--scale", "0.01", "--dry-run")),
            "more than 4 times finer than the source's 10 m pixels", "give --scale 2.5 or coarser")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  '{"type": "Polygon", "coordinates": ' + "[" * 50_000 + "]" * 50_000 + "}"])
def test_deeply_nested_json_as_a_region_is_one_line(tmp_path, text):
    path = tmp_path / "deep.geojson"  # synthetic: a JSON bomb, not a place
    path.write_text(text)
    refused(gee(*map_args(tmp_path, "--region", path, "--dry-run")), "nests its JSON too deeply to be GeoJSON")


def test_a_region_almost_entirely_outside_the_stack_is_refused_up_front(tmp_path):
    """A 0.2 deg box around the 0.009 x 0.006 deg patch: 0.13 % of it has data (before: 73 s of nodata tiles)."""
    refused(gee(*map_args(tmp_path, "--bbox", "3.96,50.65,4.16,50.85")), "lies almost entirely outside",
            "0.131% of it has data, less than 1%")
    assert not (tmp_path / "map").exists()


# --------------------------------------------------------------- class 4: further cases

def test_too_many_training_runs_are_refused_naming_the_product(tmp_path, shared_data):
    raw = yaml.safe_load((ROOT / "experiments" / "ci_small.yaml").read_text(encoding="utf-8"))
    models = [dict(m, name=f"{m['name']}{f' {i}' if i else ''}") for i in range(3) for m in raw["models"]]
    with pytest.raises(ExperimentConfigError, match=r"9 models x 2 transfers x 1000 seeds = 18,000 training runs, above the 10,000"):
        load_experiment(ci_small(tmp_path, seeds=1000, models=models), shared_data=shared_data)


def test_an_inward_buffer_above_the_bound_is_refused_on_earth_engine_too():
    result = gee("sample", "--country", "BEL", "--year", "2023", "--buffer-m", "600", "--dry-run")
    refused(result, "--buffer-m 600 is outside 0..500 m")


def test_a_buffer_of_more_than_fifty_label_pixels_is_refused(patch_stack):
    from gee_crop.data.sampling import inward_buffer

    with pytest.raises(InputError, match="is 100 pixels of the 1 m label raster.*at most --buffer-m 50"):
        inward_buffer(patch_stack.classes, 100, 1.0)


def test_a_region_file_above_the_size_bound_is_not_read(tmp_path):
    path = tmp_path / "huge.geojson"  # synthetic: a sparse 100 MiB file, refused from its size alone
    with path.open("wb") as fh:
        fh.truncate(100 * 2**20)
    with pytest.raises(RegionError, match="is 100 MiB, above the 64 MiB a region may have"):
        read_region(path)


def test_the_whole_world_on_earth_engine_is_refused_before_planning_tiles(tmp_path):
    refused(gee("map", "--bbox", "-180,-90,180,90", "--earthengine", "--year", "2023", "--dry-run",
                "--out", tmp_path / "world"), "510,065,881 km²", "above the 100,000,000,000 a map may hold")


def test_a_kilometre_scale_in_metres_is_refused(tmp_path):
    refused(gee(*map_args(tmp_path, "--scale", "2000", "--dry-run")), "coarser than the 1,000 m a crop map may have",
            "give at most --scale 1000")
