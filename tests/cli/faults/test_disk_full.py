"""Items 2 and 7: a full disk or a kill never leaves a tile or a final output that looks complete, and
a rerun of the same command finishes the map (no --overwrite, no tile redone twice).

The full disk is real where it can be without root: RLIMIT_FSIZE in a subprocess makes every write past
the limit fail with EFBIG, which GDAL only prints ("_tiffWriteProc: File too large.") while it closes
a cut-short file. In the pipeline runs, the same GDAL behaviour is injected: the tile file is cut to
0 bytes on close and no error is raised."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rasterio

from gee_crop.errors import MapIncompleteError, OutputExistsError, OutputWriteError
from gee_crop.mapping import writers
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.mapping.tiling import Tile, stack_grid
from gee_crop.mapping.engine import FINISHED_KEY, run_map
from tests.cli.faults.conftest import FAST


def run_with_file_size_limit(limit_bytes: int, body: str) -> subprocess.CompletedProcess:
    """Run ``body`` (Python) in a subprocess whose files cannot grow past ``limit_bytes`` (a full disk)."""
    code = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill, as ENOSPC would be
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_a_tile_cut_short_by_a_full_disk_raises_and_keeps_no_final_name(tmp_path, patch_stack):
    grid = stack_grid(patch_stack)
    proc = run_with_file_size_limit(300, f"""
        import numpy as np
        from gee_crop.errors import OutputWriteError
        from gee_crop.mapping.tiling import OutputGrid, Tile
        from gee_crop.mapping.writers import write_tile
        grid = OutputGrid.from_dict({json.dumps(grid.to_dict())})
        bands = np.random.default_rng(0).integers(0, 7, (2, 64, 64)).astype(np.uint8)
        try:
            write_tile({str(tmp_path / 'tile.tif')!r}, bands, grid, Tile(0, 0, 64, 64))
        except OutputWriteError as exc:
            print("OutputWriteError:", exc)
    """)
    assert "File too large" in proc.stderr  # GDAL's own complaint, which it does not raise
    assert proc.stdout.startswith("OutputWriteError: could not write"), proc.stdout + proc.stderr
    assert "free disk space" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # neither the final name nor a temporary


def test_a_cog_cut_short_by_a_full_disk_raises_and_the_rerun_finishes(tmp_path, patch_stack, tiny_onnx):
    out = tmp_path / "map"
    first = run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, **FAST)
    reference = first.cog.read_bytes()
    for name in ("map.tif", "map.png", "areas.csv", "summary.json"):
        (out / name).unlink()
    ledger = json.loads((out / "tiles" / "manifest.json").read_text())
    ledger.pop(FINISHED_KEY)
    (out / "tiles" / "manifest.json").write_text(json.dumps(ledger))
    # the tiles are there; assembling the 6.8 KB COG (real GDAL) hits a 4 KB file-size limit
    tiles = {t: out / "tiles" / f"{t.name}.tif" for t in first.reports and [r.tile for r in first.reports]}
    proc = run_with_file_size_limit(4000, f"""
        from pathlib import Path
        from gee_crop.errors import OutputWriteError
        from gee_crop.mapping.tiling import OutputGrid, Tile
        from gee_crop.mapping.writers import assemble_cog
        grid = OutputGrid.from_dict({json.dumps(first.grid.to_dict())})
        tiles = {{Tile(*key): Path(path) for key, path in {[((t.row_off, t.col_off, t.height, t.width), str(p))
                                                             for t, p in tiles.items()]!r}}}
        try:
            assemble_cog(tiles, grid, {str(out / "map.tif")!r}, bands=[1, 2])
        except OutputWriteError as exc:
            print("OutputWriteError:", exc)
    """)
    assert proc.stdout.startswith("OutputWriteError: could not write"), proc.stdout + proc.stderr[-2000:]
    assert not (out / "map.tif").exists()
    again = run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, **FAST)  # no --overwrite
    assert again.n_tiles_resumed == 16 and again.cog.read_bytes() == reference


def test_gdal_that_cuts_a_tile_short_silently_fails_the_tile_not_the_map(tmp_path, monkeypatch, patch_stack,
                                                                        tiny_onnx):
    real_open = writers.rasterio.open
    cut = []

    class CutShortOnClose:
        """A GDAL dataset whose file ends up empty when it is closed, with no error (a full disk)."""

        def __init__(self, path, mode, **profile):
            self.path, self.dataset = path, real_open(path, mode, **profile)

        def __enter__(self):
            return self.dataset

        def __exit__(self, *exc):
            self.dataset.close()
            if len(cut) < 3:
                open(self.path, "wb").close()
                cut.append(self.path)

    def open_(path, mode="r", **kwargs):
        return CutShortOnClose(path, mode, **kwargs) if mode == "w" and "tile_" in str(path) else \
            real_open(path, mode, **kwargs)

    monkeypatch.setattr(writers.rasterio, "open", open_)
    out = tmp_path / "map"
    with pytest.raises(MapIncompleteError, match=r"3 of 16 tiles failed .*could not write.*disk full"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, **FAST)
    tiles = list((out / "tiles").glob("tile_*.tif"))
    assert len(tiles) == 13 and all(t.stat().st_size > 0 for t in tiles)
    ledger = json.loads((out / "tiles" / "manifest.json").read_text())["tiles"]
    assert sum(e["state"] == "done" for e in ledger.values()) == 13
    assert all(len(e["sha256"]) == 64 for e in ledger.values() if e["state"] == "done")
    monkeypatch.undo()
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, **FAST)
    assert result.n_tiles_resumed == 13


def test_a_kill_while_finishing_resumes_without_overwrite(tmp_path, monkeypatch, patch_stack, tiny_onnx):
    class Killed(BaseException):
        """Stands for SIGKILL after map.tif was written, before the preview."""

    def killed(*args, **kwargs):
        raise Killed

    out = tmp_path / "map"
    monkeypatch.setattr(writers, "write_preview", killed)
    with pytest.raises(Killed):
        run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=32, **FAST)
    assert (out / "map.tif").exists() and not (out / "summary.json").exists()
    monkeypatch.undo()
    tiles_before = {p.name: p.stat().st_mtime_ns for p in (out / "tiles").glob("tile_*.tif")}
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=32, **FAST)
    assert result.n_tiles_resumed == 4 and (out / "summary.json").exists() and (out / "map.png").exists()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "tiles").glob("tile_*.tif")} == tiles_before
    # a finished map is still refused without --overwrite
    with pytest.raises(OutputExistsError, match="map.tif exists; pass --overwrite"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=32, **FAST)


def test_a_full_disk_while_finishing_resumes_without_overwrite(tmp_path, monkeypatch, patch_stack, tiny_onnx):
    import errno

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "map"
    monkeypatch.setattr(writers, "write_area_csv", lambda rows, path: writers.write_atomic(path, disk_full))
    with pytest.raises(OutputWriteError, match="No space left on device"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=32, **FAST)
    assert (out / "map.tif").exists()
    monkeypatch.undo()
    result = run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=32, **FAST)
    assert result.n_tiles_resumed == 4 and result.areas_csv.exists()


def test_gdal_error_during_cog_assembly_is_one_line(tmp_path, monkeypatch, patch_stack, tiny_onnx):
    from rasterio._err import CPLE_AppDefinedError

    def gdal_fails(*args, **kwargs):
        raise CPLE_AppDefinedError(1, 1, "TIFFAppendToStrip:Write error at scanline 0")

    monkeypatch.setattr(writers.rasterio.shutil, "copy", gdal_fails)
    with pytest.raises(OutputWriteError, match=r"could not write .*map.tif \(TIFFAppendToStrip.*rerun the same"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32, **FAST)
