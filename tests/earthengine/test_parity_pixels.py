"""Issue 22 finding 6: check-parity reads the same Sentinel-2 pixel on the server and the client side.

``sampleRegions`` samples in its ``projection``, else in the image's first band's: a composite has "a
default WGS84 projection with a 1-degree scale", a raw granule its own UTM grid
(https://developers.google.com/earth-engine/guides/projections,
https://developers.google.com/earth-engine/apidocs/ee-image-sampleregions). The fake answers each side
from the patch pixel its sampling grid reads (gee_crop.testing.ee_grid_eval.pixel_read), so points near
a pixel edge of the real patch (Flanders 2019, UTM 31N) read a neighbour when the grids differ.
"""
from __future__ import annotations

import json

import numpy as np
from pyproj import Transformer

import gee_crop.data.parity as check_parity_module
from gee_crop.pipeline.check_parity import check_parity
from gee_crop.testing.fake_ee import FakeEarthEngineClient


def _edge_points(fake) -> list[tuple[float, float]]:
    """Points 1.5 m inside a pixel edge (west, east, north or south in turn) of interior patch pixels."""
    (x0, y0), res = fake.patch.upper_left, fake.patch.resolution
    to_lonlat = Transformer.from_crs(fake.patch.crs, "EPSG:4326", always_xy=True)
    offsets = [(1.5, -5.0), (8.5, -5.0), (5.0, -1.5), (5.0, -8.5)]  # from the pixel's upper-left corner
    points = []
    for k, (r, c) in enumerate((r, c) for r in range(6, 58, 7) for c in range(6, 58, 7)):
        dx, dy = offsets[k % 4]
        points.append(tuple(float(v) for v in to_lonlat.transform(x0 + c * res + dx, y0 - r * res + dy)))
    return points


def test_points_near_a_pixel_edge_read_the_same_pixel_on_both_sides(tmp_path, monkeypatch):
    fake = FakeEarthEngineClient()
    points = _edge_points(fake)
    monkeypatch.setattr(check_parity_module, "random_points", lambda geometry, n, seed=0: points)
    lon, lat = fake.lon, fake.lat
    w, e, s, n = float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max())
    region = tmp_path / "patch.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}))
    report = check_parity(fake, region, year=2019, n_points=len(points))
    server_graph, raw_graph = (obj for method, obj in fake.graphs if method == "compute_features")
    server = {props["point_id"]: (r, c) for props, r, c in fake._points(server_graph, "EPSG:4326")}
    raw = {props["point_id"]: (r, c) for props, r, c in fake._points(raw_graph)}
    assert len(server) == len(raw) == len(points) == 64
    moved = sorted(pid for pid in server if server[pid] != raw[pid])
    assert not moved, f"{len(moved)} of {len(points)} points read another pixel on the server side: {moved[:5]}"
    assert report.n_compared > 0 and not report.differing_points, report.differing_points[:5]
    assert np.array_equal(sorted(server.values()), sorted(raw.values()))
