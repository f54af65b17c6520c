"""A torch stand-in for an onnxruntime session: maps straight from a ``model.pt``, in fp32 or bf16.

bf16 runs where the hardware has it (CPUs with AVX-512 BF16 / AMX, CUDA GPUs): onnxruntime's CPU
provider has no bf16 convolutions, so the bf16 path goes through torch. The session answers
``run([output], {input: batch})`` like onnxruntime, so batching and the map pipeline stay the same.
"""
from __future__ import annotations

import os

import numpy as np

from gee_crop.errors import ModelFileError

PRECISIONS = ("fp32", "bf16")


class TorchSession:
    """Softmax probabilities of a CropNet ``model.pt`` (eval mode, channels-last, optional bf16 autocast)."""

    def __init__(self, model_pt: str | os.PathLike, precision: str = "fp32", device: str = "auto",
                 threads: int | None = None) -> None:
        import torch

        from gee_crop.models.io import is_random_forest, load_model
        from gee_crop.models.device import resolve_device

        if precision not in PRECISIONS:
            raise ModelFileError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        model, meta = load_model(model_pt)
        if is_random_forest(meta) or meta.get("arch") != "cropnet2d":
            raise ModelFileError(f"{model_pt} is a {meta.get('arch')} model; maps need a CropNet 2D model.pt")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = resolve_device(device)
        self.precision = precision
        self.model = model.to(self.device).to(memory_format=torch.channels_last).eval()

    def run(self, output_names, feeds: dict) -> list[np.ndarray]:
        import torch

        (batch,) = feeds.values()
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                     enabled=self.precision == "bf16"):
            logits = self.model(x)
        return [torch.softmax(logits.float(), dim=1).cpu().numpy()]
