"""10,000 km² an hour? Teacher vs distilled student, fetch overlapped with compute, bytes per pixel.

One run on this machine prints:

1. px/s of onnxruntime inference (all cores, the same real patch composites) of the teacher CropNet
   2D (paper widths 64-128-256-512) in fp32 and int8 and of the distilled student (TempCNN,
   ``gee-crop train --arch tempcnn --distill-from TEACHER``) in fp32 and int8, with MACs per pixel;
2. the local overhead: the map engine's compute of a tile (decode, masks, model, shift tally, bands,
   GeoTIFF) against the model alone on the same pixels, one core, in alternating rounds: medians,
   per-round range, the ratio of the medians and whether each round's ratio repeated it within 10 %;
3. per fold of real held-out data, teacher (fp32) vs student (int8) OA and macro-F1, paired on the
   same samples, and both on ``sqrt8`` encoded composites (the fixed square-root reflectance
   transform ``gee-crop map`` asks Earth Engine for by default, one byte per value; issue 14, item 3):
     FRA→FRA  WorldCereal France 2023 (dekadal), 80/20 split;
     FRA→BEL  the same models on Flanders 2021 (monthly) — a transfer;
     patch    the demo patch (Flanders 2019, Earth Engine, SCL), pixels split 1:2 train:held-out;
4. the map pipeline (``run_map``, student int8) through the fake Earth Engine client behind an
   injected latency and bandwidth (default 3 s per request, 25 MB/s), on a region of 10 x 10 tiles of
   192 px (the 48 MiB request limit) of the patch composite repeated: the fetch bound, the compute
   bound (of the same run: its pixels over its tiles' compute seconds / workers) and the achieved px/s;
5. bytes per pixel fetched against the 860 B uint16 minimum, and the hours 10,000 km² (10^8 px at
   10 m) implies at each rate.

    .venv/bin/python bench/bench_scale.py            # ~6 min on 2 cores (three teachers trained)
    .venv/bin/python bench/bench_scale.py --quick    # speeds, overhead, overlap (~9 min on the busy 2 cores)
    .venv/bin/python bench/bench_scale.py --overhead-only MODEL   # the overhead row alone (~30 s)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gee_crop.classes import CLASSES, EXCLUDE, class_indices  # noqa: E402
from gee_crop.data.patch import patch_pixels  # noqa: E402
from gee_crop.data.demo import demo_patch  # noqa: E402
from gee_crop.data.worldcereal import read_worldcereal  # noqa: E402
from gee_crop.earthengine.composite import decode_sqrt8, encode_sqrt8  # noqa: E402
from gee_crop.export.onnx import export_onnx  # noqa: E402
from gee_crop.export.quantize import quantize_static_onnx  # noqa: E402
from gee_crop.mapping.sources import CompositeRequest, EarthEngineSource, LocalStackSource  # noqa: E402
from gee_crop.mapping.tiling import Tile, max_ee_tile_size, stack_grid  # noqa: E402
from gee_crop.models.io import load_model, read_contract  # noqa: E402
from gee_crop.models.predict import open_predictor  # noqa: E402
from gee_crop.mapping.engine import run_map  # noqa: E402
from gee_crop.testing.paths import shared_data_dir  # noqa: E402
from gee_crop.training.alignment import align, alignment_for  # noqa: E402
from gee_crop.training.dataset import series_features, stratified_split  # noqa: E402
from gee_crop.training.metrics import classification_report  # noqa: E402
from gee_crop.training.trainer import train  # noqa: E402
from timing import (  # noqa: E402  (bench/timing.py)
    SETTLE_S, AlternatingRounds, alternating_rounds, describe_seconds, macs_per_pixel, timed)

YEAR = 2019
MAX_GAP_BINS = 12  # dekadal / monthly WorldCereal composites and the strict SCL mask of the patch
TEACHER = dict(arch="cropnet2d", widths=(64, 128, 256, 512), learning_rate=1e-3, batch_size=32)
STUDENT = dict(arch="tempcnn", widths=(32, 64, 64, 64), learning_rate=3e-3, batch_size=32)
KM2_PIXELS = 1e8  # 10,000 km² at 10 m


# --------------------------------------------------------------------------- the 8-bit encoding

def sqrt8_roundtrip(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance after the ``sqrt8`` encoding of the server graph and the client's decoding (the one
    transform of gee_crop.earthengine.composite, as ``gee-crop map --encoding sqrt8`` fetches)."""
    return decode_sqrt8(encode_sqrt8(reflectance))


def uint16_roundtrip(reflectance: np.ndarray) -> np.ndarray:
    """What the current uint16 DN path delivers (DN = reflectance x 10,000, rounded)."""
    return (np.rint(reflectance * 1e4) / 1e4).astype(np.float32)


# --------------------------------------------------------------------------- helpers


def quiet_train(series, out: Path, epochs: int, **options) -> Path:
    return train(series, out, epochs=epochs, max_gap_bins=MAX_GAP_BINS, val_fraction=0.0, seed=0,
                 progress=False, echo=lambda _: None, overwrite=True, **options).model_path


def exported(model_pt: Path, calibration_series) -> tuple[Path, Path]:
    """fp32 and int8 ONNX of a model.pt, int8 calibrated on (up to 512) real training inputs."""
    fp32 = export_onnx(model_pt, model_pt.with_suffix(".onnx"), overwrite=True)
    contract = read_contract(model_pt)
    feats = series_features(calibration_series, contract)
    inputs = contract.model_input(feats.values[feats.keep][:512])
    return fp32, quantize_static_onnx(fp32, model_pt.with_suffix(".int8.onnx"), inputs)


def score(model: Path, series, transform=uint16_roundtrip, source: str | None = None,
          target: str | None = None) -> tuple[float, float, int]:
    """OA and macro-F1 of ``model`` on ``series`` (features through ``transform``), after the paper's
    class alignment (as ``gee-crop evaluate`` scores), and the samples scored."""
    predictor = open_predictor(model)
    feats = series_features(series, predictor.contract)
    proba = predictor.predict_proba(transform(feats.values[feats.keep]))
    y_true = class_indices(series.crop_class[feats.keep], CLASSES)
    alignment = alignment_for(source, target)
    y_true, y_pred, _ = align(y_true, proba.argmax(axis=1), alignment.target_classes, alignment.drop_true_classes)
    report = classification_report(y_true, y_pred, len(CLASSES))
    return report.overall_accuracy, report.macro_f1, int(len(y_true))


# --------------------------------------------------------------------------- folds

def folds(patch):
    """(name, training series, [(held-out series, source region, target region)]) of the real data."""
    folder = shared_data_dir() / "wc-extractions"
    fra = read_worldcereal(folder / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")
    bel = read_worldcereal(folder / "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet")
    train_idx, test_idx = stratified_split(fra.labels, 0.2, seed=0)
    names = patch.legend.names(patch.labels)
    rows, cols = np.nonzero(names != EXCLUDE)
    order = np.random.default_rng(0).permutation(len(rows))
    train_px, test_px = order[:600], order[600:1800]
    patch_train = patch_pixels(patch, rows[train_px], cols[train_px], crop_class=names[rows, cols][train_px],
                               region="BEL")
    patch_test = patch_pixels(patch, rows[test_px], cols[test_px], crop_class=names[rows, cols][test_px],
                              region="BEL")
    return [("FRA", fra.subset(train_idx), [("FRA->FRA", fra.subset(test_idx), "FRA", "FRA"),
                                            ("FRA->BEL", bel, "FRA", "BEL")]),
            ("patch", patch_train, [("patch", patch_test, "BEL", "BEL")])]


# --------------------------------------------------------------------------- the overlap

def overlap_rates(patch, model: Path, seconds_per_request: float, bytes_per_second: float, tiles_side: int,
                  in_flight: int, work: Path):
    """Achieved px/s of run_map from the simulated Earth Engine; the fetch bound of the pipe model; the
    compute bound of the same run (its pixels over its compute seconds shared by its workers); bytes per pixel.

    The compute bound is taken from the very run it bounds: at most ``workers`` tiles are computed at once,
    so the run's wall time is at least its tiles' compute seconds / workers, and achieved <= compute bound
    by construction. (A compute bound from a separate run, as this bench once timed it, measures another
    moment of a shared machine: one run printed "achieved = 137 % of the smaller bound".)"""
    import shapely
    from shapely.geometry import box

    from gee_crop.data.regions import WGS84, reproject_geometry
    from gee_crop.mapping.estimate import Rates, fetch_tiles_per_second
    from gee_crop.testing.fake_ee import FakeEarthEngineClient
    from gee_crop.testing.offline_ee import initialize_offline
    from gee_crop.testing.slow_ee import RepeatingPatchServer, SimulatedLink

    initialize_offline()
    contract = read_contract(model)
    season = contract.season.span_at(YEAR, 50.75)
    side = max_ee_tile_size(len(contract.bands) * season.n_bins)
    x0, y1 = patch.upper_left
    extent = tiles_side * side * patch.resolution
    region = reproject_geometry(shapely.segmentize(box(x0, y1 - extent, x0 + extent, y1), 100.0), patch.crs, WGS84)
    server = RepeatingPatchServer(patch, contract, season)
    link = SimulatedLink(server.compute_pixels, seconds_per_request, bytes_per_second)
    client = FakeEarthEngineClient(pixels=link.compute_pixels)
    time.sleep(SETTLE_S)
    result = run_map(EarthEngineSource(client), model, work / "overlap", region=region, year=YEAR, crs=patch.crs,
                     tile_size=side, scheduler="threads", progress=False, overwrite=True, in_flight=in_flight)
    done = [r for r in result.reports if r.status == "done"]
    # a tile's compute stage: its seconds less its fetch (request and answer); the mask step counted as fetch
    compute_s = sum(r.seconds - r.read_seconds for r in done)
    tile_bytes = result.bytes_fetched / result.n_tiles
    tile_px = result.n_pixels_classified / result.n_tiles
    rates = Rates(seconds_per_request, bytes_per_second)
    fetch_bound = fetch_tiles_per_second(tile_bytes, in_flight, rates) * tile_px
    fetch_bound_uint16 = fetch_tiles_per_second(tile_bytes * result.min_bytes_per_pixel / result.bytes_per_pixel,
                                                in_flight, rates) * tile_px
    return dict(fetch_bound=fetch_bound, fetch_bound_uint16=fetch_bound_uint16,
                encoding=EarthEngineSource(None).encoding.value,
                compute_bound=result.n_pixels_classified * result.workers / compute_s,
                achieved=result.pixels_per_second, bytes_per_pixel=result.bytes_per_pixel,
                min_bytes=result.min_bytes_per_pixel, max_in_flight=link.max_in_flight, tiles=result.n_tiles,
                tile=side, pixels=result.n_pixels_classified, workers=result.workers)


# --------------------------------------------------------------------------- the local overhead

def overhead_rounds(patch, model: Path, n_tiles: int, rounds: int, work: Path) -> tuple[AlternatingRounds, int]:
    """The map engine's own cost per pixel beside its model's (issue 24, item 4), on ``n_tiles`` tiles of 192 px
    of the patch composite as Earth Engine answers them (sqrt8 structured arrays, fetched once beforehand).

    Alternating rounds on the same pixels: the reference is the model alone (``predict_proba`` of the tiles'
    valid pixels); the measured step is everything the engine does to those tiles after the fetch
    (``composite_of``: the answer's values and valid mask; ``classify_tile``: region mask, sqrt8 decode to
    the model input, the model, the shift tally, the class and confidence bands, the tile's GeoTIFF written
    and read back). One core, as each map worker runs: one tile per core, a single-threaded onnxruntime
    session, and numpy's BLAS held to one thread (on more threads the shift tally would borrow the other
    core). Returns the rounds and the pixels classified per round."""
    from threadpoolctl import threadpool_limits

    from gee_crop.features.shift import summary_of
    from gee_crop.mapping.sources import composite_of
    from gee_crop.mapping.tasks import TilePlan, classify_tile
    from gee_crop.mapping.tiling import OutputGrid
    from gee_crop.models.io import read_model_file
    from gee_crop.testing.fake_ee import FakeEarthEngineClient
    from gee_crop.testing.offline_ee import initialize_offline
    from gee_crop.testing.slow_ee import RepeatingPatchServer

    initialize_offline()
    model_file = read_model_file(model)
    contract = model_file.contract
    season = contract.season.span_at(YEAR, 50.75)
    side = max_ee_tile_size(len(contract.bands) * season.n_bins)
    x0, y1 = patch.upper_left
    grid = OutputGrid(patch.crs, (patch.resolution, 0.0, x0, 0.0, -patch.resolution, y1), n_tiles * side, side)
    tiles = [Tile(0, i * side, side, side) for i in range(n_tiles)]
    server = RepeatingPatchServer(patch, contract, season)
    answers = []

    def recorded(expression, grid_, band_ids=None):
        answers.append(server.compute_pixels(expression, grid_, band_ids))
        return answers[-1]

    source = EarthEngineSource(FakeEarthEngineClient(pixels=recorded))
    for tile in tiles:
        source.read_tile(tile, CompositeRequest(grid, contract, season))
    (work / "overhead_tiles").mkdir(parents=True, exist_ok=True)
    plan = TilePlan(source, model_file, contract, season, grid, None, work / "overhead_tiles", False, 512, 1, None,
                    "fp32", None, None, summary_of(model_file.meta))
    composites = [composite_of(a, season.n_bins, source.encoding) for a in answers]
    inputs = np.concatenate([c.reflectance() for c in composites])
    predictor = open_predictor(model_file, threads=1, cache=True)  # the very session classify_tile opens

    def model_alone():
        predictor.predict_proba(inputs, plan.batch_size)

    def tile_compute():
        for tile, answer in zip(tiles, answers):
            report = classify_tile(plan, tile, (composite_of(answer, season.n_bins, source.encoding), 0.0))
            assert report.status == "done", report.error

    with threadpool_limits(1):
        model_alone(), tile_compute()  # warm-up: sessions, tables, caches
        return alternating_rounds(model_alone, tile_compute, len(inputs), rounds), len(inputs)


def print_overhead(patch, model: Path, args, work: Path) -> None:
    """The overhead row: medians, ranges, the ratio and whether it repeated (see :func:`overhead_rounds`)."""
    rounds, n_px = overhead_rounds(patch, model, args.overhead_tiles, args.rounds, work)
    print(f"local overhead, {model.name}, one core (a map worker: single-threaded session, BLAS 1 thread), "
          f"{args.overhead_tiles} tiles of 192 px from the simulated Earth Engine (sqrt8), {n_px:,} px, "
          f"{args.rounds} alternating rounds:")
    print(f"  model alone   {describe_seconds(rounds.reference)}")
    print(f"  tile compute  {describe_seconds(rounds.measured)}  (decode, masks, model, shift tally, bands, GeoTIFF)")
    print(f"  overhead ratio {rounds.ratio:.2f}x of the model's time per pixel (target <= 1.5x); {rounds.spread()}")


# --------------------------------------------------------------------------- main

def server_path_rows() -> None:
    """Rows of the on-server route (``gee-crop map --on-server``, issue 24 item 5): bytes home per pixel,
    requests per 10,000 km², and the France plan (tasks, bytes, EECU at the planning default), all planned
    without credentials, exactly as ``gee-crop map --country FRA --on-server --dry-run`` plans them."""
    from gee_crop.countries import country_region
    from gee_crop.earthengine.map_exports import BYTES_PER_PIXEL, EXPORT_TILE_SIZE
    from gee_crop.mapping.request import MapSettings, OnServer
    from gee_crop.mapping.server_map import plan_server_map
    from gee_crop.models.io import ModelFile
    from gee_crop.models.zoo import resolve_model

    model = ModelFile.read(resolve_model(None)[0])
    plan = plan_server_map(EarthEngineSource(object()), model, MapSettings(region=country_region("FRA"), year=2023),
                           Path(tempfile.mkdtemp(prefix="bench_fra_")), OnServer("FRA"))
    local_side = plan.local_tile_size
    print(f"on-server route (model {model.path.name}, sqrt8 local route of {plan.local_bytes_per_pixel} B/px):")
    print(f"  bytes home per pixel: server {BYTES_PER_PIXEL} B (class + confidence) | local "
          f"{plan.local_bytes_per_pixel} B ({plan.local_bytes_per_pixel / BYTES_PER_PIXEL:.0f}x more)")
    print(f"  requests per 10,000 km² (10^8 px at 10 m): server {math.ceil(KM2_PIXELS / EXPORT_TILE_SIZE**2)} batch tasks "
          f"of {EXPORT_TILE_SIZE} px | local {math.ceil(KM2_PIXELS / local_side**2):,} computePixels of {local_side} px")
    print(f"  France ({plan.area_km2:,.0f} km², {plan.region_pixels:,} px): {len(plan.tiles)} batch tasks, "
          f"{plan.bytes_home / 1e9:,.1f} GB home in {plan.downloads:,} downloads, {plan.eecu_hours:,.1f} EECU-hours "
          f"at {plan.eecu_seconds_per_pixel:g} EECU-s/px ({plan.rate_source}) | local {plan.local_requests:,} "
          f"computePixels, {plan.local_bytes / 1e12:,.2f} TB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="speeds and overlap only (no accuracy folds)")
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--student-epochs", type=int, default=30)
    parser.add_argument("--latency", type=float, default=3.0, help="seconds per Earth Engine request")
    parser.add_argument("--bandwidth", type=float, default=25e6, help="bytes per second of the link")
    # 10 x 10 tiles: a real job has thousands of tiles, so the pipeline's fill (the first requests'
    # latency, nothing to classify yet) and drain (the last tiles classified after the final fetch)
    # must be a small share of the run; with 25 tiles and 8 in flight they were a quarter of it.
    parser.add_argument("--tiles-side", type=int, default=10, help="the overlap region is N x N tiles")
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds of the overhead row (>= 3)")
    parser.add_argument("--overhead-tiles", type=int, default=1, help="192 px tiles each round times")
    parser.add_argument("--overhead-only", metavar="MODEL", type=Path,
                        help="only the local overhead row, on this model (e.g. the shipped "
                             "gee_crop/resources/models/tempcnn-weu.int8.onnx; ~30 s, no training)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each row as it is measured (the run takes minutes)
    if args.overhead_only:
        print_overhead(demo_patch(), args.overhead_only, args, Path(tempfile.mkdtemp(prefix="bench_scale_")))
        return
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    work = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    patch = demo_patch()
    started = time.perf_counter()

    fold_list = folds(patch)
    teachers, students = {}, {}
    epochs = (1, 1) if args.quick else (args.teacher_epochs, args.student_epochs)
    for name, series, _ in fold_list if not args.quick else fold_list[1:]:
        teacher_pt = quiet_train(series, work / f"teacher_{name}", epochs[0], **TEACHER)
        student_pt = quiet_train(series, work / f"student_{name}", epochs[1], distill_from=str(teacher_pt), **STUDENT)
        teachers[name] = (teacher_pt, *exported(teacher_pt, series))
        students[name] = (student_pt, *exported(student_pt, series))
    train_s = time.perf_counter() - started

    # 1. speeds on the same inputs: the patch's own composite, every valid pixel
    teacher_pt, teacher32, teacher8 = teachers["patch"]
    student_pt, student32, student8 = students["patch"]
    contract = read_contract(teacher32)
    composite = LocalStackSource(patch).read_tile(
        Tile(0, 0, *patch.shape), CompositeRequest(stack_grid(patch), contract, contract.season.span_at(YEAR, 50.75)))
    inputs = composite.reflectance()
    macs = {n: macs_per_pixel(load_model(p)[0], inputs.shape[1:]) for n, p in (("teacher", teacher_pt),
                                                                              ("student", student_pt))}
    speed = {}
    for _ in range(2):  # best of two rounds: other jobs share the cores
        for name, model in (("teacher fp32", teacher32), ("teacher int8", teacher8), ("student fp32", student32),
                            ("student int8", student8)):
            predictor = open_predictor(model, threads=threads)
            predictor.predict_proba(inputs[:512], 512)
            n = len(inputs) if name.startswith("student") else 2048
            rate = n / timed(lambda: predictor.predict_proba(inputs[:n], 512))
            speed[name] = max(rate, speed.get(name, 0.0))

    print(f"bench_scale: {threads} threads, inputs {len(inputs)} patch pixels x {inputs.shape[1:]}; training "
          f"{train_s:.0f} s" + (" (quick: 1 epoch, accuracy skipped)" if args.quick else ""))
    print(f"{'model':22s}{'MACs/px':>10s}{'px/s':>10s}{'vs teacher int8':>17s}")
    for name, rate in speed.items():
        print(f"{name:22s}{macs[name.split()[0]] / 1e6:9.2f}M{rate:10,.0f}{rate / speed['teacher int8']:16.1f}x")

    # 2. the local path's own overhead (issue 24): the engine's tile compute against its model alone, alternating
    print_overhead(patch, student8, args, work)

    # 3. accuracy, paired on the same held-out samples
    if not args.quick:
        print("held-out accuracy, teacher CropNet fp32 vs distilled TempCNN int8 (OA / macro-F1, %), each on "
              "uint16 and on sqrt8-encoded composites")
        print(f"{'fold':10s}{'n':>6s}{'teacher':>14s}{'teacher sqrt8':>14s}{'student':>14s}{'student sqrt8':>14s}"
              f"{'dF1 s-t':>8s}{'dF1 t8':>8s}{'dF1 s8':>8s}{'dF1 s8-t':>9s}")
        deltas = []
        for name, _, tests in fold_list:
            for fold, series, source, target in tests:
                t = score(teachers[name][1], series, source=source, target=target)
                t8 = score(teachers[name][1], series, sqrt8_roundtrip, source=source, target=target)
                s = score(students[name][2], series, source=source, target=target)
                s8 = score(students[name][2], series, sqrt8_roundtrip, source=source, target=target)
                deltas.append((s[1] - t[1], t8[1] - t[1], s8[1] - s[1], s8[1] - t[1]))
                print(f"{fold:10s}{t[2]:6d}" + "".join(f"{100 * r[0]:7.1f} /{100 * r[1]:5.1f}" for r in (t, t8, s, s8))
                      + "".join(f"{100 * d:+{w}.1f}" for d, w in zip(deltas[-1], (8, 8, 8, 9))))
        mean = np.mean(deltas, axis=0) * 100
        print(f"{'mean':10s}{'':62s}" + "".join(f"{d:+{w}.1f}" for d, w in zip(mean, (8, 8, 8, 9)))
              + "  (macro-F1 points: student - teacher, sqrt8 - uint16 of each, student sqrt8 - teacher; "
              "budget >= -1)")

    # 4. the overlap, through the fake client
    o = overlap_rates(patch, student8, args.latency, args.bandwidth, args.tiles_side, args.in_flight, work)
    bound = min(o["fetch_bound"], o["compute_bound"])
    print(f"map pipeline, student int8, simulated Earth Engine ({args.latency:g} s/request, "
          f"{args.bandwidth / 1e6:g} MB/s, {args.in_flight} in flight, {o['workers']} compute workers): "
          f"{o['tiles']} tiles of {o['tile']} px, {o['pixels']:,} px; at most {o['max_in_flight']} requests in flight")
    print(f"  fetch bound {o['fetch_bound']:10,.0f} px/s | compute bound {o['compute_bound']:10,.0f} px/s | "
          f"achieved {o['achieved']:10,.0f} px/s = {100 * o['achieved'] / bound:.0f} % of the smaller (target >= 90 %)")
    print(f"  bytes/px fetched {o['bytes_per_pixel']:.0f} ({o['encoding']}; the uint16 minimum is {o['min_bytes']}, "
          f"whose fetch bound at these rates would be {o['fetch_bound_uint16']:,.0f} px/s)")
    print("10,000 km² (10^8 px at 10 m), hours at: " + ", ".join(
        f"{k} {KM2_PIXELS / v / 3600:.2f} h" for k, v in (("achieved", o["achieved"]),
                                                          ("fetch bound", o["fetch_bound"]),
                                                          ("compute bound", o["compute_bound"]),
                                                          ("student int8 inference", speed["student int8"]),
                                                          ("teacher int8 inference", speed["teacher int8"]))))
    server_path_rows()
    print(f"(outputs in {work}; {time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
