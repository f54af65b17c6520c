"""CropNet: the small CNN of the paper (METHOD.md "CropNet"), in 2D (bands x time) and 1D variants.

Both variants carry per-band (2D) or per-feature (1D) normalization buffers and apply them inside
``forward``, so every caller (training, evaluation, ONNX, mapping) feeds raw reflectance (DN / 1e4)
and the normalization travels with the weights.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from gee_crop.config import BANDS, CROPNET_WIDTHS
from gee_crop.classes import CLASSES
from gee_crop.season import Season

ARCHITECTURES = ("cropnet2d", "cropnet1d")


def _block(conv: type[nn.Module], norm: type[nn.Module], drop: type[nn.Module],
           c_in: int, c_out: int, stride: int, dropout: float) -> nn.Sequential:
    """Two 3-wide convs (no bias: BatchNorm follows) + BN + ReLU, then channel dropout."""
    return nn.Sequential(
        conv(c_in, c_out, 3, stride=stride, padding=1, bias=False), norm(c_out), nn.ReLU(inplace=True),
        conv(c_out, c_out, 3, stride=1, padding=1, bias=False), norm(c_out), nn.ReLU(inplace=True),
        drop(dropout),
    )


class _CropNet(nn.Module):
    """Shared body: four blocks, stride 2 in the first conv of blocks 1 and 3 (METHOD.md), GAP, linear."""

    _conv: type[nn.Module]
    _norm: type[nn.Module]
    _drop: type[nn.Module]

    def __init__(self, n_channels_norm: int, n_classes: int, widths: Sequence[int], dropout: float) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 4:
            raise ValueError(f"CropNet has four blocks; got widths {widths}")
        strides = (2, 1, 2, 1)
        c_in, blocks = 1, []
        for width, stride in zip(widths, strides):
            blocks.append(_block(self._conv, self._norm, self._drop, c_in, width, stride, dropout))
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Linear(widths[-1], n_classes)
        self.register_buffer("band_mean", torch.zeros(n_channels_norm))
        self.register_buffer("band_std", torch.ones(n_channels_norm))

    def set_normalization(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        """Store the training reflectance mean/std (per band for 2D, per feature for 1D)."""
        store_normalization(self, mean, std)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self._normalize(x))
        # global average pooling as an adaptive pool: exports as GlobalAveragePool, stable across opsets
        return self.classifier(self._pool(features, 1).flatten(1))


class CropNet2D(_CropNet):
    """CropNet on the 10 x t median matrix.

    Input ``(N, 1, n_bands, t)`` float32 reflectance (DN / 1e4, bands in config.BANDS order);
    output logits ``(N, n_classes)``. 4,689,735 parameters with the default widths.
    """

    _conv, _norm, _drop = nn.Conv2d, nn.BatchNorm2d, nn.Dropout2d
    _pool = staticmethod(nn.functional.adaptive_avg_pool2d)

    def __init__(self, n_bands: int = len(BANDS), n_bins: int = Season().n_bins, n_classes: int = len(CLASSES),
                 widths: Sequence[int] = CROPNET_WIDTHS, dropout: float = 0.1) -> None:
        super().__init__(n_bands, n_classes, widths, dropout)
        self.n_bands, self.n_bins = n_bands, n_bins

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.band_mean.view(1, 1, -1, 1)) / self.band_std.view(1, 1, -1, 1)


class CropNet1D(_CropNet):
    """CropNet on a flat feature vector (1D medians, harmonics).

    Input ``(N, 1, n_features)`` float32 (reflectance features); output logits ``(N, n_classes)``.
    """

    _conv, _norm, _drop = nn.Conv1d, nn.BatchNorm1d, nn.Dropout1d
    _pool = staticmethod(nn.functional.adaptive_avg_pool1d)

    def __init__(self, n_features: int, n_classes: int = len(CLASSES),
                 widths: Sequence[int] = CROPNET_WIDTHS, dropout: float = 0.1) -> None:
        super().__init__(n_features, n_classes, widths, dropout)
        self.n_features = n_features

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.band_mean.view(1, 1, -1)) / self.band_std.view(1, 1, -1)


def store_normalization(model: nn.Module, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
    """Copy a training mean/std into ``model``'s ``band_mean`` / ``band_std`` buffers (ValueError for
    another shape); a constant band/feature (std ~ 0) is left unscaled instead of divided by zero."""
    mean = torch.as_tensor(np.asarray(mean, dtype=np.float32))
    std = torch.as_tensor(np.asarray(std, dtype=np.float32))
    if mean.shape != model.band_mean.shape or std.shape != model.band_std.shape:
        raise ValueError(f"normalization must have shape {tuple(model.band_mean.shape)}, "
                         f"got {tuple(mean.shape)} and {tuple(std.shape)}")
    model.band_mean.copy_(mean)
    model.band_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))


def build_model(arch: str, arch_kwargs: dict) -> _CropNet:
    """Instantiate a CropNet variant by its saved name ("cropnet2d" or "cropnet1d")."""
    if arch == "cropnet2d":
        return CropNet2D(**arch_kwargs)
    if arch == "cropnet1d":
        return CropNet1D(**arch_kwargs)
    raise ValueError(f"unknown CropNet architecture {arch!r}; expected one of {ARCHITECTURES}")


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (normalization buffers are not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def input_shape(model: _CropNet) -> tuple[int, ...]:
    """The per-sample input shape the model expects: (1, 10, t) or (1, F)."""
    if isinstance(model, CropNet2D):
        return (1, model.n_bands, model.n_bins)
    return (1, model.n_features)
