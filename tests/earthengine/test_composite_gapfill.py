"""The server-side gap filling gives the values of the client-side fill_gaps on real pixels."""
from __future__ import annotations

import ee
import numpy as np

from gee_crop.config import BANDS, season_span
from gee_crop.data.patch import read_patch
from gee_crop.earthengine.composite import TIME_BAND, composite_band_names, gap_filled
from gee_crop.features.composite import arrays_from_stack, composite_medians, fill_gaps
from gee_crop.testing.ee_pixel_eval import evaluate_pixel


def _bins_of(medians_dn: np.ndarray) -> list[ee.Image]:
    """One constant image per bin (10 bands + t), masked where the bin is empty: (10, t) DN."""
    bins = []
    for k in range(medians_dn.shape[1]):
        column = medians_dn[:, k]
        valid = not np.isnan(column).any()
        values = [float(v) if valid else 0.0 for v in column] + [float(k)]
        bins.append(ee.Image.constant(values).rename([*BANDS, TIME_BAND]).updateMask(int(valid)))
    return bins


def test_server_gap_filling_matches_client_on_real_pixels(patch_dir):
    patch = read_patch(patch_dir)
    season = season_span(2019)
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
