"""Model cards: what a model was trained on, what it predicts, its validation and transfer scores and
its known limits. ``gee-crop export`` writes the card into the ONNX metadata (JSON) and beside the file
(Markdown); ``gee-crop info`` prints the card of any model file; experiments and ``evaluate --record``
add transfer scores to a model file's ``metrics.transfers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from gee_crop.classes import CLASSES
from gee_crop.errors import ModelFileError
from gee_crop.models.cropnet import count_parameters
from gee_crop.models.io import INPUT_NAME, OUTPUT_NAME, ModelLike, load_model, read_model_file, update_model_meta
from gee_crop.models.registry import torch_archs
from gee_crop.season import Season
from gee_crop.viz.html import is_number, number
from gee_crop.viz.text import escape_strings, for_markdown, for_terminal

PAPER = (
    "Tong & Wang, Invariant Features for Global Crop Type Classification (CropGlobe / CropNet); implemented by gee-crop"
)


def _known_limits(meta: dict, trained_classes: list[str], regions: list[str]) -> list[str]:
    season = meta["season"]
    missing = [c for c in meta.get("classes", CLASSES) if c not in trained_classes]
    shift = Season.from_dict(season).south_shift_months
    where = (
        f"shifted {shift} months in the southern hemisphere" if shift else "the same calendar date in both hemispheres"
    )
    limits = [
        f"Trained on samples from {', '.join(regions) or 'unknown regions'} only; accuracy elsewhere is "
        "unknown until evaluated on reference data there (the paper's transfers reach 75-98 % OA).",
        f"Inputs must be 5-day-style median composites computed exactly like training: "
        f"{season['n_bins']} bins of {season['window_days']} days from the season start "
        f"(month-day {season['start_month_day']}, {where}), "
        "gap-filled by linear interpolation; other spans or windows change the features.",
        f"Clear observations were those passing the cloud threshold {meta['cloud_threshold']} of the "
        "training data's cloud indicator; a different cloud mask shifts the medians.",
        "Validation scores come from a random split of the training data, not from a transfer to new "
        "regions, and are optimistic.",
    ]
    if missing:
        limits.insert(
            1, f"No training samples of {', '.join(missing)}: the model cannot be trusted to predict these classes."
        )
    return limits


def model_card(meta: dict, n_parameters: int, input_shape: tuple[int, ...], input_name: str, output_name: str) -> dict:
    """A JSON-ready model card from a model file's metadata."""
    config = meta.get("train_config", {})
    data = config.get("data", {})
    trained_classes = list(data.get("class_counts", {}))
    validation = (meta.get("metrics") or {}).get("validation") or {}
    return {
        "model": meta["arch"],
        "method": PAPER,
        "parameters": int(n_parameters),
        "input": {
            "name": input_name,
            "shape": ["N", *input_shape],
            "units": "surface reflectance (Sentinel-2 L2A DN / 10000), bands in 'bands' order",
            "feature_kind": meta["feature_kind"],
            "input_scaling": meta.get("input_scaling", "standard"),
        },
        "output": {
            "name": output_name,
            "shape": ["N", len(meta["classes"])],
            "meaning": "class probabilities (softmax) in 'classes' order",
        },
        "classes": list(meta["classes"]),
        "bands": list(meta["bands"]),
        "season": meta["season"],
        "training_data": data,
        "training": {
            **{
                k: config.get(k)
                for k in (
                    "epochs",
                    "batch_size",
                    "learning_rate",
                    "augment",
                    "class_weights",
                    "val_fraction",
                    "seed",
                    "widths",
                )
            },
            # recipe options of issue 12, shown where the model's training config records them
            **{k: config[k] for k in ("input_scaling", "balanced_sampling", "augment_options") if k in config},
        },
        "metrics": {
            "validation_overall_accuracy": validation.get("overall_accuracy"),
            "validation_macro_f1": validation.get("macro_f1"),
            "n_validation": (meta.get("metrics") or {}).get("n_val"),
            "n_train": (meta.get("metrics") or {}).get("n_train"),
        },
        "transfer_scores": list((meta.get("metrics") or {}).get("transfers", [])),
        "fine_tuned_from": meta.get("init_from"),
        "selection": meta.get("selection"),
        "known_limits": _known_limits(meta, trained_classes, list(data.get("regions", []))),
        "attribution": "Contains modified Copernicus Sentinel data.",
    }


def format_percent(value) -> str:
    """A 0..1 score of a (safe_card) card as '93.08 %', or 'n/a'; a non-number is shown as it is."""
    if value is None:
        return "n/a"
    return f"{number(value, '.2f', 100)} %" if is_number(value) else str(value)


def safe_card(card: dict, escaper: Callable[[object], str] = for_markdown) -> dict:
    """A copy of a card whose every string, keys included, went through ``escaper`` (``viz.text``: for_markdown
    for model_card.md, for_terminal for ``gee-crop info``): class names, sources and regions come from model
    files, which anyone may write."""
    return cast(dict, escape_strings(card, escaper))  # a dict copied stays a dict


def model_card_markdown(card: dict) -> str:
    """The card as a short Markdown document (model_card.md; every text field made inert Markdown)."""
    return _markdown(safe_card(card, for_markdown))


def _trained_seasons(season: dict, data: dict) -> str:
    """'2019 season', or for a mixed-year table '2019 (220), 2023 (500) seasons'."""
    seasons = data.get("seasons") or {}
    if len(seasons) > 1:
        return ", ".join(f"{y} ({n})" for y, n in sorted(seasons.items())) + " seasons"
    return f"{season['year_trained']} season"


def _markdown(card: dict) -> str:
    data, season, metrics = card["training_data"], card["season"], card["metrics"]
    counts = ", ".join(f"{c} {n}" for c, n in data.get("class_counts", {}).items()) or "n/a"
    lines = [
        f"# Model card: gee-crop {card['model']}",
        "",
        f"Method: {card['method']}. {number(card['parameters'], ',')} parameters.",
        "",
        "## Input and output",
        f"- `{card['input']['name']}`: shape {card['input']['shape']}, {card['input']['units']}; "
        f"bands {', '.join(card['bands'])}; features `{card['input']['feature_kind']}`; input scaling "
        f"`{card['input'].get('input_scaling', 'standard')}` (inside the model).",
        f"- `{card['output']['name']}`: shape {card['output']['shape']}, {card['output']['meaning']}; "
        f"classes {', '.join(card['classes'])}.",
        f"- Season: {season['n_bins']} bins of {season['window_days']} days over {season['length_days']} "
        f"days from month-day {season['start_month_day']} (trained on the {_trained_seasons(season, data)}).",
        "",
        "## Training data",
        f"- Source: {data.get('source', 'n/a')}; regions: {', '.join(data.get('regions', [])) or 'n/a'}.",
        f"- Samples used: {data.get('n_samples', 'n/a')} ({counts}); dropped for gaps: {data.get('n_dropped', 'n/a')}.",
        f"- Options: {', '.join(f'{k}={v}' for k, v in card['training'].items())}.",
        *_fine_tuned_lines(card.get("fine_tuned_from")),
        *_selection_lines(card.get("selection")),
        "",
        "## Validation",
        f"- OA {format_percent(metrics['validation_overall_accuracy'])}, "
        f"macro-F1 {format_percent(metrics['validation_macro_f1'])} "
        f"on {metrics['n_validation']} held-out samples ({metrics['n_train']} for training).",
        "",
        "## Known limits",
        *[f"- {limit}" for limit in card["known_limits"]],
        "",
        card["attribution"],
        "",
    ]
    return "\n".join(lines)


def _selection_lines(selection: dict | None) -> list[str]:
    """The card's lines on the cross-validation that chose the model (``train --arch auto``)."""
    if not isinstance(selection, dict):
        return []
    rows = [
        f"  - {c.get('name')}: macro-F1 {format_percent(c.get('macro_f1_mean'))} ± "
        f"{format_percent(c.get('macro_f1_std'))}, {c.get('seconds')} s"
        for c in selection.get("candidates", [])
        if isinstance(c, dict)
    ]
    return [
        f"- Chosen by `--arch auto`: {selection.get('winner')} won a spatial {selection.get('folds')}-fold "
        f"cross-validation ({selection.get('block_m')} m blocks, {selection.get('n_samples')} samples; "
        f"{selection.get('rule')}{_because(selection.get('rule_why'))}):",
        *rows,
        *(f"  - skipped {why}" for why in selection.get("skipped", [])),
    ]


def _because(why: object) -> str:
    """`` because ...`` for a selection that records why its rule applied (none before it did)."""
    return f" because {why}" if why else ""


def _fine_tuned_lines(init_from: dict | None) -> list[str]:
    """The card's line on the model a fine-tuned model started from (none for a model trained from scratch)."""
    if not isinstance(init_from, dict):
        return []
    data = init_from.get("source_data") or {}
    where = f"; its training data: {data.get('source', 'n/a')} ({', '.join(data.get('regions', [])) or 'n/a'})"
    lines = [
        f"- Fine-tuned from {init_from.get('name', 'n/a')} ({init_from.get('arch', 'n/a')}, sha256 "
        f"{init_from.get('sha256', 'n/a')}){where}."
    ]
    head = init_from.get("head")
    if isinstance(head, dict):  # training/finetune.py NewHead.record
        kept = ", ".join(map(str, head.get("classes_kept") or [])) or "none"
        added = ", ".join(map(str, head.get("classes_added") or [])) or "none"
        layer = "a new output layer" if head.get("new_head") else "the source's output layer"
        encoder = "frozen (only the output layer learned)" if head.get("encoder_frozen") else "trained"
        lines.append(
            f"- Kept the source's encoder ({encoder}) and {layer}; classes kept: {kept}; classes added: {added}."
        )
    return lines


TRANSFER_KEYS = (
    "transfer",
    "source",
    "target",
    "source_region",
    "target_region",
    "overall_accuracy",
    "macro_f1",
    "n_samples",
    "alignment_rule",
    "season_year",
    "seed",
)


def transfer_entry(result: dict) -> dict:
    """The card's view of one experiment result."""
    return {k: result.get(k) for k in TRANSFER_KEYS}


def evaluation_entry(evaluation, target: str) -> dict:
    """The card entry of one ``gee_crop.training.evaluate.Evaluation`` on the table named ``target``."""
    scores = evaluation.to_dict()
    source, region = scores.get("source_region") or "?", scores.get("target_region") or "?"
    return transfer_entry({**scores, "target": target, "transfer": f"{source}->{region} ({target})"})


def record_transfer_scores(model_path: ModelLike, results: list[dict]) -> None:
    """Add (or replace, per target) transfer scores in ``metrics.transfers`` of a trained model file
    (``model.pt`` or a forest's ``model.onnx``), rewritten atomically. An ONNX export keeps the card
    it was exported with."""
    if not results:
        return
    model = read_model_file(model_path)
    meta = model.meta
    if "metrics" not in meta:
        return
    metrics = dict(meta["metrics"] or {})
    entries = {e["target"]: e for e in metrics.get("transfers", [])}
    entries.update({r["target"]: transfer_entry(r) for r in results})
    metrics["transfers"] = list(entries.values())
    update_model_meta(model, metrics=metrics)


def model_card_of(model_path: ModelLike) -> dict:
    """The card of a trained model file (``model.pt`` or a forest's ``model.onnx``) from its metadata."""
    model = read_model_file(model_path)
    meta, contract = model.meta, model.contract
    if meta.get("arch") in torch_archs():
        n_params, shape = count_parameters(load_model(model)[0]), contract.input_shape
    else:
        n_params, shape = 0, (contract.n_features,)
    return model_card(meta, n_params, shape, INPUT_NAME, OUTPUT_NAME)


def read_card(model_path: ModelLike) -> dict:
    """The model card of any model file: the one stored in an ONNX export, else built from the metadata."""
    model = read_model_file(model_path)
    meta = model.meta
    if "model_card" in meta:
        return dict(meta["model_card"])
    if "train_config" not in meta:
        raise ModelFileError(f"{model.path} carries no model card; export it again with `gee-crop export`")
    return model_card_of(model)


def card_text(card: dict) -> str:
    """The card for a terminal (``gee-crop info``): the exporter's Markdown layout, then the transfer scores;
    every text field goes through ``for_terminal``, so no escape sequence from the file reaches the terminal
    (and no HTML entity: the terminal shows text as it is)."""
    card = safe_card(card, for_terminal)
    text = _markdown(card).rstrip("\n")
    scores = card.get("transfer_scores") or []
    lines = ["", "## Transfer scores"]
    if not scores:
        lines.append("- none recorded (run the model through `gee-crop experiment` or `gee-crop evaluate --record`)")
    for s in scores:
        lines.append(
            f"- {s.get('transfer') or s.get('target')}: OA {format_percent(s.get('overall_accuracy'))}, "
            f"macro-F1 {format_percent(s.get('macro_f1'))} on {s.get('n_samples')} samples "
            f"(season {s.get('season_year')}, class alignment: {s.get('alignment_rule') or 'none'})"
        )
    return text + "\n" + "\n".join(lines) + "\n"
