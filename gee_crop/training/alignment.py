"""Class alignment between a model's 7 outputs and a target region's label set (METHOD.md "Evaluation").

Two rules of the paper:

* targets with binary/ternary labels (ARG, AUS, CHN): a predicted class outside the target's label
  set is counted as "other" (the target's "other" is "every remaining cropland");
* FRA -> USA: sugarcane and cotton samples are removed from the USA test set (FRA has none, so a
  FRA model cannot know them).

:func:`align` applies both kinds of rule for any label sets; :func:`alignment_for` returns the
paper's rule for a (source, target) pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gee_crop.classes import CLASS_INDEX, OTHER, class_indices

#: Label sets of the targets whose reference product has only a few classes (METHOD.md table).
TARGET_LABEL_SETS: dict[str, tuple[str, ...]] = {
    "ARG": ("soybeans", OTHER),
    "AUS": ("sugarcane", "cotton", OTHER),
    "CHN": ("rice", OTHER),
}

#: (source, target) -> true classes removed from the test set (the source has none of them).
DROPPED_TRUE_CLASSES: dict[tuple[str, str], tuple[str, ...]] = {
    ("FRA", "USA"): ("sugarcane", "cotton"),
}


@dataclass(frozen=True)
class Alignment:
    """A class alignment: ``target_classes`` None = keep every prediction as it is."""

    target_classes: tuple[str, ...] | None = None
    drop_true_classes: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.target_classes is not None:
            parts.append(f"predictions outside {{{', '.join(self.target_classes)}}} counted as {OTHER}")
        if self.drop_true_classes:
            parts.append(f"{', '.join(self.drop_true_classes)} samples removed from the test set")
        return "; ".join(parts) if parts else "none"

    def to_dict(self) -> dict:
        return {
            "target_classes": None if self.target_classes is None else list(self.target_classes),
            "drop_true_classes": list(self.drop_true_classes),
        }


def align(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    target_classes: tuple[str, ...] | list[str] | None = None,
    drop_true_classes: tuple[str, ...] | list[str] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply a class alignment to (n,) int class indices.

    Returns ``(y_true, y_pred, kept)``: the aligned labels of the kept samples and the (n,) bool mask
    of samples kept (False for samples whose true class is in ``drop_true_classes``). Predictions not
    in ``target_classes`` (when given) become "other".
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    kept = ~np.isin(y_true, class_indices(np.array(drop_true_classes, dtype=object)))
    y_pred = y_pred.copy()
    if target_classes is not None:
        allowed = class_indices(np.array(target_classes, dtype=object))
        y_pred[~np.isin(y_pred, allowed)] = CLASS_INDEX[OTHER]
    return y_true[kept], y_pred[kept], kept


def alignment_for(source_region: str | None, target_region: str | None) -> Alignment:
    """The paper's alignment for a transfer (region codes are ISO3, case-insensitive)."""
    source = (source_region or "").upper()
    target = (target_region or "").upper()
    return Alignment(TARGET_LABEL_SETS.get(target), DROPPED_TRUE_CLASSES.get((source, target), ()))
