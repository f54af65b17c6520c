"""Random and spatial-block splits on real sample locations."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.data.splits import block_ids, random_split, spatial_block_split
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.errors import InputError


@pytest.fixture(scope="module")
def fra(shared_data):
    """500 real sample locations in south-west France (2023 dekadal extraction)."""
    return read_worldcereal(shared_data / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")


def test_random_split_is_80_20_disjoint_and_seeded():
    train, test = random_split(500, 0.2, seed=1)
    assert len(test) == 100 and len(train) == 400
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(500))
    again = random_split(500, 0.2, seed=1)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert not np.array_equal(test, random_split(500, 0.2, seed=2)[1])


def test_block_split_never_shares_a_block(fra):
    train, test = spatial_block_split(fra.lon, fra.lat, block_m=10_000, test_fraction=0.2, seed=0)
    blocks = block_ids(fra.lon, fra.lat, 10_000)
    assert not set(blocks[train]) & set(blocks[test])
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(fra)))
    assert 0.15 <= len(test) / len(fra) <= 0.25


def test_block_split_is_deterministic_per_seed(fra):
    a = spatial_block_split(fra.lon, fra.lat, block_m=10_000, seed=5)
    b = spatial_block_split(fra.lon, fra.lat, block_m=10_000, seed=5)
    c = spatial_block_split(fra.lon, fra.lat, block_m=10_000, seed=6)
    assert np.array_equal(a[1], b[1]) and not np.array_equal(a[1], c[1])


def test_blocks_are_about_block_m_wide():
    # synthetic: points 1 km apart along a parallel at 60 deg N and along a meridian
    lat = np.full(50, 60.0)
    lon = 10.0 + np.arange(50) * np.degrees(1000 / (6_371_008.8 * np.cos(np.radians(60))))
    assert len(np.unique(block_ids(lon, lat, 10_000))) in (5, 6)
    lat_m = 60.0 + np.arange(50) * np.degrees(1000 / 6_371_008.8)
    assert len(np.unique(block_ids(np.full(50, 10.0), lat_m, 10_000))) in (5, 6)


def test_split_errors_say_what_to_change(fra):
    near = fra.subset(np.argsort(fra.lon)[:1].repeat(3))  # the same real location three times
    with pytest.raises(InputError, match="all 3 samples fall into one 10000 m block; use a smaller block size"):
        spatial_block_split(near.lon, near.lat, block_m=10_000)
    with pytest.raises(InputError, match="between 0 and 1"):
        random_split(10, 1.5)
    with pytest.raises(InputError, match="positive"):
        spatial_block_split(fra.lon, fra.lat, block_m=0)

