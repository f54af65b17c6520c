"""Which torch device to run on: one rule for training, evaluation and the CLI options."""

from __future__ import annotations

import torch

from gee_crop.errors import InputError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """ "auto" -> CUDA when available, else CPU; an unavailable CUDA request is a user error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
