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

from gee_crop.classes import CLASSES
from gee_crop.config import BANDS
from gee_crop.models.normalization import NormalizedModel
from gee_crop.season import Season

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


class TempCNN(NormalizedModel):
    """Input ``(N, 1, n_bands, n_bins)`` reflectance; output logits ``(N, n_classes)``.

    ``widths``: the three convolution widths and the hidden dense units (four numbers, as the
    ``--widths`` option of ``gee-crop train`` gives them).
    """

    def __init__(
        self,
        n_bands: int = len(BANDS),
        n_bins: int = Season().n_bins,
        n_classes: int = len(CLASSES),
        widths: Sequence[int] = TEMPCNN_WIDTHS,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_bands, axis=-2)
        widths = tuple(int(w) for w in (widths or TEMPCNN_WIDTHS))
        if len(widths) != 4:
            raise ValueError(f"TempCNN takes three convolution widths and the hidden units; got widths {widths}")
        self.n_bands, self.n_bins = n_bands, n_bins
        c_in, layers = n_bands, []
        for width, kernel, stride in zip(widths[:3], _KERNELS, _STRIDES):
            layers.append(_conv(c_in, width, kernel, stride))
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_in * _time_steps(n_bins), widths[3]),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(widths[3], n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the bands become the channels: axis -2 of (N, bands, t), where the normalization reads them
        return self.head(self.convs(self.normalization(x.flatten(1, 2) if x.dim() == 4 else x)))
