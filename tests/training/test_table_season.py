"""`gee-crop train` on a table sampled with its own season: the table's season is the contract's, and an
option the user GIVES wins even when its value is the paper's default (the defect: `--window-days 5` was
taken for "not given" because 5 is the default, so a 10-day table silently trained 10-day windows)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import read_table
from gee_crop.models.io import read_contract
from gee_crop.season import WINDOW_DAYS, Season
from gee_crop.training.trainer import TrainConfig, table_spec
from tests.training.realdata import one_torch_thread

TINY = ["--epochs", "1", "--widths", "8,8,8,8", "--batch-size", "64", "--max-gap-bins", "12", "--quiet"]


def _ok(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def ten_day_table(tmp_path_factory, patch_dir):
    """The shipped Flanders 2019 patch sampled densely (as tests/features/seasons does) with `--window-days 10`
    (the paper's May 1 + 213 days otherwise)."""
    out = tmp_path_factory.mktemp("ten_day") / "ten_day.parquet"
    _ok(["sample", "--source", str(patch_dir), "--window-days", "10", "--buffer-m", "10", "--spacing-m", "20",
         "--per-cell", "2000", "--out", str(out)])
    return out


def test_the_table_records_its_ten_day_season(ten_day_table):
    table = read_table(ten_day_table)
    assert table.season == Season(window_days=10) and table.season.n_bins == 22
    assert table.season_counts == {2019: 477}


@pytest.mark.parametrize("given, window, n_bins", [
    ([], 10, 22),                                        # not given: the table's window
    (["--window-days", str(WINDOW_DAYS)], 5, 43),        # given, even the paper's default value: it wins
    (["--window-days", "15"], 15, 15),
])
def test_train_window_days_given_wins_over_the_tables(ten_day_table, tmp_path, given, window, n_bins):
    assert WINDOW_DAYS == 5  # the case of the defect: the given value equals the default
    with one_torch_thread():
        _ok(["train", str(ten_day_table), "--out", str(tmp_path / "run"), *TINY, *given])
    contract = read_contract(tmp_path / "run" / "model.pt")
    assert contract.season == Season(window_days=window) and contract.n_bins == n_bins


def test_table_spec_tells_given_from_default_by_none(ten_day_table):
    """The resolver, without the CLI: None keeps the table's season, any given value replaces it."""
    table = read_table(ten_day_table)
    assert table_spec(TrainConfig().resolved(), table).season == Season(window_days=10)
    assert table_spec(TrainConfig(window_days=5).resolved(), table).season == Season()
    assert table_spec(TrainConfig(length_days=150).resolved(), table).season == Season(length_days=150, window_days=10)
