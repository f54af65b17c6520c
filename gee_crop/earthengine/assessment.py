"""Server-side graphs of an accuracy and area assessment of a map held on Earth Engine, so that a
continental map never leaves Earth Engine (Olofsson et al. 2014 design, stratified by map class).

- :func:`stratum_areas`: area per map class, ``ee.Image.pixelArea()`` summed per class with a
  grouped reducer (m², true ground area whatever the map's projection).
- :func:`stratified_design`: ``ee.Image.stratifiedSample`` with per-class point counts
  (https://developers.google.com/earth-engine/apidocs/ee-image-stratifiedsample: "If there are fewer
  than the specified number of samples available for a given class value, then all of the points
  for that class will be included").
- :func:`map_classes_at`: the map class under each labelled reference point (``sampleRegions``).

Both the areas and the design are computed in the map's own projection (``crs`` of ``reduceRegion``,
``projection`` of ``stratifiedSample``: the map image's) at the assessment's scale. A region of more than
:data:`MAX_INTERACTIVE_PIXELS` pixels at that scale does not run as an interactive request (five minutes,
https://developers.google.com/earth-engine/guides/processing_environments; a timed-out request is not
retried): its areas and design are exported with ``Export.table.toAsset`` (batch tasks have no such limit),
read back and the temporary asset deleted (:func:`exported_rows`).
"""

from __future__ import annotations

import math
import time

import ee
import numpy as np
from pyproj import Geod
from shapely import geometry as sg

from gee_crop.classes import NO_CLASS
from gee_crop.errors import EarthEngineError, InputError

#: Band of a gee-crop map image holding the class index.
CLASS_BAND = "class"
#: Property names in the results.
AREA_GROUP = "class"
POINT_ID = "point_id"
MAX_PIXELS = 1e13
#: Largest region (pixels at the assessment's scale) whose grouped reduction or stratified sample runs as
#: one interactive request; larger ones are batch table exports. A planning figure, not a documented one:
#: 10^8 pixels (10,000 km² at 10 m) of a pixelArea sum per class; a country at 10 m is ~10^10
#: (processing_environments page above: interactive requests have five minutes).
MAX_INTERACTIVE_PIXELS = 1e8
#: where the batch route's temporary tables go, under the client's project
ASSESS_FOLDER = "gee-crop/assess"
POLL_S = 30.0
_GEOD = Geod(ellps="WGS84")


def map_and_region(map_ref: str, region: dict | None, *, collection: bool = False) -> tuple[ee.Image, ee.Geometry]:
    """The map image (an asset id) and the region assessed: the GeoJSON geometry ``region`` (WGS84), or the
    map's footprint when None. ``collection``: the asset is an image collection of map tiles (``gee-crop map
    --on-server``), mosaicked in the first tile's projection (a mosaic's own default is WGS84 at 1 degree,
    https://developers.google.com/earth-engine/guides/projections)."""
    if collection:
        tiles = ee.ImageCollection(map_ref)
        image = tiles.mosaic().setDefaultProjection(tiles.first().projection())
        return image, tiles.geometry() if region is None else ee.Geometry(region)
    image = ee.Image(map_ref)
    return image, image.geometry() if region is None else ee.Geometry(region)


def is_map_collection(client, map_ref: str) -> bool:
    """True when the map asset is an image collection (the tiles of ``gee-crop map --on-server``)."""
    return (client.get_asset(map_ref) or {}).get("type") == "IMAGE_COLLECTION"


def stratum_areas(classes: ee.Image, region: ee.Geometry, scale: float, *, tile_scale: float = 1) -> ee.Dictionary:
    """``{"groups": [{"class": k, "sum": m²}, ...]}``: ground area of each map class in ``region``."""
    area = ee.Image.pixelArea().addBands(classes.select([0], [AREA_GROUP]).toInt())
    reducer = ee.Reducer.sum().group(groupField=1, groupName=AREA_GROUP)
    return area.reduceRegion(
        reducer=reducer,
        geometry=region,
        scale=scale,
        crs=classes.projection(),  # the map's own projection, at the assessment's scale
        maxPixels=MAX_PIXELS,
        tileScale=tile_scale,
    )


def area_table(classes: ee.Image, region: ee.Geometry, scale: float) -> ee.FeatureCollection:
    """:func:`stratum_areas` as a table (one feature per class: ``class``, ``sum``), for a batch export."""
    groups = ee.List(stratum_areas(classes, region, scale).get("groups"))
    return ee.FeatureCollection(groups.map(lambda group: ee.Feature(None, group)))


def stratified_design(
    classes: ee.Image,
    region: ee.Geometry,
    class_values: list[int],
    class_points: list[int],
    scale: float,
    *,
    seed: int = 0,
    tile_scale: float = 1,
) -> ee.FeatureCollection:
    """A stratified random sample: ``class_points[i]`` points among the pixels of ``class_values[i]``,
    each a Point feature with the map class in property ``class``."""
    if len(class_values) != len(class_points):
        raise ValueError("class_values and class_points must have the same length")
    return (
        classes.select([0], [CLASS_BAND])
        .toInt()
        .stratifiedSample(
            numPoints=0,
            classBand=CLASS_BAND,
            region=region,
            scale=scale,
            projection=classes.projection(),  # the map's own grid
            seed=int(seed),
            classValues=[int(v) for v in class_values],
            classPoints=[int(n) for n in class_points],
            dropNulls=True,
            tileScale=tile_scale,
            geometries=True,
        )
    )


def map_classes_at(classes: ee.Image, points: list[dict], scale: float) -> ee.FeatureCollection:
    """The map class under each point (``{"point_id", "lon", "lat"}`` dicts, WGS84), as property ``class``."""
    features = [
        ee.Feature(ee.Geometry.Point([float(p["lon"]), float(p["lat"])]), {POINT_ID: str(p["point_id"])})
        for p in points
    ]
    return (
        classes.select([0], [CLASS_BAND])
        .toInt()
        .sampleRegions(collection=ee.FeatureCollection(features), properties=[POINT_ID], scale=scale, geometries=False)
    )


def region_pixels(client, map_ref: str, region: dict | None, scale: float) -> float:
    """Pixels of the assessed region at ``scale`` (metres): the region's geodesic area / scale², or, for
    the whole map, its asset grid (``bands[0].grid`` of the asset metadata, no computation) resampled."""
    if region is not None:
        return abs(_GEOD.geometry_area_perimeter(sg.shape(region))[0]) / scale**2
    info = client.get_asset(map_ref) or {}
    if info.get("type") == "IMAGE_COLLECTION":
        return math.inf  # a collection's metadata holds no grid: its tiles are assessed by the batch route
    bands = info.get("bands") or [{}]
    grid = bands[0].get("grid", {})
    dims, affine = grid.get("dimensions", {}), grid.get("affineTransform", {})
    native = abs(float(affine.get("scaleX", scale)) * float(affine.get("scaleY", scale)))
    return float(dims.get("width", 0)) * float(dims.get("height", 0)) * native / scale**2


def use_batch(pixels: float) -> bool:
    """True when a region of ``pixels`` is too large for an interactive request."""
    return pixels > MAX_INTERACTIVE_PIXELS


def exported_rows(client, collection: ee.FeatureCollection, name: str) -> list[dict]:
    """The features of ``collection`` through a batch table export to a temporary asset under the client's
    project (``Export.table.toAsset``), read back page by page and deleted."""
    project = getattr(client, "project", None)
    if not project:
        raise InputError("large assessments run as batch exports into your assets; pass --project MY-PROJECT")
    folder = f"projects/{project}/assets/{ASSESS_FOLDER}"
    client.ensure_folder(folder)
    asset_id = f"{folder}/{name}_{time.strftime('%Y%m%dT%H%M%S')}"
    task_id = client.start_export(
        {"collection": collection, "description": name, "destination": "asset", "asset_id": asset_id}
    )
    while True:
        status = client.task_status(task_id)
        if status["state"] == "COMPLETED":
            break
        if status["state"] in ("FAILED", "CANCELLED", "CANCEL_REQUESTED", "UNKNOWN"):
            raise EarthEngineError(
                f"the batch export {name} ({task_id}) ended {status['state']}: {status.get('error_message', '')}; "
                "rerun, or use a smaller --region"
            )
        getattr(client, "sleep", time.sleep)(POLL_S)
    try:
        return client.compute_features(ee.FeatureCollection(asset_id))
    finally:
        client.delete_asset(asset_id)


def stratum_areas_m2(client, image, geometry, scale: float, k: int, *, batch: bool = False) -> np.ndarray:
    """(k,) m² of each map class in ``geometry``, summed on the server (``batch``: by a table export);
    InputError when none is classified."""
    if batch:
        groups = [f["properties"] for f in exported_rows(client, area_table(image, geometry, scale), "areas")]
    else:
        groups = client.get_info(stratum_areas(image, geometry, scale)).get("groups", [])
    areas = np.zeros(k)
    for group in groups:
        index = int(group[AREA_GROUP])
        if 0 <= index < k:
            areas[index] = float(group["sum"])
    if areas.sum() <= 0:
        raise InputError(
            "the map has no classified pixel in the region; check the asset id, its class band and the region"
        )
    return areas


def design_points(features: list[dict], classes: tuple[str, ...]) -> list[dict]:
    """The rows of ``points.csv`` from the features of :func:`stratified_design` (WGS84; reference empty)."""
    points = []
    for i, feature in enumerate(features, start=1):
        lon, lat = feature["geometry"]["coordinates"]
        name = classes[int(feature["properties"][CLASS_BAND])]
        points.append(
            {
                "point_id": i,
                "x": lon,
                "y": lat,
                "lon": lon,
                "lat": lat,
                "stratum": name,
                "map_class": name,
                "reference": "",
            }
        )
    return points


def map_classes_at_points(client, image, points: list[dict], scale: float) -> np.ndarray:
    """The map class under each point, read on the server; NO_CLASS where the map is masked."""
    features = client.compute_features(map_classes_at(image, points, scale))
    by_id = {str(f["properties"][POINT_ID]): int(f["properties"][CLASS_BAND]) for f in features}
    return np.array([by_id.get(str(p["point_id"]), NO_CLASS) for p in points], dtype=np.int64)
