"""The synthetic classifier the ``map --on-server`` tests put in place of ``server_classification`` (SYNTHETIC:
a threshold on one band of the real composite), shared by test_on_server.py and test_on_server_parcels.py."""
from __future__ import annotations

import ee

from gee_crop.classes import CLASSES

BAND, THRESHOLD = "B8_t20", 128  # class 1 where the sqrt8 code of B8 in bin 20 > 128


def synthetic_classification(model, composite, *, probabilities=False, encoding=None):
    """Synthetic: class 1 where the sqrt8 code of B8 in bin 20 > THRESHOLD, else 0; confidence 77;
    p_<class 1> 77 / 23 and p_<class 0> its complement; masked where the composite is (code 0)."""
    band = composite.select(BAND)
    high = band.gt(THRESHOLD)
    image = high.rename("class").addBands(ee.Image.constant(77).rename("confidence"))
    if probabilities:
        p1 = high.multiply(54).add(23)
        image = image.addBands(ee.Image.constant(100).subtract(p1).rename(f"p_{CLASSES[0]}"))
        image = image.addBands(p1.rename(f"p_{CLASSES[1]}"))
    return image.updateMask(band.neq(0)).toUint8()
