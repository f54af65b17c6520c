"""Train/test splits of a sample table: random (in-region 80/20) and spatial blocks.

METHOD.md "Evaluation": in-region results use an 80/20 random split. Nearby samples of one field
are near-duplicates, so :func:`spatial_block_split` offers a stricter split in which no square
block of ground holds both training and test samples.
"""

from __future__ import annotations

import numpy as np

from gee_crop.data.sampling import EARTH_RADIUS_M
from gee_crop.errors import InputError


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise InputError(
            f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}; use e.g. 0.2 for an 80/20 split"
        )


def random_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``n`` samples: (train_idx, test_idx), sorted int64, round(n*f) in test."""
    _check_fraction(test_fraction)
    n_test = round(n * test_fraction)
    if n_test == 0 or n_test == n:
        raise InputError(
            f"cannot split {n} samples with test fraction {test_fraction}: one side "
            "would be empty; use more samples or another fraction"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]).astype(np.int64), np.sort(order[:n_test]).astype(np.int64)


def block_ids(lon: np.ndarray, lat: np.ndarray, block_m: float) -> np.ndarray:
    """(n,) int64 id (0..n_blocks-1) of the ``block_m`` x ``block_m`` metre square holding each sample.

    Rows of blocks are ``block_m`` of latitude apart; within a row, blocks are ``block_m`` wide
    at the row's central latitude (a sinusoidal-style grid: square blocks anywhere on Earth).
    """
    if block_m <= 0:
        raise InputError(f"block size must be positive metres, got {block_m}; use e.g. --block-m 10000")
    lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
    block_deg = np.degrees(block_m / EARTH_RADIUS_M)
    row = np.floor((lat + 90.0) / block_deg)
    centre_lat = np.clip(row * block_deg - 90.0 + block_deg / 2, -89.9, 89.9)
    col = np.floor((lon + 180.0) / (block_deg / np.cos(np.radians(centre_lat))))
    _, ids = np.unique(np.stack([row, col], axis=1).astype(np.int64), axis=0, return_inverse=True)
    return ids.reshape(-1).astype(np.int64)


def spatial_block_split(
    lon: np.ndarray, lat: np.ndarray, *, block_m: float, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split by whole spatial blocks: (train_idx, test_idx), sorted int64.

    Samples are grouped into ``block_m`` squares (:func:`block_ids`); blocks are shuffled (seeded)
    and taken for test until the test share is as possible to ``test_fraction``.
    No block has samples on both sides.
    """
    _check_fraction(test_fraction)
    blocks, inverse, counts = np.unique(block_ids(lon, lat, block_m), return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if len(blocks) < 2:
        raise InputError(f"all {len(inverse)} samples fall into one {block_m:g} m block; use a smaller block size")
    test = held_out_blocks(counts, test_fraction, seed)[inverse]
    return np.flatnonzero(~test).astype(np.int64), np.flatnonzero(test).astype(np.int64)


def held_out_blocks(counts: np.ndarray, test_fraction: float, seed: int = 0) -> np.ndarray:
    """(n_blocks,) bool: whole blocks held out, drawn in a seeded shuffle until their share of the samples
    (``counts`` per block, at least two blocks) is as close as possible to ``test_fraction``; both sides keep
    at least one block."""
    order = np.random.default_rng(seed).permutation(len(counts))
    cumulative = np.cumsum(counts[order])
    target = test_fraction * counts.sum()
    # number of leading shuffled blocks whose total is closest to the target, keeping both sides non-empty
    n_blocks = int(np.clip(np.argmin(np.abs(cumulative - target)) + 1, 1, len(counts) - 1))
    is_test = np.zeros(len(counts), dtype=bool)
    is_test[order[:n_blocks]] = True
    return is_test


def spatial_block_folds(
    lon: np.ndarray, lat: np.ndarray, *, block_m: float, k: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` folds of whole spatial blocks: ``[(train_idx, test_idx), ...]``, sorted int64; every sample
    is tested in exactly one fold and no block has samples on both sides of any fold.

    Blocks (:func:`block_ids`) are shuffled (seeded), then each goes, largest first, to the fold that
    holds the fewest samples so far, so the folds are about equal in size.
    """
    if k < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {k}")
    blocks, inverse, counts = np.unique(block_ids(lon, lat, block_m), return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if len(blocks) < k:
        raise InputError(
            f"the {len(inverse)} samples fall into {len(blocks)} block(s) of {block_m:g} m, fewer than the "
            f"{k} folds; use a smaller block size or fewer folds"
        )
    order = np.random.default_rng(seed).permutation(len(blocks))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of, sizes = np.zeros(len(blocks), dtype=np.int64), np.zeros(k, dtype=np.int64)
    for block in order:
        fold = int(np.argmin(sizes))
        fold_of[block], sizes[fold] = fold, sizes[fold] + counts[block]
    sample_fold = fold_of[inverse]
    return [
        (np.flatnonzero(sample_fold != f).astype(np.int64), np.flatnonzero(sample_fold == f).astype(np.int64))
        for f in range(k)
    ]
