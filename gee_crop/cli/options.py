"""Every click option shared by two or more commands, defined once (as rasterio's ``rio/options.py``).

Commands stack these decorators; choices come from the str Enums of :mod:`gee_crop.config`. An option
that was renamed keeps its old spelling as a hidden alias, so old command lines keep working.

The ``--out`` rule: a command that writes one file takes ``--out FILE`` (:func:`out_file`), one that
writes several takes ``--out DIR`` (:func:`out_dir`); the help of each says which. Other options that
several commands take with their own help and default (``--region``, ``--source``, ``--scale``,
``--batch-size``, ...) are made here too, so a flag accepts the same values in every command. Every
default is shown in ``--help`` (``show_default`` is set once, on the ``gee-crop`` group's context).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from typing import Any

import click

from gee_crop.config import CLEAR_THRESHOLD, CloudBand


class AliasedOption(click.Option):
    """A click option whose ``hidden_aliases`` (old spellings) are accepted but left out of ``--help``."""

    def __init__(self, *args: Any, hidden_aliases: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.hidden_aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def choice_of(enum: type[Enum]) -> click.Choice:
    """A ``click.Choice`` over the values of a str Enum (click >= 8.2 matches Enum members by
    *name*, which would turn ``--cloud-band cs`` into an error)."""
    return click.Choice([member.value for member in enum])


def _clear_threshold(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise click.BadParameter(
            f"{value:g} is outside (0, 1]; Cloud Score+ is a clear-sky score, "
            f"the paper keeps pixels with score >= {CLEAR_THRESHOLD}"
        )
    return value


Decorator = Callable[[Callable], Callable]

project: Decorator = click.option(
    "--project",
    default=None,
    metavar="PROJECT",
    help="Google Cloud project registered for Earth Engine (falls back to $EE_PROJECT).",
)
service_account_key: Decorator = click.option(
    "--service-account-key",
    type=click.Path(dir_okay=False),
    default=None,
    help="Service-account key JSON for Earth Engine (default: your `earthengine authenticate` credentials).",
)
cloud_band: Decorator = click.option(
    "--cloud-band",
    type=choice_of(CloudBand),
    default=CloudBand.CS.value,
    help="Cloud Score+ band of the clear-sky mask on Earth Engine (METHOD.md: cs).",
)
cloud_threshold: Decorator = click.option(
    "--cloud-threshold",
    "--threshold",
    "cloud_threshold",
    cls=AliasedOption,
    hidden_aliases=("--threshold",),
    type=float,
    default=CLEAR_THRESHOLD,
    callback=_clear_threshold,
    help="Clear-sky threshold: a pixel is clear when its Cloud Score+ is >= this, in (0, 1].",
)
year: Decorator = click.option(
    "--year",
    type=int,
    default=None,
    help="Season year (north: May-Nov of YEAR; south: from Nov of YEAR-1). Default: on Earth Engine the "
    "most recent complete season of the region's hemisphere; on a sample table each sample's own season "
    "(its season_year column, else the season its dates cover best; a table may mix years); on a "
    "local stack the season it covers best. Given, it forces that season on every sample.",
)
seed: Decorator = click.option(
    "--seed",
    type=int,
    default=0,
    help="Random seed of sampling, splits and training: the same seed gives the same result.",
)
device: Decorator = click.option(
    "--device", default="auto", help="Torch device: auto (CUDA if available), cpu or cuda[:N]."
)
quiet: Decorator = click.option(
    "--quiet", is_flag=True, help="No progress bars or progress lines; results are still printed."
)
overwrite: Decorator = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace what --out holds (otherwise an existing --out is refused, or a rerun resumes).",
)
bucket: Decorator = click.option("--bucket", help="Cloud Storage bucket for --export-to gcs.")

#: The shared options by name (tests check that every command uses exactly these definitions).
SHARED: dict[str, Decorator] = {
    "project": project,
    "service_account_key": service_account_key,
    "cloud_band": cloud_band,
    "cloud_threshold": cloud_threshold,
    "year": year,
    "seed": seed,
    "device": device,
    "quiet": quiet,
    "overwrite": overwrite,
    "bucket": bucket,
}


#: The two kinds of --out: metavar -> (whether it may be a file, a folder; how the help begins).
_OUT_KINDS: dict[str, tuple[bool, bool, str]] = {
    "FILE": (True, False, "FILE to write: "),
    "DIR": (False, True, "DIR (a folder) to write "),
}


def _out(kind: str, what: str, required: bool, dest: str, kwargs: dict[str, Any]) -> Decorator:
    file_okay, dir_okay, begins = _OUT_KINDS[kind]
    path = click.Path(file_okay=file_okay, dir_okay=dir_okay)
    return click.option("--out", dest, required=required, metavar=kind, type=path, help=begins + what, **kwargs)


def out_file(what: str, *, required: bool = True, dest: str = "out_path", **kwargs: Any) -> Decorator:
    """``--out FILE`` for a command that writes one file; ``what`` says which file."""
    return _out("FILE", what, required, dest, kwargs)


def out_dir(what: str, *, required: bool = True, dest: str = "out_dir", **kwargs: Any) -> Decorator:
    """``--out DIR`` for a command that writes several files; ``what`` lists them."""
    return _out("DIR", what, required, dest, kwargs)


def in_file(*decls: str, help: str, **kwargs: Any) -> Decorator:
    """An option naming one file to read (``--table``, ``--calibration``, ``--reference``, ...)."""
    return click.option(*decls, type=click.Path(dir_okay=False), help=help, **kwargs)


def choice(flag: str, default: Enum, help: str) -> Decorator:
    """An option taking one value of the str Enum of :mod:`gee_crop.config` whose member ``default`` is."""
    return click.option(flag, type=choice_of(type(default)), default=default.value, help=help)


def switch(name: str, default: bool | None, help: str) -> Decorator:
    """An on/off pair ``--NAME/--no-NAME`` (``default`` None: the command decides)."""
    return click.option(f"--{name}/--no-{name}", default=default, help=help)


def country(help: str) -> Decorator:
    """``--country ISO3``: a registered country (``gee_crop.countries``); ``help`` says what of it the command uses."""
    return click.option("--country", metavar="ISO3", help=help)


def region(help: str, *, dest: str = "region", **kwargs: Any) -> Decorator:
    """``--region``: a GeoJSON polygon file; ``help`` says what of it the command uses."""
    return click.option("--region", dest, type=click.Path(dir_okay=False), help=help, **kwargs)


def source(help: str, *, dest: str = "source", **kwargs: Any) -> Decorator:
    """``--source``: a local raw stack (a file or a folder) instead of Earth Engine."""
    return click.option("--source", dest, type=click.Path(), help=help, **kwargs)


def scale(help: str, default: float | None) -> Decorator:
    """``--scale``: a pixel size, > 0."""
    return click.option("--scale", type=positive_float(), default=default, help=help)


def dry_run(help: str) -> Decorator:
    """``--dry-run``: say what a run would do; ``help`` says what is printed."""
    return click.option("--dry-run", is_flag=True, help=help)


def count(flag: str, help: str, *, default: int | None = None, least: int = 1, **kwargs: Any) -> Decorator:
    """A whole-number option of at least ``least`` (``--epochs``, ``--batch-size``, ``--max-gap-bins``, ...);
    ``default`` None: not given (the help says who decides)."""
    return click.option(flag, type=click.IntRange(min=least), default=default, help=help, **kwargs)


# ---------------------------------------------------------------- value types (issue 26, class 7)
# Numbers and CRSs checked where they are parsed, so a bad value is a one-line usage error naming the
# range, never a traceback deep in training or mapping.


class FiniteFloat(click.FloatRange):
    """A float in a range that is also finite: ``click.FloatRange`` lets ``nan`` through (every comparison
    with NaN is false) and ``inf`` through an open-ended range."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; give a number such as {self._example()}", param, ctx)
        return number

    def _example(self) -> str:
        low = 0.0 if self.min is None else float(self.min)
        high = low + 1.0 if self.max is None else float(self.max)
        return f"{(low + high) / 2:g}"


def positive_float() -> FiniteFloat:
    """A finite float > 0 (learning rates, sizes in metres, scales)."""
    return FiniteFloat(min=0, min_open=True)


def fraction(*, max_open: bool = False) -> FiniteFloat:
    """A finite float in [0, 1] (or [0, 1) with ``max_open``): shares, probabilities, dropout."""
    return FiniteFloat(0, 1, max_open=max_open)


class OpsetRange(click.IntRange):
    """An ONNX opset from 13 up to the highest that both the installed torch exporter and onnx write;
    the upper bound is read when a value is converted (torch is not imported for ``--help``)."""

    MIN = 13

    def __init__(self) -> None:
        super().__init__(min=self.MIN)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if self.max is None:
            self.max = highest_opset()
        return super().convert(value, param, ctx)


def highest_opset() -> int:
    """The highest opset the installed torch exporter and onnx both support."""
    import onnx
    from torch.onnx import _constants

    return int(min(_constants.ONNX_MAX_OPSET, onnx.defs.onnx_opset_version()))


class CrsType(click.ParamType):
    """A CRS that pyproj knows (``EPSG:32631``, a WKT or PROJ string), checked before any work; the value
    is returned as given."""

    name = "crs"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(value)
        except CRSError:
            self.fail(
                f"{value!r} is not a CRS pyproj knows; give an EPSG code such as EPSG:32631 (UTM 31N) or "
                "EPSG:3035 (see https://epsg.io)",
                param,
                ctx,
            )
        return value
