"""The few-label curve's sample draws (experiments/transfer_fewshot.py): stratified and deterministic.
Pure logic, on synthetic label vectors."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from gee_crop.testing.paths import REPO_ROOT


@pytest.fixture(scope="module")
def fewshot():
    spec = importlib.util.spec_from_file_location("transfer_fewshot", REPO_ROOT / "experiments" / "transfer_fewshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic_labels(counts: dict[int, int], seed: int = 5) -> np.ndarray:
    """Synthetic class indices with the given counts, shuffled."""
    labels = np.concatenate([np.full(k, c) for c, k in counts.items()])
    return np.random.default_rng(seed).permutation(labels)


def test_draw_is_proportional_per_class(fewshot):
    labels = _synthetic_labels({0: 60, 3: 30, 6: 10})
    picked = fewshot.stratified_draw(labels, 20, seed=0)
    assert len(picked) == 20 and len(set(picked)) == 20
    assert {c: int((labels[picked] == c).sum()) for c in (0, 3, 6)} == {0: 12, 3: 6, 6: 2}


def test_draw_keeps_one_of_each_rare_class_and_caps_at_what_exists(fewshot):
    labels = _synthetic_labels({0: 95, 3: 4, 6: 1})
    picked = fewshot.stratified_draw(labels, 10, seed=1)
    assert np.bincount(labels[picked], minlength=7)[[0, 3, 6]].tolist() == [8, 1, 1]
    assert len(fewshot.stratified_draw(labels, 500, seed=1)) == 100


def test_draw_is_deterministic_per_seed(fewshot):
    labels = _synthetic_labels({0: 60, 3: 30, 6: 10})
    first = fewshot.stratified_draw(labels, 20, seed=2)
    assert np.array_equal(first, fewshot.stratified_draw(labels, 20, seed=2))
    assert not np.array_equal(first, fewshot.stratified_draw(labels, 20, seed=3))


def test_split_leaves_a_stratified_test_half_and_counts_are_capped(fewshot):
    labels = _synthetic_labels({0: 41, 3: 2, 6: 39})
    pool, test = fewshot.split_target(labels, seed=0)
    assert len(np.intersect1d(pool, test)) == 0 and len(pool) + len(test) == 82
    assert np.bincount(labels[test], minlength=7)[[0, 3, 6]].tolist() == [21, 1, 19]
    assert fewshot.used_counts(len(pool)) == {0: 0, 20: 20, 50: 41}
