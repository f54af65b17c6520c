"""Resumable runs: one ledger file records a run's settings and the units of work it has finished.

A unit is whatever a run repeats and may lose to a crash: a sampling tile (``<out>.parts/``), a map
tile (``<out>/tiles/``), an experiment run. The ledger is a JSON file beside the units' outputs::

    {"version": 1, "settings": {...}, "<units>": {"<unit>": {"state": "done", "path": "tile_0003.parquet",
                                                           "sha256": "…", ...}}}

* The settings are the run's fingerprint: a rerun with other settings is refused (OutputExistsError
  naming the settings that differ and ``--overwrite``) instead of mixing two runs.
* A unit is done only when its state is ``done`` and its output file (if it has one) still exists
  with the checksum recorded when it was finished; otherwise it is redone. Units whose own settings
  may change between runs (an experiment's runs) carry a ``fingerprint``: a unit finished with
  another one is redone, the others are kept.
* Units may carry their own fields (an export task's id and attempts, a row count), kept across runs.
* Every save is atomic (``gee_crop.atomic``), so a killed run leaves the previous ledger whole. A run
  of many small units may save at most every ``save_every_s`` seconds (and once more when it stops):
  units finished after the last save are then redone, which costs less than rewriting the ledger
  per unit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from gee_crop.atomic import write_json_atomic
from gee_crop.errors import OutputExistsError
from gee_crop.outputs import write_error

LEDGER_VERSION = 1
DONE, PENDING = "done", "pending"
#: Fields of a unit entry that only describe its finished output.
_OUTPUT_FIELDS = ("path", "sha256")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so settings compare equal."""
    return json.loads(json.dumps(value))


class RunLedger:
    """The ledger of one resumable run (see the module docstring).

    ``path`` is the ledger file; unit outputs are recorded relative to its folder. ``units`` names
    the key the unit entries are stored under (``"tiles"`` for sampling and map tiles).
    """

    def __init__(
        self, path: str | os.PathLike[str], settings: dict[str, Any], *, units: str = "units", save_every_s: float = 0.0
    ) -> None:
        self.path = Path(path)
        self.folder = self.path.parent
        self.units_key = units
        self.save_every_s = save_every_s
        self._saved_at = -math.inf
        self.data: dict[str, Any] = {"version": LEDGER_VERSION, "settings": _plain(settings), units: {}}

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        settings: dict[str, Any],
        *,
        units: str = "units",
        overwrite: bool = False,
        save_every_s: float = 0.0,
    ) -> RunLedger:
        """The ledger at ``path`` for a run with ``settings``: a fresh one (its folder created and the
        file written, so an unwritable output fails here), or the saved one when the settings match.

        ``overwrite`` first removes the ledger's folder with every unit output in it. A saved ledger
        of other settings raises OutputExistsError naming the settings that differ.
        """
        ledger = cls(path, settings, units=units, save_every_s=save_every_s)
        if overwrite:
            shutil.rmtree(ledger.folder, ignore_errors=True)
        if ledger.path.exists():
            try:
                saved = json.loads(ledger.path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise OutputExistsError(
                    f"{ledger.path} is not a readable run ledger ({exc}); pass --overwrite to start over"
                ) from None
            ledger._check_settings(saved.get("settings") if isinstance(saved, dict) else None)
            ledger.data = {**saved, units: saved.get(units, {})}
        ledger.save()
        return ledger

    def _check_settings(self, saved: Any) -> None:
        settings = self.data["settings"]
        if saved == settings:
            return
        saved = saved if isinstance(saved, dict) else {}
        changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        raise OutputExistsError(
            f"{self.folder} holds a run with other settings ({', '.join(changed)} differ); rerun with the "
            "same options to resume it, or pass --overwrite to start over"
        )

    def save(self) -> None:
        """Write the ledger atomically; OutputWriteError (the fix named) when the folder is not writable."""
        try:
            write_json_atomic(self.path, self.data, sort_keys=True)
        except OSError as exc:
            raise write_error(self.folder, exc) from None
        self._saved_at = time.monotonic()

    def _changed(self) -> None:
        if time.monotonic() - self._saved_at >= self.save_every_s:
            self.save()

    # -------------------------------------------------------------------- units

    @property
    def units(self) -> dict[str, dict[str, Any]]:
        """Unit name -> its entry (``state`` and the unit's own fields)."""
        return cast(dict[str, dict[str, Any]], self.data[self.units_key])

    def entry(self, unit: str) -> dict[str, Any]:
        """The entry of ``unit`` (a new pending one if the ledger has none)."""
        return self.units.setdefault(str(unit), {"state": PENDING})

    def register(self, units: Iterable[str]) -> None:
        """List every unit of the run as pending (before any work), and save."""
        for unit in units:
            self.entry(unit)
        self.save()

    def output_path(self, unit: str) -> Path | None:
        """The recorded output file of a finished ``unit`` (None when it has none)."""
        name = self.units.get(str(unit), {}).get("path")
        return None if name is None else self.folder / name

    def is_done(self, unit: str, fingerprint: str | None = None) -> bool:
        """Whether ``unit`` is finished: state done, its output file intact and (when given) the
        ``fingerprint`` it was finished with the same. Any other done unit is put back to pending
        (keeping its own fields) so that it is redone."""
        entry = self.units.get(str(unit))
        if entry is None or entry.get("state") != DONE:
            return False
        path = self.output_path(unit)
        intact = path is None or (path.is_file() and file_sha256(path) == entry.get("sha256"))
        if intact and (fingerprint is None or entry.get("fingerprint") == fingerprint):
            return True
        for name in _OUTPUT_FIELDS:
            entry.pop(name, None)
        entry["state"] = PENDING
        return False

    def done(self, units: Iterable[str]) -> list[str]:
        """Those of ``units`` that are finished (see :meth:`is_done`), in their order."""
        return [u for u in units if self.is_done(u)]

    def update(self, unit: str, **fields: Any) -> dict[str, Any]:
        """Set fields of ``unit``'s entry and save (e.g. an export task's id before polling it; see
        ``save_every_s``)."""
        entry = self.entry(unit)
        entry.update(fields)
        self._changed()
        return entry

    def finish(self, unit: str, output: str | os.PathLike[str] | None = None, **fields: Any) -> dict[str, Any]:
        """Record ``unit`` as done with its ``output`` file (inside the ledger's folder; its checksum is
        kept), or with no file, and save (see ``save_every_s``)."""
        entry = self.entry(unit)
        for name in _OUTPUT_FIELDS:
            entry.pop(name, None)
        if output is not None:
            output = Path(output)
            entry["path"] = output.relative_to(self.folder).as_posix()
            entry["sha256"] = file_sha256(output)
        entry.update(fields, state=DONE)
        self._changed()
        return entry
