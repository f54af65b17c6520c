"""The offline demo on the shipped real Earth Engine patch (Flanders, 2019 season).

sample (local stack, the Earth Engine rules scaled to a 640 m patch) → spatial block split →
train CropNet 2D and RF-500 → evaluate on held-out blocks → export ONNX (parity-checked) →
map the whole patch with onnxruntime → map accuracy against the label raster → area and accuracy
estimates with 95 % confidence intervals from a stratified sample (``gee-crop assess``).

The patch is 64 × 64 px at 10 m, smaller than one 0.1° grid cell and with parcels a few tens of
metres wide, so the demo uses a 10 m inward buffer, 10 m spacing and no per-cell cap instead of
the paper's 60 m / 60 m / 5 per cell (which would leave a handful of samples). Everything else
(cloud mask, season, 5-day medians, gap rule, augmentation, models) is the paper's method.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import rasterio

from gee_crop.assessment.points import read_class_map, write_class_raster
from gee_crop.atomic import write_json_atomic
from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.data.demo import DEMO_BUFFER_M, DEMO_REGION, DEMO_SPACING_M, demo_patch, demo_samples
from gee_crop.data.splits import spatial_block_split
from gee_crop.data.table import write_table
from gee_crop.export.cards import evaluation_entry, record_transfer_scores
from gee_crop.export.onnx import export_and_check
from gee_crop.mapping.engine import run_map
from gee_crop.mapping.parcels import PARCELS_GPKG, label_raster_parcels, with_parcel_table
from gee_crop.mapping.sources import FeatureSource, LocalStackSource
from gee_crop.models.zoo import zoo_model
from gee_crop.outputs import claim_output, clear_folder
from gee_crop.pipeline.assess import assess, assess_parcels, design
from gee_crop.pipeline.evaluate import write_evaluation_files
from gee_crop.training.evaluate import evaluate_model
from gee_crop.training.trainer import train

#: Sampling rules scaled to the 640 m demo patch: DEMO_BUFFER_M, DEMO_SPACING_M, DEMO_PER_CELL in
#: gee_crop.data.demo (see the module docstring).
#: Held-out blocks of 160 m (16 px): a quarter of the patch's area is kept for testing.
DEMO_BLOCK_M = 160.0
DEMO_TEST_FRACTION = 0.25
#: CropNet on 2 CPU cores: a short schedule with a larger step than the paper's 50 epochs at 1e-4.
DEMO_EPOCHS = 15
DEMO_LEARNING_RATE = 1e-3
DEMO_BATCH_SIZE = 64
#: Reference points per map class of the demo's assessment (Olofsson et al. 2014 suggest >= 50).
DEMO_ASSESS_POINTS = 50


@dataclass
class DemoResult:
    """Scores and paths of a demo run (all numbers are on the held-out blocks unless named map_*)."""

    out_dir: Path
    n_train: int
    n_test: int
    class_counts: dict[str, dict[str, int]]
    scores: dict[str, dict[str, float]]
    onnx: Path
    onnx_max_abs_diff: float
    map_outputs: dict[str, str] = field(default_factory=dict)
    map_scores: dict[str, float] = field(default_factory=dict)
    assessment: dict = field(default_factory=dict)
    cross_domain: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {name: str(value) if isinstance(value, Path) else value for name, value in asdict(self).items()}


def _counts(series) -> dict[str, int]:
    counts = np.bincount(series.labels, minlength=len(CLASSES))
    return {c: int(k) for c, k in zip(CLASSES, counts) if k}


def run_demo(
    out_dir: str | os.PathLike = "demo_output",
    *,
    epochs: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
    with_map: bool = True,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the whole offline workflow on the shipped patch and return its scores.

    ``epochs`` None: DEMO_EPOCHS, a short CropNet schedule for a CPU. ``out_dir`` is locked
    (``gee_crop.outputs``); a folder that is not empty is refused, or emptied with ``overwrite``.
    """
    out_dir = Path(out_dir)
    with claim_output(out_dir, folder=True, overwrite=overwrite):
        if overwrite:
            clear_folder(out_dir)
        return _run_demo(out_dir, DEMO_EPOCHS if epochs is None else epochs, seed, with_map, progress, echo)


def _run_demo(
    out_dir: Path, epochs: int, seed: int, with_map: bool, progress: bool, echo: Callable[[str], None]
) -> DemoResult:
    patch = demo_patch()
    echo(
        f"1/6 sample: {patch.name}, {len(patch.dates)} dates, {patch.shape[0]}×{patch.shape[1]} px "
        f"at {patch.resolution:g} m; buffer {DEMO_BUFFER_M:g} m, spacing {DEMO_SPACING_M:g} m"
    )
    samples = demo_samples(patch, seed=seed)
    train_idx, test_idx = spatial_block_split(
        samples.lon, samples.lat, block_m=DEMO_BLOCK_M, test_fraction=DEMO_TEST_FRACTION, seed=seed
    )
    train_set, test_set = samples.subset(train_idx), samples.subset(test_idx)
    write_table(train_set, out_dir / "train.parquet")
    write_table(test_set, out_dir / "test.parquet")
    counts = {"train": _counts(train_set), "test": _counts(test_set)}
    echo(
        f"   {len(samples)} samples → train {len(train_set)} {counts['train']}, "
        f"test {len(test_set)} {counts['test']} (held-out {DEMO_BLOCK_M:g} m blocks)"
    )

    runs: dict[str, dict[str, Any]] = {
        "CropNet 2D": dict(
            arch="cropnet2d", epochs=epochs, learning_rate=DEMO_LEARNING_RATE, batch_size=DEMO_BATCH_SIZE
        ),
        "RF-500 1D": dict(arch="random_forest", feature_kind="median1d"),
    }
    scores: dict[str, dict[str, float]] = {}
    model_paths: dict[str, Path] = {}
    for step, (name, options) in enumerate(runs.items()):
        echo(f"{2 + step}/6 train {name}")
        run_dir = out_dir / name.split()[0].lower().replace("-", "")
        trained = train(
            out_dir / "train.parquet", run_dir, seed=seed, progress=progress, echo=lambda m: echo("   " + m), **options
        )
        evaluation = evaluate_model(trained.model_path, test_set, source_region=DEMO_REGION, target_region=DEMO_REGION)
        write_evaluation_files(evaluation, run_dir / "evaluation")
        record_transfer_scores(trained.model_path, [evaluation_entry(evaluation, "held-out blocks")])
        report = evaluation.report
        scores[name] = {
            "oa": float(report.overall_accuracy),
            "macro_f1": float(report.macro_f1),
            "n_test": int(report.confusion.sum()),
        }
        model_paths[name] = trained.model_path
        echo(f"   held-out OA {100 * report.overall_accuracy:.2f} %, macro-F1 {100 * report.macro_f1:.2f} %")

    cross_domain = _cross_domain_score(test_set, echo)
    echo("4/6 export CropNet 2D to ONNX and check onnxruntime against torch")
    onnx_path, diff, n_checked = export_and_check(
        model_paths["CropNet 2D"], out_dir / "cropnet2d.onnx", out_dir / "test.parquet"
    )
    echo(f"   {onnx_path}: max |Δprob| = {diff:.2e} on {n_checked} real samples")
    result = DemoResult(
        out_dir, len(train_set), len(test_set), counts, scores, onnx_path, float(diff), cross_domain=cross_domain
    )

    if with_map:
        echo("5/6 map the whole patch with onnxruntime")
        _map_patch(patch, onnx_path, out_dir / "map", test_set, result, progress, echo)
        echo("6/6 assess the map: stratified sample, reference from the label raster (Olofsson et al. 2014)")
        _assess_map(patch, Path(result.map_outputs["cog"]), out_dir / "assessment", result, seed, echo)
    write_json_atomic(out_dir / "demo_summary.json", result.to_dict(), indent=2)
    return result


def _cross_domain_score(test_set, echo: Callable[[str], None]) -> dict:
    """The shipped zoo model, which never saw this patch (trained on France 2022/2023 and Belgium 2021),
    scored on the same held-out samples: what a model trained elsewhere achieves here."""
    zoo = zoo_model()
    report = evaluate_model(zoo.path, test_set, target_region=DEMO_REGION, device="cpu").report
    scores: dict[str, Any] = {
        "model": zoo.name,
        "trained_on": list(zoo.training_domains),
        "oa": float(report.overall_accuracy),
        "macro_f1": float(report.macro_f1),
        "n_test": int(report.confusion.sum()),
    }
    echo(
        f"   cross-domain: the shipped {zoo.name} (trained on {', '.join(zoo.training_domains)}, never on "
        f"this patch): OA {100 * scores['oa']:.2f} %, macro-F1 {100 * scores['macro_f1']:.2f} %"
    )
    return scores


def _map_patch(
    patch, onnx_path: Path, map_dir: Path, test_set, result: DemoResult, progress: bool, echo: Callable[[str], None]
) -> None:
    """Map the patch, then score the class band on the held-out pixels and on all labelled pixels, and write
    the map's parcel table (the label raster's parcels, :func:`label_raster_parcels`)."""
    # cast: FeatureSource declares ``description`` a settable attribute, LocalStackSource has a read-only property
    mapped = run_map(cast("FeatureSource", LocalStackSource(patch)), onnx_path, map_dir, progress=progress)
    mapped = with_parcel_table(mapped, label_raster_parcels(patch.classes, patch.transform, patch.crs, CLASSES))
    with rasterio.open(mapped.cog) as src:
        classes = src.read(1)
    truth = patch.classes  # class indices; unmapped map pixels count as wrong below
    labelled = truth != NO_CLASS
    held_out = np.zeros(truth.shape, dtype=bool)
    held_out[test_set.extra["row"], test_set.extra["col"]] = True
    scores = {
        "map_oa_held_out_samples": float((classes[held_out] == truth[held_out]).mean()),
        "map_oa_all_labelled": float((classes[labelled] == truth[labelled]).mean()),
        "map_pixels_per_second": float(mapped.pixels_per_second),
    }
    result.map_outputs = {
        "cog": str(mapped.cog),
        "preview": str(mapped.preview),
        "areas_csv": str(mapped.areas_csv),
        "parcels": str(map_dir / PARCELS_GPKG),
    }
    result.map_scores = scores
    areas = ", ".join(f"{c} {ha:.2f} ha" for c, ha in mapped.hectares.items() if ha)
    echo(f"   {mapped.cog} ({mapped.pixels_per_second:,.0f} px/s), {mapped.preview}, {mapped.areas_csv}")
    echo(f"   pixel-count areas (not area estimates, see step 6): {areas}")
    echo(
        f"   map accuracy vs the label raster: {100 * scores['map_oa_held_out_samples']:.2f} % on the "
        f"held-out sample pixels, {100 * scores['map_oa_all_labelled']:.2f} % on all "
        f"{int(labelled.sum())} labelled pixels (these include training pixels)"
    )


def _assess_map(patch, cog: Path, assess_dir: Path, result: DemoResult, seed: int, echo: Callable[[str], None]) -> None:
    """Area and accuracy estimates of the map over the labelled parcels: a stratified random sample
    (proportional, at least DEMO_ASSESS_POINTS per map class, as many points in all as an interpreter
    would label for 50 per class), its reference classes read from the parcel label raster."""
    class_map = read_class_map(cog)
    labelled = patch.classes != NO_CLASS
    within = np.where(labelled, class_map.classes, NO_CLASS)
    map_path = write_class_raster(
        assess_dir / "map_on_parcels.tif", within, class_map.names, class_map.crs, class_map.transform
    )
    labels = write_class_raster(
        assess_dir / "parcel_labels.tif", patch.classes, class_map.names, class_map.crs, class_map.transform
    )
    points = design(
        str(map_path),
        assess_dir / "points.csv",
        n=DEMO_ASSESS_POINTS * len(np.unique(within[labelled])),
        min_per_class=DEMO_ASSESS_POINTS,
        seed=seed,
    ).path
    _estimates, summary = assess(str(map_path), assess_dir, reference=points, reference_raster=labels)
    result.assessment = {
        "overall_accuracy": summary["overall_accuracy"],
        "overall_accuracy_ci95": summary["overall_accuracy_ci95"],
        "n_points": summary["n_points"],
        "html": str(assess_dir / "assessment.html"),
        "area_ha": {c: r["area_ha"] for c, r in summary["classes"].items() if r["mapped_ha"]},
        "area_ha_ci95": {c: r["area_ha_ci95"] for c, r in summary["classes"].items() if r["mapped_ha"]},
    }
    echo(
        f"   {summary['n_points']} points on {int(labelled.sum())} labelled pixels: overall accuracy "
        f"{100 * summary['overall_accuracy']:.1f} ± {100 * summary['overall_accuracy_ci95']:.1f} %"
    )
    echo(
        "   estimated area (ha, ± 95 % CI) vs pixel count: "
        + ", ".join(
            f"{c} {r['area_ha']:.2f} ± {r['area_ha_ci95']:.2f} ({r['mapped_ha']:.2f})"
            for c, r in summary["classes"].items()
            if r["mapped_ha"]
        )
    )
    echo(f"   {assess_dir / 'assessment.html'}")
    parcels = assess_parcels(Path(result.map_outputs["parcels"]), assess_dir, reference_field="label", map_ref=str(cog))
    result.map_scores["map_oa_parcels"] = parcels["overall_accuracy"]
    result.assessment["parcels"] = {k: parcels[k] for k in ("overall_accuracy", "n_parcels", "correct", "flagged")}
    echo(
        f"   parcel level: {parcels['correct']} of {parcels['n_parcels']} label parcels right, OA "
        f"{100 * parcels['overall_accuracy']:.2f} % (pixel OA {100 * result.map_scores['map_oa_all_labelled']:.2f} %); "
        f"{parcels['flagged']['parcels']} flagged parcels left out, {assess_dir / 'parcel_assessment.json'}"
    )
