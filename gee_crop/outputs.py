"""Every command's output goes through here: one lock per output, one ``--overwrite`` rule, and one place
that turns a read-only or full disk into a one-line error.

:func:`claim_output` is the context manager each command wraps its work in::

    with claim_output(out_dir, folder=True, overwrite=overwrite, outputs=("metrics.json",)):
        ...  # write into out_dir

* **Lock.** A folder output holds ``.gee-crop.lock``; a file output has ``.NAME.lock`` beside it. The lock
  is an exclusive ``flock`` on that file, which holds the run's pid, host, start time and command line. A
  second run into the same output refuses in one line naming the first. The kernel drops the flock of a
  killed run (``kill -9``), so its leftover lock file is stale and taken over (a rerun resumes); on a file
  system without ``flock`` the pid decides (gone on this host: stale). A lock left by another host is never
  taken over: the message says which file to remove. ``--overwrite`` never breaks a live lock. The lock is
  released (its file removed) when the work ends, however it ends.
* **Overwrite.** An existing output is refused without ``overwrite`` unless the command resumes
  (``resumes=True``: train --resume, map's tiles, sample's ledger, experiment's finished runs), which then
  decides itself.
* **Writing.** The folder is created and a probe written before any work, and an OSError of a full or
  read-only disk (EROFS, EACCES, ENOSPC, EDQUOT, EFBIG), torch's ``inline_container.cc`` failure or a GDAL
  write error raised by the work becomes :class:`~gee_crop.errors.OutputWriteError` naming the folder and
  its free space.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gee_crop.errors import OutputExistsError, OutputLockedError, OutputWriteError

#: The lock file inside a folder output.
FOLDER_LOCK = ".gee-crop.lock"
#: errno values of a disk that cannot take the output: read-only, no permission, full, over quota, too large.
DISK_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.ENOTDIR}
)
#: errno values that only a write meets: read-only, full, over quota, too large.
_ALWAYS_DISK = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: what a full or read-only disk looks like in messages that carry no errno (pyarrow, GDAL).
_FULL_WORDS = ("no space left", "file too large", "read-only file system", "disk quota", "disk full")
#: errno values of a file system whose flock is not supported: the pid decides instead.
_NO_FLOCK = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


def free_space(path: str | os.PathLike[str]) -> str:
    """The free space of the disk holding ``path`` (or its nearest existing parent), e.g. ``"1.2 GiB free"``."""
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = float(shutil.disk_usage(probe).free)
    except OSError:
        return "free space unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if free < 1024 or unit == "GiB":
            break
        free /= 1024
    return f"{free:.3g} {unit} free" if unit != "B" else f"{free:.0f} B free"


def _why(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError) and "inline_container" in str(exc):
        return "torch could not write the file: disk full or file too large"
    why = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    return str(why).strip()[:200]


def write_error(
    path: str | os.PathLike[str], exc: BaseException, *, verb: str = "cannot write to", hint: str = ""
) -> OutputWriteError:
    """The one-line error of a failed write to ``path``: why, the free space there, and the fix."""
    return OutputWriteError(
        f"{verb} {path} ({_why(exc)}; {free_space(path)}); choose a writable --out (or free disk space), "
        f"then rerun the same command{hint}"
    )


def is_disk_error(exc: BaseException, out: str | os.PathLike[str] | None = None) -> bool:
    """Whether ``exc`` says the disk cannot take the output (full, read-only, no permission), rather
    than a bug or a bad input. A permission error (EACCES, EPERM, ENOTDIR) counts only when it names a
    path of the output ``out`` (its folder, its file or a temporary beside it): an input the run cannot
    read is not an output problem."""
    text = str(exc).lower()
    if isinstance(exc, OSError):  # pyarrow's and GDAL's OSErrors often carry the reason in the text only
        if exc.errno in _ALWAYS_DISK:
            return True
        if exc.errno in DISK_ERRNOS:
            return out is None or _names_output(exc.filename, Path(out))
        return exc.errno is None and any(word in text for word in _FULL_WORDS)
    if isinstance(exc, RuntimeError) and ("inline_container" in text or "file write failed" in text):
        return True  # torch.save on a full disk: "[enforce fail at inline_container.cc:...] ... file write failed"
    gdal = type(exc).__module__.startswith("rasterio") or type(exc).__name__.startswith("CPLE_")
    return gdal and any(word in text for word in _FULL_WORDS)


def _names_output(filename: object, out: Path) -> bool:
    """Whether ``filename`` (an OSError's) is ``out``, inside it, or beside it under its name (a temporary
    ``.NAME.*``, ``NAME.parts/``)."""
    if not isinstance(filename, (str, os.PathLike)):
        return False
    path, out = Path(os.path.abspath(filename)), Path(os.path.abspath(out))
    if path == out or out in path.parents:
        return True
    try:
        first = path.relative_to(out.parent).parts[0]
    except (ValueError, IndexError):
        return False
    return first.startswith((f".{out.name}.", f"{out.name}."))


# ----------------------------------------------------------------------------------------------- locks


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a lock: what its lock file records."""

    pid: int
    host: str
    since: str
    command: str

    @classmethod
    def here(cls) -> LockHolder:
        started = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] not in ("", "-c", "-m") else "gee-crop"
        command = shlex.join([program, *sys.argv[1:]])[:500]  # the process's command line, cut to 500 characters
        return cls(os.getpid(), socket.gethostname(), started, command)

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["since"]), str(data["command"]))
        except (ValueError, TypeError, KeyError):
            return None

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "since": self.since, "command": self.command})

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.since} ({self.command})"

    def alive(self) -> bool:
        """Whether the holder's process still runs (on this host; another host's cannot be told)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # another user's process
        return True


def lock_path(out: str | os.PathLike[str], *, folder: bool) -> Path:
    """The lock file of an output: inside a folder output, beside a file output."""
    out = Path(out)
    return out / FOLDER_LOCK if folder else out.with_name(f".{out.name}.lock")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


class OutputLock:
    """An exclusive lock on one output (see the module docstring); a context manager."""

    def __init__(self, out: str | os.PathLike[str], *, folder: bool) -> None:
        self.out = Path(out)
        self.path = lock_path(self.out, folder=folder)
        self.took_over: LockHolder | None = None  # the stale holder whose lock this one took over
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _refuse(self, holder: LockHolder | None) -> OutputLockedError:
        if holder is None:
            return OutputLockedError(
                f"{self.out} is being written by another gee-crop run (lock {self.path}); wait for it to "
                "finish or choose another --out"
            )
        if holder.host != socket.gethostname():
            return OutputLockedError(
                f"{self.out} is locked by {holder.describe()}; if no gee-crop run on {holder.host} still "
                f"writes it, delete {self.path} and rerun (--overwrite does not break a lock)"
            )
        return OutputLockedError(
            f"{self.out} is being written by {holder.describe()}; wait for it to finish or choose another "
            "--out (--overwrite does not break a running run's lock)"
        )

    def acquire(self, attempts: int = 20) -> None:
        """Take the lock or raise OutputLockedError naming its holder; OutputWriteError when the folder
        cannot be written."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(folder, exc) from None
        for _ in range(attempts):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise write_error(folder, exc) from None
            try:
                if self._try_lock(fd):
                    return
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the file was replaced under us (a holder released it): try the new one
        raise self._refuse(LockHolder.parse(_read(self.path)))

    def _try_lock(self, fd: int) -> bool:
        """Lock ``fd`` and record this run in it: True when held; False when the lock file was removed or
        replaced meanwhile (try again); OutputLockedError when another run holds it."""
        flocked = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = LockHolder.parse(_read(self.path))
            if holder is None:  # the holder has not written its record yet
                time.sleep(0.05)
                holder = LockHolder.parse(_read(self.path))
            raise self._refuse(holder) from None
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                raise write_error(self.path.parent, exc) from None
            flocked = False  # a file system without flock: the recorded pid decides
        try:
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                return False
        except FileNotFoundError:
            return False
        holder = LockHolder.parse(_read(self.path))
        if holder is not None:
            if holder.host != socket.gethostname() or (not flocked and holder.pid != os.getpid() and holder.alive()):
                raise self._refuse(holder)
            self.took_over = holder  # flock free on this host: its run is gone (killed), the lock is stale
        record = LockHolder.here().to_json().encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except OSError as exc:
            raise write_error(self.path.parent, exc) from None
        self._fd = fd
        return True

    def release(self) -> None:
        """Remove the lock file and drop the lock (removing first, so no run locks a deleted file)."""
        if self._fd is None:
            return
        with suppress(OSError):
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


# ------------------------------------------------------------------------------------- the output rule


def _holds_output(out: Path, folder: bool, outputs: Iterable[str] | None) -> list[str]:
    """What of ``out`` an earlier run left: the named ``outputs`` present in a folder (any entry but the
    lock when none are named), or the file itself."""
    if not folder:
        return [out.name] if out.exists() else []
    if not out.is_dir():
        return [out.name] if out.exists() else []
    if outputs is not None:
        return [name for name in outputs if (out / name).exists()]
    return sorted(p.name for p in out.iterdir() if p.name != FOLDER_LOCK)


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` and write (then remove) a probe file in it; OutputWriteError naming the folder
    and its free space when it cannot be written."""
    folder = Path(folder)
    probe = folder / f".gee-crop-probe.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"gee-crop")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise write_error(folder, exc) from None
    finally:
        with suppress(OSError):
            probe.unlink(missing_ok=True)
    return folder


def clear_folder(folder: str | os.PathLike[str]) -> None:
    """Remove everything in ``folder`` but its lock (--overwrite of a command that rewrites a whole folder)."""
    for entry in Path(folder).iterdir():
        if entry.name == FOLDER_LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextmanager
def claim_output(
    out: str | os.PathLike[str],
    *,
    folder: bool,
    overwrite: bool = False,
    resumes: bool = False,
    outputs: Iterable[str] | None = None,
) -> Iterator[OutputLock]:
    """Lock ``out`` for this run, apply the ``--overwrite`` rule, check it can be written, and turn disk
    errors of the work inside into OutputWriteError (see the module docstring).

    ``folder``: ``out`` is a folder (``--out DIR``), else a file. ``resumes``: the command resumes or
    refuses an existing output itself; otherwise an existing output (``outputs`` named in the folder,
    any entry when None; the file) needs ``overwrite``. The lock is released on success, error and
    KeyboardInterrupt; a folder this run created and left empty is removed.
    """
    out = Path(out)
    created = folder and not out.exists()
    lock = OutputLock(out, folder=folder)
    try:
        with lock:
            if not resumes and not overwrite:
                held = _holds_output(out, folder, outputs)
                if held:
                    what = f"{out} already holds {', '.join(held[:4])}" if folder else f"{out} exists"
                    raise OutputExistsError(f"{what}; pass --overwrite to replace it or choose another --out")
            check_writable(out if folder else out.parent)
            try:
                yield lock
            except OutputWriteError:
                raise
            except Exception as exc:
                if is_disk_error(exc, out):
                    raise write_error(out, exc, verb="could not write") from None
                raise
    finally:
        if created:
            with suppress(OSError):
                out.rmdir()  # only when empty: nothing left behind by a run that wrote nothing
