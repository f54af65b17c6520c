"""Throughput of client-side feature computation versus a CropNet training step (samples per second).

Prints, in one run on the real Flanders 2019 patch (4096 pixels x 72 dates, SCL mask, repeated to
get more samples):

  (a) vectorized composite_pixels: mask + medians + gap fill (the median-features pipeline)
  (b) vectorized augmented_medians on training batches of 256 (shift / scale / warp, METHOD.md)
  (c) a naive per-sample Python loop doing the same compositing as (a)
  (d) a CropNet2D forward + backward + Adam step on a batch of 256, on CPU

and the ratio (b) / (d): augmentation recomputes medians every batch, so it must stay far faster
than the network step it feeds (target >= 20x).

    python bench/bench_features.py            # ~1 min on 2 cores
    python bench/bench_features.py --quick    # ~15 s
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gee_crop.classes import CLASSES
from gee_crop.config import BATCH_SIZE, MAX_GAP_BINS
from gee_crop.data.demo import demo_patch
from gee_crop.data.patch import patch_pixels
from gee_crop.features.augment import AugmentConfig, augmented_medians
from gee_crop.features.cloud import clear_mask
from gee_crop.features.composite import composite_pixels, prepare_series
from gee_crop.features.seasons import season_start_days
from gee_crop.season import Season
from gee_crop.types import SampleSeries, concat

YEAR = 2019
SEASON = Season()  # the paper's
WINDOW_DAYS, N_BINS = SEASON.window_days, SEASON.n_bins


def patch_series(repeat: int) -> SampleSeries:
    """All 4096 patch pixels, stacked ``repeat`` times."""
    patch = demo_patch()
    rows, cols = np.divmod(np.arange(patch.shape[0] * patch.shape[1]), patch.shape[1])
    series = patch_pixels(patch, rows, cols)
    return concat([series] * repeat) if repeat > 1 else series


def timed(fn, min_seconds: float) -> float:
    """Mean seconds per call of ``fn`` over at least ``min_seconds`` (after one warm-up call)."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def vectorized_pipeline(series: SampleSeries) -> np.ndarray:
    start = season_start_days(series.lat, YEAR)
    return composite_pixels(series, start, WINDOW_DAYS, N_BINS, max_gap_bins=MAX_GAP_BINS).values


def naive_pipeline(series: SampleSeries) -> np.ndarray:
    """The same computation one sample, one bin, one band at a time (what vectorizing replaces)."""
    out = np.zeros((len(series), 10, N_BINS), dtype=np.float32)
    starts = season_start_days(series.lat, YEAR)
    for i in range(len(series)):
        clear = clear_mask(series.cloud[i:i + 1], str(series.cloud_kind[i]))[0]
        days = series.dates[i].astype("datetime64[D]").astype(np.int64)
        for b in range(10):
            dn = series.dn[i, :, b]
            medians = np.full(N_BINS, np.nan)
            for k in range(N_BINS):
                lo = starts[i] + k * WINDOW_DAYS
                use = clear & (dn > 0) & (days >= lo) & (days < lo + WINDOW_DAYS)
                if use.any():
                    medians[k] = np.median(dn[use] / 1e4)
            valid = ~np.isnan(medians)
            if valid.any():
                out[i, b] = np.interp(np.arange(N_BINS), np.flatnonzero(valid), medians[valid])
    return out


def training_step_seconds(min_seconds: float) -> tuple[float, str]:
    """Seconds per CropNet2D forward + backward + optimizer step on a (256, 1, 10, 43) batch."""
    try:
        from gee_crop.models.cropnet import CropNet2D
        model, name = CropNet2D(n_bins=N_BINS), "gee_crop.models.cropnet.CropNet2D"
    except ImportError:  # the models package not there yet: an equivalent stand-in
        blocks, c_in = [], 1
        for width, stride in zip((64, 128, 256, 512), (2, 1, 2, 1)):
            blocks += [torch.nn.Conv2d(c_in, width, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(width),
                       torch.nn.ReLU(), torch.nn.Conv2d(width, width, 3, 1, 1, bias=False),
                       torch.nn.BatchNorm2d(width), torch.nn.ReLU(), torch.nn.Dropout2d(0.1)]
            c_in = width
        model = torch.nn.Sequential(*blocks, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                    torch.nn.Linear(512, len(CLASSES)))
        name = "inline stand-in (same layers as CropNet2D)"
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(BATCH_SIZE, 1, 10, N_BINS)
    y = torch.randint(0, len(CLASSES), (BATCH_SIZE,))

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return timed(step, min_seconds), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and shorter timings")
    args = parser.parse_args()
    repeat, min_seconds, n_naive = (1, 1.0, 128) if args.quick else (4, 4.0, 512)

    series = patch_series(repeat)
    n = len(series)
    arrays = prepare_series(series)
    start = season_start_days(series.lat, YEAR)
    rng = np.random.default_rng(0)
    batches = [np.arange(lo, min(lo + BATCH_SIZE, n)) for lo in range(0, n, BATCH_SIZE)]

    def augment_all() -> None:
        for index in batches:
            augmented_medians(arrays.subset(index), start[index], SEASON, rng, AugmentConfig())

    naive_series = series.subset(np.arange(n_naive))
    # the naive loop must compute what the vectorized pipeline computes (before timing it)
    np.testing.assert_allclose(naive_pipeline(naive_series), vectorized_pipeline(naive_series), atol=1e-6)

    a = n / timed(lambda: vectorized_pipeline(series), min_seconds)
    b = n / timed(augment_all, min_seconds)
    c = n_naive / timed(lambda: naive_pipeline(naive_series), min_seconds)
    step, model_name = training_step_seconds(min_seconds)
    d = BATCH_SIZE / step

    print(f"samples: {n} ({repeat} x 4096 patch pixels, 72 dates, SCL mask, {YEAR} season, "
          f"{N_BINS} bins of {WINDOW_DAYS} days); torch threads: {torch.get_num_threads()}")
    print(f"(a) vectorized prepare + composite + fill  {a:12,.0f} samples/s")
    print(f"(b) vectorized augmented_medians (b=256)   {b:12,.0f} samples/s")
    print(f"(c) naive per-sample loop ({n_naive} samples)   {c:12,.0f} samples/s   (a)/(c) = {a / c:,.0f}x")
    print(f"(d) CropNet2D train step (b=256, CPU)      {d:12,.0f} samples/s   [{model_name}]")
    print(f"(b)/(d) = {b / d:,.1f}x  (target >= 20x)")


if __name__ == "__main__":
    main()
