"""5-day window medians of cloud-free Sentinel-2 as one multi-band image, gap-filled on the server.

Output bands are named by ``config.composite_band`` in band-major order (B2_t00 … B2_t42, B3_t00 …), so the
pixel values reshape to (10, n_bins) in SENTINEL2.bands order: the 2D input of CropNet (METHOD.md
"Features"). Values travel in one of two ``config.Encoding`` s: uint16 DN (reflectance x 10,000, like the
sample table) or ``sqrt8``, one byte per value (:func:`encode_sqrt8`), half the bytes.
"""

from __future__ import annotations

import datetime as dt

import ee
import numpy as np

from gee_crop.config import CLEAR_THRESHOLD, MAX_GAP_BINS, REFLECTANCE_SCALE, Encoding, composite_band
from gee_crop.earthengine.collections import clear_observations, s2_with_cloud_score
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2

#: Per-band time bands: window index k where that band has a clear median, masked where not. One per
#: band (not one carrying B2's mask for all) so that a band missing from a window is interpolated
#: between its own valid windows, as the client-side ``fill_gaps`` does band by band.
TIME_PREFIX = "t_"
TIME_BANDS = [f"{TIME_PREFIX}{band}" for band in SENTINEL2.bands]


#: The one fixed transform of ``sqrt8``, shared by the server graph (:func:`encode_image`) and the
#: client (:func:`encode_sqrt8`, :func:`decode_sqrt8`). Code 0 stays "masked"; codes 1..255 carry
#: s = sqrt(clip(r, 0, SQRT8_MAX) / SQRT8_MAX) in SQRT8_STEPS steps, finest at the low reflectances of
#: vegetation. Decoding r' = SQRT8_MAX ((code - 1) / SQRT8_STEPS)^2 errs by at most
#: SQRT8_MAX (s / SQRT8_STEPS + 1 / (4 SQRT8_STEPS^2)) (:func:`sqrt8_error_bound`): 0.0008 at r = 0.04,
#: 0.0022 at r = 0.3, 0.0039 at r = 1 (8, 22 and 39 DN). Reflectance above SQRT8_MAX (saturated
#: pixels, rare in Sentinel-2 L2A) decodes as SQRT8_MAX.
SQRT8_MAX = 1.0
SQRT8_STEPS = 254


def sqrt8_error_bound(reflectance: np.ndarray) -> np.ndarray:
    """Largest |decode(encode(r)) - r| for r in [0, SQRT8_MAX]: a half-step error in s = sqrt(r / max)
    is r' = max (s +- 1 / (2 steps))^2, off by max (s / steps + 1 / (4 steps^2))."""
    s = np.sqrt(np.clip(reflectance, 0, SQRT8_MAX) / SQRT8_MAX)
    return SQRT8_MAX * (s / SQRT8_STEPS + 1 / (4 * SQRT8_STEPS**2))


def encode_sqrt8(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance -> uint8 codes 1..255 (NaN -> 0, masked), as :func:`encode_image` does on the server.

    Rounds half up (``floor(x + 0.5)``): Earth Engine's ``Image.round`` gives "the integer nearest to
    the input" (https://developers.google.com/earth-engine/apidocs/ee-image-round), the two agree
    away from exact halves, which a float median hits with probability ~0.
    """
    r = np.nan_to_num(np.asarray(reflectance, dtype=np.float64), nan=0.0)
    code = np.floor(np.sqrt(np.clip(r, 0, SQRT8_MAX) / SQRT8_MAX) * SQRT8_STEPS + 0.5) + 1
    code = code.astype(np.uint8)
    code[np.isnan(reflectance)] = 0
    return code


def decode_sqrt8(code: np.ndarray) -> np.ndarray:
    """uint8 codes -> float32 reflectance (code 0, masked, -> NaN)."""
    s = (np.asarray(code, dtype=np.float32) - 1) / np.float32(SQRT8_STEPS)
    return np.where(np.asarray(code) == 0, np.float32(np.nan), np.float32(SQRT8_MAX) * s * s).astype(np.float32)


def encode_image(dn: ee.Image, encoding: Encoding | str = Encoding.UINT16) -> ee.Image:
    """The float DN image (reflectance x 10,000) in ``encoding``, on the server: uint16 DN, or the codes
    of :func:`encode_sqrt8` (divide, clamp, sqrt, multiply, round, add 1, toUint8).

    0 is kept for nodata in both (masked pixels are sent as 0 after ``unmask(0)``, and
    ``mapping.sources.decode_pixels`` drops a pixel any of whose values is 0): a valid uint16 value is
    ``max(1, round(dn))``, so a valid DN under 0.5 is sent as 1, not 0, as the local source's
    ``quantize_dn`` does (clipped to 1..65535).
    """
    if Encoding(encoding) is Encoding.UINT16:
        return dn.round().max(1).toUint16()
    s = dn.divide(REFLECTANCE_SCALE * SQRT8_MAX).clamp(0, 1).sqrt()
    return s.multiply(SQRT8_STEPS).round().add(1).toUint8()


def cast_image(image: ee.Image, encoding: Encoding | str = Encoding.UINT16) -> ee.Image:
    """``image`` cast to the encoding's band type (after ``unmask(0)``, which may widen it)."""
    return image.toUint8() if Encoding(encoding) is Encoding.SQRT8 else image.toUint16()


def composite_band_names(n_bins: int) -> list[str]:
    """Band-major names B2_t00 … B12_t{n_bins-1}: reshape pixel values to (10, n_bins)."""
    return [composite_band(band, k) for band in SENTINEL2.bands for k in range(n_bins)]


def same_day_mosaics(
    raw: ee.ImageCollection, start: dt.date, n_days: int, cloud_band: str = "cs"
) -> ee.ImageCollection:
    """One image per day that has acquisitions: same-day granules (overlapping MGRS tiles of one
    datatake) merged pixel by pixel keeping the highest Cloud Score+ (``qualityMosaic``,
    https://developers.google.com/earth-engine/apidocs/ee-imagecollection-qualitymosaic).

    This is the rule of the sample table (``data.ee_rows.rows_to_series`` keeps, per sample and day,
    the row with the highest score): without it the server median would count a pixel seen by two
    overlapping granules twice, and the map's composites would differ from the training ones.
    """
    first = ee.Date(start.isoformat())

    def day(k: ee.Number) -> ee.Image:
        begin = first.advance(k, "day")
        granules = raw.filterDate(begin, begin.advance(1, "day"))
        return granules.qualityMosaic(cloud_band).set("system:time_start", begin.millis(), "granules", granules.size())

    days = ee.List.sequence(0, int(n_days) - 1).map(day)
    return ee.ImageCollection.fromImages(days).filter(ee.Filter.gt("granules", 0))


def window_medians(clear: ee.ImageCollection, season: SeasonSpan) -> list[ee.Image]:
    """One median image per window k of ``season`` (10 float bands, each masked where it has no clear
    observation) with the 10 :data:`TIME_BANDS` = k, each masked as its band; window k covers days
    [start + k*w, start + (k+1)*w)."""
    # A fully masked image merged into each window keeps empty windows well-formed (10 bands).
    empty = ee.ImageCollection.fromImages(
        [ee.Image.constant([0] * len(SENTINEL2.bands)).rename(list(SENTINEL2.bands)).toFloat().updateMask(0)]
    )
    images = []
    for k, first_day in enumerate(season.bin_starts()):
        last_day = first_day + dt.timedelta(days=season.window_days)
        window = clear.filterDate(first_day.isoformat(), last_day.isoformat())
        median = window.map(lambda im: im.toFloat()).merge(empty).median()
        time = median.multiply(0).add(k).rename(TIME_BANDS)  # k where each band is valid
        images.append(median.addBands(time))
    return images


def _worst(gaps: ee.Image) -> ee.Image:
    """The largest of the per-band gap lengths (one band)."""
    worst = gaps.select([TIME_BANDS[0]])
    for name in TIME_BANDS[1:]:
        worst = worst.max(gaps.select([name]))
    return worst


def gap_filled(
    bins: list[ee.Image], max_gap_bins: int = MAX_GAP_BINS, encoding: Encoding | str = Encoding.UINT16
) -> ee.Image:
    """Linear interpolation in time of empty windows, band by band, band-major names, in ``encoding``
    (:func:`encode_image`; uint16 DN by default).

    The last valid window at or before k (and the first at or after k) of each band is carried by a
    forward (backward) chain of ``unmask``, so the graph grows linearly with the bin count. Edges take
    the nearest valid value, as the client-side ``fill_gaps``. Pixels whose longest run of empty
    windows in any band exceeds ``max_gap_bins`` (or with a band never valid) are masked: the training
    side discards such samples (METHOD.md "Features").
    """
    n = len(bins)
    before: list[ee.Image] = []
    for k in range(n):
        before.append(bins[k] if k == 0 else bins[k].unmask(before[k - 1]))
    after_reversed: list[ee.Image] = []  # windows n-1 .. 0: each unmasked by the one after it
    for k in reversed(range(n)):
        after_reversed.append(bins[k] if k == n - 1 else bins[k].unmask(after_reversed[-1]))
    after = after_reversed[::-1]
    out: list[ee.Image] = []
    longest: ee.Image | None = None
    for k in range(n):
        t_prev = before[k].select(TIME_BANDS).unmask(-1)
        t_next = after[k].select(TIME_BANDS).unmask(n)
        v_prev, v_next = before[k].select(list(SENTINEL2.bands)), after[k].select(list(SENTINEL2.bands))
        weight = t_prev.multiply(-1).add(k).divide(t_next.subtract(t_prev).max(1))
        inner = v_prev.add(v_next.subtract(v_prev).multiply(weight))
        value = inner.unmask(v_prev).unmask(v_next)  # edges: nearest valid window
        out.append(value.rename([composite_band(b, k) for b in SENTINEL2.bands]))
        gap = t_next.subtract(t_prev).subtract(1)  # empty windows between the two valid ones, per band
        longest = gap if longest is None else longest.max(gap)
    stacked = ee.Image.cat(out).select(composite_band_names(n))
    assert longest is not None, "gap_filled needs at least one window"
    return encode_image(stacked, encoding).updateMask(_worst(longest).lte(max_gap_bins))


def median_composite(
    region: ee.Geometry,
    season: SeasonSpan,
    *,
    cloud_band: str = "cs",
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
    encoding: Encoding | str = Encoding.UINT16,
) -> ee.Image:
    """Gap-filled 5-day medians of ``season`` over ``region``: ``10 * n_bins`` bands in ``encoding``
    (uint16 DN by default).

    The season (and its hemisphere shift) comes from ``Season.span``; same-day granules are
    merged first (:func:`same_day_mosaics`); clouds are masked with Cloud Score+
    ``cloud_band >= threshold`` (METHOD.md "Satellite data").
    """
    raw = s2_with_cloud_score(region, season.start, season.covered_end, cloud_band)
    daily = same_day_mosaics(raw, season.start, (season.covered_end - season.start).days, cloud_band)
    clear = clear_observations(daily, cloud_band, threshold)
    return gap_filled(window_medians(clear, season), max_gap_bins, encoding).clip(region)
