"""The paper's EMIT rows (experiments/paper_emit.yaml) run by the experiment runner on the only EMIT reflectance
here: a SYNTHETIC table built from REAL spectra. Not the paper's numbers: see docs/emit.md.

No labelled EMIT table exists in ../shared/data/emit (its PROVENANCE.md: no cropland label and no June/August
acquisition). This script builds one honestly from what is there and says what it is:

* spectra: the 100 pixels of the real EMIT L2A cube (``emit20250324t221005_10x10_l2a_layout.nc``, acquired
  2025-03-24, location unknown), the 244 kept bands;
* months (SYNTHETIC): June = the pixels as read, August = the same pixels 10 % darker;
* places (SYNTHETIC): a 10 x 10 grid of 0.001 degree at lon -90, lat 40 (no map info in the cube);
* classes (SYNTHETIC): ``vegetation`` where NDVI (804 / 670 nm) > 0.3, else ``other``.

Run from the repository root (resumable; the table is rewritten identically)::

    .venv/bin/python experiments/emit_synthetic.py --out runs/emit_synthetic            # 10 seeds, as the paper
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from gee_crop.data.emit_table import write_emit_table
from gee_crop.experiments import run_experiment
from gee_crop.experiments.config import load_experiment
from gee_crop.testing.paths import shared_data_dir
from gee_crop.testing.synthetic_emit import synthetic_emit_table

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = write_emit_table(synthetic_emit_table(shared_data_dir()), args.out / "USA_emit_synthetic.parquet")
    config = load_experiment(HERE / "paper_emit.yaml")
    usa = dataclasses.replace(config.datasets["USA"], path=table)
    config = dataclasses.replace(
        config,
        title="EMIT rows on a SYNTHETIC table (real EMIT spectra; synthetic months, places and NDVI classes)",
        datasets={"USA": usa},
        transfers=tuple(t for t in config.transfers if t.source == "USA"),
        seeds=tuple(range(args.seeds)),
    )
    run = run_experiment(config, args.out / "experiment")
    print((args.out / "experiment" / "table.md").read_text())
    print(f"{run.n_computed} computed, {run.n_skipped} reused")


if __name__ == "__main__":
    main()
