"""The stratified estimators against the worked example of Olofsson et al. (2014) and a simulation."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.assessment.estimators import stratified_estimates

# Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E., Wulder, M. A. (2014). Good
# practices for estimating area and assessing accuracy of land change. Remote Sensing of Environment
# 148, 42-57: the example of Table 8 (strata mapped at 200,000 / 150,000 / 3,200,000 / 6,450,000
# Landsat pixels of 30 m; sample counts rows = map, columns = reference). The values below are those
# the paper prints on p. 54 (accuracies to 2 decimals, areas in ha); the R package mapaccuracy
# (H. Costa, CRAN) reproduces the same example in its `olofsson` help page ("compare to paper, p. 54"),
# and a public GEE reproduction quotes OA 0.947, UA 0.88 ± 0.07, PA 0.75 ± 0.21 and
# 235,086 ± 68,418 pixels (= 21,158 ± 6,158 ha) of deforestation.
CLASSES = ("deforestation", "forest gain", "stable forest", "stable non-forest")
PIXELS = np.array([200_000, 150_000, 3_200_000, 6_450_000])
COUNTS = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
LANDSAT_PIXEL_HA = 30 * 30 / 1e4


@pytest.fixture(scope="module")
def paper():
    return stratified_estimates(COUNTS, PIXELS, LANDSAT_PIXEL_HA, CLASSES)


def test_areas_and_confidence_intervals_match_the_paper(paper):
    np.testing.assert_array_equal(np.round(paper.area_ha), [21_158, 11_686, 285_770, 581_386])
    np.testing.assert_array_equal(np.round(paper.ci95(paper.area_ha_se)), [6_158, 3_756, 15_510, 16_282])
    # the pixel-count ("mapped") areas the paper contrasts them with
    np.testing.assert_array_equal(paper.mapped_ha, [18_000, 13_500, 288_000, 580_500])


def test_accuracies_match_the_paper(paper):
    np.testing.assert_array_equal(np.round(paper.users_accuracy, 2), [0.88, 0.73, 0.93, 0.96])
    np.testing.assert_array_equal(np.round(paper.ci95(paper.users_accuracy_se), 2), [0.07, 0.10, 0.04, 0.02])
    np.testing.assert_array_equal(np.round(paper.producers_accuracy, 2), [0.75, 0.85, 0.93, 0.96])
    assert round(float(paper.ci95(paper.producers_accuracy_se)[0]), 2) == 0.21
    assert round(paper.overall_accuracy, 2) == 0.95 and round(paper.overall_accuracy, 3) == 0.947
    assert round(paper.ci95(paper.overall_accuracy_se), 2) == 0.02


def test_proportions_are_a_distribution(paper):
    assert paper.proportions.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(paper.proportions.sum(axis=1), PIXELS / PIXELS.sum())
    assert paper.area_ha.sum() == pytest.approx(PIXELS.sum() * LANDSAT_PIXEL_HA)


def test_a_stratum_of_one_point_contributes_no_variance():
    counts = COUNTS.copy()
    counts[1] = [0, 1, 0, 0]
    one = stratified_estimates(counts, PIXELS, LANDSAT_PIXEL_HA, CLASSES)
    assert np.isfinite(one.area_ha_se).all() and one.users_accuracy_se[1] == 0


def test_estimators_are_unbiased_and_their_intervals_cover_the_truth():
    """Synthetic population (4 classes of 10-50 % area, known confusion); 2,000 stratified samples
    of 100-150 points per stratum: the mean area estimate is within 1 % of the truth and the 95 % CIs
    of OA and of every class area cover the truth in 93-97 % of draws."""
    rng = np.random.default_rng(2014)
    pixels = np.array([1_000_000, 2_500_000, 1_500_000, 5_000_000])
    # row i: reference classes of the pixels mapped as i (a realistic, imperfect map)
    truth_rows = np.array([[0.80, 0.10, 0.05, 0.05], [0.05, 0.85, 0.05, 0.05],
                           [0.10, 0.05, 0.75, 0.10], [0.02, 0.03, 0.05, 0.90]])
    true_cells = np.round(pixels[:, None] * truth_rows).astype(np.int64)
    true_area = true_cells.sum(axis=0).astype(float)
    true_oa = np.trace(true_cells) / true_cells.sum()
    per_stratum = np.array([100, 120, 100, 150])
    draws = 2_000
    areas = np.empty((draws, 4))
    covered_area = np.zeros(4)
    covered_oa = 0
    for d in range(draws):
        # sampling without replacement from each stratum's finite population of pixels
        counts = np.stack([rng.multivariate_hypergeometric(true_cells[i], per_stratum[i]) for i in range(4)])
        est = stratified_estimates(counts, pixels, 1.0, ("a", "b", "c", "d"))
        areas[d] = est.area_ha
        covered_area += np.abs(est.area_ha - true_area) <= est.ci95(est.area_ha_se)
        covered_oa += abs(est.overall_accuracy - true_oa) <= est.ci95(est.overall_accuracy_se)
    np.testing.assert_allclose(areas.mean(axis=0), true_area, rtol=0.01)
    coverage = np.append(covered_area, covered_oa) / draws
    assert ((coverage >= 0.93) & (coverage <= 0.97)).all(), coverage
