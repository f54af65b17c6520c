"""Training and evaluating on a composite cube of the real demo patch; composite augmentation (synthetic)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gee_crop.data.cube import CubeStore
from gee_crop.data.demo import DEMO_BUFFER_M, demo_patch_dir
from gee_crop.data.sampling import stack_classes
from gee_crop.features.augment import AugmentConfig, augmented_composites
from gee_crop.mapping.cube_build import build_cube
from gee_crop.models.io import read_model_file
from gee_crop.season import Season
from gee_crop.training.cube_data import CubePixels, EpochOrders
from gee_crop.training.cube_train import evaluate_cube, train_cube
from gee_crop.training.trainer import TrainConfig
from tests.training.realdata import TINY_WIDTHS, one_torch_thread


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    out = tmp_path_factory.mktemp("cube") / "demo.zarr"
    build_cube(stack_classes(demo_patch_dir(), None, DEMO_BUFFER_M), out, block_px=16, echo=lambda _: None)
    return CubeStore(out)


def test_balanced_epochs_draw_each_class_about_equally_and_read_each_block_once(cube):
    pixels = CubePixels.of(cube, np.arange(16))
    counts = np.bincount(pixels.label)
    assert counts[counts > 0].max() > 3 * counts[counts > 0].min()  # the demo's classes are unbalanced
    orders = list(EpochOrders(pixels, seed=0, balanced=True))
    assert len({o.block for o in orders}) == len(orders)  # one read per block
    drawn = np.concatenate([cube.block(o.block)[1].reshape(-1)[o.offsets] for o in orders])
    shares = np.bincount(drawn)[counts > 0] / len(drawn)
    assert len(drawn) == len(pixels) and np.all(np.abs(shares - 1 / 3) < 0.05)


def test_train_on_cube_writes_a_model_with_the_cubes_contract(cube, tmp_path):
    with one_torch_thread():
        config = TrainConfig(epochs=2, widths=TINY_WIDTHS, batch_size=128, learning_rate=3e-3, val_fraction=0.25)
        result = train_cube(cube.path, tmp_path / "run", config, progress=False, echo=lambda _: None, num_workers=0)
        evaluation = evaluate_cube(result.model_path, cube.path, device="cpu")
    model = read_model_file(result.model_path)
    assert model.contract == cube.info.spec and model.contract.year_trained == 2019
    assert result.n_train + result.n_val == int(cube.block_counts.sum()) and result.n_val > 0
    assert len(result.history) == 2 and np.isfinite(result.history[-1]["train_loss"])
    assert evaluation.n_samples == int(cube.block_counts.sum())
    assert 0 < evaluation.report.overall_accuracy <= 1


def test_composite_augmentation_without_transforms_is_the_identity_and_a_shift_moves_bins():
    rng = np.random.default_rng(0)
    values = rng.random((6, 10, 43)).astype(np.float32)  # synthetic composites
    none = augmented_composites(values.copy(), Season(), rng, AugmentConfig.none())
    assert np.allclose(none, values)
    ramp = np.broadcast_to(np.arange(43, dtype=np.float32), (200, 10, 43)).copy()  # synthetic: value = bin
    shift = AugmentConfig(p_shift=1.0, p_scale=0.0, p_warp=0.0)
    out = augmented_composites(ramp.copy(), Season(), np.random.default_rng(3), shift)
    moved_days = (out - ramp)[:, :, 3:-3] * Season().window_days  # a shift of s days moves s / 5 bins
    per_sample = moved_days[:, 0, 0]
    assert np.allclose(moved_days, per_sample[:, None, None], atol=1e-4)
    assert np.allclose(per_sample, np.round(per_sample), atol=1e-3) and np.abs(per_sample).max() <= 10
    assert len(np.unique(np.round(per_sample))) > 10  # the draws span the range
