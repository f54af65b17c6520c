"""``gee-crop train TABLE --arch auto``: the model for the user's own labels, chosen by spatial
cross-validation on those labels (issue 23).

The table's usable samples (the gap rule AUTO_MAX_GAP_BINS, the zoo's) are cut into AUTO_FOLDS folds of
whole AUTO_BLOCK_M squares, smaller for a table of one small area (:func:`fold_block_m`; data/splits.py
``spatial_block_folds``: neighbouring pixels of one field never sit on both sides). Each
:class:`Candidate`, cheapest first, is trained on the other folds and scored on each fold by macro-F1
(over the classes the fold holds):

1. ``linear``: logistic regression on the 1D medians (models/linear.py);
2. ``RF-500``: the paper's Random Forest on the same features (models/forest.py);
3. ``fine-tuned``: the default zoo model (or ``--init-from MODEL``) fine-tuned with the library's
   defaults (training/finetune.py: a new head for the table's classes, FINETUNE_EPOCHS epochs whatever
   the networks from scratch get), only where its season contract fits the table and it was trained on
   the table's hemisphere;
4. ``TempCNN``: from scratch, the zoo student's widths;
5. ``CropNet 2D``: from scratch at CI size, only on tables of at least CROPNET_MIN_ROWS usable rows
   (below that its 2D convolutions overfit and it costs the most).

The networks share the zoo's recipe at CI size (experiments/transfer_fewshot.py: class weights, no
augmentation, smooth scaling, lr 0.003, batch 64) and AUTO_EPOCHS epochs, chosen so that a 500-sample
table is decided in under 10 minutes on 2 CPU cores (docs/user_guide.md gives the measured time).
The winner (:func:`choose`) is a **prior** unless another candidate clearly beats it (on every fold and by
more than CLEAR_MARGIN of mean macro-F1; then the best such by mean). The prior is the fine-tuned model
where its source trained in the climate zones and area of most of the table (the domain guard's shares,
:func:`prior_holds`), else RF-500. Why priors: 3 spatial folds of a few dozen labels rank the candidates
noisily (on France 2023 the fold means put the linear model or RF-500 first where the test blocks put them
last; docs/transfer.md), while a clear win on every fold is rarely noise. Why these two: on the few-label
benchmark the fine-tuned zoo was the best or near the best candidate wherever its source knew most of the
table's climate; outside it, on another continent, fine-tuning and a pretrained encoder lost to RF-500
from scratch (issue 23), the paper's baseline and the candidate least hurt by few labels. The winner is
then trained on every usable label into the run folder, and the comparison (with the rule applied and why)
goes into ``selection.json`` and the model's metadata (its card).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gee_crop.atomic import write_text_atomic
from gee_crop.data.splits import block_ids, spatial_block_folds
from gee_crop.data.table import read_table
from gee_crop.errors import InputError, SampleTableError, TrainOptionError
from gee_crop.features.seasons import table_season
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.domain import DomainReport
from gee_crop.models.forest import RF_TREES
from gee_crop.models.io import update_model_meta
from gee_crop.models.predict import open_predictor
from gee_crop.models.zoo import ZooModel, domain_report
from gee_crop.training.dataset import series_features
from gee_crop.training.finetune import SourceModel, load_source
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import TrainResult, train
from gee_crop.types import SampleSeries

AUTO_FOLDS = 3
#: side of the spatial blocks (metres): wider than a field and its neighbours; halved (down to
#: MIN_BLOCK_M, about a field) while the table covers fewer than BLOCKS_PER_FOLD blocks per fold.
AUTO_BLOCK_M = 10_000.0
MIN_BLOCK_M = 150.0
BLOCKS_PER_FOLD = 2
#: the gap rule of every candidate (the zoo's): all are scored on the same samples.
AUTO_MAX_GAP_BINS = 12
#: epochs of the networks trained from scratch (fine-tuning keeps its own default, FINETUNE_EPOCHS).
AUTO_EPOCHS = 30
#: passes of the linear model (a few hundred weights per class converge fast at this learning rate).
LINEAR_EPOCHS = 60
#: CropNet 2D from scratch is a candidate from this many usable rows up.
CROPNET_MIN_ROWS = 200
#: the networks' shared recipe (experiments/transfer_fewshot.py CROPNET, the zoo's).
NETWORK_RECIPE = MappingProxyType(
    dict(
        max_gap_bins=AUTO_MAX_GAP_BINS,
        learning_rate=0.003,
        batch_size=64,
        augment=False,
        class_weights=True,
        val_fraction=0.0,
    )
)
#: mean macro-F1 (a fraction) by which a candidate that wins every fold must lead the prior to clearly beat it.
CLEAR_MARGIN = 0.01
#: the candidate fine-tuned from a model (the prior of :func:`choose` where its source knew the table's climate).
FINE_TUNED = "fine-tuned"
#: the prior of :func:`choose` elsewhere.
FOREST = "RF-500"
#: the fine-tuned candidate is the prior while less than this share of the table lies in climate zones (or
#: beyond the area) its source never trained in: "most of the table".
PRIOR_MAX_UNSEEN_SHARE = 0.5
#: ``train`` options ``--arch auto`` accepts: the others are what it chooses.
AUTO_OPTIONS = ("seed", "device", "year", "init_from")
SELECTION_FILE = "selection.json"


@dataclass(frozen=True)
class Candidate:
    """One model ``auto`` may choose: how it is trained (``train`` options) and how it predicts."""

    name: str
    cost_rank: int
    """Its place in the cost order (0: cheapest); ties go to the lower rank."""
    options: Mapping[str, Any]
    """Fields of TrainConfig for ``training.trainer.train``."""

    def fit(
        self,
        series: SampleSeries,
        out_dir: str | os.PathLike,
        seed: int,
        *,
        device: str = "auto",
        zoo: Mapping[str, Path] | None = None,
        overwrite: bool = True,
    ) -> TrainResult:
        """Train on ``series`` into ``out_dir`` (quietly)."""
        return train(
            series,
            out_dir,
            seed=seed,
            device=device,
            zoo=zoo,
            overwrite=overwrite,
            progress=False,
            echo=lambda _: None,
            **dict(self.options),
        )

    def predict(self, model: Path, series: SampleSeries) -> np.ndarray:
        """(n, classes) probabilities of the trained ``model`` for every sample of ``series``."""
        predictor = open_predictor(model, device="cpu")
        return predictor.predict_proba(series_features(series, predictor.contract).values)


def auto_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``train`` options ``--arch auto`` takes (AUTO_OPTIONS; None: not given); TrainOptionError
    naming any other given option (auto chooses the architecture and its settings itself)."""
    given = {k: v for k, v in options.items() if v is not None and k != "arch"}
    extra = sorted(set(given) - set(AUTO_OPTIONS))
    if extra:
        raise TrainOptionError(
            extra[0],
            f"--arch auto chooses the model and its training settings itself; drop {', '.join(extra)} "
            f"(it takes only {', '.join(AUTO_OPTIONS)}), or name an --arch to set them",
        )
    return given


def candidates(
    n_rows: int, source: str | None, epochs: int | None = None, trees: int = RF_TREES
) -> tuple[Candidate, ...]:
    """The candidates for a table of ``n_rows`` usable rows, cheapest first; ``source`` the model the
    fine-tuned candidate starts from (None: no such candidate). ``epochs`` (None: AUTO_EPOCHS, the
    linear model LINEAR_EPOCHS) sets the epochs of the networks trained from scratch, the linear
    model's twice that (a quick check, or a benchmark on a budget); fine-tuning always runs its own
    FINETUNE_EPOCHS (it is cheap, and fewer epochs leave a new head untrained); ``trees`` those of the
    forest."""
    linear = dict(arch="linear", epochs=2 * epochs if epochs else LINEAR_EPOCHS, **NETWORK_RECIPE)
    found = [
        Candidate("linear", 0, {**linear, "learning_rate": 0.01}),
        Candidate(
            FOREST,
            1,
            dict(arch="random_forest", n_estimators=trees, max_gap_bins=AUTO_MAX_GAP_BINS, val_fraction=0.0),
        ),
    ]
    if source is not None:
        tune = dict(init_from=source, val_fraction=0.0)
        found.append(Candidate(FINE_TUNED, 2, tune))
    scratch = dict(epochs=epochs or AUTO_EPOCHS, input_scaling="smooth", **NETWORK_RECIPE)
    found.append(Candidate("TempCNN", 3, dict(arch="tempcnn", widths=(32, 64, 64, 64), **scratch)))
    if n_rows >= CROPNET_MIN_ROWS:
        found.append(Candidate("CropNet 2D", 4, dict(arch="cropnet2d", widths=(16, 32, 64, 128), **scratch)))
    return tuple(found)


@dataclass(frozen=True)
class CandidateScore:
    """A candidate's cross-validation: macro-F1 per fold and the seconds it took."""

    candidate: Candidate
    fold_f1: tuple[float, ...]
    seconds: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_f1))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_f1))

    def to_dict(self) -> dict:
        return {
            "name": self.candidate.name,
            "cost_rank": self.candidate.cost_rank,
            "macro_f1_mean": self.mean,
            "macro_f1_std": self.std,
            "fold_macro_f1": list(self.fold_f1),
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class Comparison:
    """The cross-validation of every candidate and the one chosen."""

    scores: tuple[CandidateScore, ...]
    winner: CandidateScore
    n_folds: int
    block_m: float
    n_samples: int
    skipped: tuple[str, ...] = field(default=())
    """Candidates left out, each with why."""

    guard: DomainReport | None = None
    """The domain guard of the fine-tuned candidate's source for the table (None: no such candidate)."""

    def to_dict(self) -> dict:
        rule, why = rule_applied(self.scores, self.guard)
        return {
            "winner": self.winner.candidate.name,
            "rule": rule,
            "rule_why": why,
            "guard": None if self.guard is None else self.guard.to_dict(),
            "folds": self.n_folds,
            "block_m": self.block_m,
            "n_samples": self.n_samples,
            "candidates": [s.to_dict() for s in self.scores],
            "skipped": list(self.skipped),
        }

    def lines(self) -> list[str]:
        """The comparison as printed: one line per candidate, the winner marked."""
        blocks = f"{self.block_m / 1000:g} km blocks"
        head = f"spatial {self.n_folds}-fold cross-validation ({blocks}, {self.n_samples} samples)"
        rows = [
            f"  {'*' if s is self.winner else ' '} {s.candidate.name:<11} macro-F1 {100 * s.mean:5.1f} ± "
            f"{100 * s.std:4.1f} %  folds {' '.join(f'{100 * f:.1f}' for f in s.fold_f1)}  {s.seconds:.0f} s"
            for s in self.scores
        ]
        rule, why = rule_applied(self.scores, self.guard)
        return [head, *rows, *(f"  skipped {why}" for why in self.skipped), f"  chosen by: {rule} ({why})"]


def clearly_beats(score: CandidateScore, other: CandidateScore) -> bool:
    """``score`` beats ``other`` on every fold and by more than CLEAR_MARGIN of mean macro-F1."""
    lead = np.subtract(score.fold_f1, other.fold_f1)
    return bool((lead > 0).all() and lead.mean() > CLEAR_MARGIN)


def prior_holds(scores: tuple[CandidateScore, ...], guard: DomainReport | None) -> bool:
    """Whether the fine-tuned candidate is the prior: it was scored, and the guard judged that most of the
    table (less than PRIOR_MAX_UNSEEN_SHARE of its points) lies neither in climate zones its source never
    trained in nor outside the source's training area. The guard's warning fires from a smaller share
    (models/domain.py FIRE_SHARE): a model used as it is should be doubted sooner than a model fine-tuned
    on the table's own labels."""
    tuned = any(s.candidate.name == FINE_TUNED for s in scores)
    if not tuned or guard is None or not guard.judged or guard.unseen_share is None:
        return False
    return guard.unseen_share < PRIOR_MAX_UNSEEN_SHARE and (guard.outside_share or 0.0) < PRIOR_MAX_UNSEEN_SHARE


def prior_of(scores: tuple[CandidateScore, ...], guard: DomainReport | None) -> str:
    """The name of the candidate :func:`choose` keeps unless it is clearly beaten."""
    return FINE_TUNED if prior_holds(scores, guard) else FOREST


def rule_applied(scores: tuple[CandidateScore, ...], guard: DomainReport | None) -> tuple[str, str]:
    """``(rule, why)``: the rule :func:`choose` applies to ``scores`` under ``guard``, in words."""
    prior = prior_of(scores, guard)
    rule = (
        f"the {prior} model unless another candidate beats it on every fold and by more than "
        f"{100 * CLEAR_MARGIN:g} point of mean macro-F1 (then the best such)"
    )
    if prior == FINE_TUNED and guard is not None:
        seen = 100 * (1 - (guard.unseen_share or 0.0))
        return rule, f"{guard.model_name} was trained in the climate zones of {seen:.0f} % of the table"
    if not any(s.candidate.name == FINE_TUNED for s in scores):
        return rule, "no fine-tuned candidate"
    if guard is None or not guard.judged or guard.unseen_share is None:
        return rule, "the domain guard cannot judge the fine-tuned model's source, so it is no prior"
    unseen, outside = 100 * guard.unseen_share, 100 * (guard.outside_share or 0.0)
    return rule, (
        f"{guard.model_name} never trained in the climate zones of {unseen:.0f} % of the table "
        f"({outside:.0f} % outside its training area)"
    )


def choose(scores: tuple[CandidateScore, ...], guard: DomainReport | None = None) -> CandidateScore:
    """The winner of the cross-validation ``scores`` (module docstring; :func:`rule_applied` says it in
    words): the prior (:func:`prior_of`) unless others clearly beat it, then the best of those by mean;
    the best mean where the prior was not scored. ``guard``: the domain guard of the fine-tuned
    candidate's source for the table (None: none). The comparison is fold by fold: spatial folds differ in
    difficulty for every candidate alike."""
    name = prior_of(scores, guard)
    prior = next((s for s in scores if s.candidate.name == name), None)
    if prior is None:
        return max(scores, key=lambda s: s.mean)
    better = [s for s in scores if clearly_beats(s, prior)]
    return max(better, key=lambda s: s.mean) if better else prior


def macro_f1(labels: np.ndarray, proba: np.ndarray) -> float:
    """Macro-F1 of the most probable class, over the classes ``labels`` hold."""
    return float(classification_report(labels, proba.argmax(axis=1), proba.shape[1]).macro_f1)


def usable(series: SampleSeries, year: int | None = None) -> SampleSeries:
    """The samples every candidate keeps (gap rule AUTO_MAX_GAP_BINS on the table's season)."""
    spec = FeatureSpec(season=table_season(series), max_gap_bins=AUTO_MAX_GAP_BINS)
    keep = series_features(series, spec, year).keep
    if not keep.any():
        raise InputError(
            f"no sample has a gap of at most {AUTO_MAX_GAP_BINS} bins; --arch auto needs usable samples: "
            "check the season (--year) or sample again"
        )
    return series.subset(np.flatnonzero(keep))


def fitting_source(
    source: str, series: SampleSeries, zoo: Mapping[str, Path], zoo_models: Mapping[str, ZooModel]
) -> tuple[SourceModel | None, str]:
    """The fine-tuned candidate's source, read once, or None and why it is left out: its torch weights
    cannot be read, its season is not the table's, or the table lies in a hemisphere the zoo model never
    trained in."""
    try:
        model = load_source(source, zoo)
    except InputError as exc:
        return None, f"fine-tuned ({exc})"
    if model.contract.season != table_season(series):
        return None, f"fine-tuned ({source}'s season {model.contract.season} is not the table's)"
    if source in zoo_models:
        south = zoo_models[source].domain_bbox[1] < 0
        north = zoo_models[source].domain_bbox[3] > 0
        if (not south and (series.lat < 0).any()) or (not north and (series.lat > 0).any()):
            return None, f"fine-tuned ({source} was trained in the other hemisphere)"
    return model, ""


def fold_block_m(lon: np.ndarray, lat: np.ndarray, k: int = AUTO_FOLDS) -> float:
    """The block side for ``k`` folds of a table at ``lon``/``lat``: AUTO_BLOCK_M, halved while the
    samples cover fewer than ``k`` x BLOCKS_PER_FOLD blocks (a table of one small area), not below
    MIN_BLOCK_M."""
    block_m = AUTO_BLOCK_M
    while block_m / 2 >= MIN_BLOCK_M and len(np.unique(block_ids(lon, lat, block_m))) < k * BLOCKS_PER_FOLD:
        block_m /= 2
    return block_m


def cross_validate(
    series: SampleSeries,
    pool: tuple[Candidate, ...],
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    work: Path,
    *,
    device: str = "auto",
    zoo: Mapping[str, Path] | None = None,
    progress: bool = True,
) -> tuple[CandidateScore, ...]:
    """Each candidate trained on each fold's training part (in ``work``) and scored on its test part.
    A fold whose training part holds fewer than two classes is left out for all."""
    labels = series.labels
    usable_folds = [(tr, te) for tr, te in folds if len(np.unique(labels[tr])) >= 2 and len(te)]
    if not usable_folds:
        raise InputError(
            f"no fold of the {len(series)} samples trains on two classes or more; --arch auto needs more "
            "labels spread over more places (or train one --arch yourself)"
        )
    bar = tqdm(total=len(pool) * len(usable_folds), desc="choosing", unit="fit", disable=not progress)
    scores = []
    for candidate in pool:
        start, f1 = time.perf_counter(), []
        for i, (train_idx, test_idx) in enumerate(usable_folds):
            bar.set_postfix_str(f"{candidate.name} fold {i + 1}")
            out = work / f"{candidate.cost_rank}_{i}"
            model = candidate.fit(series.subset(train_idx), out, seed, device=device, zoo=zoo).model_path
            f1.append(macro_f1(labels[test_idx], candidate.predict(model, series.subset(test_idx))))
            bar.update()
        scores.append(CandidateScore(candidate, tuple(f1), time.perf_counter() - start))
    bar.close()
    return tuple(scores)


def select_and_train(
    data: SampleSeries | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    device: str = "auto",
    year: int | None = None,
    init_from: str | None = None,
    zoo_models: Mapping[str, ZooModel] | None = None,
    default_zoo: str | None = None,
    epochs: int | None = None,
    trees: int = RF_TREES,
    overwrite: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> tuple[TrainResult, Comparison]:
    """Choose a model for the table by spatial cross-validation and train it on every usable label.

    ``init_from`` (else ``default_zoo``, a name of ``zoo_models``) is the fine-tuned candidate's source;
    the domain guard (:func:`gee_crop.models.zoo.domain_report`) judges the table's lon/lat against it;
    ``epochs`` and ``trees`` see :func:`candidates`.
    """
    source = "in-memory SampleSeries"
    if not isinstance(data, SampleSeries):
        source, data = str(data), read_table(data)
    if len(data) == 0:
        raise SampleTableError(f"{source} holds no samples (0 rows); sample some with `gee-crop sample`")
    series = usable(data, year)
    out_dir = Path(out_dir)
    zoo_models = dict(zoo_models or {})
    zoo = {name: m.path for name, m in zoo_models.items()}
    skipped: list[str] = []
    start_from = init_from or default_zoo
    guard: DomainReport | None = None
    if start_from is not None:
        source_model, why = fitting_source(start_from, series, zoo, zoo_models)
        if source_model is None:
            skipped.append(why)
            start_from = None
        else:
            # the domain guard (models/domain.py): the table's places against the source model's training
            # footprint; its line is printed, and the candidate is scored either way: where the guard is quiet
            # it is the prior of the choice, where it fires it is one candidate among the others (choose)
            guard = domain_report(
                source_model.path, source_model.meta, series.lon, series.lat, what="the table's samples"
            )
            echo(guard.line)
    if len(series) < CROPNET_MIN_ROWS:
        skipped.append(f"CropNet 2D (needs {CROPNET_MIN_ROWS} usable rows, the table has {len(series)})")
    pool = candidates(len(series), start_from, epochs, trees)
    block_m = fold_block_m(series.lon, series.lat)
    folds = spatial_block_folds(series.lon, series.lat, block_m=block_m, k=AUTO_FOLDS, seed=seed)
    work = out_dir / "selection"
    scores = cross_validate(series, pool, folds, seed, work, device=device, zoo=zoo, progress=progress)
    comparison = Comparison(scores, choose(scores, guard), AUTO_FOLDS, block_m, len(series), tuple(skipped), guard)
    for line in comparison.lines():
        echo(line)
    winner = comparison.winner.candidate
    echo(f"training {winner.name} on all {len(series)} usable samples")
    result = winner.fit(series, out_dir, seed, device=device, zoo=zoo, overwrite=overwrite)
    update_model_meta(result.model_path, selection=comparison.to_dict())
    write_text_atomic(out_dir / SELECTION_FILE, json.dumps(comparison.to_dict(), indent=2))
    shutil.rmtree(work, ignore_errors=True)  # the folds' models
    echo(
        f"saved {result.model_path} ({winner.name}, chosen by cross-validation; {SELECTION_FILE} holds the comparison)"
    )
    return result, comparison
