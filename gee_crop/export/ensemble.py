"""Seed ensembles as one ONNX graph: several trained torch models of one contract, their softmax
probabilities averaged inside the graph (issue 12: seeds of one recipe differed by up to 36 OA points;
their mean is steadier than any one of them).

The graph has the I/O of every gee-crop ONNX model (``reflectance`` in, ``probabilities`` out), so
``open_predictor``, ``map``, ``evaluate`` and int8 quantisation (``export/quantize.py``) take it as
they take one exported model. Each member keeps its own input scaling and normalisation inside the
graph. ``metadata_props`` carry the shared contract plus ``ensemble``: how the members are combined
and, per member, its file name, sha256, architecture, seed and validation scores.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from gee_crop.errors import InputError
from gee_crop.export.cards import model_card, model_card_markdown, safe_card
from gee_crop.export.onnx import (
    PARITY_TOLERANCE,
    _check_out,
    _checked,
    _max_difference,
    graph_meta,
    real_inputs,
    write_graph,
)
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.cropnet import count_parameters
from gee_crop.models.io import (
    INPUT_NAME,
    OUTPUT_NAME,
    ModelFile,
    ModelLike,
    load_model,
    read_model_file,
)
from gee_crop.models.predict import open_predictor
from gee_crop.types import SampleSeries

#: the metadata key of an ensemble graph, and how its members are combined.
ENSEMBLE_KEY = "ensemble"
COMBINE = "mean of the members' softmax probabilities"
MIN_MEMBERS = 2


class MeanProbabilities(nn.Module):
    """(N, classes) mean of the members' softmax probabilities for reflectance (N, 1, 10, t) / (N, 1, F);
    each member applies its own input scaling and normalisation (inside its ``forward``)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, reflectance: torch.Tensor) -> torch.Tensor:
        # a plain sum (Add nodes) rather than stack + mean: the same numbers, and no ReduceMean to convert
        total = torch.softmax(self.members[0](reflectance), dim=1)
        for member in self.members[1:]:
            total = total + torch.softmax(member(reflectance), dim=1)
        return total / len(self.members)


@dataclass(frozen=True)
class Member:
    """One trained model of an ensemble: its file, weights (eval mode, CPU) and metadata."""

    path: Path
    model: nn.Module
    meta: dict
    contract: FeatureSpec
    sha256: str

    def record(self) -> dict:
        """The member's entry in the ensemble's metadata."""
        validation = (self.meta.get("metrics") or {}).get("validation") or {}
        # the run folder and file name only: a user's directories stay out of a shipped model
        return {
            "file": f"{self.path.parent.name}/{self.path.name}",
            "sha256": self.sha256,
            "arch": self.meta.get("arch"),
            "seed": (self.meta.get("train_config") or {}).get("seed"),
            "validation_overall_accuracy": validation.get("overall_accuracy"),
            "validation_macro_f1": validation.get("macro_f1"),
        }


def _differences(a: FeatureSpec, b: FeatureSpec) -> list[str]:
    return [f.name for f in fields(FeatureSpec) if f.compare and getattr(a, f.name) != getattr(b, f.name)]


def load_members(model_paths: Sequence[ModelLike]) -> list[Member]:
    """The trained torch models of an ensemble, checked: at least two, each a ``model.pt`` (ONNX files
    hold no weights to combine), no file twice, one contract (InputError naming what differs)."""
    if len(model_paths) < MIN_MEMBERS:
        raise InputError(
            f"an ensemble needs at least {MIN_MEMBERS} models, got {len(model_paths)}; give several "
            "model.pt files trained with the same options and different --seed"
        )
    members = []
    for file in map(read_model_file, model_paths):
        if file.kind != "torch":
            raise InputError(
                f"{file.path} is not a torch model.pt; an ensemble is built from the model.pt files of "
                "`gee-crop train` (an ONNX export or a Random Forest holds no weights to combine)"
            )
        model, meta = load_model(file)
        members.append(Member(file.path, model, meta, FeatureSpec.from_meta(meta), file.sha256))
    digests = [m.sha256 for m in members]
    repeated = sorted({str(m.path) for m in members if digests.count(m.sha256) > 1})
    if repeated:
        raise InputError(f"the same model is given twice ({', '.join(repeated)}); give each member once")
    first = members[0]
    for member in members[1:]:
        differ = _differences(first.contract, member.contract)
        if differ:
            raise InputError(
                f"{member.path} reads other inputs or predicts other classes than {first.path} "
                f"({', '.join(differ)} differ); ensemble models trained with the same options "
                "(only --seed should change)"
            )
    return members


_T = TypeVar("_T")


def _common(values: list[_T]) -> _T | None:
    return values[0] if all(v == values[0] for v in values) else None


def ensemble_meta(members: list[Member]) -> dict:
    """The metadata_props of the ensemble graph (contract, arch, ``ensemble``), without the card."""
    # the season year only where every member trained on the same one
    contract = replace(members[0].contract, year_trained=_common([m.contract.year_trained for m in members]))
    arch = _common([m.meta.get("arch") for m in members]) or ENSEMBLE_KEY
    # the members share the training data: the first one's input summary (shift score) and training footprint
    # (domain guard) are the ensemble's
    return graph_meta(
        contract,
        arch,
        members[0].meta,
        **{ENSEMBLE_KEY: {"combine": COMBINE, "members": [m.record() for m in members]}},
    )


def ensemble_card(members: list[Member], meta: dict) -> dict:
    """The model card: the first member's training data and options, every member's seed and scores;
    the ensemble's own validation is left to ``gee-crop evaluate`` (the members' splits differ)."""
    base = members[0].meta
    n_params = sum(count_parameters(m.model) for m in members)
    card = model_card(
        {**base, **{k: meta[k] for k in ("arch", "season")}},
        n_params,
        members[0].contract.input_shape,
        INPUT_NAME,
        OUTPUT_NAME,
    )
    records = meta[ENSEMBLE_KEY]["members"]
    card["model"] = f"{meta['arch']} ensemble of {len(members)} ({COMBINE})"
    card["training"]["seed"] = [r["seed"] for r in records]
    sources = [(m.meta.get("train_config") or {}).get("data") or {} for m in members]
    if _common(sources) is None:
        card["training_data"] = {
            "source": "; ".join(dict.fromkeys(str(s.get("source")) for s in sources)),
            "regions": sorted({r for s in sources for r in s.get("regions", [])}),
        }
    card["metrics"] = {
        "validation_overall_accuracy": None,
        "validation_macro_f1": None,
        "n_validation": 0,
        "n_train": (base.get("metrics") or {}).get("n_train"),
    }
    card["known_limits"].append(
        "The ensemble itself was not validated (each member holds out its own split); "
        "score it on reference data with `gee-crop evaluate`."
    )
    card[ENSEMBLE_KEY] = meta[ENSEMBLE_KEY]
    return card


def ensemble_card_markdown(card: dict) -> str:
    """The card as Markdown, with one line per member (every text field made inert)."""
    safe = safe_card(card)
    lines = ["## Ensemble members", f"- Combined as the {safe[ENSEMBLE_KEY]['combine']}."]
    for r in safe[ENSEMBLE_KEY]["members"]:
        oa = r.get("validation_overall_accuracy")
        score = f", validation OA {100 * oa:.2f} %" if isinstance(oa, (int, float)) else ""
        lines.append(f"- `{r['file']}` ({r['arch']}, seed {r['seed']}{score}), sha256 {r['sha256']}")
    return model_card_markdown(card) + "\n" + "\n".join(lines) + "\n"


def export_ensemble(
    model_paths: Sequence[ModelLike], out_path: str | os.PathLike, *, opset: int = 17, overwrite: bool = False
) -> Path:
    """Export the torch models ``model_paths`` (one contract) as ONE ONNX graph averaging their
    probabilities (+ ``model_card.md`` beside it); returns the ONNX path. OutputExistsError when
    ``out_path`` exists and ``overwrite`` is False; InputError for members that do not fit together."""
    out_path = Path(out_path)
    _check_out(out_path, overwrite)
    members = load_members(model_paths)
    meta = ensemble_meta(members)
    card = ensemble_card(members, meta)
    graph = MeanProbabilities([m.model for m in members]).eval()
    full_meta = {**meta, "model_card": card}
    write_graph(graph, members[0].contract.input_shape, out_path, opset, full_meta, ensemble_card_markdown(card))
    return out_path


def check_ensemble_parity(
    model_paths: Sequence[ModelLike], onnx_path: ModelLike, inputs: np.ndarray, tolerance: float = PARITY_TOLERANCE
) -> float:
    """Max |probability difference| between the mean of the members' torch probabilities (fp32, CPU)
    and the ensemble graph in onnxruntime (CPU); ParityError above ``tolerance``."""
    expected = np.mean([open_predictor(p, device="cpu").predict_proba(inputs) for p in model_paths], axis=0)
    got = open_predictor(onnx_path, providers=["CPUExecutionProvider"]).predict_proba(inputs)
    return _max_difference(expected, got, tolerance)


def export_ensemble_and_check(
    model_paths: Sequence[ModelLike],
    out_path: str | os.PathLike,
    data: SampleSeries | str | os.PathLike,
    *,
    opset: int = 17,
    overwrite: bool = False,
) -> tuple[Path, float, int]:
    """Export the ensemble, then compare onnxruntime with the members' mean torch probabilities on real
    inputs from ``data``: ``(path, max |dprob|, n_samples)``; the file is removed when parity fails."""
    files: list[ModelFile] = [read_model_file(p) for p in model_paths]  # each member read once
    path = export_ensemble(files, out_path, opset=opset, overwrite=overwrite)
    inputs = real_inputs(files[0].contract, data)
    return path, _checked(path, lambda: check_ensemble_parity(files, path, inputs)), len(inputs)
