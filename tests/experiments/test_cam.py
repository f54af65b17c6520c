"""Grad-CAM over band x time: shape of the input, and it finds a planted signal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gee_crop.models.cropnet import CropNet2D
from gee_crop.viz.cam import grad_cam, mean_cams
from tests.training.realdata import one_torch_thread


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


EARLY, LATE = slice(4, 12), slice(30, 38)  # planted 5-day bins of classes 1 and 2
BANDS_PLANTED = slice(6, 9)  # B7, B8A, B11


def synthetic_planted(n: int, n_bins: int, seed: int = 0):
    """Synthetic reflectance (named so: not real data): noise around 0.2 everywhere; class 1 samples
    carry +0.25 in bands 6-8 during bins 4-11, class 2 samples the same during bins 30-37, class 0 none."""
    rng = np.random.default_rng(seed)
    x = 0.2 + 0.05 * rng.standard_normal((n, 1, 10, n_bins)).astype(np.float32)
    y = np.arange(n) % 3
    if n_bins >= LATE.stop:
        x[y == 1, 0, BANDS_PLANTED, EARLY] += 0.25
        x[y == 2, 0, BANDS_PLANTED, LATE] += 0.25
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = synthetic_planted(96, 43)
    model = CropNet2D(widths=(8, 16, 32, 32), dropout=0.0)
    model.set_normalization(x.mean(axis=(0, 1, 3)), x.std(axis=(0, 1, 3)))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert (model(xt).argmax(1) == yt).float().mean() > 0.95  # it learned the planted signal
    return model


@pytest.mark.parametrize("n_bins", [43, 20, 7])
def test_cams_have_the_inputs_band_by_time_shape(n_bins):
    model = CropNet2D(n_bins=n_bins, widths=(4, 8, 8, 8))
    x, _ = synthetic_planted(5, max(n_bins, 38))
    cams = grad_cam(model, x[..., :n_bins], classes=np.array([0, 1, 2, 3, 6]))
    assert cams.shape == (5, 10, n_bins) and cams.dtype == np.float32
    assert (cams >= 0).all() and (cams <= 1 + 1e-6).all()


def test_cam_highlights_the_planted_signal(trained):
    """Grad-CAM on the last block localizes in time (its receptive field spans all 10 bands, so the
    band axis is not resolved there): each class's map is high over its own planted bins and low
    over the other class's."""
    x, y = synthetic_planted(60, 43, seed=1)
    early = grad_cam(trained, x[y == 1], classes=1).mean(axis=(0, 1))  # (t,) profile over time
    late = grad_cam(trained, x[y == 2], classes=2).mean(axis=(0, 1))
    assert early[EARLY].mean() > 2 * early[LATE].mean()
    assert late[LATE].mean() > 2 * late[EARLY].mean()
    assert early.argmax() < 20 < late.argmax()


def test_cam_leaves_the_model_as_it_was(trained):
    x, _ = synthetic_planted(4, 43)
    trained.train()
    grad_cam(trained, x, classes=0)
    assert trained.training and all(p.grad is None for p in trained.parameters())
    trained.eval()


def test_mean_cams_per_class(trained):
    x, y = synthetic_planted(20, 43, seed=2)
    maps = mean_cams(trained, x, y, [0, 1, 5])
    assert sorted(maps) == [0, 1] and maps[1].shape == (10, 43)  # class 5 has no samples
    np.testing.assert_allclose(maps[1], grad_cam(trained, x[y == 1], 1).mean(axis=0), rtol=1e-5)
