"""Models on Sentinel-2 and EMIT together (docs/emit.md, "S2 and EMIT together"): one flat vector per sample, the
S2 1D medians of the season (band-major, as ``median1d``) followed by the EMIT medians of the months (month-major),
on the samples present in both tables.

The two tables are joined on the sample location: the EMIT table's rows are read at the points of the S2 table
(``sample --emit``), so a sample's EMIT medians are the EMIT row at its lon/lat (``data.emit_table.emit_at``).
A sample missing from the EMIT table (EMIT not clear in every month there) or dropped from the S2 side (a gap
longer than ``max_gap_bins``) is left out, and the counts are printed; EMIT rows at no S2 sample are unused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gee_crop.classes import class_indices
from gee_crop.config import S2_EMIT_FEATURE_MONTHS, FeatureKind, InputScaling
from gee_crop.data.emit_table import EmitTable, S2EmitTables, emit_at
from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.io import ModelLike, read_model_file
from gee_crop.models.predict import open_predictor
from gee_crop.training.alignment import Alignment
from gee_crop.training.dataset import series_features, stratified_split
from gee_crop.training.emit import emit_contract, require_flat_arch
from gee_crop.training.evaluate import EVALUATION_BATCH, Evaluation
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import PreparedRun, TrainConfig, table_spec
from gee_crop.types import SampleSeries


@dataclass(frozen=True)
class JoinedFeatures:
    """The S2+EMIT vectors of a Sentinel-2 table's samples."""

    values: np.ndarray
    """(n kept, F) float32 reflectance: S2 1D medians, then the EMIT months' bands."""
    keep: np.ndarray
    """(n,) bool over the S2 table: usable on the S2 side and present in the EMIT table."""
    n_gaps: int
    """S2 samples dropped for a gap longer than ``max_gap_bins``."""
    n_no_emit: int
    """S2 samples (without such a gap) that the EMIT table does not hold in every month."""
    year: int | None
    """The commonest season year of the kept samples."""

    def describe(self, n: int) -> str:
        return (
            f"S2+EMIT: {int(self.keep.sum())} of {n} samples in both tables; dropped {self.n_gaps} with an S2 gap "
            f"and {self.n_no_emit} that EMIT did not see clear in every month"
        )


def s2_emit_months(feature_set: str | None) -> tuple[int, ...]:
    """The EMIT months of an S2+EMIT feature set (None: June+August); InputError for another name."""
    if feature_set is None:
        return S2_EMIT_FEATURE_MONTHS["s2_emit_june_august"]
    if feature_set not in S2_EMIT_FEATURE_MONTHS:
        raise InputError(
            f"--features {feature_set} does not join Sentinel-2 and EMIT; with --emit-table use one of "
            f"{', '.join(S2_EMIT_FEATURE_MONTHS)}"
        )
    return S2_EMIT_FEATURE_MONTHS[feature_set]


def s2_emit_contract(s2: FeatureSpec, months: tuple[int, ...]) -> FeatureSpec:
    """The two-sensor contract: the S2 spec as flat 1D medians, joined by the EMIT medians of ``months``."""
    flat = replace(s2, feature_kind=FeatureKind.MEDIAN1D, joined=None)
    return replace(flat, joined=emit_contract(tuple(months), flat.classes))


def joined_features(
    series: SampleSeries, emit: EmitTable, contract: FeatureSpec, year: int | None = None
) -> JoinedFeatures:
    """The flat vectors of a two-sensor ``contract`` for the samples of ``series`` found in ``emit``."""
    if contract.joined is None:
        raise InputError("the model reads one sensor; evaluate it without --emit-table")
    feats = series_features(series, replace(contract, joined=None), year)
    emit_values, found = emit_at(emit, contract.joined.months, series.lon, series.lat, series.crop_class)
    keep = feats.keep & found
    s2_values = feats.values.reshape(len(series), -1)
    values = np.concatenate([s2_values[keep], emit_values[keep]], axis=1).astype(np.float32)
    n_gaps = int((~feats.keep).sum())
    years = replace(feats, keep=keep).year
    return JoinedFeatures(values, keep, n_gaps, int((feats.keep & ~found).sum()), years)


def prepare_s2_emit(
    tables: S2EmitTables, out_dir: str | os.PathLike, config: TrainConfig, echo: Callable[[str], None] = print
) -> tuple[PreparedRun, int]:
    """The run of ``config.arch`` (a flat-feature architecture) on the S2+EMIT vectors of the samples of the S2
    table found in the EMIT table, the EMIT months named by ``config.feature_kind`` (an S2+EMIT feature set), into
    ``out_dir``, and the number of S2 samples left out; fit it with ``training.emit.fit_flat``. No augmentation:
    the EMIT half has no time series to shift or warp."""
    months = s2_emit_months(config.feature_kind)
    require_flat_arch(config.arch)
    config = replace(config, feature_kind=FeatureKind.MEDIAN1D.value, augment=False).resolved()
    series, emit = tables.opened()
    contract = replace(
        s2_emit_contract(table_spec(config, series), months), input_scaling=InputScaling(config.input_scaling)
    )
    joined = joined_features(series, emit, contract, config.year)
    echo(joined.describe(len(series)))
    if len(joined.values) == 0:
        raise InputError("no sample is in both tables; give the EMIT table sampled beside this Sentinel-2 table")
    labels = series.labels[joined.keep]
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    contract = replace(contract, year_trained=joined.year)
    summary = {
        "source": tables.names[0],
        "emit_source": tables.names[1],
        "sensors": list(contract.sensor_names),
        "months": list(months),
        "n_samples": len(labels),
        "n_dropped_gaps": joined.n_gaps,
        "n_dropped_no_emit": joined.n_no_emit,
    }
    meta = {"train_config": {**config.to_dict(), "emit_features": list(months), "data": summary}}
    values = joined.values
    run = PreparedRun(
        config, contract, None, values, labels, train_idx, val_idx, joined.year, meta, Path(out_dir), echo
    )
    return run, int((~joined.keep).sum())


def evaluate_s2_emit_model(model: ModelLike, tables: S2EmitTables, *, device: str = "auto") -> Evaluation:
    """Score a two-sensor model on the samples of the S2 table found in the EMIT table (no class alignment, as
    for EMIT models: the tables are scored in the model's classes)."""
    model = read_model_file(model)
    series, emit = tables.opened()
    joined = joined_features(series, emit, model.contract)
    if len(joined.values) == 0:
        raise InputError("no sample is in both tables; give the EMIT table sampled beside this Sentinel-2 table")
    classes = model.contract.classes
    names = series.crop_class[joined.keep]
    unknown = sorted({str(n) for n in names} - set(classes))
    if unknown:
        raise InputError(f"the tables hold classes {unknown} the model does not predict; its classes: {classes}")
    proba = open_predictor(model, device=device).predict_proba(joined.values, batch_size=EVALUATION_BATCH)
    report = classification_report(class_indices(names, classes), proba.argmax(axis=1), len(classes))
    n_dropped = joined.n_gaps + joined.n_no_emit
    return Evaluation(report, Alignment(None, ()), len(series), n_dropped, 0, joined.year, None, None, classes)
