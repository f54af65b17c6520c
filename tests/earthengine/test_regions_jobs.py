"""Region validation (GeoJSON), tiling of sampling jobs, modes and year checks, EE rows -> table."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gee_crop.config import BANDS
from gee_crop.data import ee_rows, regions
from gee_crop.data.sample_jobs import check_year, plan_job
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine import sampling
from gee_crop.earthengine.tasks import choose_mode
from gee_crop.errors import RegionError, SeasonError


def test_geojson_errors_name_the_fix(tmp_path, shared_data):
    with pytest.raises(RegionError, match="EPSG:4326"):
        regions.read_region(shared_data / "boundaries" / "svn_border.geojson")  # real file, UTM 33N
    point = tmp_path / "point.geojson"
    point.write_text(json.dumps({"type": "Point", "coordinates": [2, 48]}))
    with pytest.raises(RegionError, match="not a polygon"):
        regions.read_region(point)
    bowtie = tmp_path / "bowtie.geojson"
    bowtie.write_text(json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}))
    with pytest.raises(RegionError, match="not a valid polygon"):
        regions.read_region(bowtie)


def test_tiles_align_with_cells_and_cover_the_region():
    from shapely.geometry import box

    region = box(2.05, 48.05, 3.95, 48.95)
    tiles = sampling.sampling_tiles(region, tile_deg=1.0)
    assert tiles == [(2.0, 48.0, 3.0, 49.0), (3.0, 48.0, 4.0, 49.0)]
    assert sum(region.intersection(box(*t)).area for t in tiles) == pytest.approx(1.9 * 0.9)
    # whole 0.1 deg cells: none is split
    assert {(round((e - w) / 0.1, 6), round((n - s) / 0.1, 6)) for w, s, e, n in tiles} == {(10.0, 10.0)}


def test_tiles_keep_the_bounds_of_the_earlier_raster_grid():
    """Tiles are now computed without mapping's raster grid (a higher floor); on real country outlines
    they are the bounds the grid gave, to the last bit, so ledgers of runs started before still resume."""
    import math

    from shapely.geometry import box

    from gee_crop.countries import country_geometry, country_spec
    from gee_crop.mapping.tiling import OutputGrid, Tile

    def earlier(geometry, tile_deg, cell_deg=0.1):  # the tiling of the earlier pipeline/sample.py
        side = round(tile_deg / cell_deg)
        n_cols = math.ceil(round(360 / cell_deg) / side) * side
        n_rows = math.ceil(round(180 / cell_deg) / side) * side
        grid = OutputGrid("EPSG:4326", (cell_deg, 0.0, -180.0, 0.0, -cell_deg, -90.0 + n_rows * cell_deg),
                          n_cols, n_rows)
        west, south, east, north = geometry.bounds
        found = []
        for j in range(math.floor((south + 90) / tile_deg), math.ceil((north + 90) / tile_deg)):
            for i in range(math.floor((west + 180) / tile_deg), math.ceil((east + 180) / tile_deg)):
                bounds = tuple(round(v, 9) for v in Tile((grid.height // side - 1 - j) * side, i * side, side,
                                                         side).bounds(grid))
                part = geometry.intersection(box(*bounds))
                if not part.is_empty and part.area > 0:
                    found.append(bounds)
        return found

    for code, tile_deg in (("FRA", 1.0), ("FRA", 0.5), ("ARG", 2.0), ("NLD", 0.3), ("AUS", 1.5)):
        spec = country_spec(code)
        outline = country_geometry(code).intersection(box(*spec.extent))
        tiles = sampling.sampling_tiles(outline, tile_deg)
        assert tiles and tiles == earlier(outline, tile_deg), (code, tile_deg)


def test_mode_and_year_checks():
    assert choose_mode("auto", 3) == "interactive" and choose_mode("auto", 90) == "export"
    with pytest.raises(RegionError, match="--mode export"):
        choose_mode("interactive", 90)
    with pytest.raises(SeasonError, match="2017 or later"):
        check_year(2015, "north")
    with pytest.raises(SeasonError, match="2018 or later"):
        check_year(2016, "south")
    check_year(2023, "south")
    job = plan_job(SamplingRequest.from_options(country="FRA", project="p"), 2023)
    assert job.per_cell == 5 and job.window[0].isoformat() == "2023-01-01"
    argentina = SamplingRequest.from_options(country="ARG", project="p")
    assert plan_job(argentina, 2023).window[0].isoformat() == "2022-07-01"
    assert plan_job(SamplingRequest.from_options(country="USA", no_accuracy_filter=True), 2023).per_cell == 1


def test_rows_to_series_groups_sorts_and_dedupes():
    base = {"lon": 2.5, "lat": 48.5, "class": 0, **{b: 100 for b in BANDS}}
    rows = pd.DataFrame([{**base, "date": "2023-06-02", "cs": 0.9},
                         {**base, "date": "2023-05-01", "cs": 0.2},
                         {**base, "date": "2023-06-02", "cs": 0.4},  # same date, other S2 tile
                         {**base, "lon": 2.6, "class": 3, "date": "2023-05-03", "cs": 1.0}])
    series = ee_rows.rows_to_series(rows, region="FRA")
    assert list(series.sample_id) == ["FRA_2.50000_48.50000", "FRA_2.60000_48.50000"]
    assert list(series.crop_class) == ["corn", "wheat"] and list(series.n_obs) == [2, 1]
    assert str(series.dates[0, 0]) == "2023-05-01" and series.cloud[0, 1] == pytest.approx(0.9)
    assert set(series.cloud_kind) == {"cs"} and series.dn.dtype == np.uint16
