"""Building a composite cube (``gee-crop cube --source``): every labelled pixel of a local stack composited
exactly as ``map`` composites it, block by block into a resumable Zarr store (:mod:`gee_crop.data.cube`).

The composite of a block is :meth:`LocalStackSource.read_tile` on the stack's own grid (cloud mask ->
5-day medians -> gap fill -> uint16 DN), so a model trained on the cube sees the values ``map`` feeds it.
Pixels without a label (after the inward buffer) or without a valid composite (gap-heavy) are masked: DN 0
and NO_CLASS. Blocks are written into ``OUT.parts/cube.zarr`` and recorded in ``OUT.parts/ledger.json``
(a rerun skips the blocks done); when every block is done the store is renamed to ``OUT`` at once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gee_crop.classes import NO_CLASS
from gee_crop.config import CUBE_BLOCK_PX
from gee_crop.data.cube import CubeInfo, create_store, finish_store, open_partial, write_block
from gee_crop.data.sampling import LabelledStack
from gee_crop.features.spec import FeatureSpec
from gee_crop.ledger import RunLedger
from gee_crop.mapping.overlap import run_overlapped
from gee_crop.mapping.sources import CompositeRequest, LocalStackSource
from gee_crop.mapping.tiling import OutputGrid, Tile, stack_grid
from gee_crop.season import SeasonSpan

#: The folder beside OUT holding the store being built and its ledger.
PARTS_SUFFIX = ".parts"


@dataclass(frozen=True)
class CubeSummary:
    """What a build wrote: the cube, its blocks (done now / kept from an earlier run) and pixels per class."""

    out: Path
    n_blocks: int
    n_resumed: int
    class_counts: dict[str, int]
    season: str


def block_name(block: int) -> str:
    return f"block_{block:06d}"


def cube_info(labelled: LabelledStack, year: int | None, block_px: int = CUBE_BLOCK_PX) -> CubeInfo:
    """The cube of a labelled local stack: the paper's season of ``year`` (None: the year its acquisitions
    cover best) at the stack's latitude, checked against its dates; the stack's grid; its class list."""
    stack = labelled.stack
    source = LocalStackSource(stack)
    spec = FeatureSpec(classes=labelled.class_list)
    latitude = float(source.footprint().centroid.y)
    year = source.infer_year(spec, latitude) if year is None else int(year)
    season = spec.season.span_at(year, latitude)
    source.check_season(spec, season, latitude)
    return info_on_grid(spec, year, season, stack_grid(stack), block_px, source.description)


def info_on_grid(
    spec: FeatureSpec, year: int, season: SeasonSpan, grid: OutputGrid, block_px: int, source: str
) -> CubeInfo:
    """The CubeInfo of a cube of ``spec`` (trained for ``year``) and ``season`` on ``grid``."""
    return CubeInfo(
        replace(spec, year_trained=int(year)),
        season,
        grid.crs,
        grid.transform,
        grid.height,
        grid.width,
        block_px,
        source,
    )


def composite_block(source: LocalStackSource, info: CubeInfo, classes: np.ndarray, block: int) -> tuple:
    """(dn (h, w, 10, n_bins) uint16, labels (h, w) uint8, class counts) of one block: ``map``'s composite of
    the pixels ``classes`` (H, W) labels, masked elsewhere; a block without a label is not composited."""
    rows, cols = info.block_window(block)
    labels = classes[rows, cols]
    h, w = labels.shape
    dn = np.zeros((h, w, len(info.spec.bands), info.n_bins), dtype=np.uint16)
    keep = labels != NO_CLASS
    if keep.any():
        grid = stack_grid(source.stack)
        composite = source.read_tile(Tile(rows.start, cols.start, h, w), CompositeRequest(grid, info.spec, info.season))
        keep &= composite.valid
        dn[keep] = composite.dn[keep]
    out_labels = np.where(keep, labels, NO_CLASS).astype(np.uint8)
    counts = np.bincount(out_labels[keep], minlength=len(info.spec.classes))
    return dn, out_labels, counts


#: What a cube build does with one block: (dn (h, w, 10, n_bins) uint16, labels (h, w) uint8, class counts).
BlockReader = Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def build_cube(
    labelled: LabelledStack,
    out: str | os.PathLike[str],
    *,
    year: int | None = None,
    block_px: int = CUBE_BLOCK_PX,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> CubeSummary:
    """Write the cube of ``labelled`` to ``out`` (see the module docstring); the caller holds ``out``'s lock.
    A rerun with the same inputs resumes from ``OUT.parts``; other inputs are refused by the ledger."""
    info = cube_info(labelled, year, block_px)
    source = LocalStackSource(labelled.stack)
    return write_cube(
        info,
        out,
        lambda block: composite_block(source, info, labelled.classes, block),
        name=labelled.stack.name,
        overwrite=overwrite,
        echo=echo,
    )


def write_cube(
    info: CubeInfo,
    out: str | os.PathLike[str],
    read_block: BlockReader,
    *,
    name: str,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
    in_flight: int | None = None,
) -> CubeSummary:
    """Every block of ``info`` read with ``read_block`` and written into ``OUT.parts/cube.zarr``, recorded in
    ``OUT.parts/ledger.json`` (a rerun skips the blocks done), then the store renamed to ``out`` at once.
    ``in_flight``: blocks read at once in I/O threads while this thread writes (a remote source,
    :func:`gee_crop.mapping.overlap.run_overlapped`); None: one after the other."""
    out = Path(out)
    parts = out.with_name(out.name + PARTS_SUFFIX)
    store_path = parts / "cube.zarr"
    ledger = RunLedger.open(parts / "ledger.json", info.to_attrs(), units="blocks", overwrite=overwrite)
    n_blocks = info.blocks[0] * info.blocks[1]
    names = [block_name(b) for b in range(n_blocks)]
    done = set(ledger.done(names)) if store_path.exists() else set()
    group = open_partial(store_path) if store_path.exists() else create_store(store_path, info)
    ledger.register(n for n in names if n not in done)
    echo(
        f"cube of {name}: season {info.season.start} to {info.season.end}, {n_blocks} blocks of "
        f"{info.block_px} px, {len(done)} done before"
    )

    def store(block: int, read: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[int, np.ndarray]:
        dn, labels, counts = read
        write_block(group, info, block, dn, labels)
        return block, counts

    def finished(report: tuple[int, np.ndarray]) -> None:
        ledger.finish(block_name(report[0]), counts=report[1].tolist())

    todo = [b for b, n in enumerate(names) if n not in done]
    if in_flight is None:
        for block in todo:
            finished(store(block, read_block(block)))
    else:
        run_overlapped(todo, read_block, store, in_flight=in_flight, workers=1, finished=finished)
    counts = np.array([ledger.units[n]["counts"] for n in names], dtype=np.int64)
    finish_store(group, counts)
    if out.exists():  # --overwrite: the previous cube goes only now that the new one is whole
        shutil.rmtree(out)
    os.replace(store_path, out)
    shutil.rmtree(parts, ignore_errors=True)
    totals = counts.sum(axis=0)
    return CubeSummary(
        out,
        n_blocks,
        len(done),
        {c: int(k) for c, k in zip(info.spec.classes, totals) if k},
        f"{info.season.start} to {info.season.end}",
    )
