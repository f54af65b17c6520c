"""The EMIT part of the strict Earth Engine double (:class:`gee_crop.testing.fake_ee.FakeEarthEngineClient`):
``NASA/EMIT/L2A/RFL`` served from REAL EMIT reflectance, its graphs evaluated by
:mod:`gee_crop.testing.ee_emit_eval`.

:class:`EmitScene` is the real 10 x 10 x 285 EMIT L2A cube of ``../shared/data/emit`` (PROVENANCE.md: values
unchanged, bad bands stored as -0.01, acquired 2025-03-24, location unknown) laid on a 60 m grid of the
patch's UTM zone over the double's patch (600 m of its 640 m: the rim is outside the scene, where no EMIT
image exists). What is SYNTHETIC, because no real EMIT pair of months or cloud flag is in the data: the scene is
served as one acquisition on each of ``acquisitions``' days (the same real reflectance each time), and each
acquisition's ``cloud_flag`` is given by the test; a flagged pixel holds a bright cloud-like 0.8 in every
band, so a graph that forgets the flag gets visibly wrong medians. Every image carries the product's
285 ``reflectance_<i>``, the 285 ``reflectance_uncertainity_<i>`` (sic) and the six flag bands of the catalog
page (https://developers.google.com/earth-engine/datasets/catalog/NASA_EMIT_L2A_RFL) and its
``reflectance_wavelengths`` property (the real band centres).

Strict rules (the service's, each cited): a band the product lacks is refused at ``select``
("Image.select: Pattern 'x' did not match any bands.", https://github.com/gee-community/geetools/issues/68);
a computePixels request of more than 1,024 bands or whose answer is over 48 MiB (float32 values and one mask
byte each: the documented limits, "Requests are limited to 48MB in uncompressed data per request ... and at
most 1024 bands", https://developers.google.com/earth-engine/reference/rest/v1/projects.image/computePixels)
is refused with HTTP 400, the message naming the limit (the service's own wording is not quoted anywhere we
could find).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ee
import numpy as np
from pyproj import Transformer

from gee_crop.data.emit import read_emit_l2a
from gee_crop.earthengine.graph import walk_calls
from gee_crop.sensors import EMIT
from gee_crop.testing.ee_emit_eval import EmitEvaluator, EvalImage, select_refusal
from gee_crop.testing.paths import shared_data_dir

#: The real cube (PROVENANCE.md of ../shared/data/emit).
EMIT_CUBE = Path("emit") / "emit20250324t221005_10x10_l2a_layout.nc"
#: computePixels limits (REST reference, see the module docstring).
MAX_PIXEL_BANDS = 1024
MAX_PIXEL_BYTES = 48 * 1024 * 1024
#: Stored reflectance of a cloud-flagged pixel (SYNTHETIC, see the module docstring).
CLOUD_REFLECTANCE = 0.8
FLAG_BANDS = ("cloud_flag", "cirrus_flag", "water_flag", "spacecraft_flag", "dilated_cloud_flag", "aggregate_flag")


@dataclass(frozen=True)
class EmitAcquisition:
    """One served acquisition: its day and its (rows, cols) bool ``cloud_flag`` (SYNTHETIC)."""

    day: str
    cloudy: np.ndarray


@dataclass(frozen=True)
class EmitScene:
    """The real EMIT cube on a north-up grid (``crs``, upper-left ``x0``, ``y0``, 60 m pixels) and the
    acquisitions it is served as."""

    stored: np.ndarray
    """(rows, cols, 285) float32 stored reflectance, as in the file (bad bands -0.01, fill -9999)."""
    crs: str
    x0: float
    y0: float
    acquisitions: tuple[EmitAcquisition, ...]
    px: float = EMIT.resolution_m

    @classmethod
    def over(cls, stack: Any, acquisitions: tuple[EmitAcquisition, ...], data_dir: Path | None = None) -> EmitScene:
        """The real cube over a :class:`~gee_crop.types.RawStack` (the double's patch), its upper-left corner
        on the 60 m grid of the stack's CRS (origin 0, as Earth Engine's projections)."""
        cube = read_emit_l2a((data_dir or shared_data_dir()) / EMIT_CUBE)
        stored = np.where(np.isnan(cube.reflectance), np.float32(EMIT.fill), cube.reflectance).astype(np.float32)
        x0, y1 = stack.upper_left
        px = EMIT.resolution_m
        return cls(stored, stack.crs, float(np.floor(x0 / px) * px), float(np.ceil(y1 / px) * px), acquisitions)

    # the RawStack grid interface of ``ee_grid_eval.pixel_read``
    @property
    def x(self) -> np.ndarray:
        return self.x0 + (np.arange(self.stored.shape[1]) + 0.5) * self.px

    @property
    def y(self) -> np.ndarray:
        return self.y0 - (np.arange(self.stored.shape[0]) + 0.5) * self.px

    @property
    def upper_left(self) -> tuple[float, float]:
        return self.x0, self.y0

    @property
    def resolution(self) -> float:
        return self.px

    def cells(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, inside) of the scene pixel under each WGS84 place (nearest neighbour)."""
        x, y = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True).transform(lon, lat)
        col = np.floor((np.asarray(x) - self.x0) / self.px).astype(np.int64)
        row = np.floor((self.y0 - np.asarray(y)) / self.px).astype(np.int64)
        inside = (row >= 0) & (row < self.stored.shape[0]) & (col >= 0) & (col < self.stored.shape[1])
        return np.clip(row, 0, self.stored.shape[0] - 1), np.clip(col, 0, self.stored.shape[1] - 1), inside

    def images(self, row: np.ndarray, col: np.ndarray, inside: np.ndarray) -> list[EvalImage]:
        """Each acquisition at the places (``row``, ``col``): every product band, masked off the scene."""
        values = self.stored[row, col].astype(np.float64)  # (n, 285)
        wavelengths = [float(w) for w in EMIT.product_wavelengths_nm]
        served = []
        for acquisition in self.acquisitions:
            cloudy = acquisition.cloudy[row, col] & inside
            shown = np.where(cloudy[:, None], CLOUD_REFLECTANCE, values)
            bands = [(name, shown[:, i], inside) for i, name in enumerate(EMIT.product_bands)]
            bands += [
                (f"reflectance_uncertainity_{i}", np.full(len(row), 0.01), inside) for i in range(values.shape[1])
            ]
            bands += [
                (flag, cloudy.astype(np.float64) if flag == "cloud_flag" else np.zeros(len(row)), inside)
                for flag in FLAG_BANDS
            ]
            properties = {EMIT.wavelength_property: wavelengths}
            served.append(EvalImage(bands, properties, np.datetime64(acquisition.day, "D")))
        return served


def loads_emit(graph: Any) -> bool:
    """Whether a resolved graph reads the EMIT collection."""
    return any(
        c["function"] == "ImageCollection.load" and c["arguments"].get("id") == EMIT.collection
        for c in walk_calls(graph)
    )


def _evaluator(scene: EmitScene | None, lon: np.ndarray, lat: np.ndarray) -> EmitEvaluator:
    """An evaluator over the WGS84 places, EMIT served from ``scene`` (None: no EMIT image anywhere)."""

    def load(collection_id: str) -> list[EvalImage]:
        if collection_id != EMIT.collection:
            raise NotImplementedError(f"the EMIT evaluator serves {EMIT.collection} only, not {collection_id}")
        return [] if scene is None else scene.images(*scene.cells(lon, lat))

    return EmitEvaluator(len(lon), load)


def emit_rows(
    scene: EmitScene | None, graph: dict, points: list[tuple[dict, float, float]], shift: tuple[float, float]
) -> list[dict]:
    """The features of an EMIT ``sampleRegions`` graph (``earthengine.emit.emit_rows``) at ``points``
    (properties, lon, lat; ``shift``: (lon, lat) the double moved its scene by): each point snapped to the centre of its
    pixel of the call's projection and scale ("geometries will be snapped to pixel centers",
    https://developers.google.com/earth-engine/apidocs/ee-image-sampleregions); a point masked in any band is
    left out, as ``sampleRegions`` drops masked pixels."""
    (call,) = [c for c in walk_calls(graph) if c["function"] == "Image.sampleRegions"]
    args = call["arguments"]
    if not points:
        return []
    crs, scale = args["projection"]["arguments"]["crs"], float(args["scale"])
    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_crs.transform(np.array([p[1] for p in points]), np.array([p[2] for p in points]))
    cx, cy = (np.floor(np.asarray(x) / scale) + 0.5) * scale, (np.floor(np.asarray(y) / scale) + 0.5) * scale
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(cx, cy)
    bands = _evaluator(scene, np.asarray(lon) - shift[0], np.asarray(lat) - shift[1]).bands(args["image"])
    valid = np.logical_and.reduce([m for _, _, m in bands]) if bands else np.zeros(len(points), bool)
    properties = args.get("properties") or []
    features = []
    for i in np.flatnonzero(valid):
        row = {k: points[i][0][k] for k in properties if k in points[i][0]}
        row.update({name: float(values[i]) for name, values, _ in bands})
        features.append({"type": "Feature", "geometry": None, "properties": row})
    return features


def pixel_refusal(grid: dict, count: int) -> str | None:
    """The refusal of a computePixels request of ``count`` bands over the documented limits (bands, 48 MiB of
    float32 values and a mask byte each)."""
    if count > MAX_PIXEL_BANDS:
        return f"computePixels: {count} bands requested, more than the {MAX_PIXEL_BANDS} a request may hold."
    dims = grid["dimensions"]
    size = int(dims["width"]) * int(dims["height"]) * count * (4 + 1)
    if size > MAX_PIXEL_BYTES:
        return f"computePixels: the answer would be {size} bytes, more than the {MAX_PIXEL_BYTES} a request may return."
    return None


def emit_pixels(
    scene: EmitScene | None, graph: dict, grid: dict, band_ids: list[str] | None, shift: tuple[float, float]
) -> np.ndarray:
    """The (height, width) structured float32 array of an EMIT image graph on a computePixels ``grid``
    (masked pixels as 0, as the service sends them); ``shift``: (lon, lat) the double moved its scene by."""
    dims, affine = grid["dimensions"], grid["affineTransform"]
    w, h = int(dims["width"]), int(dims["height"])
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x = affine["translateX"] + cols * affine["scaleX"] + rows * affine.get("shearX", 0.0)
    y = affine["translateY"] + cols * affine.get("shearY", 0.0) + rows * affine["scaleY"]
    lon, lat = Transformer.from_crs(grid["crsCode"], "EPSG:4326", always_xy=True).transform(x.ravel(), y.ravel())
    bands = _evaluator(scene, np.asarray(lon) - shift[0], np.asarray(lat) - shift[1]).bands(graph)
    names = [n for n, _, _ in bands] if band_ids is None else list(band_ids)
    by_name = {n: (v, m) for n, v, m in bands}
    for name in names:
        if name not in by_name:
            raise ee.EEException(select_refusal(name))
    out = np.zeros((h, w), dtype=[(n, "<f4") for n in names])
    for name in names:
        values, mask = by_name[name]
        out[name] = np.where(mask, values, 0.0).reshape(h, w)
    return out
