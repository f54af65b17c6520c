"""``gee-crop demo``: the whole workflow offline on the shipped real Earth Engine patch."""

from __future__ import annotations

import click

from gee_crop.cli import options


@click.command("demo")
@options.out_dir("the sample tables, models, ONNX file, evaluation and map.", required=False, default="demo_output")
@options.count(
    "--epochs",
    "CropNet training epochs (default: a short schedule that runs in minutes on a CPU; the "
    "paper uses 50 on far more data).",
)
@options.seed
@click.option("--no-map", is_flag=True, help="Stop after training, evaluation and export.")
@options.overwrite
@options.quiet
def command(out_dir: str, epochs: int | None, seed: int, no_map: bool, overwrite: bool, quiet: bool) -> None:
    """Sample, train CropNet 2D and RF-500, evaluate on held-out blocks, export ONNX and map the
    shipped Flanders 2019 patch (real Sentinel-2 from Earth Engine; no account needed).

    Takes a few minutes on a laptop CPU; uses a GPU for training when one is present.
    """
    from gee_crop.pipeline.demo import run_demo

    result = run_demo(
        out_dir, epochs=epochs, seed=seed, overwrite=overwrite, with_map=not no_map, progress=not quiet, echo=click.echo
    )
    click.echo("")
    click.echo(f"Held-out evaluation on {result.n_test} samples (spatial blocks never seen in training):")
    for name, s in result.scores.items():
        click.echo(f"  {name:<11} OA {100 * s['oa']:6.2f} %   macro-F1 {100 * s['macro_f1']:6.2f} %")
    if result.cross_domain:
        c = result.cross_domain
        click.echo(
            f"  {c['model']} (shipped, trained elsewhere, never on this patch): OA {100 * c['oa']:6.2f} %   "
            f"macro-F1 {100 * c['macro_f1']:6.2f} %"
        )
    if result.map_scores:
        click.echo(
            f"  map (onnxruntime) on the held-out sample pixels: OA "
            f"{100 * result.map_scores['map_oa_held_out_samples']:.2f} %"
        )
    if result.assessment:
        a = result.assessment
        click.echo(
            f"  map, stratified estimate on {a['n_points']} reference points: OA "
            f"{100 * a['overall_accuracy']:.1f} ± {100 * a['overall_accuracy_ci95']:.1f} %"
        )
    if "map_oa_parcels" in result.map_scores:
        m, p = result.map_scores, result.assessment["parcels"]
        click.echo(
            f"  map per parcel ({p['correct']} of {p['n_parcels']} label parcels, flagged ones left out): OA "
            f"{100 * m['map_oa_parcels']:.2f} %, beside the pixel OA {100 * m['map_oa_all_labelled']:.2f} %"
        )
    click.echo(
        "The held-out blocks lie inside the one 640 m patch the demo models trained on, so their scores "
        "overstate accuracy elsewhere; the shipped model's cross-domain score is the honest one for a "
        "model trained elsewhere (more: `gee-crop experiment`, docs/experiments.md)."
    )
    click.echo(f"Outputs in {result.out_dir}/ (demo_summary.json lists them)")
