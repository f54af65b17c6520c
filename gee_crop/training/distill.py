"""Knowledge distillation: a small student learns the teacher's soft probabilities plus the labels.

The loss of a batch is (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network")::

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)

The teacher sees the very batch the student sees, after the same augmentation (the fit loop draws
it once and gives it to both), in eval mode and without gradients, so its soft targets follow every
time shift, scale and warp. The teacher must read the student's input: the same feature kind,
season, window, bands and classes (InputError otherwise, naming what differs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.io import load_model, read_contract
from gee_crop.season import Season

#: softmax temperature of the soft targets, and the weight of the distillation term.
DISTILL_TEMPERATURE = 2.0
DISTILL_ALPHA = 0.5
#: contract fields a teacher must share with its student (the model input and the classes).
SHARED_FIELDS = ("feature_kind", "season", "bands", "classes")


@dataclass
class DistillationLoss:
    """``loss(x, student_logits, labels)`` for :func:`gee_crop.training.loop.fit`."""

    teacher: nn.Module
    temperature: float = DISTILL_TEMPERATURE
    alpha: float = DISTILL_ALPHA
    class_weights: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self._hard = nn.CrossEntropyLoss(weight=self.class_weights)

    def to(self, device: torch.device | str) -> DistillationLoss:
        self.teacher.to(device)
        if self.class_weights is not None:
            self._hard = nn.CrossEntropyLoss(weight=self.class_weights.to(device))
        return self

    def __call__(self, x: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft = torch.softmax(self.teacher(x).float() / self.temperature, dim=1)
        log_student = torch.log_softmax(logits / self.temperature, dim=1)
        kl = nn.functional.kl_div(log_student, soft, reduction="batchmean")
        return self.alpha * self.temperature**2 * kl + (1 - self.alpha) * self._hard(logits, labels)


def _differing(field: str, teacher: FeatureSpec, student: FeatureSpec) -> list[str]:
    """``[field]`` when the two contracts differ in it (for the season: the season's fields that differ)."""
    if field == "season":
        return [
            f"season.{f.name}"
            for f in fields(Season)
            if getattr(teacher.season, f.name) != getattr(student.season, f.name)
        ]
    return [field] if getattr(teacher, field) != getattr(student, field) else []


def load_teacher(path: str | os.PathLike, student: FeatureSpec) -> nn.Module:
    """The teacher model.pt at ``path`` (eval mode, CPU), checked against the student's contract."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--distill-from {path}: no such file; give the teacher's model.pt (a `gee-crop train` run)")
    teacher_spec = read_contract(path)
    differ = [name for f in SHARED_FIELDS for name in _differing(f, teacher_spec, student)]
    if differ:
        raise InputError(
            f"--distill-from {path}: the teacher reads other inputs ({', '.join(differ)} differ); "
            "train the student with the teacher's season, window and features"
        )
    model, _ = load_model(path)
    return model
