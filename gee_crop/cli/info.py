"""``gee-crop info``: print the model card of an exported model or a model file."""
from __future__ import annotations

import click


@click.command("info")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON instead of Markdown.")
def command(model: str, as_json: bool) -> None:
    """Print the model card of MODEL (model.onnx from `gee-crop export`, or model.pt / model.pkl /
    an experiment's backbone.pt):
    training data, classes, season, validation and transfer scores, known limits."""
    import json

    from gee_crop.export.cards import card_text, read_card

    card = read_card(model)
    click.echo(json.dumps(card, indent=2) if as_json else card_text(card), nl=as_json)
