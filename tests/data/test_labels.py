"""Label rasters and sample_from_files on the real patch (its own label NetCDF and a GeoTIFF copy)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from gee_crop.classes import CLASSES, EXCLUDE, Legend
from gee_crop.data.labels import read_label_raster
from gee_crop.data.sampling import sample_from_files, sample_local_stack
from gee_crop.errors import InputError, UnknownClassError
from gee_crop.types import SamplingRules

RULES = dict(rules=SamplingRules(buffer_m=20, cell_deg=0.1, spacing_m=20, per_cell=40, seed=2), region="BEL")


def _write_tif(path, codes, crs, transform, nodata=0):
    with rasterio.open(path, "w", driver="GTiff", height=codes.shape[0], width=codes.shape[1], count=1,
                       dtype="uint16", crs=crs, transform=Affine(*transform), nodata=nodata) as dst:
        dst.write(codes.astype(np.uint16), 1)
    return path


def test_patch_label_netcdf_reads_on_the_stack_grid(patch, patch_dir):
    raster = read_label_raster(next(patch_dir.glob("OUTPUT_*_10m_*.nc")))
    assert np.array_equal(raster.codes, patch.labels)
    assert raster.crs == "EPSG:32631" and raster.nodata == 0
    assert raster.transform == pytest.approx(patch.transform)
    assert raster.transform[2] == 574680 and raster.transform[5] == 5622440  # PROVENANCE.md bounds


def test_geotiff_labels_give_the_same_samples_as_the_patch_labels(patch, patch_dir, tmp_path):
    tif = _write_tif(tmp_path / "labels.tif", patch.labels, patch.crs, patch.transform)
    from_tif = sample_from_files(patch_dir, tif, **RULES)
    own = sample_from_files(patch_dir, None, **RULES)
    direct = sample_local_stack(patch, **RULES)
    assert len(own) == 40
    assert np.array_equal(from_tif.sample_id, own.sample_id)
    assert np.array_equal(own.sample_id, direct.sample_id)
    assert np.array_equal(from_tif.crop_class, own.crop_class)


def test_a_netcdf_file_stands_for_its_patch_folder(patch_dir):
    nc = next(patch_dir.glob("S2_L2A_10m_*.nc"))
    assert np.array_equal(sample_from_files(nc, None, **RULES).sample_id,
                          sample_from_files(patch_dir, None, **RULES).sample_id)


def test_label_raster_of_another_shape_is_refused(patch, patch_dir, tmp_path):
    tif = _write_tif(tmp_path / "small.tif", patch.labels[:32, :48], patch.crs, patch.transform)
    with pytest.raises(InputError, match=r"32x48 px but the stack is 64x64 px"):
        sample_from_files(patch_dir, tif, **RULES)


def test_label_raster_in_another_crs_is_refused(patch, patch_dir, tmp_path):
    tif = _write_tif(tmp_path / "crs.tif", patch.labels, "EPSG:32632", patch.transform)
    with pytest.raises(InputError, match=r"EPSG:32632 but the stack is in EPSG:32631"):
        sample_from_files(patch_dir, tif, **RULES)


def test_shifted_label_raster_is_refused(patch, patch_dir, tmp_path):
    a, b, c, d, e, f = patch.transform
    tif = _write_tif(tmp_path / "shift.tif", patch.labels, patch.crs, (a, b, c + 10, d, e, f))
    with pytest.raises(InputError, match="resample the labels onto the stack's pixel grid"):
        sample_from_files(patch_dir, tif, **RULES)


def test_missing_inputs_are_named(patch_dir, tmp_path):
    with pytest.raises(InputError, match="stack .*nowhere.* does not exist"):
        sample_from_files(tmp_path / "nowhere", None, **RULES)
    with pytest.raises(InputError, match="label raster .*absent.tif does not exist"):
        sample_from_files(patch_dir, tmp_path / "absent.tif", **RULES)
    (tmp_path / "labels.csv").write_text("1,2\n")
    with pytest.raises(InputError, match="unknown label raster format"):
        read_label_raster(tmp_path / "labels.csv")


def test_stack_without_labels_asks_for_them(patch):
    with pytest.raises(InputError, match="--labels"):
        sample_local_stack(dataclasses.replace(patch, labels=None))


def test_class_code_geotiff_with_a_csv_legend(patch, patch_dir, tmp_path):
    # the real labels recoded to 1 + class index (0 = no label), as a user's own product might be
    names = Legend.worldcereal().names(patch.labels)
    lookup = {EXCLUDE: 0, **{c: i + 1 for i, c in enumerate(CLASSES)}}
    tif = _write_tif(tmp_path / "classes.tif", np.vectorize(lookup.get)(names), patch.crs, patch.transform)
    legend = tmp_path / "legend.csv"
    # written like a gee-crop 0.1.0 legend: 'unlabeled' is still read as 'exclude'
    legend.write_text("code,gee_crop_class\n0,unlabeled\n"
                      + "".join(f"{i + 1},{c}\n" for i, c in enumerate(CLASSES)))
    many = {**RULES, "rules": dataclasses.replace(RULES["rules"], per_cell=10_000)}
    series = sample_from_files(patch_dir, tif, **many, legend=legend)
    assert np.array_equal(series.crop_class, names[series.extra["row"], series.extra["col"]])
    assert set(series.crop_class) == {"corn", "wheat", "other"}
    # the buffer erodes gee-crop classes, so the code system does not change the samples
    assert np.array_equal(series.sample_id, sample_from_files(patch_dir, None, **many).sample_id)
    # eroding by code: the recoded raster's merged 'other' parcels erode less than the product's own
    recoded = sample_from_files(patch_dir, tif, **many, legend=legend, erode_by="code")
    assert len(recoded) > len(sample_from_files(patch_dir, None, **many, erode_by="code"))


def test_legend_with_an_unknown_class_is_refused(patch_dir, tmp_path):
    legend = tmp_path / "legend.csv"
    legend.write_text("code,gee_crop_class\n1,maize\n")
    with pytest.raises(UnknownClassError, match="'maize'.*use one of corn"):
        Legend.of(legend)
    with pytest.raises(InputError, match="code,gee_crop_class"):
        Legend.of(tmp_path / "absent.csv")


def test_float_geotiff_labels_read_nan_as_no_label(patch, tmp_path):
    codes = patch.labels.astype(np.float32)
    codes[patch.labels == 0] = np.nan  # the real labels, written as float with NaN for no data
    with rasterio.open(tmp_path / "float.tif", "w", driver="GTiff", height=64, width=64, count=1,
                       dtype="float32", crs=patch.crs, transform=Affine(*patch.transform)) as dst:
        dst.write(codes, 1)
    raster = read_label_raster(tmp_path / "float.tif")
    assert raster.nodata == 0 and np.array_equal(raster.codes, patch.labels)
    codes[0, 0] = 1110.5
    with rasterio.open(tmp_path / "frac.tif", "w", driver="GTiff", height=64, width=64, count=1,
                       dtype="float32", crs=patch.crs, transform=Affine(*patch.transform)) as dst:
        dst.write(codes, 1)
    with pytest.raises(InputError, match="non-integer"):
        read_label_raster(tmp_path / "frac.tif")
