"""Real training data for the model / training / export tests: labelled pixels of the shipped Earth
Engine patch (Flanders 2019; corn, wheat, other) and one tiny CropNet trained on them, built once
per test session and shared by tests/models, tests/training, tests/export and tests/cli."""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from gee_crop.classes import EXCLUDE
from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.data.table import write_table
from gee_crop.types import SampleSeries
from gee_crop.testing.paths import demo_patch_dir

TINY_WIDTHS = (8, 16, 32, 64)
#: the patch's SCL mask is strict (45 % clear); 12 empty bins (60 days) keeps most labelled pixels.
MAX_GAP_BINS = 12
#: options of the shared tiny run: enough epochs at a higher learning rate to learn the patch.
TINY_RUN = dict(epochs=12, widths=TINY_WIDTHS, learning_rate=3e-3, batch_size=32, val_fraction=0.25,
                max_gap_bins=MAX_GAP_BINS, seed=0)


@lru_cache(maxsize=4)
def labelled_pixels(n: int = 360, seed: int = 0) -> SampleSeries:
    """``n`` random labelled pixels (real S2 series, SCL cloud) of the demo patch, region BEL."""
    patch = read_patch(demo_patch_dir())
    names = patch.legend.names(patch.labels)
    rows, cols = np.nonzero(names != EXCLUDE)
    pick = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
    rows, cols = rows[pick], cols[pick]
    return patch_pixels(patch, rows, cols, crop_class=names[rows, cols], region="BEL")


@contextmanager
def one_torch_thread():
    """Run torch on one thread: the tiny test models gain nothing from more, and on a shared 2-core
    machine OpenMP threads that wait on each other made a 4 s training take 15-40 s (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_cache: dict[str, Path] = {}


def table_file(tmp_path_factory) -> Path:
    """The labelled pixels written as a sample table (Parquet), once per session."""
    if "table" not in _cache:
        _cache["table"] = write_table(labelled_pixels(), tmp_path_factory.mktemp("table") / "bel.parquet")
    return _cache["table"]


def tiny_run(tmp_path_factory) -> Path:
    """Folder of a tiny CropNet2D trained on the labelled pixels (model.pt, config.json, ...)."""
    if "run" not in _cache:
        from gee_crop.training.trainer import train

        out = tmp_path_factory.mktemp("tiny_run")
        with one_torch_thread():
            train(labelled_pixels(), out, progress=False, echo=lambda _: None, **TINY_RUN)
        _cache["run"] = out
    return _cache["run"]
