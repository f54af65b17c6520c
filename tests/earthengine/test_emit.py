"""EMIT graphs on real EMIT data where it covers the case: the kept bands are named on the server from the
real band centres (value evaluator), the clear mask and the fill are applied to a real reflectance cube
(grid evaluator); the cloud flag stripe and the second month's gap are SYNTHETIC (no real EMIT cloud flag
or June/August pair is in ../shared/data/emit, PROVENANCE.md)."""

from __future__ import annotations

import ee
import numpy as np
import pandas as pd
import pytest

from gee_crop.data.emit import read_emit_l2a
from gee_crop.earthengine import emit
from gee_crop.earthengine.graph import function_names, invocations, resolved
from gee_crop.sensors import EMIT
from gee_crop.testing.ee_grid_eval import Grid, GridEvaluator, Raster
from gee_crop.testing.ee_value_eval import evaluate_value

BOX = [-120.6, 34.5, -120.5, 34.6]
CRS, PX = "EPSG:32610", 60.0


@pytest.fixture(scope="module")
def cube(shared_data):
    return read_emit_l2a(shared_data / "emit" / "emit20250324t221005_10x10_l2a_layout.nc")


def _raster(values: np.ndarray, names: tuple[str, ...], nodata: float | None = None) -> Raster:
    """(rows, cols, bands) values as a multi-band asset on a 60 m UTM grid."""
    return Raster(np.moveaxis(values, -1, 0), CRS, 700000.0, 3820000.0, PX, nodata=nodata, band_names=names)


GRID = Grid(CRS, 700000.0, 3820000.0, PX, 10, 10)


def test_kept_band_names_come_from_the_images_real_wavelengths(shared_data):
    table = pd.read_csv(shared_data / "emit" / "emit_l2a_bands.csv")
    image = ee.Image.constant(0).set(EMIT.wavelength_property, [float(w) for w in table.wavelength_nm])
    names = evaluate_value(emit.kept_band_names(image))
    assert names == list(EMIT.bands) == list(table.ee_band[table.good_wavelength == 1])
    assert len(names) == 244 and "reflectance_126" in names and "reflectance_127" not in names


def test_clear_reflectance_masks_cloud_flag_one_and_keeps_real_values(cube):
    flag = np.zeros((10, 10, 1))
    flag[:, :3] = 1  # SYNTHETIC: a cloud over the first three columns
    values = np.concatenate([np.nan_to_num(cube.reflectance, nan=EMIT.fill), flag], axis=-1)
    images = {"emit": _raster(values, (*cube.bands, EMIT.mask_band))}
    graph = emit.clear_reflectance(ee.Image("emit"), EMIT, bands=list(EMIT.bands))
    bands = GridEvaluator(images).image(resolved(graph), GRID)
    assert [name for name, _, _ in bands] == list(EMIT.bands)
    mask = bands[0][2]
    assert not mask[:, :3].any() and mask[:, 3:].all()
    kept = cube.select(EMIT.bands)
    assert np.allclose(np.stack([v for _, v, _ in bands], axis=-1)[:, 3:], kept[:, 3:])


def test_the_months_are_intersected_on_their_common_clear_pixels(cube):
    june = np.nan_to_num(cube.select(EMIT.bands[:3]), nan=EMIT.fill)
    august = june.copy()
    june[0, :] = EMIT.fill  # SYNTHETIC gaps: no clear June pixel in row 0, no August one in row 9
    august[9, :] = EMIT.fill
    images = {"june": _raster(june, EMIT.bands[:3], EMIT.fill), "august": _raster(august, EMIT.bands[:3], EMIT.fill)}
    both = emit.common_clear([ee.Image("june"), ee.Image("august")])
    (_, value, valid), = GridEvaluator(images).image(resolved(both), GRID)
    clear = valid & (value != 0)
    assert not clear[0].any() and not clear[9].any() and clear[1:9].all()


def test_season_medians_north_june_and_august_south_february():
    north = emit.season_medians(ee.Geometry.Rectangle(BOX), 2023, "north")
    assert EMIT.collection in north.serialize()
    assert sorted({c["arguments"]["month"] for c in invocations(north, "Date.fromYMD")}) == [6, 8]
    assert {c["arguments"]["image2"]["arguments"]["value"] for c in invocations(north, "Image.neq")} >= {1}
    assert {"reduce.median", "Image.reduce", "Image.and", "List.map"} <= function_names(north)
    properties = {c["arguments"]["property"] for c in invocations(north, "Element.get")}
    assert properties == {"reflectance_wavelengths"}  # bands chosen by the image's own band centres
    assert {c["arguments"]["replacement"] for c in invocations(north, "Image.regexpRename")} == {"_m06", "_m08"}
    south = emit.season_medians(ee.Geometry.Rectangle(BOX), 2023, "south")
    assert sorted({c["arguments"]["month"] for c in invocations(south, "Date.fromYMD")}) == [2]



def test_the_plan_line_names_the_months_of_each_hemisphere():
    north = emit.plan_line(2023, "north", 3)
    assert "2023-06 and 2023-08, on the pixels clear in both" in north and "3 more requests" in north
    south = emit.plan_line(2023, "south", 1)
    assert "2023-02 (cloud_flag 1 excluded)" in south and "244 values per sample" in south
