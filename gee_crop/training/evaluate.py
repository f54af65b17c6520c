"""Evaluating a saved model on a sample table (METHOD.md "Evaluation"): predict, align classes, score.

Works for every model file (``model.pt``, a forest's ``model.onnx``, an ONNX export), run through
``models.predict.open_predictor``. The features are computed as the model was trained (its contract)
for each sample's own season (its ``season_year``, else the season its dates cover best), so a model
trained on 2019 applies to a 2023 table, and to a table mixing years.
Samples the model's gap rule discards are left out of the scores, with their count reported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from gee_crop.atomic import atomic_write
from gee_crop.classes import CLASSES, class_indices
from gee_crop.data.table import read_table
from gee_crop.errors import EmptyResultError
from gee_crop.features.seasons import format_season_counts
from gee_crop.features.shift import summary_of, tally_shift, unavailable_score
from gee_crop.models.domain import DomainReport
from gee_crop.models.io import ModelLike, read_model_file
from gee_crop.models.predict import check_model_matches, open_predictor
from gee_crop.models.zoo import domain_report
from gee_crop.training.alignment import Alignment, align, alignment_for
from gee_crop.training.dataset import SeriesFeatures, series_features
from gee_crop.training.metrics import ClassificationReport, classification_report, format_report
from gee_crop.types import SampleSeries

#: evaluation batch size (as the 0.1.0 evaluation ran, so that scores stay the same).
EVALUATION_BATCH = 1024


@dataclass
class Evaluation:
    """Scores of a model on a table, after class alignment."""

    report: ClassificationReport
    alignment: Alignment
    n_samples: int
    n_dropped_gaps: int
    n_dropped_alignment: int
    year: int | None
    target_region: str | None
    source_region: str | None
    classes: tuple[str, ...] = CLASSES
    domain_shift: dict = field(default_factory=unavailable_score)  # features/shift.py: the table vs training
    seasons: dict[int, int] = field(default_factory=dict)  # season year -> scored samples (``year``: the commonest)
    domain_guard: DomainReport | None = None  # models/domain.py: the table's places against the model's footprint

    def to_dict(self) -> dict:
        return {
            **self.report.to_dict(self.classes),
            "alignment": self.alignment.to_dict(),
            "alignment_rule": self.alignment.describe(),
            "n_table_samples": self.n_samples,
            "n_dropped_gaps": self.n_dropped_gaps,
            "n_dropped_alignment": self.n_dropped_alignment,
            "season_year": self.year,
            "target_region": self.target_region,
            "source_region": self.source_region,
            "classes": list(self.classes),
            "domain_shift": dict(self.domain_shift),
            "season_years": {str(y): n for y, n in sorted(self.seasons.items())},
            "domain_guard": self.domain_guard.to_dict() if self.domain_guard is not None else None,
        }

    def summary(self) -> str:
        seasons = f"seasons {format_season_counts(self.seasons)}" if len(self.seasons) > 1 else f"season {self.year}"
        head = (
            f"{self.source_region or '?'} -> {self.target_region or '?'}, {seasons}; "
            f"class alignment: {self.alignment.describe()}; dropped {self.n_dropped_gaps} gap-heavy "
            f"and {self.n_dropped_alignment} aligned-out samples of {self.n_samples}"
        )
        return head + "\n" + format_report(self.report, self.classes)


def _single_region(values) -> str | None:
    regions = sorted({str(v) for v in values if str(v)})
    return regions[0] if len(regions) == 1 else None


def _data_name(data: SampleSeries | str | os.PathLike) -> str:
    """How error messages name the evaluated data."""
    return "the table" if isinstance(data, SampleSeries) else str(data)


def _why_nothing_scored(series: SampleSeries, keep: np.ndarray, name: str) -> str:
    """Why an evaluation scored no sample, and what to change (its scores would be NaN)."""
    if not len(series):
        return f"{name} holds no samples (0 rows), so there is nothing to score; evaluate a table with samples"
    if not keep.any():
        return (
            f"all {len(series)} samples of {name} are gap-heavy (no clear observation in too many windows of their "
            "season), so there is nothing to score; check --year (the season the table covers) or the table"
        )
    return (
        f"the {int(keep.sum())} scorable samples of {name} are all of classes the model's class alignment drops, "
        "so there is nothing to score; give --target-region/--source-region, or a table with the model's classes"
    )


def evaluate_model(
    model_path: ModelLike,
    data: SampleSeries | str | os.PathLike,
    *,
    target_region: str | None = None,
    source_region: str | None = None,
    year: int | None = None,
    device: str = "auto",
) -> Evaluation:
    """Predict ``data`` with a saved model and score it after the paper's class alignment.

    ``target_region`` defaults to the table's region when it has only one; ``source_region`` to the
    model's training region when it had only one. ``year`` None: each sample's own season
    (``season_year``, else the season its dates cover best); given: that season for every sample.
    """
    model = read_model_file(model_path)
    predictor = open_predictor(model, device=device)
    check_model_matches(predictor.contract, model_path=model.path)
    series = data if isinstance(data, SampleSeries) else read_table(data)
    feats = series_features(series, predictor.contract, year)
    classes = tuple(predictor.contract.classes)
    # every sample gap-heavy: nothing to predict, and the scores say so (None), not a crash
    proba = (
        predictor.predict_proba(feats.values[feats.keep], batch_size=EVALUATION_BATCH)
        if feats.keep.any()
        else np.zeros((0, len(classes)), dtype=np.float32)
    )
    target = target_region or _single_region(series.region)
    trained_on = predictor.meta.get("train_config", {}).get("data", {}).get("regions", [])
    source = source_region or _single_region(trained_on)
    # transfer risk: the scored samples against the model's training inputs (unavailable in older models)
    summary = summary_of(predictor.meta)
    shift = tally_shift(summary, feats.values[feats.keep], proba).score(available=summary is not None)
    evaluation = score_predictions(
        series, feats, classes, proba.argmax(axis=1), source, target, shift, _data_name(data)
    )
    # the domain guard (models/domain.py): where the table's samples lie against where the model trained
    guard = domain_report(model.path, model.meta, series.lon, series.lat, what="the table's samples")
    return replace(evaluation, domain_guard=guard)


def score_predictions(
    series: SampleSeries,
    feats: SeriesFeatures,
    classes: tuple[str, ...],
    predicted: np.ndarray,
    source: str | None,
    target: str | None,
    domain_shift: dict | None = None,
    data_name: str = "the table",
) -> Evaluation:
    """Score ``predicted`` (class indices of the samples ``feats`` keeps) against the samples' labels after
    the paper's class alignment, for a model and a baseline alike; EmptyResultError (why, named with
    ``data_name``) when no sample is left to score."""
    y_true = class_indices(series.crop_class[feats.keep], classes)  # the table's names, the model's order
    # the paper's alignment rules speak of its seven classes; a user's own class list is scored as it is
    alignment = alignment_for(source, target) if classes == CLASSES else Alignment(None, ())
    y_true, y_pred, kept = align(y_true, predicted, alignment.target_classes, alignment.drop_true_classes)
    if not len(y_true):
        raise EmptyResultError(_why_nothing_scored(series, feats.keep, data_name))
    return Evaluation(
        classification_report(y_true, y_pred, len(classes)),
        alignment,
        len(series),
        int((~feats.keep).sum()),
        int((~kept).sum()),
        feats.year,
        target,
        source,
        classes,
        domain_shift if domain_shift is not None else unavailable_score(),
        seasons=feats.season_counts,
    )


def write_evaluation(evaluation: Evaluation, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write metrics.json and confusion_matrix.csv (rows truth, columns prediction); the commands add
    the figure (``pipeline.evaluate.write_evaluation_files``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out_dir / "metrics.json", "csv": out_dir / "confusion_matrix.csv"}
    text = json.dumps(evaluation.to_dict(), indent=2)
    atomic_write(paths["metrics"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    cm = evaluation.report.confusion
    lines = ["reference\\predicted," + ",".join(evaluation.classes)]
    lines += [f"{name}," + ",".join(str(int(v)) for v in cm[i]) for i, name in enumerate(evaluation.classes)]
    atomic_write(paths["csv"], lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return paths
