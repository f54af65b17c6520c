"""A network's output layer (its classifier head) and the rest (its encoder): a new head for other
classes, and an encoder frozen while the head learns (fine-tuning with the user's own classes,
training/finetune.py).

The head of every registered torch architecture is its last ``nn.Linear`` in module order: CropNet's
``classifier``, TempCNN's ``head.5``, the backbones' final linear layer. Everything else, the input
normalization included, is the encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn


def output_layer(model: nn.Module) -> tuple[str, nn.Linear]:
    """``(name, layer)`` of the model's output layer: its last ``nn.Linear`` (ValueError without one)."""
    found = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no linear output layer")
    return found[-1]


def replace_output_layer(model: nn.Module, rows: Sequence[int | None]) -> str:
    """Give ``model`` (in place) a new output layer of ``len(rows)`` classes: output ``i`` copies row
    ``rows[i]`` (weights and bias) of the old layer, or is freshly initialised (torch's default, from
    the current torch seed) where ``rows[i]`` is None. Returns the layer's name."""
    name, old = output_layer(model)
    new = nn.Linear(old.in_features, len(rows), bias=old.bias is not None)
    with torch.no_grad():
        for i, row in enumerate(rows):
            if row is None:
                continue
            new.weight[i] = old.weight[row]
            if new.bias is not None and old.bias is not None:
                new.bias[i] = old.bias[row]
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)
    return name


def _stay_in_eval(module: nn.Module, mode: bool = True) -> nn.Module:
    """``module.train(mode)`` of a frozen layer: it stays in eval mode."""
    return nn.Module.train(module, False)


def freeze_encoder(model: nn.Module) -> str:
    """Freeze every layer of ``model`` but its output layer, in place: no gradients, and eval mode for
    good (BatchNorm keeps its running statistics, dropout is off), so the head learns on the features
    the source computes at prediction time. Returns the head's name."""
    name, head = output_layer(model)
    for module in model.modules():
        if module is head:
            continue
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(False)
        if not list(module.children()):  # a leaf layer: the fit loop's model.train() must not wake it
            module.train = partial(_stay_in_eval, module)  # type: ignore[method-assign]
            module.eval()
    return name
