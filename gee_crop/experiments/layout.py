"""Where an experiment keeps its files (see ``runner``'s docstring for the whole layout), and the
fingerprints that say whether a saved model or result still matches the settings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gee_crop.experiments.config import ModelSpec, TransferSpec

#: The run ledger of an experiment folder: every trained model and result with its fingerprint.
LEDGER_FILE = "ledger.json"


def fingerprint(*parts) -> str:
    """A short stable hash of JSON-able settings."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def model_dir(out_dir: Path, model: ModelSpec, transfer: TransferSpec, seed: int) -> Path:
    """The training folder of (model, training set, seed)."""
    return out_dir / "models" / model.key / transfer.train_key / f"seed{seed}"


def result_path(out_dir: Path, model: ModelSpec, transfer: TransferSpec, seed: int) -> Path:
    """The result JSON of (model, transfer, seed)."""
    return out_dir / "runs" / model.key / transfer.key / f"seed{seed}.json"
