"""The Earth Engine route of the parcel table (``earthengine.parcels.parcel_reduction``) against the local
route, on a real map of the demo patch.

The map is the shipped default model's (tempcnn-weu) map of the patch with probabilities; its bands are
served as the on-server map image (``class``, ``confidence``, ``p_<class>``) to the offline grid evaluator
(``gee_crop.testing.ee_grid_eval.reduced_features``: ``reduceRegions`` with the centroid rule of unweighted
reducers). The parcels are the label raster's regions (``label_raster_parcels``), which include parcels the
half-pixel erosion empties (the fallback to the whole parcel)."""
from __future__ import annotations

import ee
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.classes import CLASSES
from gee_crop.data.demo import demo_patch
from gee_crop.earthengine.parcels import parcel_reduction, parcel_rows
from gee_crop.mapping.parcels import label_raster_parcels, map_parcels
from gee_crop.mapping.tiling import OutputGrid
from gee_crop.testing.ee_grid_eval import Raster, reduced_features


@pytest.fixture(scope="module")
def local(tmp_path_factory, patch_dir):
    """(map folder, parcels, the local route's rows) of the patch mapped with --probabilities."""
    out = tmp_path_factory.mktemp("ee_parcels") / "map"
    result = CliRunner().invoke(cli.main, ["map", "--source", str(patch_dir), "--out", str(out), "--probabilities",
                                           "--scheduler", "synchronous", "--quiet"])
    assert result.exit_code == 0, result.output
    patch = demo_patch()
    parcels = label_raster_parcels(patch.classes, patch.transform, patch.crs, CLASSES)
    with rasterio.open(out / "map.tif") as src:
        grid = OutputGrid(src.crs.to_string(), tuple(src.transform)[:6], src.width, src.height)
    _, rows = map_parcels(parcels, grid, out / "map.tif", out / "probabilities.tif")
    return out, parcels, rows


def _server_map(out):
    """The map's bands as assets of the on-server image, and that image."""
    with rasterio.open(out / "map.tif") as src:
        bands = {"class": src.read(1), "confidence": src.read(2)}
        crs, (x0, y0), px = src.crs.to_string(), (src.transform.c, src.transform.f), src.transform.a
    with rasterio.open(out / "probabilities.tif") as src:
        bands.update({f"p_{c}": src.read(k + 1) for k, c in enumerate(CLASSES)})
    images = {f"projects/test/assets/map_{name}": Raster(values, crs, x0, y0, px) for name, values in bands.items()}
    image = None
    for name in bands:
        band = ee.Image(f"projects/test/assets/map_{name}").rename(name)
        image = band if image is None else image.addBands(band)
    return image, images, crs


def test_reduce_regions_gives_the_local_parcel_table(local):
    out, parcels, rows = local
    image, images, crs = _server_map(out)
    collection = ee.FeatureCollection([
        ee.Feature(ee.Geometry(shapely.geometry.mapping(g), crs, False), {"parcel_id": i + 1})
        for i, g in enumerate(parcels.geometries)
    ])
    features = reduced_features(parcel_reduction(image, collection, scale=10.0, crs=crs), images)
    by_id = {f.properties["parcel_id"]: f.properties for f in features}
    assert sorted(by_id) == list(range(1, len(parcels) + 1))  # every parcel once, the emptied ones too
    server = parcel_rows([by_id[i + 1] for i in range(len(parcels))], CLASSES)
    keys = ["class", "class_by_probability", "share", "mean_confidence", "n_pixels", "no_interior"]
    assert [[r[k] for k in keys] for r in server] == [[r[k] for k in keys] for r in rows]
    assert sum(r["no_interior"] for r in rows) >= 1 and len({r["class"] for r in rows}) >= 3  # not vacuous


def test_a_weighted_reducer_is_refused_by_the_evaluator(local):
    """The evaluator implements the centroid rule only: a weighted histogram (pixels 0.5 % covered vote,
    with fractional weights) would not be the local route's count."""
    out, parcels, _ = local
    image, images, crs = _server_map(out)
    collection = ee.FeatureCollection([ee.Feature(ee.Geometry(shapely.geometry.mapping(parcels.geometries[0]), crs,
                                                              False), {"parcel_id": 1})])
    weighted = image.select("class").reduceRegions(collection=collection, reducer=ee.Reducer.frequencyHistogram(),
                                                   scale=10.0, crs=crs)
    with pytest.raises(NotImplementedError, match="weighted"):
        reduced_features(weighted, images)
