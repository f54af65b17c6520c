"""Output grid, tiles and regions."""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from gee_crop.errors import RegionError
from gee_crop.data.regions import WGS84, region_from_bbox, region_from_geojson, reproject_geometry, utm_crs_for
from gee_crop.mapping.tiling import (EE_REQUEST_LIMIT_BYTES, OutputGrid, grid_for_region, max_ee_tile_size,
                                     plan_tiles, region_mask, stack_grid)


def coverage(grid: OutputGrid, tiles) -> np.ndarray:
    count = np.zeros((grid.height, grid.width), dtype=np.int64)
    for t in tiles:
        count[t.row_off:t.row_off + t.height, t.col_off:t.col_off + t.width] += 1
    return count


def test_local_grid_is_the_patch_grid(local_source, patch_stack):
    footprint = local_source.footprint()
    grid = grid_for_region(footprint, crs=patch_stack.crs, scale=patch_stack.resolution,
                           origin=local_source.default_grid_origin(patch_stack.crs))
    assert (grid.width, grid.height) == (64, 64)
    assert grid.transform == (10.0, 0.0, 574680.0, 0.0, -10.0, 5622440.0)
    assert grid.crs == "EPSG:32631" == utm_crs_for(footprint)
    assert grid == stack_grid(patch_stack)


@pytest.mark.parametrize("tile_size", [16, 24, 64, 100])
def test_tiles_cover_the_grid_exactly_once(tile_size):
    grid = OutputGrid("EPSG:32631", (10.0, 0.0, 574680.0, 0.0, -10.0, 5622440.0), 70, 53)
    tiles = plan_tiles(grid, tile_size)
    assert (coverage(grid, tiles) == 1).all()
    assert all(t.height <= tile_size and t.width <= tile_size for t in tiles)
    assert len({t.name for t in tiles}) == len(tiles)


def test_tiles_of_a_polygon_cover_each_region_pixel_once_and_skip_empty_tiles():
    grid = OutputGrid("EPSG:32631", (10.0, 0.0, 0.0, 0.0, -10.0, 1000.0), 100, 100)
    triangle = Polygon([(0, 1000), (1000, 1000), (0, 0)])  # upper-left half of the grid
    tiles = plan_tiles(grid, 25, triangle)
    whole = plan_tiles(grid, 25)
    inside = np.zeros((100, 100), dtype=bool)
    for t in whole:
        inside[t.row_off:t.row_off + t.height, t.col_off:t.col_off + t.width] = region_mask(grid, t, triangle)
    count = coverage(grid, tiles)
    assert (count[inside] == 1).all() and count.max() == 1
    assert len(tiles) == 10 < len(whole) == 16  # the 6 tiles right of the diagonal hold no pixel centre
    # centres above the diagonal (4950) plus the 100 lying on it (GDAL counts a centre on the edge)
    assert inside.sum() == 5050


def test_ee_tile_size_respects_the_request_limit():
    side = max_ee_tile_size(10 * 43)
    assert side == 192 and side % 16 == 0
    assert side ** 2 * 430 * 3 <= EE_REQUEST_LIMIT_BYTES < (side + 16) ** 2 * 430 * 3
    assert max_ee_tile_size(10 * 15) > side  # fewer bins (15-day windows) -> larger tiles
    with pytest.raises(RegionError, match="fewer bins"):
        max_ee_tile_size(10_000_000)


def test_ee_grid_of_a_tile_is_its_window():
    grid = OutputGrid("EPSG:32631", (10.0, 0.0, 574680.0, 0.0, -10.0, 5622440.0), 64, 64)
    tile = plan_tiles(grid, 48)[3]
    g = tile.ee_grid(grid)
    assert (tile.row_off, tile.col_off) == (48, 48)
    assert g["dimensions"] == {"width": 16, "height": 16}
    assert g["affineTransform"] == {"scaleX": 10.0, "shearX": 0.0, "translateX": 574680.0 + 480,
                                    "shearY": 0.0, "scaleY": -10.0, "translateY": 5622440.0 - 480}
    assert g["crsCode"] == "EPSG:32631"


def test_grid_snaps_to_scale_multiples_in_utm():
    region = region_from_bbox(4.0, 50.7, 4.05, 50.72)
    grid = grid_for_region(region, scale=20)
    a, _, c, _, e, f = grid.transform
    assert (a, e) == (20.0, -20.0) and c % 20 == 0 and f % 20 == 0
    assert grid.crs == "EPSG:32631"
    corners = reproject_geometry(region, WGS84, grid.crs).bounds
    assert c <= corners[0] and f >= corners[3]
    assert c + grid.width * 20 >= corners[2] and f - grid.height * 20 <= corners[1]


def test_geojson_with_a_crs_member_is_read_in_wgs84(shared_data):
    slovenia = region_from_geojson(shared_data / "boundaries" / "svn_border.geojson")
    lon0, lat0, lon1, lat1 = slovenia.bounds
    assert 13.3 < lon0 < 13.5 and 16.5 < lon1 < 16.7 and 45.4 < lat0 < 45.5 and 46.8 < lat1 < 46.9
    assert utm_crs_for(slovenia) == "EPSG:32633"


def _write(tmp_path, geometry: dict):
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": geometry}))
    return path


def test_self_intersecting_polygon_is_refused(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[4.0, 50.7], [4.1, 50.8], [4.1, 50.7], [4.0, 50.8], [4.0, 50.7]]]}
    with pytest.raises(RegionError, match="not a valid polygon.*Self-intersection.*make_valid"):
        region_from_geojson(_write(tmp_path, bowtie))


def test_empty_polygon_and_non_areas_are_refused(tmp_path):
    with pytest.raises(RegionError, match="is empty"):
        region_from_geojson(_write(tmp_path, {"type": "Polygon", "coordinates": []}))
    line = {"type": "LineString", "coordinates": [[4.0, 50.7], [4.1, 50.8]]}
    with pytest.raises(RegionError, match="LineString, not an area"):
        region_from_geojson(_write(tmp_path, line))
    with pytest.raises(RegionError, match="lon_min,lat_min,lon_max,lat_max"):
        region_from_bbox(4.1, 50.7, 4.0, 50.8)
    (tmp_path / "bad.geojson").write_text("{not json")
    with pytest.raises(RegionError, match="not valid GeoJSON"):
        region_from_geojson(tmp_path / "bad.geojson")
    with pytest.raises(RegionError, match="does not exist"):
        region_from_geojson(tmp_path / "missing.geojson")
    assert shapely.is_valid(region_from_bbox(4.0, 50.7, 4.1, 50.8))
