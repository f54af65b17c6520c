"""Colours and visualization parameters of gee-crop layers, for Earth Engine and for local arrays.

One palette (``classes.CLASS_HEX``, its colour table ``classes.class_rgba_table``) serves the COG
colour table, the PNG preview, geemap layers and legends. Earth Engine vis params are plain dicts for
``Map.addLayer`` / ``ee.Image.visualize``; the ``*_rgba`` functions render numpy arrays with the same
stretches for offline overlays. Composite bands are the ``median_composite`` names
(``config.composite_band``, uint16 DN).
"""

from __future__ import annotations

import base64
import io

import numpy as np

from gee_crop.classes import CLASS_HEX, CLASSES
from gee_crop.config import REFLECTANCE_SCALE, composite_band
from gee_crop.errors import UnknownClassError

#: True-colour bands (red, green, blue).
RGB_BANDS: tuple[str, str, str] = ("B4", "B3", "B2")
#: Reflectance shown as full white: vegetation and soils sit well below 0.3, so a 0-0.3 stretch
#: keeps fields readable without clipping them (clouds and bright roofs saturate, as they should).
RGB_MAX_REFLECTANCE = 0.3
RGB_GAMMA = 1.3
#: NDVI stretch and colour ramp: bare soil (brown) through sparse (yellow) to dense canopy (green).
NDVI_RANGE: tuple[float, float] = (0.0, 0.9)
NDVI_PALETTE: tuple[str, ...] = ("8c510a", "d8b365", "f6e8c3", "c7e9c0", "74c476", "238b45", "00441b")
#: Cloud Score+ (0 cloudy .. 1 clear): red to white to blue; the clear threshold sits in the blue half.
CLOUD_SCORE_PALETTE: tuple[str, ...] = ("b2182b", "f7f7f7", "2166ac")
#: Largest uint8 value: full intensity of a colour channel, opaque alpha.
_UINT8_MAX = np.iinfo(np.uint8).max


def class_palette() -> list[str]:
    """Hex colours of classes.CLASSES in index order (class index k is drawn with entry k)."""
    return [CLASS_HEX[c] for c in CLASSES]


def class_legend(classes: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """``{class name: "#rrggbb"}`` for a legend, in classes.CLASSES order (default: all 7 classes)."""
    wanted = CLASSES if classes is None else tuple(classes)
    unknown = [c for c in wanted if c not in CLASS_HEX]
    if unknown:
        raise UnknownClassError(f"no colour for {unknown}; legend classes must be among {', '.join(CLASSES)}")
    return {c: "#" + CLASS_HEX[c] for c in CLASSES if c in wanted}


def class_vis_params() -> dict:
    """Earth Engine vis params of a class-index image (0..6, classes.CLASSES order)."""
    return {"min": 0, "max": len(CLASSES) - 1, "palette": class_palette()}


def composite_rgb_vis(
    bin_index: int, *, max_reflectance: float = RGB_MAX_REFLECTANCE, gamma: float = RGB_GAMMA
) -> dict:
    """Vis params of the true-colour view of window ``bin_index`` of a composite (uint16 DN bands)."""
    return {
        "bands": [composite_band(b, bin_index) for b in RGB_BANDS],
        "min": 0,
        "max": max_reflectance * REFLECTANCE_SCALE,
        "gamma": gamma,
    }


def raw_rgb_vis(*, max_reflectance: float = RGB_MAX_REFLECTANCE, gamma: float = RGB_GAMMA) -> dict:
    """Vis params of one raw Sentinel-2 L2A image (bands B4/B3/B2 in DN)."""
    return {"bands": list(RGB_BANDS), "min": 0, "max": max_reflectance * REFLECTANCE_SCALE, "gamma": gamma}


def ndvi_vis_params() -> dict:
    """Vis params of a one-band NDVI image."""
    return {"min": NDVI_RANGE[0], "max": NDVI_RANGE[1], "palette": list(NDVI_PALETTE)}


def cloud_score_vis_params(band: str = "cs") -> dict:
    """Vis params of a Cloud Score+ band (``cs`` or ``cs_cdf``, 0 cloudy .. 1 clear)."""
    return {"bands": [band], "min": 0, "max": 1, "palette": list(CLOUD_SCORE_PALETTE)}


# ----------------------------------------------------------------------------- local rendering


def _palette_rgb(palette: tuple[str, ...] | list[str]) -> np.ndarray:
    """(k, 3) float colours of hex strings."""
    return np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in palette], dtype=np.float64)


def rgb_rgba(rgb: np.ndarray, *, max_reflectance: float = RGB_MAX_REFLECTANCE, gamma: float = RGB_GAMMA) -> np.ndarray:
    """(H, W, 3) reflectance (red, green, blue; NaN = no data) -> (H, W, 4) uint8 with the same
    stretch as :func:`composite_rgb_vis`; transparent where any channel is NaN."""
    rgb = np.asarray(rgb, dtype=np.float64)
    valid = np.isfinite(rgb).all(axis=-1)
    scaled = np.clip(np.nan_to_num(rgb) / max_reflectance, 0.0, 1.0) ** (1.0 / gamma)
    out = np.zeros((*rgb.shape[:-1], 4), dtype=np.uint8)
    out[..., :3] = np.round(scaled * _UINT8_MAX).astype(np.uint8)
    out[..., 3] = np.where(valid, _UINT8_MAX, 0)
    return out


def ramp_rgba(values: np.ndarray, vmin: float, vmax: float, palette: tuple[str, ...] | list[str]) -> np.ndarray:
    """(H, W) values -> (H, W, 4) uint8 along ``palette`` (linear, as Earth Engine palettes);
    values outside [vmin, vmax] are clamped, NaN is transparent."""
    values = np.asarray(values, dtype=np.float64)
    colors = _palette_rgb(palette)
    position = np.clip((np.nan_to_num(values, nan=vmin) - vmin) / (vmax - vmin), 0.0, 1.0) * (len(colors) - 1)
    low = np.minimum(np.floor(position).astype(np.int64), len(colors) - 2)
    frac = (position - low)[..., None]
    rgb = colors[low] * (1 - frac) + colors[low + 1] * frac
    out = np.zeros((*values.shape, 4), dtype=np.uint8)
    out[..., :3] = np.round(rgb).astype(np.uint8)
    out[..., 3] = np.where(np.isfinite(values), _UINT8_MAX, 0)
    return out


def ndvi_rgba(ndvi: np.ndarray) -> np.ndarray:
    """(H, W) NDVI -> (H, W, 4) uint8 with the stretch of :func:`ndvi_vis_params`."""
    return ramp_rgba(ndvi, NDVI_RANGE[0], NDVI_RANGE[1], NDVI_PALETTE)


def png_bytes(rgba: np.ndarray) -> bytes:
    """PNG encoding of an (H, W, 4) uint8 image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(rgba: np.ndarray) -> str:
    """``data:image/png;base64,...`` URL of an (H, W, 4) uint8 image (an overlay needing no server)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgba)).decode("ascii")
