"""The model zoo: pretrained models shipped inside the package (``gee_crop/resources/models``).

``index.json`` there lists each model (file, card, classes, the lon/lat box of its training domain,
its leave-one-domain-out scores) and names the default one, which ``gee-crop map`` uses when no
``--model`` is given. Each model is rebuilt by a recipe under the repository's ``models/`` folder
(``models/train_zoo.py``), which also writes its card. ``gee-crop models`` lists the zoo, ``info``
prints a card, and ``map`` / ``info`` / ``train --init-from`` resolve a model name through it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import shapely

from gee_crop.errors import InputError

ZOO_FOLDER = "models"
INDEX_NAME = "index.json"


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

    def covers(self, region: shapely.Geometry) -> bool:
        """Whether ``region`` (WGS84) lies inside the model's training domain box."""
        return bool(shapely.box(*self.domain_bbox).contains(region.centroid))

    def domain_warning(self, region: shapely.Geometry) -> str | None:
        """A warning line when ``region`` lies outside the model's domain, else None."""
        if self.covers(region):
            return None
        lon, lat = region.centroid.x, region.centroid.y
        return (
            f"warning: the region ({lon:.2f}, {lat:.2f}) lies outside {self.name}'s training domain "
            f"({self.domain}, lon/lat {list(self.domain_bbox)}); its classes and accuracy there are "
            "unknown: check the map against reference data (`gee-crop assess`) or train your own model"
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


def zoo_listing() -> list[str]:
    """One line per shipped model (``gee-crop models``)."""
    return [m.line() for m in zoo_models()]


def zoo_card(name: str | None = None) -> str:
    """The Markdown card of a zoo model (its recipe's card)."""
    return zoo_model(name).card_path.read_text(encoding="utf-8")
