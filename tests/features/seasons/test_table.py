"""The season_year column of the sample table: written, read back, inferred when absent."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gee_crop.data.table import SEASON_YEAR_COLUMN, from_arrow, read_table, to_arrow, write_table
from gee_crop.errors import SampleTableError
from gee_crop.features.composite import prepare_series
from gee_crop.types import concat


@pytest.fixture(scope="module")
def mixed(fra23, patch19):
    """France 2023 and Flanders 2019 samples in one table."""
    return concat([fra23, patch19])


def test_round_trip_keeps_each_samples_year(mixed, tmp_path):
    assert mixed.season_counts == {2019: 477, 2023: 500}
    path = write_table(mixed, tmp_path / "mixed.parquet")
    assert pq.read_schema(path).field(SEASON_YEAR_COLUMN).type == pa.int16()
    back = read_table(path)
    assert np.array_equal(back.season_year, mixed.season_year) and SEASON_YEAR_COLUMN not in back.extra
    sub = back.subset(np.arange(495, 505))
    assert sub.season_year.tolist() == [2023] * 5 + [2019] * 5


def test_absent_or_null_years_are_inferred_per_sample(mixed):
    table = to_arrow(mixed)
    # every sample with a clear observation gets the year the reader gave it; the one French sample
    # without any takes the year covering the table best (it is dropped as gap-heavy anyway)
    seen = prepare_series(mixed).observed.any(axis=1)
    assert (~seen).sum() == 1
    without = from_arrow(table.drop_columns([SEASON_YEAR_COLUMN]))
    assert np.array_equal(without.season_year[seen], mixed.season_year[seen])
    years = mixed.season_year.astype(object)
    years[::3] = None
    holes = table.set_column(table.schema.get_field_index(SEASON_YEAR_COLUMN), SEASON_YEAR_COLUMN,
                             pa.array(years.tolist(), type=pa.int16()))
    assert np.array_equal(from_arrow(holes).season_year[seen], mixed.season_year[seen])


def test_stored_year_wins_over_the_dates(mixed):
    table = to_arrow(mixed)
    forced = table.set_column(table.schema.get_field_index(SEASON_YEAR_COLUMN), SEASON_YEAR_COLUMN,
                              pa.array(np.full(len(mixed), 2022, dtype=np.int16)))
    assert from_arrow(forced).season_counts == {2022: 977}


def test_a_year_column_that_is_not_whole_years_names_the_fix(mixed):
    table = to_arrow(mixed.subset(np.arange(3)))
    bad = table.set_column(table.schema.get_field_index(SEASON_YEAR_COLUMN), SEASON_YEAR_COLUMN,
                           pa.array(["2023"] * 3))
    with pytest.raises(SampleTableError, match="season_year holds string.*drop the column"):
        from_arrow(bad)


def test_concat_of_a_table_without_years_leaves_them_to_inference(fra23, patch19):
    unknown = patch19.subset(np.arange(5))
    unknown.season_year = None
    assert concat([fra23, unknown]).season_year is None
    assert concat([fra23.subset(np.arange(2)), patch19.subset(np.arange(2))]).season_year.tolist() == [
        2023, 2023, 2019, 2019]
