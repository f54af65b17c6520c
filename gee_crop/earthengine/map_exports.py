"""Batch exports of a classified map: one ``Export.image`` task per export tile, its names and its config.

A map on the server leaves Earth Engine as the bands ``class`` and ``confidence`` (uint8, 2 bytes per
pixel) instead of the 430 B/px of the sqrt8 composite the local route fetches. Each export tile is one
batch task, sized under the service's documented limits:

* ``maxPixels``: "The default value is 1e8 pixels"
  (https://developers.google.com/earth-engine/reference/rest/v1/projects.image/export): a tile holds at
  most :data:`MAX_TASK_PIXELS` pixels and its config states its own ``maxPixels``;
* the request body: at most 10,485,760 bytes ("Request payload size exceeds the limit",
  ``client.REQUEST_PAYLOAD_LIMIT``): the composite is built over the tile's own part of the region;
* a task's life: "each task having a maximum lifetime of ten days"
  (https://developers.google.com/earth-engine/guides/processing_environments): a tile of 1e8 px is a
  fraction of a 10,000 km² map (10^8 px at 10 m);
* the grid is given whole (``crs``, ``crsTransform``, ``dimensions``): without them ``scale`` "Defaults to
  1000" m (https://developers.google.com/earth-engine/apidocs/export-image-toasset).

Building a config sends nothing; :meth:`gee_crop.earthengine.client.EarthEngineClient.start_export` starts it.
"""

from __future__ import annotations

import ee

from gee_crop.config import ExportDestination
from gee_crop.earthengine.sampling import DESCRIPTION_MAX, safe_stem

#: The service's default ``maxPixels`` of an image export (projects.image/export, above).
DEFAULT_MAX_PIXELS = 100_000_000
#: Export tile side (px): 8,192^2 = 6.7e7 px, under DEFAULT_MAX_PIXELS; 671 km² at 10 m.
EXPORT_TILE_SIZE = 8192
MAX_TASK_PIXELS = DEFAULT_MAX_PIXELS
#: A batch task's maximum lifetime (processing_environments, above).
TASK_LIFETIME_DAYS = 10
#: The map's bands on the server and how their pyramids are built (``pyramidingPolicy``: "mean, sample,
#: min, max, or mode", export-image-toasset): a class index is never averaged.
MAP_BANDS = ("class", "confidence")
PYRAMIDING = {"class": "mode", "confidence": "mean"}
MAPS_FOLDER = "gee-crop/maps"
#: Bytes per exported pixel: class and confidence, one uint8 each.
BYTES_PER_PIXEL = len(MAP_BANDS)


def map_collection(project: str, name: str, year: int) -> str:
    """The map's asset: an image collection holding one image per export tile
    (``projects/<p>/assets/gee-crop/maps/<name>_<year>``), what ``gee-crop assess --map`` takes."""
    return f"projects/{project}/assets/{MAPS_FOLDER}/{safe_stem(name, 60)}_{year}"


def map_export_names(name: str, year: int, tile: str, project: str | None) -> tuple[str, str | None]:
    """(task description = file prefix, image asset id or None) of export tile ``tile`` (``r<row>_c<col>``)
    of the map ``name``; both made safe for the service (``sampling.safe_stem``)."""
    fixed = f"gee-crop-map__{year}_{tile}"
    description = f"gee-crop-map_{safe_stem(name, DESCRIPTION_MAX - len(fixed))}_{year}_{tile}"
    asset = f"{map_collection(project, name, year)}/{tile}" if project else None
    return description, asset


def image_export_config(
    image: ee.Image,
    description: str,
    *,
    crs: str,
    crs_transform: tuple[float, float, float, float, float, float],
    dimensions: tuple[int, int],
    destination: str = ExportDestination.ASSET,
    asset_id: str | None = None,
    bucket: str | None = None,
    folder: str | None = None,
    overwrite: bool = False,
) -> dict:
    """An image-export config for :meth:`EarthEngineClient.start_export`: ``image`` on the grid ``crs`` /
    ``crs_transform`` (GDAL order: scale x, 0, x0, 0, -scale y, y0) of ``dimensions`` (width, height) px,
    ``maxPixels`` the tile's own pixels. An image asset (``asset_id``, ``overwrite``), or a cloud-optimized
    GeoTIFF on Cloud Storage (``bucket``) or Drive (``folder``); ``description`` doubles as the file prefix."""
    width, height = dimensions
    config: dict = {
        "kind": "image",
        "image": image,
        "description": description,
        "destination": str(destination),
        "crs": crs,
        "crs_transform": [float(v) for v in crs_transform],
        "dimensions": f"{int(width)}x{int(height)}",
        "max_pixels": int(width) * int(height),
    }
    if destination == ExportDestination.ASSET:
        config.update(asset_id=asset_id, overwrite=bool(overwrite), pyramiding_policy=dict(PYRAMIDING))
    elif destination == ExportDestination.GCS:
        config.update(bucket=bucket, file_prefix=f"{folder or 'gee-crop'}/{description}", file_format="GeoTIFF")
    else:
        config.update(folder=folder or "gee-crop", file_prefix=description, file_format="GeoTIFF")
    return config
