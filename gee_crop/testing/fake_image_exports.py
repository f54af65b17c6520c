"""Image exports on the strict double (:class:`gee_crop.testing.fake_ee.FakeEarthEngineClient`): the rules an
``Export.image`` config must pass, and the pixels a finished image asset holds.

Rules refused at start with HTTP 400 (:func:`image_export_refusal`; stricter than the service where it would
take a default silently):

* the grid is given whole: ``crs``, ``crs_transform`` and ``dimensions`` (without them ``scale`` "Defaults to
  1000" m and the region is the image's footprint,
  https://developers.google.com/earth-engine/apidocs/export-image-toasset);
* an asset id of the documented form ``projects/<project>/assets/...`` or ``users/...``
  (https://developers.google.com/earth-engine/guides/manage_assets; ``client.ASSET_ID``);
* ``pyramidingPolicy`` values among "mean, sample, min, max, or mode" (export-image-toasset).

A task that FAILS (:func:`image_export_failure`): more pixels than ``maxPixels``, "a safety guard ... The
default value is 1e8 pixels" (https://developers.google.com/earth-engine/reference/rest/v1/projects.image/export),
with the text the task list reports: "Export too large: specified N pixels (max: M). Specify higher maxPixels
value if you intend to export a large area."

The double's general rules apply to image exports too:
* the request body under 10,485,760 bytes, and the overwrite rule ("Cannot overwrite asset", export-image-toasset
  ``overwrite``): the double's general rules (``fake_ee``), applied to image exports too.

A finished image asset's pixels are the export graph evaluated on the export's grid by the offline grid
evaluator (:class:`gee_crop.testing.ee_grid_eval.GridEvaluator`); the server composite inside it
(``Image.clip`` of the gap-filled medians, :func:`gee_crop.earthengine.composite.median_composite`) is served
from the shipped patch, composited with the training code as the double's computePixels does
(:mod:`gee_crop.testing.fake_ee_patch`). Other graphs raise NotImplementedError (the double refuses to guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely import contains_xy

from gee_crop.earthengine.client import ASSET_ID
from gee_crop.earthengine.composite import composite_band_names, encode_sqrt8
from gee_crop.earthengine.graph import resolved, walk_calls
from gee_crop.features.composite import composite_pixels, stack_arrays
from gee_crop.mapping.sources import quantize_dn
from gee_crop.testing.ee_grid_eval import Band, Grid, GridEvaluator, Raster, _transform, region_of
from gee_crop.types import RawStack

DEFAULT_MAX_PIXELS = 100_000_000
PYRAMIDING_POLICIES = {"mean", "sample", "min", "max", "mode"}


def image_export_refusal(config: dict) -> str | None:
    """The message the service answers an image export config with, or None when it is accepted."""
    if not config.get("crs") or not config.get("crs_transform") or not config.get("dimensions"):
        return "Export of an image without crs, crsTransform and dimensions: the default scale is 1000 m."
    if config["destination"] == "asset":
        if not ASSET_ID.match(str(config.get("asset_id") or "")):
            return f"Invalid asset ID '{config.get('asset_id')}'."
        policies = set((config.get("pyramiding_policy") or {}).values())
        if not policies <= PYRAMIDING_POLICIES:
            return f"Invalid pyramiding policy {sorted(policies - PYRAMIDING_POLICIES)}."
    return None


def image_export_failure(config: dict) -> str | None:
    """The error an accepted image export task FAILS with, or None."""
    width, height = (int(v) for v in str(config["dimensions"]).split("x"))
    limit = int(config.get("max_pixels") or DEFAULT_MAX_PIXELS)
    if width * height > limit:
        return (
            f"Export too large: specified {width * height} pixels (max: {limit}). Specify higher maxPixels value "
            "if you intend to export a large area."
        )
    return None


def export_grid(config: dict) -> Grid:
    """The north-up grid of an image export config."""
    a, b, c, d, e, f = config["crs_transform"]
    assert b == 0 and d == 0 and e == -a, "the double evaluates north-up square-pixel grids only"
    width, height = (int(v) for v in str(config["dimensions"]).split("x"))
    return Grid(config["crs"], c, f, a, width, height)


@dataclass
class StoredImage:
    """A finished image asset: its grid and (name -> (h, w) values) bands (masked pixels hold 0)."""

    grid: Grid
    bands: dict[str, np.ndarray]

    def window(self, grid: dict, band_ids: list[str] | None) -> np.ndarray:
        """A computePixels answer (structured array) of the asset on ``grid``, read pixel for pixel."""
        affine, dims = grid["affineTransform"], grid["dimensions"]
        assert grid["crsCode"] == self.grid.crs and affine["scaleX"] == self.grid.px, grid
        col0 = round((affine["translateX"] - self.grid.x0) / self.grid.px)
        row0 = round((self.grid.y0 - affine["translateY"]) / self.grid.px)
        names = list(band_ids or self.bands)
        dtype = [(n, self.bands[n].dtype) for n in names]
        out = np.zeros((dims["height"], dims["width"]), dtype=dtype)
        h, w = self.grid.height, self.grid.width
        r0, c0, r1, c1 = max(row0, 0), max(col0, 0), min(row0 + dims["height"], h), min(col0 + dims["width"], w)
        for n in names:
            out[n][r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = self.bands[n][r0:r1, c0:c1]
        return out


class PatchComposite:
    """Serves the server composite of an export graph from the patch (``served`` hook of GridEvaluator)."""

    def __init__(self, patch: RawStack) -> None:
        self.patch = patch
        self._cache: dict[tuple, tuple[list[str], np.ndarray]] = {}

    def served(self, node: dict, grid: Grid) -> list[Band] | None:
        if node["function"] != "Image.clip" or not invocations(node, "reduce.median"):
            return None
        names, codes = self._codes(node)
        x0, y0 = self.patch.upper_left
        bands = []
        for i, name in enumerate(names):
            raster = Raster(codes[..., i].astype(np.float64), self.patch.crs, x0, y0, self.patch.resolution, nodata=0)
            evaluator = GridEvaluator({"patch": raster})
            values, mask = evaluator._load(raster, grid)
            bands.append((name, values, mask))
        inside = _inside(node["arguments"]["geometry"], grid)
        return [(n, v, m & inside) for n, v, m in bands]

    def _codes(self, node: dict) -> tuple[list[str], np.ndarray]:
        """(band names, (h, w, 10 * n_bins) encoded composite of the whole patch; 0 masked) for the graph's season."""
        p = composite_parameters(node)
        key = tuple(sorted(p.items()))
        if key not in self._cache:
            composite = composite_pixels(
                stack_arrays(self.patch, threshold=p["threshold"]),
                p["start_day"],
                p["window_days"],
                p["n_bins"],
                max_gap_bins=p["max_gap"],
            )
            values = composite.values.copy()
            values[~composite.keep] = np.nan
            codes = encode_sqrt8(values) if p["sqrt8"] else quantize_dn(values)
            self._cache[key] = (composite_band_names(p["n_bins"]), codes.reshape(*self.patch.shape, -1))
        return self._cache[key]


def invocations(node: Any, function: str) -> list[dict]:
    """The calls of ``function`` in a graph (an ee object, or its resolved form)."""
    tree = node if isinstance(node, dict) else resolved(node)
    return [c for c in walk_calls(tree) if c["function"] == function]


def composite_parameters(node: Any) -> dict:
    """The season, clear threshold, gap limit and encoding a composite graph asks for (an ee object, or its
    resolved form)."""
    ranges = sorted(
        {
            (c["arguments"]["start"], c["arguments"]["end"])
            for c in invocations(node, "DateRange")
            if isinstance(c["arguments"]["start"], str)
        }
    )  # constant dates (not the per-day ones)
    spans = [(np.datetime64(a, "D"), np.datetime64(b, "D")) for a, b in ranges]
    start, end = min(a for a, _ in spans), max(b for _, b in spans)
    window_days = int(min((b - a).astype(int) for a, b in spans))
    gte = [
        c["arguments"]["image2"]["arguments"]["value"]
        for c in invocations(node, "Image.gte")
        if isinstance(c["arguments"].get("image2"), dict)
        and c["arguments"]["image2"].get("function") == "Image.constant"
    ]
    return {
        "start_day": int(start.astype(np.int64)),
        "end_day": int(end.astype(np.int64)),
        "window_days": window_days,
        "n_bins": int((end - start).astype(int)) // window_days,
        "threshold": float(gte[0]) if gte else 0.75,
        "max_gap": int(invocations(node, "Image.lte")[0]["arguments"]["image2"]["arguments"]["value"]),
        "sqrt8": bool(invocations(node, "Image.sqrt")),
    }


def evaluate_export(config: dict, composite: PatchComposite) -> StoredImage:
    """The pixels a finished image export holds: its graph evaluated on its grid (masked pixels: 0)."""
    grid = export_grid(config)
    bands = GridEvaluator({}, served=composite.served).image(resolved(config["image"]), grid)
    return StoredImage(grid, {n: np.where(m, v, 0).astype(np.uint8) for n, v, m in bands})


def _inside(geometry: dict, grid: Grid) -> np.ndarray:
    """(h, w) bool: pixel centres of ``grid`` inside a Polygon / MultiPolygon constructor graph."""
    lon, lat = _transform(grid.crs, "EPSG:4326", *grid.centres())
    return contains_xy(region_of(geometry), np.asarray(lon), np.asarray(lat))
