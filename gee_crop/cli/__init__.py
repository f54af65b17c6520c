"""The ``gee-crop`` command line: one module per command, each parses options, calls one
``gee_crop.pipeline`` function and prints; shared options are defined once in ``options.py``.

Exit codes: 0 done; 1 a user error in the data or files (GeeCropError, printed on one line);
2 a usage error (click's: unknown option, bad value, missing argument). Every command shows its
options' defaults in ``--help`` (the group's context sets ``show_default`` for all of them)."""

from __future__ import annotations

import importlib
import sys

import click

from gee_crop import __version__
from gee_crop.errors import GeeCropError

#: Exit code of a user error in the data or files (click's usage errors exit 2).
USER_ERROR = 1

#: command name -> module under gee_crop.cli that defines a click command called ``command``.
COMMANDS = {
    "demo": "demo",
    "sample": "sample",
    "cube": "cube",
    "train": "train",
    "evaluate": "evaluate",
    "export": "export",
    "map": "map",
    "experiment": "experiment",
    "report": "report",
    "info": "info",
    "assess": "assess",
    "check-parity": "check_parity",
    "models": "models",
    "doctor": "doctor",
}


class GeeCropGroup(click.Group):
    """Loads commands lazily (torch and ee import slowly) and turns user errors into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"gee_crop.cli.{COMMANDS[name]}")
        return module.command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GeeCropError as exc:  # messages quote file contents (class names, paths): shown inert
            from gee_crop.viz.text import for_terminal

            click.echo(f"Error: {for_terminal(exc, newlines=True)}", err=True)
            sys.exit(USER_ERROR)


@click.group(cls=GeeCropGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="gee-crop")
def main() -> None:
    """Crop-type maps anywhere on Earth: sample on Earth Engine, composite 5-day medians,
    train CropNet, export to ONNX and map wall to wall.

    \b
    As on the card (after `earthengine authenticate`; the latest season, the shipped model):
      gee-crop sample --country FRA
      gee-crop map --region aoi.geojson
    \b
    Typical flow:
      gee-crop sample --country FRA --out fra.parquet
      gee-crop train fra.parquet --out runs/fra
      gee-crop evaluate runs/fra/model.pt bel.parquet --out runs/fra/eval_bel
      gee-crop export runs/fra/model.pt --out fra.onnx
      gee-crop map --model fra.onnx --region aoi.geojson --out maps/aoi
      gee-crop assess design --map maps/aoi/map.tif --out points.csv
    Try it offline on the shipped real data: gee-crop demo
    """
