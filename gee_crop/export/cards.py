"""Model cards with transfer scores: experiments write them into model files, ``gee-crop info`` prints them.

A model file's ``metrics`` gains ``transfers``: one entry per target the model was scored on
(target, regions, OA, macro-F1, samples, class alignment), so that the card exported with the
model (``gee_crop.export.model_card``) can state how the model transfers, not only its
validation score.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from gee_crop.atomic import atomic_write
from gee_crop.errors import ModelFileError

TRANSFER_KEYS = ("transfer", "source", "target", "source_region", "target_region", "overall_accuracy",
                 "macro_f1", "n_samples", "alignment_rule", "season_year", "seed")


def transfer_entry(result: dict) -> dict:
    """The card's view of one experiment result."""
    return {k: result.get(k) for k in TRANSFER_KEYS}


def evaluation_entry(evaluation, target: str) -> dict:
    """The card entry of one ``gee_crop.training.evaluate.Evaluation`` on the table named ``target``."""
    scores = evaluation.to_dict()
    source, region = scores.get("source_region") or "?", scores.get("target_region") or "?"
    return transfer_entry({**scores, "target": target, "transfer": f"{source}->{region} ({target})"})


def record_transfer_scores(model_path: str | os.PathLike, results: list[dict]) -> None:
    """Add (or replace, per target) transfer scores in ``metrics.transfers`` of a model file
    (``.pt`` torch or ``.pkl`` Random Forest), rewritten atomically."""
    path = Path(model_path)
    if path.suffix not in (".pt", ".pkl") or not results:
        return
    if path.suffix == ".pt":
        payload = torch.load(path, map_location="cpu", weights_only=True)
    else:
        import joblib

        payload = joblib.load(path)
    metrics = dict(payload.get("metrics") or {})
    entries = {e["target"]: e for e in metrics.get("transfers", [])}
    entries.update({r["target"]: transfer_entry(r) for r in results})
    metrics["transfers"] = list(entries.values())
    payload["metrics"] = json.loads(json.dumps(metrics))
    if path.suffix == ".pt":
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    else:
        import joblib

        atomic_write(path, lambda tmp: joblib.dump(payload, tmp))


def _card_of_model_file(path: Path) -> dict:
    from gee_crop.export.model_card import model_card
    from gee_crop.export.onnx import INPUT_NAME, OUTPUT_NAME
    from gee_crop.training.backbone_trainer import BACKBONE_FILE, load_backbone
    from gee_crop.models.io import is_random_forest, load_model

    if path.name == BACKBONE_FILE:  # a baseline trained by an experiment
        model, meta = load_backbone(path)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        card = model_card(meta, n_params, (1, len(meta["bands"]), meta["season"]["n_bins"]), INPUT_NAME,
                          OUTPUT_NAME)
        return card
    model, meta = load_model(path)
    if is_random_forest(meta):
        n_params, shape = 0, (int(getattr(model, "n_features_in_", 0)),)
    else:
        from gee_crop.models.cropnet import count_parameters, input_shape

        n_params, shape = count_parameters(model), input_shape(model)
    return model_card(meta, n_params, shape, INPUT_NAME, OUTPUT_NAME)


def read_card(path: str | os.PathLike) -> dict:
    """The model card of an exported ``.onnx`` file or of a ``model.pt`` / ``model.pkl`` / ``backbone.pt``."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from gee_crop.export.onnx import read_onnx_metadata

        meta = read_onnx_metadata(path)
        if "model_card" not in meta:
            raise ModelFileError(f"{path} carries no model card; export it again with `gee-crop export`")
        return dict(meta["model_card"])
    return _card_of_model_file(path)


def card_text(card: dict) -> str:
    """The card as Markdown: the exporter's card text, then the transfer scores."""
    from gee_crop.export.model_card import format_percent, model_card_markdown

    text = model_card_markdown(card).rstrip("\n")
    scores = card.get("transfer_scores") or []
    lines = ["", "## Transfer scores"]
    if not scores:
        lines.append("- none recorded (run the model through `gee-crop experiment` or `gee-crop evaluate --record`)")
    for s in scores:
        lines.append(f"- {s.get('transfer') or s.get('target')}: OA {format_percent(s.get('overall_accuracy'))}, "
                     f"macro-F1 {format_percent(s.get('macro_f1'))} on {s.get('n_samples')} samples "
                     f"(season {s.get('season_year')}, class alignment: {s.get('alignment_rule') or 'none'})")
    return text + "\n" + "\n".join(lines) + "\n"
