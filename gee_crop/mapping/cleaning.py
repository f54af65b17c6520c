"""Cleaning a class map (``gee-crop map --mmu HA --majority K``): a K x K majority filter, then a sieve
of the regions smaller than the minimum mapping unit, computed tile by tile with a halo.

Both filters are local, so a tile cleaned with its halo equals the same pixels of the whole map cleaned
at once (tests/mapping/test_cleaning.py checks it pixel for pixel):

- **majority** (K odd >= 3): each mapped pixel takes the class most of the mapped pixels of its K x K
  window have (nodata and pixels beyond the map edge do not vote; nodata stays nodata); a tie keeps the
  pixel's own class when it is among the tied ones, else the lowest class index. Halo: K // 2 pixels.
- **sieve** (a minimum of N pixels, ``ceil(MMU / pixel area)``): each region of one class (8-connected:
  a diagonal row of pixels, a thin field at an angle, stays one region) with fewer than N pixels takes
  the class most of the mapped pixels bordering it have (ties: the lowest class index); a region with no
  mapped neighbour is kept. One pass, all regions decided from the same input: where several small
  regions meet, a region smaller than N may remain. Halo: N pixels. A region of fewer than N pixels
  that touches the tile lies within N - 1 pixels of it and its border within N, so the tile's window
  sees it whole; a region reaching the window's edge from the tile has at least N + 1 pixels inside it,
  so it is never taken for a small one.

GDAL's sieve (``rasterio.features.sieve``) is not used: it merges a small region into its *largest*
neighbour, and that neighbour's size is a property of the whole map (a field can run across many
tiles), so no finite halo makes it agree tile by tile; the bordering-pixel vote above depends only on
the region and its border.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
from scipy import ndimage

from gee_crop.classes import NO_CLASS
from gee_crop.errors import InputError
from gee_crop.mapping.tiling import Tile

#: Region connectivity of the sieve: 8 (pixels touching at a corner are one region).
CONNECTIVITY = 8


def check_cleaning(mmu: float | None, majority: int | None) -> None:
    """InputError (one line) unless ``mmu`` (hectares) is None or finite and > 0 and ``majority`` is
    None or an odd integer >= 3."""
    if mmu is not None and not (isinstance(mmu, (int, float)) and math.isfinite(mmu) and mmu > 0):
        raise InputError(f"--mmu {mmu!r} must be a finite area in hectares above 0, e.g. --mmu 0.05")
    if majority is not None and not (isinstance(majority, int) and majority >= 3 and majority % 2 == 1):
        raise InputError(f"--majority {majority!r} must be an odd window side of at least 3, e.g. --majority 3")


def mmu_pixels(mmu_hectares: float, pixel_area_m2: float) -> int:
    """The sieve's minimum region size in pixels: regions under ``mmu_hectares`` have fewer pixels."""
    return max(1, math.ceil(mmu_hectares * 1e4 / pixel_area_m2 - 1e-9))


def halo(min_pixels: int | None, majority: int | None) -> int:
    """Pixels of context a tile needs on each side for :func:`clean` to match the whole map."""
    return (majority // 2 if majority else 0) + (min_pixels if min_pixels and min_pixels > 1 else 0)


def _structure(connectivity: int) -> np.ndarray:
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity {connectivity} is not 4 or 8")
    return ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)


def majority_filter(classes: np.ndarray, k: int) -> np.ndarray:
    """(H, W) uint8 classes after a ``k`` x ``k`` majority filter (see the module docstring)."""
    valid = classes != NO_CLASS
    present = np.unique(classes[valid])
    out = classes.copy()
    if present.size == 0:
        return out
    kernel = np.ones((k, k), dtype=np.int32)
    votes = np.stack(
        [ndimage.correlate((classes == c).astype(np.int32), kernel, mode="constant", cval=0) for c in present]
    )
    best = votes.max(axis=0)
    winner = present[np.argmax(votes, axis=0)]  # the first maximum: the lowest class index
    own = np.searchsorted(present, np.where(valid, classes, present[0]))
    own_votes = np.take_along_axis(votes, own[None], axis=0)[0]
    winner = np.where(own_votes == best, classes, winner)
    out[valid] = winner[valid]
    return out


def sieve(classes: np.ndarray, min_pixels: int, connectivity: int = CONNECTIVITY) -> np.ndarray:
    """(H, W) uint8 classes with the regions of fewer than ``min_pixels`` pixels given the class most
    of their bordering mapped pixels have (see the module docstring)."""
    out = classes.copy()
    valid = classes != NO_CLASS
    if min_pixels <= 1 or not valid.any():
        return out
    structure = _structure(connectivity)
    labels = np.zeros(classes.shape, dtype=np.int64)
    n = 0
    for c in np.unique(classes[valid]):
        lab, found = ndimage.label(classes == c, structure=structure)
        labels[lab > 0] = lab[lab > 0] + n
        n += found
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small = sizes < min_pixels
    small[0] = False
    small_px = small[labels]
    if not small_px.any():
        return out
    h, w = classes.shape
    flat = np.arange(h * w, dtype=np.int64).reshape(h, w)
    regions, neighbours = [], []
    for dy, dx in zip(*np.nonzero(structure)):
        dy, dx = int(dy) - 1, int(dx) - 1
        if dy == dx == 0:
            continue
        src = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
        dst = (slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx)))
        keep = small_px[src] & valid[dst] & (labels[src] != labels[dst])
        regions.append(labels[src][keep])
        neighbours.append(flat[dst][keep])
    pairs = np.unique(np.stack([np.concatenate(regions), np.concatenate(neighbours)]), axis=1)
    if pairs.shape[1] == 0:
        return out
    region, neighbour_class = pairs[0], classes.ravel()[pairs[1]].astype(np.int64)
    keys, votes = np.unique(region * 256 + neighbour_class, return_counts=True)
    key_region, key_class = keys // 256, keys % 256
    order = np.lexsort((key_class, -votes, key_region))  # per region: most votes, then lowest class
    first = np.ones(order.size, dtype=bool)
    first[1:] = key_region[order][1:] != key_region[order][:-1]
    winners = np.full(n + 1, -1, dtype=np.int64)
    winners[key_region[order][first]] = key_class[order][first]
    new = winners[labels]
    change = small_px & (new >= 0)
    out[change] = new[change].astype(classes.dtype)
    return out


def clean(classes: np.ndarray, min_pixels: int | None = None, majority: int | None = None) -> np.ndarray:
    """The majority filter (``majority``: window side), then the sieve (``min_pixels``), of (H, W) classes."""
    out = majority_filter(classes, majority) if majority else classes.copy()
    return sieve(out, min_pixels) if min_pixels and min_pixels > 1 else out


def clean_tiles(
    read: Callable[[int, int, int, int], np.ndarray],
    height: int,
    width: int,
    tiles: Iterable[Tile],
    min_pixels: int | None = None,
    majority: int | None = None,
) -> Iterable[tuple[Tile, np.ndarray]]:
    """Each tile of a ``height`` x ``width`` class map cleaned (:func:`clean`) with its halo:
    ``read(row_off, col_off, h, w)`` returns that window of the raw class band (inside the map)."""
    margin = halo(min_pixels, majority)
    for tile in tiles:
        top, left = max(0, tile.row_off - margin), max(0, tile.col_off - margin)
        bottom = min(height, tile.row_off + tile.height + margin)
        right = min(width, tile.col_off + tile.width + margin)
        window = read(top, left, bottom - top, right - left)
        cleaned = clean(window, min_pixels, majority)
        r, c = tile.row_off - top, tile.col_off - left
        yield tile, cleaned[r : r + tile.height, c : c + tile.width]
