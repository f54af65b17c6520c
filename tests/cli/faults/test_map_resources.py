"""Items 3, 4 and 6 and the scheduler traceback: memory flat in the number of tiles (a tile task carries a
tile and a key, never the stack), --workers capped against cores and memory (and 64 never hangs), a bad
--scheduler a one-line error, a --year outside the data an error naming the years it covers."""
from __future__ import annotations

import os

import cloudpickle
import pytest
from shapely.geometry import box

from gee_crop.errors import InputError, SeasonError
from gee_crop.mapping.sources import EarthEngineSource, LocalStackSource
from gee_crop.mapping.tiling import Tile
from gee_crop.mapping.cluster import submit_tiles, worker_count
from gee_crop.mapping.engine import run_map
from gee_crop.mapping.tasks import TilePlan
from gee_crop.models.io import ModelFile
from tests.cli.faults.conftest import FAST
from tests.timing import hang_guarded

#: seconds on a quiet machine (2 cores): the 16-tile map on a capped local cluster, and refusing a bad scheduler
QUIET_LOCAL_CLUSTER_S = 6.0
QUIET_SCHEDULER_ERROR_S = 10.0  # a TCP connect that times out


class RecordingClient:
    """Stands for a Dask client: records what each submitted task would carry (synthetic, pure logic)."""

    def __init__(self):
        self.scattered, self.calls = [], []

    def scatter(self, data, **kwargs):
        self.scattered.append(len(cloudpickle.dumps(data)))
        return "plan-key"  # Dask sends a Future, which pickles as its key

    def map(self, func, *iterables, **kwargs):
        self.calls.append((func, iterables, kwargs))
        return []


def task_payloads(plan, tiles) -> list[int]:
    client = RecordingClient()
    submit_tiles(client, plan, tiles)
    func, iterables, kwargs = client.calls[0]
    extra = {k: v for k, v in kwargs.items() if k not in ("key", "pure")}
    return [len(cloudpickle.dumps((func, args, extra))) for args in zip(*iterables)], client.scattered


def test_a_tile_task_carries_a_tile_not_the_stack(patch_stack, tiny_onnx, contract, season_2019):
    plan = TilePlan(LocalStackSource(patch_stack), ModelFile.read(tiny_onnx), contract, season_2019, None, None,
                    None, False, 512, 1, None, "fp32", None, None)
    few = [Tile(r, c, 16, 16) for r in range(0, 64, 16) for c in range(0, 64, 16)]            # 16 tiles
    many = [Tile(r, c, 1, 1) for r in range(64) for c in range(64)]                            # 4,096 tiles
    (payload_few, scattered_few), (payload_many, scattered_many) = task_payloads(plan, few), task_payloads(plan, many)
    stack_bytes = patch_stack.dn.nbytes
    assert scattered_few == scattered_many and scattered_few[0] > stack_bytes  # the plan travels once
    assert max(payload_many) == max(payload_few) < 2_000 < stack_bytes / 1000  # a task: a tile and a key
    assert len(payload_many) == 4096


def test_workers_are_capped_at_the_cores_and_memory():
    cores = len(os.sched_getaffinity(0))
    workers, note = worker_count(64, 1000, 1_000)
    assert workers == cores and "capped at" in note and "CPU cores" in note
    workers, note = worker_count(None, 1000, 10**15)  # a tile needing a petabyte: one at a time
    assert workers == 1
    with pytest.raises(InputError, match="--workers 0 must be at least 1"):
        worker_count(0, 10, 1)


def test_sixty_four_workers_on_the_local_cluster_finish(tmp_path, patch_stack, tiny_onnx):
    with hang_guarded(QUIET_LOCAL_CLUSTER_S, "a map on a 64-worker local cluster"):
        result = run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=16, workers=64,
                         scheduler="local", progress=False)
    assert result.n_tiles == 16 and result.workers <= len(os.sched_getaffinity(0))
    assert result.notes and "capped" in result.notes[0]


@pytest.mark.parametrize("address, message", [
    ("lcoal", "neither local, threads, synchronous nor the address"),
    ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
])
def test_a_bad_scheduler_is_a_one_line_error(tmp_path, patch_stack, tiny_onnx, address, message):
    with hang_guarded(QUIET_SCHEDULER_ERROR_S, f"refusing --scheduler {address}"), \
            pytest.raises(InputError, match=message):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", tile_size=32, scheduler=address,
                progress=False)


def test_a_year_outside_the_stack_names_the_years_it_covers(tmp_path, patch_stack, tiny_onnx):
    with pytest.raises(SeasonError, match=r"no acquisition in the season.*cover the season\(s\) of 2018, 2019: "
                                          r"pass --year 2019"):
        run_map(LocalStackSource(patch_stack), tiny_onnx, tmp_path / "map", year=2015, **FAST)
    assert not (tmp_path / "map").exists()


def test_a_year_outside_sentinel2_on_earth_engine_is_refused(tmp_path, tiny_onnx, offline_ee):
    with pytest.raises(SeasonError, match="outside the Sentinel-2 L2A data on Earth Engine.*--year from 2017"):
        run_map(EarthEngineSource(client=None), tiny_onnx, tmp_path / "map", year=2012,
                region=box(4.0, 50.0, 4.01, 50.01), **FAST)
