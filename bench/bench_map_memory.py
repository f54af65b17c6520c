"""Peak memory of a local map against its number of tiles, under the default ``--scheduler local``.

The real Flanders 2019 patch (64 x 64 px, 72 dates) is mapped twice with a tiny CropNet, each map in a
fresh child process: in 16 tiles of 16 px and in 4,096 tiles of 1 px. A sampler in this process reads
the resident memory of the child and all its descendants (the whole process tree) every 50 ms; the
row prints both peaks side by side and their ratio. Memory must stay flat in the number of tiles (the
stack is scattered to the Dask workers once; each task carries a tile and a key): target <= 1.5x.

    .venv/bin/python bench/bench_map_memory.py            # ~2-4 min on 2 cores
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time
from gee_crop.data.stacks import open_local_stack
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.mapping.engine import run_map
from gee_crop.data.demo import demo_patch_dir
started = time.perf_counter()
result = run_map(LocalStackSource(open_local_stack(demo_patch_dir())), sys.argv[1], sys.argv[2],
                 tile_size=int(sys.argv[3]), progress=False)  # the default scheduler: local
print(result.n_tiles, round(time.perf_counter() - started, 1), result.workers)
"""

TRAIN = """
import sys
from gee_crop.data.table import write_table
from gee_crop.training.trainer import train
sys.path.insert(0, sys.argv[2])
from tests.training.realdata import labelled_pixels
table = write_table(labelled_pixels(), sys.argv[1] + "/bel.parquet")
train(table, sys.argv[1] + "/run", epochs=2, widths=(8, 16, 32, 64), max_gap_bins=12, progress=False,
      echo=lambda _: None)
"""


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and all its descendants (0 once it is gone)."""
    total = 0
    try:
        for p in [process, *process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def peak_of(cmd: list[str]) -> tuple[int, str]:
    """(peak process-tree RSS in bytes, stdout) of a child process."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    process, peak, done = psutil.Process(child.pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(process))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"child failed:\n{err[-3000:]}")
    return peak[0], out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a model.pt or .onnx (default: train a tiny one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            subprocess.run([sys.executable, "-c", TRAIN, tmp, str(ROOT)], check=True, cwd=ROOT)
            model = Path(tmp) / "run" / "model.pt"
        rows = []
        for tile_size in (16, 1):
            peak, out = peak_of([sys.executable, "-c", CHILD, str(model), f"{tmp}/map_{tile_size}", str(tile_size)])
            n_tiles, seconds, workers = out.split()[-3:]
            rows.append((int(n_tiles), peak, float(seconds), int(workers)))
    (few, few_peak, few_s, w), (many, many_peak, many_s, _) = rows
    print(f"map peak memory, whole process tree, --scheduler local ({w} workers), patch 64 x 64 px x 72 dates:")
    print(f"  {few:,} tiles: {few_peak / 2**20:,.0f} MiB ({few_s:.0f} s) | {many:,} tiles: "
          f"{many_peak / 2**20:,.0f} MiB ({many_s:.0f} s) | ratio {many_peak / few_peak:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
