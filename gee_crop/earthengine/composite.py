"""5-day window medians of cloud-free Sentinel-2 as one multi-band image, gap-filled on the server.

Output bands are named by ``config.composite_band`` in band-major order (B2_t00 … B2_t42, B3_t00 …), so the
pixel values reshape to (10, n_bins) in config.BANDS order: the 2D input of CropNet (METHOD.md
"Features"). Values are uint16 DN (reflectance x 10,000), like the sample table.
"""
from __future__ import annotations

import datetime as dt

import ee

from gee_crop.config import BANDS, CLEAR_THRESHOLD, MAX_GAP_BINS, SeasonSpan, composite_band
from gee_crop.earthengine.collections import clear_observations, s2_with_cloud_score

#: Per-band time bands: window index k where that band has a clear median, masked where not. One per
#: band (not one carrying B2's mask for all) so that a band missing from a window is interpolated
#: between its own valid windows, as the client-side ``fill_gaps`` does band by band.
TIME_PREFIX = "t_"
TIME_BANDS = [f"{TIME_PREFIX}{band}" for band in BANDS]


def composite_band_names(n_bins: int) -> list[str]:
    """Band-major names B2_t00 … B12_t{n_bins-1}: reshape pixel values to (10, n_bins)."""
    return [composite_band(band, k) for band in BANDS for k in range(n_bins)]


def same_day_mosaics(raw: ee.ImageCollection, start: dt.date, n_days: int,
                     cloud_band: str = "cs") -> ee.ImageCollection:
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
        return granules.qualityMosaic(cloud_band).set("system:time_start", begin.millis(),
                                                       "granules", granules.size())

    days = ee.List.sequence(0, int(n_days) - 1).map(day)
    return ee.ImageCollection.fromImages(days).filter(ee.Filter.gt("granules", 0))


def window_medians(clear: ee.ImageCollection, season: SeasonSpan) -> list[ee.Image]:
    """One median image per window k of ``season`` (10 float bands, each masked where it has no clear
    observation) with the 10 :data:`TIME_BANDS` = k, each masked as its band; window k covers days
    [start + k*w, start + (k+1)*w)."""
    # A fully masked image merged into each window keeps empty windows well-formed (10 bands).
    empty = ee.ImageCollection.fromImages(
        [ee.Image.constant([0] * len(BANDS)).rename(list(BANDS)).toFloat().updateMask(0)])
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


def gap_filled(bins: list[ee.Image], max_gap_bins: int = MAX_GAP_BINS) -> ee.Image:
    """Linear interpolation in time of empty windows, band by band, band-major names, uint16 DN.

    The last valid window at or before k (and the first at or after k) of each band is carried by a
    forward (backward) chain of ``unmask``, so the graph grows linearly with the bin count. Edges take
    the nearest valid value, as the client-side ``fill_gaps``. Pixels whose longest run of empty
    windows in any band exceeds ``max_gap_bins`` (or with a band never valid) are masked: the training
    side discards such samples (METHOD.md "Features").
    """
    n = len(bins)
    before, after = [], [None] * n
    for k in range(n):
        before.append(bins[k] if k == 0 else bins[k].unmask(before[k - 1]))
    for k in reversed(range(n)):
        after[k] = bins[k] if k == n - 1 else bins[k].unmask(after[k + 1])
    out, longest = [], None
    for k in range(n):
        t_prev = before[k].select(TIME_BANDS).unmask(-1)
        t_next = after[k].select(TIME_BANDS).unmask(n)
        v_prev, v_next = before[k].select(list(BANDS)), after[k].select(list(BANDS))
        weight = t_prev.multiply(-1).add(k).divide(t_next.subtract(t_prev).max(1))
        inner = v_prev.add(v_next.subtract(v_prev).multiply(weight))
        value = inner.unmask(v_prev).unmask(v_next)  # edges: nearest valid window
        out.append(value.rename([composite_band(b, k) for b in BANDS]))
        gap = t_next.subtract(t_prev).subtract(1)  # empty windows between the two valid ones, per band
        longest = gap if longest is None else longest.max(gap)
    stacked = ee.Image.cat(out).select(composite_band_names(n))
    return stacked.round().toUint16().updateMask(_worst(longest).lte(max_gap_bins))


def median_composite(region: ee.Geometry, season: SeasonSpan, *, cloud_band: str = "cs",
                     threshold: float = CLEAR_THRESHOLD, max_gap_bins: int = MAX_GAP_BINS) -> ee.Image:
    """Gap-filled 5-day medians of ``season`` over ``region``: uint16 DN, ``10 * n_bins`` bands.

    The season (and its hemisphere shift) comes from ``config.season_span``; same-day granules are
    merged first (:func:`same_day_mosaics`); clouds are masked with Cloud Score+
    ``cloud_band >= threshold`` (METHOD.md "Satellite data").
    """
    raw = s2_with_cloud_score(region, season.start, season.covered_end, cloud_band)
    daily = same_day_mosaics(raw, season.start, (season.covered_end - season.start).days, cloud_band)
    clear = clear_observations(daily, cloud_band, threshold)
    return gap_filled(window_medians(clear, season), max_gap_bins).clip(region)
