"""Each sample's own season year, inferred from its dates on real data and read from the files."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gee_crop.testing.long_table import read_long_table
from gee_crop.errors import SeasonError
from gee_crop.features.composite import median_features
from gee_crop.features.seasons import (candidate_season_counts, checked_season_years, infer_season_year,
                                       infer_season_years, season_start_days)
from gee_crop.types import SampleSeries, concat


def test_france_2023_dekadal_is_2023_for_every_sample(fra23):
    # composites from Sep 2022 to Jan 2024: the May-Nov 2023 season holds most of every sample's
    assert fra23.season_counts == {2023: 500}  # the file's year column, borne out by the dates
    assert (infer_season_years(fra23) == 2023).all()  # the same without it


def test_flanders_2021_monthly_is_2021_for_every_sample(bel21):
    assert bel21.season_counts == {2021: 100}
    # three samples have as many clear months in Aug-Nov 2020 as in May-Nov 2021: the tie goes to the
    # season that covers the table best, not to the earlier year
    assert (infer_season_years(bel21) == 2021).all()


def test_patch_samples_and_long_table_are_2019(patch19, shared_data):
    assert len(patch19) == 477 and patch19.season_counts == {2019: 477}
    assert (infer_season_years(patch19) == 2019).all()
    pixels = read_long_table(next((shared_data / "wc-gee-patches").glob("derived_pixels_long_*.parquet")))
    assert pixels.season_counts == {2019: 267}


def test_a_claimed_year_the_dates_do_not_bear_out_is_replaced(bel21):
    years, replaced = checked_season_years(bel21, np.full(len(bel21), 2022))  # no composite after Nov 2021
    assert replaced == 100 and (years == 2021).all()
    years, replaced = checked_season_years(bel21, np.full(len(bel21), 2021))
    assert replaced == 0 and (years == 2021).all()


def test_mixed_table_gets_each_domain_its_own_year(fra23, patch19):
    both = dataclasses.replace(concat([fra23, patch19]), season_year=None)  # forget the readers' years
    years = infer_season_years(both)
    _, counts = candidate_season_counts(both)
    empty = counts.sum(axis=1) == 0  # one French sample has no composite in any season
    assert np.flatnonzero(empty).tolist() == [int(np.flatnonzero(years[:500] != 2023)[0])]
    assert (years[500:] == 2019).all()
    assert infer_season_year(both) == 2019  # one year for the whole table: the bug this replaces
    feats = median_features(both, max_gap_bins=12)
    assert feats.keep.sum() == 976 and np.array_equal(feats.years, years)
    assert median_features(both, year=2019, max_gap_bins=12).keep.sum() == 477  # a forced year drops France


def _synthetic_pair(lat_south: float = -30.0) -> SampleSeries:
    """Synthetic: a northern sample observed every 5 days over May-Nov 2020 with a smooth ramp, and a
    southern one with the same values over its season six months earlier (Nov 2020 - May 2021)."""
    t = 43
    north = np.datetime64("2020-05-01") + 5 * np.arange(t)
    south = np.datetime64("2020-11-01") + 5 * np.arange(t)
    ramp = (1000 + 100 * np.arange(t)).astype(np.uint16)
    dn = np.repeat(ramp[None, :, None], 10, axis=2).repeat(2, axis=0)
    ids = np.array(["north", "south"], dtype=object)
    return SampleSeries(ids, np.array([4.0, -60.0]), np.array([50.0, lat_south]), ids,
                        np.array(["wheat", "wheat"], dtype=object), np.array(["none", "none"], dtype=object),
                        np.stack([north, south]).astype("datetime64[D]"), dn, np.full((2, t), np.nan, np.float32))


def test_synthetic_southern_sample_gets_the_shifted_season():
    pair = _synthetic_pair()
    years = infer_season_years(pair)
    assert years.tolist() == [2020, 2021]  # the southern 2021 season starts on 1 Nov 2020
    assert season_start_days(pair.lat, years).astype("datetime64[D]").tolist() == [
        np.datetime64("2020-05-01").item(), np.datetime64("2020-11-01").item()]
    feats = median_features(pair)
    assert feats.keep.all() and np.array_equal(feats.values[0], feats.values[1])  # the same bins
    forced = median_features(pair, year=2020)  # the south's 2020 season (Nov 2019 - May 2020) is empty
    assert forced.keep.tolist() == [True, False]


def test_synthetic_table_with_no_clear_observation_names_the_cloud_column():
    pair = _synthetic_pair()
    pair.dn[:] = 0
    with pytest.raises(SeasonError, match="no clear observation at all"):
        infer_season_years(pair)
