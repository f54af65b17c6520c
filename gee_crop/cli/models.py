"""``gee-crop models``: the pretrained models shipped with gee-crop, one line each."""

from __future__ import annotations

import click


@click.command("models")
def command() -> None:
    """List the shipped model zoo: name, classes, training domains, held-out-domain scores, size.

    `gee-crop map` uses the default one when no --model is given; `gee-crop info NAME` prints its card.
    """
    from gee_crop.models.zoo import zoo_listing

    lines = zoo_listing()
    if not lines:
        click.echo("no shipped model in this install (gee_crop/resources/models is empty)")
    for line in lines:
        click.echo(line)
