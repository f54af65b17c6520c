"""Items 5, 9 and 10: bad inputs are one-line errors naming the fix, never a traceback or a silently wrong
result: out-of-range band values (counted), malformed GeoJSON members (and any JSON, property-based), a
truncated NetCDF, an empty or one-class table, and (hypothesis) any Arrow table."""
from __future__ import annotations

import datetime as dt
import math
import shutil

import numpy as np
import pyarrow as pa
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gee_crop.config import BANDS
from gee_crop.data.regions import geometry_from_geojson, read_region
from gee_crop.data.stacks import open_local_stack
from gee_crop.data.table import from_arrow, read_table, to_arrow, write_table
from gee_crop.errors import BandValueError, InputError, RegionError, SampleTableError
from gee_crop.testing.paths import demo_patch_dir
from gee_crop.training.trainer import train
from tests.training.realdata import labelled_pixels

RING = [[4.0, 50.0], [4.1, 50.0], [4.1, 50.1], [4.0, 50.0]]


# ------------------------------------------------------------------ band values (item 5)

def netcdf_of_the_patch(tmp_path, patch_stack, edit=None, dtype="int32"):
    """The real patch written as a (time, y, x) NetCDF stack, its band values edited by ``edit``."""
    dn = patch_stack.dn.astype(dtype)
    if edit is not None:
        edit(dn)
    data = {b: (("time", "y", "x"), dn[..., i]) for i, b in enumerate(BANDS)}
    data["SCL"] = (("time", "y", "x"), patch_stack.cloud)
    ds = xr.Dataset(data, coords={"time": patch_stack.dates.astype("datetime64[ns]"), "y": patch_stack.y,
                                  "x": patch_stack.x}, attrs={"epsg": 32631})
    path = tmp_path / "stack.nc"
    ds.to_netcdf(path)
    return path


@pytest.mark.parametrize("dtype, value, kind", [("int32", -1000, "negative"), ("int32", 65535, "above 65,534"),
                                                ("float32", np.nan, "NaN or infinite")])
def test_out_of_range_band_values_are_counted_and_refused(tmp_path, patch_stack, dtype, value, kind):
    def spoil(dn):
        dn[5, :10, :10, 2] = value  # 100 values of B4 on one date

    path = netcdf_of_the_patch(tmp_path, patch_stack, spoil, dtype)
    with pytest.raises(BandValueError, match=rf"100 of 2,949,120 band values are not Sentinel-2 L2A DN \(100 {kind}\)"
                                             r".*re-export the data as uint16 DN"):
        open_local_stack(path)


def test_clean_values_of_the_same_file_read_as_they_are(tmp_path, patch_stack):
    stack = open_local_stack(netcdf_of_the_patch(tmp_path, patch_stack))
    np.testing.assert_array_equal(stack.dn, patch_stack.dn)


def test_a_table_with_negative_dn_is_refused_not_wrapped():
    table = to_arrow(labelled_pixels())
    flat = table.column("B4").combine_chunks()
    values = flat.flatten().to_numpy().astype(np.int32)
    values[:7] = -5
    spoiled = pa.ListArray.from_arrays(flat.offsets, pa.array(values))
    table = table.set_column(table.column_names.index("B4"), "B4", spoiled)
    with pytest.raises(BandValueError, match=r"7 of .* 'B4' values are not Sentinel-2 L2A DN \(7 negative\)"):
        from_arrow(table, "bel.parquet")


# ------------------------------------------------------------------ GeoJSON (item 10)

@pytest.mark.parametrize("obj, message", [
    ({"type": "Polygon", "coordinates": [RING], "crs": 5}, 'malformed "crs" member'),
    ({"type": "Polygon", "coordinates": [RING], "crs": {"type": "name", "properties": "EPSG:4326"}}, "malformed"),
    ({"type": "FeatureCollection", "features": None}, '"features" is null, not a list'),
    ({"type": "FeatureCollection", "features": [None]}, "must be a GeoJSON Feature"),
    ({"type": "Polygon", "coordinates": [[[4, 50], [math.nan, 50], [4.1, 50.1], [4, 50]]]}, "NaN or infinite"),
    ({"type": "Polygon", "coordinates": "abc"}, "malformed coordinates"),
    ({"type": "Feature", "geometry": [1, 2]}, "not an area"),
])
def test_malformed_geojson_members_are_one_line_errors(obj, message):
    with pytest.raises(RegionError, match=message):
        geometry_from_geojson(obj, reproject=True)


def test_a_crs_given_as_a_string_is_understood():
    shape = geometry_from_geojson({"type": "Polygon", "coordinates": [RING], "crs": "EPSG:4326"})
    assert shape.bounds == (4.0, 50.0, 4.1, 50.1)


def test_nan_written_in_a_geojson_file_is_refused(tmp_path):
    path = tmp_path / "aoi.geojson"
    path.write_text('{"type": "Polygon", "coordinates": [[[4, 50], [NaN, 50], [4.1, 50.1], [4, 50]]]}')
    with pytest.raises(RegionError, match="NaN"):
        read_region(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "coordinates", "features", "geometry", "crs", "properties", "name"]), children,
        max_size=4), max_leaves=20)
geometry_like = st.fixed_dictionaries({"type": st.sampled_from(["Polygon", "MultiPolygon", "Feature",
                                                                "FeatureCollection", "Point"])}, optional={
    "coordinates": json_values, "features": json_values, "geometry": json_values, "crs": json_values})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(geometry_like, st.dictionaries(st.text(max_size=6), json_values, max_size=4)))
def test_any_json_object_is_a_polygon_or_a_region_error(obj):
    """Property: whatever a GeoJSON file holds, reading it gives a valid area or a RegionError (synthetic)."""
    try:
        shape = geometry_from_geojson(obj, reproject=True)
    except RegionError:
        return
    assert shape.is_valid and shape.area > 0


# ------------------------------------------------------------------ files and tables (items 9, 10)

def test_a_truncated_netcdf_is_a_one_line_error(tmp_path):
    folder = tmp_path / "patch"
    shutil.copytree(demo_patch_dir(), folder)
    nc = sorted(folder.glob("S2_L2A_10m_*.nc"))[0]
    nc.write_bytes(nc.read_bytes()[: nc.stat().st_size // 3])
    with pytest.raises(InputError, match=r"cannot read .*damaged or truncated: download or export it again"):
        open_local_stack(folder)
    single = tmp_path / "stack.nc"
    single.write_bytes(nc.read_bytes()[:1000])
    with pytest.raises(InputError, match="damaged or truncated|cannot open"):
        open_local_stack(single)


def test_an_empty_table_is_refused_by_train(tmp_path):
    path = write_table(labelled_pixels().subset(np.zeros(0, dtype=np.int64)), tmp_path / "empty.parquet")
    assert len(read_table(path)) == 0
    with pytest.raises(SampleTableError, match=r"holds no samples \(0 rows\)"):
        train(path, tmp_path / "run", epochs=1, progress=False, echo=lambda _: None)
    assert not (tmp_path / "run").exists()


def test_a_one_class_table_is_refused_not_scored_100_percent(tmp_path):
    pixels = labelled_pixels()
    wheat = write_table(pixels.subset(np.flatnonzero(pixels.crop_class == "wheat")), tmp_path / "wheat.parquet")
    for arch in ("cropnet2d", "random_forest"):
        with pytest.raises(InputError, match=r"one class only \(wheat \(\d+ samples\)\).*at least two classes"):
            train(wheat, tmp_path / arch, arch=arch, epochs=1, max_gap_bins=12, progress=False, echo=lambda _: None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-70000, 70000) | st.just(0), min_size=0, max_size=3), min_size=0, max_size=4),
       st.sampled_from(["wheat", "corn", "maize", ""]))
def test_any_band_lists_read_or_fail_with_a_table_error(rows, crop_class):
    """Property: an Arrow table with arbitrary band lists (lengths, signs, classes) reads or raises an
    InputError, never a traceback (synthetic)."""
    n = len(rows)
    lengths = [len(r) for r in rows]
    lists = pa.array(rows, type=pa.list_(pa.int64()))
    columns = {"sample_id": pa.array([f"s{i}" for i in range(n)], pa.string()),
               "lon": pa.array([4.0] * n), "lat": pa.array([50.0] * n), "region": pa.array(["BEL"] * n),
               "crop_class": pa.array([crop_class] * n, pa.string()), "cloud_kind": pa.array(["scl"] * n),
               "dates": pa.array([[dt.date(2019, 5, 1) + dt.timedelta(days=k) for k in range(m)] for m in lengths],
                                 pa.list_(pa.date32())),
               **{b: lists for b in BANDS}, "cloud": pa.array([[4.0] * m for m in lengths], pa.list_(pa.float32()))}
    try:
        series = from_arrow(pa.table(columns), "synthetic table")
    except InputError:
        return
    assert series.dn.dtype == np.uint16 and len(series) == n
