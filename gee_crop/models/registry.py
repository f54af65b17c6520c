"""The registered architectures: which features each reads, its constructor arguments, how to build it.

Every torch architecture (CropNet 2D / 1D and the paper's CNN baselines) is trained by the one fit
loop and saved as a ``model.pt`` (``models.io.save_model``); the Random Forest is saved as ONNX.
A new architecture is one entry here (and its module under ``models/``).
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from gee_crop.config import Arch, FeatureKind
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.backbones import build_backbone
from gee_crop.models.cropnet import build_model as build_cropnet
from gee_crop.models.tempcnn import TempCNN

#: the feature kinds each architecture accepts; the first is the default.
ARCH_FEATURES: dict[Arch, tuple[FeatureKind, ...]] = {
    Arch.CROPNET2D: (FeatureKind.MEDIAN2D,),
    Arch.CROPNET1D: (FeatureKind.MEDIAN1D, FeatureKind.HARMONIC),
    Arch.RANDOM_FOREST: (FeatureKind.MEDIAN1D, FeatureKind.HARMONIC),
    Arch.RESNET50: (FeatureKind.MEDIAN2D,),
    Arch.EFFICIENTNET_V2_S: (FeatureKind.MEDIAN2D,),
    Arch.CONVNEXT_TINY: (FeatureKind.MEDIAN2D,),
    Arch.TEMPCNN: (FeatureKind.MEDIAN2D,),
}
#: the paper's CNN baselines (models/backbones.py).
BASELINE_ARCHS: tuple[Arch, ...] = (Arch.RESNET50, Arch.EFFICIENTNET_V2_S, Arch.CONVNEXT_TINY)
#: architectures trained by the torch fit loop and saved as model.pt.
TORCH_ARCHS: tuple[Arch, ...] = (Arch.CROPNET2D, Arch.CROPNET1D, *BASELINE_ARCHS, Arch.TEMPCNN)


def arch_kwargs(arch: Arch | str, contract: FeatureSpec, *, widths: tuple[int, ...] = (),
                dropout: float = 0.1) -> dict:
    """The constructor arguments of ``arch`` for inputs of ``contract`` (saved in the model file)."""
    arch = Arch(arch)
    n_classes = len(contract.classes)
    if arch in (Arch.CROPNET2D, Arch.TEMPCNN):
        kwargs = {"n_bands": len(contract.bands), "n_bins": contract.n_bins}
    elif arch == Arch.CROPNET1D:
        kwargs = {"n_features": contract.n_features}
    else:
        return {"n_bands": len(contract.bands), "n_classes": n_classes}
    return {**kwargs, "n_classes": n_classes, "widths": list(widths), "dropout": dropout}


def _baseline(arch: Arch) -> Callable[..., nn.Module]:
    return lambda **kwargs: build_backbone(arch.value, **kwargs)


_BUILDERS: dict[Arch, Callable[..., nn.Module]] = {
    Arch.CROPNET2D: lambda **kwargs: build_cropnet("cropnet2d", kwargs),
    Arch.CROPNET1D: lambda **kwargs: build_cropnet("cropnet1d", kwargs),
    **{arch: _baseline(arch) for arch in BASELINE_ARCHS},
    Arch.TEMPCNN: TempCNN,
}


def build_model(arch: Arch | str, kwargs: dict) -> nn.Module:
    """A freshly initialised torch model of a registered architecture (ValueError for others)."""
    try:
        builder = _BUILDERS[Arch(arch)]
    except (ValueError, KeyError):
        raise ValueError(f"{arch!r} is not a torch architecture; expected one of "
                         f"{', '.join(a.value for a in TORCH_ARCHS)}") from None
    return builder(**kwargs)
