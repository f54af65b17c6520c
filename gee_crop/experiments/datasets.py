"""Loading the datasets of an experiment as SampleSeries, whatever their reader."""

from __future__ import annotations

import numpy as np

from gee_crop.data.emit_table import EmitTable, read_emit_table
from gee_crop.data.sampling import sample_from_files
from gee_crop.data.splits import random_split
from gee_crop.data.table import read_table
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.errors import InputError
from gee_crop.experiments.config import DatasetSpec, TransferSpec
from gee_crop.experiments.variants import apply_variant
from gee_crop.types import SampleSeries, SamplingRules, concat

#: the seed of a dataset's ``limit`` subsample (fixed: every seed of an experiment sees the same data).
LIMIT_SEED = 20_231


def _check_path(spec: DatasetSpec) -> None:
    if not spec.path.exists():
        raise InputError(
            f"dataset {spec.key}: {spec.path} does not exist; fix 'path' in the experiment file "
            "(relative paths start at its data_dir; see docs/experiments.md)"
        )


def load_emit_dataset(spec: DatasetSpec) -> EmitTable:
    """Read one EMIT dataset (reader ``emit``); ``limit`` keeps a seeded, fixed random subset of its samples.
    The Sentinel-2 options (tiles, relabel, variant, sampling) do not apply and are refused."""
    _check_path(spec)
    given = [k for k in ("tiles", "relabel", "variant", "sampling") if getattr(spec, k)]
    if given:
        raise InputError(f"dataset {spec.key}: {given[0]!r} applies to Sentinel-2 datasets, not EMIT tables; remove it")
    table = read_emit_table(spec.path)
    if spec.limit is not None and spec.limit < table.n_samples:
        table = table.subset(np.random.default_rng(LIMIT_SEED).choice(table.n_samples, spec.limit, replace=False))
    if table.n_samples == 0:
        raise InputError(f"dataset {spec.key} ({spec.path}) holds no samples; check the file")
    return table


def load_dataset(spec: DatasetSpec) -> SampleSeries:
    """Read one dataset; ``region`` overrides the table's region codes; ``limit`` keeps a seeded,
    fixed random subset of that many samples."""
    _check_path(spec)
    if spec.reader == "worldcereal":
        series = read_worldcereal(spec.path)
    elif spec.reader == "patch":
        options = dict(spec.sampling)  # the sampling rules, and how the labels are eroded
        rules = SamplingRules(**{k: options.pop(k) for k in SamplingRules.names() if k in options})
        series = sample_from_files(spec.path, None, rules, region=spec.region or "", **options)
    else:
        series = read_table(spec.path)
    if spec.tiles:
        tiles = series.extra.get("tile")
        if tiles is None:
            raise InputError(f"dataset {spec.key}: {spec.path} carries no tile column; remove 'tiles'")
        series = series.subset(np.isin(tiles.astype(str), spec.tiles))
    if spec.relabel:
        unknown = sorted(set(spec.relabel.values()) - set(series.classes))
        if unknown:
            raise InputError(
                f"dataset {spec.key}: relabel names class(es) {', '.join(unknown)} outside the table's "
                f"classes ({', '.join(series.classes)}); use one of those"
            )
        names = series.crop_class.astype(object)
        series.crop_class = np.array([spec.relabel.get(str(c), c) for c in names], dtype=object)
    if spec.variant:
        series = apply_variant(series, spec.variant)
    if spec.region:
        series.region = np.full(len(series), spec.region, dtype=object)
    if spec.limit is not None and spec.limit < len(series):
        pick = np.sort(np.random.default_rng(LIMIT_SEED).choice(len(series), spec.limit, replace=False))
        series = series.subset(pick)
    if len(series) == 0:
        raise InputError(f"dataset {spec.key} ({spec.path}) holds no samples; check the file or its sampling options")
    return series


def union(tables: list[SampleSeries]) -> SampleSeries:
    """The training set of a multi-domain source: every dataset's samples, stacked."""
    if len(tables) == 1:
        return tables[0]
    return concat(tables)


def region_code(series: SampleSeries, spec: DatasetSpec) -> str | None:
    """The dataset's region for class alignment: its 'region' key, else the table's only region."""
    if spec.region:
        return spec.region
    regions = sorted({str(r) for r in series.region if str(r)})
    return regions[0] if len(regions) == 1 else None


def transfer_data(
    transfer: TransferSpec, source: SampleSeries, target: SampleSeries, seed: int
) -> tuple[SampleSeries, SampleSeries]:
    """(training series, test series) of a transfer for one seed: the whole source and target, or a
    seeded 80/20-style random split of the source (METHOD.md "Evaluation": in-region)."""
    if not transfer.split:
        return source, target
    train_idx, test_idx = random_split(len(source), transfer.split, seed)
    return source.subset(train_idx), source.subset(test_idx)
