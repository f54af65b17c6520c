"""The sqrt8 encoding of Earth Engine map requests: one byte per value, on the real demo patch."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio

from gee_crop.config import Encoding
from gee_crop.earthengine.composite import (SQRT8_MAX, SQRT8_STEPS, composite_band_names, decode_sqrt8, encode_sqrt8,
                                            sqrt8_error_bound)
from gee_crop.features.composite import composite_pixels, stack_arrays
from gee_crop.mapping.sources import CompositeRequest, EarthEngineSource, LocalStackSource, decode_pixels
from gee_crop.mapping.engine import plan_map, run_map
from gee_crop.testing.fake_ee_patch import PatchComputePixels

FAST = dict(scheduler="synchronous", progress=False)


@pytest.fixture(scope="module")
def patch_reflectance(patch_stack, contract, season_2019) -> np.ndarray:
    """Every valid gap-filled composite value of the real patch (float reflectance)."""
    c = composite_pixels(stack_arrays(patch_stack, threshold=contract.cloud_threshold), season_2019.start_day,
                         season_2019.window_days, season_2019.n_bins, max_gap_bins=contract.max_gap_bins)
    return c.values[c.keep]


def test_round_trip_error_stays_within_the_bound_on_real_reflectance(patch_reflectance):
    r = patch_reflectance
    assert r.size > 1_000_000 and 0 <= r.min() and r.max() < SQRT8_MAX
    code = encode_sqrt8(r)
    assert code.dtype == np.uint8 and code.min() >= 1  # 0 is kept for "masked"
    error = np.abs(decode_sqrt8(code) - r)
    assert (error <= sqrt8_error_bound(r) + 1e-6).all()
    # the bound in numbers: 8 DN at reflectance 0.04, 22 DN at 0.3; measured on the patch
    assert sqrt8_error_bound(np.array([0.04, 0.3])) == pytest.approx([0.000791, 0.002160], abs=2e-6)
    assert error.max() <= 1 / SQRT8_STEPS + 1 / (4 * SQRT8_STEPS ** 2)
    # measured on the patch's 1.76 M values: median 0.00072, max 0.00347 (7 and 35 DN)
    assert np.median(error) < 0.00075 and error.max() < 0.0036
    assert encode_sqrt8(np.array([np.nan, 0.0, -0.01, 1.0, 3.0])).tolist() == [0, 1, 1, 255, 255]
    assert np.isnan(decode_sqrt8(np.array([0], dtype=np.uint8))).all()


def test_decode_pixels_turns_codes_into_dn():
    """Synthetic codes (pure logic): decoded band-major, a pixel with any 0 code is masked."""
    names = composite_band_names(3)
    pixels = np.zeros((1, 2), dtype=[(n, np.uint8) for n in names])
    for name in names:
        pixels[name] = [255, 128]
    pixels[names[5]][0, 0] = 0
    dn = decode_pixels(pixels, 3, Encoding.SQRT8)
    assert dn.dtype == np.uint16 and dn.shape == (1, 2, 10, 3)
    assert (dn[0, 0] == 0).all() and (dn[0, 1] == round(1e4 * (127 / 254) ** 2)).all()


def test_fake_serves_uint8_and_the_source_asks_for_half_the_bytes(offline_ee, patch_stack, local_source, contract,
                                                                  season_2019):
    from gee_crop.mapping.tiling import grid_for_region, plan_tiles

    grid = grid_for_region(local_source.footprint(), crs=patch_stack.crs, scale=10,
                           origin=local_source.default_grid_origin(patch_stack.crs))
    fake = PatchComputePixels(patch_stack, contract, season_2019)
    source = EarthEngineSource(fake)
    assert source.encoding is Encoding.SQRT8  # the default
    for tile in plan_tiles(grid, 40):
        remote = source.read_tile(tile, CompositeRequest(grid, contract, season_2019))
        local = local_source.read_tile(tile, CompositeRequest(grid, contract, season_2019))
        np.testing.assert_array_equal(remote.valid, local.valid)
        assert remote.bytes_fetched == source.request_bytes(tile, season_2019) == tile.n_pixels * 430
        x, y = remote.reflectance(), local.reflectance()
        assert (np.abs(x - y) <= sqrt8_error_bound(y) + 1e-4).all()  # + half a DN each side
    assert len(fake.requests) == 4
    answer = fake.compute_pixels(fake.requests[0]["expression"], fake.requests[0]["grid"],
                                 fake.requests[0]["band_ids"])
    assert {answer.dtype[n] for n in answer.dtype.names} == {np.dtype(np.uint8)}
    graph = fake.requests[0]["expression"].serialize()
    assert '"Image.toUint8"' in graph and '"Image.sqrt"' in graph and '"Image.toUint16"' not in graph


def test_sqrt8_map_equals_the_uint16_map(offline_ee, tmp_path, patch_stack, tiny_onnx, contract, season_2019):
    options = dict(region=LocalStackSource(patch_stack).footprint(), year=2019, crs="EPSG:32631", tile_size=32,
                   **FAST)
    maps = {}
    for encoding in Encoding:
        source = EarthEngineSource(PatchComputePixels(patch_stack, contract, season_2019), encoding=encoding)
        plan = plan_map(source, tiny_onnx, tmp_path / encoding.value, **options)
        result = run_map(source, tiny_onnx, tmp_path / encoding.value, **options)
        assert plan.bytes_fetched == result.bytes_fetched
        assert result.bytes_per_pixel == plan.bytes_per_pixel == {"uint16": 860, "sqrt8": 430}[encoding.value]
        assert result.min_bytes_per_pixel == 860  # reported against the uint16 minimum
        with rasterio.open(result.cog) as src:
            maps[encoding] = src.read(1)
    same = np.mean(maps[Encoding.SQRT8] == maps[Encoding.UINT16])
    # measured on the patch with the tiny model: 99.90 % of the 4,096 pixels (4 differ)
    assert same >= 0.995


def test_map_dry_run_bytes_follow_the_encoding(tmp_path, tiny_onnx):
    """``gee-crop map --dry-run`` prices the encoding asked for: 430 B/px by default, 860 with uint16."""
    from click.testing import CliRunner

    from gee_crop.cli import main

    args = ["map", "--bbox", "4.06,50.744,4.066,50.748", "--year", "2019", "--model", str(tiny_onnx), "--dry-run",
            "--out", str(tmp_path / "m")]
    default = CliRunner().invoke(main, args)
    uint16 = CliRunner().invoke(main, args + ["--encoding", "uint16"])
    assert default.exit_code == 0 and uint16.exit_code == 0, default.output + uint16.output
    assert "(430 B/px; lossless 860)" in default.output and "(860 B/px; lossless 860)" in uint16.output
    assert not (tmp_path / "m").exists()


def test_the_sqrt8_tables_decode_every_code_as_the_formula_does():
    """All 256 codes (pure logic, synthetic): the looked-up DN and model reflectance are, bit for bit, the
    value-by-value decoding (decode_sqrt8, then quantize_dn, then DN / 10,000), so the map's class band
    is unchanged by the tables."""
    from gee_crop.mapping.sources import TileComposite, quantize_dn, sqrt8_dn_table, sqrt8_reflectance_table

    codes = np.arange(256, dtype=np.uint8)
    dn = quantize_dn(decode_sqrt8(codes))
    assert np.array_equal(sqrt8_dn_table(), dn) and sqrt8_dn_table()[0] == 0
    reflectance = dn.astype(np.float32) / np.float32(1e4)
    assert sqrt8_reflectance_table().tobytes() == reflectance.tobytes()
    values = np.tile(codes[1:], 2)[: 10 * 43].reshape(1, 1, 10, 43)
    composite = TileComposite(values, np.ones((1, 1), bool), encoding=Encoding.SQRT8)
    assert composite.reflectance().tobytes() == reflectance[values].reshape(1, 1, 10, 43).tobytes()
    assert np.array_equal(composite.dn, dn[values])


def test_sqrt8_codes_looked_up_in_pairs_give_the_floats_of_one_code_at_a_time():
    """Synthetic codes (every value 0-255, odd and even band counts): the pair table's gather equals the
    one-code table's, bit for bit, including rows given by the caller (a strided selection)."""
    import numpy as np

    from gee_crop.config import Encoding
    from gee_crop.mapping.sources import TileComposite, sqrt8_reflectance_table

    rng = np.random.default_rng(0)
    for n_bins in (43, 7):
        codes = rng.integers(0, 256, (6, 11, 10, n_bins), dtype=np.uint8)
        valid = rng.random((6, 11)) < 0.8
        tile = TileComposite(codes, valid, 0, Encoding.SQRT8)
        expected = sqrt8_reflectance_table()[codes[valid]][:, None]
        assert tile.reflectance().dtype == np.float32
        assert np.array_equal(tile.reflectance(), expected)
        rows = codes[valid][::3]
        assert np.array_equal(tile.reflectance(rows), sqrt8_reflectance_table()[rows][:, None])
