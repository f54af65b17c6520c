"""``gee-crop assess --parcels``: parcel-level accuracy and areas of a real map of the demo patch.

The map is the shipped default model's (tempcnn-weu) map of the patch with ``--parcels``: the label
raster's regions as polygons (``label_raster_parcels``), so the table's ``label`` field is each parcel's
true class and every parcel is labelled (a census of the parcels)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.assessment.points import write_class_raster
from gee_crop.classes import CLASSES
from gee_crop.data.demo import demo_patch
from gee_crop.mapping.parcels import label_raster_parcels
from tests.assessment.hand_count import parcel_hand_count


def _write_parcels(path, parcels):
    pyogrio.raw.write(
        str(path), geometry=np.array([shapely.to_wkb(g) for g in parcels.geometries], dtype=object),
        field_data=[np.array([p[f] for p in parcels.properties], dtype=object if f == "label" else np.int64)
                    for f in parcels.fields],
        fields=parcels.fields, crs=parcels.crs, geometry_type="Polygon", driver="GPKG",
    )
    return path


@pytest.fixture(scope="module")
def mapped(tmp_path_factory, patch_dir):
    """(map folder, label parcels) of the demo patch mapped with tempcnn-weu and --parcels."""
    patch = demo_patch()
    parcels = label_raster_parcels(patch.classes, patch.transform, patch.crs, CLASSES)
    folder = tmp_path_factory.mktemp("parcel_assess")
    given = _write_parcels(folder / "label_parcels.gpkg", parcels)
    out = folder / "map"
    result = CliRunner().invoke(cli.main, ["map", "--source", str(patch_dir), "--out", str(out), "--parcels",
                                           str(given), "--scheduler", "synchronous", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, parcels


def _assess(args, out):
    result = CliRunner().invoke(cli.main, ["assess", *args, "--out", str(out)])
    return result, (json.loads((out / "parcel_assessment.json").read_text()) if result.exit_code == 0 else None)


def test_parcel_accuracy_equals_the_hand_count(mapped, tmp_path):
    out, parcels = mapped
    result, summary = _assess(["--parcels", str(out / "parcels.gpkg"), "--reference-field", "label"], tmp_path)
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "map.tif") as src:
        band = src.read(1)
    correct, counted, flagged = parcel_hand_count(demo_patch().classes, band)
    assert (summary["correct"], summary["n_parcels"]) == (correct, counted) and counted + flagged == len(parcels)
    assert summary["overall_accuracy"] == correct / counted and summary["flagged"]["parcels"] == flagged
    assert f"parcel-level overall accuracy {100 * correct / counted:.1f} % ({correct} of {counted}" in result.output
    assert "flagged parcels excluded" in result.output
    confusion = np.array(summary["confusion_matrix"])
    assert np.trace(confusion) == correct and confusion.sum() == counted
    # users' accuracy of a class: its right parcels over the parcels mapped as it
    wheat = CLASSES.index("wheat")
    assert summary["classes"]["wheat"]["users_accuracy"] == confusion[wheat, wheat] / confusion[wheat].sum()
    print(f"parcel OA {correct}/{counted} = {100 * correct / counted:.2f} % ({flagged} flagged)")

    with_flagged, again = _assess(["--parcels", str(out / "parcels.gpkg"), "--reference-field", "label",
                                   "--include-flagged", "--overwrite"], tmp_path)
    assert with_flagged.exit_code == 0, with_flagged.output
    assert again["n_parcels"] == counted + again["flagged"]["labelled"]
    assert again["correct"] == correct + again["flagged"]["correct"]


def test_areas_from_the_parcels_census(mapped, tmp_path):
    """Every parcel labelled: W_i are the polygon areas of the parcels mapped as class i, and the estimated
    area of a reference class is sum_i W_i n_ij / n_i."""
    out, parcels = mapped
    _, summary = _assess(["--parcels", str(out / "parcels.gpkg"), "--reference-field", "label"], tmp_path)
    with open(out / "parcels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kept = [r["small"] == r["no_interior"] == r["mostly_outside"] == "False" for r in rows]
    areas = shapely.area(parcels.geometries) / 1e4
    estimates = summary["area_estimates"]["classes"]
    for k, name in enumerate(CLASSES):
        mine = [i for i, r in enumerate(rows) if kept[i] and r["class"] == name]
        assert estimates[name]["mapped_ha"] == pytest.approx(sum(areas[i] for i in mine))
        expected = sum(
            sum(areas[i] for i, r in enumerate(rows) if kept[i] and r["class"] == m)
            * np.mean([rows[i]["label"] == name for i, r in enumerate(rows) if kept[i] and r["class"] == m])
            for m in {r["class"] for i, r in enumerate(rows) if kept[i]}
        )
        assert estimates[name]["area_ha"] == pytest.approx(expected, abs=1e-9), name
    assert sum(e["area_ha"] for e in estimates.values()) == pytest.approx(sum(areas[kept]))
    with open(tmp_path / "parcel_assessment.csv", newline="", encoding="utf-8") as f:
        table = {r["class"]: r for r in csv.DictReader(f)}
    assert float(table["wheat"]["area_ha"]) == pytest.approx(estimates["wheat"]["area_ha"])


def test_csv_and_sampled_parcels(mapped, tmp_path):
    """The CSV gives the same accuracy, without areas; parcels with an empty reference are not in the sample."""
    out, _ = mapped
    _, from_gpkg = _assess(["--parcels", str(out / "parcels.gpkg"), "--reference-field", "label"], tmp_path / "g")
    result, from_csv = _assess(["--parcels", str(out / "parcels.csv"), "--reference-field", "label"], tmp_path / "c")
    assert result.exit_code == 0, result.output
    keys = ["overall_accuracy", "n_parcels", "confusion_matrix", "flagged"]
    assert [from_csv[k] for k in keys] == [from_gpkg[k] for k in keys]
    assert from_csv["area_estimates"] is None and "areas are not estimated" in result.output
    with open(out / "parcels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        row["label"] = row["label"] if i % 2 else ""
    half = _write_csv(tmp_path / "half.csv", rows)
    result, sampled = _assess(["--parcels", str(half), "--reference-field", "label"], tmp_path / "h")
    assert result.exit_code == 0, result.output
    assert sampled["unlabelled_parcels"] == len(rows) - len(rows) // 2
    assert sampled["n_parcels"] + sampled["flagged"]["labelled"] == len(rows) // 2


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_codes_through_a_legend(mapped, tmp_path):
    out, _ = mapped
    _, by_name = _assess(["--parcels", str(out / "parcels.gpkg"), "--reference-field", "label"], tmp_path / "n")
    with open(out / "parcels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    codes = {"corn": "201", "wheat": "311", "other": "9"}
    for row in rows:
        row["crop_code"] = codes[row.pop("label")]
    table = _write_csv(tmp_path / "codes.csv", rows)
    legend = tmp_path / "legend.csv"
    legend.write_text("code,class\n" + "".join(f"{c},{n}\n" for n, c in codes.items()))
    result, by_code = _assess(["--parcels", str(table), "--reference-field", "crop_code", "--legend", str(legend)],
                              tmp_path / "c")
    assert result.exit_code == 0, result.output
    assert by_code["confusion_matrix"] == by_name["confusion_matrix"]


def test_beside_the_pixel_level_assessment(mapped, tmp_path):
    """--map and --reference (pixel level, stratified points) and --parcels in one run, one folder."""
    out, _ = mapped
    patch = demo_patch()
    labels = write_class_raster(tmp_path / "labels.tif", patch.classes, CLASSES, patch.crs, patch.transform)
    design = CliRunner().invoke(cli.main, ["assess", "design", "--map", str(out / "map.tif"), "--out",
                                           str(tmp_path / "points.csv"), "--n", "60", "--min-per-class", "10"])
    assert design.exit_code == 0, design.output
    result, summary = _assess(["--map", str(out / "map.tif"), "--reference", str(tmp_path / "points.csv"),
                               "--reference-raster", str(labels), "--parcels", str(out / "parcels.gpkg"),
                               "--reference-field", "label"], tmp_path / "both")
    assert result.exit_code == 0, result.output
    assert "overall accuracy" in result.output and "parcel-level overall accuracy" in result.output
    assert (tmp_path / "both" / "assessment.json").is_file() and summary["n_parcels"] > 10


@pytest.mark.parametrize("case", ["no_field", "unknown_class", "unknown_code", "no_reference_field", "not_a_table"])
def test_bad_parcel_assessments_are_one_line_errors(case, mapped, tmp_path):
    out, _ = mapped
    table = out / "parcels.gpkg"
    args = ["--reference-field", "label"]
    if case == "no_field":
        args, expected = ["--reference-field", "crop"], "has no field 'crop' (its fields: parcel_id, label"
    elif case in ("unknown_class", "unknown_code"):
        with open(out / "parcels.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        rows[0]["label"] = "Maize" if case == "unknown_class" else "77"
        table = _write_csv(tmp_path / "t.csv", rows)
        if case == "unknown_class":
            expected = "label holds class name(s) 'maize' not in the map's legend"
        else:
            legend = tmp_path / "legend.csv"
            legend.write_text("code,class\ncorn,corn\nwheat,wheat\nother,other\n")
            args += ["--legend", str(legend)]
            expected = "label value(s) '77' are not in legend"
    elif case == "no_reference_field":
        args, expected = [], "--parcels needs --reference-field"
    else:
        table = tmp_path / "points.csv"
        table.write_text("point_id,x,y,reference\n1,0,0,corn\n")
        expected = "has no column class, small"
    result = CliRunner().invoke(cli.main, ["assess", "--parcels", str(table), *args, "--out", str(tmp_path / "a")])
    assert result.exit_code in (1, 2), result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and expected in last, result.output
    assert not (tmp_path / "a" / "parcel_assessment.json").exists()
