"""A fake Earth Engine client whose computePixels serves the real demo patch.

It plays the server: the whole patch is composited once with the training code
(``gee_crop.features.composite.composite_pixels``) for the requested season, gap-filled, masked where the gap is too
long and encoded as the request's graph asks (its last operation ``Image.toUint8``: the ``sqrt8``
codes of ``gee_crop.earthengine.composite.encode_sqrt8``, uint8; otherwise uint16 DN), then every
request returns the window of the requested grid as a structured array with one field per band
(``B2_t00`` …), the way ``ee.data.computePixels`` does.

A request that asks for the label band (``class``: a composite cube block of ``gee-crop cube --region``,
:mod:`gee_crop.earthengine.cube`) is answered by evaluating its whole graph on the requested grid with the
offline grid evaluator (:class:`gee_crop.testing.ee_grid_eval.CollectionEvaluator`: the labels painted from
the features inside the request, eroded by the focal operations, the masks and casts), with the composite
inside it served from the patch (:class:`gee_crop.testing.fake_image_exports.PatchComposite`); any function
it does not know raises NotImplementedError (the double refuses to guess).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from gee_crop.config import Encoding
from gee_crop.earthengine.composite import composite_band_names, encode_sqrt8
from gee_crop.earthengine.graph import resolved
from gee_crop.earthengine.labels import LABEL_BAND
from gee_crop.errors import EarthEngineError
from gee_crop.features.composite import composite_pixels, stack_arrays
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.sources import quantize_dn
from gee_crop.season import SeasonSpan
from gee_crop.testing.ee_grid_eval import CollectionEvaluator, Grid
from gee_crop.testing.fake_image_exports import PatchComposite
from gee_crop.types import RawStack


class PatchComputePixels:
    """``compute_pixels(expression, grid, band_ids)`` from the patch; records every request.

    ``fail_offsets``: (row_off, col_off) of tiles whose request fails like Earth Engine after the
    client's retries (EarthEngineError), to test failure reports and resumption.
    """

    def __init__(
        self,
        stack: RawStack,
        spec: FeatureSpec,
        season: SeasonSpan,
        fail_offsets: Iterable[tuple[int, int]] = frozenset(),
    ):
        self.stack, self.fail_offsets = stack, set(fail_offsets)
        h, w = stack.shape
        composite = composite_pixels(
            stack_arrays(stack, threshold=spec.cloud_threshold),
            season.start_day,
            season.window_days,
            season.n_bins,
            max_gap_bins=spec.max_gap_bins,
        )
        values = composite.values.copy()
        values[~composite.keep] = np.nan  # the server masks gap-heavy pixels; masked pixels arrive as 0
        names = composite_band_names(season.n_bins)
        self.images = {
            Encoding.UINT16: _structured(quantize_dn(values).reshape(h, w, -1), names),
            Encoding.SQRT8: _structured(encode_sqrt8(values).reshape(h, w, -1), names),
        }
        self.image = self.images[Encoding.UINT16]
        self.requests: list[dict] = []
        self._composite: PatchComposite | None = None

    def image_for(self, expression) -> np.ndarray:
        """The whole patch in the encoding ``expression`` asks for."""
        return self.images[encoding_of(expression)]

    def compute_pixels(self, expression, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        self.requests.append({"expression": expression, "grid": grid, "band_ids": band_ids})
        affine, dims = grid["affineTransform"], grid["dimensions"]
        s = self.stack
        res = s.resolution
        x0, y1 = s.upper_left
        assert grid["crsCode"] == s.crs and affine["scaleX"] == res and affine["scaleY"] == -res, grid
        col0 = round((affine["translateX"] - x0) / res)
        row0 = round((y1 - affine["translateY"]) / res)
        if (row0, col0) in self.fail_offsets:
            raise EarthEngineError(
                "Earth Engine kept failing a computePixels request after retries "
                "(Computation timed out.); wait a few minutes and rerun the same command"
            )
        h, w = dims["height"], dims["width"]
        if band_ids is not None and LABEL_BAND in band_ids:
            return self.evaluated(expression, grid, band_ids)
        image = self.image_for(expression)
        out = np.zeros((h, w), dtype=image.dtype)
        r0, c0 = max(row0, 0), max(col0, 0)
        r1, c1 = min(row0 + h, image.shape[0]), min(col0 + w, image.shape[1])
        if r1 > r0 and c1 > c0:
            out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = image[r0:r1, c0:c1]
        return out[band_ids] if band_ids is not None else out

    def evaluated(self, expression, grid: dict, band_ids: list[str]) -> np.ndarray:
        """``expression`` evaluated on ``grid`` (masked pixels 0), as a structured array of ``band_ids``."""
        affine, dims = grid["affineTransform"], grid["dimensions"]
        on = Grid(
            grid["crsCode"], affine["translateX"], affine["translateY"], affine["scaleX"], dims["width"], dims["height"]
        )
        if self._composite is None:
            self._composite = PatchComposite(self.stack)
        bands = {
            n: (v, m)
            for n, v, m in CollectionEvaluator({}, served=self._composite.served).image(resolved(expression), on)
        }
        missing = [n for n in band_ids if n not in bands]
        if missing:
            raise ValueError(f"computePixels: the image has no bands {missing[:3]}")
        dtype = np.uint8 if encoding_of(expression) is Encoding.SQRT8 else np.uint16
        out = np.zeros((on.height, on.width), dtype=[(n, dtype) for n in band_ids])
        for name in band_ids:
            values, mask = bands[name]
            out[name] = np.where(mask, values, 0).astype(dtype)
        return out


def encoding_of(expression) -> Encoding:
    """``sqrt8`` when the graph's last operation is ``Image.toUint8`` (``EarthEngineSource.image``
    casts last), else ``uint16``."""
    func = getattr(expression, "func", None)
    name = func.getSignature().get("name", "") if func is not None and hasattr(func, "getSignature") else ""
    return Encoding.SQRT8 if name.endswith("Image.toUint8") else Encoding.UINT16


def _structured(values: np.ndarray, names: list[str]) -> np.ndarray:
    """(h, w, 10 * n_bins) band-major values -> (h, w) structured array, one field per name."""
    out = np.zeros(values.shape[:2], dtype=[(n, values.dtype) for n in names])
    for i, name in enumerate(names):
        out[name] = values[..., i]
    return out
