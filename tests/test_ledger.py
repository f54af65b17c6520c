"""The run ledger: settings fingerprint, finished units with checksums, resume, atomic saves."""
from __future__ import annotations

import json

import pytest

from gee_crop.errors import OutputExistsError, OutputWriteError
from gee_crop.ledger import RunLedger, file_sha256

SETTINGS = {"tile_size": 32, "grid": {"crs": "EPSG:32631", "transform": (10.0, 0.0, 0.0, 0.0, -10.0, 0.0)}}


def run(folder, units, *, settings=SETTINGS, overwrite=False, crash_after=None):
    """A toy resumable run: each unit writes ``<unit>.txt``; returns the units it worked on."""
    ledger = RunLedger.open(folder / "ledger.json", settings, units="tiles", overwrite=overwrite)
    ledger.register(units)
    worked = []
    for unit in units:
        if ledger.is_done(unit):
            continue
        if crash_after is not None and len(worked) == crash_after:
            raise KeyboardInterrupt
        path = folder / f"{unit}.txt"
        path.write_text(f"result of {unit}")
        ledger.finish(unit, path, rows=len(unit))
        worked.append(unit)
    return worked


def test_resume_skips_the_finished_units(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, ["a", "b", "c", "d"], crash_after=2)
    saved = json.loads((tmp_path / "ledger.json").read_text())
    assert {u: e["state"] for u, e in saved["tiles"].items()} == {"a": "done", "b": "done", "c": "pending",
                                                                  "d": "pending"}
    assert saved["tiles"]["a"] == {"state": "done", "path": "a.txt", "sha256": file_sha256(tmp_path / "a.txt"),
                                   "rows": 1}
    assert run(tmp_path, ["a", "b", "c", "d"]) == ["c", "d"]
    assert run(tmp_path, ["a", "b", "c", "d"]) == []  # nothing is redone


def test_a_rerun_with_other_settings_is_refused(tmp_path):
    run(tmp_path, ["a"])
    same = {**SETTINGS, "grid": {**SETTINGS["grid"], "transform": list(SETTINGS["grid"]["transform"])}}
    assert run(tmp_path, ["a"], settings=same) == []  # tuples and lists are the same settings
    with pytest.raises(OutputExistsError, match=r"other settings \(tile_size differ\).*--overwrite"):
        run(tmp_path, ["a"], settings={**SETTINGS, "tile_size": 16})
    assert run(tmp_path, ["a"], settings={**SETTINGS, "tile_size": 16}, overwrite=True) == ["a"]


def test_a_unit_whose_file_is_missing_or_changed_is_redone(tmp_path):
    run(tmp_path, ["a", "b", "c"])
    (tmp_path / "a.txt").unlink()
    (tmp_path / "b.txt").write_text("truncated")
    assert run(tmp_path, ["a", "b", "c"]) == ["a", "b"]
    assert (tmp_path / "b.txt").read_text() == "result of b"


def test_unit_fields_survive_and_units_without_files(tmp_path):
    ledger = RunLedger.open(tmp_path / "parts" / "manifest.json", {"seed": 0}, units="tiles")
    ledger.update("0", task_id="T1", attempts=1)
    ledger.finish("0", samples=0)  # an empty tile: done, no file
    again = RunLedger.open(tmp_path / "parts" / "manifest.json", {"seed": 0}, units="tiles")
    assert again.is_done("0") and again.output_path("0") is None
    assert again.entry("0") == {"state": "done", "task_id": "T1", "attempts": 1, "samples": 0}
    assert again.done(["0", "1"]) == ["0"]


def test_an_unwritable_folder_is_a_user_error(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(OutputWriteError, match="cannot write to .*a_file/out.*choose a writable --out"):
        RunLedger.open(tmp_path / "a_file" / "out" / "ledger.json", SETTINGS)


def test_many_small_units_save_at_most_every_few_seconds(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("gee_crop.ledger.time.monotonic", lambda: clock[0])
    ledger = RunLedger.open(tmp_path / "ledger.json", SETTINGS, save_every_s=5.0)
    ledger.register(["a", "b"])
    ledger.finish("a")
    assert json.loads((tmp_path / "ledger.json").read_text())["units"]["a"]["state"] == "pending"
    clock[0] += 5.0
    ledger.finish("b")  # five seconds later: both are saved
    saved = json.loads((tmp_path / "ledger.json").read_text())["units"]
    assert saved["a"]["state"] == saved["b"]["state"] == "done"


def test_a_unit_finished_with_another_fingerprint_is_redone(tmp_path):
    """Experiment runs: each run carries the hash of its own settings; only changed runs are redone."""
    ledger = RunLedger.open(tmp_path / "ledger.json", {"experiment": "transfer"})
    for run_name, fp in (("cropnet/FRA->BEL/seed0", "aaa"), ("cropnet/FRA->BEL/seed1", "bbb")):
        path = tmp_path / f"{run_name.replace('/', '_')}.json"
        path.write_text("{}")
        ledger.finish(run_name, path, fingerprint=fp)
    again = RunLedger.open(tmp_path / "ledger.json", {"experiment": "transfer"})
    assert again.is_done("cropnet/FRA->BEL/seed0", fingerprint="aaa")
    assert not again.is_done("cropnet/FRA->BEL/seed1", fingerprint="ccc")  # its settings changed
    assert again.entry("cropnet/FRA->BEL/seed1")["state"] == "pending"


def test_an_unreadable_ledger_names_overwrite(tmp_path):
    (tmp_path / "ledger.json").write_text('{"settings": ')  # not something an atomic save leaves
    with pytest.raises(OutputExistsError, match="not a readable run ledger.*--overwrite"):
        RunLedger.open(tmp_path / "ledger.json", SETTINGS)
    assert RunLedger.open(tmp_path / "ledger.json", SETTINGS, overwrite=True).units == {}
