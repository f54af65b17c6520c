"""The shipped demo data (data/demo.py): the Flanders 2019 patch inside the package, the samples
``gee-crop demo`` draws from it and the pixels ``export`` checks and calibrates on without a table."""
from __future__ import annotations

import numpy as np

from gee_crop.data import demo
from gee_crop.testing import demo_data, paths


def test_the_demo_patch_ships_inside_the_package():
    patch = demo.demo_patch()
    assert demo.demo_patch_dir().parent.name == "demo" and demo.demo_patch_dir().name == demo.DEMO_PATCH_ID
    assert patch.shape == (64, 64) and patch.resolution == 10 and len(patch.dates) == 72


def test_demo_samples_follow_the_scaled_sampling_rules():
    samples = demo.demo_samples()
    assert len(samples) == 1119 and set(samples.region) == {demo.DEMO_REGION}
    # one sample per labelled pixel left by the 10 m buffer and spacing: no two share a pixel
    assert len(np.unique(np.stack([samples.lon, samples.lat]), axis=1)[0]) == 1119
    again = demo.demo_samples(seed=0)
    np.testing.assert_array_equal(samples.labels, again.labels)


def test_demo_pixels_spread_evenly_over_the_patch():
    pixels = demo.demo_pixels()
    assert len(pixels) == (64 // 8) ** 2 and len(demo.demo_pixels(step=16)) == 16
    expected = [f"{demo.DEMO_PATCH_ID}_r{r:03d}c{c:03d}" for r in range(0, 64, 8) for c in range(0, 64, 8)]
    assert list(pixels.sample_id) == expected


def test_testing_re_exports_the_demo_data_for_tests():
    assert demo_data.demo_samples is demo.demo_samples and demo_data.demo_pixels is demo.demo_pixels
    assert paths.demo_patch_dir is demo.demo_patch_dir
