"""What every architecture does first with its input: the contract's input scaling, then the per-band
(or per-feature) standardisation fitted on the training reflectance.

Each torch architecture holds one :class:`InputNormalization` as its ``normalization`` submodule and
calls it first in ``forward``, so training, evaluation, Grad-CAM, mapping and the ONNX graph all feed
raw reflectance (DN / 1e4) and the statistics travel with the weights (buffers ``normalization.mean``
and ``normalization.std`` of the state_dict). The input scaling (``input_scaling`` of the contract,
METHOD.md "Input scaling") is not a weight: it comes from the model file's metadata and is set with
:func:`apply_input_scaling` whenever a model is built or loaded.

Files written before this module kept the statistics as the model's own ``band_mean`` / ``band_std``
buffers; :func:`rename_legacy_buffers`, registered by every architecture as a load_state_dict
pre-hook, maps those names, so older model files, checkpoints and the shipped zoo weights load as
they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from gee_crop.config import InputScaling
from gee_crop.features.spec import LOG_GAIN, SMOOTH_BINS

#: the submodule name every architecture gives its normalisation, and the state_dict names that older
#: files used for its buffers.
NORMALIZATION_ATTR = "normalization"
LEGACY_BUFFERS = {"band_mean": f"{NORMALIZATION_ATTR}.mean", "band_std": f"{NORMALIZATION_ATTR}.std"}
#: a band (or feature) with a smaller training std is constant: it is centred but not rescaled.
MIN_STD = 1e-6


def scale_input(x: torch.Tensor, scaling: InputScaling | str) -> torch.Tensor:
    """``x`` (reflectance, any shape, time on the last axis) as a model of ``scaling`` sees it before
    standardisation; the torch twin of ``features.spec.scale_reflectance``."""
    if InputScaling(scaling) == InputScaling.STANDARD:
        return x
    if InputScaling(scaling) == InputScaling.SMOOTH:  # the moving mean over the last (time) axis
        half, t = SMOOTH_BINS // 2, x.shape[-1]
        padded = torch.cat([x[..., :1]] * half + [x] + [x[..., -1:]] * half, dim=-1)
        total = sum(padded[..., k : k + t] for k in range(SMOOTH_BINS))
        assert isinstance(total, torch.Tensor)  # SMOOTH_BINS >= 1 slices: never the empty sum 0
        return total / SMOOTH_BINS
    return torch.log1p(torch.clamp(x, min=0.0) * LOG_GAIN)


class InputNormalization(nn.Module):
    """``x -> (scale_input(x) - mean) / std``, the statistics broadcast along ``axis`` of ``x``.

    ``n_channels``: bands (``axis=-2`` of a ``(N, 1, bands, t)`` median matrix) or flat features
    (``axis=-1`` of ``(N, 1, F)``). The buffers start as the identity (mean 0, std 1); the trainer sets
    them with :meth:`set_statistics`.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_channels: int, axis: int = -2) -> None:
        super().__init__()
        self.axis = axis
        self.scaling = InputScaling.STANDARD
        self.register_buffer("mean", torch.zeros(n_channels))
        self.register_buffer("std", torch.ones(n_channels))

    def set_statistics(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        """Store the training mean / std ((n_channels,) each; ValueError for another shape); a constant
        band or feature (std ~ 0) is left unscaled instead of divided by zero."""
        mean = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        std = torch.as_tensor(np.asarray(std, dtype=np.float32))
        if mean.shape != self.mean.shape or std.shape != self.std.shape:
            raise ValueError(
                f"normalization must have shape {tuple(self.mean.shape)}, "
                f"got {tuple(mean.shape)} and {tuple(std.shape)}"
            )
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > MIN_STD, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.axis] = -1
        return (scale_input(x, self.scaling) - self.mean.view(shape)) / self.std.view(shape)

    def extra_repr(self) -> str:
        return f"{len(self.mean)}, axis={self.axis}, scaling={self.scaling.value}"


def rename_legacy_buffers(module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    """load_state_dict pre-hook: ``band_mean`` / ``band_std`` (files of older versions) loaded as
    ``normalization.mean`` / ``normalization.std``; register it on the architecture, not its submodule."""
    for old, new in LEGACY_BUFFERS.items():
        if prefix + old in state_dict and prefix + new not in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


class NormalizedModel(nn.Module):
    """Base of the torch architectures: standardises its reflectance input inside ``forward`` with
    ``self.normalization`` (its statistics travel with the weights; older files' buffer names load too)."""

    def __init__(self, n_channels: int, axis: int) -> None:
        super().__init__()
        self.normalization = InputNormalization(n_channels, axis)
        self.register_load_state_dict_pre_hook(rename_legacy_buffers)

    def set_normalization(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        """Store the training reflectance mean/std (per band, or per feature of a 1D model; std ~0 left unscaled)."""
        self.normalization.set_statistics(mean, std)


def normalization_of(model: nn.Module) -> InputNormalization:
    """The normalisation module of an architecture (ValueError for a model without one)."""
    found = getattr(model, NORMALIZATION_ATTR, None)
    if not isinstance(found, InputNormalization):
        raise ValueError(f"{type(model).__name__} has no input normalization")
    return found


def apply_input_scaling(model: nn.Module, scaling: InputScaling | str) -> nn.Module:
    """Make ``model`` rescale its input with ``scaling`` before standardising it (in place; returns it).
    Calling it again replaces the scaling, never stacks a second one."""
    normalization_of(model).scaling = InputScaling(scaling)
    return model


def input_scaling_of(model: nn.Module) -> InputScaling:
    """The input scaling ``model`` applies."""
    return normalization_of(model).scaling
