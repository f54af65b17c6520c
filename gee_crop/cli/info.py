"""``gee-crop info``: print the model card of an exported model or a model file."""
from __future__ import annotations

import click


@click.command("info")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON instead of Markdown.")
def command(model: str, as_json: bool) -> None:
    """Print the model card of MODEL (model.onnx from `gee-crop export`, or a trained model.pt / forest
    model.onnx):
    training data, classes, season, validation and transfer scores, known limits."""
    from gee_crop.pipeline.info import model_card_text

    click.echo(model_card_text(model, as_json=as_json), nl=as_json)
