"""Saving and loading gee-crop model files.

A CropNet model file (``model.pt``) is ``torch.save`` of a dict::

    gee_crop_model   format version (str)
    arch             "cropnet2d" | "cropnet1d"
    arch_kwargs      constructor arguments (dict)
    state_dict       weights and normalization buffers
    classes, bands   the output classes and input bands, in order
    season           {start_month_day, length_days, window_days, n_bins, year_trained}
    cloud_threshold, max_gap_bins, feature_kind ("median2d" | "median1d" | "harmonic")
    train_config, metrics

Everything but the weights is plain JSON-able data, so the file loads with
``torch.load(weights_only=True)`` (no code is unpickled). A Random Forest baseline (``model.pkl``)
is a joblib pickle of the same dict with ``arch = "random_forest"`` and the fitted estimator under
``estimator``; only load pickles you made yourself.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from gee_crop.atomic import atomic_write
from gee_crop.errors import ModelFileError
from gee_crop.models.cropnet import ARCHITECTURES, build_model

FORMAT_VERSION = "1"
FORMAT_KEY = "gee_crop_model"
RANDOM_FOREST = "random_forest"
#: keys every model file carries besides the weights.
META_KEYS = ("arch", "arch_kwargs", "classes", "bands", "season", "cloud_threshold", "max_gap_bins",
             "feature_kind", "train_config", "metrics")
_PAYLOAD_KEYS = ("state_dict", "estimator")


def _plain(meta: dict) -> dict:
    """Metadata as plain JSON types (numpy scalars, tuples -> Python), so weights_only loading works."""
    return json.loads(json.dumps(meta, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _check_meta(meta: dict) -> None:
    missing = [k for k in META_KEYS if k not in meta and k not in ("arch", "arch_kwargs")]
    if missing:
        raise ValueError(f"model metadata lacks {missing}")


def save_model(path: str | os.PathLike, model: torch.nn.Module, arch: str, arch_kwargs: dict,
               meta: dict) -> Path:
    """Write a CropNet model file atomically (weights on CPU); returns the path."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
    _check_meta(meta)
    payload = {FORMAT_KEY: FORMAT_VERSION, **_plain({**meta, "arch": arch, "arch_kwargs": arch_kwargs}),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    return atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def save_random_forest(path: str | os.PathLike, estimator: Any, arch_kwargs: dict, meta: dict) -> Path:
    """Write a Random Forest baseline (joblib pickle of the metadata dict + estimator); returns the path."""
    import joblib

    _check_meta(meta)
    payload = {FORMAT_KEY: FORMAT_VERSION,
               **_plain({**meta, "arch": RANDOM_FOREST, "arch_kwargs": arch_kwargs}),
               "estimator": estimator}
    return atomic_write(Path(path), lambda tmp: joblib.dump(payload, tmp))


def _not_a_model(path: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a gee-crop model ({why}); give the model.pt (or model.pkl) "
                          "written by `gee-crop train`")


def read_model_file(path: str | os.PathLike) -> dict:
    """The raw dict of a model file, validated (ModelFileError for anything else)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist; train one with `gee-crop train`")
    with path.open("rb") as fh:
        head = fh.read(2)
    if zipfile.is_zipfile(path):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable content is the user's file problem
            raise _not_a_model(path, f"torch cannot read it safely: {type(exc).__name__}") from None
    elif head[:1] == b"\x80":  # pickle protocol 2+ (joblib writes plain pickles)
        try:
            import joblib

            payload = joblib.load(path)
        except Exception as exc:  # noqa: BLE001
            raise _not_a_model(path, f"unreadable pickle: {type(exc).__name__}") from None
    else:
        raise _not_a_model(path, "neither a torch file nor a pickle")
    if not isinstance(payload, dict) or FORMAT_KEY not in payload:
        what = "a plain torch state_dict or checkpoint" if isinstance(payload, dict) else type(payload).__name__
        raise _not_a_model(path, f"it holds {what} without the '{FORMAT_KEY}' key")
    if str(payload[FORMAT_KEY]) != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format {payload[FORMAT_KEY]!r} but this gee-crop reads "
                             f"format {FORMAT_VERSION!r}; upgrade gee-crop or retrain the model")
    missing = [k for k in META_KEYS if k not in payload]
    if missing or not any(k in payload for k in _PAYLOAD_KEYS):
        raise _not_a_model(path, f"missing {', '.join(missing) or 'weights'}")
    return payload


def load_model(path: str | os.PathLike) -> tuple[Any, dict]:
    """Load a model file: ``(model, meta)``.

    ``model`` is a CropNet in eval mode on CPU, or the fitted scikit-learn estimator of a Random
    Forest file; ``meta`` is the metadata dict (every key but the weights).
    """
    payload = read_model_file(path)
    meta = {k: v for k, v in payload.items() if k not in _PAYLOAD_KEYS}
    if payload["arch"] == RANDOM_FOREST:
        return payload["estimator"], meta
    if payload["arch"] not in ARCHITECTURES or "state_dict" not in payload:
        raise _not_a_model(Path(path), f"unknown architecture {payload['arch']!r}")
    model = build_model(payload["arch"], payload["arch_kwargs"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weights do not match {payload['arch']} "
                             f"{payload['arch_kwargs']} ({str(exc).splitlines()[0]}); the file is "
                             "damaged, retrain the model") from None
    model.eval()
    return model, meta


def is_random_forest(meta: dict) -> bool:
    return meta.get("arch") == RANDOM_FOREST


__all__ = ["FORMAT_VERSION", "FORMAT_KEY", "save_model", "save_random_forest", "load_model",
           "read_model_file", "is_random_forest"]
