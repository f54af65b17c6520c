"""Accuracy of a map against a reference label raster on the same grid (METHOD.md "Evaluation":
overall accuracy and macro-F1 over the classes present in the reference)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.training.metrics import classification_report


@dataclass
class MapAccuracy:
    """Scores over the pixels that are both labelled and mapped; ``confusion[i, j]`` counts
    reference class i mapped as class j (config.CLASSES order)."""

    overall_accuracy: float
    macro_f1: float
    n_pixels: int
    n_unmapped: int
    confusion: np.ndarray
    per_class_f1: dict[str, float]

    def to_dict(self) -> dict:
        fields = asdict(self)
        fields["confusion"] = fields.pop("confusion").tolist()  # the matrix as lists, last
        return fields


def map_accuracy(mapped: np.ndarray, reference: np.ndarray) -> MapAccuracy:
    """Compare (H, W) mapped class indices with (H, W) reference indices (NO_CLASS = skip)."""
    labelled = reference != NO_CLASS
    both = labelled & (mapped != NO_CLASS)
    report = classification_report(reference[both].astype(np.int64), mapped[both].astype(np.int64))
    return MapAccuracy(
        overall_accuracy=report.overall_accuracy,
        macro_f1=report.macro_f1,
        n_pixels=int(both.sum()),
        n_unmapped=int((labelled & ~both).sum()),
        confusion=report.confusion,
        per_class_f1={CLASSES[i]: round(float(report.f1[i]), 4) for i in report.classes_present},
    )
