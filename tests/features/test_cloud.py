"""Cloud masking: every cloud_kind read against the threshold, on real SCL and s2cloudless data."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.errors import InputError
from gee_crop.features.cloud import clear_mask
from gee_crop.features.composite import prepare_series


def test_score_threshold_is_inclusive_and_nan_is_cloudy():
    score = np.array([[0.74, 0.75, 0.9, np.nan]], dtype=np.float32)
    for kind in ("cs", "cs_cdf"):
        assert clear_mask(score, kind).tolist() == [[False, True, True, False]]
    assert clear_mask(score, "cs", threshold=0.8).tolist() == [[False, False, True, False]]


def test_kind_none_keeps_everything_even_nan():
    assert clear_mask(np.array([[np.nan, 3.0]]), "none").all()


def test_scl_clear_fraction_of_the_real_patch(patch):
    # PROVENANCE.md: clear fraction (SCL 4 or 5) of the patch is 0.454
    clear = clear_mask(patch.cloud, "scl")
    assert clear.mean() == pytest.approx(0.454, abs=5e-4)
    assert np.array_equal(clear, (patch.cloud == 4) | (patch.cloud == 5))


def test_cloud_probability_matches_s2cloudless_mask(shared_data):
    clp = np.load(shared_data / "eolearn-cloudprob" / "data_CLP.npy")[..., 0]     # cloud probability 0..1
    clm = np.load(shared_data / "eolearn-cloudprob" / "mask_CLM.npy")[..., 0].astype(bool)
    percent = (clp * 100).astype(np.float32)
    # cloud_probability (%) and Cloud Score+ style "clear probability" agree on the same threshold
    assert np.array_equal(clear_mask(percent, "cloud_probability"), clear_mask(1 - clp, "cs"))
    # s2cloudless flags cloud at p > 0.4: our threshold 0.6 reproduces its mask (PROVENANCE: 96.6 % agree)
    agree = (clear_mask(percent, "cloud_probability", threshold=0.6) == ~clm).mean()
    assert agree > 0.96


def test_exact_percent_boundary():
    assert clear_mask(np.array([[25.0, 25.5]], dtype=np.float32), "cloud_probability").tolist() == [[True, False]]


def test_per_sample_kinds():
    cloud = np.array([[4, 9], [0.9, 0.1], [20, 90]], dtype=np.float32)
    kinds = np.array(["scl", "cs", "cloud_probability"], dtype=object)
    assert clear_mask(cloud, kinds).tolist() == [[True, False], [True, False], [True, False]]


def test_unknown_kind_names_the_fix():
    with pytest.raises(InputError, match=r"unknown cloud_kind 'qa60'.*use one of cs, cs_cdf, scl"):
        clear_mask(np.zeros((1, 2)), np.array(["qa60"]))


def test_prepare_series_masks_clouds_padding_and_dn0_per_band(patch_series):
    sub = patch_series.subset(np.arange(5))
    sub.dn[0, 3, 2] = 0                       # one band without data (as at a swath edge)
    sub.cloud[1, :] = 4                       # pixel 1 fully clear
    arrays = prepare_series(sub)
    assert arrays.reflectance.shape == (5, 72, 10) and arrays.reflectance.dtype == np.float32
    assert np.isnan(arrays.reflectance[0, 3, 2]) and np.isfinite(arrays.reflectance[1, 3, 2])
    assert np.isfinite(arrays.reflectance[1, 3]).sum() == 10 - (sub.dn[1, 3] == 0).sum()
    cloudy = ~np.isin(sub.cloud[2], [4, 5])
    assert np.isnan(arrays.reflectance[2, cloudy]).all()
    assert np.allclose(arrays.reflectance[2, ~cloudy], sub.dn[2, ~cloudy] / 1e4, rtol=1e-6)
    assert arrays.days[0, 0] == np.datetime64("2018-08-04", "D").astype(int)
