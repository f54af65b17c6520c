"""run_map end to end on the real patch: outputs, accuracy, resume, Earth Engine path, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import rasterio

from gee_crop.data.regions import region_from_geojson
from gee_crop.errors import (EarthEngineError, MapIncompleteError, ModelFileError, OutputExistsError, OutputWriteError,
                             RegionError)
from gee_crop.mapping.sources import EarthEngineSource, LocalStackSource, RasterClassMask
from gee_crop.mapping.tiling import Tile, stack_grid
from gee_crop.mapping.engine import run_map
from gee_crop.testing.fake_ee_patch import PatchComputePixels
from tests.mapping.conftest import Killed, class_band, killed_after

FAST = dict(scheduler="synchronous", progress=False)


def test_map_of_the_patch(reference_run, patch_stack):
    r = reference_run
    assert r.year == 2019 and r.n_tiles == 16 and r.n_tiles_resumed == 0
    assert (r.grid.width, r.grid.height) == (64, 64)
    classes = class_band(r)
    mapped = classes != 255
    assert r.n_pixels_classified == mapped.sum() >= 4090  # only gap-heavy pixels stay unmapped
    assert set(np.unique(classes[mapped])) <= {0, 3, 6}  # corn, wheat, other: the classes it learned
    # 10 m pixels are 0.01 ha each
    assert sum(r.hectares.values()) == pytest.approx(0.01 * mapped.sum())
    assert r.hectares["wheat"] == pytest.approx(0.01 * (classes == 3).sum())
    # the tiny model learned the patch: map accuracy against the parcel labels
    assert r.accuracy.n_pixels == 4096 - 371 - r.accuracy.n_unmapped
    assert r.accuracy.overall_accuracy > 0.8 and r.accuracy.macro_f1 > 0.75
    summary = json.loads((r.out_dir / "summary.json").read_text())
    assert summary["accuracy"]["overall_accuracy"] == pytest.approx(r.accuracy.overall_accuracy)
    assert r.preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = r.areas_csv.read_text().splitlines()
    assert lines[0] == "class,pixels,hectares,percent" and len(lines) == 8
    assert not list((r.out_dir / "tiles").glob(".*tmp*"))  # no temporary left behind


def test_cog_is_valid_with_crs_transform_colours_and_names(reference_run):
    with rasterio.open(reference_run.cog) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.crs.to_epsg() == 32631
        assert tuple(src.transform)[:6] == (10.0, 0.0, 574680.0, 0.0, -10.0, 5622440.0)
        assert src.descriptions == ("class", "confidence") and src.nodata == 255
        assert src.colormap(1)[0][:3] == (255, 211, 0) and src.colormap(1)[3][:3] == (168, 112, 0)
        assert json.loads(src.tags(1)["class_names"])[6] == "other" and src.tags(1)["class_3"] == "wheat"
        confidence, mapped = src.read(2), src.read(1) != 255
        # max of 7 probabilities is at least 1/7; percent
        assert confidence[mapped].min() >= 100 // 7 and confidence[mapped].max() <= 100
        assert (confidence[~mapped] == 255).all()


def test_resume_after_a_kill_redoes_nothing_and_gives_the_same_map(tmp_path, patch_stack, tiny_onnx,
                                                                  reference_run):
    kill_after_five, started = killed_after(5)
    with pytest.raises(Killed):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16,
                tile_hook=kill_after_five, **FAST)
    assert len(list((tmp_path / "map" / "tiles").glob("tile_*.tif"))) == 5
    assert not (tmp_path / "map" / "map.tif").exists()

    redone = []
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16,
                     tile_hook=lambda t: redone.append(t.name), **FAST)
    assert result.n_tiles_resumed == 5 and len(redone) == 11 and not set(redone) & set(started)
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()


def test_earth_engine_path_maps_the_same(offline_ee, tmp_path, patch_stack, tiny_onnx, contract, season_2019,
                                        reference_run):
    fake = PatchComputePixels(patch_stack, contract, season_2019)
    source = EarthEngineSource(fake, encoding="uint16")  # bit-identical to the local path
    region = LocalStackSource(patch_stack).footprint()
    result = run_map(source, tiny_onnx, tmp_path / "ee", region=region, year=2019, crs="EPSG:32631",
                     tile_size=32, **FAST)
    assert len(fake.requests) == result.n_tiles == 4
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()
    assert result.bytes_per_pixel == result.min_bytes_per_pixel == 860  # 10 bands x 43 bins x 2 bytes


def test_failing_tile_is_reported_and_resumed(offline_ee, tmp_path, patch_stack, tiny_onnx, contract,
                                              season_2019):
    region = LocalStackSource(patch_stack).footprint()
    options = dict(region=region, year=2019, crs="EPSG:32631", tile_size=32, **FAST)
    broken = PatchComputePixels(patch_stack, contract, season_2019, fail_offsets={(32, 0)})
    with pytest.raises(MapIncompleteError, match=r"1 of 4 tiles failed \(tile_r000032_c000000: Earth Engine "
                                                 r"kept failing.*rerun the same command"):
        run_map(EarthEngineSource(broken), tiny_onnx, tmp_path / "ee", **options)
    assert len(list((tmp_path / "ee" / "tiles").glob("tile_*.tif"))) == 3
    healthy = PatchComputePixels(patch_stack, contract, season_2019)
    result = run_map(EarthEngineSource(healthy), tiny_onnx, tmp_path / "ee", **options)
    assert result.n_tiles_resumed == 3 and len(healthy.requests) == 1
    assert healthy.requests[0]["grid"]["affineTransform"]["translateY"] == 5622440.0 - 320


def test_existing_output_is_refused_without_overwrite(tmp_path, patch_stack, tiny_onnx):
    source = LocalStackSource(patch_stack)
    run_map(source, tiny_onnx, tmp_path / "map", tile_size=64, **FAST)
    with pytest.raises(OutputExistsError, match="map.tif exists; pass --overwrite"):
        run_map(source, tiny_onnx, tmp_path / "map", tile_size=64, **FAST)
    result = run_map(source, tiny_onnx, tmp_path / "map", tile_size=32, overwrite=True, **FAST)
    assert result.n_tiles == 4 and result.n_tiles_resumed == 0


def test_other_settings_do_not_resume_into_a_partial_run(tmp_path, patch_stack, tiny_onnx):
    def kill(tile):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32, tile_hook=kill, **FAST)
    with pytest.raises(OutputExistsError, match=r"other settings \(tile_size differ\)"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16, **FAST)


def test_region_outside_the_data_is_refused(tmp_path, shared_data, patch_stack, tiny_onnx):
    slovenia = region_from_geojson(shared_data / "boundaries" / "svn_border.geojson")
    with pytest.raises(RegionError, match="outside the source's data"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", region=slovenia, **FAST)
    assert not (tmp_path / "map").exists()


def test_model_with_other_bins_is_refused(tmp_path, patch_stack, tiny_onnx):
    proto = onnx.load(str(tiny_onnx))
    for entry in proto.metadata_props:
        if entry.key == "season":
            season = json.loads(entry.value)
            entry.value = json.dumps({**season, "n_bins": 22})
    onnx.save(proto, str(tmp_path / "other.onnx"))
    with pytest.raises(ModelFileError, match="expects 22 time bins"):
        run_map(LocalStackSource(patch_stack), tmp_path / "other.onnx", tmp_path / "map", **FAST)


def test_unwritable_output_folder_is_a_clear_error(tmp_path, patch_stack, tiny_onnx):
    (tmp_path / "a_file").write_text("not a folder")  # nobody, root included, can create a folder in it
    with pytest.raises(OutputWriteError, match="cannot write to .*a_file/map.*choose a writable --out"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "a_file" / "map", **FAST)


def test_full_disk_leaves_no_file_looking_complete(tmp_path, monkeypatch, patch_stack, tiny_onnx):
    import errno

    from gee_crop.mapping import writers

    real_copy = writers.rasterio.shutil.copy

    def disk_full(src, dst, **kwargs):
        real_copy(src, dst, **kwargs)  # the COG is half written when the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.rasterio.shutil, "copy", disk_full)
    with pytest.raises(OutputWriteError, match="No space left on device.*free disk space.*rerun"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32, **FAST)
    assert not (tmp_path / "map" / "map.tif").exists()
    assert sorted(p.name for p in (tmp_path / "map").iterdir()) == ["tiles"]  # no temporaries either
    monkeypatch.undo()
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32, **FAST)
    assert result.n_tiles_resumed == 4  # the tiles survived; only the assembly was redone


def test_cropland_mask_skips_other_land(tmp_path, patch_stack, tiny_onnx, reference_run):
    """A WorldCover-style raster derived from the patch labels: labelled parcels = cropland (40)."""
    worldcover = np.where(patch_stack.classes != 255, 40, 30).astype(np.uint8)  # 30 = grassland
    path = tmp_path / "worldcover.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8",
                       crs="EPSG:32631", transform=stack_grid(patch_stack).affine) as dst:
        dst.write(worldcover[None])
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32,
                     cropland=RasterClassMask(path), **FAST)
    classes, full = class_band(result), class_band(reference_run)
    assert (classes[worldcover != 40] == 255).all()
    cropland = worldcover == 40
    np.testing.assert_array_equal(classes[cropland], full[cropland])
    assert result.n_pixels_classified == (classes != 255).sum() < reference_run.n_pixels_classified


@pytest.mark.parametrize("scheduler", ["local", "threads"])
def test_parallel_schedulers_give_the_same_map(scheduler, tmp_path, patch_stack, tiny_onnx, reference_run):
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16,
                     scheduler=scheduler, workers=2, progress=False)
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()


def test_earth_engine_needs_year_and_region(offline_ee, tmp_path, patch_stack, tiny_onnx, contract, season_2019):
    source = EarthEngineSource(PatchComputePixels(patch_stack, contract, season_2019))
    from gee_crop.errors import InputError

    with pytest.raises(InputError, match="needs a region"):
        run_map(source, tiny_onnx, tmp_path / "a", year=2019, **FAST)
    with pytest.raises(InputError, match="pass --year"):
        run_map(source, tiny_onnx, tmp_path / "b", region=LocalStackSource(patch_stack).footprint(), **FAST)
    with pytest.raises(InputError, match="exceeds the Earth Engine composite.*request limit.*192 or less"):
        run_map(source, tiny_onnx, tmp_path / "c", region=LocalStackSource(patch_stack).footprint(), year=2019,
                tile_size=512, **FAST)
    assert EarthEngineError  # the fake raises the client's error type (see test_failing_tile...)


def test_existing_dask_cluster_by_address(tmp_path, patch_stack, tiny_onnx, reference_run):
    """--scheduler ADDRESS: tasks are serialized to the cluster's workers (here in-process, loopback)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32,
                         scheduler=cluster.scheduler_address, workers=2, progress=False)
    assert result.n_tiles == 4
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()


def test_a_region_inside_the_stack_maps_the_same_pixels(tmp_path, patch_stack, tiny_onnx, reference_run):
    """A lon/lat box inside the patch: the grid keeps the stack's pixel edges, pixels outside the
    polygon are nodata, pixels inside equal the whole-patch map."""
    from gee_crop.data.regions import region_from_bbox, reproject_geometry
    from gee_crop.mapping.tiling import region_mask

    lon, lat = 4.0610, 50.7450  # the patch spans 4.0585-4.0677 E, 50.7431-50.7489 N
    region = region_from_bbox(lon, lat, lon + 0.003, lat + 0.002)  # ~210 m x 220 m
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", region=region, **FAST)
    full_grid, grid = reference_run.grid, result.grid
    col0 = (grid.transform[2] - full_grid.transform[2]) / 10
    row0 = (full_grid.transform[5] - grid.transform[5]) / 10
    assert col0 == int(col0) and row0 == int(row0) and 18 <= grid.width <= 23 and 20 <= grid.height <= 25
    inside = region_mask(grid, Tile(0, 0, grid.height, grid.width), reproject_geometry(region, "EPSG:4326", grid.crs))
    mapped, full = class_band(result), class_band(reference_run)
    window = full[int(row0):int(row0) + grid.height, int(col0):int(col0) + grid.width]
    np.testing.assert_array_equal(mapped[inside], window[inside])
    assert (mapped[~inside] == 255).all() and (~inside).any()


def test_earth_engine_errors_are_retried_by_the_client_then_reported(offline_ee, tmp_path, patch_stack, tiny_onnx,
                                                                     contract, season_2019, reference_run):
    """The real client's retry loop (tests/fakes/fake_ee.py injects HTTP errors as earthengine-api
    raises them) serves the patch composite: transient errors cost retries only; a tile whose request
    keeps failing is reported, the others are kept, and the same command finishes the map."""
    from gee_crop.testing.fake_ee import FakeEarthEngineClient

    server = PatchComputePixels(patch_stack, contract, season_2019)
    options = dict(region=LocalStackSource(patch_stack).footprint(), year=2019, crs="EPSG:32631", tile_size=32,
                   **FAST)
    flaky = FakeEarthEngineClient(pixels=server.compute_pixels, fail_next=[429, 500])
    result = run_map(EarthEngineSource(flaky, encoding="uint16"), tiny_onnx, tmp_path / "flaky", **options)
    assert flaky.sleeps == [0.5, 1.0] and flaky.requests == 6  # 4 tiles + 2 retries
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()

    down = FakeEarthEngineClient(pixels=server.compute_pixels, fail_next=[503] * 4)  # all 4 attempts of tile 1
    with pytest.raises(MapIncompleteError, match=r"1 of 4 tiles failed \(tile_r\d+_c\d+: Earth Engine "
                                                 r"kept failing .*rerun the same command"):
        run_map(EarthEngineSource(down, encoding="uint16"), tiny_onnx, tmp_path / "down", **options)
    again = FakeEarthEngineClient(pixels=server.compute_pixels)
    result = run_map(EarthEngineSource(again, encoding="uint16"), tiny_onnx, tmp_path / "down", **options)
    assert result.n_tiles_resumed == 3 and again.requests == 1
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()
