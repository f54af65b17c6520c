"""The one-pixel evaluator follows Earth Engine's pixel rules: bands pair up (one-band operands broadcast)
and keep the left names, masks combine with AND, division by zero is masked. Constant images only, so
these graphs are hand-made (synthetic: pure logic)."""
from __future__ import annotations

import math

import ee
import pytest

from gee_crop.testing.ee_pixel_eval import evaluate_pixel

pytestmark = pytest.mark.usefixtures("offline_ee")


def test_binary_operations_pair_bands_and_keep_the_left_names():
    two = ee.Image.constant([1, 2]).rename(["a", "b"])
    assert evaluate_pixel(two.add(10)) == [("a", 11.0, True), ("b", 12.0, True)]
    assert evaluate_pixel(two.multiply(ee.Image.constant([3, 4]))) == [("a", 3.0, True), ("b", 8.0, True)]
    assert evaluate_pixel(ee.Image.constant(5).subtract(two)) == [("constant", 4.0, True), ("constant", 3.0, True)]
    assert evaluate_pixel(two.max(ee.Image.constant(1.5))) == [("a", 1.5, True), ("b", 2.0, True)]
    assert evaluate_pixel(two.lte(1)) == [("a", 1.0, True), ("b", 0.0, True)]
    with pytest.raises(ValueError, match="band counts differ: 2 vs 3"):
        evaluate_pixel(two.add(ee.Image.constant([1, 2, 3])))


def test_division_by_zero_is_masked():
    (name, value, valid), = evaluate_pixel(ee.Image.constant(3).divide(0))
    assert name == "constant" and math.isnan(value) and not valid
    assert evaluate_pixel(ee.Image.constant(3).divide(2)) == [("constant", 1.5, True)]


def test_masks_combine_and_unmask_fills():
    masked = ee.Image.constant(3).updateMask(ee.Image.constant(0))
    (_, _, valid), = evaluate_pixel(masked)
    assert not valid
    assert evaluate_pixel(masked.unmask(7)) == [("constant", 7.0, True)]
    (_, value, valid), = evaluate_pixel(masked.add(1))  # a masked operand masks the result
    assert math.isnan(value) and not valid
    assert evaluate_pixel(ee.Image.constant(3).updateMask(ee.Image.constant(1))) == [("constant", 3.0, True)]


def test_select_add_bands_round_and_uint16():
    three = ee.Image.constant([1, 2, 3])
    assert evaluate_pixel(three.select(["constant_2", "constant_0"])) == [("constant_2", 3.0, True),
                                                                           ("constant_0", 1.0, True)]
    assert evaluate_pixel(ee.Image.constant(1).rename(["x"]).addBands(ee.Image.constant(2).rename(["y"]))) == [
        ("x", 1.0, True), ("y", 2.0, True)]
    assert evaluate_pixel(ee.Image.constant(2.5).round()) == [("constant", 3.0, True)]  # floor(x + 0.5)
    assert evaluate_pixel(ee.Image.constant(-4).toUint16()) == [("constant", 0.0, True)]
    assert evaluate_pixel(ee.Image.constant(70000).toUint16()) == [("constant", 65535.0, True)]


def test_an_operation_it_does_not_know_is_refused():
    with pytest.raises(NotImplementedError, match=r"Image\.sqrt is not supported"):
        evaluate_pixel(ee.Image.constant(4).sqrt())
