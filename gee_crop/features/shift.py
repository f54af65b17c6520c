"""Transfer risk: how far target inputs are from what a model was trained on (issue 12, item 3).

At training time :func:`fit_domain_summary` condenses the training inputs into a :class:`DomainSummary`
of a few thousand floats (stored in the model file as ``domain_summary``); ``evaluate`` and ``map``
then score target inputs against it with :func:`tally_shift`, whose :class:`ShiftTally` adds up over
batches and tiles, so a whole map is scored without holding its pixels.

The summary (measured on the WorldCereal extractions and the Flanders patch; docs/mapping.md):

* **descriptors** of an (n, bands, t) median composite: log reflectance averaged over
  :data:`SEGMENTS` equal stretches of the season (about a month each in the paper's season; a
  cadence-independent view of the phenology), plus per band the log of the mean absolute second
  difference over time (how rough the series is: dense 5-day, dekadal and gap-filled monthly inputs
  differ here by a factor 3-20). Other inputs (harmonic coefficients) are used as they are.
* a PCA of the training descriptors to :data:`COMPONENTS` components; the distance of a sample is
  ``sqrt((T2 / k + Q / Q_train) / 2)``: T2 the Mahalanobis distance inside the components, Q the
  squared residual outside them, each scaled to 1 for a typical training sample, so a shift the
  components do not span still counts.
* the **calibration** comes from :data:`FOLDS`-fold cross-fitting (each training sample scored by a
  PCA fitted without it), so that in-distribution data score as nominal: about 1 % beyond
  ``ood_distance`` (the 99th percentile) and a ``shift`` near 1.

Scores of a set of inputs (:meth:`ShiftTally.score`): ``ood_share`` (share beyond the training 99th
percentile; nominal 0.01), ``shift`` (geometric mean of distance / the training samples' geometric
mean distance; nominal 1) and ``low_confidence_share`` (share whose highest class probability is
below :data:`LOW_CONFIDENCE`). A model without a summary scores as unavailable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, astuple, dataclass

import numpy as np

#: Version of the summary's layout; a summary of another version is treated as unavailable.
SUMMARY_VERSION = 1
#: Season stretches the log reflectance is averaged over (7: about 30 days each in 213 days).
SEGMENTS = 7
#: PCA components kept (fewer when the training set or the descriptors are smaller).
COMPONENTS = 16
#: Cross-fitting folds of the calibration (sample i is in fold i mod FOLDS: deterministic).
FOLDS = 5
#: Fewest training samples a summary is fitted on (below it, none is stored: scores unavailable).
MIN_SAMPLES = 20
#: Lowest reflectance the logarithm sees (10 DN): dark water and gap values stay finite.
REFLECTANCE_FLOOR = 1e-3
#: Floor of the roughness before its logarithm (a perfectly smooth series).
ROUGHNESS_FLOOR = 1e-3
#: The training percentile beyond which an input counts as unlike the training data.
OOD_QUANTILE = 0.99
#: A pixel is low-confidence when its highest class probability is below this (no class is even odds).
LOW_CONFIDENCE = 0.5
#: Warn when more than this share of the inputs is beyond the training 99th percentile (10x nominal) ...
OOD_SHARE_WARNING = 0.10
#: ... or when the shift (nominal 1) is at least this ...
SHIFT_WARNING = 1.5
#: ... and, separately, when more than this share of the pixels is low-confidence. Calibrated on the
#: transfer benchmark (docs/transfer.md): over 386 (model, target, seed) points, the 89 above 2 %
#: lost a median 15.5 OA points against the target's own-label accuracy, the others 4.2 (62 of the
#: 89 drops over 10 points flagged, 27 false alarms).
LOW_CONFIDENCE_WARNING = 0.02
#: Samples scored at once (:meth:`DomainSummary.distances`): about 0.5 MB of float32 working values each,
#: which stay in a core's own cache (on a busy machine 1,024 samples at once were 1.8x slower per sample).
BLOCK = 256
#: A map tile of more than this many classified pixels is scored on a sample (:func:`sample_stride`): the
#: shift score of every pixel cost a map as much as its model (issue 24); tiles up to 64 x 64 px score all.
SAMPLE_ABOVE = 4096
#: ... every SAMPLE_STRIDE-th of its pixels (raster order), each standing for the SAMPLE_STRIDE from it.
SAMPLE_STRIDE = 8
#: Significant digits of the stored floats (keeps the summary a few kB; fitting rounds, so a summary
#: read back from JSON scores exactly as the one fitted).
DIGITS = 4
#: Where users read what the scores mean and what to do.
DOCS = "docs/mapping.md (Transfer risk)"


def _round(values: np.ndarray | np.floating | float) -> np.ndarray:
    return np.asarray([float(f"{v:.{DIGITS}g}") for v in np.ravel(values)], dtype=np.float64).reshape(np.shape(values))


def descriptors(inputs: np.ndarray, input_shape: tuple[int, ...], transform: str) -> np.ndarray:
    """(n, D) float64 descriptors of model inputs ``inputs`` (any shape (n, ...) holding
    ``prod(input_shape)`` values per sample; reflectance for "log_reflectance")."""
    if transform == "identity":
        return np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    # float32 until the (n, D) descriptors, each working array made once and changed in place: a map tile
    # holds ~10^7 values, and float64 logarithms or a fresh temporary per step cost more than the model.
    # Elementwise numpy only (no BLAS): a sample's descriptors are the same bits in any batch.
    x = np.asarray(inputs, dtype=np.float32).reshape(len(inputs), *input_shape)
    bins = input_shape[1]
    logs = np.maximum(x, np.float32(REFLECTANCE_FLOOR))
    np.log(logs, out=logs)
    edges = np.linspace(0, bins, min(SEGMENTS, bins) + 1).round().astype(int)
    segments = np.add.reduceat(logs, edges[:-1], axis=2)
    segments /= np.diff(edges).astype(np.float32)
    parts = [segments.reshape(len(x), -1)]
    if bins >= 3:
        curvature = logs[:, :, 2:] + logs[:, :, :-2]
        curvature -= np.multiply(logs[:, :, 1:-1], np.float32(2))
        np.abs(curvature, out=curvature)
        roughness = curvature.mean(axis=2)
        roughness += np.float32(ROUGHNESS_FLOOR)
        parts.append(np.log(roughness, out=roughness))
    return np.concatenate(parts, axis=1).astype(np.float64)


@dataclass(frozen=True)
class _Pca:
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D) orthonormal rows
    variances: np.ndarray  # (k,)
    residual_variance: float  # expected squared residual of a training sample (0: none outside)

    @classmethod
    def fit(cls, x: np.ndarray, k: int) -> _Pca:
        mean = x.mean(axis=0)
        centred = x - mean
        # SVD of the centred data: singular vectors in a deterministic order and sign (largest first,
        # each component's largest loading positive)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        variances = s**2 / max(len(x) - 1, 1)
        sign = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
        vt = vt * sign[:, None]
        k = min(k, len(vt))
        floor = 1e-9 + 1e-6 * (variances[0] if len(variances) else 0.0)
        residual = float(variances[k:].sum()) if x.shape[1] > k else 0.0
        return cls(mean, vt[:k], np.maximum(variances[:k], floor), residual)

    def distances(self, x: np.ndarray) -> np.ndarray:
        centred = x - self.mean
        scores = centred @ self.components.T
        d2 = (scores**2 / self.variances).sum(axis=1) / len(self.variances)
        if self.residual_variance > 0:
            residual = np.maximum((centred**2).sum(axis=1) - (scores**2).sum(axis=1), 0.0)
            d2 = (d2 + residual / self.residual_variance) / 2
        return np.sqrt(d2)


@dataclass(frozen=True)
class DomainSummary:
    """The training distribution of a model's inputs, as stored in its file (see the module docstring)."""

    transform: str  # "log_reflectance" ((bands, t) medians) or "identity" (other vectors)
    input_shape: tuple[int, ...]  # per-sample input shape the summary was fitted on: (bands, t) or (F,)
    pca: _Pca
    ood_distance: float  # cross-fitted 99th percentile distance of the training samples
    reference_distance: float  # their geometric mean distance (shift 1)
    quantiles: dict  # cross-fitted distance quantiles {"0.5": .., "0.9": .., "0.99": ..}
    n_samples: int

    def distances(self, inputs: np.ndarray) -> np.ndarray:
        """(n,) distances of model inputs (reflectance medians (n, bands, t) in any model shape, or
        (n, F) vectors) from the training distribution; ValueError when their size differs."""
        if int(np.prod(np.shape(inputs)[1:])) != int(np.prod(self.input_shape)):
            raise ValueError(f"inputs of shape {np.shape(inputs)} do not match the summary's {self.input_shape}")
        if len(inputs) == 0:
            return np.zeros(0)
        # in blocks of BLOCK samples: each block's working arrays stay in the CPU cache (a whole map tile's are
        # hundreds of MB, and their passes over memory cost more than the model); a sample's descriptors are the
        # same in any block
        return np.concatenate(
            [
                self.pca.distances(descriptors(inputs[lo : lo + BLOCK], self.input_shape, self.transform))
                for lo in range(0, len(inputs), BLOCK)
            ]
        )

    def to_dict(self) -> dict:
        """Plain JSON (the ``domain_summary`` entry of a model file)."""
        return {
            "version": SUMMARY_VERSION,
            "transform": self.transform,
            "input_shape": list(self.input_shape),
            "segments": SEGMENTS,
            "mean": self.pca.mean.tolist(),
            "components": self.pca.components.tolist(),
            "variances": self.pca.variances.tolist(),
            "residual_variance": self.pca.residual_variance,
            "ood_distance": self.ood_distance,
            "reference_distance": self.reference_distance,
            "quantiles": dict(self.quantiles),
            "n_samples": self.n_samples,
        }

    @classmethod
    def from_dict(cls, d: dict) -> DomainSummary:
        """The summary of :meth:`to_dict` (ValueError / KeyError / TypeError for anything else)."""
        if int(d["version"]) != SUMMARY_VERSION or int(d.get("segments", SEGMENTS)) != SEGMENTS:
            raise ValueError(f"domain summary version {d.get('version')} is not {SUMMARY_VERSION}")
        components = np.asarray(d["components"], dtype=np.float64)
        pca = _Pca(
            np.asarray(d["mean"], dtype=np.float64),
            components.reshape(len(components), -1),
            np.asarray(d["variances"], dtype=np.float64),
            float(d["residual_variance"]),
        )
        return cls(
            str(d["transform"]),
            tuple(int(v) for v in d["input_shape"]),
            pca,
            float(d["ood_distance"]),
            float(d["reference_distance"]),
            {str(k): float(v) for k, v in d["quantiles"].items()},
            int(d["n_samples"]),
        )


def summary_of(meta: dict) -> DomainSummary | None:
    """The domain summary stored in a model's metadata; None when it has none (models trained before
    gee-crop stored one, the shipped zoo) or an unreadable one: its scores are then unavailable."""
    stored = meta.get("domain_summary") if isinstance(meta, dict) else None
    if not isinstance(stored, dict):
        return None
    try:
        return DomainSummary.from_dict(stored)
    except (ValueError, KeyError, TypeError):
        return None


def fit_domain_summary(
    inputs: np.ndarray, *, median: bool = True, components: int = COMPONENTS, folds: int = FOLDS
) -> DomainSummary | None:
    """Fit the summary of training inputs: (n, bands, t) reflectance medians (``median``) or (n, F)
    vectors. None with fewer than :data:`MIN_SAMPLES` samples. Deterministic: no randomness at all."""
    inputs = np.asarray(inputs)
    n = len(inputs)
    if n < max(MIN_SAMPLES, 2 * folds):
        return None
    transform = "log_reflectance" if median and inputs.ndim == 3 else "identity"
    input_shape = (
        tuple(int(v) for v in inputs.shape[1:]) if transform == "log_reflectance" else (int(np.prod(inputs.shape[1:])),)
    )
    x = descriptors(inputs, input_shape, transform)
    k = max(1, min(components, x.shape[1], n - n // folds - 2))
    fold = np.arange(n) % folds
    crossed = np.empty(n)
    for f in range(folds):  # a loop over the folds, not the samples
        crossed[fold == f] = _Pca.fit(x[fold != f], k).distances(x[fold == f])
    full = _Pca.fit(x, k)
    stored = _Pca(
        _round(full.mean),
        _round(full.components),
        _round(full.variances),
        float(_round(np.array(full.residual_variance))),
    )
    quantiles = {str(q): float(_round(np.quantile(crossed, q))) for q in (0.5, 0.9, OOD_QUANTILE)}
    reference = float(_round(np.exp(np.log(np.maximum(crossed, 1e-12)).mean())))
    return DomainSummary(transform, input_shape, stored, quantiles[str(OOD_QUANTILE)], reference, quantiles, n)


@dataclass(frozen=True)
class ShiftTally:
    """Additive counts of a batch, tile or map (sum tiles with ``+``; stored per tile in the map ledger).

    ``n_scored`` inputs scored against a summary, ``n_ood`` of them beyond its 99th percentile,
    ``sum_log_ratio`` the sum of log(distance / reference distance); ``n_classified`` pixels with
    probabilities, ``n_low_confidence`` of them with a highest probability below LOW_CONFIDENCE.
    """

    n_scored: int = 0
    n_ood: int = 0
    sum_log_ratio: float = 0.0
    n_classified: int = 0
    n_low_confidence: int = 0

    def __add__(self, other: ShiftTally) -> ShiftTally:
        return ShiftTally(*(a + b for a, b in zip(astuple(self), astuple(other))))  # every field adds up

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ShiftTally:
        return cls(
            int(d["n_scored"]),
            int(d["n_ood"]),
            float(d["sum_log_ratio"]),
            int(d["n_classified"]),
            int(d["n_low_confidence"]),
        )

    def score(self, available: bool = True) -> dict:
        """``{"available", "ood_share", "shift", "low_confidence_share", "n_scored", "n_classified"}``:
        the shares and shift are None where nothing was scored (no summary: ``available`` False)."""
        scored = available and self.n_scored > 0
        return {
            "available": bool(scored),
            "ood_share": self.n_ood / self.n_scored if scored else None,
            "shift": math.exp(self.sum_log_ratio / self.n_scored) if scored else None,
            "low_confidence_share": (self.n_low_confidence / self.n_classified if self.n_classified else None),
            "n_scored": self.n_scored,
            "n_classified": self.n_classified,
        }


def sample_stride(n_pixels: int) -> int:
    """Every how many of a map tile's ``n_pixels`` classified pixels one is scored: 1 up to
    :data:`SAMPLE_ABOVE`, else :data:`SAMPLE_STRIDE` (see :func:`tally_shift`)."""
    return 1 if n_pixels <= SAMPLE_ABOVE else SAMPLE_STRIDE


def tally_shift(
    summary: DomainSummary | None,
    inputs: np.ndarray | None,
    probabilities: np.ndarray | None = None,
    stride: int = 1,
) -> ShiftTally:
    """The tally of model ``inputs`` (scored when ``summary`` is not None; every ``stride``-th of them, see
    :func:`tally_sample`) and their (n, classes) ``probabilities`` (low-confidence count, of all; None: not
    counted)."""
    scored = ShiftTally()
    if inputs is not None:
        scored = tally_sample(summary, inputs[::stride], len(inputs), stride)
    n_classified = n_low = 0
    if probabilities is not None and len(probabilities):
        n_classified = len(probabilities)
        n_low = int((np.asarray(probabilities).max(axis=1) < LOW_CONFIDENCE).sum())
    return scored + ShiftTally(0, 0, 0.0, n_classified, n_low)


def tally_sample(summary: DomainSummary | None, sample: np.ndarray, n_inputs: int, stride: int = 1) -> ShiftTally:
    """The shift tally of ``n_inputs`` model inputs from ``sample``, every ``stride``-th of them
    (``inputs[::stride]``; all of them for stride 1), each standing for itself and the stride - 1 after it
    (the last for those left): ``n_scored`` is ``n_inputs``, ``n_ood`` and ``sum_log_ratio`` the sample's
    weighted up, so sampled tallies add up as whole ones do (a systematic sample; pixels next to each other in
    a map tile are mostly of one field). Nothing is scored without a summary."""
    if summary is None or not n_inputs:
        return ShiftTally()
    d = summary.distances(sample)
    weights = np.full(len(d), stride, dtype=np.int64)
    weights[-1] = n_inputs - stride * (len(d) - 1)
    n_ood = int(weights[d > summary.ood_distance].sum())
    log_ratio = float((weights * np.log(np.maximum(d, 1e-12) / summary.reference_distance)).sum())
    return ShiftTally(n_inputs, n_ood, log_ratio)


def map_shift(tile_tallies: dict[str, dict | None], available: bool) -> dict:
    """The ``domain_shift`` entry of a map's summary.json from its tiles' stored tallies (tile name ->
    ShiftTally.to_dict(), None for a tile finished before gee-crop scored tiles): ``whole_map`` (the
    tiles' tallies summed in the given order: pixel-weighted, exact, no pixel held), ``tiles`` (one
    score per tile), ``n_tiles_unscored`` and the documented thresholds."""
    tiles, total, unscored = [], ShiftTally(), 0
    for name, stored in tile_tallies.items():
        if stored is None:
            unscored += 1
            continue
        tally = ShiftTally.from_dict(stored)
        total = total + tally
        tiles.append({"tile": name, **tally.score(available)})
    return {
        "whole_map": total.score(available),
        "tiles": tiles,
        "n_tiles_unscored": unscored,
        "thresholds": {
            "ood_quantile": OOD_QUANTILE,
            "ood_share_warning": OOD_SHARE_WARNING,
            "shift_warning": SHIFT_WARNING,
            "low_confidence": LOW_CONFIDENCE,
            "low_confidence_warning": LOW_CONFIDENCE_WARNING,
        },
    }


def unavailable_score() -> dict:
    """The score of a model without a summary and nothing classified."""
    return ShiftTally().score(available=False)


def shift_warnings(score: dict, what: str = "the map's pixels") -> list[str]:
    """Printed warnings for a score above the documented thresholds (empty when none applies)."""
    lines = []
    ood, shift, low = score.get("ood_share"), score.get("shift"), score.get("low_confidence_share")
    if ood is not None and shift is not None and (ood > OOD_SHARE_WARNING or shift >= SHIFT_WARNING):
        lines.append(
            f"warning: {100 * ood:.0f} % of {what} are unlike the model's training data (shift "
            f"{shift:.1f}; nominal 1 % and 1.0); expect lower accuracy - see {DOCS}"
        )
    if low is not None and low > LOW_CONFIDENCE_WARNING:
        lines.append(
            f"warning: the model is unsure of {100 * low:.0f} % of {what} (highest class probability "
            f"below {LOW_CONFIDENCE:.0%}); expect lower accuracy - see {DOCS}"
        )
    return lines


def describe_score(score: dict) -> str:
    """One line for a report or the terminal."""
    low = score.get("low_confidence_share")
    low_text = "n/a" if low is None else f"{100 * low:.1f} %"
    if not score.get("available"):
        return (
            f"domain shift: unavailable (the model stores no training summary; retrain it with this "
            f"gee-crop to get one); low-confidence {low_text}"
        )
    return (
        f"domain shift {score['shift']:.2f} (nominal 1.0), {100 * score['ood_share']:.1f} % unlike the "
        f"training data (nominal 1 %), low-confidence {low_text}"
    )
