"""Can a composite cube feed CropNet? Cube read rate beside compositing cost and the training step's rate.

Prints, in one run, side by side (pixels per second):

  (a) compositing: LocalStackSource.read_tile on the real Flanders 2019 patch (mask -> 5-day medians ->
      gap fill -> uint16 DN), what `gee-crop cube --source` pays once per pixel when it builds a cube;
  (b) cube read: `gee-crop train CUBE`'s CubeStream (Zarr block reads, DN -> reflectance decoding, composite
      augmentation, batches of 256) over a cube made of the real demo cube's blocks repeated, with n workers;
  (c) the CropNet2D training step (forward + backward + Adam, batch 256) on --device, full precision
      (and bfloat16 autocast on CUDA, as cube training runs there);

and the ratio (b) / (c): the loader must outrun the step it feeds (target >= 5x on CPU).

    python bench/bench_loader.py                     # CPU, ~1 min on 2 cores
    python bench/bench_loader.py --device cuda --repeat 8 --workers 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gee_crop.data.cube import CubeInfo, CubeStore, create_store, finish_store, write_block
from gee_crop.data.demo import DEMO_BUFFER_M, demo_patch_dir
from gee_crop.data.sampling import stack_classes
from gee_crop.features.augment import AugmentConfig
from gee_crop.mapping.cube_build import build_cube, cube_info
from gee_crop.mapping.sources import CompositeRequest, LocalStackSource
from gee_crop.mapping.tiling import Tile, stack_grid
from gee_crop.models.cropnet import CropNet2D
from gee_crop.training.cube_data import CubeBlocks, CubePixels, CubeStream, EpochOrders

BATCH = 256


def compositing_rate(labelled) -> float:
    source = LocalStackSource(labelled.stack)
    info = cube_info(labelled, None)
    grid = stack_grid(labelled.stack)
    tile = Tile(0, 0, grid.height, grid.width)
    start = time.perf_counter()
    source.read_tile(tile, CompositeRequest(grid, info.spec, info.season))
    return tile.n_pixels / (time.perf_counter() - start)


def repeated_cube(demo: Path, out: Path, repeat: int) -> CubeStore:
    """A cube of ``repeat`` x ``repeat`` copies of the demo cube's one 64 px block (real composites)."""
    small = CubeStore(demo)
    dn, labels = small.block(0)
    b = small.info.block_px
    info = CubeInfo(
        small.info.spec,
        small.info.season,
        small.info.crs,
        small.info.transform,
        b * repeat,
        b * repeat,
        b,
        "bench",
    )
    group = create_store(out, info)
    for block in range(repeat * repeat):
        write_block(group, info, block, dn, labels)
    finish_store(group, np.tile(small.block_counts[0], (repeat * repeat, 1)))
    return CubeStore(out)


def loader_rate(store: CubeStore, workers: int) -> tuple[float, int]:
    pixels = CubePixels.of(store, np.arange(int(np.prod(store.info.blocks))))
    stream = CubeStream(
        CubeBlocks(store, store.info.spec, AugmentConfig()), EpochOrders(pixels, 0, True), BATCH, workers
    )
    start, n = time.perf_counter(), 0
    for _, y in stream.epoch(0):
        n += len(y)
    return n / (time.perf_counter() - start), n


def step_rate(device: torch.device, n_bins: int, autocast: bool, steps: int) -> float:
    model = CropNet2D(n_bins=n_bins).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(BATCH, 1, 10, n_bins, device=device)
    y = torch.randint(0, 7, (BATCH,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    step()  # warm-up (cuDNN autotune, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device of the training step (cpu, cuda)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts")
    parser.add_argument("--repeat", type=int, default=4, help="cube side in demo blocks (4: 256 x 256 px)")
    parser.add_argument("--steps", type=int, default=5, help="training steps timed")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device} ({name}); torch {torch.__version__}; {torch.get_num_threads()} CPU threads")
    labelled = stack_classes(demo_patch_dir(), None, DEMO_BUFFER_M)
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo.zarr"
        build_cube(labelled, demo, echo=lambda _: None)
        store = repeated_cube(demo, Path(tmp) / "bench.zarr", args.repeat)
        rows = [("(a) compositing raw -> DN (cube build)", compositing_rate(labelled), "")]
        for workers in args.workers:
            rate, n = loader_rate(store, workers)
            rows.append((f"(b) cube read + decode + augment, {workers} workers", rate, f"{n} px"))
    n_bins = store.info.n_bins
    step = step_rate(device, n_bins, False, args.steps)
    rows.append((f"(c) CropNet2D train step on {device}, fp32", step, f"batch {BATCH}"))
    if device.type == "cuda":
        rows.append((f"(c) CropNet2D train step on {device}, bf16 autocast", step_rate(device, n_bins, True, 50), ""))
    for label, rate, note in rows:
        print(f"{label:<55} {rate:>12,.0f} px/s  {note}")
    best_loader = max(r for label, r, _ in rows if label.startswith("(b)"))
    fastest_step = max(r for label, r, _ in rows if label.startswith("(c)"))
    verdict = "keeps up" if best_loader >= fastest_step else "does NOT keep up"
    print(f"loader / step = {best_loader / fastest_step:,.1f}x ({verdict}; target >= 5x on CPU)")


if __name__ == "__main__":
    main()
