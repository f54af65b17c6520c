"""assess design -> label -> assess on a map of the real Flanders 2019 patch, and every bad input."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.assessment.points import read_points
from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.cli import main
from gee_crop.errors import InputError, OutputExistsError
from gee_crop.pipeline.assess import assess, design


def _true_area_pixels(maps) -> np.ndarray:
    mapped = maps["mapped"] != NO_CLASS
    return np.bincount(maps["truth"][mapped], minlength=len(CLASSES))[: len(CLASSES)]


def test_a_census_gives_the_true_areas_exactly(maps, tmp_path):
    mapped = np.bincount(maps["mapped"][maps["mapped"] != NO_CLASS], minlength=len(CLASSES))[: len(CLASSES)]
    points = tmp_path / "census.csv"
    design(maps["map"], points, n=1, min_per_class=int(mapped.max()))  # every mapped pixel
    estimates, summary = assess(maps["map"], tmp_path / "out", reference=points, reference_raster=maps["reference"])
    assert summary["n_points"] == mapped.sum()
    np.testing.assert_allclose(estimates.area_ha, _true_area_pixels(maps) * 0.01)
    assert estimates.overall_accuracy == pytest.approx(
        np.mean(maps["truth"][maps["mapped"] != NO_CLASS] == maps["mapped"][maps["mapped"] != NO_CLASS]))


def test_a_sample_estimates_the_true_areas_within_their_uncertainty(maps, tmp_path):
    points = tmp_path / "points.geojson"
    result = design(maps["map"], points, min_per_class=60, seed=3)
    assert result.points_per_stratum[CLASSES.index("other")] >= 60
    estimates, summary = assess(maps["map"], tmp_path / "out", reference=points, reference_raster=maps["reference"])
    present = _true_area_pixels(maps) > 0
    error = np.abs(estimates.area_ha - _true_area_pixels(maps) * 0.01)[present]
    assert (error <= 4 * estimates.area_ha_se[present] + 1e-9).all()
    # the shift makes real errors: the estimate differs from the pixel count, and OA < 1
    assert summary["overall_accuracy"] < 1
    for name in ("assessment.json", "assessment.csv", "areas.png", "areas.svg", "assessment.html"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    with open(tmp_path / "out" / "assessment.csv", encoding="utf-8") as fh:
        rows = {r["class"]: r for r in csv.DictReader(fh)}
    assert float(rows["corn"]["area_ha"]) == pytest.approx(estimates.area_ha[0])


def _labelled_points(maps, tmp_path, **design_options):
    points = tmp_path / "p.csv"
    design(maps["map"], points, **design_options)
    rows = read_points(points)
    for row in rows:
        row["reference"] = row["map_class"]
    return rows


def _write(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("spoil, message", [
    (lambda rows: rows[0].update(x="1e9"), "outside the map"),
    (lambda rows: rows[0].update(reference="maize"), "not in the map's legend"),
    (lambda rows: rows[1].update(reference=""), "no reference label"),
])
def test_bad_reference_points_are_refused_with_the_fix(maps, tmp_path, spoil, message):
    rows = _labelled_points(maps, tmp_path, min_per_class=5)
    spoil(rows)
    with pytest.raises(InputError, match=message):
        assess(maps["map"], tmp_path / "out", reference=_write(rows, tmp_path / "bad.csv"))
    assert not (tmp_path / "out" / "assessment.json").exists()


def test_an_empty_points_file_is_refused(maps, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("point_id,x,y,reference\n", encoding="utf-8")
    with pytest.raises(InputError, match="no points"):
        assess(maps["map"], tmp_path / "out", reference=path)


def test_a_mapped_class_without_points_is_refused(maps, tmp_path):
    rows = [r for r in _labelled_points(maps, tmp_path, min_per_class=5) if r["map_class"] != "corn"]
    with pytest.raises(InputError, match="corn have no sample point"):
        assess(maps["map"], tmp_path / "out", reference=_write(rows, tmp_path / "no_corn.csv"))


def test_a_stratum_of_one_point_gives_a_result_and_a_warning(maps, tmp_path):
    rows = _labelled_points(maps, tmp_path, min_per_class=5)
    corn = [r for r in rows if r["map_class"] == "corn"]
    rows = [r for r in rows if r["map_class"] != "corn"] + corn[:1]
    estimates, summary = assess(maps["map"], tmp_path / "out", reference=_write(rows, tmp_path / "one.csv"))
    assert any("corn has 1 point" in w for w in summary["warnings"])
    assert np.isfinite(estimates.area_ha).all()


def test_outputs_are_not_replaced_without_overwrite(maps, tmp_path):
    points = tmp_path / "p.csv"
    design(maps["map"], points, min_per_class=5)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        design(maps["map"], points, min_per_class=5)


def test_the_commands_run_end_to_end(maps, tmp_path):
    runner = CliRunner()
    points = tmp_path / "pts.csv"
    result = runner.invoke(main, ["assess", "design", "--map", maps["map"], "--out", str(points),
                                  "--min-per-class", "20", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "fill in its `reference` column" in result.output
    result = runner.invoke(main, ["assess", "--map", maps["map"], "--reference", str(points),
                                  "--reference-raster", maps["reference"], "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "overall accuracy" in result.output and (tmp_path / "a" / "assessment.html").is_file()
    bad = runner.invoke(main, ["assess", "--map", str(tmp_path / "nope.tif"), "--reference", str(points),
                               "--out", str(tmp_path / "b")])
    assert bad.exit_code != 0 and "does not exist" in bad.output and "Traceback" not in bad.output
