"""The one function behind ``gee-crop info``: the model card of a model file, as Markdown or JSON."""

from __future__ import annotations

import json

from gee_crop.errors import ModelFileError
from gee_crop.export.cards import card_text, read_card
from gee_crop.models.io import ModelLike, read_model_file


def model_card_text(model: ModelLike, *, as_json: bool = False) -> str:
    """The card of ``model`` (an ONNX export, model.pt, a forest's model.onnx, read once): Markdown, or
    indented JSON with ``as_json``."""
    model = read_model_file(model)
    card = read_card(model)
    if as_json:
        return json.dumps(card, indent=2)  # ASCII only: control characters print as \u escapes
    try:
        return card_text(card)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(
            f"{model.path} carries a damaged model card ({type(exc).__name__}: {str(exc)[:80]!r}); "
            "export the model again with `gee-crop export`"
        ) from None
