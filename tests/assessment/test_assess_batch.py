"""Issue 22, finding 9: the areas and the stratified design of `assess` on Earth Engine ran as interactive
requests whatever the region's size (a country at 10 m is ~10^10 pixels per grouped reduction, far past the
five minutes of an interactive request, https://developers.google.com/earth-engine/guides/processing_environments).
Above a pixel count the double checks (the region's pixels at the scale), both run as batch table exports
(``Export.table.toAsset``), in the map's own projection, and give the same answers."""
from __future__ import annotations

import json

import pytest
from shapely.geometry import box, mapping

from gee_crop.earthengine.graph import resolved, walk_calls
from gee_crop.pipeline.assess import design
from tests.assessment.test_assess_earthengine import ASSET, MapOnEarthEngine, offline_ee  # noqa: F401 (autouse)

#: about 12,000 km² of Flanders: 1.2e8 pixels at 10 m, above the interactive limit of 1e8
LARGE = box(3.0, 50.6, 4.6, 51.6)
#: the shipped patch's area: a few thousand pixels
SMALL = box(4.0585, 50.7431, 4.0677, 50.7489)


class MapWithBatchTasks(MapOnEarthEngine):
    """MapOnEarthEngine with batch table exports to assets: an exported collection is answered, when its
    asset is read, exactly as the interactive request of the same graph would be."""

    project = "my-project"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.exported: dict[str, object] = {}
        self.graphs: list = []

    def ensure_folder(self, folder_id):
        return []

    def start_export(self, config):
        self.requests.append(f"export {config['description']}")
        self.graphs.append(config["collection"])
        self.exported[config["asset_id"]] = config["collection"]
        return f"TASK{len(self.exported)}"

    def task_status(self, task_id):
        return {"id": task_id, "state": "COMPLETED"}

    def delete_asset(self, asset_id):
        self.exported.pop(asset_id)

    def compute_features(self, collection):
        calls = [c for c in walk_calls(resolved(collection)) if c["function"] == "Collection.loadTable"]
        if not calls:
            self.graphs.append(collection)
            return super().compute_features(collection)
        graph = self.exported[calls[0]["arguments"]["tableId"]]
        if any(c["function"] == "Image.stratifiedSample" for c in walk_calls(resolved(graph))):
            return super().compute_features(graph)
        return [{"type": "Feature", "geometry": None, "properties": group}
                for group in self.get_info(graph)["groups"]]


def _region(tmp_path, shape, name):
    path = tmp_path / f"region_{name}.geojson"
    path.write_text(json.dumps(mapping(shape)), encoding="utf-8")
    return path


def test_a_large_region_is_assessed_by_batch_exports_in_the_maps_projection(maps, tmp_path):
    client = MapWithBatchTasks(maps["map"])
    large = design(ASSET, tmp_path / "large.geojson", region=_region(tmp_path, LARGE, "large"), min_per_class=30,
                   seed=5, client=client)
    assert client.requests[:1] == ["export areas"] and "export design" in client.requests, client.requests
    assert "get_info" not in client.requests[:1] and "stratifiedSample" in client.requests
    assert not client.exported  # the temporary tables are deleted
    calls = [c for g in client.graphs for c in walk_calls(resolved(g))]
    reduce = next(c["arguments"] for c in calls if c["function"] == "Image.reduceRegion")
    sample = next(c["arguments"] for c in calls if c["function"] == "Image.stratifiedSample")
    assert reduce["crs"]["function"] == "Image.projection" and sample["projection"]["function"] == "Image.projection"

    small_client = MapWithBatchTasks(maps["map"])
    small = design(ASSET, tmp_path / "small.geojson", region=_region(tmp_path, SMALL, "small"), min_per_class=30,
                   seed=5, client=small_client)
    assert small_client.requests == ["get_info", "stratifiedSample"]  # small: interactive as before
    # both routes answer the same (the double's map is the same whatever the region)
    assert list(large.points_per_stratum) == list(small.points_per_stratum)
    assert json.loads((tmp_path / "large.geojson").read_text())["features"] == \
        json.loads((tmp_path / "small.geojson").read_text())["features"]
    assert large.stratum_weights == pytest.approx(small.stratum_weights)
