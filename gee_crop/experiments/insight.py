"""The insight figures of an experiment (METHOD.md "Feature importance"): confusion matrices, Grad-CAMs
per class and target region, mean NDVI curves per region and class, t-SNE of median features before
and after augmentation, Random Forest importances. Written to ``<out>/figures/`` (PNG + SVG) with
``figures/index.json`` (stem, section, caption) for the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gee_crop.atomic import write_text_atomic
from gee_crop.classes import CLASSES
from gee_crop.config import FeatureKind
from gee_crop.experiments.config import ExperimentConfig, ModelSpec, TransferSpec
from gee_crop.experiments.datasets import transfer_data
from gee_crop.experiments.layout import model_dir
from gee_crop.features.harmonics import feature_names
from gee_crop.features.indices import ndvi
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.io import load_model, read_model_meta
from gee_crop.sensors import SENTINEL2
from gee_crop.training.dataset import AugmentedBatches, series_features
from gee_crop.training.trainer import TrainConfig
from gee_crop.viz.cam import mean_cams
from gee_crop.viz.plots import (
    plot_band_time,
    plot_confusion,
    plot_importance_bars,
    plot_ndvi_curves,
    plot_tsne,
    tsne_embedding,
)

TSNE_SAMPLES = 300
CAM_SAMPLES = 400


def _median_contract(model: ModelSpec | None) -> FeatureSpec:
    """Median features as the trainer computes them with a model's options (window, span, gap limit)."""
    options = model.train_options() if model else {}
    return TrainConfig(**{**options, "feature_kind": FeatureKind.MEDIAN2D.value}).feature_spec()


def _bin_days(spec: FeatureSpec) -> np.ndarray:
    return (np.arange(spec.n_bins) + 0.5) * spec.season.window_days


def _subsample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def confusion_figures(summary: dict, fig_dir: Path) -> list[dict]:
    """One confusion matrix per (model, transfer), counts summed over seeds."""
    entries = []
    for model in summary["models"]:
        for transfer in summary["transfers"]:
            runs = [r for r in summary["results"] if r["model"] == model["name"] and r["transfer"] == transfer["label"]]
            if not runs:
                continue
            cm = np.sum([np.asarray(r["confusion_matrix"]) for r in runs], axis=0)
            oa = np.mean([r["overall_accuracy"] for r in runs])
            stem = f"confusion__{runs[0]['model_key']}__{runs[0]['transfer_key']}"
            plot_confusion(
                cm,
                fig_dir / stem,
                f"{model['name']}, {transfer['label']}: OA {100 * oa:.1f} % (mean of {len(runs)} seeds; counts summed)",
            )
            entries.append(
                {
                    "stem": stem,
                    "section": "Confusion matrices",
                    "caption": f"{model['name']}, {transfer['label']} ({len(runs)} seeds)",
                }
            )
    return entries


def ndvi_figure(config: ExperimentConfig, data, fig_dir: Path) -> list[dict]:
    """Mean NDVI per class (gap-filled 5-day medians) for every dataset of the experiment."""
    spec = _median_contract(config.models[0])
    curves = {}
    for key in config.datasets:
        if not any(key in (t.source, t.target) for t in config.transfers):
            continue
        series = data[key]
        med = series_features(series, spec)
        values = ndvi(med.values[med.keep], band_axis=1)  # (n, t)
        labels = series.labels[med.keep]
        seasons = "/".join(str(y) for y in med.season_counts) or str(med.year)  # a table may mix years
        curves[f"{key} ({seasons})"] = {
            CLASSES[c]: (values[labels == c].mean(axis=0), values[labels == c].std(axis=0), int((labels == c).sum()))
            for c in np.unique(labels)
        }
    plot_ndvi_curves(curves, _bin_days(spec), fig_dir / "ndvi_curves")
    return [
        {
            "stem": "ndvi_curves",
            "section": "Mean NDVI curves",
            "caption": "Mean NDVI (±1 std) of the gap-filled 5-day medians per class and dataset (paper Fig. 4)",
        }
    ]


def tsne_figure(config: ExperimentConfig, data, fig_dir: Path, n_samples: int) -> list[dict]:
    """t-SNE of the first source's medians, the same samples augmented, and its targets' medians."""
    spec = _median_contract(config.models[0])
    transfer = config.transfers[0]
    targets = [t.target for t in config.transfers if t.source == transfer.source and not t.split]
    feats, labels, groups = [], [], []

    def add(key: str, series, augment: bool) -> None:
        med = series_features(series, spec)
        keep = np.flatnonzero(med.keep)[_subsample(int(med.keep.sum()), n_samples)]
        feats.append(med.values[keep].reshape(len(keep), -1))
        labels.append(series.labels[keep])
        groups.append(np.full(len(keep), key, dtype=object))
        if augment:
            batches = AugmentedBatches(series.subset(keep), med.values[keep], med.years[keep], spec, augment={})
            aug = batches.inputs(np.arange(len(keep)), np.random.default_rng(0))
            feats.append(aug.reshape(len(keep), -1))
            labels.append(series.labels[keep])
            groups.append(np.full(len(keep), f"{key} augmented", dtype=object))

    add(transfer.source, data[transfer.source], True)
    for key in targets:
        add(key, data[key], False)
    embedding = tsne_embedding(np.concatenate(feats))
    groups_all = np.concatenate(groups)
    src = transfer.source
    panels = [
        (f"before augmentation: {src} and targets", [src, *targets]),
        (f"after augmentation: {src} augmented and targets", [f"{src} augmented", *targets]),
    ]
    plot_tsne(embedding, np.concatenate(labels), groups_all, panels, fig_dir / "tsne_augmentation")
    return [
        {
            "stem": "tsne_augmentation",
            "section": "t-SNE of median features",
            "caption": f"t-SNE of 5-day median features (paper Fig. 14): {src} before and after augmentation "
            f"(shift, scale, warp), with {', '.join(targets) or 'no targets'}; up to {n_samples} "
            "samples per group, colour = class",
        }
    ]


def _cam_model(config: ExperimentConfig) -> ModelSpec | None:
    name = config.insight.get("cam_model")
    candidates = [m for m in config.models if (m.name == name if name else m.arch == "cropnet2d")]
    return candidates[0] if candidates else None


def cam_figures(config: ExperimentConfig, data, out_dir: Path, fig_dir: Path, seed: int, n_samples: int) -> list[dict]:
    """Mean Grad-CAM per (true) class and target, for each training set of the CAM model (first seed)."""
    model = _cam_model(config)
    if model is None:
        return []
    groups: dict[str, list[TransferSpec]] = {}
    for t in config.transfers:
        groups.setdefault(t.train_key, []).append(t)
    entries = []
    for train_key, transfers in groups.items():
        path = model_dir(out_dir, model, transfers[0], seed) / "model.pt"
        if not path.is_file():
            continue
        net, meta = load_model(path)
        spec = FeatureSpec.from_meta(meta)
        maps, columns = {}, []
        for t in transfers:
            _, test = transfer_data(t, data[t.source], data[t.target], seed)
            feats = series_features(test, spec)
            keep = np.flatnonzero(feats.keep)[_subsample(int(feats.keep.sum()), n_samples)]
            inputs = spec.model_input(feats.values[keep])
            label = config.transfer_label(t)
            columns.append(label)
            for cls, cam in mean_cams(net, inputs, test.labels[keep], list(np.unique(test.labels[keep]))).items():
                maps[f"{CLASSES[cls]}|{label}"] = cam
        if not maps:
            continue
        stem = f"cam__{model.key}__{train_key}"
        plot_band_time(
            maps,
            fig_dir / stem,
            f"Grad-CAM of {model.name} (seed {seed}): mean per true class and target",
            columns=columns,
            colorbar_label="mean normalized Grad-CAM",
            bin_days=_bin_days(spec),
        )
        entries.append(
            {
                "stem": stem,
                "section": "Class activation maps",
                "caption": f"Grad-CAM on the last conv block of {model.name} trained on {train_key} "
                f"(seed {seed}) over bands x 5-day bins, averaged per true class and target "
                "region (paper Figs. 8-9)",
            }
        )
    return entries


def importance_figures(config: ExperimentConfig, out_dir: Path, fig_dir: Path, seed: int) -> list[dict]:
    """Impurity importances of every Random Forest model (first training set, first seed)."""
    entries = []
    for model in (m for m in config.models if m.arch == "random_forest"):
        path = model_dir(out_dir, model, config.transfers[0], seed) / "model.onnx"
        if not path.is_file():
            continue
        meta = read_model_meta(path)
        importances = np.asarray(meta["feature_importances"], dtype=np.float64)
        stem = f"rf_importance__{model.key}"
        if meta["feature_kind"] == FeatureKind.MEDIAN1D:
            spec = FeatureSpec.from_meta(meta)
            plot_band_time(
                {f"importance|{model.name}": importances.reshape(len(SENTINEL2.bands), -1)},
                fig_dir / stem,
                f"Random Forest importance per band and 5-day bin ({model.name})",
                colorbar_label="mean decrease in impurity",
                cmap="viridis",
                bin_days=_bin_days(spec),
            )
        else:
            plot_importance_bars(
                importances,
                feature_names(),
                fig_dir / stem,
                f"Random Forest importance of harmonic coefficients ({model.name})",
            )
        entries.append(
            {
                "stem": stem,
                "section": "Random Forest importance",
                "caption": f"{model.name} trained on {config.transfers[0].train_key} (seed {seed}): "
                "mean decrease in impurity per feature",
            }
        )
    return entries


def make_figures(
    config: ExperimentConfig, summary: dict, out_dir: Path, data, *, echo: Callable[[str], None] = print
) -> list[Path]:
    """Draw every insight figure of a finished experiment; returns the PNG and SVG paths."""
    fig_dir = Path(out_dir) / "figures"
    seed = summary["seeds"][0]
    entries = confusion_figures(summary, fig_dir)
    entries += ndvi_figure(config, data, fig_dir)
    entries += tsne_figure(config, data, fig_dir, int(config.insight.get("tsne_samples", TSNE_SAMPLES)))
    entries += cam_figures(
        config, data, Path(out_dir), fig_dir, seed, int(config.insight.get("cam_samples", CAM_SAMPLES))
    )
    entries += importance_figures(config, Path(out_dir), fig_dir, seed)
    write_text_atomic(fig_dir / "index.json", json.dumps(entries, indent=1))
    echo(f"wrote {len(entries)} figures to {fig_dir}")
    return [fig_dir / f"{e['stem']}.{fmt}" for e in entries for fmt in ("png", "svg")]
