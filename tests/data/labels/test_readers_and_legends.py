"""Reading a user's labels (GeoJSON, GeoPackage, Shapefile; real files of Kenya, Malawi, Europe and the
Flanders patch), their legend and class list, colours, the user's season and the table metadata."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pyogrio.raw
import pytest
import shapely
from shapely import geometry as sg

from gee_crop.classes import (CLASS_HEX, CLASSES, NO_CLASS, Legend, class_hex, class_rgba_table, parse_class_list,
                              user_legend)
from gee_crop.data.sampling import rasterize_features
from gee_crop.data.table import read_table, write_table
from gee_crop.data.vectors import class_counts, read_label_features
from gee_crop.errors import InputError, UnknownClassError
from gee_crop.features.spec import FeatureSpec
from gee_crop.data.sampling import sample_local_stack
from gee_crop.season import Season
from gee_crop.types import SamplingRules
from tests.data.labels.conftest import FLANDERS_CLASSES


@pytest.fixture
def kenya(shared_data):
    return shared_data / "label-vectors" / "kenya_ref_african_crops_kenya_01_labels_00.geojson"


def test_geopackage_of_malawi_parcels(shared_data):
    legend = Legend.for_classes(parse_class_list("Maize, soy soybeans, groundnuts, tobacco, other"))
    features = read_label_features(shared_data / "malawi-parcels" / "malawi_extraction_polygons.gpkg",
                                   "croptype", legend)
    # PROVENANCE.md: soy 75, mixture 72, maize 40, oilseed 32, tobacco 26, groundnuts 10, beans 7, roots 1
    assert class_counts(features) == {"maize": 40, "soy_soybeans": 75, "groundnuts": 10, "tobacco": 26,
                                      "other": 136}
    west, south, east, north = features.bounds
    assert (33.755, -12.942) == (round(west, 3), round(south, 3)) and round(east, 3) == 33.847
    assert not features.is_point.any()


def test_geojson_in_utm_is_reprojected_and_equals_the_shapefile(kenya, tmp_path):
    """Kenya's GeoJSON declares EPSG:32636: read in lon/lat. The same parcels as a Shapefile with its .prj
    read the same; without the .prj the UTM metres are refused, naming the fix."""
    legend = Legend.for_classes(parse_class_list("maize,cassava,other"))
    from_geojson = read_label_features(kenya, "Crop1", legend)
    assert class_counts(from_geojson) == {"maize": 96, "cassava": 29, "other": 34}
    lon, lat = np.mean(from_geojson.bounds[::2]), np.mean(from_geojson.bounds[1::2])
    assert 34.2 < lon < 34.26 and 0.5 < lat < 0.56  # Busia, western Kenya

    obj = json.loads(kenya.read_text())
    pyogrio.raw.write(tmp_path / "kenya.shp", shapely.to_wkb([sg.shape(f["geometry"]) for f in obj["features"]]),
                      [np.array([f["properties"]["Crop1"] for f in obj["features"]], dtype=object)], ["crop"],
                      driver="ESRI Shapefile", geometry_type="Polygon", crs="EPSG:32636")
    assert (tmp_path / "kenya.prj").is_file()
    from_shp = read_label_features(tmp_path / "kenya.shp", "crop", legend)
    assert np.array_equal(from_shp.classes, from_geojson.classes)
    assert np.allclose(from_shp.bounds, from_geojson.bounds, atol=1e-7)

    (tmp_path / "kenya.prj").unlink()
    with pytest.raises(InputError, match=r"declares no CRS and its coordinates .* are not longitude/latitude; "
                                         r"declare the file's CRS .* or reproject it to EPSG:4326"):
        read_label_features(tmp_path / "kenya.shp", "crop", legend)


def test_the_european_parcels_with_the_product_legend(shared_data):
    features = read_label_features(shared_data / "label-vectors" / "eur_2021_demo_wc_extraction_dataset.gpkg",
                                   "croptype_label", Legend.worldcereal())
    assert class_counts(features) == {"wheat": 60, "other": 440}  # PROVENANCE.md
    assert features.legend.classes == CLASSES


def test_missing_field_and_a_legend_that_maps_nothing(shared_data, tmp_path):
    malawi = shared_data / "malawi-parcels" / "malawi_extraction_polygons.gpkg"
    with pytest.raises(InputError, match="has no field 'crop'; pass --label-field with one of: croptype, end_date"):
        read_label_features(malawi, "crop", Legend.for_classes(("maize", "other")))
    legend = tmp_path / "legend.csv"
    legend.write_text("code,class\n1200,maize\n1110,wheat\n")
    with pytest.raises(InputError, match=r"maps none of the values of 'croptype' .* \(values: .*Mixture three or more, beans/peas"):
        read_label_features(malawi, "croptype", Legend.read_user(legend))


def test_user_legend_gives_its_own_class_list(tmp_path):
    path = tmp_path / "legend.csv"
    path.write_text("code,class\n1110,Winter wheat\n1200,Maize\n9120,grassland\n1500,other\n0,exclude\n")
    legend = user_legend(path)
    assert legend.classes == ("winter_wheat", "maize", "grassland", "other")
    assert list(legend.indices(np.array([1200, 0, 9120, 1500]))) == [1, NO_CLASS, 2, 3]
    # --classes fixes the order; a legend naming a class outside it is refused
    assert user_legend(path, "other,grassland,maize,winter_wheat").classes == ("other", "grassland", "maize",
                                                                               "winter_wheat")
    with pytest.raises(UnknownClassError, match="unknown class"):
        user_legend(path, "maize,other")
    # a legend of the paper's names only keeps the paper's seven classes (and their models)
    paper = tmp_path / "paper.csv"
    paper.write_text("code,gee_crop_class\n1,corn\n2,other\n")
    assert user_legend(paper).classes == CLASSES
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("code,class\n1,exclude\n")
    with pytest.raises(InputError, match="maps no label value to a class"):
        user_legend(nothing)
    with pytest.raises(InputError, match="more than once"):
        parse_class_list("maize,Maize,other")


def test_colours_of_a_class_list_are_deterministic():
    classes = FLANDERS_CLASSES
    table = class_rgba_table(classes)
    assert [class_hex(c, classes) for c in classes] == ["1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd",
                                                        CLASS_HEX["other"]]
    assert (table[len(classes):, 3] == 0).all() and (table[:len(classes), 3] == 255).all()
    assert np.array_equal(class_rgba_table(CLASSES), class_rgba_table())  # the paper's table unchanged
    many = tuple(f"crop{i}" for i in range(30))
    assert len({class_hex(c, many) for c in many}) == 30


def test_season_overrides_and_the_southern_calendar():
    season = Season().with_overrides("11-01", 180, 10)
    assert season == Season((11, 1), 180, 10, 0)
    spec = FeatureSpec(season=season)
    south, north = spec.season.span_at(2022, latitude=-13.0), spec.season.span_at(2022, latitude=0.5)
    assert south.start.isoformat() == north.start.isoformat() == "2022-11-01" and south.n_bins == 18
    assert FeatureSpec.from_meta(spec.to_meta()) == spec
    assert FeatureSpec().season.span_at(2023, -30).start.isoformat() == "2022-11-01"  # the paper's shift stays
    with pytest.raises(InputError, match="--season-days 400 is longer than a year; give 1 to 365 days"):
        Season().with_overrides("11-01", 400)
    with pytest.raises(InputError, match="not a month-day; give MM-DD"):
        Season().with_overrides("02-29")
    with pytest.raises(InputError, match="--window-days 50 must be between 1 and the season's 30 days"):
        Season().with_overrides(None, 30, 50)


def test_vector_labels_rasterize_back_onto_the_patch(flanders_patch, flanders_fields):
    """The polygons (EPSG:32631 -> WGS84 -> the stack's grid) give back the patch's own classes exactly."""
    gpkg, legend_path = flanders_fields
    legend = Legend.read_user(legend_path)
    features = read_label_features(gpkg, "ct", legend)
    assert legend.classes == FLANDERS_CLASSES
    rasterized = rasterize_features(features, flanders_patch, buffer_m=0)
    expected = legend.excluding(0).indices(flanders_patch.labels)
    assert np.array_equal(rasterized, expected)


def test_table_keeps_class_list_and_season(flanders_patch, tmp_path):
    legend = Legend({1110: "winter_wheat", 9120: "grassland", "*": "other"}, classes=("winter_wheat", "grassland",
                                                                                      "other"))
    series = sample_local_stack(flanders_patch, SamplingRules(per_cell=50, spacing_m=20), legend=legend)
    series.season = Season().with_overrides("03-01", 150)
    back = read_table(write_table(series, tmp_path / "t.parquet"))
    assert back.classes == ("winter_wheat", "grassland", "other")
    assert back.season == Season((3, 1), 150, 5, 0)
    assert json.loads(pq.read_schema(tmp_path / "t.parquet").metadata[b"gee_crop_season"]) == {
        "start_month_day": [3, 1], "length_days": 150, "window_days": 5, "south_shift_months": 0}
    assert np.array_equal(back.labels, series.labels) and set(back.labels) == {0, 1, 2}
