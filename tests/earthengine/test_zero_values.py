"""Issue 22 finding 8: a valid value must not travel as the nodata 0, and a double code property must
reach ``Number.format('%d')`` as a long. Both on graphs evaluated offline (synthetic values: pure logic)."""
from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_crop.config import Encoding
from gee_crop.earthengine.composite import cast_image, composite_band_names, encode_image
from gee_crop.earthengine.labels import code_key
from gee_crop.mapping.sources import decode_pixels
from gee_crop.testing.ee_pixel_eval import evaluate_pixel
from gee_crop.testing.ee_value_eval import evaluate_value


def test_a_valid_dn_that_rounds_to_zero_is_sent_as_1_and_the_pixel_is_kept():
    """Synthetic pixel: one window's B2 median is 0.3 DN (dark water or shadow), the rest ordinary.
    The graph is EarthEngineSource's: encode, unmask(0), cast; the answer goes through decode_pixels."""
    names = composite_band_names(2)
    values = [0.3] + [1200.0] * (len(names) - 1)
    image = ee.Image.constant(values).rename(names)
    sent = evaluate_pixel(cast_image(encode_image(image, Encoding.UINT16).unmask(0), Encoding.UINT16))
    assert [b[0] for b in sent] == names
    assert sent[0][1] == 1.0, f"the valid 0.3 DN travels as {sent[0][1]:g} (0 is nodata)"
    pixels = np.zeros((1, 1), dtype=[(n, np.uint16) for n in names])
    for name, value, _ in sent:
        pixels[name] = value
    dn = decode_pixels(pixels, 2, Encoding.UINT16)
    assert dn[0, 0, 0, 0] == 1 and dn[0, 0].min() > 0, "decode_pixels dropped a valid pixel"


def test_masked_values_still_travel_as_zero():
    names = composite_band_names(1)
    image = ee.Image.constant([0.0] * len(names)).rename(names).updateMask(0)
    sent = evaluate_pixel(cast_image(encode_image(image, Encoding.UINT16).unmask(0), Encoding.UINT16))
    assert {b[1] for b in sent} == {0.0}


@pytest.mark.parametrize(
    "stored, key",
    [(201.0, "201"), ("201.0", "201"), (201, "201"), ("0201", "201")],  # DBF numeric (double), text, long
)
def test_a_numeric_code_stored_as_a_double_is_keyed_as_an_integer(stored, key):
    code = ee.Feature(None, {"GWSCOD_H": stored}).get("GWSCOD_H")
    try:
        text = evaluate_value(code_key(code, numeric=True))
    except ee.EEException as exc:  # what the service answers: the whole request fails
        text = f"refused: {exc}"
    assert text == key, f"code {stored!r} is keyed as {text!r}, not {key!r}"
