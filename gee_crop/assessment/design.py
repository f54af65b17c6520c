"""Stratified random sampling design for accuracy and area assessment (Olofsson et al. 2014, §5.1).

The strata are the map classes. The total sample size follows from a target standard error of
overall accuracy (Cochran 1977 eq. 5.25, Olofsson et al. 2014 eq. 13) and anticipated user's
accuracies; it is then allocated to the strata proportionally, equally or optimally (Neyman), with
a minimum per stratum so that rare classes get enough points for their user's accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gee_crop.config import StrChoiceEnum
from gee_crop.errors import InputError


class Allocation(StrChoiceEnum):
    """How the sample is spread over the strata."""

    PROPORTIONAL = "proportional"
    EQUAL = "equal"
    OPTIMAL = "optimal"


#: the one-line error of a map without a classified pixel to draw points from
NO_CLASSIFIED_PIXEL = (
    "the map has no classified pixel to sample (every pixel is nodata); check that --map is the map.tif of a "
    "finished `gee-crop map` run over the region you mean"
)


def sample_size(weights: np.ndarray, expected_ua: np.ndarray, target_se: float) -> int:
    """n = (sum_i W_i S_i / S(O))^2 with S_i = sqrt(U_i (1 - U_i)) (Olofsson et al. 2014 eq. 13).

    ``weights`` (k,) mapped area proportions W_i, ``expected_ua`` (k,) anticipated user's accuracies
    U_i, ``target_se`` the standard error S(O) wanted for overall accuracy.
    """
    if not 0 < target_se < 1:
        raise InputError(
            f"the target standard error of overall accuracy must be in (0, 1), got {target_se}; "
            "0.01 is the usual choice"
        )
    ua = np.asarray(expected_ua, dtype=np.float64)
    if ((ua <= 0) | (ua >= 1)).any():
        raise InputError(f"expected user's accuracies must be in (0, 1), got {ua.tolist()}; e.g. 0.8")
    spread = float(np.sum(np.asarray(weights) * np.sqrt(ua * (1 - ua))))
    return max(1, math.ceil((spread / target_se) ** 2))


def _round_to_total(shares: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``shares`` summing to ``total`` (largest remainder)."""
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def allocate(
    n: int,
    stratum_pixels: np.ndarray,
    allocation: Allocation | str = Allocation.PROPORTIONAL,
    *,
    expected_ua: np.ndarray | None = None,
    min_per_class: int = 50,
) -> np.ndarray:
    """Points per stratum: ``n`` spread by ``allocation``, each stratum raised to ``min_per_class``
    and capped at its pixel count (so the total may exceed ``n`` when minimums apply).

    proportional: n_i ∝ N_i; equal: n_i = n / k; optimal (Neyman): n_i ∝ N_i S_i with
    S_i = sqrt(U_i (1 - U_i)). Strata without pixels get no point.
    """
    pixels = np.asarray(stratum_pixels, dtype=np.int64)
    present = pixels > 0
    if not present.any():
        raise InputError(NO_CLASSIFIED_PIXEL)
    if n < 1 or min_per_class < 0:
        raise InputError(f"the sample size must be >= 1 and the minimum per class >= 0, got {n} and {min_per_class}")
    allocation = Allocation(allocation)
    if allocation == Allocation.PROPORTIONAL:
        shares: np.ndarray = pixels.astype(np.float64)
    elif allocation == Allocation.EQUAL:
        shares = present.astype(np.float64)
    else:
        ua = np.full(len(pixels), 0.8) if expected_ua is None else np.asarray(expected_ua, dtype=np.float64)
        shares = pixels * np.sqrt(ua * (1 - ua))
    counts = _round_to_total(np.where(present, shares, 0.0), n)
    counts = np.where(present, np.maximum(counts, min_per_class), 0)
    return np.minimum(counts, pixels)


def draw_points(classes: np.ndarray, counts: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random sample of raster cells: ``counts[k]`` cells drawn without replacement,
    uniformly among the cells of class ``k`` in ``classes`` (H, W). Returns (rows, cols), grouped by
    stratum in class order."""
    rng = np.random.default_rng(seed)
    flat = np.asarray(classes).ravel()
    picked = [rng.choice(np.flatnonzero(flat == k), size=int(c), replace=False) for k, c in enumerate(counts) if c > 0]
    index = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
    rows, cols = np.unravel_index(index, np.shape(classes))
    return rows, cols


#: Anticipated user's accuracy of every class when ``--expected-ua`` is not given.
DEFAULT_EXPECTED_UA = 0.8


def expected_accuracies(value: str | float | None, classes: tuple[str, ...]) -> np.ndarray:
    """Anticipated user's accuracies: one number for every class, or ``corn=0.9,other=0.7`` overrides
    over the default 0.8."""
    ua = np.full(len(classes), DEFAULT_EXPECTED_UA)
    if value is None or value == "":
        return ua
    text = str(value)
    if "=" not in text:
        try:
            return np.full(len(classes), float(text))
        except ValueError:
            raise InputError(
                f"--expected-ua {text!r}: give a number (0.8) or class=value pairs (corn=0.9,other=0.7)"
            ) from None
    for item in text.split(","):
        name, _, number = item.partition("=")
        if name.strip() not in classes:
            raise InputError(
                f"--expected-ua names class {name.strip()!r}, not in the map's legend ({', '.join(classes)})"
            )
        try:
            ua[classes.index(name.strip())] = float(number)
        except ValueError:
            raise InputError(f"--expected-ua {item!r}: the value must be a number, e.g. corn=0.9") from None
    return ua


DEFAULT_TARGET_SE = 0.01
DEFAULT_MIN_PER_CLASS = 50


@dataclass(frozen=True)
class SampleDesign:
    """How large the reference sample is and how it is spread over the strata: built once from the
    options of ``assess design`` and used whole by the local and the Earth Engine path."""

    n: int | None = None  # None: sized for target_se from the expected accuracies
    target_se: float = DEFAULT_TARGET_SE
    expected_ua: str | float | None = None
    allocation: str = Allocation.PROPORTIONAL
    min_per_class: int = DEFAULT_MIN_PER_CLASS


def points_per_stratum(
    stratum_sizes: np.ndarray, classes: tuple[str, ...], design: SampleDesign, available: np.ndarray
) -> tuple[np.ndarray, int]:
    """Points per stratum and the total n (given, or sized for ``target_se`` from the expected accuracies).
    InputError when no stratum has a pixel (an all-nodata map, or a region beside it)."""
    sizes = np.asarray(stratum_sizes, dtype=np.float64)
    if not (np.isfinite(sizes).all() and sizes.sum() > 0):
        raise InputError(NO_CLASSIFIED_PIXEL)
    weights = sizes / sizes.sum()
    ua = expected_accuracies(design.expected_ua, classes)
    total = int(design.n) if design.n is not None else sample_size(weights, ua, design.target_se)
    counts = allocate(total, available, design.allocation, expected_ua=ua, min_per_class=design.min_per_class)
    return counts, total
