"""CropNet: the small CNN of the paper (METHOD.md "CropNet"), in 2D (bands x time) and 1D variants.

Both variants standardise their input per band (2D) or per feature (1D) inside ``forward``
(``models.normalization``), so every caller (training, evaluation, ONNX, mapping) feeds raw
reflectance (DN / 1e4) and the normalization travels with the weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
from torch import nn

from gee_crop.classes import CLASSES
from gee_crop.config import CROPNET_WIDTHS
from gee_crop.models.matrix import MedianMatrixNet
from gee_crop.models.normalization import NormalizedModel


def _block(
    conv: type[nn.Module],
    norm: type[nn.Module],
    drop: type[nn.Module],
    c_in: int,
    c_out: int,
    stride: int,
    dropout: float,
) -> nn.Sequential:
    """Two 3-wide convs (no bias: BatchNorm follows) + BN + ReLU, then channel dropout."""
    return nn.Sequential(
        conv(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        norm(c_out),
        nn.ReLU(inplace=True),
        conv(c_out, c_out, 3, stride=1, padding=1, bias=False),
        norm(c_out),
        nn.ReLU(inplace=True),
        drop(dropout),
    )


class _CropNet(NormalizedModel):
    """Shared body: four blocks, stride 2 in the first conv of blocks 1 and 3 (METHOD.md), GAP, linear."""

    _conv: type[nn.Module]
    _norm: type[nn.Module]
    _drop: type[nn.Module]
    _axis: int
    _pool: Callable[..., torch.Tensor]

    def build(self, n_classes: int, widths: Sequence[int], dropout: float) -> None:
        """The four blocks and the linear classifier, after the normalization."""
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.normalization(x))
        # global average pooling as an adaptive pool: exports as GlobalAveragePool, stable across opsets
        return self.classifier(self._pool(features, 1).flatten(1))


class CropNet2D(_CropNet, MedianMatrixNet):
    """CropNet on the 10 x t median matrix.

    Input ``(N, 1, n_bands, t)`` float32 reflectance (DN / 1e4, bands in SENTINEL2.bands order);
    output logits ``(N, n_classes)``. 4,689,735 parameters with the default widths.
    """

    _conv, _norm, _drop, _axis = nn.Conv2d, nn.BatchNorm2d, nn.Dropout2d, -2
    _pool = staticmethod(nn.functional.adaptive_avg_pool2d)
    default_widths = CROPNET_WIDTHS


class CropNet1D(_CropNet):
    """CropNet on a flat feature vector (1D medians, harmonics).

    Input ``(N, 1, n_features)`` float32 (reflectance features); output logits ``(N, n_classes)``.
    """

    _conv, _norm, _drop, _axis = nn.Conv1d, nn.BatchNorm1d, nn.Dropout1d, -1
    _pool = staticmethod(nn.functional.adaptive_avg_pool1d)

    def __init__(
        self,
        n_features: int,
        n_classes: int = len(CLASSES),
        widths: Sequence[int] = CROPNET_WIDTHS,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_features, self._axis)
        self.n_features = n_features
        self.build(n_classes, widths, dropout)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (normalization buffers are not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def input_shape(model: _CropNet) -> tuple[int, ...]:
    """The per-sample input shape the model expects: (1, 10, t) or (1, F)."""
    if isinstance(model, CropNet2D):
        return (1, model.n_bands, model.n_bins)
    return (1, cast(CropNet1D, model).n_features)
