"""Issue 26, classes 3 and 5: concurrent runs never both succeed into one --out, no output is clobbered
without --overwrite, and a read-only or full output folder is one line naming the folder and its free
space (gee_crop.outputs, for every command that writes).

A "live holder" is another process that holds the output's lock through gee_crop.outputs' own API (a
small Python subprocess), or a real `gee-crop train` run. Read-only folders are real: chmod 0o555 when the
tests do not run as root, else a read-only bind mount (skipped where mounting is not allowed). A full disk
is real too: RLIMIT_FSIZE in a subprocess makes every write past the limit fail (EFBIG), as a full disk's
ENOSPC would.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.errors import OutputLockedError, OutputWriteError
from gee_crop.outputs import FOLDER_LOCK, OutputLock, claim_output, is_disk_error, lock_path
from gee_crop.testing.paths import demo_patch_dir
from tests.assessment.conftest import maps  # noqa: F401
from tests.cli.faults.conftest import bel_table, patch_stack, tiny_onnx  # noqa: F401
from tests.experiments.conftest import tiny_config  # noqa: F401

ZOO_PT = Path(__file__).resolve().parents[3] / "gee_crop" / "resources" / "models" / "tempcnn-weu.pt"
#: a tiny CropNet that trains in about a second per epoch on one thread
TINY = ["--widths", "8,16,32,64", "--batch-size", "32", "--lr", "0.003", "--max-gap-bins", "12", "--quiet"]
#: subprocesses train on one thread: on a shared 2-core machine more threads made an epoch 5x slower (measured)
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
HOLD = """
import sys
from gee_crop.outputs import OutputLock
lock = OutputLock(sys.argv[1], folder=sys.argv[2] == "dir")
lock.acquire()
print("held", flush=True)
sys.stdin.read()
lock.release()
"""


def cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    assert "Traceback" not in output
    return lines[0]


@contextmanager
def held_by_another_process(out: Path, folder: bool):
    """Another process (a live pid on this host) holds the lock of ``out`` while the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out), "dir" if folder else "file"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def assert_names_holder(line: str, pid: int) -> None:
    assert f"pid {pid} on {socket.gethostname()} since " in line, line
    assert "is being written by" in line and "--overwrite does not break" in line


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def plant_lock(out: Path, folder: bool, pid: int, host: str | None = None) -> Path:
    """A lock file as a run killed with kill -9 leaves it (nobody holds its flock)."""
    path = lock_path(out, folder=folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "since": "2026-12-06T10:00:00",
                                "command": "gee-crop train t.parquet --out D"}))
    return path


# ------------------------------------------------------------------------ class 3: concurrent runs


def _recorded(lock: Path, pid: int) -> bool:
    """Whether the lock file names ``pid`` as its holder."""
    try:
        return f'"pid": {pid}' in lock.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False


def test_two_concurrent_train_runs_the_second_refuses_and_a_kill_9_lock_is_taken_over_by_resume(tmp_path, bel_table):
    """The issue's case: two `train --out D` at once. The first (a real run) is killed with kill -9 after its
    first checkpoint; its lock is then stale and `--resume` takes it over and finishes the run."""
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-c", "from gee_crop.cli import main; main()", "train", str(bel_table),
                              "--out", str(out), "--epochs", "40", *TINY],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
    try:
        deadline = time.monotonic() + 120
        # the lock is held once the first run has recorded itself in the file (it flocks the file before
        # writing its record; a file that merely exists may not be locked yet)
        while not _recorded(out / FOLDER_LOCK, first.pid) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, first.stderr.read()
        code, output = cli("train", bel_table, "--out", out, "--epochs", "40", *TINY)
        assert code == 1
        assert_names_holder(one_error_line(output), first.pid)
        assert f"--out {out}" in output  # the first run's command line
        while not (out / "checkpoint.pt").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before it could be killed"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert (out / FOLDER_LOCK).exists()  # left behind by kill -9
    done = int(torch.load(out / "checkpoint.pt", weights_only=True)["epoch"])
    code, output = cli("train", bel_table, "--out", out, "--epochs", done + 1, "--resume", *TINY)
    assert code == 0, output
    assert f"resuming from {out / 'checkpoint.pt'} after epoch {done}" in output
    assert len((out / "history.csv").read_text().strip().splitlines()) == 1 + done + 1  # header + every epoch
    assert not (out / FOLDER_LOCK).exists()  # released


def test_sample_refuses_while_another_run_writes_its_table(tmp_path):
    out = tmp_path / "t.parquet"
    with held_by_another_process(out, folder=False) as holder:
        code, output = cli("sample", "--source", demo_patch_dir(), "--out", out)
    assert code == 1
    assert_names_holder(one_error_line(output), holder.pid)
    assert not out.exists() and not lock_path(out, folder=False).exists()


def test_map_refuses_while_another_run_writes_its_folder(tmp_path, tiny_onnx):
    out = tmp_path / "map"
    with held_by_another_process(out, folder=True) as holder:
        code, output = cli("map", "--source", demo_patch_dir(), "--model", tiny_onnx, "--out", out,
                           "--scheduler", "synchronous", "--quiet")
        assert code == 1
        assert_names_holder(one_error_line(output), holder.pid)
        assert sorted(p.name for p in out.iterdir()) == [FOLDER_LOCK]  # nothing written
    assert list(out.iterdir()) == []  # the holder released its lock; the refused run left nothing


def test_overwrite_does_not_break_a_live_lock(tmp_path):
    out = tmp_path / "t.parquet"
    code, output = cli("sample", "--source", demo_patch_dir(), "--out", out)
    assert code == 0, output
    before = out.read_bytes()
    with held_by_another_process(out, folder=False) as holder:
        code, output = cli("sample", "--source", demo_patch_dir(), "--out", out, "--overwrite")
    assert code == 1
    assert_names_holder(one_error_line(output), holder.pid)
    assert out.read_bytes() == before


def test_a_stale_lock_of_a_dead_pid_is_taken_over(tmp_path):
    out = tmp_path / "t.parquet"
    stale = plant_lock(out, folder=False, pid=dead_pid())
    code, output = cli("sample", "--source", demo_patch_dir(), "--out", out)
    assert code == 0, output
    assert out.is_file() and not stale.exists()


def test_a_lock_killed_with_kill_9_is_taken_over(tmp_path, tiny_onnx):
    """A real holder process killed with SIGKILL: its lock file stays, its flock is gone; map runs."""
    out = tmp_path / "map"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out), "dir"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait(timeout=30)
    assert json.loads((out / FOLDER_LOCK).read_text())["pid"] == proc.pid
    code, output = cli("map", "--source", demo_patch_dir(), "--model", tiny_onnx, "--out", out,
                       "--scheduler", "synchronous", "--quiet")
    assert code == 0, output
    assert (out / "map.tif").is_file() and not (out / FOLDER_LOCK).exists()


def test_a_lock_of_another_host_is_not_taken_over(tmp_path):
    out = tmp_path / "t.parquet"
    stale = plant_lock(out, folder=False, pid=os.getpid(), host="other-host.example")
    code, output = cli("sample", "--source", demo_patch_dir(), "--out", out, "--overwrite")
    assert code == 1
    line = one_error_line(output)
    assert "locked by pid" in line and "on other-host.example since" in line
    assert f"delete {stale}" in line  # how to remove it
    assert stale.exists() and not out.exists()


def test_evaluate_twice_into_one_folder_is_refused_without_overwrite(tmp_path, bel_table):
    out = tmp_path / "eval"
    code, output = cli("evaluate", ZOO_PT, bel_table, "--out", out)
    assert code == 0, output
    metrics = (out / "metrics.json").read_bytes()
    (out / "metrics.json").write_text("{}")  # marks the first evaluation: it must survive the second
    code, output = cli("evaluate", ZOO_PT, bel_table, "--out", out)
    assert code == 1
    line = one_error_line(output)
    assert "already holds metrics.json" in line and "--overwrite" in line
    assert (out / "metrics.json").read_text() == "{}"
    code, output = cli("evaluate", ZOO_PT, bel_table, "--out", out, "--overwrite")
    assert code == 0, output
    assert (out / "metrics.json").read_bytes() == metrics


def test_evaluate_record_refuses_while_another_run_rewrites_the_models_card(tmp_path, bel_table):
    model = tmp_path / "model.pt"
    shutil.copyfile(ZOO_PT, model)
    with held_by_another_process(model, folder=False) as holder:
        code, output = cli("evaluate", model, bel_table, "--out", tmp_path / "eval", "--record")
    assert code == 1
    assert_names_holder(one_error_line(output), holder.pid)
    assert model.read_bytes() == ZOO_PT.read_bytes() and not (tmp_path / "eval").exists()


def test_export_and_assess_design_refuse_while_held(tmp_path, maps):
    onnx = tmp_path / "m.onnx"
    with held_by_another_process(onnx, folder=False) as holder:
        code, output = cli("export", ZOO_PT, "--out", onnx)
    assert code == 1
    assert_names_holder(one_error_line(output), holder.pid)
    points = tmp_path / "points.csv"
    with held_by_another_process(points, folder=False) as holder:
        code, output = cli("assess", "design", "--map", maps["map"], "--out", points, "--n", "60")
    assert code == 1
    assert_names_holder(one_error_line(output), holder.pid)
    assert not onnx.exists() and not points.exists()


def test_the_lock_is_released_on_failure_and_on_keyboard_interrupt(tmp_path):
    out = tmp_path / "run"
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    code, output = cli("train", bad, "--out", out, "--arch", "random_forest")
    assert code == 1 and "Error:" in output
    assert not (out / FOLDER_LOCK).exists()
    with pytest.raises(KeyboardInterrupt), claim_output(out, folder=True):
        assert (out / FOLDER_LOCK).exists()
        raise KeyboardInterrupt
    assert not out.exists()  # created by the run, left empty: removed
    with OutputLock(out, folder=True):  # free again
        pass


def test_a_second_lock_in_the_same_process_is_refused(tmp_path):
    """flock is per open file: even the same process cannot take an output twice (no silent nesting)."""
    with OutputLock(tmp_path / "x", folder=True), pytest.raises(OutputLockedError, match=f"pid {os.getpid()}"):
        OutputLock(tmp_path / "x", folder=True).acquire()


# --------------------------------------------------------------------- class 5: read-only, full disk


@pytest.fixture
def read_only(tmp_path):
    """A real read-only folder: chmod 0o555 for a normal user; for root (which chmod does not stop) a
    read-only bind mount."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("running as root and cannot bind-mount a read-only folder")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def _nine_commands(ro: Path, table: Path, maps: dict, config: Path, tmp: Path) -> dict[str, list]:
    experiment_dir = tmp / "experiment"
    experiment_dir.mkdir()
    points = tmp / "points.csv"
    code, output = cli("assess", "design", "--map", maps["map"], "--out", points, "--n", "60")
    assert code == 0, output
    with open(points, newline="") as fh:  # labelled as the map says: the reference points are complete
        rows = list(csv.DictReader(fh))
    with open(points, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "reference": row["map_class"]} for row in rows)
    return {
        "train": ["train", table, "--out", ro / "run", "--arch", "random_forest"],
        "sample": ["sample", "--source", demo_patch_dir(), "--out", ro / "t.parquet"],
        "evaluate": ["evaluate", ZOO_PT, table, "--out", ro / "eval"],
        "export": ["export", ZOO_PT, "--out", ro / "m.onnx"],
        "experiment": ["experiment", config, "--out", ro / "exp", "--no-figures"],
        "assess design": ["assess", "design", "--map", maps["map"], "--out", ro / "points.csv"],
        "assess": ["assess", "--map", maps["map"], "--reference", points, "--out", ro / "assessment"],
        "demo": ["demo", "--out", ro / "demo", "--no-map"],
        "report": ["report", experiment_dir, "--out", ro / "report.html"],
    }


def test_nine_commands_into_a_read_only_folder_give_one_line(read_only, bel_table, maps, tiny_config, tmp_path):
    for name, args in _nine_commands(read_only, bel_table, maps, tiny_config, tmp_path).items():
        code, output = cli(*args)
        assert code == 1, (name, output)
        line = one_error_line(output)
        assert f"cannot write to {read_only}" in line, (name, line)
        assert ("Read-only file system" in line or "Permission denied" in line) and " free)" in line, (name, line)
        assert "choose a writable --out" in line
    assert list(read_only.iterdir()) == []


def test_map_into_a_read_only_folder_is_one_line(read_only, tiny_onnx):
    code, output = cli("map", "--source", demo_patch_dir(), "--model", tiny_onnx, "--out", read_only / "map",
                       "--scheduler", "synchronous", "--quiet")
    assert code == 1
    line = one_error_line(output)
    assert f"cannot write to {read_only / 'map'}" in line and " free)" in line, line


def test_an_output_under_a_file_is_one_line(tmp_path, bel_table):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, output = cli("evaluate", ZOO_PT, bel_table, "--out", blocker / "eval")
    assert code == 1
    line = one_error_line(output)
    assert f"cannot write to {blocker / 'eval'}" in line and "free)" in line


def run_cli_with_file_size_limit(limit_bytes: int, *args) -> subprocess.CompletedProcess:
    """`gee-crop ARGS` in a subprocess whose files cannot grow past ``limit_bytes`` (a full disk)."""
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill, as ENOSPC would be
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))
        from gee_crop.cli import main
        main({[str(a) for a in args]!r})
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=ONE_THREAD)


def test_train_on_a_full_disk_is_one_line(tmp_path, bel_table):
    """torch.save past the limit raises `RuntimeError: [enforce fail at inline_container.cc]` at b21929b."""
    out = tmp_path / "run"
    proc = run_cli_with_file_size_limit(4096, "train", bel_table, "--out", out, "--epochs", "1", *TINY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = one_error_line(proc.stderr)
    assert f"could not write {out} (torch could not write the file: disk full" in line, line
    assert " free)" in line and "free disk space" in line, line
    assert not (out / FOLDER_LOCK).exists()


def test_sample_on_a_full_disk_is_one_line(tmp_path):
    out = tmp_path / "t.parquet"
    proc = run_cli_with_file_size_limit(4096, "sample", "--source", demo_patch_dir(), "--out", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = one_error_line(proc.stderr)
    assert f"could not write {out}" in line and " free)" in line, line
    assert not out.exists() and not lock_path(out, folder=False).exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary left either


def test_enospc_while_exporting_is_one_line_with_the_free_space(tmp_path, monkeypatch):
    """ENOSPC injected where the ONNX file is written (synthetic error, real export)."""
    import onnx

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save_model", full)
    monkeypatch.setattr(onnx, "save", full)
    code, output = cli("export", ZOO_PT, "--out", tmp_path / "m.onnx")
    assert code == 1
    line = one_error_line(output)
    assert "No space left on device" in line and " free)" in line
    assert not (tmp_path / "m.onnx").exists()


def test_disk_errors_are_told_from_other_errors(tmp_path):
    """Synthetic exceptions: what counts as a disk that cannot take the output."""
    assert is_disk_error(OSError(30, "Read-only file system"))
    assert is_disk_error(OSError(122, "Disk quota exceeded"))
    assert is_disk_error(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0"))
    assert not is_disk_error(RuntimeError("size mismatch"))
    assert not is_disk_error(OSError(2, "No such file or directory"))
    assert not is_disk_error(ValueError("No space left"))
    denied = PermissionError(13, "Permission denied")
    denied.filename = "/data/in/table.parquet"  # an input the run cannot read: not the output's problem
    assert not is_disk_error(denied, "/data/out/run")
    denied.filename = "/data/out/.t.parquet.123.tmp.parquet"  # the output's temporary: it is
    assert is_disk_error(denied, "/data/out/t.parquet") and is_disk_error(denied, "/data/out")
    with pytest.raises(OutputWriteError, match=r"could not write .*\(No space left on device; .* free\)"), \
            claim_output(tmp_path / "out", folder=True):
        raise OSError(28, "No space left on device")
