"""Sample size and allocation against their formulas (Olofsson et al. 2014 §5.1.2), and the draw."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gee_crop.assessment.design import allocate, draw_points, sample_size
from gee_crop.errors import InputError

# Olofsson et al. (2014) §5.1.2: W = (0.02, 0.015, 0.32, 0.645), anticipated U = (0.7, 0.6, 0.9, 0.95)
# and a target standard error of overall accuracy of 0.01 give n = 641.
WEIGHTS = np.array([0.02, 0.015, 0.32, 0.645])
EXPECTED_UA = np.array([0.7, 0.6, 0.9, 0.95])


def test_sample_size_of_the_papers_example():
    assert sample_size(WEIGHTS, EXPECTED_UA, 0.01) == 641


def test_sample_size_is_cochrans_formula():
    ua = np.full(4, 0.8)
    expected = math.ceil((np.sum(WEIGHTS * np.sqrt(ua * (1 - ua))) / 0.02) ** 2)
    assert sample_size(WEIGHTS, ua, 0.02) == expected == 400


@pytest.mark.parametrize("target, ua", [(0.0, 0.8), (1.0, 0.8), (0.01, 1.0), (0.01, 0.0)])
def test_sample_size_refuses_impossible_inputs(target, ua):
    with pytest.raises(InputError):
        sample_size(WEIGHTS, np.full(4, ua), target)


PIXELS = np.array([200_000, 150_000, 3_200_000, 6_450_000])


def test_proportional_allocation_follows_the_weights():
    counts = allocate(1000, PIXELS, "proportional", min_per_class=0)
    assert counts.sum() == 1000
    np.testing.assert_allclose(counts, 1000 * PIXELS / PIXELS.sum(), atol=1)


def test_equal_allocation():
    np.testing.assert_array_equal(allocate(400, PIXELS, "equal", min_per_class=0), [100, 100, 100, 100])


def test_optimal_allocation_is_neyman():
    ua = EXPECTED_UA
    counts = allocate(641, PIXELS, "optimal", expected_ua=ua, min_per_class=0)
    share = PIXELS * np.sqrt(ua * (1 - ua))
    np.testing.assert_allclose(counts, 641 * share / share.sum(), atol=1)
    assert counts.sum() == 641


def test_minimum_per_class_raises_rare_strata_and_caps_at_their_pixels():
    counts = allocate(641, np.array([30, 150_000, 3_200_000, 6_450_000]), "proportional", min_per_class=50)
    assert counts[0] == 30  # only 30 pixels exist
    assert counts[1] == 50  # raised from its proportional 10
    assert counts.sum() > 641


def test_a_class_without_pixels_gets_no_point():
    assert allocate(100, np.array([0, 10, 90]), "equal", min_per_class=5).tolist() == [0, 10, 50]


def test_draw_is_stratified_without_replacement_and_reproducible():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, size=(40, 50)).astype(np.uint8)  # synthetic class raster
    classes[:5] = 255
    counts = np.array([30, 20, 10])
    rows, cols = draw_points(classes, counts, seed=7)
    drawn = classes[rows, cols]
    assert np.bincount(drawn, minlength=3).tolist() == [30, 20, 10]
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 60
    again = draw_points(classes, counts, seed=7)
    assert np.array_equal(again[0], rows) and np.array_equal(again[1], cols)
