"""Assessment of a map held on Earth Engine: the graphs against the service's algorithm signatures,
and the whole design -> assess flow through a fake client backed by a real local map.

What is checked offline: the functions called and their arguments (names against algorithms.json,
values: group field and name, scale, class values and points, seed, geometries), and the pipeline's
use of the answers. What only the real service can show: the grouped reducer's actual sums and the
pixels stratifiedSample picks (the offline evaluator cannot compute grouped reducers), so the fake
below computes those answers from the same map on disk, as the service documents them.
"""
from __future__ import annotations

import csv
import json

import ee
import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from gee_crop.assessment.design import draw_points
from gee_crop.assessment.points import read_class_map
from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.earthengine import assessment as ee_assessment
from gee_crop.earthengine.client import is_asset_id
from gee_crop.earthengine.graph import invocations, resolved, walk_calls
from gee_crop.pipeline.assess import assess, design
from gee_crop.testing.offline_ee import initialize_offline

ASSET = "projects/my-project/assets/maps/flanders_2019"


@pytest.fixture(autouse=True)
def offline_ee():
    initialize_offline()


def _signature_args(name: str) -> set[str]:
    return {a["name"] for a in ee.ApiFunction.lookup(name).getSignature()["args"]}


def _check_against_signatures(obj) -> set[str]:
    names = set()
    for call in invocations(obj):
        if call["function"].startswith("<"):
            continue
        names.add(call["function"])
        assert set(call["arguments"]) <= _signature_args(call["function"]), call["function"]
    return names


def test_stratum_area_graph_sums_pixel_area_per_class():
    region = ee.Geometry.Rectangle([3.0, 50.9, 3.1, 51.0])
    graph = ee_assessment.stratum_areas(ee.Image(ASSET), region, 10)
    names = _check_against_signatures(graph)
    assert {"Image.pixelArea", "Reducer.sum", "Reducer.group", "Image.reduceRegion"} <= names
    group = invocations(graph, "Reducer.group")[0]["arguments"]
    assert group["groupField"] == 1 and group["groupName"] == "class"
    reduce = invocations(graph, "Image.reduceRegion")[0]["arguments"]
    assert reduce["scale"] == 10 and reduce["maxPixels"] == 1e13


def test_design_graph_is_a_stratified_sample_with_per_class_points():
    graph = ee_assessment.stratified_design(ee.Image(ASSET), ee.Geometry.Point([3, 51]).buffer(500),
                                            [0, 3, 6], [50, 60, 200], 10, seed=7)
    assert "Image.stratifiedSample" in _check_against_signatures(graph)
    args = invocations(graph, "Image.stratifiedSample")[0]["arguments"]
    assert args["classValues"] == [0, 3, 6] and args["classPoints"] == [50, 60, 200]
    assert args["numPoints"] == 0 and args["seed"] == 7 and args["geometries"] is True
    with pytest.raises(ValueError):
        ee_assessment.stratified_design(ee.Image(ASSET), None, [0], [1, 2], 10)


def test_map_class_graph_samples_the_points():
    graph = ee_assessment.map_classes_at(ee.Image(ASSET), [{"point_id": 4, "lon": 3.1, "lat": 51.0}], 10)
    assert "Image.sampleRegions" in _check_against_signatures(graph)


def test_asset_ids_are_told_from_files(tmp_path):
    assert is_asset_id(ASSET) and is_asset_id("users/someone/map")
    assert not is_asset_id(str(tmp_path / "map.tif")) and not is_asset_id("map.tif")


class MapOnEarthEngine:
    """A fake client answering the assessment's requests from a local map, as the service would:
    pixelArea summed per class (grouped reducer), stratifiedSample (all pixels of a class when fewer
    than asked), sampleRegions (masked pixels dropped)."""

    def __init__(self, path: str) -> None:
        self.map = read_class_map(path)
        with rasterio.open(path) as src:
            self.to_lonlat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
            self.to_map = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        self.requests: list[str] = []

    def get_asset(self, asset_id):
        """The image asset's metadata: its grid (what the service reports, no computation)."""
        h, w = self.map.classes.shape
        a, _, c, _, e, f = self.map.transform[:6]
        return {"id": asset_id, "type": "IMAGE", "bands": [{"id": "class", "grid": {
            "dimensions": {"width": w, "height": h}, "crsCode": self.map.crs,
            "affineTransform": {"scaleX": a, "translateX": c, "scaleY": e, "translateY": f}}}]}

    def get_info(self, obj):
        self.requests.append("get_info")
        pixels = self.map.stratum_pixels
        m2 = self.map.pixel_area_ha * 1e4
        return {"groups": [{"class": k, "sum": float(n * m2)} for k, n in enumerate(pixels) if n]}

    def compute_features(self, collection):
        graph = resolved(collection)
        calls = {c["function"]: c["arguments"] for c in walk_calls(graph)}
        if "Image.stratifiedSample" in calls:
            self.requests.append("stratifiedSample")
            args = calls["Image.stratifiedSample"]
            counts = np.zeros(len(self.map.names), dtype=np.int64)
            counts[args["classValues"]] = args["classPoints"]
            counts = np.minimum(counts, self.map.stratum_pixels)
            rows, cols = draw_points(self.map.classes, counts, args["seed"])
            x, y = rasterio.Affine(*self.map.transform) @ (cols + 0.5, rows + 0.5)
            lon, lat = self.to_lonlat.transform(x, y)
            return [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [a, b]},
                     "properties": {"class": int(c)}} for a, b, c in zip(lon, lat, self.map.classes[rows, cols])]
        self.requests.append("sampleRegions")
        features = []
        for call in walk_calls(graph):
            if call["function"] == "Feature":
                lon, lat = call["arguments"]["geometry"]["arguments"]["coordinates"]
                x, y = self.to_map.transform(lon, lat)
                rows, cols, inside = self.map.cells_of(np.array([x]), np.array([y]))
                value = self.map.classes[rows[0], cols[0]] if inside[0] else NO_CLASS
                if value != NO_CLASS:
                    features.append({"properties": {"class": int(value),
                                                    "point_id": call["arguments"]["metadata"]["point_id"]}})
        return features


def test_design_and_assess_on_earth_engine_match_the_local_map(maps, tmp_path):
    client = MapOnEarthEngine(maps["map"])
    points = tmp_path / "points.geojson"
    result = design(ASSET, points, min_per_class=30, seed=5, client=client)
    assert client.requests == ["get_info", "stratifiedSample"]
    assert result.points_per_stratum.sum() == len(json.loads(points.read_text())["features"])
    collection = json.loads(points.read_text())
    # label each point from the real reference raster
    with rasterio.open(maps["reference"]) as src:
        to_map = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        for feature in collection["features"]:
            x, y = to_map.transform(*feature["geometry"]["coordinates"])
            feature["properties"]["reference"] = CLASSES[next(src.sample([(x, y)]))[0]]
    labelled = tmp_path / "labelled.geojson"
    labelled.write_text(json.dumps(collection), encoding="utf-8")
    on_server, summary = assess(ASSET, tmp_path / "ee", reference=labelled, client=client)
    assert client.requests[-2:] == ["get_info", "sampleRegions"]
    # the same points assessed against the local map give the same estimates
    local_points = [{**f["properties"], "lon": f["geometry"]["coordinates"][0], "lat": f["geometry"]["coordinates"][1]}
                    for f in collection["features"]]
    with rasterio.open(maps["map"]) as src:
        to_map = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        for p in local_points:
            p["x"], p["y"] = to_map.transform(p["lon"], p["lat"])
    local_csv = tmp_path / "local.csv"
    with open(local_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(local_points[0]))
        writer.writeheader()
        writer.writerows(local_points)
    local, _ = assess(maps["map"], tmp_path / "local", reference=local_csv)
    np.testing.assert_allclose(on_server.area_ha, local.area_ha, rtol=1e-9)
    assert on_server.overall_accuracy == pytest.approx(local.overall_accuracy)
    assert summary["n_points"] == len(local_points)
