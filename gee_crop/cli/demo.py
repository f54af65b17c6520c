"""``gee-crop demo``: the whole workflow offline on the shipped real Earth Engine patch."""
from __future__ import annotations

import click

from gee_crop.pipeline.demo import DEMO_EPOCHS


@click.command("demo")
@click.option("--out", "out_dir", default="demo_output", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the sample tables, models, ONNX file, evaluation and map.")
@click.option("--epochs", default=DEMO_EPOCHS, show_default=True, type=click.IntRange(min=1),
              help="CropNet training epochs (the paper uses 50 on far more data).")
@click.option("--seed", default=0, show_default=True, help="Seed for sampling, split and training.")
@click.option("--no-map", is_flag=True, help="Stop after training, evaluation and export.")
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty --out folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(out_dir: str, epochs: int, seed: int, no_map: bool, overwrite: bool, quiet: bool) -> None:
    """Sample, train CropNet 2D and RF-500, evaluate on held-out blocks, export ONNX and map the
    shipped Flanders 2019 patch (real Sentinel-2 from Earth Engine; no account needed).

    Takes a few minutes on a laptop CPU; uses a GPU for training when one is present.
    """
    from gee_crop.pipeline.demo import run_demo

    result = run_demo(out_dir, epochs=epochs, seed=seed, overwrite=overwrite, with_map=not no_map,
                      progress=not quiet, echo=click.echo)
    click.echo("")
    click.echo(f"Held-out evaluation on {result.n_test} samples (spatial blocks never seen in training):")
    for name, s in result.scores.items():
        click.echo(f"  {name:<11} OA {100 * s['oa']:6.2f} %   macro-F1 {100 * s['macro_f1']:6.2f} %")
    if result.map_scores:
        click.echo(f"  map (onnxruntime) on the held-out sample pixels: OA "
                   f"{100 * result.map_scores['map_oa_held_out_samples']:.2f} %")
    click.echo(f"Outputs in {result.out_dir}/ (demo_summary.json lists them)")
