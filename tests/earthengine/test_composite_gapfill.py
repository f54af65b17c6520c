"""The server-side gap filling gives the values of the client-side fill_gaps on real pixels."""
from __future__ import annotations

import ee
import numpy as np

from gee_crop.config import BANDS
from gee_crop.data.patch import read_patch
from gee_crop.earthengine.composite import TIME_BANDS, composite_band_names, gap_filled
from gee_crop.features.composite import arrays_from_stack, composite_medians, fill_gaps
from gee_crop.season import Season
from gee_crop.testing.ee_pixel_eval import evaluate_pixel


def _bins_of(medians_dn: np.ndarray) -> list[ee.Image]:
    """One image per bin as window_medians makes it: 10 bands + 10 per-band time bands, each band
    (and its time band) masked where that band's window median is missing: (10, t) DN."""
    bins = []
    for k in range(medians_dn.shape[1]):
        values = [ee.Image.constant(0.0 if np.isnan(v) else float(v)).rename(b).updateMask(int(not np.isnan(v)))
                  for b, v in zip(BANDS, medians_dn[:, k])]
        times = [ee.Image.constant(float(k)).rename(t).updateMask(int(not np.isnan(v)))
                 for t, v in zip(TIME_BANDS, medians_dn[:, k])]
        image = values[0]
        for band in values[1:] + times:
            image = image.addBands(band)
        bins.append(image)
    return bins


def test_server_gap_filling_matches_client_on_real_pixels(patch_dir):
    patch = read_patch(patch_dir)
    season = Season().span(2019)
    rows, cols = np.array([3, 20, 40, 60, 33, 12]), np.array([5, 50, 17, 60, 33, 44])
    dn = patch.dn[:, rows, cols, :].transpose(1, 0, 2)
    cloud = patch.cloud[:, rows, cols].T
    arrays = arrays_from_stack(dn, cloud, patch.dates, "scl")
    start = int(np.datetime64(season.start, "D").astype(np.int64))
    medians = composite_medians(arrays, start, season.window_days, season.n_bins) * 1e4  # DN
    kept = {}
    for max_gap in (3, 10):
        filled, keep = fill_gaps(medians, max_gap)
        kept[max_gap] = keep.tolist()
        for i in range(len(rows)):
            bands = evaluate_pixel(gap_filled(_bins_of(medians[i]), max_gap))
            assert [b[0] for b in bands] == composite_band_names(season.n_bins)
            server = np.array([b[1] for b in bands]).reshape(len(BANDS), season.n_bins)
            valid = {b[2] for b in bands}
            assert valid == {bool(keep[i])}, f"pixel {i}: mask differs (max gap {max_gap})"
            assert np.abs(server - np.round(filled[i])).max() <= 1.0  # DN, float32 vs float64 rounding
    # 22-28 of the 43 windows are empty on these real pixels: all are kept with a 10-bin gap limit,
    # none with 3 bins, and the server masks exactly the same pixels
    assert kept == {3: [False] * 6, 10: [True] * 6}


def test_a_band_missing_from_a_window_is_interpolated_on_its_own_windows(patch_dir):
    """The time band used to carry B2's mask for every band: a window where B2 is clear but B12 is
    not (real DN of the patch, one band knocked out) took B12 from the previous window on the server
    while the client interpolates B12 between its own valid windows. Per-band time bands agree."""
    patch = read_patch(patch_dir)
    season = Season().span(2019)
    dn = patch.dn[:, [20], [50], :].transpose(1, 0, 2)
    arrays = arrays_from_stack(dn, patch.cloud[:, [20], [50]].T, patch.dates, "scl")
    start = int(np.datetime64(season.start, "D").astype(np.int64))
    medians = composite_medians(arrays, start, season.window_days, season.n_bins) * 1e4
    valid_windows = np.flatnonzero(~np.isnan(medians[0, 0]))
    inner = valid_windows[(valid_windows > valid_windows[0]) & (valid_windows < valid_windows[-1])][0]
    medians[0, len(BANDS) - 1, inner] = np.nan  # B12 missing in a window where B2 is clear
    filled, keep = fill_gaps(medians, 10)
    bands = evaluate_pixel(gap_filled(_bins_of(medians[0]), 10))
    server = np.array([b[1] for b in bands]).reshape(len(BANDS), season.n_bins)
    assert keep[0] and {b[2] for b in bands} == {True}
    assert np.abs(server - np.round(filled[0])).max() <= 1.0
    previous = valid_windows[valid_windows < inner][-1]
    assert abs(filled[0, -1, inner] - medians[0, -1, previous]) > 1.0  # interpolation, not carry-forward
