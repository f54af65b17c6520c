"""Gap filling and the discard rule, on small synthetic median rows (pure logic)."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.features.composite import fill_gaps

nan = np.nan


def synthetic(row, n_bands=10):
    """One synthetic sample whose 10 bands all hold ``row`` (scaled per band so bands differ)."""
    row = np.asarray(row, dtype=np.float32)
    return (row[None, :] * np.arange(1, n_bands + 1, dtype=np.float32)[:, None])[None]


def test_linear_interpolation_and_edges():
    filled, keep = fill_gaps(synthetic([nan, 1, nan, nan, 4, nan]))
    np.testing.assert_allclose(filled[0, 0], [1, 1, 2, 3, 4, 4])
    np.testing.assert_allclose(filled[0, 9], np.array([1, 1, 2, 3, 4, 4]) * 10)
    assert filled.dtype == np.float32 and keep.tolist() == [True]


def test_uneven_interpolation():
    filled, _ = fill_gaps(synthetic([0.2, nan, nan, nan, 0.6]))
    np.testing.assert_allclose(filled[0, 0], [0.2, 0.3, 0.4, 0.5, 0.6], atol=1e-7)


@pytest.mark.parametrize("max_gap", [1, 3, 8])
def test_discard_rule_inside_and_at_edges(max_gap):
    t = 30

    def with_gap(start, length):
        row = np.linspace(0.1, 0.5, t)
        row[start:start + length] = nan
        return synthetic(row)

    cases = {
        "inner max": (with_gap(10, max_gap), True),
        "inner max+1": (with_gap(10, max_gap + 1), False),
        "leading max": (with_gap(0, max_gap), True),
        "leading max+1": (with_gap(0, max_gap + 1), False),
        "trailing max": (with_gap(t - max_gap, max_gap), True),
        "trailing max+1": (with_gap(t - max_gap - 1, max_gap + 1), False),
    }
    medians = np.concatenate([c[0] for c in cases.values()])
    _, keep = fill_gaps(medians, max_gap)
    assert dict(zip(cases, keep.tolist())) == {k: c[1] for k, c in cases.items()}


def test_gap_in_one_band_discards_the_sample():
    medians = synthetic(np.linspace(0.1, 0.5, 20))
    medians[0, 4, 2:8] = nan
    filled, keep = fill_gaps(medians, 5)
    assert keep.tolist() == [False]
    np.testing.assert_allclose(filled[0, 4], medians[0, 4, 0] + (medians[0, 4, 1] - medians[0, 4, 0])
                               * np.arange(20), rtol=1e-5)


def test_empty_sample_is_zero_and_dropped():
    medians = np.concatenate([synthetic([nan] * 6), synthetic([1, 2, 3, 4, 5, 6])])
    medians[1, 3] = nan  # one band of sample 1 without any valid bin
    filled, keep = fill_gaps(medians, max_gap_bins=100)
    assert keep.tolist() == [False, False]
    assert (filled[0] == 0).all() and (filled[1, 3] == 0).all() and (filled[1, 2] == [3, 6, 9, 12, 15, 18]).all()


def test_full_rows_untouched():
    medians = np.random.default_rng(0).random((4, 10, 43), dtype=np.float32)  # synthetic
    filled, keep = fill_gaps(medians, 0)
    assert keep.all() and np.array_equal(filled, medians)
