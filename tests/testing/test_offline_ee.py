"""initialize_offline: real graphs serialize without credentials, and nothing reaches the server (the
network guard of tests/conftest.py would fail any socket)."""
from __future__ import annotations

import json

import ee
import pytest

from gee_crop.earthengine.graph import function_names
from gee_crop.testing.offline_ee import algorithms_json_path, initialize_offline, is_offline


def test_graphs_serialize_with_the_real_signatures():
    initialize_offline()
    initialize_offline()  # idempotent
    assert is_offline()
    image = ee.Image("COPERNICUS/S2_SR_HARMONIZED/20190601T104031_20190601T104035_T31UES").select("B4").add(1)
    assert function_names(image) == {"Image.load", "Image.select", "Image.constant", "Image.add"}
    assert "COPERNICUS/S2_SR_HARMONIZED" in image.serialize()
    with open(algorithms_json_path(), encoding="utf-8") as fh:
        names = {a["name"].removeprefix("algorithms/") for a in json.load(fh)["algorithms"]}
    assert set(ee.data.getAlgorithms()) == names  # the signatures in use are the file's
    assert {"Image.load", "Image.select", "Image.add", "Image.toUint8"} <= names


def test_server_calls_raise_without_a_socket():
    initialize_offline()
    with pytest.raises(ee.EEException):
        ee.Number(1).getInfo()

