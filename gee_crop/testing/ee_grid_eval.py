"""Evaluates the label side of a sampling graph on pixel grids, with Earth Engine's projection rule
(test helper, not a server stand-in).

Earth Engine computes each operation in the projection its output is requested in, and ``reproject``
pins only what is upstream of it: "inputs are requested in the output projection"
(https://developers.google.com/earth-engine/guides/projections). This evaluator follows that rule:
every node is evaluated on the :class:`Grid` its consumer requests; ``Image.reproject`` evaluates
its input on its own grid and resamples (nearest neighbour) to the requested one; ``focalMin`` /
``focalMax`` with ``units="meters"`` turn the radius into pixels of the grid they are computed on
(its nominal scale); ``stratifiedSample`` samples on its ``projection`` at ``scale``, or, without
one, on the projection of the image's first band
(https://developers.google.com/earth-engine/apidocs/ee-image-stratifiedsample). EPSG:4326 pixels of a
nominal scale ``s`` metres are ``s / 111319.49`` degrees on both axes (the equator's metres per degree).

It covers the functions of :func:`gee_crop.earthengine.sampling.sample_points` and of
:func:`gee_crop.earthengine.parcels.parcel_reduction` (``reduceRegions`` over a feature collection, see
:func:`reduced_features`) over images loaded with ``ee.Image(asset)``: loads are served from ``images``
(asset id -> :class:`Raster`), the clear count (``reduce.count`` of a collection) is ``clear_count``
everywhere. Values are float64 arrays, masks bool arrays; an image is a list of (name, values, mask).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ee
import numpy as np
import shapely
from pyproj import CRS, Transformer
from scipy import ndimage
from shapely import contains_xy
from shapely import geometry as sg

from gee_crop.data.regions import reproject_geometry
from gee_crop.earthengine.graph import resolved, walk_calls
from gee_crop.testing.ee_array_eval import ARRAY_FUNCTIONS, constant_bands, same_shape
from gee_crop.testing.ee_pixel_eval import band_pairs

METRES_PER_DEGREE = 111319.49079327357  # Earth Engine's nominal scale of one degree (the equator)

Band = tuple[str, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: ``crs``, upper-left corner (``x0``, ``y0``), pixel size ``px`` (crs units)."""

    crs: str
    x0: float
    y0: float
    px: float
    width: int
    height: int

    @property
    def nominal_scale_m(self) -> float:
        """Metres per pixel (EPSG:4326: degrees x :data:`METRES_PER_DEGREE`)."""
        return self.px * METRES_PER_DEGREE if CRS(self.crs).is_geographic else self.px

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(h, w) x and y of the pixel centres, in ``crs``."""
        xs = self.x0 + (np.arange(self.width) + 0.5) * self.px
        ys = self.y0 - (np.arange(self.height) + 0.5) * self.px
        return np.meshgrid(xs, ys)

    def padded(self, n: int) -> Grid:
        return Grid(
            self.crs, self.x0 - n * self.px, self.y0 + n * self.px, self.px, self.width + 2 * n, self.height + 2 * n
        )

    @staticmethod
    def covering(crs: str, scale_m: float, xs: np.ndarray, ys: np.ndarray) -> Grid:
        """The grid of ``crs`` at nominal ``scale_m`` (origin 0, as Earth Engine's projections) covering
        the points ``xs``, ``ys`` (in ``crs``) with one pixel to spare."""
        px = scale_m / METRES_PER_DEGREE if CRS(crs).is_geographic else float(scale_m)
        col0, col1 = math.floor(np.min(xs) / px) - 1, math.ceil(np.max(xs) / px) + 1
        row0, row1 = math.floor(np.min(ys) / px) - 1, math.ceil(np.max(ys) / px) + 1
        return Grid(crs, col0 * px, row1 * px, px, col1 - col0, row1 - row0)


@dataclass(frozen=True)
class Raster:
    """An asset's pixels: (h, w) ``values`` on a north-up grid; ``nodata`` pixels are masked. Outside
    the grid: masked, or with ``extend`` the nearest pixel's value (a window cut from a larger map).
    With ``band_names``, ``values`` is (bands, h, w), one band each (a multi-band image asset)."""

    values: np.ndarray
    crs: str
    x0: float
    y0: float
    px: float
    nodata: float | None = None
    extend: bool = False
    band_names: tuple[str, ...] | None = None


def _transform(src: str, dst: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if src == dst:
        return x, y
    return Transformer.from_crs(src, dst, always_xy=True).transform(x, y)


@dataclass
class SampledPoint:
    """One ``stratifiedSample`` point: its grid's crs, pixel centre (x, y) and lon/lat, band values."""

    crs: str
    x: float
    y: float
    lon: float
    lat: float
    values: dict[str, float]


class GridEvaluator:
    """See the module docstring. ``images``: asset id -> :class:`Raster`; ``clear_count``: the value
    served for ``reduce.count`` of an image collection."""

    def __init__(
        self,
        images: dict[str, Raster],
        clear_count: float = 1.0,
        served: Callable[[dict, Grid], list[Band] | None] | None = None,
    ) -> None:
        """``served(node, grid)``: the bands of a sub-graph the caller answers itself (the strict double's
        patch composite), or None to evaluate ``node`` here."""
        self.images = images
        self.clear_count = clear_count
        self.served = served
        self._memo: dict[tuple[int, Grid], list[Band]] = {}

    # ------------------------------------------------------------ projections

    def default_crs(self, node: Any) -> str:
        """The CRS of an image's first band (Earth Engine's default projection of the image)."""
        if not isinstance(node, dict):
            return "EPSG:4326"
        fn, args = node["function"], node["arguments"]
        if fn == "Image.reproject":
            return _crs_of(args["crs"])
        if fn == "Image.load":
            return self.images[args["id"]].crs
        if fn in ("Image.pixelLonLat", "Image.constant"):
            return "EPSG:4326"
        for key in ("dstImg", "image", "image1", "input", "value"):
            if isinstance(args.get(key), dict):
                return self.default_crs(args[key])
        return "EPSG:4326"

    # ------------------------------------------------------------ images

    def image(self, node: Any, grid: Grid) -> list[Band]:
        """(name, values, mask) per band of ``node`` computed on ``grid``."""
        if isinstance(node, (int, float)):
            return [
                ("constant", np.full((grid.height, grid.width), float(node)), np.ones((grid.height, grid.width), bool))
            ]
        key = (id(node), grid)
        if key not in self._memo:
            self._memo[key] = self._evaluate(node, grid)
        return self._memo[key]

    def _evaluate(self, node: dict, grid: Grid) -> list[Band]:
        fn, args = node["function"], node["arguments"]
        shape = (grid.height, grid.width)
        answered = self.served(node, grid) if self.served is not None else None
        if answered is not None:
            return answered
        if fn == "Image.constant":
            return constant_bands(args["value"], shape)
        if fn == "Image.load":
            raster = self.images[args["id"]]
            values, mask = self._load(raster, grid)
            if raster.band_names is None:
                return [("b1", values, mask)]
            # a multi-band asset's nodata masks each band where that band holds it
            band_masks = mask if mask.ndim == values.ndim else np.broadcast_to(mask, values.shape)
            return [(name, v, m) for name, v, m in zip(raster.band_names, values, band_masks)]
        if fn == "Image.pixelLonLat":
            lon, lat = _transform(grid.crs, "EPSG:4326", *grid.centres())
            ones = np.ones(shape, bool)
            return [("longitude", np.asarray(lon), ones), ("latitude", np.asarray(lat), ones)]
        if fn == "Image.rename":
            return [(n, v, m) for n, (_, v, m) in zip(args["names"], self.image(args["input"], grid))]
        if fn == "Image.select":
            # "bandSelectors: A list of names, regexes or numeric indices specifying the bands to select"
            # (https://developers.google.com/earth-engine/apidocs/ee-image-select); a regex must match whole
            bands = self.image(args["input"], grid)
            chosen = [b for sel in args["bandSelectors"] for b in bands if re.fullmatch(str(sel), b[0])]
            if not chosen:
                raise ValueError(f"Image.select: no band matches {args['bandSelectors']}")
            return chosen
        if fn == "Image.addBands":
            return self.image(args["dstImg"], grid) + self.image(args["srcImg"], grid)
        if fn == "Image.updateMask":
            masks = self.image(args["mask"], grid)
            return [
                (n, v, m & mm & (mv != 0))
                for (n, v, m), (_, mv, mm) in band_pairs(self.image(args["image"], grid), masks)
            ]
        if fn == "Image.mask":
            return [(n, m.astype(float), np.ones(shape, bool)) for n, _, m in self.image(args["image"], grid)]
        if fn == "Image.unmask":
            fill = self.image(args.get("value", 0), grid)
            return [
                (n, np.where(m, v, fv), m | fm)
                for (n, v, m), (_, fv, fm) in band_pairs(self.image(args["input"], grid), fill)
            ]
        if fn in _BINARY:
            op = _BINARY[fn]
            return [
                (n1, op(*same_shape(v1, v2)), m1 & m2)
                for (n1, v1, m1), (_, v2, m2) in band_pairs(
                    self.image(args["image1"], grid), self.image(args["image2"], grid)
                )
            ]
        if fn in _UNARY:
            return [(n, _UNARY[fn](v), m) for n, v, m in self.image(args["value"], grid)]
        if fn in ARRAY_FUNCTIONS:
            return ARRAY_FUNCTIONS[fn](lambda node: self.image(node, grid), args)
        if fn == "Image.reproject":
            return self._reproject(args, grid)
        if fn in ("Image.focalMin", "Image.focalMax"):
            return self._focal(fn, args, grid)
        if fn == "reduce.count":
            return [("count", np.full(shape, float(self.clear_count)), np.ones(shape, bool))]
        raise NotImplementedError(f"{fn} is not supported by the grid evaluator")

    def _load(self, raster: Raster, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        x, y = _transform(grid.crs, raster.crs, *grid.centres())
        col = np.floor((np.asarray(x) - raster.x0) / raster.px).astype(np.int64)
        row = np.floor((raster.y0 - np.asarray(y)) / raster.px).astype(np.int64)
        h, w = raster.values.shape[-2:]
        inside = np.ones(row.shape, bool) if raster.extend else (row >= 0) & (row < h) & (col >= 0) & (col < w)
        values = raster.values[..., np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)].astype(np.float64)
        mask = inside if raster.nodata is None else inside & (values != raster.nodata)
        return values, mask

    def _reproject(self, args: dict, grid: Grid) -> list[Band]:
        """The input computed on the reproject's own grid, then read at ``grid``'s pixel centres."""
        crs = _crs_of(args["crs"])
        x, y = _transform(grid.crs, crs, *grid.centres())
        own = Grid.covering(crs, float(args["scale"]), np.asarray(x), np.asarray(y))
        col = np.floor((np.asarray(x) - own.x0) / own.px).astype(np.int64)
        row = np.floor((own.y0 - np.asarray(y)) / own.px).astype(np.int64)
        return [(n, v[row, col], m[row, col]) for n, v, m in self.image(args["image"], own)]

    def _focal(self, fn: str, args: dict, grid: Grid) -> list[Band]:
        """min / max over a circle whose radius (metres) is counted in pixels of ``grid`` itself."""
        assert args.get("units", "pixels") == "meters" and args.get("kernelType", "circle") == "circle", args
        radius_px = float(args["radius"]) / grid.nominal_scale_m
        r = math.floor(radius_px + 1e-9)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        disk = (yy**2 + xx**2) <= radius_px**2 + 1e-9
        pad = grid.padded(r)
        out = []
        for name, values, mask in self.image(args["image"], pad):
            if fn == "Image.focalMin":
                filled = np.where(mask, values, np.inf)
                result = ndimage.minimum_filter(filled, footprint=disk, mode="constant", cval=np.inf)
            else:
                filled = np.where(mask, values, -np.inf)
                result = ndimage.maximum_filter(filled, footprint=disk, mode="constant", cval=-np.inf)
            crop = (slice(r, r + grid.height), slice(r, r + grid.width))
            out.append((name, result[crop], np.isfinite(result[crop])))
        return out

    # ------------------------------------------------------------ sampling

    def stratified_sample(self, call: dict) -> list[SampledPoint]:
        """The points an ``Image.stratifiedSample`` call returns: the pixels of its sampling grid whose
        centre lies in ``region`` and whose bands are all valid, ``numPoints`` at random per class."""
        args = call["arguments"]
        region = region_of(args["region"])
        crs = _crs_of(args["projection"]) if args.get("projection") else self.default_crs(args["image"])
        west, south, east, north = region.bounds
        lon = np.array([west, east, west, east, (west + east) / 2, (west + east) / 2])
        lat = np.array([south, south, north, north, south, north])
        x, y = _transform("EPSG:4326", crs, lon, lat)
        grid = Grid.covering(crs, float(args["scale"]), np.asarray(x), np.asarray(y))
        bands = self.image(args["image"], grid)
        cx, cy = grid.centres()
        clon, clat = (np.asarray(a) for a in _transform(crs, "EPSG:4326", cx, cy))
        valid = contains_xy(region, clon, clat)
        for _, _, mask in bands:
            valid &= mask
        by_name = {n: v for n, v, _ in bands}
        classes = by_name[args.get("classBand") or bands[0][0]]
        rows, cols = np.nonzero(valid)
        order = np.random.default_rng(int(args.get("seed", 0))).permutation(len(rows))
        chosen: list[int] = []
        for value in np.unique(classes[rows, cols]):
            chosen.extend(order[classes[rows[order], cols[order]] == value][: int(args["numPoints"])].tolist())
        return [
            SampledPoint(
                crs,
                float(cx[rows[k], cols[k]]),
                float(cy[rows[k], cols[k]]),
                float(clon[rows[k], cols[k]]),
                float(clat[rows[k], cols[k]]),
                {n: float(v[rows[k], cols[k]]) for n, v in by_name.items()},
            )
            for k in sorted(chosen)
        ]


@dataclass(frozen=True)
class EvalFeature:
    """A feature of an evaluated collection: its ``geometry`` (shapely, in ``crs``) and ``properties``."""

    geometry: Any
    crs: str
    properties: dict


#: Reducers the evaluator implements, by the number of inputs each takes
_REDUCERS = ("Reducer.frequencyHistogram", "Reducer.mean", "Reducer.count")
PIXELS_IN_REGION = "https://developers.google.com/earth-engine/guides/reducers_reduce_region#pixels-in-the-region"


class CollectionEvaluator(GridEvaluator):
    """Feature collections built on the client (``ee.FeatureCollection([ee.Feature(polygon in a projected
    crs, properties)])``) and what ``map`` / ``filter`` / ``merge`` / ``Feature.buffer`` / ``Image.reduceRegions``
    make of them. ``reduceRegions`` follows the rule of unweighted reducers: "pixels are included if their
    centroid is in the region and the image's mask is non-zero" (:data:`PIXELS_IN_REGION`); a weighted reducer
    (also pixels 0.5 % covered, with fractional weights) is refused, as is a reducer whose number of inputs is
    not the image's band count ("The reducer must have the same number of inputs as the input image has
    bands", https://developers.google.com/earth-engine/apidocs/ee-image-reduceregions)."""

    def collection(self, node: Any, bound: EvalFeature | None = None) -> list[EvalFeature]:
        fn, args = node["function"], node["arguments"]
        if fn == "Collection":
            return [self.value(f, bound) for f in args["features"]]
        if fn == "Collection.map":
            return [self.value(args["baseAlgorithm"]["body"], f) for f in self.collection(args["collection"], bound)]
        if fn == "Collection.filter":
            return [f for f in self.collection(args["collection"], bound) if _passes(args["filter"], f)]
        if fn == "Collection.merge":
            return self.collection(args["collection1"], bound) + self.collection(args["collection2"], bound)
        if fn == "Image.reduceRegions":
            return self._reduce_regions(args, self.collection(args["collection"], bound))
        raise NotImplementedError(f"{fn} is not supported by the collection evaluator")

    def value(self, node: Any, bound: EvalFeature | None = None) -> Any:
        """A feature, geometry (``(shapely, crs)``) or constant; ``bound``: the feature a mapped function gets."""
        if isinstance(node, dict) and "argument" in node:
            return bound
        if not (isinstance(node, dict) and "function" in node):
            return node
        fn, args = node["function"], node["arguments"]
        if fn == "Feature":
            geom, crs = self.value(args["geometry"], bound)
            return EvalFeature(geom, crs, dict(args.get("metadata") or {}))
        if fn in ("GeometryConstructors.Polygon", "GeometryConstructors.MultiPolygon"):
            crs = _crs_of(args.get("crs") or "EPSG:4326")
            shape = sg.shape({"type": fn.split(".")[1], "coordinates": args["coordinates"]})
            if CRS(crs).is_geographic and args.get("geodesic", True) and _longest_edge(shape) > MAX_PLANAR_EDGE_DEG:
                raise NotImplementedError("geodesic polygons with long edges are not evaluated; give planar ones")
            return shape, crs
        if fn == "Element.copyProperties":
            return self._copy_properties(args, bound)
        feature = self.value(args.get("object", args.get("feature")), bound)
        if fn == "Element.set":
            return EvalFeature(
                feature.geometry, feature.crs, {**feature.properties, args["key"]: self.value(args["value"], bound)}
            )
        if fn == "Feature.geometry":
            return feature.geometry, feature.crs
        if fn in ("Element.get", "Feature.get"):
            return feature.properties[args["property"]]
        if fn == "Feature.setGeometry":
            geom, crs = self.value(args["geometry"], bound)
            return EvalFeature(geom, crs, feature.properties)
        if fn == "Feature.buffer":
            # "If no projection is specified, the unit is meters. Otherwise the unit is in the coordinate system of
            # the projection" (https://developers.google.com/earth-engine/apidocs/ee-feature-buffer)
            if not args.get("proj"):
                raise NotImplementedError("Feature.buffer without proj (geodesic metres) is not evaluated")
            crs = _crs_of(args["proj"])
            geom = reproject_geometry(feature.geometry, feature.crs, crs)
            return EvalFeature(shapely.buffer(geom, float(args["distance"])), crs, feature.properties)
        raise NotImplementedError(f"{fn} is not supported by the collection evaluator")

    def _copy_properties(self, args: dict, bound: EvalFeature | None) -> EvalFeature:
        """``copyProperties``: "Copies metadata properties from one element to another", the source's but
        those in ``exclude`` over the destination's
        (https://developers.google.com/earth-engine/apidocs/ee-element-copyproperties)."""
        assert args.get("properties") is None, "copyProperties with a property list is not evaluated"
        destination, source = self.value(args["destination"], bound), self.value(args["source"], bound)
        copied = {k: v for k, v in source.properties.items() if k not in (args.get("exclude") or [])}
        return EvalFeature(destination.geometry, destination.crs, {**destination.properties, **copied})

    def _evaluate(self, node: dict, grid: Grid) -> list[Band]:
        if node["function"] == "Image.paint":
            return self._paint(node["arguments"], grid)
        return super()._evaluate(node, grid)

    def _paint(self, args: dict, grid: Grid) -> list[Band]:
        """``Image.paint`` of polygons, filled (no ``width``): each feature in turn sets the pixels whose centre
        it holds to its ``color`` property (or the constant ``color``) in every band, later features over
        earlier ones (https://developers.google.com/earth-engine/apidocs/ee-image-paint). The page does not say
        which pixels a polygon paints; the centre rule is the one Earth Engine states for regions
        (:data:`PIXELS_IN_REGION`), and the one the local route rasterizes with (rasterio's default)."""
        if args.get("width") is not None:
            raise NotImplementedError("Image.paint with a width (outlines) is not evaluated")
        bands = [(n, v.copy(), m.copy()) for n, v, m in self.image(args["image"], grid)]
        color = args.get("color", 0)
        cx, cy = grid.centres()
        for feature in self.collection(args["featureCollection"]):
            if feature.geometry.geom_type not in ("Polygon", "MultiPolygon"):
                raise NotImplementedError(f"Image.paint of a {feature.geometry.geom_type} is not evaluated")
            x, y = _transform(grid.crs, feature.crs, cx, cy)
            inside = contains_xy(feature.geometry, np.asarray(x), np.asarray(y))
            value = float(feature.properties[color]) if isinstance(color, str) else float(color)
            for _, values, mask in bands:
                values[inside] = value
                mask[inside] = True
        return bands

    def _inputs(self, node: dict, grid: Grid, unweighted: bool = False) -> list[tuple[str, str]]:
        """(kind, output name) per input of a reducer."""
        fn, args = node["function"], node["arguments"]
        if fn == "Reducer.unweighted":
            return self._inputs(args["reducer"], grid, True)
        if fn == "Reducer.setOutputs":
            inner = self._inputs(args["reducer"], grid, unweighted)
            assert len(inner) == len(args["outputs"]), args
            return [(kind, name) for (kind, _), name in zip(inner, args["outputs"])]
        if fn == "Reducer.combine":
            assert args.get("sharedInputs") is False, "shared inputs are not evaluated"
            prefix = args.get("outputPrefix") or ""
            first = self._inputs(args["reducer1"], grid, unweighted)
            return first + [(k, prefix + n) for k, n in self._inputs(args["reducer2"], grid, unweighted)]
        if fn == "Reducer.forEachBand":
            ((kind, _),) = self._inputs(args["reducer"], grid, unweighted)
            return [(kind, name) for name, _, _ in self.image(args["image"], grid)]
        if fn in _REDUCERS:
            if fn != "Reducer.count" and not unweighted:
                raise NotImplementedError(
                    f"{fn} is weighted: it also takes pixels 0.5 % covered, with fractional weights "
                    f"({PIXELS_IN_REGION}); call .unweighted() for the centroid rule"
                )
            kind = {"frequencyHistogram": "histogram"}.get(fn.split(".")[1], fn.split(".")[1])
            return [(kind, kind)]  # the output name is the kind ("histogram", "mean", "count")
        raise NotImplementedError(f"{fn} is not supported by the collection evaluator")

    def _reduce_regions(self, args: dict, features: list[EvalFeature]) -> list[EvalFeature]:
        crs = _crs_of(args["crs"])
        shapes = [reproject_geometry(f.geometry, f.crs, crs) for f in features]
        bounds = np.array([s.bounds for s in shapes if not s.is_empty] or [(0.0, 0.0, 1.0, 1.0)])
        xs, ys = bounds[:, [0, 2]].ravel(), bounds[:, [1, 3]].ravel()
        grid = Grid.covering(crs, float(args["scale"]), xs, ys)
        bands = self.image(args["image"], grid)
        inputs = self._inputs(args["reducer"], grid)
        if len(inputs) != len(bands):
            raise ValueError(f"reduceRegions: the reducer has {len(inputs)} inputs, the image {len(bands)} bands")
        cx, cy = grid.centres()
        out = []
        for feature, shape in zip(features, shapes):
            inside = contains_xy(shape, cx, cy)
            results: dict[str, Any] = {}
            for (kind, name), (_, values, mask) in zip(inputs, bands):
                v = values[inside & mask]
                if kind == "histogram":
                    keys, counts = np.unique(v, return_counts=True)
                    results[name] = {_key(k): int(c) for k, c in zip(keys, counts)}
                elif kind == "mean":
                    results[name] = float(v.mean()) if v.size else None
                else:
                    results[name] = int(v.size)
            out.append(EvalFeature(feature.geometry, feature.crs, {**feature.properties, **results}))
        return out


#: Longest edge (degrees) of a geodesic lon/lat polygon evaluated as planar: a geodesic bows away from the
#: straight lon/lat chord by about R (d^2 / 8) sin(lat) cos(lat) for an edge of d radians, under 0.02 m at
#: 0.01 degree (1.1 km), a 500th of a 10 m pixel, so pixel-centre tests are unchanged.
MAX_PLANAR_EDGE_DEG = 0.01


def _longest_edge(shape: Any) -> float:
    """The longest edge (in the shape's units) of a Polygon / MultiPolygon's rings."""
    rings = [r for p in shapely.get_parts(shape) for r in [p.exterior, *p.interiors]]
    xy = [np.asarray(r.coords) for r in rings]
    return max((float(np.hypot(*np.diff(c, axis=0).T).max()) for c in xy if len(c) > 1), default=0.0)


def reduced_features(
    collection: ee.ComputedObject,
    images: dict[str, Raster],
    served: Callable[[dict, Grid], list[Band] | None] | None = None,
) -> list[EvalFeature]:
    """The features of a collection built with ``reduceRegions`` (see :class:`CollectionEvaluator`), computed;
    ``served``: as :class:`GridEvaluator`'s (the strict double's patch composite)."""
    return CollectionEvaluator(images, served=served).collection(resolved(collection))


def _key(value: float) -> str:
    """A histogram key as Earth Engine writes it: the value's text (integers without a decimal part)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _passes(node: dict, feature: EvalFeature) -> bool:
    fn, args = node["function"], node["arguments"]
    value = feature.properties.get(args["leftField"])
    if fn == "Filter.equals":
        return bool(value == args["rightValue"])
    if fn == "Filter.greaterThan":
        return value is not None and bool(value > args["rightValue"])
    raise NotImplementedError(f"{fn} is not supported by the collection evaluator")


def sampled_points(rows: ee.ComputedObject, images: dict[str, Raster], clear_count: float = 1.0) -> list[SampledPoint]:
    """The points of the (first) ``stratifiedSample`` in the graph of ``rows``, computed."""
    calls = [c for c in walk_calls(resolved(rows)) if c["function"] == "Image.stratifiedSample"]
    assert calls, "the graph has no Image.stratifiedSample"
    return GridEvaluator(images, clear_count).stratified_sample(calls[0])


def pixel_read(lon: float, lat: float, crs: str, scale_m: float, stack: Any) -> tuple[int, int] | None:
    """(row, col) of the ``stack`` pixel (a :class:`gee_crop.types.RawStack` grid) that sampling the
    point (lon, lat) reads on the grid of ``crs`` at ``scale_m``: the point snaps to the centre of its
    pixel of that grid (``sampleRegions``: "geometries will be snapped to pixel centers",
    https://developers.google.com/earth-engine/apidocs/ee-image-sampleregions), which is read from the
    stack pixel under it (nearest neighbour). None off the stack."""
    px = scale_m / METRES_PER_DEGREE if CRS(crs).is_geographic else float(scale_m)
    x, y = _transform("EPSG:4326", crs, np.array([lon]), np.array([lat]))
    cx, cy = (np.floor(np.asarray(x) / px) + 0.5) * px, (np.floor(np.asarray(y) / px) + 0.5) * px
    sx, sy = _transform(crs, stack.crs, cx, cy)
    (x0, y0), res = stack.upper_left, stack.resolution
    col, row = int(np.floor((sx[0] - x0) / res)), int(np.floor((y0 - sy[0]) / res))
    if 0 <= row < len(stack.y) and 0 <= col < len(stack.x):
        return row, col
    return None


def _crs_of(projection: Any) -> str:
    if isinstance(projection, str):
        return projection
    assert projection["function"] == "Projection", projection
    return projection["arguments"]["crs"]


def region_of(node: dict) -> Any:
    """The shapely (Multi)Polygon of a geometry constructor graph (Polygon, MultiPolygon, Rectangle)."""
    shapes = []
    for call in walk_calls(node):
        coords = call["arguments"].get("coordinates")
        if call["function"] == "GeometryConstructors.Polygon":
            shapes.append(sg.Polygon(coords[0], coords[1:]))
        elif call["function"] == "GeometryConstructors.MultiPolygon":
            shapes.extend(sg.Polygon(p[0], p[1:]) for p in coords)
        elif call["function"] == "GeometryConstructors.Rectangle":
            shapes.append(sg.box(*np.ravel(coords)))
    assert shapes, "the region is not a polygon or rectangle"
    return sg.MultiPolygon(shapes) if len(shapes) > 1 else shapes[0]


#: pixel-wise binary operators: on array pixels element by element, both arrays of one shape ("Arrays
#: and Array Images", https://developers.google.com/earth-engine/guides/arrays_array_images;
#: ee.Array.add: "On an element-wise basis, adds the first value to the second",
#: https://developers.google.com/earth-engine/apidocs/ee-array-add).
_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Image.add": np.add,
    "Image.max": np.maximum,  # https://developers.google.com/earth-engine/apidocs/ee-image-max
    "Image.subtract": np.subtract,
    "Image.multiply": np.multiply,
    "Image.divide": np.divide,
    "Image.eq": lambda x, y: (x == y).astype(float),
    "Image.neq": lambda x, y: (x != y).astype(float),
    "Image.gt": lambda x, y: (x > y).astype(float),
    "Image.and": lambda x, y: ((x != 0) & (y != 0)).astype(float),
}
_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Image.floor": np.floor,
    "Image.toInt32": lambda v: np.trunc(v),
    # "the integer nearest to the input" (https://developers.google.com/earth-engine/apidocs/ee-image-round)
    "Image.round": lambda v: np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)),
    "Image.exp": np.exp,  # https://developers.google.com/earth-engine/apidocs/ee-image-exp
    "Image.log": np.log,  # https://developers.google.com/earth-engine/apidocs/ee-image-log
    "Image.toDouble": lambda v: v,  # a 64-bit float: what this evaluator computes in
    # "Casts the input value to a 32-bit float" (https://developers.google.com/earth-engine/apidocs/ee-image-tofloat)
    "Image.toFloat": lambda v: v.astype(np.float32).astype(np.float64),
    # casts clamp to the type's range (https://developers.google.com/earth-engine/apidocs/ee-image-touint8)
    "Image.toUint8": lambda v: np.trunc(np.clip(v, 0, 255)),
    "Image.toUint16": lambda v: np.trunc(np.clip(v, 0, 65535)),  # ee-image-touint16: the same rule
}
