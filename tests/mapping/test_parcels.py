"""``gee-crop map --parcels``: the per-parcel table of a map of the real demo patch.

The parcels are derived from the patch's real label raster: each connected region of one class
(``label_raster_parcels``: rasterio.features.shapes over ``demo_patch().classes``, 4-connected) is one
polygon with a ``parcel_id`` and its ``label`` (class name). They are drawn along pixel edges, so the half-pixel erosion leaves exactly
the region's pixels whose four neighbours are in the region: an independent count with scipy.
"""
from __future__ import annotations

import csv

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import rasterio.features
import shapely
from click.testing import CliRunner
from scipy import ndimage

from gee_crop import cli
from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.data.demo import demo_patch
from gee_crop.data.regions import reproject_geometry
from gee_crop.mapping.parcels import label_raster_parcels, map_parcels, read_parcels


def _write(path, geoms, ids, labels, crs):
    pyogrio.raw.write(
        str(path), geometry=np.array([shapely.to_wkb(g) for g in geoms], dtype=object),
        field_data=[np.asarray(ids, dtype=np.int64), np.array(labels, dtype=object)], fields=["parcel_id", "label"],
        crs=crs, geometry_type="Polygon" if all(g.geom_type == "Polygon" for g in geoms) else "Unknown",
        driver="GPKG",
    )
    return path


@pytest.fixture(scope="module")
def label_parcels(tmp_path_factory):
    """(GeoPackage path, polygons, labels, per-parcel pixel masks) from the real label raster."""
    patch = demo_patch()
    classes = patch.classes
    transform = rasterio.Affine(*patch.transform)
    parcels = label_raster_parcels(classes, patch.transform, patch.crs, CLASSES)
    geoms, labels, masks = list(parcels.geometries), [p["label"] for p in parcels.properties], []
    for poly, label in zip(geoms, labels):
        mask = rasterio.features.rasterize([(poly, 1)], out_shape=classes.shape, transform=transform).astype(bool)
        masks.append(mask & (classes == CLASSES.index(label)))
    path = _write(tmp_path_factory.mktemp("parcels") / "parcels.gpkg", geoms, range(1, len(geoms) + 1), labels,
                  patch.crs)
    return path, geoms, labels, masks, patch.crs


@pytest.fixture(scope="module")
def mapped(tmp_path_factory, label_parcels, patch_dir):
    """The demo patch mapped with the shipped default model (tempcnn-weu), --probabilities and --parcels."""
    out = tmp_path_factory.mktemp("map") / "map"
    result = CliRunner().invoke(cli.main, ["map", "--source", str(patch_dir), "--out", str(out), "--parcels",
                                           str(label_parcels[0]), "--probabilities", "--scheduler", "synchronous",
                                           "--quiet"])
    assert result.exit_code == 0, result.output
    with open(out / "parcels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return out, rows, result.output


def test_one_row_per_parcel_with_its_fields(mapped, label_parcels):
    out, rows, output = mapped
    _, geoms, labels, _, _ = label_parcels
    assert f"wrote {out / 'parcels.csv'}" in output and f"wrote {out / 'parcels.gpkg'}" in output
    assert len(rows) == len(geoms) > 10
    assert [int(r["parcel_id"]) for r in rows] == list(range(1, len(geoms) + 1))
    assert [r["label"] for r in rows] == labels
    assert list(rows[0])[:3] == ["parcel_id", "label", "feature"]
    meta, _, wkb, fields = pyogrio.raw.read(str(out / "parcels.gpkg"))
    assert len(wkb) == len(geoms) and "class" in list(meta["fields"]) and "EPSG" in meta["crs"]
    assert list(fields[list(meta["fields"]).index("parcel_id")]) == list(range(1, len(geoms) + 1))


def test_pixel_counts_equal_an_independent_count(mapped, label_parcels):
    out, rows, _ = mapped
    _, _, _, masks, _ = label_parcels
    with rasterio.open(out / "map.tif") as src:
        band = src.read(1)
    cross = ndimage.generate_binary_structure(2, 1)
    checked_interior = checked_none = 0
    for row, mask in zip(rows, masks):
        interior = ndimage.binary_erosion(mask, cross, border_value=0)
        expected = interior if interior.any() else mask
        assert int(row["n_pixels"]) == int((expected & (band != NO_CLASS)).sum()), row
        assert row["no_interior"] == str(not interior.any())
        if interior.any():
            values = band[expected & (band != NO_CLASS)]
            names = _classes(out)
            assert row["class"] == names[np.bincount(values, minlength=len(names)).argmax()]
            checked_interior += 1
        else:
            checked_none += 1
        assert row["small"] == str(int(row["n_pixels"]) < 4)
        assert row["mostly_outside"] == "False" and row["overlaps"] == "False"
    assert checked_interior > 5 and checked_none >= 1


def _classes(out):
    import json

    with rasterio.open(out / "map.tif") as src:
        return json.loads(src.tags(1)["class_names"])


def test_parcel_level_accuracy(mapped, label_parcels):
    out, rows, _ = mapped
    with rasterio.open(out / "map.tif") as src:
        band = src.read(1)
    names = _classes(out)
    labels = demo_patch().classes
    both = (labels != NO_CLASS) & (band != NO_CLASS)
    pixel_oa = float((np.array(names)[band[both]] == np.array(CLASSES)[labels[both]]).mean())
    counted = [r for r in rows if r["class"] and r["small"] == "False"]
    parcel_oa = np.mean([r["class"] == r["label"] for r in counted])
    weighted = sum(int(r["n_pixels"]) * (r["class"] == r["label"]) for r in counted) / sum(int(r["n_pixels"]) for r in counted)
    print(f"pixel OA {pixel_oa:.4f}; parcel OA {parcel_oa:.4f} over {len(counted)} parcels of >= 4 px "
          f"(pixel-weighted {weighted:.4f}); class_by_probability agrees on "
          f"{np.mean([r['class'] == r['class_by_probability'] for r in counted]):.3f}")
    assert 0.5 < pixel_oa <= 1 and 0.5 < parcel_oa <= 1
    assert weighted >= pixel_oa - 0.05  # majority voting inside eroded parcels is not worse than pixels


def test_parcels_in_another_crs_give_the_same_table(mapped, label_parcels, tmp_path):
    out, rows, _ = mapped
    _, geoms, labels, _, crs = label_parcels
    mercator = [reproject_geometry(g, crs, "EPSG:3857") for g in geoms]
    path = _write(tmp_path / "p3857.gpkg", mercator, range(1, len(geoms) + 1), labels, "EPSG:3857")
    from gee_crop.mapping.tiling import OutputGrid

    with rasterio.open(out / "map.tif") as src:
        grid = OutputGrid(src.crs.to_string(), tuple(src.transform)[:6], src.width, src.height)
    again_dir = tmp_path / "again"
    again_dir.mkdir()
    (again_dir / "map.tif").write_bytes((out / "map.tif").read_bytes())
    _, again = map_parcels(read_parcels(path), grid, again_dir / "map.tif", out / "probabilities.tif")
    keys = ["class", "class_by_probability", "share", "mean_confidence", "n_pixels", "no_interior", "small"]
    assert [[str(r[k]) for k in keys] for r in again] == [[r[k] for k in keys] for r in rows]
    assert (again_dir / "parcels.csv").is_file() and (again_dir / "parcels.gpkg").is_file()


def _grid(out):
    from gee_crop.mapping.tiling import OutputGrid

    with rasterio.open(out / "map.tif") as src:
        return OutputGrid(src.crs.to_string(), tuple(src.transform)[:6], src.width, src.height)


def _box(xs, ys):
    return shapely.box(min(xs), min(ys), max(xs), max(ys))


def test_flags_and_the_confidence_fallback(mapped, label_parcels, tmp_path):
    """Overlapping, half-outside and tiny parcels on the real map (shapes made from the label polygons)."""
    out, rows, _ = mapped
    _, geoms, labels, _, crs = label_parcels
    big = int(np.argmax([int(r["n_pixels"]) for r in rows]))
    x0, y0, x1, y1 = geoms[big].bounds
    grid = _grid(out)
    gx0, gy0 = grid.transform[2], grid.transform[5]
    corners = [(gx0, gy0), (gx0 + 640, gy0), (gx0, gy0 - 640), (gx0 + 640, gy0 - 640)]
    # at a corner of the map the big parcel does not reach: a 300 x 100 m box, 5/6 of it off the map, and a
    # 5 m box inside the map, apart from it
    half_out, tiny = next(
        (
            _box((x - 200 * sx, x + 100 * sx), (y - 50, y + 50)),
            _box((x + 150 * sx, x + 155 * sx), (y - 15 * sy, y - 10 * sy)),
        )
        for x, y in corners
        for sx, sy in [(1 if x == gx0 else -1, 1 if y == gy0 else -1)]
        if not _box((x - 200 * sx, x + 160 * sx), (y - 50, y + 50)).intersects(geoms[big])
    )
    path = _write(tmp_path / "flags.gpkg", [geoms[big], geoms[big], half_out, tiny], [1, 2, 3, 4], ["a"] * 4, crs)
    (tmp_path / "map.tif").write_bytes((out / "map.tif").read_bytes())
    _, got = map_parcels(read_parcels(path), grid, tmp_path / "map.tif", None)
    assert got[0]["overlaps"] and got[1]["overlaps"] and not got[2]["overlaps"]
    assert got[0]["n_pixels"] == got[1]["n_pixels"] == int(rows[big]["n_pixels"])  # a pixel votes for each
    assert got[2]["mostly_outside"] and not got[0]["mostly_outside"]
    assert got[3]["no_interior"] and got[3]["small"] and got[3]["n_pixels"] <= 1
    # without probabilities.tif, class_by_probability is the class of highest mean confidence
    assert got[0]["class_by_probability"] == rows[big]["class_by_probability"]


@pytest.mark.parametrize("case", ["outside", "empty", "points"])
def test_bad_parcel_files_are_one_line_errors(case, label_parcels, patch_dir, tmp_path):
    _, geoms, labels, _, crs = label_parcels
    if case == "outside":
        path = _write(tmp_path / "far.gpkg", [shapely.affinity.translate(g, 100_000) for g in geoms[:3]],
                      [1, 2, 3], labels[:3], crs)
        expected = "lies on the map's region"
    elif case == "empty":
        path = _write(tmp_path / "empty.gpkg", [geoms[0], shapely.Polygon()], [1, 2], labels[:2], crs)
        expected = "empty or missing geometry (feature 2)"
    else:
        path = _write(tmp_path / "points.gpkg", [g.centroid for g in geoms[:3]], [1, 2, 3], labels[:3], crs)
        expected = "holds no polygon (Point geometries"
    result = CliRunner().invoke(cli.main, ["map", "--source", str(patch_dir), "--out", str(tmp_path / "m"),
                                           "--parcels", str(path), "--scheduler", "synchronous", "--quiet"])
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()
    assert last[-1].startswith("Error: ") and expected in last[-1], result.output
    assert not (tmp_path / "m" / "map.tif").exists()  # refused before mapping
