"""Class-balanced sampling (issue 12): each epoch draws its batches with probabilities 1 / (k * class
count), so rare crops are seen as often as the common ones; deterministic from the seed."""
from __future__ import annotations

import numpy as np

from gee_crop.models.io import read_model_meta
from gee_crop.training.loop import balanced_order


def test_one_epoch_draws_about_equal_class_counts_on_real_labels(fra_dekadal):
    labels = fra_dekadal.labels
    present = np.flatnonzero(np.bincount(labels))
    assert np.bincount(labels)[present].min() < 0.05 * len(labels)   # soybeans: 13 of 500 parcels
    order = balanced_order(labels, np.random.default_rng([0, 0]))
    assert len(order) == len(labels)
    drawn = np.bincount(labels[order], minlength=labels.max() + 1)[present]
    share = len(labels) / len(present)
    # binomial spread of one epoch: std ~ 10 draws per class at 500 draws and 4 classes
    assert (np.abs(drawn - share) < 0.3 * share).all(), drawn
    # over 20 epochs the counts converge on equal shares
    many = np.concatenate([balanced_order(labels, np.random.default_rng([0, e])) for e in range(20)])
    assert (np.abs(np.bincount(labels[many])[present] / (20 * share) - 1) < 0.06).all()


def test_deterministic_per_seed_and_epoch(fra_dekadal):
    labels = fra_dekadal.labels
    a = balanced_order(labels, np.random.default_rng([3, 1]))
    np.testing.assert_array_equal(a, balanced_order(labels, np.random.default_rng([3, 1])))
    assert not np.array_equal(a, balanced_order(labels, np.random.default_rng([3, 2])))


def test_recorded_in_the_model(recipe_models, standard_model):
    assert read_model_meta(recipe_models[0])["train_config"]["balanced_sampling"] is True
    assert read_model_meta(standard_model)["train_config"]["balanced_sampling"] is False


def test_the_fit_loop_draws_balanced_batches(fra_dekadal, tmp_path):
    from gee_crop.models.io import load_model
    from gee_crop.training.trainer import train
    from tests.training.recipes.conftest import TINY

    small = fra_dekadal.subset(np.arange(200))
    weights = []
    for balanced in (False, True):
        path = train(small, tmp_path / str(balanced), progress=False, echo=lambda _: None, augment=False,
                     balanced_sampling=balanced, seed=0, **TINY).model_path
        weights.append(load_model(path)[0].classifier.weight.detach())
    # same seed, same initial weights: only the batches differ
    assert not np.allclose(weights[0].numpy(), weights[1].numpy())
