"""Classification metrics of the paper (METHOD.md "Evaluation"): OA and macro-F1 over the classes present.

"Classes present" means classes present in the **truth** (support > 0). A class that is only
predicted (e.g. soybeans predicted in Belgium, where the reference has none) is not averaged in:
its wrong predictions already lower the recall, hence the F1, of the true classes they were taken
from. This matches the paper's figures, where mF1 tracks OA closely even for transfers whose target
has 2-3 classes (an F1 of 0 for every spuriously predicted class would pull mF1 far below OA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gee_crop.classes import CLASSES


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows = truth, columns = prediction (class indices)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    flat = y_true * n_classes + y_pred
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@dataclass(frozen=True)
class ClassificationReport:
    """Metrics derived from one confusion matrix (rows truth, columns prediction).

    Per-class arrays are (n_classes,) float64; precision is NaN for a class never predicted,
    recall NaN for a class absent from the truth; F1 = 2TP / (2TP + FP + FN) (NaN when both).
    """

    confusion: np.ndarray
    overall_accuracy: float
    macro_f1: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    classes_present: tuple[int, ...]

    def to_dict(self, class_names: tuple[str, ...] = CLASSES) -> dict:
        """JSON-ready dict (NaN -> None)."""

        def clean(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        return {
            "overall_accuracy": clean(self.overall_accuracy),
            "macro_f1": clean(self.macro_f1),
            "n_samples": int(self.confusion.sum()),
            "classes_present": [class_names[i] for i in self.classes_present],
            "per_class": {
                name: {
                    "precision": clean(self.precision[i]),
                    "recall": clean(self.recall[i]),
                    "f1": clean(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, name in enumerate(class_names)
            },
            "confusion_matrix": self.confusion.tolist(),
        }


def report_from_confusion(confusion: np.ndarray) -> ClassificationReport:
    """OA, macro-F1 over the classes present in the truth, and per-class precision/recall/F1."""
    cm = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    total = cm.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / predicted
        recall = tp / support
        f1 = 2 * tp / (2 * tp + (predicted - tp) + (support - tp))
    present = np.flatnonzero(support > 0)
    oa = float(tp.sum() / total) if total else float("nan")
    macro = float(f1[present].mean()) if len(present) else float("nan")
    return ClassificationReport(
        np.asarray(confusion, dtype=np.int64),
        oa,
        macro,
        precision,
        recall,
        f1,
        support.astype(np.int64),
        tuple(int(i) for i in present),
    )


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)
) -> ClassificationReport:
    """Metrics of predicted vs true class indices (n,) int."""
    return report_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def format_report(report: ClassificationReport, class_names: tuple[str, ...] = CLASSES) -> str:
    """A plain-text summary: OA, mF1 and a per-class table (classes with support or predictions)."""
    width = max([10, *map(len, class_names)])
    lines = [
        f"OA  {100 * report.overall_accuracy:6.2f} %   macro-F1 {100 * report.macro_f1:6.2f} %   "
        f"(n = {int(report.confusion.sum())}, classes present: "
        f"{', '.join(class_names[i] for i in report.classes_present)})",
        f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}",
    ]
    predicted = report.confusion.sum(axis=0)

    def pct(v: float) -> str:
        return "      -" if np.isnan(v) else f"{100 * v:7.2f}"

    for i, name in enumerate(class_names):
        if report.support[i] == 0 and predicted[i] == 0:
            continue
        lines.append(
            f"{name:<{width}} {pct(report.precision[i]):>9} {pct(report.recall[i]):>9} "
            f"{pct(report.f1[i]):>9} {int(report.support[i]):>8}"
        )
    return "\n".join(lines)
