"""Streaming a composite cube into torch: a Dataset of block reads, a per-epoch sampler, a re-batcher.

Reading stays chunk by chunk however the pixels are drawn: an epoch first draws its training pixels (a
permutation, or with ``balanced`` :class:`torch.utils.data.WeightedRandomSampler` over the pixels with
weights 1 / (k * class count), so each of the k classes fills about 1/k of the epoch), then groups the draws
by block into :class:`BlockOrder` s visited in a random order. :class:`CubeBlocks` (the Dataset) answers an
order with one read of its block's chunk, in a DataLoader worker, and augments the composites there
(``features.augment.augmented_composites``). :class:`CubeStream` mixes a few blocks and cuts batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, WeightedRandomSampler

from gee_crop.classes import NO_CLASS
from gee_crop.config import REFLECTANCE_SCALE
from gee_crop.data.cube import CubeStore
from gee_crop.features.augment import AugmentConfig, augmented_composites
from gee_crop.features.spec import FeatureSpec

#: Blocks mixed into one shuffle before batches are cut (neighbouring pixels are alike: mix several fields).
MIX_BLOCKS = 4


@dataclass(frozen=True)
class BlockOrder:
    """The pixels of one block an epoch draws: ``offsets`` into the block's row-major pixels (may repeat);
    ``seed`` the augmentation draws of this read."""

    block: int
    offsets: np.ndarray
    seed: int


@dataclass(frozen=True)
class CubePixels:
    """The labelled pixels of some blocks of a cube: ``block`` (n,) and ``offset`` (n,) within it, ``label`` (n,)."""

    block: np.ndarray
    offset: np.ndarray
    label: np.ndarray

    @classmethod
    def of(cls, store: CubeStore, blocks: np.ndarray) -> CubePixels:
        """The labelled pixels of ``blocks`` (block numbers), from the cube's label array (1 byte a pixel)."""
        info, labels = store.info, store.labels()
        rows, cols = np.nonzero(labels != NO_CLASS)
        b = info.block_px
        block = (rows // b) * info.blocks[1] + cols // b
        # offset inside the block's own (possibly clipped) window, row-major
        width = np.minimum(b, info.width - (cols // b) * b)
        offset = (rows % b) * width + cols % b
        keep = np.isin(block, blocks)
        return cls(block[keep], offset[keep], labels[rows[keep], cols[keep]].astype(np.int64))

    def __len__(self) -> int:
        return len(self.label)


class EpochOrders(Sampler):
    """The :class:`BlockOrder` s of one epoch (call :meth:`set_epoch` first): every training pixel once in a
    random order, or ``balanced`` draws with replacement; blocks visited in a random order."""

    def __init__(self, pixels: CubePixels, seed: int, balanced: bool) -> None:
        self.pixels, self.seed, self.balanced, self.epoch = pixels, seed, balanced, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(np.unique(self.pixels.block))

    def __iter__(self) -> Iterator[BlockOrder]:
        rng = np.random.default_rng([self.seed, self.epoch, 104729])
        n = len(self.pixels)
        if self.balanced:
            counts = np.bincount(self.pixels.label)
            weights = 1.0 / (np.count_nonzero(counts) * counts[self.pixels.label])
            generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
            drawn = np.fromiter(WeightedRandomSampler(weights.tolist(), n, generator=generator), np.int64, n)
        else:
            drawn = rng.permutation(n)
        drawn = drawn[np.argsort(self.pixels.block[drawn], kind="stable")]
        blocks, starts = np.unique(self.pixels.block[drawn], return_index=True)
        groups = np.split(drawn, starts[1:])
        for k in rng.permutation(len(blocks)):
            yield BlockOrder(int(blocks[k]), self.pixels.offset[groups[k]], int(rng.integers(2**62)))


class CubeBlocks(Dataset):
    """Model inputs of a :class:`BlockOrder`: one read of its block, ((n, 1, 10, t) float32 reflectance,
    augmented when ``augment``; (n,) int64 labels)."""

    def __init__(self, store: CubeStore, spec: FeatureSpec, augment: AugmentConfig | None) -> None:
        self.store, self.spec, self.augment = store, spec, augment

    def __len__(self) -> int:
        return int(np.prod(self.store.info.blocks))

    def __getitem__(self, order: BlockOrder) -> tuple[torch.Tensor, torch.Tensor]:
        dn, labels = self.store.block(order.block)
        n_bins = dn.shape[-1]
        values = dn.reshape(-1, dn.shape[2], n_bins)[order.offsets].astype(np.float32) / np.float32(REFLECTANCE_SCALE)
        if self.augment is not None:
            values = augmented_composites(values, self.spec.season, np.random.default_rng(order.seed), self.augment)
        y = labels.reshape(-1)[order.offsets].astype(np.int64)
        return torch.from_numpy(self.spec.model_input(values)), torch.from_numpy(y)


def read_pixels(store: CubeStore, pixels: CubePixels, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``cap`` of ``pixels`` (a seeded draw), read block by block: ((m, 10, t) float32 reflectance,
    (m,) labels); for normalisation statistics and the validation set."""
    rng = np.random.default_rng([seed, 15485863])
    chosen = np.sort(rng.permutation(len(pixels))[:cap])
    values, labels = [], []
    for block in np.unique(pixels.block[chosen]):
        mine = chosen[pixels.block[chosen] == block]
        dn, _ = store.block(int(block))
        flat = dn.reshape(-1, dn.shape[2], dn.shape[3])[pixels.offset[mine]]
        values.append(flat.astype(np.float32) / np.float32(REFLECTANCE_SCALE))
        labels.append(pixels.label[mine])
    if not values:
        n_bands, n_bins = len(store.info.spec.bands), store.info.n_bins
        return np.zeros((0, n_bands, n_bins), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(values), np.concatenate(labels)


class CubeStream:
    """The training batches of a cube (a ``training.loop.BatchStream``): ``num_workers`` DataLoader workers
    read and augment blocks; the main process mixes MIX_BLOCKS blocks at a time and cuts ``batch_size``
    batches (a last batch of one pixel is dropped: BatchNorm cannot train on it)."""

    def __init__(self, dataset: CubeBlocks, orders: EpochOrders, batch_size: int, num_workers: int = 0) -> None:
        self.orders, self.batch_size = orders, batch_size
        self.loader = DataLoader(
            dataset,
            sampler=orders,
            batch_size=None,
            num_workers=num_workers,
            pin_memory=torch.cuda.is_available(),
            prefetch_factor=4 if num_workers else None,
        )

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.orders.set_epoch(epoch)
        generator = torch.Generator().manual_seed(int(self.orders.seed) * 7919 + epoch)
        held: list[tuple[torch.Tensor, torch.Tensor]] = []
        for item in self.loader:
            held.append(item)
            if len(held) >= MIX_BLOCKS:
                held = yield from self._cut(held, generator, final=False)
        yield from self._cut(held, generator, final=True)

    def _cut(self, held: list, generator: torch.Generator, *, final: bool):
        x, y = torch.cat([h[0] for h in held]), torch.cat([h[1] for h in held])
        order = torch.randperm(len(y), generator=generator)
        x, y = x[order], y[order]
        full = (len(y) // self.batch_size) * self.batch_size
        for begin in range(0, full, self.batch_size):
            yield x[begin : begin + self.batch_size], y[begin : begin + self.batch_size]
        rest = (x[full:], y[full:])
        if final:
            if len(rest[1]) > 1:
                yield rest
            return []
        return [rest] if len(rest[1]) else []
