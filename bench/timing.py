"""What the benchmarks share: a settled timer and a multiply-accumulate counter."""
from __future__ import annotations

import time

import numpy as np
import torch

#: Pause before each measurement: OpenBLAS and OpenMP threads of the previous one keep spinning
#: for a moment and would steal the cores from the next.
SETTLE_S = 0.5


def timed(fn) -> float:
    """Seconds ``fn`` takes, after a pause of SETTLE_S."""
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def macs_per_pixel(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass (1D/2D convolutions and linear layers), by hooks."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
            k = int(np.prod(module.kernel_size)) * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros((1, *shape)))
    for h in handles:
        h.remove()
    return total
