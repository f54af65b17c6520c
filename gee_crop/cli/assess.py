"""``gee-crop assess``: accuracy and area estimates with 95 % confidence intervals from a labelled
stratified sample (Olofsson et al. 2014); ``gee-crop assess design`` draws that sample."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from gee_crop.cli import options

MAP_HELP = (
    "The map: a map.tif written by `gee-crop map`, or an Earth Engine image asset "
    "(projects/P/assets/..., users/...) whose first band holds class indices."
)


def _earthengine_options(command: Callable) -> Callable:
    """The options of a map on Earth Engine (--region, --scale, --project, --service-account-key), handed
    to ``command`` as one ``on_earthengine``: MAP -> the pipeline's ``client``, ``region`` and ``scale``."""

    @functools.wraps(command)
    def with_earthengine(*args: Any, region, scale, project, service_account_key, **kwargs: Any):
        def on_earthengine(map_ref: str) -> dict[str, Any]:
            from gee_crop.earthengine.client import get_client, is_asset_id

            client = get_client(project, service_account_key=service_account_key) if is_asset_id(map_ref) else None
            return {"client": client, "region": region, "scale": scale}

        return command(*args, on_earthengine=on_earthengine, **kwargs)

    for decorator in reversed(
        (
            options.region(
                "Earth Engine map only: GeoJSON polygon to assess (default: the image footprint).", default=None
            ),
            options.scale("Earth Engine map only: pixel size in metres of the areas and the sample.", default=10.0),
            options.project,
            options.service_account_key,
        )
    ):
        with_earthengine = decorator(with_earthengine)
    return with_earthengine


@click.group("assess", invoke_without_command=True)
@click.option("--map", "map_ref", default=None, help=MAP_HELP)
@options.in_file(
    "--reference",
    default=None,
    help="The points file of `gee-crop assess design` with its reference column filled in (CSV or GeoJSON).",
)
@options.in_file(
    "--reference-raster",
    default=None,
    help="Local map only: read each point's reference class from this GeoTIFF of class indices "
    "(the map's legend and no-class value; points on unlabelled cells are left out) instead of the "
    "reference column.",
)
@options.in_file(
    "--parcels",
    "parcel_table",
    default=None,
    help="Parcel-level assessment: the parcels.gpkg (areas too) or parcels.csv of `gee-crop map --parcels`, "
    "with a field holding each parcel's true class (--reference-field); parcels without one are not in the sample.",
)
@click.option("--reference-field", metavar="NAME", help="Field of --parcels holding the true class (name or code).")
@options.in_file(
    "--legend",
    metavar="CSV",
    default=None,
    help="With --parcels: your legend, columns code,class, when --reference-field holds codes, not class names.",
)
@click.option(
    "--include-flagged",
    is_flag=True,
    help="With --parcels: count flagged parcels (small, mostly outside the map, no interior after the erosion) too; by "
    "default they are reported apart and left out.",
)
@options.out_dir(
    "assessment.json, assessment.csv, areas.png/.svg and assessment.html (parcel_assessment.json/.csv with --parcels)",
    required=False,
)
@options.overwrite
@_earthengine_options
@click.pass_context
def command(
    ctx: click.Context,
    map_ref,
    reference,
    reference_raster,
    parcel_table,
    reference_field,
    legend,
    include_flagged,
    out_dir,
    overwrite,
    on_earthengine,
) -> None:
    """Estimate a map's accuracy and class areas, with 95 % confidence intervals, from reference points.

    Good practice for crop statistics (Olofsson et al. 2014): draw a stratified random sample of the
    map (`gee-crop assess design`), label its points by photo-interpretation or field visits, then
    run `gee-crop assess --map MAP --reference points.csv --out DIR`. Pixel counts of a map are biased
    by its errors; these estimates are not. With `--parcels parcels.gpkg --reference-field FIELD` the
    parcels of `gee-crop map --parcels` are assessed too (or alone): accuracy over parcels, beside the
    pixel-level one.
    """
    if ctx.invoked_subcommand is not None:
        return
    if parcel_table and not reference_field:
        raise click.UsageError("--parcels needs --reference-field, the field holding each parcel's true class")
    if not out_dir or not (parcel_table or (map_ref and reference)):
        raise click.UsageError(
            "give --map, --reference and --out (or run `gee-crop assess design` first), or --parcels, "
            "--reference-field and --out"
        )
    if map_ref and reference:
        _pixel_assessment(map_ref, reference, reference_raster, out_dir, overwrite, on_earthengine)
    if parcel_table:
        from gee_crop.pipeline.assess import assess_parcels

        summary = assess_parcels(
            parcel_table,
            out_dir,
            reference_field=reference_field,
            map_ref=map_ref,
            legend=legend,
            include_flagged=include_flagged,
            overwrite=overwrite,
        )
        _echo_parcels(summary)
        click.echo(f"wrote {out_dir}/parcel_assessment.json, parcel_assessment.csv")


def _echo_parcels(summary: dict) -> None:
    """The parcel-level accuracy (and areas, when estimated) in a few lines."""
    from gee_crop.viz.text import for_terminal

    oa, flagged = summary["overall_accuracy"], summary["flagged"]
    shown = "–" if oa is None else f"{100 * oa:.1f} %"
    click.echo(
        f"parcel-level overall accuracy {shown} ({summary['correct']} of {summary['n_parcels']} labelled parcels); "
        f"flagged parcels {flagged['handling']}: {flagged['labelled']} labelled, {flagged['correct']} correct"
    )
    areas = (summary["area_estimates"] or {}).get("classes", {})
    for name, row in summary["classes"].items():
        if row["parcels_mapped"] or row["parcels_reference"]:
            ua, pa = (
                ("–" if v is None else f"{100 * v:.1f} %") for v in (row["users_accuracy"], row["producers_accuracy"])
            )
            area = areas.get(name, {})
            text = (
                ""
                if area.get("area_ha") is None
                else f", area {area['area_ha']:,.2f} ± {area['area_ha_ci95'] or 0:,.2f} ha"
            )
            click.echo(f"  {for_terminal(name)}: user's {ua}, producer's {pa}{text}")
    for warning in summary["warnings"]:
        click.echo(f"warning: {for_terminal(warning)}", err=True)


def _pixel_assessment(map_ref, reference, reference_raster, out_dir, overwrite, on_earthengine) -> None:
    """The pixel-level assessment from reference points, printed."""
    from gee_crop.pipeline.assess import assess

    _estimates, summary = assess(
        map_ref,
        out_dir,
        reference=reference,
        reference_raster=reference_raster,
        overwrite=overwrite,
        **on_earthengine(map_ref),
    )
    from gee_crop.viz.text import for_terminal  # class names and warnings come from the map's and the points' files

    oa, ci = summary["overall_accuracy"], summary["overall_accuracy_ci95"]
    click.echo(f"overall accuracy {100 * oa:.1f} ± {100 * ci:.1f} % on {summary['n_points']} points")
    for name, row in summary["classes"].items():
        if row["mapped_ha"] or row["sample_points_reference"]:
            area = "–" if row["area_ha"] is None else f"{row['area_ha']:,.2f} ± {row['area_ha_ci95'] or 0:,.2f}"
            shown = click.style(for_terminal(name), bold=True)
            click.echo(f"  {shown}: area {area} ha (pixel count {row['mapped_ha']:,.2f} ha)")
    for warning in summary["warnings"]:
        click.echo(f"warning: {for_terminal(warning)}", err=True)
    click.echo(f"wrote {out_dir}/assessment.json, assessment.csv, areas.png, assessment.html")


@command.command("design")
@click.option("--map", "map_ref", required=True, help=MAP_HELP)
@options.out_file("the sample points for labelling, .csv or .geojson (with an empty `reference` column).")
@options.count("--n", "Total sample size (default: from --target-se and --expected-ua, Olofsson et al. 2014 eq. 13).")
@click.option(
    "--target-se",
    type=options.FiniteFloat(min=0, max=1, min_open=True, max_open=True),
    default=0.01,
    help="Standard error of overall accuracy the sample should reach.",
)
@click.option(
    "--expected-ua",
    default="0.8",
    help="Anticipated user's accuracy: one number for all classes, or class=value pairs (corn=0.9,other=0.7).",
)
@click.option(
    "--allocation",
    type=click.Choice(["proportional", "equal", "optimal"]),
    default="proportional",
    help="How points are spread over the map classes (optimal = Neyman).",
)
@options.count(
    "--min-per-class",
    "At least this many points in every mapped class (capped at its pixel count).",
    default=50,
    least=0,
)
@options.seed
@options.overwrite
@_earthengine_options
def design_command(
    map_ref,
    out_path,
    n,
    target_se,
    expected_ua,
    allocation,
    min_per_class,
    seed,
    overwrite,
    on_earthengine,
) -> None:
    """Draw a stratified random sample of MAP's pixels (strata = map classes) for labelling."""
    from gee_crop.pipeline.assess import design

    result = design(
        map_ref,
        out_path,
        n=n,
        target_se=target_se,
        expected_ua=expected_ua,
        allocation=allocation,
        min_per_class=min_per_class,
        seed=seed,
        overwrite=overwrite,
        **on_earthengine(map_ref),
    )
    total = int(result.points_per_stratum.sum())
    click.echo(
        f"{total} points ({result.n_target} from the target standard error, then at least "
        f"{min_per_class} per class): "
        + ", ".join(f"{c} {k}" for c, k in zip(result.classes, result.points_per_stratum) if k)
    )
    click.echo(
        f"wrote {result.path}: fill in its `reference` column, then run "
        f"`gee-crop assess --map {map_ref} --reference {result.path} --out DIR`"
    )
