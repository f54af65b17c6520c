"""The one function behind ``gee-crop evaluate``: score a model on a table, write the scores, and
optionally record them in the model's card."""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from gee_crop.data.cube import InputKind, input_kind, refuse_stack_as_training_input
from gee_crop.data.emit_table import S2EmitTables, is_emit_table
from gee_crop.export.cards import evaluation_entry, record_transfer_scores
from gee_crop.models.io import ModelFile, ModelLike, read_model_file
from gee_crop.outputs import claim_output
from gee_crop.training.cube_train import evaluate_cube
from gee_crop.training.emit import evaluate_emit_model
from gee_crop.training.evaluate import Evaluation, evaluate_model, write_evaluation
from gee_crop.training.s2_emit import evaluate_s2_emit_model
from gee_crop.viz.plots import plot_confusion

#: the files of an evaluation folder: one of them there means an earlier evaluation (--overwrite replaces it).
EVALUATION_FILES = ("metrics.json", "confusion_matrix.csv", "confusion_matrix.png", "confusion_matrix.svg")


@dataclass(frozen=True)
class EvaluateResult:
    """What ``gee-crop evaluate`` did: the scores, the files written, and the card entry recorded."""

    evaluation: Evaluation
    paths: dict[str, Path]
    recorded_as: str | None  # the card's target name when --record stored the scores, else None


def run_evaluate(
    model: ModelLike,
    table: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    target_region: str | None = None,
    source_region: str | None = None,
    year: int | None = None,
    device: str = "auto",
    record: bool = False,
    overwrite: bool = False,
    emit_table: str | os.PathLike | None = None,
) -> EvaluateResult:
    """Evaluate ``model`` on ``table``, write metrics.json and the confusion matrix into ``out_dir``;
    with ``record`` also store the scores in the model file's card (one entry per table name). The model
    file is read once. An earlier evaluation in ``out_dir`` is refused without ``overwrite``; ``out_dir``
    (and with ``record`` the model file) are locked while the run writes them (``gee_crop.outputs``)."""
    target = Path(table).stem if record else None
    # with --record the model file is locked before it is read, so the card rewritten from that one read
    # cannot undo another run's entry
    model_path = model.path if isinstance(model, ModelFile) else Path(model)
    card = claim_output(model_path, folder=False, resumes=True) if record else nullcontext()
    with card, claim_output(out_dir, folder=True, overwrite=overwrite, outputs=EVALUATION_FILES):
        model = read_model_file(model)
        refuse_stack_as_training_input(table, "evaluate")
        if emit_table is not None:  # a model on S2+EMIT features: the two tables joined (docs/emit.md)
            evaluation = evaluate_s2_emit_model(model, S2EmitTables(table, emit_table), device=device)
        elif input_kind(table) is InputKind.CUBE:  # every labelled pixel of a composite cube
            evaluation = evaluate_cube(model, table, device=device)
        elif is_emit_table(table):  # a model on EMIT medians (docs/emit.md)
            evaluation = evaluate_emit_model(model, table, device=device)
        else:
            evaluation = evaluate_model(
                model, table, target_region=target_region, source_region=source_region, year=year, device=device
            )
        paths = write_evaluation_files(evaluation, out_dir)
        if target is not None:
            record_transfer_scores(model, [evaluation_entry(evaluation, target)])
    return EvaluateResult(evaluation, paths, target)


def write_evaluation_files(evaluation: Evaluation, out_dir: str | os.PathLike) -> dict[str, Path]:
    """metrics.json and confusion_matrix.csv (``training.evaluate.write_evaluation``) and the confusion
    matrix figure (confusion_matrix.png and .svg, drawn by gee_crop.viz.plots)."""
    paths = write_evaluation(evaluation, out_dir)
    report = evaluation.report
    title = (
        f"{evaluation.source_region or '?'} -> {evaluation.target_region or '?'}: "
        f"OA {100 * report.overall_accuracy:.1f} %, mF1 {100 * report.macro_f1:.1f} %"
    )
    png, svg = plot_confusion(report.confusion, Path(out_dir) / "confusion_matrix", title, evaluation.classes)
    return {**paths, "png": png, "svg": svg}
