"""Fitting and scoring the domain summary (gee_crop.features.shift) on real model inputs: in-distribution
data score as nominal, other domains and years higher; deterministic; JSON round trip; the warnings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gee_crop.features import shift
from gee_crop.features.shift import (DomainSummary, ShiftTally, fit_domain_summary, map_shift, shift_warnings,
                                     summary_of, tally_shift)
from tests.features.shift.conftest import held_out_split

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_held_out_france_2023_scores_nominal_and_flanders_2021_does_not(domain_inputs, seed):
    fra = domain_inputs["FRA 2023"]
    fit, held_out = held_out_split(len(fra), seed)
    summary = fit_domain_summary(fra[fit])
    nominal = tally_shift(summary, fra[held_out]).score()
    # measured (seeds 0, 1, 2): 0 / 3 / 1 % beyond the training 99th percentile, shift 0.96 / 0.98 / 1.03
    assert nominal["available"] and nominal["n_scored"] == len(held_out) == 99
    assert nominal["ood_share"] <= 0.04 and 0.9 < nominal["shift"] < 1.1
    # Flanders 2021 (monthly composites, another country and year): 23-32 %, shift 1.74
    other = tally_shift(summary, domain_inputs["BEL 2021"]).score()
    assert other["ood_share"] > 0.15 and other["shift"] > 1.5
    # France 2022 (monthly) and the Flanders 2019 patch (5-day, one 640 m tile): shift 1.32-1.45
    for name in ("FRA 2022", "Flanders 2019"):
        assert tally_shift(summary, domain_inputs[name]).score()["shift"] > 1.25, name
    assert not shift_warnings(nominal) and shift_warnings(other, "the table's samples")


def test_a_summary_of_one_patch_finds_every_other_domain_far(domain_inputs):
    patch = domain_inputs["Flanders 2019"]
    fit, held_out = held_out_split(len(patch), 0)
    summary = fit_domain_summary(patch[fit])
    assert tally_shift(summary, patch[held_out]).score()["ood_share"] <= 0.05
    scores = {name: tally_shift(summary, domain_inputs[name]).score() for name in ("FRA 2023", "BEL 2021")}
    # measured: FRA 2023 53-89 % (shift 1.9), BEL 2021 100 % (shift 3.2)
    assert scores["FRA 2023"]["ood_share"] > 0.4 and scores["FRA 2023"]["shift"] > 1.7
    assert scores["BEL 2021"]["ood_share"] > 0.9 and scores["BEL 2021"]["shift"] > 2.5


def test_fitting_is_deterministic_and_survives_json(domain_inputs):
    fra = domain_inputs["FRA 2023"]
    first, second = fit_domain_summary(fra), fit_domain_summary(fra.copy())
    assert first.to_dict() == second.to_dict()
    text = json.dumps(first.to_dict())
    assert len(text) < 16_000  # a few kB in the model's metadata
    back = DomainSummary.from_dict(json.loads(text))
    target = domain_inputs["BEL 2021"]
    assert np.array_equal(back.distances(target), first.distances(target))
    assert tally_shift(back, target) == tally_shift(first, target)
    # any model input shape of the same values scores the same: (n, 10, t), (n, 1, 10, t), (n, 10 t)
    assert np.array_equal(first.distances(target[:, None]), first.distances(target.reshape(len(target), -1)))


def test_tallies_add_up_over_tiles(domain_inputs):
    summary = fit_domain_summary(domain_inputs["FRA 2023"])
    target = domain_inputs["FRA 2022"]
    whole = tally_shift(summary, target)
    parts = tally_shift(summary, target[:123]) + tally_shift(summary, target[123:])
    assert (parts.n_scored, parts.n_ood) == (whole.n_scored, whole.n_ood)
    assert parts.sum_log_ratio == pytest.approx(whole.sum_log_ratio, rel=1e-12)
    combined = map_shift({"a": tally_shift(summary, target[:123]).to_dict(), "b": None,
                          "c": tally_shift(summary, target[123:]).to_dict()}, available=True)
    assert combined["n_tiles_unscored"] == 1 and [t["tile"] for t in combined["tiles"]] == ["a", "c"]
    assert combined["whole_map"]["shift"] == pytest.approx(whole.score()["shift"])
    assert combined["whole_map"]["n_scored"] == len(target)


def test_low_confidence_share_from_probabilities():
    # synthetic probabilities: the pure count, threshold 0.5 (no class even odds)
    probabilities = np.array([[0.9, 0.05, 0.05], [0.49, 0.3, 0.21], [0.5, 0.5, 0.0], [0.34, 0.33, 0.33]])
    score = tally_shift(None, None, probabilities).score(available=False)
    assert score["low_confidence_share"] == 0.5 and score["n_classified"] == 4
    assert score["available"] is False and score["shift"] is None and score["ood_share"] is None
    assert shift_warnings(score)[0].startswith("warning: the model is unsure of 50 % of the map's pixels")


def test_warning_names_the_share_the_shift_and_the_docs():
    score = ShiftTally(n_scored=100, n_ood=38, sum_log_ratio=100 * np.log(2.4)).score()
    (line,) = shift_warnings(score)
    assert line.startswith("warning: 38 % of the map's pixels are unlike the model's training data (shift 2.4")
    assert shift.DOCS in line
    nominal = ShiftTally(n_scored=100, n_ood=1, sum_log_ratio=0.0).score()
    assert shift_warnings(nominal) == []


def test_models_without_a_summary_score_as_unavailable(domain_inputs):
    assert summary_of({}) is None and summary_of({"domain_summary": "damaged"}) is None
    assert summary_of({"domain_summary": {"version": 99}}) is None
    assert fit_domain_summary(domain_inputs["FRA 2023"][:10]) is None  # too few samples to calibrate
    score = tally_shift(None, domain_inputs["BEL 2021"]).score(available=False)
    assert score["available"] is False and score["n_scored"] == 0


def test_vector_inputs_are_summarised_as_they_are():
    # synthetic harmonic-like vectors (35 coefficients): no reflectance transform, same calibration
    rng = np.random.default_rng(0)
    train = rng.normal(size=(400, 35))
    summary = fit_domain_summary(train, median=False)
    assert summary.transform == "identity" and summary.input_shape == (35,)
    assert tally_shift(summary, rng.normal(size=(400, 35))).score()["shift"] == pytest.approx(1.0, abs=0.1)
    assert tally_shift(summary, rng.normal(size=(400, 35)) + 1.0).score()["ood_share"] > 0.5


def test_descriptors_are_the_segment_means_and_roughness_of_the_log_series(domain_inputs):
    """The matrix-product descriptors (issue 24) against their definition, written out step by step, on real
    France 2023 and Flanders 2021 inputs (dekadal and monthly): the same to float32 rounding."""
    for name in ("FRA 2023", "BEL 2021"):
        x = domain_inputs[name][:200].astype(np.float32)
        n, bands, bins = x.shape
        logs = np.log(np.maximum(x, shift.REFLECTANCE_FLOOR)).astype(np.float64)
        edges = np.linspace(0, bins, min(shift.SEGMENTS, bins) + 1).round().astype(int)
        means = np.stack([logs[:, :, a:b].mean(axis=2) for a, b in zip(edges[:-1], edges[1:])], axis=2)
        second = logs[:, :, 2:] - 2 * logs[:, :, 1:-1] + logs[:, :, :-2]
        roughness = np.log(np.abs(second).mean(axis=2) + shift.ROUGHNESS_FLOOR)
        expected = np.concatenate([means.reshape(n, -1), roughness], axis=1)
        got = shift.descriptors(x, (bands, bins), "log_reflectance")
        assert got.shape == expected.shape == (n, bands * len(edges[:-1]) + bands)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_sample_scores_the_same_in_any_batch(domain_inputs):
    """A map's tiles batch its pixels differently from a run with other tiles: each sample's distance must
    not depend on its neighbours in the batch (blocks of shift.BLOCK, BLAS's own blocking)."""
    fra = domain_inputs["FRA 2023"]
    summary = fit_domain_summary(fra)
    x = np.concatenate([fra] * (2 * shift.BLOCK // len(fra) + 1))[: 2 * shift.BLOCK + 37]
    whole = summary.distances(x)
    parts = np.concatenate([summary.distances(x[:5]), summary.distances(x[5:1500]), summary.distances(x[1500:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=0)


def test_a_sampled_tally_stands_for_every_input_and_adds_up(domain_inputs):
    """stride k scores every k-th input, each for its group of k: n_scored is every input, the shares stay
    close to the full tally's on real inputs, and tallies of parts add up like the whole (as a map's tiles)."""
    fra = domain_inputs["FRA 2023"]
    target = np.concatenate([fra, domain_inputs["BEL 2021"]])
    summary = fit_domain_summary(fra)
    full, sampled = tally_shift(summary, target), tally_shift(summary, target, stride=4)
    assert sampled.n_scored == full.n_scored == len(target)
    assert sampled.n_ood % 4 == 0 or len(target) % 4  # whole groups of 4, but for the last group
    assert abs(sampled.score()["ood_share"] - full.score()["ood_share"]) < 0.05
    assert sampled.score()["shift"] == pytest.approx(full.score()["shift"], rel=0.05)
    parts = tally_shift(summary, target[:400], stride=4) + tally_shift(summary, target[400:], stride=4)
    assert (parts.n_scored, parts.n_ood) == (sampled.n_scored, sampled.n_ood)
    assert parts.sum_log_ratio == pytest.approx(sampled.sum_log_ratio, rel=1e-12)
    assert tally_shift(summary, target, stride=1) == full
    assert shift.sample_stride(shift.SAMPLE_ABOVE) == 1
    assert shift.sample_stride(shift.SAMPLE_ABOVE + 1) == shift.SAMPLE_STRIDE > 1
