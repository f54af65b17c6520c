"""CropNet architecture (METHOD.md "CropNet")."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gee_crop.models.cropnet import CropNet1D, CropNet2D, count_parameters, input_shape
from gee_crop.models.registry import build_model


def test_default_cropnet2d_has_the_papers_4_69_million_parameters():
    """Conv weights (3x3, no bias): 1*64*9 + 64*64*9 = 37,440; 64*128*9 + 128*128*9 = 221,184;
    128*256*9 + 256*256*9 = 884,736; 256*512*9 + 512*512*9 = 3,538,944 -> 4,682,304.
    BatchNorm (weight + bias per channel, two per block): 2*(2*64 + 2*128 + 2*256 + 2*512) = 3,840.
    Linear 512 -> 7: 512*7 + 7 = 3,591. Total 4,682,304 + 3,840 + 3,591 = 4,689,735."""
    assert count_parameters(CropNet2D()) == 4_689_735


def test_blocks_follow_the_paper_layout():
    model = CropNet2D()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1), (1, 1), (2, 2), (1, 1), (1, 1), (1, 1)]
    assert all(c.bias is None and c.kernel_size == (3, 3) for c in convs)
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 8
    assert sum(isinstance(m, nn.Dropout2d) for m in model.modules()) == 4


def test_forward_shapes_2d_and_1d():
    x2 = torch.rand(3, 1, 10, 43)
    assert CropNet2D(widths=(8, 16, 32, 64)).eval()(x2).shape == (3, 7)
    assert CropNet1D(430, widths=(8, 16, 32, 64)).eval()(x2.reshape(3, 1, 430)).shape == (3, 7)
    assert CropNet1D(35, widths=(8, 16, 32, 64)).eval()(torch.rand(2, 1, 35)).shape == (2, 7)
    assert input_shape(CropNet2D(n_bins=20)) == (1, 10, 20)
    assert input_shape(CropNet1D(35)) == (1, 35)


def test_normalization_is_applied_inside_forward():
    """Synthetic inputs: a model with stored mean/std on raw x equals the same weights on (x-mean)/std."""
    torch.manual_seed(0)
    model = CropNet2D(widths=(8, 16, 32, 64)).eval()
    plain = CropNet2D(widths=(8, 16, 32, 64)).eval()
    plain.load_state_dict(model.state_dict())
    mean = np.linspace(0.02, 0.3, 10, dtype=np.float32)
    std = np.linspace(0.01, 0.1, 10, dtype=np.float32)
    model.set_normalization(mean, std)
    x = torch.rand(4, 1, 10, 43)
    standardized = (x - torch.from_numpy(mean).view(1, 1, 10, 1)) / torch.from_numpy(std).view(1, 1, 10, 1)
    torch.testing.assert_close(model(x), plain(standardized))
    assert torch.equal(model.state_dict()["normalization.mean"], torch.from_numpy(mean))


def test_constant_band_is_not_divided_by_zero():
    model = CropNet1D(5, widths=(4, 4, 4, 4))
    model.set_normalization(np.zeros(5), np.array([0.1, 0.0, 0.2, 0.0, 0.3]))
    assert model.normalization.std.tolist() == pytest.approx([0.1, 1.0, 0.2, 1.0, 0.3])
    with pytest.raises(ValueError, match="shape"):
        model.set_normalization(np.zeros(4), np.ones(4))


def test_build_model_by_name():
    assert isinstance(build_model("cropnet2d", {"widths": [4, 4, 4, 4]}), CropNet2D)
    assert isinstance(build_model("cropnet1d", {"n_features": 35, "widths": [4, 4, 4, 4]}), CropNet1D)
    with pytest.raises(ValueError, match="not a torch architecture"):
        build_model("random_forest", {})
    with pytest.raises(ValueError, match="not a torch architecture"):
        build_model("cropnet3d", {})
    with pytest.raises(ValueError, match="four blocks"):
        CropNet2D(widths=(8, 16, 32))
