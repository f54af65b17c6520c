"""Gradient-weighted class activation maps over the band x time plane (METHOD.md "Feature
importance", paper Figs. 8-9).

Grad-CAM (Selvaraju et al. 2017) on the last conv block of CropNet 2D: the block's feature maps A_k
(N, C, h, w) are weighted by the mean gradient of the class logit over each map, summed over
channels and rectified; the (h, w) map is upsampled bilinearly to the input's (10, t) so that each
cell reads as "how much this band in this 5-day bin supported the class".
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def last_conv_block(model: nn.Module) -> nn.Module:
    """The module whose output Grad-CAM uses: CropNet's last block, else the model's ``body``."""
    if hasattr(model, "blocks"):
        blocks = model.blocks
        assert isinstance(blocks, (nn.Sequential, nn.ModuleList))  # CropNet's blocks: an nn.Sequential
        return blocks[-1]
    if hasattr(model, "body"):
        body = model.body
        assert isinstance(body, nn.Module)  # a registered submodule
        return body
    raise ValueError(f"{type(model).__name__} has neither CropNet blocks nor a backbone body")


def grad_cam(
    model: nn.Module,
    inputs: np.ndarray | torch.Tensor,
    classes: np.ndarray | int,
    *,
    batch_size: int = 256,
    normalize: bool = True,
) -> np.ndarray:
    """(N, 10, t) float32 Grad-CAMs of ``inputs`` (N, 1, 10, t) reflectance for ``classes``
    ((N,) class indices or one index). ``normalize``: each map scaled to max 1 (0 stays 0).

    The model runs in eval mode (dropout off); its mode and gradients are restored afterwards.
    """
    x_all = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    n, _, height, width = x_all.shape
    targets = torch.as_tensor(np.broadcast_to(np.asarray(classes, dtype=np.int64), (n,)).copy())
    block = last_conv_block(model)
    captured: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["maps"] = output

    handle = block.register_forward_hook(keep)
    was_training = model.training
    model.eval()
    out = []
    try:
        for begin in range(0, n, batch_size):
            x = x_all[begin : begin + batch_size].clone().requires_grad_(True)
            logits = model(x)
            picked = logits.gather(1, targets[begin : begin + batch_size, None]).sum()
            model.zero_grad(set_to_none=True)
            picked.backward()
            maps, grads = captured["maps"], captured["maps"].grad
            assert grads is not None  # retain_grad() in the hook keeps the block output's gradient
            weights = grads.mean(dim=(2, 3), keepdim=True)
            cam = torch.relu((weights * maps).sum(dim=1, keepdim=True))
            cam = nn.functional.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)
            out.append(cam[:, 0].detach())
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    cams: np.ndarray = torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, height, width), np.float32)
    if normalize and len(cams):
        peak = cams.reshape(len(cams), -1).max(axis=1)
        cams = cams / np.where(peak > 0, peak, 1.0)[:, None, None]
    return cams


def mean_cams(
    model: nn.Module, inputs: np.ndarray, labels: np.ndarray, classes: list[int], min_samples: int = 1
) -> dict[int, np.ndarray]:
    """Class index -> (10, t) mean normalized Grad-CAM of the samples of that class (true label),
    each taken for its own class; classes with fewer than ``min_samples`` samples are left out."""
    result = {}
    for cls in classes:  # at most 7 classes
        sel = np.flatnonzero(labels == cls)
        if len(sel) >= min_samples and len(sel):
            result[cls] = grad_cam(model, inputs[sel], cls).mean(axis=0)
    return result
