"""Issue 26, classes 6, 7 and 8: `assess` checks its inputs (the reference raster's type and classes, the map
the points were drawn on, one source of labels, a map without classified pixels); bad values are one-line
errors, never tracebacks (NaN and out-of-range numbers, unknown CRSs, opsets, non-UTF-8 CSVs, foreign ONNX
graphs under copied metadata, damaged or unregistered service-account keys, a forest without validation
split); and no noise or misleading text after success (Dask's shutdown, --source folders, escape sequences
from an experiment file). Real inputs: the shipped demo patch, its labels and the shipped models."""
from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio
import yaml
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from gee_crop.assessment.points import MAP_HASH, read_class_map, write_class_raster
from gee_crop.classes import CLASSES, NO_CLASS, Legend
from gee_crop.cli import main
from gee_crop.countries import read_accuracy_table
from gee_crop.data.stacks import open_local_stack
from gee_crop.earthengine import client as ee_client
from gee_crop.errors import EarthEngineError, InputError, ModelFileError
from gee_crop.mapping.cluster import close_quietly
from gee_crop.models.io import ModelFile
from gee_crop.pipeline.assess import assess, design
from gee_crop.testing.paths import demo_patch_dir, shared_data_dir
from gee_crop.viz.text import REPLACEMENT

REPO = Path(__file__).resolve().parents[3]
SHIPPED_MODEL = REPO / "gee_crop" / "resources" / "models" / "cropnet-weu.int8.onnx"
OSC = "\x1b]0;pwned\x07"


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, *fragments: str, code: int = 1) -> str:
    """The error of a CLI run: exit ``code``, no traceback, one line holding every fragment."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# =================================================================== class 6: assess trusts its inputs

@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """The real patch's label raster (the reference) and a 'map' of it shifted 2 px east, restricted to the
    labelled pixels, both as gee-crop class rasters; and points drawn on the map."""
    stack = open_local_stack(demo_patch_dir())
    truth = stack.classes.astype(np.uint8)
    shifted = np.roll(truth, 2, axis=1)
    shifted[truth == NO_CLASS] = NO_CLASS
    folder = tmp_path_factory.mktemp("inputs_assess")

    def raster(name, classes, names=CLASSES):
        return write_class_raster(folder / name, classes, names, stack.crs, stack.transform)

    found = {"folder": folder, "stack": stack, "truth": truth, "raster": raster,
             "reference": raster("labels.tif", truth), "map": raster("map.tif", shifted)}
    found["points"] = design(str(found["map"]), folder / "points.csv", min_per_class=20, seed=1).path
    return found


def _labelled_copy(points: Path, out: Path, drop_hash: bool = False) -> Path:
    with open(points, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["reference"] = row["map_class"]
        if drop_hash:
            del row[MAP_HASH]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def _float_raster(maps, path: Path) -> Path:
    """A float 0..1 raster on the patch's real grid (a probability, not class indices; synthetic values)."""
    stack = maps["stack"]
    profile = dict(driver="GTiff", width=stack.x.size, height=stack.y.size, count=1, dtype="float32",
                   crs=stack.crs, transform=rasterio.Affine(*stack.transform[:6]))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.random.default_rng(0).random((stack.y.size, stack.x.size), dtype=np.float32), 1)
    return path


def test_a_float_reference_raster_is_refused_not_read_as_class_0(maps, tmp_path):
    result = cli("assess", "--map", maps["map"], "--reference", maps["points"],
                 "--reference-raster", _float_raster(maps, tmp_path / "probability.tif"), "--out", tmp_path / "a")
    one_line_error(result, "float32 values, not class indices", "class indices 0..6")
    assert not (tmp_path / "a").exists()


def test_labelled_points_and_a_reference_raster_together_are_refused(maps, tmp_path):
    labelled = _labelled_copy(maps["points"], tmp_path / "labelled.csv")
    result = cli("assess", "--map", maps["map"], "--reference", labelled, "--reference-raster", maps["reference"],
                 "--out", tmp_path / "a")
    one_line_error(result, "already have a reference label", "use one source of reference labels")


def test_points_drawn_on_another_map_are_refused(maps, tmp_path):
    other = design(str(maps["reference"]), tmp_path / "other.csv", min_per_class=20, seed=4).path
    labelled = _labelled_copy(other, tmp_path / "other_labelled.csv")
    result = cli("assess", "--map", maps["map"], "--reference", labelled, "--out", tmp_path / "a")
    one_line_error(result, "drawn on another map", "gee-crop assess design")


def test_design_on_a_map_without_classified_pixel_is_one_line(maps, tmp_path):
    empty = maps["raster"]("empty.tif", np.full_like(maps["truth"], NO_CLASS))
    result = cli("assess", "design", "--map", empty, "--out", tmp_path / "p.csv")
    one_line_error(result, "no classified pixel to sample")
    assert not (tmp_path / "p.csv").exists()


# ---- class 6, further cases

def test_a_reference_raster_of_another_legend_is_refused(maps, tmp_path):
    other_names = ("maize", "barley", "other", "rice", "soy", "sunflower", "wheat")
    raster = maps["raster"]("other_legend.tif", maps["truth"], other_names)
    with pytest.raises(InputError, match="has the classes maize, barley.*the map corn, soybeans"):
        assess(str(maps["map"]), tmp_path / "a", reference=maps["points"], reference_raster=raster)


def test_a_reference_raster_of_raw_codes_is_refused(maps, tmp_path):
    """Product codes (WorldCereal's 1100, CDL's 1..255) instead of class indices: points on them are not
    silently dropped as unlabelled."""
    codes = np.where(maps["truth"] == NO_CLASS, 0, maps["truth"].astype(np.int32) * 100 + 1100).astype(np.int32)
    stack = maps["stack"]
    path = tmp_path / "codes.tif"
    profile = dict(driver="GTiff", width=stack.x.size, height=stack.y.size, count=1, dtype="int32",
                   crs=stack.crs, transform=rasterio.Affine(*stack.transform[:6]), nodata=0)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(codes, 1)
    with pytest.raises(InputError, match=r"point\(s\) fall on values \(1100.*no class of the map"):
        assess(str(maps["map"]), tmp_path / "a", reference=maps["points"], reference_raster=path)


def test_points_of_an_older_gee_crop_without_the_hash_are_read_with_a_warning(maps, tmp_path):
    old = _labelled_copy(maps["points"], tmp_path / "old.csv", drop_hash=True)
    _, summary = assess(str(maps["map"]), tmp_path / "a", reference=old)
    assert any("does not record the map its points were drawn on" in w for w in summary["warnings"])
    assert summary["overall_accuracy"] == pytest.approx(1.0)  # labels copied from the map


def test_the_hash_is_the_maps_classes_not_its_file(maps, tmp_path):
    """A re-written copy of the same map (another compression, same classes and grid) is the same map; the
    GeoJSON design carries the hash too; a one-pixel edit makes another map."""
    with rasterio.open(maps["map"]) as src:
        profile, band, tags = src.profile, src.read(1), src.tags(1)
    profile.update(compress="lzw")
    copy = tmp_path / "copy.tif"
    with rasterio.open(copy, "w", **profile) as dst:
        dst.write(band, 1)
        dst.update_tags(1, **tags)
    assert copy.read_bytes() != Path(maps["map"]).read_bytes()
    assert read_class_map(copy).sha256 == read_class_map(maps["map"]).sha256
    geojson = design(str(copy), tmp_path / "p.geojson", min_per_class=5).path
    hashes = {f["properties"][MAP_HASH] for f in json.loads(geojson.read_text())["features"]}
    assert hashes == {read_class_map(maps["map"]).sha256}
    band[0, 0] = 2 if band[0, 0] != 2 else 3
    edited = maps["raster"]("edited.tif", band)
    assert read_class_map(edited).sha256 != read_class_map(maps["map"]).sha256


# =================================================================== class 7: tracebacks on bad values

@pytest.mark.parametrize("value, fragment", [("-1", "not in the range x>0"), ("nan", "not a finite number"),
                                             ("inf", "not a finite number")])
def test_train_lr_out_of_range_or_not_finite_is_a_usage_error(bel_table, tmp_path, value, fragment):
    result = cli("train", bel_table, "--out", tmp_path / "run", "--lr", value)
    assert result.exit_code == 2 and fragment in result.output and "Traceback" not in result.output
    assert "--lr" in result.output and not (tmp_path / "run").exists()


def test_map_crs_unknown_to_pyproj_is_refused_before_any_work(tmp_path):
    result = cli("map", "--source", demo_patch_dir(), "--model", SHIPPED_MODEL, "--crs", "EPSG:99999",
                 "--out", tmp_path / "m")
    assert result.exit_code == 2 and "'EPSG:99999' is not a CRS pyproj knows" in result.output
    assert "EPSG:32631" in result.output and not (tmp_path / "m").exists()


def test_export_opset_beyond_the_installed_exporter_is_a_usage_error(tmp_path):
    from gee_crop.cli.options import highest_opset

    result = cli("export", SHIPPED_MODEL.with_name("cropnet-weu.pt"), "--out", tmp_path / "m.onnx", "--opset", "99")
    assert result.exit_code == 2 and f"13<=x<={highest_opset()}" in result.output
    assert not (tmp_path / "m.onnx").exists()


def _latin1(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("latin-1"))
    return path


def test_a_latin1_legend_is_a_one_line_error_naming_utf8(tmp_path):
    legend = _latin1(tmp_path / "legend.csv", "code,class\nMAI,corn\nBLE,wheat\nPRA,other # prairie fauchée\n")
    with pytest.raises(InputError, match=r"is not UTF-8 text \(byte 0xe9 on line 4.*save it as UTF-8"):
        Legend.read_user(legend)


def test_a_latin1_points_file_is_a_one_line_error(maps, tmp_path):
    text = Path(maps["points"]).read_text(encoding="utf-8").replace(",,", ",maïs,", 1)
    points = _latin1(tmp_path / "points.csv", text)
    result = cli("assess", "--map", maps["map"], "--reference", points, "--out", tmp_path / "a")
    one_line_error(result, "is not UTF-8 text", "on line 2", "iconv")


def _foreign_onnx(path: Path, in_name="reflectance", out_name="probabilities", sample=(1, 10, 43), k=7) -> Path:
    """Another network (flatten, matmul, softmax) with the shipped model's gee-crop metadata copied in."""
    weights = numpy_helper.from_array(np.full((int(np.prod(sample)), k), 0.01, np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Flatten", [in_name], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "w"], ["z"]),
         helper.make_node("Softmax", ["z"], [out_name], axis=1)], "foreign",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["batch", *sample])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", k])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for prop in onnx.load(SHIPPED_MODEL).metadata_props:
        model.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("graph, fragment", [
    (dict(in_name="input", out_name="output"), "reads input and writes output, not reflectance -> probabilities"),
    (dict(sample=(1, 10, 20)), "its input holds 1x10x20 values per pixel, its metadata 1x10x43"),
    (dict(k=3), "it outputs 3 values per pixel for the 7 classes"),
])
def test_a_foreign_onnx_with_copied_metadata_is_refused_at_load(tmp_path, graph, fragment):
    path = _foreign_onnx(tmp_path / "foreign.onnx", **graph)
    with pytest.raises(ModelFileError, match="does not match the gee-crop metadata it carries") as err:
        ModelFile.read(path)
    assert fragment in str(err.value)
    result = cli("map", "--source", demo_patch_dir(), "--model", path, "--out", tmp_path / "m", "--quiet")
    one_line_error(result, fragment)


def _key_file(path: Path, private_key: str, **fields) -> Path:
    path.write_text(json.dumps({"type": "service_account", "project_id": "p", "private_key": private_key,
                                "client_email": "sa@p.iam.gserviceaccount.com",
                                "token_uri": "https://oauth2.googleapis.com/token", **fields}))
    return path


def _rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_a_key_with_an_invalid_pem_is_refused_offline(tmp_path):
    key = _key_file(tmp_path / "key.json", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [[[4, 50], [4.01, 50], [4.01, 50.01], [4, 50]]]}))
    result = cli("map", "--region", region, "--model", SHIPPED_MODEL, "--year", "2019", "--project", "p",
                 "--service-account-key", key, "--out", tmp_path / "m")
    one_line_error(result, "is not a valid PEM private key", "IAM > Service accounts > Keys")


class _Response:
    def __init__(self, status: int, body: dict) -> None:
        self.status, self.data, self.headers = status, json.dumps(body).encode(), {}


def test_a_valid_but_unregistered_key_fails_in_one_line_at_once(tmp_path):
    """Google's answer to a well-formed key it does not know (HTTP 400 invalid_grant), served by a fake
    transport: no socket is opened."""
    key = _key_file(tmp_path / "key.json", _rsa_pem())
    stored = ee_client.find_credentials(key)
    asked = []

    def google(url, method="GET", body=None, headers=None, **kwargs):
        asked.append(url)
        return _Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})

    import ee

    credentials = ee.ServiceAccountCredentials(stored.email, str(key))
    start = time.perf_counter()
    with pytest.raises(EarthEngineError, match=r"Google refused the service-account key .*invalid_grant.*new key"):
        ee_client.fetch_token(credentials, stored, google)
    assert time.perf_counter() - start < 2 and asked == ["https://oauth2.googleapis.com/token"]


def test_random_forest_without_validation_split_trains_and_says_so(bel_table, tmp_path):
    result = cli("train", bel_table, "--arch", "random_forest", "--val-fraction", "0", "--out", tmp_path / "rf",
                 "--quiet")
    assert result.exit_code == 0, result.output
    assert "(no validation split)" in result.output and "validated on 0" in result.output
    assert ModelFile.read(tmp_path / "rf" / "model.onnx").kind == "onnx"


# ---- class 7, further cases

@pytest.mark.parametrize("args", [
    ("train", "{table}", "--out", "{out}", "--val-fraction", "nan"),
    ("map", "--source", "{patch}", "--model", "{model}", "--out", "{out}", "--scale", "nan"),
    ("sample", "--region", "{region}", "--out", "{out}", "--tile-scale", "0", "--dry-run"),
    ("sample", "--region", "{region}", "--out", "{out}", "--tile-deg", "nan", "--dry-run"),
    ("sample", "--source", "{patch}", "--out", "{out}", "--spacing-m", "inf"),
    ("assess", "design", "--map", "{model}", "--out", "{out}", "--target-se", "nan"),
])
def test_nan_inf_and_zero_are_usage_errors_everywhere(bel_table, tmp_path, args):
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [[[4, 50], [4.01, 50], [4.01, 50.01], [4, 50]]]}))
    fill = dict(table=bel_table, out=tmp_path / "o", patch=demo_patch_dir(), model=SHIPPED_MODEL, region=region)
    result = cli(*(a.format(**fill) for a in args))
    assert result.exit_code == 2 and "Invalid value" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_utf8_with_bom_and_utf16_legends_are_read(tmp_path):
    text = "code,class\nMAI,corn\nBLE,wheat\nPRA,other\n"
    for name, data in (("bom.csv", b"\xef\xbb\xbf" + text.encode()), ("u16.csv", text.encode("utf-16"))):
        (tmp_path / name).write_bytes(data)
        legend = Legend.read_user(tmp_path / name)
        assert (legend["MAI"], legend["BLE"], legend["PRA"]) == ("corn", "wheat", "other")


def test_a_latin1_cdl_accuracy_table_goes_through_the_same_reader(tmp_path):
    table = _latin1(tmp_path / "acc.csv", "year,state_fips,state,code,producer_accuracy,user_accuracy\n"
                                          "2021,19,Iowa ré,1,95,95\n")
    with pytest.raises(InputError, match="CDL accuracy table .* is not UTF-8 text"):
        read_accuracy_table(2021, table)


def test_the_token_request_is_bounded_in_time(monkeypatch):
    """google-auth's default is 120 s per token request; ours asks the session for TOKEN_TIMEOUT_S at most
    (a fake session: no socket)."""
    seen = {}

    class Session:
        def request(self, method, url, data=None, headers=None, timeout=None, **kwargs):
            seen["timeout"] = timeout
            raise ConnectionError("unreachable (fake)")

        def close(self):
            pass

    request = ee_client.token_request()
    request.session = Session()
    with pytest.raises(Exception):
        request("https://oauth2.googleapis.com/token", method="POST")
    assert seen["timeout"] == ee_client.TOKEN_TIMEOUT_S <= 15


@pytest.mark.parametrize("content, fragment", [
    ({"type": "authorized_user", "client_email": "a@b", "private_key": "x"}, "not a service-account key"),
    ({"type": "service_account", "client_email": "a@b"}, "JSON with client_email and private_key"),
    ("ec", "not an RSA key"),
])
def test_other_key_files_are_refused_offline(tmp_path, content, fragment):
    path = tmp_path / "key.json"
    if content == "ec":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        _key_file(path, pem)
    else:
        path.write_text(json.dumps(content))
    with pytest.raises(EarthEngineError, match=fragment):
        ee_client.find_credentials(path)


# =================================================================== class 8: noise after success, messages

def test_a_local_cluster_map_ends_without_a_traceback(tmp_path):
    """One real map of the shipped patch with the shipped model on the local Dask cluster (subprocess, as
    a user runs it): exit 0 and nothing like a traceback on stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = "from gee_crop.cli import main; main()"
    run = subprocess.run([sys.executable, "-c", code, "map", "--source", str(demo_patch_dir()), "--model",
                          str(SHIPPED_MODEL), "--scheduler", "local", "--workers", "2", "--tile-size", "32",
                          "--quiet", "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "m" / "map.tif").is_file()
    for noise in ("Traceback", "CommClosedError", "StreamClosedError", "Connection closed"):
        assert noise not in run.stderr, run.stderr


@pytest.mark.parametrize("content, fragment", [
    ((), "is an empty folder"),
    (("S2_L2A_20m_",), "holds 20 m band files but no 10 m ones"),
])
def test_a_source_folder_without_10m_files_names_what_was_expected(tmp_path, content, fragment):
    folder = tmp_path / "src"
    folder.mkdir()
    for prefix in content:
        for f in demo_patch_dir().glob(f"{prefix}*.nc"):
            (folder / f.name).symlink_to(f)
    result = cli("map", "--source", folder, "--model", SHIPPED_MODEL, "--out", tmp_path / "m", "--quiet")
    line = one_line_error(result, fragment, "S2_L2A_10m_*.nc", "NetCDF (.nc) or Zarr (.zarr) stack")
    assert "zarr package" not in line and "install" not in line


def _tiny_experiment(folder: Path, title: str, model_name: str) -> Path:
    config = {
        "name": "hostile", "title": title, "seeds": [0], "torch_threads": 1,
        "defaults": {"max_gap_bins": 12},
        "datasets": {
            "FRA": {"reader": "worldcereal", "limit": 60,
                    "path": "{shared_data}/wc-extractions/2023_FRA_LPIS_POLY_110_dekadal.geoparquet"},
            "BEL": {"reader": "worldcereal", "limit": 60,
                    "path": "{shared_data}/wc-extractions/2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"},
        },
        "transfers": [{"source": "FRA", "target": "BEL"}],
        "models": [{"name": model_name, "arch": "random_forest", "features": "median1d",
                    "train": {"n_estimators": 10}}],
    }
    path = folder / "hostile.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_an_experiment_title_and_names_reach_terminal_and_table_without_escapes(tmp_path, monkeypatch):
    from gee_crop.cli.experiment import command as experiment

    monkeypatch.setenv("GEE_CROP_DATA", str(shared_data_dir()))
    config = _tiny_experiment(tmp_path, f"title {OSC}\x1b[2J", f"RF {OSC}")
    result = CliRunner().invoke(experiment, [str(config), "--out", str(tmp_path / "x"), "--no-figures"])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "x" / "table.md").read_text(encoding="utf-8")
    for text in (result.output, table):  # (a model folder keeps the name's letters: rf_0_pwned, inert)
        assert "\x1b" not in text and "\x07" not in text and "]0;pwned" not in text
        assert f"title {REPLACEMENT}" in text and f"RF {REPLACEMENT}" in text


# ---- class 8, further cases

def test_a_folder_of_other_files_is_named_not_opened_as_zarr(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("a.txt", "b.csv", "c.json", "d.xml"):
        (folder / name).write_text("x")
    with pytest.raises(InputError, match=r"is a folder of a.txt, b.csv, c.json and 1 more, not a stack"):
        open_local_stack(folder)


def test_closing_the_cluster_silences_distributeds_shutdown_logs_only(caplog):
    """Comms closed on purpose at shutdown log nothing; the loggers' levels are restored after it (synthetic
    client and cluster: the close order and the logging are the point)."""
    closed = []

    class Closing:
        def __init__(self, name):
            self.name = name

        def close(self, timeout=None):
            closed.append(self.name)
            logging.getLogger("distributed.comm.tcp").error("Connection closed: CommClosedError (%s)", self.name)

    level = logging.getLogger("distributed").level
    with caplog.at_level(logging.DEBUG):
        close_quietly(Closing("client"), Closing("cluster"))
        logging.getLogger("distributed.comm.tcp").error("a real error after the shutdown")
    assert closed == ["client", "cluster"]
    assert [r.getMessage() for r in caplog.records] == ["a real error after the shutdown"]
    assert logging.getLogger("distributed").level == level


def test_assess_prints_class_names_of_a_map_without_escapes(maps, tmp_path):
    hostile = (f"corn{OSC}", *CLASSES[1:])
    with rasterio.open(maps["map"]) as src:
        band = src.read(1)
    hostile_map = maps["raster"]("hostile.tif", band, hostile)
    points = design(str(hostile_map), tmp_path / "p.csv", min_per_class=10, seed=2).path
    result = cli("assess", "--map", hostile_map, "--reference", points, "--reference-raster",
                 maps["raster"]("hostile_labels.tif", maps["truth"], hostile), "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "pwned" not in result.output and f"corn{REPLACEMENT}" in result.output
