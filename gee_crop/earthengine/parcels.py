"""Per-parcel results of a map held on Earth Engine, without downloading its pixels: one ``reduceRegions``
over the parcels (and one more over the few that the erosion empties), the same counting rule as the
local route (:mod:`gee_crop.mapping.parcels`).

Counting: each parcel is eroded by half a pixel (``Feature.buffer`` with a negative distance, in the map's
projection), and the pixels whose centres lie in the eroded shape vote. That is the rule of unweighted
reducers: "pixels are included if their centroid is in the region and the image's mask is non-zero";
weighted ones (the default) also take pixels 0.5 % covered, with a fractional weight
(https://developers.google.com/earth-engine/guides/reducers_reduce_region#pixels-in-the-region), so
every reducer here is ``unweighted()``. A parcel left with no pixel centre (``no_interior``) is reduced
again over its whole shape. The class band is a ``frequencyHistogram`` ("a (weighted) frequency table of
its inputs", https://developers.google.com/earth-engine/apidocs/ee-reducer-frequencyhistogram); the
confidence and ``p_<class>`` bands are means. Unmapped pixels are read as class ``NO_CLASS`` and
confidence 0 (``unmask``, which keeps the map's footprint by default), so every band has the same mask and
the histogram counts every pixel centre of the map in the parcel; :func:`parcel_rows` leaves the unmapped
out of the vote and rescales the means to the mapped pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import ee
import numpy as np
import shapely

from gee_crop.classes import NO_CLASS

#: the erosion, in pixels: half a pixel and a thousandth, so that a pixel centre exactly half a pixel from
#: the edge (parcels drawn along pixel edges) is out, not left to the rounding of GEOS's buffer (a
#: millionth was not enough on the demo patch) and the rasterizer. Both routes use it.
ERODE_PIXELS = 0.5 + 1e-3
#: bands of an on-server map image (``class`` and ``confidence`` uint8, ``p_<class>`` uint8 percent)
CLASS_BAND, CONFIDENCE_BAND, PROBABILITY_BANDS = "class", "confidence", "p_.*"
#: properties the reduction adds to each parcel
HISTOGRAM, CENTRES, NO_INTERIOR, WHOLE = "class_histogram", "pixel_centres", "no_interior", "parcel_geometry"
#: the index each inline parcel carries (1..n in the file's order), the parcel table's ``feature`` column
FEATURE = "feature"
#: properties of a reduced parcel that are not the parcel's own fields
SERVER_PROPERTIES = (HISTOGRAM, CENTRES, NO_INTERIOR, CONFIDENCE_BAND)
#: the buffer's tolerance, in pixels ("The maximum amount of error tolerated when approximating the buffering
#: circle", https://developers.google.com/earth-engine/apidocs/ee-feature-buffer; default 1 % of the distance)
BUFFER_ERROR_PIXELS = 1e-4
#: "A scaling factor used to reduce aggregation tile size; using a larger tileScale (e.g., 2 or 4) may enable
#: computations that run out of memory with the default" (apidocs ee-image-reduceregions): a histogram and
#: a few means per parcel are small, so the default
TILE_SCALE = 1.0


def _reducer(means: ee.Image) -> ee.Reducer:
    """A histogram of the class band, the mean of each band of ``means``, the count of pixel centres: the
    inputs of ``combine`` without shared inputs are "those of reducer1 followed by those of reducer2"
    (https://developers.google.com/earth-engine/apidocs/ee-reducer-combine)."""
    histogram = ee.Reducer.frequencyHistogram().unweighted().setOutputs([HISTOGRAM])
    mean = ee.Reducer.mean().unweighted().forEachBand(means)
    return histogram.combine(mean, "", False).combine(ee.Reducer.count().setOutputs([CENTRES]), "", False)


def parcel_reduction(
    classified: ee.Image, parcels: ee.FeatureCollection, *, scale: float, crs: str
) -> ee.FeatureCollection:
    """``parcels`` with their votes: per parcel ``class_histogram`` (pixel centres per class value, as a
    dictionary keyed by the value's text; ``NO_CLASS`` = unmapped), the mean of ``confidence`` and of each
    ``p_<class>`` band, ``pixel_centres`` and ``no_interior`` (1: reduced over the whole parcel), on the grid
    of ``crs`` at ``scale`` metres. Parcels with an interior come first, then the others; each keeps its
    properties (and gains ``parcel_geometry``, its uneroded shape). :func:`parcel_rows` reads the result."""
    proj = ee.Projection(crs)
    classes = classified.select(CLASS_BAND).unmask(NO_CLASS)
    means = classified.select([CONFIDENCE_BAND, PROBABILITY_BANDS]).unmask(0)
    image = classes.addBands(means).addBands(classes.rename(CENTRES))
    reducer = _reducer(means)

    def reduce(features: ee.FeatureCollection) -> ee.FeatureCollection:
        return image.reduceRegions(collection=features, reducer=reducer, scale=scale, crs=crs, tileScale=TILE_SCALE)

    def erode(feature: ee.Feature) -> ee.Feature:
        whole = ee.Feature(feature).set(WHOLE, ee.Feature(feature).geometry())
        return ee.Feature(whole).buffer(-scale * ERODE_PIXELS, scale * BUFFER_ERROR_PIXELS, proj)

    def uneroded(feature: ee.Feature) -> ee.Feature:
        return ee.Feature(feature).setGeometry(ee.Feature(feature).get(WHOLE)).set(NO_INTERIOR, 1)

    eroded = reduce(parcels.map(erode))
    interior = eroded.filter(ee.Filter.gt(CENTRES, 0)).map(lambda f: ee.Feature(f).set(NO_INTERIOR, 0))
    return interior.merge(reduce(eroded.filter(ee.Filter.eq(CENTRES, 0)).map(uneroded)))


def parcel_rows(properties: list[dict], classes: tuple[str, ...]) -> list[dict]:
    """The local route's result columns (``class``, ``class_by_probability``, ``share``, ``mean_confidence``,
    ``n_pixels``, ``no_interior``) from the properties of :func:`parcel_reduction`'s features, in their
    order. Ties go to the class listed first, as locally; a parcel without a mapped pixel has None classes."""
    rows = []
    for props in properties:
        histogram = {int(float(k)): float(v) for k, v in (props.get(HISTOGRAM) or {}).items()}
        counts = np.array([histogram.get(k, 0.0) for k in range(len(classes))])
        centres = sum(histogram.values())
        n = round(float(counts.sum()))
        probabilities = np.array([float(props.get(f"p_{c}") or 0.0) for c in classes])
        # unmapped centres carry confidence 0: the mean over all centres, rescaled to the mapped ones
        confidence = float(props.get(CONFIDENCE_BAND) or 0.0) * centres / n if n else None
        rows.append(
            {
                "class": classes[int(counts.argmax())] if n else None,
                "class_by_probability": classes[int(probabilities.argmax())] if n else None,
                "share": round(float(counts.max() / n), 4) if n else None,
                "mean_confidence": None if confidence is None else round(confidence, 2),
                "n_pixels": n,
                "no_interior": bool(props.get(NO_INTERIOR)),
            }
        )
    return rows


def is_server_property(name: str) -> bool:
    """True for a property :func:`parcel_reduction` adds (not one of the parcel's own fields)."""
    return name in SERVER_PROPERTIES or name.startswith("p_")


def inline_parcels(geoms: Sequence[shapely.Geometry] | np.ndarray, crs: str) -> ee.FeatureCollection:
    """Parcels that travel inside the request: planar (multi)polygons in ``crs`` (the map's; ``geodesic``
    False, so an edge is the straight line of the map's plane, as the local route rasterizes it), each with
    its :data:`FEATURE` index (1..n) only: the file's fields stay on the client."""
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry(shapely.geometry.mapping(g), crs, False), {FEATURE: i + 1})
            for i, g in enumerate(geoms)
        ]
    )


def exported_parcels(reduction: ee.FeatureCollection) -> ee.FeatureCollection:
    """:func:`parcel_reduction`'s features as a table to export: each back on its whole (uneroded) parcel,
    without the geometry-valued ``parcel_geometry`` property (a table keeps one geometry per feature)."""

    def whole(feature: ee.Feature) -> ee.Feature:
        shape = ee.Geometry(ee.Feature(feature).get(WHOLE))
        return ee.Feature(ee.Feature(shape).copyProperties(feature, None, [WHOLE]))

    return reduction.map(whole)
