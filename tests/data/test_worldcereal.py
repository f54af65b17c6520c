"""WorldCereal extractions: classes per PROVENANCE.md, no-data handling, B8A fill, composite dates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gee_crop.config import BANDS
from gee_crop.data.table import read_table, write_table
from gee_crop.data.worldcereal import ewoc_class_map, read_worldcereal
from gee_crop.errors import InputError

FRA_2023 = "2023_FRA_LPIS_POLY_110_dekadal.geoparquet"
FRA_2022 = "2022_FRA_LPIS_POLY_110_monthly.geoparquet"
BEL_2021 = "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"
S2_COLUMNS = ["S2-L2A-B02", "S2-L2A-B03", "S2-L2A-B04", "S2-L2A-B08", "S2-L2A-B05", "S2-L2A-B06",
              "S2-L2A-B07", "S2-L2A-B11", "S2-L2A-B12"]


@pytest.fixture(scope="module")
def wc(shared_data):
    return shared_data / "wc-extractions"


@pytest.mark.parametrize(("name", "region", "n_obs", "expected"), [
    (FRA_2023, "FRA", (37, 51), {"other": 338, "corn": 88, "wheat": 61, "soybeans": 13}),
    (FRA_2022, "FRA", (17, 17), {"other": 493, "corn": 6, "wheat": 1}),
    (BEL_2021, "BEL", (16, 16), {"other": 86, "corn": 12, "wheat": 2}),
])
def test_class_counts_match_provenance(wc, name, region, n_obs, expected):
    series = read_worldcereal(wc / name)
    counts = dict(zip(*np.unique(series.crop_class.astype(str), return_counts=True)))
    assert counts == expected
    assert set(series.region) == {region} and set(series.cloud_kind) == {"none"}
    assert (series.n_obs.min(), series.n_obs.max()) == n_obs
    assert np.isnan(series.cloud).all()


def test_class_map_follows_the_worldcereal_legend(wc):
    classes = ewoc_class_map(wc / "ewoc_crop_type_class_mappings.csv")
    assert classes[1101060000] == "corn"           # maize
    assert classes[1101060001] == "corn"           # grain maize
    assert classes[1106000020] == "soybeans"       # soy_soybeans
    assert classes[1101080000] == "rice"
    assert classes[1101010011] == "wheat"          # winter common soft wheat
    assert classes[1101010012] == "wheat"          # spring common soft wheat
    assert classes[1111010100] == "sugarcane"      # sugar_cane (sampling label grass_fodder_crops)
    assert classes[1108000010] == "cotton"         # cotton (sampling label fibre_crops)
    assert classes[1101020011] == "other"          # winter barley
    assert classes[2001020022] == "other"          # long-term meadows


def test_no_data_65535_becomes_dn_0_and_dates_are_kept(wc):
    raw = pd.read_parquet(wc / FRA_2023)
    all_missing = int((raw[S2_COLUMNS] == 65535).all(axis=1).sum())
    assert all_missing == 11343  # PROVENANCE.md
    series = read_worldcereal(wc / FRA_2023)
    present = ~np.isnat(series.dates)
    assert present.sum() == len(raw) == 24684
    assert int(((series.dn == 0).all(axis=-1) & present).sum()) == all_missing
    assert series.dn.max() < 65535


def test_partial_no_data_is_per_band(wc):
    raw = pd.read_parquet(wc / BEL_2021)
    partial = (raw[S2_COLUMNS] == 65535).any(axis=1) & ~(raw[S2_COLUMNS] == 65535).all(axis=1)
    assert partial.sum() == 5
    series = read_worldcereal(wc / BEL_2021, date_position="start")
    row = raw[partial].iloc[0]
    i = int(np.flatnonzero(series.sample_id == row["sample_id"])[0])
    j = int(np.flatnonzero(series.dates[i] == np.datetime64(row["timestamp"], "D"))[0])
    for b, band in enumerate(BANDS):
        column = "S2-L2A-B8A" if band == "B8A" else S2_COLUMNS[b if b < 7 else b - 1]
        value = int(row[column])
        if band == "B8A":
            value = int(row["S2-L2A-B08"]) if row["S2-L2A-B08"] != 65535 else 0
        assert series.dn[i, j, b] == (0 if value == 65535 else value)


def test_b8a_is_filled_from_b8_by_default_and_only_then(wc):
    filled = read_worldcereal(wc / BEL_2021)
    b8, b8a = BANDS.index("B8"), BANDS.index("B8A")
    assert np.array_equal(filled.dn[..., b8a], filled.dn[..., b8])
    assert filled.extra["b8a_filled"].all()
    raw = read_worldcereal(wc / BEL_2021, fill_b8a=False)
    assert (raw.dn[..., b8a] == 0).all() and not raw.extra["b8a_filled"].any()


def test_composites_are_dated_mid_period_unless_asked(wc):
    mid = read_worldcereal(wc / FRA_2023)
    start = read_worldcereal(wc / FRA_2023, date_position="start")
    assert str(start.dates[0, 0]) == "2022-09-01" and str(mid.dates[0, 0]) == "2022-09-06"
    days = (start.dates[0, :3]).astype(str).tolist()
    assert days == ["2022-09-01", "2022-09-11", "2022-09-21"]
    assert mid.dates[0, :3].astype(str).tolist() == ["2022-09-06", "2022-09-16", "2022-09-26"]
    monthly = read_worldcereal(wc / BEL_2021)
    assert monthly.dates[0, :2].astype(str).tolist() == ["2020-08-16", "2020-09-16"]
    with pytest.raises(InputError, match="date_position"):
        read_worldcereal(wc / BEL_2021, date_position="end")


def test_round_trip_through_the_sample_table(wc, tmp_path):
    series = read_worldcereal(wc / BEL_2021)
    back = read_table(write_table(series, tmp_path / "bel.parquet"))
    assert np.array_equal(back.dn, series.dn) and np.array_equal(back.dates, series.dates)
    assert np.array_equal(back.crop_class, series.crop_class)
    assert np.array_equal(back.extra["b8a_filled"], series.extra["b8a_filled"])


def test_bad_inputs_are_named(wc, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_worldcereal(tmp_path / "absent.parquet")
    stub = pd.DataFrame({"sample_id": ["a"], "timestamp": [pd.Timestamp("2023-01-01")]})  # synthetic
    stub.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(InputError, match="lacks column"):
        read_worldcereal(tmp_path / "x.parquet", class_map={})
    with pytest.raises(InputError, match="not in the class-mapping table"):
        read_worldcereal(wc / BEL_2021, class_map={1101060000: "corn"})


def test_readers_feed_the_median_features(wc, shared_data):
    from gee_crop.testing.long_table import read_long_table
    from gee_crop.features.composite import median_features

    bel = median_features(read_worldcereal(wc / BEL_2021))
    assert bel.values.shape == (100, len(BANDS), 43) and bel.year == 2021
    pixels = median_features(read_long_table(shared_data / "wc-gee-patches"
                                             / "derived_pixels_long_0000280849BAC91C.parquet"))
    assert pixels.values.shape == (267, len(BANDS), 43) and pixels.year == 2019
