"""Issue 26, class 1: vector labels are read through GDAL/OGR (pyogrio), never by hand. File names with
``#``, ``%20``, ``?`` open exactly that file and leave nothing beside it; a layer name with quotes is only a
name; a layer that is an endless SQL view stops at the feature bound; each kind of broken file (a bad
geometry blob, a 2-point ring, NaN or string coordinates, a truncated .shp, a PNG, several layers, no
feature) is a one-line error naming the fix; FlatGeobuf, KML and GeoParquet read like the GeoPackage.

Real parcels (Malawi 2023, Flanders 2019 patch) throughout; the broken files are those parcels with one
feature spoiled, and the recursive-CTE view is synthetic (said where it is built)."""
from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyogrio.raw
import pytest
import shapely
from click.testing import CliRunner

from gee_crop.classes import Legend, parse_class_list
from gee_crop.cli import main
from gee_crop.data import vectors
from gee_crop.data.table import read_table
from gee_crop.data.vectors import class_counts, read_label_features
from gee_crop.errors import VectorFileError
from tests.data.labels.conftest import flanders_fields, flanders_patch  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
#: Malawi's crops (PROVENANCE.md: soy 75, mixture 72, maize 40, oilseed 32, tobacco 26, groundnuts 10, ...)
MALAWI_CLASSES = "Maize, soy soybeans, groundnuts, tobacco, other"
MALAWI_COUNTS = {"maize": 40, "soy_soybeans": 75, "groundnuts": 10, "tobacco": 26, "other": 136}


def legend() -> Legend:
    return Legend.for_classes(parse_class_list(MALAWI_CLASSES))


@pytest.fixture(scope="module")
def malawi(shared_data):
    """The real Malawi parcels: (path, meta, WKB, field arrays) as GDAL reads them."""
    path = shared_data / "malawi-parcels" / "malawi_extraction_polygons.gpkg"
    meta, _, wkb, fields = pyogrio.raw.read(path)
    return path, meta, wkb, fields


def write(malawi, path: Path, wkb=None, **kwargs) -> Path:
    """The Malawi parcels (or ``wkb`` in their place) written by GDAL to ``path``."""
    _, meta, original, fields = malawi
    options = {"driver": "GPKG", "layer_options": {"SPATIAL_INDEX": "NO"}} if path.suffix == ".gpkg" else {}
    pyogrio.raw.write(path, original if wkb is None else wkb, fields, meta["fields"],
                      geometry_type="MultiPolygon", crs=meta["crs"], **{**options, **kwargs})
    return path


def spoil_gpkg_feature(path: Path, fid: int, blob: bytes) -> None:
    """Put ``blob`` as feature ``fid``'s geometry (a GeoPackage written without a spatial index)."""
    db = sqlite3.connect(path)
    db.execute("UPDATE labels SET geom = ? WHERE fid = ?", (blob, fid))
    db.commit()
    db.close()


def sample(*args):
    return CliRunner().invoke(main, ["sample", *map(str, args)])


def one_line_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def refused_by_sample(path: Path, message: str, tmp_path: Path, patch_dir: Path) -> None:
    """``sample --source PATCH --labels path`` refuses in one line and writes no table."""
    out = tmp_path / "own.parquet"
    one_line_error(sample("--source", patch_dir, "--labels", path, "--label-field", "croptype", "--classes",
                          "maize,other", "--out", out), message)
    assert not out.exists()


# ------------------------------------------------------------------ file names (named in the issue)

@pytest.mark.parametrize("name", ["labels#v2.gpkg", "labels?mode=rw.gpkg"])
def test_a_hash_or_question_mark_in_the_name_reads_that_file_and_leaves_nothing_beside_it(malawi, tmp_path, name):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / name
    path.write_bytes(malawi[0].read_bytes())
    features = read_label_features(path, "croptype", legend())
    assert class_counts(features) == MALAWI_COUNTS
    assert sorted(os.listdir(folder)) == [name]  # no stray "labels" file cut at the '#' or '?'


def test_a_percent_20_name_reads_itself_not_the_name_with_a_space(malawi, tmp_path, shared_data):
    (tmp_path / "a b.gpkg").write_bytes((shared_data / "label-vectors" /
                                         "eur_2021_demo_wc_extraction_dataset.gpkg").read_bytes())
    (tmp_path / "a%20b.gpkg").write_bytes(malawi[0].read_bytes())
    features = read_label_features(tmp_path / "a%20b.gpkg", "croptype", legend())
    assert class_counts(features) == MALAWI_COUNTS and features.source.endswith("a%20b.gpkg")


def test_a_layer_name_with_quotes_is_only_a_name(malawi, tmp_path):
    path = write(malawi, tmp_path / "quoted.gpkg", layer='it\'s "labels"; DROP TABLE gpkg_contents; --')
    before = path.read_bytes()
    features = read_label_features(path, "croptype", legend())
    assert class_counts(features) == MALAWI_COUNTS
    assert path.read_bytes() == before and pyogrio.list_layers(path)[0][0].startswith("it's")


# ------------------------------------------------------------------ an endless view (named in the issue)

def endless_view_gpkg(malawi, path: Path) -> Path:
    """Synthetic: the Malawi parcels' GeoPackage (about 100 KB) whose only feature layer is a view over an
    endless ``WITH RECURSIVE`` CTE that repeats the first parcel for ever."""
    write(malawi, path, layer="labels")
    db = sqlite3.connect(path)
    db.execute("CREATE VIEW endless AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT n.i AS fid, (SELECT geom FROM labels LIMIT 1) AS geom, 'maize' AS croptype FROM n")
    db.execute("UPDATE gpkg_contents SET table_name = 'endless', identifier = 'endless' WHERE table_name = 'labels'")
    db.execute("UPDATE gpkg_geometry_columns SET table_name = 'endless' WHERE table_name = 'labels'")
    db.commit()
    db.close()
    return path


def test_a_layer_that_is_an_endless_recursive_view_stops_at_the_feature_bound(malawi, tmp_path, patch_dir):
    """The real command in a child process held to 2 GB and 120 s: before, it grew at 250 MB/s until killed;
    now GDAL reads one feature past the bound (about 1 s) and the command refuses in one line."""
    path = endless_view_gpkg(malawi, tmp_path / "endless.gpkg")
    assert 50_000 < path.stat().st_size < 400_000

    def two_gb():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    out = tmp_path / "own.parquet"
    proc = subprocess.run(
        [sys.executable, "-c", "from gee_crop.cli import main; main()", "sample", "--source", str(patch_dir),
         "--labels", str(path), "--label-field", "croptype", "--classes", "maize,other", "--out", str(out)],
        capture_output=True, text=True, timeout=120, preexec_fn=two_gb, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.count("Error:") + proc.stdout.count("Error:") == 1 and "Traceback" not in proc.stderr
    assert "holds more than 250,000 features" in proc.stderr + proc.stdout and "ogr2ogr -spat" in proc.stderr
    assert not out.exists()


# ------------------------------------------------------------------ broken geometries (named in the issue)

def test_a_bad_geometry_blob_is_one_line(malawi, tmp_path, patch_dir):
    path = write(malawi, tmp_path / "blob.gpkg", layer="labels")
    spoil_gpkg_feature(path, 7, b"GP\x00\x01\xe6\x10\x00\x00not a WKB geometry")
    refused_by_sample(path, "has a feature GDAL cannot read (Unable to read geometry); repair or remove it",
                      tmp_path, patch_dir)


def ring_of(points) -> bytes:
    """WKB (little-endian) of a polygon whose one ring is ``points``, as it is, unchecked."""
    body = len(points).to_bytes(4, "little") + np.asarray(points, "<f8").tobytes()
    return b"\x01" + (3).to_bytes(4, "little") + (1).to_bytes(4, "little") + body


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb"])
def test_a_two_point_ring_is_one_line(malawi, tmp_path, patch_dir, suffix):
    wkb = malawi[2].copy()
    wkb[4] = ring_of([[33.8, -12.9], [33.81, -12.9]])
    path = write(malawi, tmp_path / f"ring{suffix}", wkb, layer="labels")
    refused_by_sample(path, "has 1 feature(s) whose geometry cannot be built (feature ", tmp_path, patch_dir)
    # (feature 5 of the GeoPackage; FlatGeobuf stores the features in its spatial index's order)


def malawi_geojson(malawi, path: Path, spoil) -> Path:
    """The Malawi parcels as GeoJSON text, feature 3's first coordinate replaced by ``spoil`` (JSON text)."""
    write(malawi, path, driver="GeoJSON")
    obj = json.loads(path.read_text())
    geometry = obj["features"][2]["geometry"]
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
    ring[1] = ["SPOIL", -12.9]
    path.write_text(json.dumps(obj).replace('["SPOIL", -12.9]', spoil))
    return path


@pytest.mark.parametrize("spoil, message", [
    ("[NaN, -12.9]", "has 1 feature(s) with NaN or infinite coordinates (feature 3); fix or remove them"),
    ('["33.8", "-12.9"]', "has a feature GDAL cannot read (OGRGeoJSONGetCoordinate(): invalid"),
    ('["east", "north"]', "has a feature GDAL cannot read (OGRGeoJSONGetCoordinate(): invalid"),
])
def test_nan_or_string_coordinates_are_one_line(malawi, tmp_path, patch_dir, spoil, message):
    refused_by_sample(malawi_geojson(malawi, tmp_path / "spoilt.geojson", spoil), message, tmp_path, patch_dir)


def test_nan_in_a_geopackage_blob_is_one_line(malawi, tmp_path):
    path = write(malawi, tmp_path / "nan.gpkg", layer="labels")
    spoil_gpkg_feature(path, 2, b"GP\x00\x01\xe6\x10\x00\x00" + ring_of([[33.8, -12.9], [np.nan, -12.9],
                                                                         [33.81, -12.91], [33.8, -12.9]]))
    with pytest.raises(VectorFileError, match=r"has 1 feature\(s\) with NaN or infinite coordinates \(feature 2\)"):
        read_label_features(path, "croptype", legend())


def test_a_truncated_shapefile_is_one_line_not_a_silent_loss(malawi, tmp_path, patch_dir):
    """GDAL reads the shapes past the cut as missing geometries without a word (137 of 287 parcels would
    go): the header's length is checked first."""
    path = write(malawi, tmp_path / "parcels.shp", driver="ESRI Shapefile")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refused_by_sample(path, f"is cut short ({len(data) // 2:,} of the {len(data):,} bytes its header declares); "
                            "copy the .shp again, with its .shx and .dbf", tmp_path, patch_dir)


# ------------------------------------------------------------------ further cases of our own

def test_a_shapefile_without_its_shx_names_the_side_files(malawi, tmp_path, patch_dir):
    path = write(malawi, tmp_path / "parcels.shp", driver="ESRI Shapefile")
    path.with_suffix(".shx").unlink()
    refused_by_sample(path, "give the .shp with its .shx and .dbf beside it", tmp_path, patch_dir)


def test_a_png_named_gpkg_is_one_line(tmp_path, patch_dir):
    png = Path(__file__).resolve().parents[3] / "gee_crop" / "resources" / "demo"
    real_png = next(iter(sorted(png.rglob("*.png"))), None)
    path = tmp_path / "labels.gpkg"
    path.write_bytes(real_png.read_bytes() if real_png else b"\x89PNG\r\n\x1a\n" + bytes(200))
    refused_by_sample(path, "is not in a vector format GDAL recognises; give labels as GeoJSON, GeoPackage",
                      tmp_path, patch_dir)


def test_a_zero_feature_layer_is_one_line(malawi, tmp_path, patch_dir):
    _, meta, wkb, fields = malawi
    path = tmp_path / "empty.gpkg"
    pyogrio.raw.write(path, wkb[:0], [f[:0] for f in fields], meta["fields"], geometry_type="MultiPolygon",
                      crs=meta["crs"], driver="GPKG")
    refused_by_sample(path, "holds no geometry; give labelled points or polygons", tmp_path, patch_dir)


def test_two_feature_layers_are_refused_naming_them(malawi, tmp_path, patch_dir):
    path = write(malawi, tmp_path / "two.gpkg", layer="parcels_2023")
    write(malawi, path, layer="parcels_2022", append=True)
    refused_by_sample(path, "holds 2 layers with geometries ('parcels_2023', 'parcels_2022'); keep the labels' "
                            "layer alone, e.g. `ogr2ogr labels.gpkg", tmp_path, patch_dir)


def test_a_file_over_the_byte_bound_is_refused_before_reading(malawi, tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "MAX_LABEL_BYTES", 2**16)
    assert malawi[0].stat().st_size > 2**16
    with pytest.raises(VectorFileError, match=r"is 0 MiB, more than the 0 MiB gee-crop reads as labels; clip it"):
        read_label_features(malawi[0], "croptype", legend())


def test_a_sample_table_given_as_labels_is_not_geoparquet(bel_table, tmp_path, patch_dir):
    refused_by_sample(bel_table, "is Parquet without GeoParquet metadata", tmp_path, patch_dir)


def test_a_geopackage_in_web_mercator_reads_back_in_wgs84(malawi, tmp_path):
    from pyproj import Transformer

    _, meta, wkb, _ = malawi
    to_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    wgs84 = shapely.from_wkb(wkb)
    mercator = shapely.transform(wgs84, lambda xy: np.column_stack(to_3857.transform(xy[:, 0], xy[:, 1])))
    path = tmp_path / "mercator.gpkg"
    pyogrio.raw.write(path, shapely.to_wkb(mercator), malawi[3], meta["fields"], geometry_type="MultiPolygon",
                      crs="EPSG:3857", driver="GPKG")
    assert pyogrio.read_info(path)["crs"] == "EPSG:3857"
    features = read_label_features(path, "croptype", legend())
    assert class_counts(features) == MALAWI_COUNTS
    assert (33.755, -12.942) == tuple(round(v, 3) for v in features.bounds[:2])
    original = read_label_features(malawi[0], "croptype", legend())
    assert (shapely.hausdorff_distance(features.geometries, original.geometries) < 1e-7).all()
    first = shapely.get_coordinates(features.geometries[0])[0]
    assert np.allclose(first, (33.8215072, -12.915488), atol=1e-9, rtol=0)  # the first parcel's first vertex


@pytest.mark.parametrize("suffix, driver", [(".fgb", "FlatGeobuf"), (".kml", "KML"), (".shp", "ESRI Shapefile"),
                                            (".geojson", "GeoJSON")])
def test_other_ogr_formats_read_the_same_parcels(malawi, tmp_path, suffix, driver):
    path = write(malawi, tmp_path / f"malawi{suffix}", driver=driver)
    features = read_label_features(path, "croptype", legend())
    assert class_counts(features) == MALAWI_COUNTS
    original = read_label_features(malawi[0], "croptype", legend())
    assert np.allclose(features.bounds, original.bounds, atol=1e-6)


def test_geoparquet_reads_the_same_parcels(malawi, tmp_path):
    """GeoParquet 1.0 (WKB, PROJJSON CRS) written with pyarrow: the GDAL of pyogrio's wheel has no Parquet driver."""
    from pyproj import CRS

    _, meta, wkb, fields = malawi
    table = pa.table({**{n: f for n, f in zip(meta["fields"], fields)}, "geometry": list(wkb)})
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["MultiPolygon"],
                                    "crs": CRS.from_epsg(4326).to_json_dict()}}}
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    pq.write_table(table, tmp_path / "malawi.parquet")
    features = read_label_features(tmp_path / "malawi.parquet", "croptype", legend())
    assert class_counts(features) == MALAWI_COUNTS


def test_flatgeobuf_through_sample_gives_the_geopackages_table(flanders_fields, tmp_path, patch_dir):  # noqa: F811
    """The Flanders patch's parcels as GeoPackage and as FlatGeobuf (EPSG:32631), sampled on the patch by the
    real command: the same table."""
    gpkg, legend_csv = flanders_fields
    meta, _, wkb, fields = pyogrio.raw.read(gpkg)
    fgb = tmp_path / "fields.fgb"
    pyogrio.raw.write(fgb, wkb, fields, meta["fields"], geometry_type="Polygon", crs=meta["crs"], driver="FlatGeobuf")
    tables = []
    for labels in (gpkg, fgb):
        out = tmp_path / f"{labels.suffix[1:]}.parquet"
        result = sample("--source", patch_dir, "--labels", labels, "--label-field", "ct", "--legend", legend_csv,
                        "--buffer-m", 20, "--spacing-m", 10, "--per-cell", 2000, "--out", out)
        assert result.exit_code == 0, result.output
        tables.append(read_table(out))
    assert len(tables[0].labels) >= 50 and set(tables[0].classes) >= {"winter_wheat", "maize", "grassland"}
    assert np.array_equal(tables[0].labels, tables[1].labels)
    assert np.array_equal(tables[0].lon, tables[1].lon) and np.array_equal(tables[0].lat, tables[1].lat)
