"""A linear model (multinomial logistic regression) on flat features (1D medians, harmonics).

The cheapest candidate of ``gee-crop train --arch auto`` (training/selection.py): one linear layer on
the standardised features, with dropout on them as its only regularisation. It is a torch architecture
like the others, so the fit loop trains it, ``model.pt`` stores it and ``export`` / ``map`` run it
unchanged. Input ``(N, 1, n_features)`` float32 reflectance features; output logits ``(N, n_classes)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gee_crop.classes import CLASSES
from gee_crop.models.normalization import NormalizedModel


class LinearClassifier(NormalizedModel):
    """Standardise each feature, drop some out while training, one linear layer to the class logits."""

    def __init__(
        self, n_features: int, n_classes: int = len(CLASSES), widths: Sequence[int] = (), dropout: float = 0.1
    ) -> None:
        super().__init__(n_features, -1)
        self.n_features = n_features
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.normalization(x).flatten(1)))
