"""TempCNN: a small 1D temporal CNN over the 10 x t median matrix, the distilled student for mapping.

The bands are the channels and the 5-day bins the time axis (Pelletier et al. 2019, "Temporal
Convolutional Neural Network for the Classification of Satellite Image Time Series"): three
convolutions along time (the second and third with stride 2), one hidden dense layer, logits. It
reads exactly CropNet 2D's input, ``(N, 1, n_bands, t)`` float32 reflectance, with the same
per-band normalization inside ``forward``, so a student maps from the same contract as its teacher.

With the default widths it costs about 0.9 M multiply-adds per pixel for 43 bins, against CropNet's
174 M (``bench/bench_scale.py`` measures both).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gee_crop.models.matrix import MedianMatrixNet

#: conv widths of the three temporal convolutions and the hidden dense units.
TEMPCNN_WIDTHS: tuple[int, ...] = (32, 64, 64, 64)
_KERNELS, _STRIDES = (5, 5, 3), (1, 2, 2)


def _conv(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    )


def _time_steps(n_bins: int) -> int:
    """Time steps left after the strided convolutions."""
    t = n_bins
    for kernel, stride in zip(_KERNELS, _STRIDES):
        t = (t + 2 * (kernel // 2) - kernel) // stride + 1
    return t


class TempCNN(MedianMatrixNet):
    """Input ``(N, 1, n_bands, n_bins)`` reflectance; output logits ``(N, n_classes)``.

    ``widths``: the three convolution widths and the hidden dense units (four numbers, as the
    ``--widths`` option of ``gee-crop train`` gives them).
    """

    default_widths = TEMPCNN_WIDTHS

    def build(self, n_classes: int, widths: Sequence[int], dropout: float) -> None:
        """Three temporal convolutions, then the hidden dense layer and the logits."""
        widths = tuple(int(w) for w in (widths or self.default_widths))
        if len(widths) != 4:
            raise ValueError(f"TempCNN takes three convolution widths and the hidden units; got widths {widths}")
        c_in, layers = self.n_bands, []
        for width, kernel, stride in zip(widths[:3], _KERNELS, _STRIDES):
            layers.append(_conv(c_in, width, kernel, stride))
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_in * _time_steps(self.n_bins), widths[3]),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(widths[3], n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the bands become the channels: axis -2 of (N, bands, t), where the normalization reads them
        return self.head(self.convs(self.normalization(x.flatten(1, 2) if x.dim() == 4 else x)))
