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

TIME_BAND = "t"


def composite_band_names(n_bins: int) -> list[str]:
    """Band-major names B2_t00 … B12_t{n_bins-1}: reshape pixel values to (10, n_bins)."""
    return [composite_band(band, k) for band in BANDS for k in range(n_bins)]


def window_medians(clear: ee.ImageCollection, season: SeasonSpan) -> list[ee.Image]:
    """One median image per window k of ``season`` (10 float bands, masked where no clear
    observation) with a band ``t`` = k; window k covers days [start + k*w, start + (k+1)*w)."""
    # A fully masked image merged into each window keeps empty windows well-formed (10 bands).
    empty = ee.ImageCollection.fromImages(
        [ee.Image.constant([0] * len(BANDS)).rename(list(BANDS)).toFloat().updateMask(0)])
    images = []
    for k, first_day in enumerate(season.bin_starts()):
        last_day = first_day + dt.timedelta(days=season.window_days)
        window = clear.filterDate(first_day.isoformat(), last_day.isoformat())
        median = window.map(lambda im: im.toFloat()).merge(empty).median()
        time = ee.Image.constant(k).toFloat().rename(TIME_BAND).updateMask(median.select(BANDS[0]).mask())
        images.append(median.addBands(time))
    return images


def gap_filled(bins: list[ee.Image], max_gap_bins: int = MAX_GAP_BINS) -> ee.Image:
    """Linear interpolation in time of empty windows, band-major names, uint16 DN.

    The last valid window at or before k (and the first at or after k) is carried by a forward
    (backward) chain of ``unmask``, so the graph grows linearly with the bin count. Edges take the
    nearest valid value, as the client-side ``fill_gaps``. Pixels whose longest run of empty
    windows exceeds ``max_gap_bins`` (or with no valid window) are masked: the training side
    discards such samples (METHOD.md "Features").
    """
    n = len(bins)
    before, after = [], [None] * n
    for k in range(n):
        before.append(bins[k] if k == 0 else bins[k].unmask(before[k - 1]))
    for k in reversed(range(n)):
        after[k] = bins[k] if k == n - 1 else bins[k].unmask(after[k + 1])
    out, longest = [], None
    for k in range(n):
        t_prev = before[k].select(TIME_BAND).unmask(-1)
        t_next = after[k].select(TIME_BAND).unmask(n)
        v_prev, v_next = before[k].select(list(BANDS)), after[k].select(list(BANDS))
        weight = ee.Image.constant(k).subtract(t_prev).divide(t_next.subtract(t_prev).max(1))
        inner = v_prev.add(v_next.subtract(v_prev).multiply(weight))
        value = inner.unmask(v_prev).unmask(v_next)  # edges: nearest valid window
        out.append(value.rename([composite_band(b, k) for b in BANDS]))
        gap = t_next.subtract(t_prev).subtract(1)  # empty windows between the two valid ones
        longest = gap if longest is None else longest.max(gap)
    stacked = ee.Image.cat(out).select(composite_band_names(n))
    return stacked.round().toUint16().updateMask(longest.lte(max_gap_bins))


def median_composite(region: ee.Geometry, season: SeasonSpan, *, cloud_band: str = "cs",
                     threshold: float = CLEAR_THRESHOLD, max_gap_bins: int = MAX_GAP_BINS) -> ee.Image:
    """Gap-filled 5-day medians of ``season`` over ``region``: uint16 DN, ``10 * n_bins`` bands.

    The season (and its hemisphere shift) comes from ``config.season_span``; clouds are masked with
    Cloud Score+ ``cloud_band >= threshold`` (METHOD.md "Satellite data").
    """
    raw = s2_with_cloud_score(region, season.start, season.covered_end, cloud_band)
    clear = clear_observations(raw, cloud_band, threshold)
    return gap_filled(window_medians(clear, season), max_gap_bins).clip(region)
