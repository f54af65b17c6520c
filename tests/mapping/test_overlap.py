"""Fetch and compute overlapped on Earth Engine, and ``map --dry-run``: the real patch served through
the real client's retry loop (FakeEarthEngineClient) behind an injected latency."""
from __future__ import annotations

import threading
import time

import pytest

from gee_crop import cli
from gee_crop.config import SourceKind
from gee_crop.mapping.engine import plan_map, run_map
from gee_crop.mapping.overlap import run_overlapped
from gee_crop.mapping.request import MapRequest, MapSettings, SourceRequest
from gee_crop.mapping.sources import EarthEngineSource, LocalStackSource
from gee_crop.pipeline.map import map_command
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.fake_ee_patch import PatchComputePixels
from gee_crop.testing.slow_ee import SimulatedLink, most_overlapping
from tests.mapping.conftest import class_band

FAST = dict(progress=False)


@pytest.fixture
def ee_options(patch_stack):
    return dict(region=LocalStackSource(patch_stack).footprint(), year=2019, crs="EPSG:32631", tile_size=16)


def test_requests_in_flight_stay_bounded_under_latency(offline_ee, tmp_path, patch_stack, tiny_onnx, contract,
                                                       season_2019, ee_options, reference_run):
    link = SimulatedLink(PatchComputePixels(patch_stack, contract, season_2019).compute_pixels,
                         seconds_per_request=0.15, bytes_per_second=None, rendezvous=4)
    client = FakeEarthEngineClient(pixels=link.compute_pixels)
    result = run_map(EarthEngineSource(client, encoding="uint16"), tiny_onnx, tmp_path / "ee", scheduler="threads",
                     in_flight=4, workers=2, **ee_options, **FAST)
    assert link.requests == client.requests == result.n_tiles == len(link.intervals) == 16
    # overlap from the order of starts and ends, not from seconds: the first 4 requests waited for each
    # other (a map that fetched one tile at a time would never have released them), and never more than
    # 4 were open at once, however loaded the machine
    assert not link.rendezvous_missed, "the first 4 requests were never in flight together"
    overlapping = [(a, b) for a in link.intervals for b in link.intervals if a < b and b[0] < a[1]]
    assert overlapping, f"no two requests overlapped: {sorted(link.intervals)}"
    assert most_overlapping(link.intervals) == link.max_in_flight == 4
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()


def test_in_flight_is_capped_at_the_clients_concurrency(offline_ee, tmp_path, patch_stack, tiny_onnx, contract,
                                                        season_2019, ee_options):
    link = SimulatedLink(PatchComputePixels(patch_stack, contract, season_2019).compute_pixels,
                         seconds_per_request=0.05, bytes_per_second=None, rendezvous=2)
    client = FakeEarthEngineClient(pixels=link.compute_pixels)
    client.max_concurrent = 2  # a project with a lower quota
    run_map(EarthEngineSource(client), tiny_onnx, tmp_path / "ee", scheduler="threads", in_flight=40, **ee_options,
            **FAST)
    assert not link.rendezvous_missed  # 2 were in flight together ...
    assert len(link.intervals) == 16 and most_overlapping(link.intervals) == link.max_in_flight == 2  # ... never 3


def test_kill_and_resume_with_overlap_gives_the_same_map(offline_ee, tmp_path, patch_stack, tiny_onnx, contract,
                                                         season_2019, ee_options, reference_run):
    class Killed(BaseException):
        """Stands for SIGKILL: not a user error, so nothing catches it."""

    server = PatchComputePixels(patch_stack, contract, season_2019)
    started, lock = [], threading.Lock()

    def kill_after_five(tile):
        with lock:
            if len(started) >= 5:
                raise Killed
            started.append(tile.name)

    slow = FakeEarthEngineClient(pixels=SimulatedLink(server.compute_pixels, 0.02, None).compute_pixels)
    with pytest.raises(Killed):
        run_map(EarthEngineSource(slow, encoding="uint16"), tiny_onnx, tmp_path / "ee", scheduler="threads", in_flight=4,
                tile_hook=kill_after_five, **ee_options, **FAST)
    assert not (tmp_path / "ee" / "map.tif").exists()
    kept = {p.stem for p in (tmp_path / "ee" / "tiles").glob("tile_*.tif")}
    assert 1 <= len(kept) <= 5 and kept <= set(started)

    redone = []
    again = FakeEarthEngineClient(pixels=SimulatedLink(server.compute_pixels, 0.02, None).compute_pixels)
    result = run_map(EarthEngineSource(again, encoding="uint16"), tiny_onnx, tmp_path / "ee", scheduler="threads",
                     in_flight=4, tile_hook=redone.append, **ee_options, **FAST)
    assert result.n_tiles_resumed + len(redone) == 16 and result.n_tiles_resumed >= 1
    assert again.requests == len(redone)  # finished tiles are neither fetched nor classified again
    assert class_band(result).tobytes() == class_band(reference_run).tobytes()


def test_dry_run_numbers_are_what_the_run_then_does(offline_ee, tmp_path, patch_stack, tiny_onnx, contract,
                                                    season_2019, ee_options):
    server = PatchComputePixels(patch_stack, contract, season_2019)
    client = FakeEarthEngineClient(pixels=server.compute_pixels)
    source = EarthEngineSource(client, encoding="uint16")
    plan = plan_map(source, tiny_onnx, tmp_path / "ee", **ee_options)
    assert client.requests == 0 and not (tmp_path / "ee").exists()  # nothing fetched, nothing written
    result = run_map(source, tiny_onnx, tmp_path / "ee", scheduler="threads", **ee_options, **FAST)
    assert (plan.n_tiles, plan.requests, plan.bytes_fetched) == (result.n_tiles, client.requests,
                                                                 result.bytes_fetched) == (16, 16, 4096 * 860)
    assert plan.bytes_per_pixel == result.bytes_per_pixel == 860
    assert plan.region_pixels == 4096 and plan.rates.source == "defaults"
    # the defaults: 3 s per request, 25 MB/s, 8 in flight; 16 tiles of 220 kB are latency-bound
    assert plan.fetch_seconds == pytest.approx(16 / (8 / (3 + 16 * 16 * 860 / 25e6)) + 3)
    assert plan.local_seconds == pytest.approx(4096 / plan.rates.local_pixels_per_second)
    # a rerun after the map is done has nothing left to fetch
    done = plan_map(source, tiny_onnx, tmp_path / "ee", **ee_options)
    assert (done.n_tiles_done, done.requests, done.bytes_fetched) == (16, 0, 0)


def test_dry_run_reads_the_rates_of_a_pilot(offline_ee, tmp_path, patch_stack, tiny_onnx, contract, season_2019,
                                            ee_options):
    pilot = tmp_path / "ee.pilot" / "pilot.json"
    pilot.parent.mkdir()
    pilot.write_text('{"seconds_per_request": 1.0, "bytes_per_second": 1e6, "local_pixels_per_second": 512}')
    # the command's path: the pilot beside --out is found by the dry run of the request
    request = MapRequest(tiny_onnx, tmp_path / "ee", SourceRequest(SourceKind.EARTHENGINE, encoding="uint16"),
                         MapSettings(in_flight=16, **ee_options), dry_run=True)
    plan = map_command(request)
    assert plan.rates.source == str(pilot) and plan.local_seconds == 8.0
    # 16 tiles of 220,160 B over 1 MB/s with 16 in flight: bandwidth-bound at 16 x 0.22 s, plus one latency
    assert plan.fetch_seconds == pytest.approx(16 * 16 * 16 * 860 / 1e6 + 1)


def test_cli_dry_run_needs_no_credentials_and_writes_nothing(tmp_path, patch_dir, tiny_onnx, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setitem(cli.COMMANDS, "map", "map")
    out = tmp_path / "aoi_map"
    result = CliRunner().invoke(cli.main, ["map", "--bbox", "4.07,50.74,4.08,50.75", "--year", "2019", "--model",
                                           str(tiny_onnx), "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: " in result.output and "computePixels requests" in result.output
    assert "(defaults)" in result.output and not out.exists()
    local = CliRunner().invoke(cli.main, ["map", "--source", str(patch_dir), "--model", str(tiny_onnx), "--out",
                                          str(out), "--tile-size", "32", "--dry-run"])
    assert local.exit_code == 0, local.output
    assert "dry run: 4 tiles of up to 32 x 32 px (0 already done, 4 to do), 4,096 px" in local.output
    assert "local source: nothing is fetched" in local.output and not out.exists()


def test_most_overlapping_counts_open_intervals():
    """Pure logic on synthetic tick intervals."""
    assert most_overlapping([]) == 0
    assert most_overlapping([(0, 1), (2, 3), (4, 5)]) == 1  # one after another
    assert most_overlapping([(0, 5), (1, 2), (3, 7), (4, 6)]) == 3  # (0,5), (3,7) and (4,6) open at tick 4


def test_overlap_holds_at_most_in_flight_plus_workers_tiles():
    """Pure concurrency logic (synthetic items, no data): fetches in flight and tiles held stay bounded."""
    lock = threading.Lock()
    state = {"fetching": 0, "held": 0, "max_fetching": 0, "max_held": 0}

    def fetch(item):
        with lock:
            state["fetching"] += 1
            state["held"] += 1
            state["max_fetching"] = max(state["max_fetching"], state["fetching"])
            state["max_held"] = max(state["max_held"], state["held"])
        time.sleep(0.01)
        with lock:
            state["fetching"] -= 1
        return item * 2

    def compute(item, value):
        time.sleep(0.03)
        with lock:
            state["held"] -= 1
        return value

    seen = []
    reports = run_overlapped(range(40), fetch, compute, in_flight=3, workers=2, finished=seen.append)
    assert sorted(reports) == sorted(seen) == [2 * i for i in range(40)]
    assert state["max_fetching"] == 3 and state["max_held"] <= 3 + 2
