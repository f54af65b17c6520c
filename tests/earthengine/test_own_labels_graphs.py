"""A user's own labels, legend and season on Earth Engine, built offline from the real Kenya (2019,
CC BY-SA 4.0) and Malawi (2023, Apache-2.0) label files in ../shared/data: the job, its graph, the
request-size rule and the southern-hemisphere season."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import shapely
from shapely import geometry as sg

from gee_crop.classes import Legend, parse_class_list
from gee_crop.data.regions import read_region
from gee_crop.data.sample_jobs import plan_job
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine.labels import INLINE_LABELS_LIMIT, check_inline_size
from gee_crop.earthengine.sampling import OwnLabels, SamplingJob, job_tiles, tile_graph
from gee_crop.errors import InputError

OPTIONS = dict(cloud_band="cs", cloud_threshold=0.75, buffer_m=60.0, seed=0, tile_deg=1.0, tile_scale=1.0,
               spacing_m=60.0)
MALAWI_CLASSES = "maize,soy_soybeans,groundnuts,tobacco,other"


@pytest.fixture
def malawi(shared_data):
    return shared_data / "malawi-parcels" / "malawi_extraction_polygons.gpkg"


@pytest.fixture
def kenya(shared_data):
    return shared_data / "label-vectors" / "kenya_ref_african_crops_kenya_01_labels_00.geojson"


def _functions(graph: str) -> set[str]:
    return {node["functionName"] for node in _calls(json.loads(graph))}


def _calls(obj):
    if isinstance(obj, dict):
        if "functionName" in obj:
            yield obj
        for value in obj.values():
            yield from _calls(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _calls(value)


def _job(labels, field, classes, *, year=2023, season=(None, None, None), region=None):
    start, days, window = season
    request = SamplingRequest.from_options(region=region, project="demo", labels=str(labels), label_field=field,
                                           classes=classes, season_start=start, season_days=days,
                                           window_days=window, **OPTIONS)
    return plan_job(request, year, read_region(region) if region is not None else None)


def test_malawi_polygons_with_a_southern_season(malawi):
    """Malawi's November–April season: the window is the user's season, not the paper's shifted one."""
    job = _job(malawi, "croptype", MALAWI_CLASSES, year=2022, season=("11-01", 180, 10))
    assert job.spec is None and job.hemisphere == "south"
    assert job.classes == ("maize", "soy_soybeans", "groundnuts", "tobacco", "other")
    assert job.window == (dt.date(2022, 11, 1), dt.date(2023, 4, 30))  # 18 bins of 10 days
    assert job.season_span.n_bins == 18
    tiles = job_tiles(job)
    assert len(tiles) == 1
    text = tile_graph(job, 0, tiles["0"]).serialize()
    functions = _functions(text)
    assert {"Image.paint", "Image.focalMin", "Image.stratifiedSample", "Collection.merge",
            "Geometry.type"} <= functions
    assert "2022-11-01" in text and "2023-04-30" in text
    assert "COPERNICUS/S2_SR_HARMONIZED" in text
    # the 287 parcels travel inside the request, each with its class index
    features = [c for c in _calls(json.loads(text)) if c["functionName"] == "Feature"]
    assert len(features) >= 287  # (besides the features the graph builds itself)


def test_kenya_utm_labels_are_reprojected_and_sampled_in_their_extent(kenya):
    """The Kenya file declares EPSG:32636: its parcels arrive in lon/lat around Busia (34.2°E 0.5°N)."""
    job = _job(kenya, "Crop1", "maize,cassava,other", year=2019)
    west, south, east, north = job.geometry.bounds
    assert 34.17 < west < east < 34.29 and 0.46 < south < north < 0.60
    assert len(job.own_labels.geometries) == 159
    assert job.hemisphere == "north" and job.window == (dt.date(2019, 1, 1), dt.date(2020, 1, 1))


def test_points_are_used_as_they_are(kenya, tmp_path):
    """Field centroids as points: no buffer, no grid; each point is a sample point with lon/lat."""
    obj = json.loads(kenya.read_text())
    crs = obj["crs"]
    points = {"type": "FeatureCollection", "crs": crs, "features": [
        {"type": "Feature", "properties": {"crop": f["properties"]["Crop1"]},
         "geometry": sg.mapping(sg.shape(f["geometry"]).representative_point())} for f in obj["features"]]}
    path = tmp_path / "kenya_points.geojson"
    path.write_text(json.dumps(points))
    job = _job(path, "crop", "maize,cassava,fallowland,other", year=2019)
    assert job.own_labels.geometries[0].geom_type == "Point"
    text = tile_graph(job, 0, job_tiles(job)["0"]).serialize()
    assert {"Geometry.centroid", "Geometry.coordinates", "Collection.merge"} <= _functions(text)


def test_a_class_with_too_few_points_is_refused_before_any_request(kenya, tmp_path):
    obj = json.loads(kenya.read_text())
    points = {"type": "FeatureCollection", "crs": obj["crs"], "features": [
        {"type": "Feature", "properties": {"crop": f["properties"]["Crop1"]},
         "geometry": sg.mapping(sg.shape(f["geometry"]).centroid)} for f in obj["features"]]}
    path = tmp_path / "points.geojson"
    path.write_text(json.dumps(points))
    with pytest.raises(InputError, match=r"groundnut \(6\) have fewer than 10 labelled points"):
        _job(path, "crop", "maize,cassava,groundnut,other", year=2019)


def test_table_asset_labels_are_mapped_on_the_server():
    """Labels too large for a request come as a table asset; the legend is applied on the server."""
    job_region = sg.box(33.75, -12.95, 33.85, -12.85)
    legend = Legend.for_classes(parse_class_list(MALAWI_CLASSES))
    job = SamplingJob(name="malawi", spec=None, geometry=job_region, year=2023, per_cell=5, from_country=False,
                      own_labels=OwnLabels("asset", legend, "croptype", asset="projects/demo/assets/malawi"))
    text = tile_graph(job, 0, (33.0, -13.0, 34.0, -12.0)).serialize()
    assert "projects/demo/assets/malawi" in text and "croptype" in text
    # class names are matched as normalize_class_name does: trimmed, lower case, '_' for blanks
    assert {"String.toLowerCase", "String.trim", "String.replace", "Dictionary.get"} <= _functions(text)
    assert job.classes == legend.classes


def test_labels_too_large_for_a_request_name_the_upload_route(malawi):
    """The real Malawi parcels are ~0.2 MB as GeoJSON; over the limit, the error names the asset route."""
    job = _job(malawi, "croptype", MALAWI_CLASSES)
    size = check_inline_size(job.own_labels.geojson(), "malawi")
    assert 50_000 < size < INLINE_LABELS_LIMIT
    with pytest.raises(InputError, match=r"more than the 0 MiB.*10,485,760 bytes.*earthengine upload table"):
        check_inline_size(job.own_labels.geojson(), "malawi", limit=size // 2)


def test_labels_outside_the_region_are_refused(malawi, kenya, tmp_path):
    aoi = tmp_path / "kenya_aoi.geojson"
    outline = shapely.box(34.1, 0.4, 34.3, 0.6)
    aoi.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": sg.mapping(outline)}))
    with pytest.raises(InputError, match="none of the 287 labelled features .* lies in the region"):
        _job(malawi, "croptype", MALAWI_CLASSES, region=str(aoi))
    job = _job(kenya, "Crop1", "maize,cassava,other", year=2019, region=str(aoi))
    assert job.name == "kenya_aoi" and job.geometry.equals(outline)
