"""``gee-crop info``: print the model card of a shipped model, an exported model or a model file."""

from __future__ import annotations

import click


@click.command("info")
@click.argument("model", required=False, default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON instead of Markdown.")
def command(model: str | None, as_json: bool) -> None:
    """Print the model card of MODEL: a shipped model's name (`gee-crop models`; default: the default
    one), model.onnx from `gee-crop export`, or a trained model.pt / forest model.onnx:
    training data, classes, season, validation and transfer scores, known limits."""
    from gee_crop.models.zoo import resolve_model, zoo_card
    from gee_crop.pipeline.info import model_card_text

    path, zoo = resolve_model(model)
    if zoo is not None and not as_json:
        click.echo(zoo_card(zoo.name))
        click.echo("## The exported file's card\n")
    click.echo(model_card_text(path, as_json=as_json), nl=as_json)
