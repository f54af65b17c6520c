"""The model zoo: pretrained models shipped inside the package (``gee_crop/resources/models``).

``index.json`` there lists each model (file, card, classes, the lon/lat box of its training domain,
its leave-one-domain-out scores) and names the default one, which ``gee-crop map`` uses when no
``--model`` is given. Each model is rebuilt by a recipe under the repository's ``models/`` folder
(``models/train_zoo.py``), which also writes its card. ``gee-crop models`` lists the zoo, ``info``
prints a card, and ``map`` / ``info`` / ``evaluate`` / ``train --init-from`` resolve a model name through it.
``footprints.json`` holds each model's training footprint (climate zones and extent of its training samples,
written by ``models/zoo_footprint.py``), which the domain guard (:mod:`gee_crop.models.domain`) judges against.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from gee_crop.errors import InputError
from gee_crop.models.domain import DomainReport, TrainingFootprint, guard, stored_footprint

ZOO_FOLDER = "models"
INDEX_NAME = "index.json"
FOOTPRINTS_NAME = "footprints.json"


@dataclass(frozen=True)
class ZooModel:
    """One shipped model: its file, card and where it may be trusted."""

    name: str
    path: Path
    card_path: Path
    summary: str
    classes: tuple[str, ...]
    domain: str
    domain_bbox: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max (degrees)
    training_domains: tuple[str, ...]
    lodo: dict[str, dict[str, float]]
    default: bool = False
    weights_path: Path | None = None  # the fp32 model.pt that --init-from loads
    footprint: TrainingFootprint | None = None  # where its training samples lay (footprints.json)

    def line(self) -> str:
        """One line for ``gee-crop models``."""
        f1 = [s["macro_f1"] for s in self.lodo.values()]
        score = f", held-out-domain macro-F1 {100 * min(f1):.0f}-{100 * max(f1):.0f} %" if f1 else ""
        size = self.path.stat().st_size / 1e6
        return (
            f"{self.name}{' (default)' if self.default else ''}: {self.summary}; classes "
            f"{'/'.join(self.classes)}; trained on {', '.join(self.training_domains)}{score}; "
            f"{size:.1f} MB"
        )

    def is_file(self, path: Path) -> bool:
        """Whether ``path`` is this model's shipped file or its weights."""
        return any(
            p is not None and p.exists() and path.exists() and p.samefile(path) for p in (self.path, self.weights_path)
        )


def _zoo_dir() -> Path:
    return Path(str(resources.files("gee_crop.resources").joinpath(ZOO_FOLDER)))


def zoo_models() -> list[ZooModel]:
    """Every model of the shipped zoo, the default first."""
    folder = _zoo_dir()
    index_path = folder / INDEX_NAME
    if not index_path.is_file():
        return []
    index = json.loads(index_path.read_text(encoding="utf-8"))
    footprints_path = folder / FOOTPRINTS_NAME
    footprints = json.loads(footprints_path.read_text(encoding="utf-8")) if footprints_path.is_file() else {}
    models = [
        ZooModel(
            name=m["name"],
            path=folder / m["file"],
            card_path=folder / m["card"],
            summary=m["summary"],
            classes=tuple(m["classes"]),
            domain=m["domain"],
            domain_bbox=tuple(m["domain_bbox"]),
            training_domains=tuple(m["training_domains"]),
            lodo=dict(m.get("lodo", {})),
            default=m["name"] == index.get("default"),
            weights_path=folder / m["weights"] if m.get("weights") else None,
            footprint=TrainingFootprint.from_dict(footprints[m["name"]]) if m["name"] in footprints else None,
        )
        for m in index.get("models", [])
    ]
    return sorted(models, key=lambda m: not m.default)


def zoo_model(name: str | None = None) -> ZooModel:
    """The zoo model called ``name`` (None: the default one); InputError naming the choices."""
    models = zoo_models()
    if not models:
        raise InputError(
            "this gee-crop install ships no model (gee_crop/resources/models is empty); "
            "reinstall gee-crop, or pass --model MODEL.onnx from `gee-crop export`"
        )
    for model in models:
        if (name is None and model.default) or model.name == name:
            return model
    if name is None:
        return models[0]
    raise InputError(
        f"no model called {name!r} in the zoo; use one of {', '.join(m.name for m in models)} "
        "(`gee-crop models`) or a model file path"
    )


def resolve_model(model: str | os.PathLike | None) -> tuple[Path, ZooModel | None]:
    """The model file ``gee-crop map`` / ``info`` should use: a path as given, a zoo name, or (None)
    the default zoo model. Returns ``(path, zoo model or None)``."""
    if model is not None and (Path(model).exists() or str(model) not in {m.name for m in zoo_models()}):
        return Path(model), None  # a file (its reader names any problem with it)
    chosen = zoo_model(None if model is None else str(model))
    return chosen.path, chosen


def model_footprint(path: Path, meta: Mapping[str, Any]) -> tuple[str, TrainingFootprint | None]:
    """``(name, footprint)`` of a model file: the footprint its metadata records (``gee-crop train``), else
    the zoo's when the file is a shipped model or its weights (named by its zoo name), else None."""
    recorded = stored_footprint(meta)
    zoo = next((m for m in zoo_models() if m.is_file(Path(path))), None)
    if zoo is not None:
        return zoo.name, recorded or zoo.footprint
    return str(path), recorded


def domain_report(
    path: Path, meta: Mapping[str, Any], lon: np.ndarray, lat: np.ndarray, *, what: str = "these samples"
) -> DomainReport:
    """The domain guard (:func:`gee_crop.models.domain.guard`) of the model file at ``path`` (its metadata
    ``meta``, read once by the caller) for target points ``lon``/``lat`` (degrees, (n,)): the one entry
    point of ``evaluate``, ``map``, ``train --init-from`` and ``train --arch auto``."""
    name, footprint = model_footprint(path, meta)
    return guard(footprint, lon, lat, name, what=what)


def zoo_listing() -> list[str]:
    """One line per shipped model (``gee-crop models``)."""
    return [m.line() for m in zoo_models()]


def zoo_card(name: str | None = None) -> str:
    """The Markdown card of a zoo model (its recipe's card)."""
    return zoo_model(name).card_path.read_text(encoding="utf-8")
