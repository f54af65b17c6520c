"""The offline demo on the shipped real Earth Engine patch (Flanders, 2019 season).

sample (local stack, the Earth Engine rules scaled to a 640 m patch) → spatial block split →
train CropNet 2D and RF-500 → evaluate on held-out blocks → export ONNX (parity-checked) →
map the whole patch with onnxruntime → map accuracy against the label raster.

The patch is 64 × 64 px at 10 m, smaller than one 0.1° grid cell and with parcels a few tens of
metres wide, so the demo uses a 10 m inward buffer, 10 m spacing and no per-cell cap instead of
the paper's 60 m / 60 m / 5 per cell (which would leave a handful of samples). Everything else
(cloud mask, season, 5-day medians, gap rule, augmentation, models) is the paper's method.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from gee_crop.atomic import write_json_atomic
from gee_crop.config import CLASSES
from gee_crop.errors import OutputExistsError

#: Sampling rules scaled to the 640 m demo patch (see the module docstring).
DEMO_BUFFER_M = 10.0
DEMO_SPACING_M = 10.0
DEMO_PER_CELL = 10_000
#: Held-out blocks of 160 m (16 px): a quarter of the patch's area is kept for testing.
DEMO_BLOCK_M = 160.0
DEMO_TEST_FRACTION = 0.25
DEMO_REGION = "BEL"
#: CropNet on 2 CPU cores: a short schedule with a larger step than the paper's 50 epochs at 1e-4.
DEMO_EPOCHS = 15
DEMO_LEARNING_RATE = 1e-3
DEMO_BATCH_SIZE = 64


@dataclass
class DemoResult:
    """Scores and paths of a demo run (all numbers are on the held-out blocks unless named map_*)."""

    out_dir: Path
    n_train: int
    n_test: int
    class_counts: dict[str, dict[str, int]]
    scores: dict[str, dict[str, float]]
    onnx_path: Path
    onnx_max_abs_diff: float
    map_outputs: dict[str, str] = field(default_factory=dict)
    map_scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "n_train": self.n_train, "n_test": self.n_test,
                "class_counts": self.class_counts, "scores": self.scores, "onnx": str(self.onnx_path),
                "onnx_max_abs_diff": self.onnx_max_abs_diff, "map_outputs": self.map_outputs,
                "map_scores": self.map_scores}


def _counts(series) -> dict[str, int]:
    counts = np.bincount(series.labels, minlength=len(CLASSES))
    return {c: int(k) for c, k in zip(CLASSES, counts) if k}


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise OutputExistsError(f"{out_dir} already exists and is not empty; pass --overwrite "
                                    "or choose another --out")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def run_demo(out_dir: str | os.PathLike = "demo_output", *, epochs: int = DEMO_EPOCHS, seed: int = 0,
             overwrite: bool = False, with_map: bool = True, progress: bool = True,
             echo: Callable[[str], None] = print) -> DemoResult:
    """Run the whole offline workflow on the shipped patch and return its scores."""
    from gee_crop.data.patch import read_patch
    from gee_crop.data.sampling import sample_local_stack
    from gee_crop.data.splits import spatial_block_split
    from gee_crop.data.table import write_table
    from gee_crop.export.cards import evaluation_entry, record_transfer_scores
    from gee_crop.export.onnx import export_and_check
    from gee_crop.testing.paths import demo_patch_dir
    from gee_crop.training.evaluate import evaluate_model, write_evaluation
    from gee_crop.training.trainer import train

    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)
    patch = read_patch(demo_patch_dir())
    echo(f"1/5 sample: {patch.name}, {len(patch.dates)} dates, {patch.shape[0]}×{patch.shape[1]} px "
         f"at {patch.resolution:g} m; buffer {DEMO_BUFFER_M:g} m, spacing {DEMO_SPACING_M:g} m")
    samples = sample_local_stack(patch, buffer_m=DEMO_BUFFER_M, spacing_m=DEMO_SPACING_M,
                                 per_cell=DEMO_PER_CELL, region=DEMO_REGION, seed=seed)
    train_idx, test_idx = spatial_block_split(samples.lon, samples.lat, block_m=DEMO_BLOCK_M,
                                              test_fraction=DEMO_TEST_FRACTION, seed=seed)
    train_set, test_set = samples.subset(train_idx), samples.subset(test_idx)
    write_table(train_set, out_dir / "train.parquet")
    write_table(test_set, out_dir / "test.parquet")
    counts = {"train": _counts(train_set), "test": _counts(test_set)}
    echo(f"   {len(samples)} samples → train {len(train_set)} {counts['train']}, "
         f"test {len(test_set)} {counts['test']} (held-out {DEMO_BLOCK_M:g} m blocks)")

    runs = {
        "CropNet 2D": dict(arch="cropnet2d", epochs=epochs, learning_rate=DEMO_LEARNING_RATE,
                           batch_size=DEMO_BATCH_SIZE),
        "RF-500 1D": dict(arch="random_forest", feature_kind="median1d"),
    }
    scores: dict[str, dict[str, float]] = {}
    model_paths: dict[str, Path] = {}
    for step, (name, options) in enumerate(runs.items()):
        echo(f"{2 + step}/5 train {name}")
        run_dir = out_dir / name.split()[0].lower().replace("-", "")
        result = train(out_dir / "train.parquet", run_dir, seed=seed, progress=progress, echo=lambda m: echo("   " + m),
                       **options)
        evaluation = evaluate_model(result.model_path, test_set, source_region=DEMO_REGION,
                                    target_region=DEMO_REGION)
        write_evaluation(evaluation, run_dir / "evaluation")
        record_transfer_scores(result.model_path, [evaluation_entry(evaluation, "held-out blocks")])
        report = evaluation.report
        scores[name] = {"oa": float(report.overall_accuracy), "macro_f1": float(report.macro_f1),
                        "n_test": int(report.confusion.sum())}
        model_paths[name] = result.model_path
        echo(f"   held-out OA {100 * report.overall_accuracy:.2f} %, macro-F1 {100 * report.macro_f1:.2f} %")

    echo("4/5 export CropNet 2D to ONNX and check onnxruntime against torch")
    onnx_path, diff, n_checked = export_and_check(model_paths["CropNet 2D"], out_dir / "cropnet2d.onnx",
                                                  table=out_dir / "test.parquet")
    echo(f"   {onnx_path}: max |Δprob| = {diff:.2e} on {n_checked} real samples")
    result = DemoResult(out_dir, len(train_set), len(test_set), counts, scores, onnx_path, float(diff))

    if with_map:
        echo("5/5 map the whole patch with onnxruntime")
        _map_patch(patch, onnx_path, out_dir / "map", test_set, result, progress, echo)
    write_json_atomic(out_dir / "demo_summary.json", result.to_dict(), indent=2)
    return result


def _map_patch(patch, onnx_path: Path, map_dir: Path, test_set, result: DemoResult, progress: bool,
               echo: Callable[[str], None]) -> None:
    """Map the patch, then score the class band on the held-out pixels and on all labelled pixels."""
    import rasterio

    from gee_crop.pipeline.map import run_map
    from gee_crop.mapping.sources import LocalStackSource, stack_from_patch
    from gee_crop.mapping.stacks import UNLABELED

    stack = stack_from_patch(patch)
    mapped = run_map(LocalStackSource(stack), onnx_path, map_dir, progress=progress)
    with rasterio.open(mapped.cog) as src:
        classes = src.read(1)
    truth = stack.labels  # class indices; unmapped map pixels count as wrong below
    labelled = truth != UNLABELED
    held_out = np.zeros(truth.shape, dtype=bool)
    held_out[test_set.extra["row"], test_set.extra["col"]] = True
    scores = {"map_oa_held_out_samples": float((classes[held_out] == truth[held_out]).mean()),
              "map_oa_all_labelled": float((classes[labelled] == truth[labelled]).mean()),
              "map_pixels_per_second": float(mapped.pixels_per_second)}
    result.map_outputs = {"cog": str(mapped.cog), "preview": str(mapped.preview),
                          "areas_csv": str(mapped.areas_csv)}
    result.map_scores = scores
    areas = ", ".join(f"{c} {ha:.2f} ha" for c, ha in mapped.hectares.items() if ha)
    echo(f"   {mapped.cog} ({mapped.pixels_per_second:,.0f} px/s), {mapped.preview}, {mapped.areas_csv}")
    echo(f"   areas: {areas}")
    echo(f"   map accuracy vs the label raster: {100 * scores['map_oa_held_out_samples']:.2f} % on the "
         f"held-out sample pixels, {100 * scores['map_oa_all_labelled']:.2f} % on all "
         f"{int(labelled.sum())} labelled pixels (these include training pixels)")
