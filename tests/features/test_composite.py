"""Median compositing over a season: equal to a plain per-sample reference, on the real patch."""
from __future__ import annotations

import re

import numpy as np
import pytest

from gee_crop.errors import SeasonError
from gee_crop.features.composite import (SeriesArrays, arrays_from_stack, composite_medians, composite_pixels,
                                         fill_gaps, median_features, prepare_series, stack_arrays)
from gee_crop.features.seasons import infer_season_year, season_start_days
from gee_crop.season import Season


def reference_medians(reflectance, days, start, window, n_bins):
    """Straightforward per-sample, per-bin, per-band loops (the definition in METHOD.md)."""
    n = reflectance.shape[0]
    out = np.full((n, 10, n_bins), np.nan, dtype=np.float32)
    for i in range(n):
        for k in range(n_bins):
            lo, hi = start[i] + k * window[i], start[i] + (k + 1) * window[i]
            in_bin = [j for j in range(days.shape[1]) if lo <= days[i, j] < hi]
            for b in range(10):
                values = [reflectance[i, j, b] for j in in_bin if not np.isnan(reflectance[i, j, b])]
                if values:
                    out[i, b, k] = np.median(values)
    return out


def _days(d: str) -> int:
    return int(np.datetime64(d, "D").astype(int))


@pytest.mark.parametrize("window, n_bins", [(5, 43), (15, 15), (30, 8)])
def test_compositing_equals_reference_on_real_pixels(patch_arrays, season_2019, window, n_bins):
    rng = np.random.default_rng(0)
    pick = rng.choice(len(patch_arrays), 120, replace=False)
    arrays = patch_arrays.subset(pick)
    start = season_2019[pick]
    got = composite_medians(arrays, start, window, n_bins)
    want = reference_medians(arrays.reflectance, arrays.days, start, np.full(len(pick), window), n_bins)
    assert got.shape == (120, 10, n_bins) and got.dtype == np.float32
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True)
    # 5-day windows of a 5-day revisit: some bins really hold two clear acquisitions (S2A + S2B)
    assert np.isfinite(got).mean() > 0.2


def test_per_sample_start_and_window_equal_reference(long_series):
    arrays = prepare_series(long_series)
    n = len(arrays)
    rng = np.random.default_rng(1)
    start = season_start_days(long_series.lat, 2019) + rng.integers(-40, 10, n)
    window = rng.integers(4, 8, n)
    got = composite_medians(arrays, start, window, 43)
    want = reference_medians(arrays.reflectance, arrays.days, start, window, 43)
    np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True)


def test_long_table_and_patch_agree(long_series, patch_series):
    """The long parquet holds the same pixels as the NetCDF patch: identical medians."""
    ids = [re.search(r"_r(\d+)c(\d+)$", s).groups() for s in long_series.sample_id]
    rows, cols = np.array(ids, dtype=int).T
    patch_sub = patch_series.subset(rows * 64 + cols)
    a = median_features(long_series, year=2019)
    b = median_features(patch_sub, year=2019)
    np.testing.assert_array_equal(a.values, b.values)


def test_bin_counts_and_season_starts(patch_series):
    assert median_features(patch_series.subset(np.arange(10)), year=2019).n_bins == 43
    feats = median_features(patch_series.subset(np.arange(10)), year=2019, season=Season(window_days=15))
    assert feats.n_bins == 15 and feats.values.shape == (10, 10, 15) and feats.flat.shape == (10, 150)
    starts = season_start_days(np.array([50.7, -30.0, 0.0]), 2023)
    assert starts.tolist() == [_days("2023-05-01"), _days("2022-11-01"), _days("2023-05-01")]
    assert starts[1] == np.datetime64(Season().span(2023, "south").start, "D").astype(int)
    assert season_start_days(np.array([10.0]), 2023, Season((4, 15)))[0] == _days("2023-04-15")


def test_arrays_from_stack_equals_prepare_series(patch, patch_series):
    pixels = np.arange(0, 4096, 97)
    rows, cols = np.divmod(pixels, 64)
    stack = arrays_from_stack(patch.dn[:, rows, cols].transpose(1, 0, 2), patch.cloud[:, rows, cols].T,
                              patch.dates, "scl")
    table = prepare_series(patch_series.subset(pixels))
    np.testing.assert_array_equal(stack.reflectance, table.reflectance)
    np.testing.assert_array_equal(stack.days, table.days)
    assert len(stack.subset(np.arange(3))) == 3


def test_stack_arrays_selects_pixels_and_dates(patch):
    rows, cols, dates = np.array([0, 5, 63]), np.array([7, 5, 0]), np.arange(10, 40)
    got = stack_arrays(patch, rows, cols, dates=dates)
    want = arrays_from_stack(patch.dn[10:40][:, rows, cols].transpose(1, 0, 2), patch.cloud[10:40][:, rows, cols].T,
                             patch.dates[10:40], "scl")
    np.testing.assert_array_equal(got.reflectance, want.reflectance)
    np.testing.assert_array_equal(got.days, want.days)


def test_composite_pixels_equals_the_old_chain_on_the_real_patch(patch, patch_series, season_2019):
    """composite_pixels (mask -> medians -> gap fill) gives bit for bit the chain it replaced."""
    t, h, w, n_bands = patch.dn.shape  # the chain as mapping and the notebooks wrote it before
    arrays = arrays_from_stack(patch.dn.reshape(t, h * w, n_bands).transpose(1, 0, 2),
                               patch.cloud.reshape(t, h * w).T, patch.dates, patch.cloud_kind)
    medians = composite_medians(arrays, season_2019, 5, 43)
    filled, keep = fill_gaps(medians, 10)
    for pixels in (patch_series, stack_arrays(patch), prepare_series(patch_series)):
        got = composite_pixels(pixels, season_2019, 5, 43, max_gap_bins=10)
        assert got.values.tobytes() == filled.tobytes() and np.array_equal(got.keep, keep)
        np.testing.assert_array_equal(got.empty, np.isnan(medians).all(axis=(1, 2)))
    assert keep.sum() == 4092


def test_infer_season_year(patch_series, patch_arrays):
    # May-Nov 2019 holds 32 acquisitions, the 2018 season only 19 (Aug-Nov)
    assert infer_season_year(patch_series) == 2019
    assert infer_season_year(patch_arrays) == 2019
    # read as southern samples, the Nov 2018 - May 2019 season is the one covered (2019)
    assert infer_season_year(patch_arrays, lat=-np.abs(patch_series.lat)) == 2019
    # only the 2018 part of the series: the 2018 season
    early = SeriesArrays(patch_arrays.reflectance[:, :20], patch_arrays.days[:, :20])
    assert infer_season_year(early) == 2018


def test_season_without_observations_says_which_year(patch_series):
    with pytest.raises(SeasonError, match=r"2022 season \(north: 2022-05-01 to 2022-11-30\).*"
                                          r"clear observations span 2018-08-04 to 2019-11-22: pass year=2019"):
        median_features(patch_series.subset(np.arange(50)), year=2022)


def test_all_cloudy_samples_name_the_cloud_column(patch_series):
    sub = patch_series.subset(np.arange(5))
    sub.cloud[:] = 9  # SCL cloud high probability everywhere
    with pytest.raises(SeasonError, match="no clear observation at all.*cloud_kind"):
        median_features(sub)
    with pytest.raises(SeasonError, match="no clear observation at all"):
        median_features(sub, year=2019)


def test_bad_window_names_the_fix(patch_series):
    with pytest.raises(SeasonError, match="window_days=0; use e.g. 213 and 5 days"):
        median_features(patch_series.subset(np.arange(3)), year=2019, season=Season(window_days=0))


def test_gap_rule_on_the_real_patch(patch_arrays, season_2019):
    """Numbers reported to the lead: pixels kept out of 4096 for several max_gap_bins (2019, SCL)."""
    medians = composite_medians(patch_arrays, season_2019, 5, 43)
    kept = {g: int(fill_gaps(medians, g)[1].sum()) for g in (6, 8, 9, 10, 43)}
    # 8 bins (40 days) drops 42 % of the pixels: the late-September gap is 9 bins long for most
    assert kept == {6: 2288, 8: 2360, 9: 4076, 10: 4092, 43: 4096}


def test_median_features_defaults(patch_series):
    feats = median_features(patch_series)
    assert feats.year == 2019 and feats.window_days == 5
    assert feats.values.shape == (4096, 10, 43) and feats.values.dtype == np.float32
    assert np.isfinite(feats.values).all()
    assert median_features(patch_series, max_gap_bins=9).keep.sum() == 4076
    # reflectance scale (DN / 1e4): vegetation NIR in summer well above red
    assert 0.0 < np.median(feats.values[:, 2]) < 0.2 < np.median(feats.values[:, 3]) < 0.6


def test_other_cloud_mix_and_missing_bands(shared_data):
    """openEO autumn cube (Antwerp 2023, SCL, only B2/B3/B4/B8): absent bands stay empty and drop the sample."""
    import xarray as xr

    from gee_crop.config import BAND_INDEX

    with xr.open_dataset(shared_data / "openeo-s2-cubes" / "test_optical_cube.nc", mask_and_scale=False) as ds:
        t, h, w = ds["S2-L2A-SCL"].shape
        dn = np.zeros((h * w, t, 10), dtype=np.uint16)
        for band in ("B2", "B3", "B4", "B8"):
            values = ds[f"S2-L2A-B0{band[1:]}"].values.astype(np.uint16)          # '_Unsigned' int16
            dn[:, :, BAND_INDEX[band]] = values.reshape(t, -1).T
        scl = ds["S2-L2A-SCL"].values.reshape(t, -1).T.astype(np.float32)
        dates = ds["t"].values.astype("datetime64[D]")
    arrays = arrays_from_stack(dn, scl, dates, "scl")
    start, window, n_bins = _days("2023-10-01"), 15, 7
    pick = np.random.default_rng(2).choice(h * w, 150, replace=False)
    got = composite_medians(arrays, start, window, n_bins)
    want = reference_medians(arrays.reflectance[pick], arrays.days[pick], np.full(150, start),
                             np.full(150, window), n_bins)
    np.testing.assert_allclose(got[pick], want, atol=1e-6, equal_nan=True)
    present = [BAND_INDEX[b] for b in ("B2", "B3", "B4", "B8")]
    assert np.isnan(np.delete(got, present, axis=1)).all()
    assert np.isfinite(got[:, present]).mean() > 0.3                  # autumn: many cloudy windows
    filled, keep = fill_gaps(got, max_gap_bins=n_bins)
    assert not keep.any() and (np.delete(filled, present, axis=1) == 0).all()
