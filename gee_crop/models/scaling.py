"""Input scaling inside a torch model: the contract's ``input_scaling`` applied before the model's own
per-band standardisation, so training, prediction, Grad-CAM and the ONNX graph all see the same input.

Every architecture standardises raw reflectance with its ``band_mean`` / ``band_std`` buffers inside
``forward``. :func:`apply_input_scaling` puts the contract's rescaling in front of that as a forward
pre-hook: the weights, the state_dict and the architecture's class are unchanged (old files load as
they were), and because the hook runs in ``module(x)`` it is traced into ONNX like any other op.
Code that calls parts of a model (``model.blocks(...)``) instead of ``model(x)`` must apply
:func:`scale_input` itself.
"""
from __future__ import annotations

import torch
from torch import nn

from gee_crop.config import InputScaling
from gee_crop.features.spec import LOG_GAIN, SMOOTH_BINS

#: the attribute that holds a model's input scaling, and the marker of its registered hook.
SCALING_ATTR = "input_scaling"
_HOOKED_ATTR = "_gee_crop_scaling_hook"


def scale_input(x: torch.Tensor, scaling: InputScaling | str) -> torch.Tensor:
    """``x`` (reflectance, any shape) as a model of ``scaling`` sees it before standardisation; the torch
    twin of ``features.spec.scale_reflectance``."""
    if InputScaling(scaling) == InputScaling.STANDARD:
        return x
    if InputScaling(scaling) == InputScaling.SMOOTH:   # the moving mean over the last (time) axis
        half, t = SMOOTH_BINS // 2, x.shape[-1]
        padded = torch.cat([x[..., :1]] * half + [x] + [x[..., -1:]] * half, dim=-1)
        return sum(padded[..., k:k + t] for k in range(SMOOTH_BINS)) / SMOOTH_BINS
    return torch.log1p(torch.clamp(x, min=0.0) * LOG_GAIN)


def _scale_hook(module: nn.Module, args: tuple) -> tuple | None:
    scaling = getattr(module, SCALING_ATTR, InputScaling.STANDARD)
    if scaling == InputScaling.STANDARD:
        return None
    return (scale_input(args[0], scaling), *args[1:])


def apply_input_scaling(model: nn.Module, scaling: InputScaling | str) -> nn.Module:
    """Make ``model`` rescale its input with ``scaling`` (in place; returns it). Idempotent: calling it
    again replaces the scaling, never stacks a second one."""
    setattr(model, SCALING_ATTR, InputScaling(scaling))
    if not getattr(model, _HOOKED_ATTR, False):
        model.register_forward_pre_hook(_scale_hook)
        setattr(model, _HOOKED_ATTR, True)
    return model


def input_scaling_of(model: nn.Module) -> InputScaling:
    """The input scaling ``model`` applies ("standard" for a model never given one)."""
    return InputScaling(getattr(model, SCALING_ATTR, InputScaling.STANDARD))
