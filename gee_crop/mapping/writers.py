"""Map outputs: per-tile GeoTIFFs written atomically, assembled into Cloud-Optimized GeoTIFFs,
plus a PNG preview with a legend and a per-class area table (hectares).

Tile files hold all bands (uint8, nodata classes.NO_CLASS): 1 ``class`` (index into the model's class
list, the contract's ``classes``: the paper's seven by default),
2 ``confidence`` (max class probability, percent 0-100), then optionally one ``p_<class>`` band per
class (probability, percent). ``map.tif`` gets bands 1-2 (class with an embedded colour table and
class names in its tags), ``probabilities.tif`` the per-class bands.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import rasterio
import rasterio._err
import rasterio.errors
import rasterio.shutil
from rasterio.windows import Window

from gee_crop.atomic import atomic_write, temporary_path
from gee_crop.classes import CLASSES, NO_CLASS, class_color, class_rgba, class_rgba_table
from gee_crop.mapping.tiling import OutputGrid, Tile
from gee_crop.outputs import write_error

PERCENT = 100
COG_BLOCK = 512
PREVIEW_MAX_PX = 1024


def band_names(probabilities: bool, classes: tuple[str, ...] = CLASSES) -> list[str]:
    """Band descriptions of a map file, in order."""
    return ["class", "confidence"] + ([f"p_{c}" for c in classes] if probabilities else [])


#: What a failed GDAL write raises: rasterio's errors, GDAL's own (CPLE_*), and OS errors.
GDAL_WRITE_ERRORS = (OSError, rasterio.errors.RasterioError, rasterio._err.CPLE_BaseError)


def write_atomic(path: Path, write) -> Path:
    """``gee_crop.atomic.atomic_write`` with disk-full / permission / GDAL failures as a user error."""
    try:
        return atomic_write(path, write)
    except GDAL_WRITE_ERRORS as exc:
        raise write_error(path, exc, verb="could not write", hint=" (finished tiles are kept)") from None


def verify_raster(path: Path, expected: np.ndarray) -> None:
    """Raise OSError unless ``path`` is a non-empty GeoTIFF that opens and reads back ``expected``
    ((bands, h, w)) exactly. GDAL may only log a failed write (a full disk: libtiff prints "No space
    left on device" and the file is cut short), so every tile is read back before it counts as done."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise OSError(f"GDAL wrote an empty file (disk full?): {path.name}")
    try:
        with rasterio.open(path) as src:
            values = src.read()
    except (rasterio.errors.RasterioError, rasterio._err.CPLE_BaseError) as exc:
        raise OSError(f"the written file does not open ({str(exc).splitlines()[0]}; disk full?)") from None
    if values.shape != expected.shape or not np.array_equal(values, expected):
        raise OSError(f"the written file does not read back what was written ({size} bytes; disk full?)")


def encode_bands(probabilities: np.ndarray, valid: np.ndarray, with_probabilities: bool) -> np.ndarray:
    """(bands, h, w) uint8 map bands from (h, w, n_classes) probabilities of the pixels where ``valid``."""
    h, w = valid.shape
    n_bands = 2 + (probabilities.shape[-1] if with_probabilities else 0)
    out = np.full((n_bands, h, w), NO_CLASS, dtype=np.uint8)
    p = probabilities[valid]
    out[0][valid] = np.argmax(p, axis=1).astype(np.uint8)
    out[1][valid] = np.rint(p.max(axis=1) * PERCENT).astype(np.uint8)
    if with_probabilities:
        out[2:, valid] = np.rint(p.T * PERCENT).astype(np.uint8)
    return out


def write_tile(path: str | os.PathLike, bands: np.ndarray, grid: OutputGrid, tile: Tile) -> Path:
    """Write one tile's (bands, h, w) uint8 map atomically as a GeoTIFF, verified by reading it back
    (:func:`verify_raster`); OutputWriteError when it cannot be written whole."""
    profile = {
        "driver": "GTiff",
        "width": tile.width,
        "height": tile.height,
        "count": bands.shape[0],
        "dtype": "uint8",
        "crs": grid.crs,
        "transform": rasterio.Affine(*tile.transform(grid)),
        "nodata": NO_CLASS,
        "compress": "deflate",
    }

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(bands)
        verify_raster(tmp, bands)  # before the rename: a cut-short tile never gets the final name

    return write_atomic(Path(path), write)


def colormap(classes: tuple[str, ...] = CLASSES) -> dict[int, tuple[int, int, int, int]]:
    """Colour table of the class band (classes.class_rgba_table): the classes, NO_CLASS transparent."""
    table = class_rgba_table(classes)
    colours = {}
    for i in (*range(len(classes)), NO_CLASS):
        red, green, blue, alpha = (int(v) for v in table[i])  # an (n, 4) RGBA table
        colours[int(i)] = (red, green, blue, alpha)
    return colours


def assemble_cog(
    tile_paths: dict[Tile, Path],
    grid: OutputGrid,
    out_path: str | os.PathLike,
    *,
    bands: list[int],
    tags: dict | None = None,
    classes: tuple[str, ...] = CLASSES,
) -> np.ndarray:
    """Mosaic bands ``bands`` (1-based, of the tile files) into one COG (tiled, deflate, nearest
    overviews); returns (n_classes,) class pixel counts when band 1 (class) is among them, else zeros.

    The mosaic is streamed tile by tile into a temporary tiled GeoTIFF, which GDAL's COG driver
    then copies with overviews, so memory stays at one tile. The class band gets the colour table
    and the class names; GeoTIFF embeds a colour table only in files of one or two bands, which is
    why probabilities go to a file of their own.
    """
    out_path = Path(out_path)
    names = [band_names(True, classes)[b - 1] for b in bands]
    counts = np.zeros(len(classes), dtype=np.int64)
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": len(bands),
        "dtype": "uint8",
        "crs": grid.crs,
        "transform": grid.affine,
        "nodata": NO_CLASS,
        "tiled": True,
        "blockxsize": COG_BLOCK,
        "blockysize": COG_BLOCK,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }
    mosaic = temporary_path(out_path.with_name(out_path.stem + "_mosaic.tif"))

    def write(tmp: Path) -> None:
        try:
            with rasterio.open(mosaic, "w", **profile) as dst:
                for tile, path in tile_paths.items():
                    with rasterio.open(path) as src:
                        values = src.read(bands)
                    dst.write(values, window=Window(tile.col_off, tile.row_off, tile.width, tile.height))
                    if bands[0] == 1:
                        counts[:] += np.bincount(values[0].ravel(), minlength=256)[: len(classes)]
                for i, name in enumerate(names, start=1):
                    dst.set_band_description(i, name)
                    if name == "class":
                        dst.write_colormap(i, colormap(classes))
                        dst.update_tags(
                            i, class_names=json.dumps(list(classes)), **{f"class_{k}": c for k, c in enumerate(classes)}
                        )
                    else:
                        dst.update_tags(
                            i,
                            units="percent",
                            meaning="max class probability" if name == "confidence" else f"probability of {name[2:]}",
                        )
                dst.update_tags(**(tags or {}))
            rasterio.shutil.copy(
                mosaic,
                tmp,
                driver="COG",
                compress="deflate",
                blocksize=COG_BLOCK,
                overview_resampling="nearest",
                BIGTIFF="IF_SAFER",
            )
            _verify_cog(tmp, grid, len(bands), counts if bands[0] == 1 else None)
        finally:
            mosaic.unlink(missing_ok=True)

    write_atomic(out_path, write)
    return counts


def _verify_cog(path: Path, grid: OutputGrid, count: int, class_counts: np.ndarray | None) -> None:
    """Raise OSError unless the COG opens with the grid's size and band count and (for the class band)
    reads back the class pixel counts the tiles gave, block by block (a cut-short file fails here)."""
    if not path.exists() or path.stat().st_size == 0:
        raise OSError(f"GDAL wrote an empty file (disk full?): {path.name}")
    try:
        with rasterio.open(path) as src:
            if (src.width, src.height, src.count) != (grid.width, grid.height, count):
                raise OSError(
                    f"the written COG is {src.width} x {src.height} x {src.count}, not "
                    f"{grid.width} x {grid.height} x {count}"
                )
            if class_counts is not None:
                found = np.zeros(len(class_counts), dtype=np.int64)
                for _, window in src.block_windows(1):
                    found += np.bincount(src.read(1, window=window).ravel(), minlength=256)[: len(class_counts)]
                if not np.array_equal(found, class_counts):
                    raise OSError("the written COG does not read back the mapped pixels (disk full?)")
    except (rasterio.errors.RasterioError, rasterio._err.CPLE_BaseError) as exc:
        raise OSError(f"the written COG does not read back ({str(exc).splitlines()[0]}; disk full?)") from None


def pixel_area_m2(grid: OutputGrid) -> float:
    """Area of one pixel in m² (projected CRS in metres; geographic CRS: at the grid's mid latitude)."""
    from pyproj import CRS

    crs = CRS.from_user_input(grid.crs)
    a, e = abs(grid.transform[0]), abs(grid.transform[4])
    if crs.is_geographic:
        # a degree of longitude shrinks with cos(latitude); spherical earth, good to ~0.5 %
        lat = np.radians(grid.transform[5] - e * grid.height / 2)
        metres_per_degree = np.pi * 6_371_008.8 / 180
        return float(a * e * metres_per_degree**2 * np.cos(lat))
    return float(a * e * crs.axis_info[0].unit_conversion_factor ** 2)


def area_table(counts: np.ndarray, grid: OutputGrid, classes: tuple[str, ...] = CLASSES) -> list[dict]:
    """Per-class rows {class, pixels, hectares, percent} of the mapped pixels."""
    hectares = counts * pixel_area_m2(grid) / 1e4
    total = max(int(counts.sum()), 1)
    return [
        {"class": c, "pixels": int(n), "hectares": round(float(ha), 4), "percent": round(100.0 * int(n) / total, 3)}
        for c, n, ha in zip(classes, counts, hectares)
    ]


def write_area_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["class", "pixels", "hectares", "percent"])
            writer.writeheader()
            writer.writerows(rows)

    return write_atomic(Path(path), write)


def write_preview(
    cog_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    title: str = "",
    reference: np.ndarray | None = None,
    classes: tuple[str, ...] = CLASSES,
) -> Path:
    """PNG of the class band (decimated to <= 1024 px a side) with a legend; the reference labels
    ((H, W) class indices, NO_CLASS unlabelled) are drawn beside it when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    with rasterio.open(cog_path) as src:
        factor = max(1, int(np.ceil(max(src.width, src.height) / PREVIEW_MAX_PX)))
        mapped = src.read(
            1,
            out_shape=(max(1, src.height // factor), max(1, src.width // factor)),
            resampling=rasterio.enums.Resampling.nearest,
        )
    panels = [("map", mapped)] + ([("reference labels", reference)] if reference is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 2, 5), squeeze=False)
    for ax, (name, image) in zip(axes[0], panels):
        ax.imshow(class_rgba(image, classes), interpolation="nearest")
        ax.set_title(name)
        ax.set_axis_off()
    present = np.unique(np.concatenate([p.ravel() for _, p in panels]))
    handles = [Patch(color=class_color(c, classes), label=c) for i, c in enumerate(classes) if i in present]
    fig.legend(handles=handles, loc="center right", frameon=False)
    fig.suptitle(title)
    fig.subplots_adjust(right=0.82)

    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=100, format="png")

    try:
        return write_atomic(Path(png_path), write)
    finally:
        plt.close(fig)
