"""Stratified estimators of accuracy and area (Olofsson et al. 2014, RSE 148, 42-57, eqs. 2-10).

The strata are the map classes; ``counts[i, j]`` is the number of sample points mapped as class
``i`` whose reference class is ``j``, and ``stratum_pixels[i]`` the number of map pixels of class
``i``. With W_i = N_i / N and n_i. the sample size of stratum i, the estimated area proportion of
cell (i, j) is p_ij = W_i n_ij / n_i. (eq. 4); every estimate below follows from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Two-sided 95 % normal quantile (Olofsson et al. 2014 use 1.96).
Z95 = 1.96


@dataclass(frozen=True)
class StratifiedEstimates:
    """Accuracy and area estimates of a map from a stratified sample; *_se are standard errors.

    ``proportions`` (k, k) estimated area proportions (rows map, columns reference);
    ``area_ha`` (k,) error-adjusted area per reference class; ``mapped_ha`` (k,) pixel-count area.
    """

    classes: tuple[str, ...]
    proportions: np.ndarray
    overall_accuracy: float
    overall_accuracy_se: float
    users_accuracy: np.ndarray
    users_accuracy_se: np.ndarray
    producers_accuracy: np.ndarray
    producers_accuracy_se: np.ndarray
    area_proportion: np.ndarray
    area_proportion_se: np.ndarray
    area_ha: np.ndarray
    area_ha_se: np.ndarray
    mapped_ha: np.ndarray
    sample_counts: np.ndarray

    def ci95(self, se: np.ndarray | float) -> np.ndarray | float:
        """Half-width of the 95 % confidence interval of an estimate with standard error ``se``."""
        return Z95 * np.asarray(se) if np.ndim(se) else Z95 * float(se)

    def to_dict(self) -> dict:
        """Plain-JSON summary (NaN where an estimate is undefined, e.g. a class absent from the sample)."""

        def values(a):
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]

        per_class = {}
        for k, name in enumerate(self.classes):
            per_class[name] = {
                "users_accuracy": values([self.users_accuracy[k]])[0],
                "users_accuracy_ci95": values([self.ci95(self.users_accuracy_se[k])])[0],
                "producers_accuracy": values([self.producers_accuracy[k]])[0],
                "producers_accuracy_ci95": values([self.ci95(self.producers_accuracy_se[k])])[0],
                "area_ha": values([self.area_ha[k]])[0],
                "area_ha_ci95": values([self.ci95(self.area_ha_se[k])])[0],
                "mapped_ha": values([self.mapped_ha[k]])[0],
                "sample_points_mapped": int(self.sample_counts[k].sum()),
                "sample_points_reference": int(self.sample_counts[:, k].sum()),
            }
        return {
            "overall_accuracy": self.overall_accuracy,
            "overall_accuracy_ci95": self.ci95(self.overall_accuracy_se),
            "classes": per_class,
            "error_matrix_area_proportions": [values(row) for row in self.proportions],
            "sample_counts": self.sample_counts.astype(int).tolist(),
        }


def _check_inputs(counts: np.ndarray, stratum_pixels: np.ndarray) -> None:
    k = len(stratum_pixels)
    if counts.shape != (k, k):
        raise ValueError(f"counts must be ({k}, {k}) for {k} strata, got {counts.shape}")
    if (counts < 0).any() or (stratum_pixels < 0).any():
        raise ValueError("counts and stratum sizes must be non-negative")


def stratified_estimates(
    counts: np.ndarray, stratum_pixels: np.ndarray, pixel_area_ha: float, classes: tuple[str, ...] | list[str]
) -> StratifiedEstimates:
    """Olofsson et al. (2014) estimators for a stratified random sample with the map classes as strata.

    Variances omit the finite population correction, as in the paper (negligible when the sample is a
    tiny share of the map). A stratum with fewer than 2 sample points has no variance estimate: its terms contribute 0
    to the variances (documented limit; ``design`` keeps every stratum at ``min_per_class`` points).
    A stratum with no point at all leaves its row of proportions at 0 (its area cannot be
    attributed), so estimates for that map class are NaN.
    """
    counts = np.asarray(counts, dtype=np.float64)
    pixels = np.asarray(stratum_pixels, dtype=np.float64)
    _check_inputs(counts, pixels)
    weights = pixels / pixels.sum()
    n_i = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_i[:, None] > 0, counts / n_i[:, None], 0.0)  # n_ij / n_i.
        proportions = weights[:, None] * share  # eq. 4
        # (n_i. - 1) in the denominators; a stratum of one point has no variance estimate
        inv_dof = np.where(n_i > 1, 1.0 / np.maximum(n_i - 1, 1), 0.0)
        users = np.diag(proportions) / proportions.sum(axis=1)  # eq. 2
        producers = np.diag(proportions) / proportions.sum(axis=0)  # eq. 3
        overall = float(np.trace(proportions))  # eq. 1
        cell_var = weights[:, None] ** 2 * share * (1 - share) * inv_dof[:, None]
        area_prop_se = np.sqrt(cell_var.sum(axis=0))  # eq. 10
        users_var = users * (1 - users) * inv_dof  # eq. 6
        overall_var = float(np.nansum(weights**2 * users * (1 - users) * inv_dof))  # eq. 5
        # eq. 7: N_.j estimated from the stratum sizes
        col_totals = (pixels[:, None] * share).sum(axis=0)
        diag_share = np.diag(share)
        own = pixels**2 * (1 - producers) ** 2 * users * (1 - users) * inv_dof
        others = (pixels[:, None] ** 2 * share * (1 - share) * inv_dof[:, None]).sum(
            axis=0
        ) - pixels**2 * diag_share * (1 - diag_share) * inv_dof
        producers_var = (own + producers**2 * others) / col_totals**2
    total_ha = pixels.sum() * pixel_area_ha
    area_prop = proportions.sum(axis=0)
    return StratifiedEstimates(
        classes=tuple(classes),
        proportions=proportions,
        overall_accuracy=overall,
        overall_accuracy_se=float(np.sqrt(overall_var)),
        users_accuracy=users,
        users_accuracy_se=np.sqrt(users_var),
        producers_accuracy=producers,
        producers_accuracy_se=np.sqrt(producers_var),
        area_proportion=area_prop,
        area_proportion_se=area_prop_se,
        area_ha=area_prop * total_ha,
        area_ha_se=area_prop_se * total_ha,
        mapped_ha=pixels * pixel_area_ha,
        sample_counts=counts.astype(np.int64),
    )
