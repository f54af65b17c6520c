"""A fake Earth Engine client whose computePixels serves the real demo patch.

It plays the server: the whole patch is composited once with the training code
(``gee_crop.features.composite.composite_pixels``) for the requested season, gap-filled, masked where the gap is too
long and rounded to uint16 DN, then every request returns the window of the requested grid as a
structured array with one field per band (``B2_t00`` …), the way ``ee.data.computePixels`` does.
"""
from __future__ import annotations

import numpy as np

from gee_crop.config import SeasonSpan
from gee_crop.earthengine.composite import composite_band_names
from gee_crop.errors import EarthEngineError
from gee_crop.features.composite import composite_pixels, stack_arrays
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.sources import quantize_dn
from gee_crop.types import RawStack


class PatchComputePixels:
    """``compute_pixels(expression, grid, band_ids)`` from the patch; records every request.

    ``fail_offsets``: (row_off, col_off) of tiles whose request fails like Earth Engine after the
    client's retries (EarthEngineError), to test failure reports and resumption.
    """

    def __init__(self, stack: RawStack, spec: FeatureSpec, season: SeasonSpan,
                 fail_offsets: set[tuple[int, int]] = frozenset()):
        self.stack, self.fail_offsets = stack, set(fail_offsets)
        h, w = stack.shape
        composite = composite_pixels(stack_arrays(stack, threshold=spec.cloud_threshold), season.start_day,
                                     season.window_days, season.n_bins, max_gap_bins=spec.max_gap_bins)
        dn = quantize_dn(composite.values)
        dn[~composite.keep] = 0  # the server masks gap-heavy pixels; masked pixels arrive as 0
        names = composite_band_names(season.n_bins)
        self.image = np.zeros((h, w), dtype=[(n, np.uint16) for n in names])
        flat = dn.reshape(h, w, -1)
        for i, name in enumerate(names):
            self.image[name] = flat[..., i]
        self.requests: list[dict] = []

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
            raise EarthEngineError("Earth Engine kept failing a computePixels request after retries "
                                   "(Computation timed out.); wait a few minutes and rerun the same command")
        h, w = dims["height"], dims["width"]
        out = np.zeros((h, w), dtype=self.image.dtype)
        r0, c0 = max(row0, 0), max(col0, 0)
        r1, c1 = min(row0 + h, self.image.shape[0]), min(col0 + w, self.image.shape[1])
        if r1 > r0 and c1 > c0:
            out[r0 - row0:r1 - row0, c0 - col0:c1 - col0] = self.image[r0:r1, c0:c1]
        return out[band_ids] if band_ids is not None else out
