"""Issue 22 finding 1: inline labels must fit the service's request limit as the client serializes them.

The service refuses request bodies over 10,485,760 bytes (HTTP 400 "Request payload size exceeds the limit:
10485760 bytes.", https://github.com/gee-community/geemap/issues/1093); the body is ``json.dumps`` (default
separators, googleapiclient's JsonModel) of ``ee.serializer.encode(graph, for_cloud_api=True)``, 1.6-2.1 x
the labels' GeoJSON. The labels are the real Kenya 2019 parcels of ../shared/data, repeated on a grid
of 600 m offsets (SYNTHETIC placement of real shapes) to about 25,000 small parcels in one tile.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT, request_body_bytes
from gee_crop.testing.fake_ee import PAYLOAD_MESSAGE, FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

COPIES = 13  # 13 x 13 copies of the 159 parcels: 26,871 parcels


@pytest.fixture(scope="module")
def many_parcels(tmp_path_factory, shared_data):
    """The Kenya parcels (UTM 36N, as in the file) repeated COPIES x COPIES times, 600 m apart."""
    source = json.loads((shared_data / "label-vectors" / "kenya_ref_african_crops_kenya_01_labels_00.geojson")
                        .read_text())
    features = []
    for i in range(COPIES):
        for j in range(COPIES):
            for f in source["features"]:
                ring = [[x + 600.0 * i, y + 600.0 * j] for x, y in f["geometry"]["coordinates"][0]]
                features.append({"type": "Feature", "properties": {"Crop1": f["properties"]["Crop1"]},
                                 "geometry": {"type": "Polygon", "coordinates": [ring]}})
    folder = tmp_path_factory.mktemp("parcels")
    path = folder / "kenya_x169.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": source["crs"], "features": features}))
    aoi = folder / "aoi.geojson"
    aoi.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[34.05, 0.35], [34.45, 0.35], [34.45, 0.75], [34.05, 0.75], [34.05, 0.35]]]}))
    return path, aoi, len(features)


def test_request_body_is_measured_as_the_client_serializes_it():
    """``request_body_bytes`` is ``len(json.dumps(...))`` with the default separators of googleapiclient."""
    initialize_offline()
    import ee

    graph = ee.FeatureCollection([ee.Feature(ee.Geometry.Point([1.5, 2.5]), {"class": 1})])
    body = {"expression": ee.serializer.encode(graph, for_cloud_api=True), "pageSize": 1000}
    assert request_body_bytes({"expression": graph, "pageSize": 1000}) == len(json.dumps(body).encode())
    assert ", " in json.dumps(body) and len(json.dumps(body)) > len(json.dumps(body, separators=(",", ":")))


def test_25000_inline_parcels_never_send_a_body_over_the_limit(many_parcels, monkeypatch, tmp_path):
    """Either every request the run sends is within 10,485,760 bytes as serialized, or the user is sent to
    the upload route before any request. At b21929b the 8 MiB GeoJSON check let the file through and the
    double refused the ~12 MB computeFeatures/export body."""
    labels, aoi, n = many_parcels
    assert 25_000 <= n <= 27_000
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=(34.25, 0.55), existing_assets=set())
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    result = CliRunner().invoke(main, [
        "sample", "--region", str(aoi), "--labels", str(labels), "--label-field", "Crop1",
        "--classes", "maize,cassava,other", "--year", "2019", "--tile-deg", "1", "--mode", "export",
        "--project", "demo", "--out", str(tmp_path / "kenya.parquet")])
    sent = [request_body_bytes({"expression": c["collection"] if m == "start_export" else c})
            for m, c in fake.graphs if m in ("compute_features", "start_export")]
    assert PAYLOAD_MESSAGE not in fake.refusals, f"a request over the limit was sent: {result.output}"
    assert all(size <= REQUEST_PAYLOAD_LIMIT for size in sent), sent
    if result.exit_code != 0:
        assert sent == [], "the refusal must come before any request"
        assert "upload it as a table asset" in result.output and "earthengine upload table" in result.output
        assert "--tile-deg" in result.output  # a smaller tile carries fewer parcels
