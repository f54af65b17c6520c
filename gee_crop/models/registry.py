"""The registered architectures: one record each (in the manner of timm's ``register_model``).

A record says which feature kinds the architecture reads, how its constructor arguments follow from a
model contract, how to build it, and its parameter count in the paper. Every torch architecture
(CropNet 2D / 1D, the paper's CNN baselines, TempCNN) is trained by the one fit loop and saved as a
``model.pt`` (``models.io.save_model``); the Random Forest has no builder: it is fitted by scikit-learn
and saved as ONNX (``models.forest``). Training, model files, cards and experiments read the records.
A new architecture is its module under ``models/`` and one :func:`register` call here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from gee_crop.config import Arch, FeatureKind
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.backbones import convnext_tiny, efficientnet_v2_s, resnet50
from gee_crop.models.cropnet import CropNet1D, CropNet2D, count_parameters
from gee_crop.models.linear import LinearClassifier
from gee_crop.models.tempcnn import TempCNN

#: constructor arguments from the contract, the --widths and the --dropout of training.
KwargsOf = Callable[[FeatureSpec, tuple[int, ...], float], dict]


@dataclass(frozen=True)
class Architecture:
    """One registered architecture."""

    arch: Arch
    #: the feature kinds it accepts; the first is the default.
    features: tuple[FeatureKind, ...]
    #: the torch constructor (called with the saved ``arch_kwargs``); None for a model that is not torch.
    builder: Callable[..., nn.Module] | None = None
    #: its constructor arguments for inputs of a contract (saved in the model file as ``arch_kwargs``).
    kwargs_of: KwargsOf | None = None
    #: trainable parameters the paper reports (None where it reports none).
    paper_parameters: float | None = None

    @property
    def is_torch(self) -> bool:
        """Trained by the torch fit loop and saved as ``model.pt``."""
        return self.builder is not None


#: every registered architecture, in registration order.
ARCHITECTURES: dict[Arch, Architecture] = {}


def register(record: Architecture) -> Architecture:
    """Add ``record`` to the registry (ValueError for an architecture registered twice)."""
    if record.arch in ARCHITECTURES:
        raise ValueError(f"architecture {record.arch.value!r} is registered twice")
    ARCHITECTURES[record.arch] = record
    return record


def _median_matrix(contract: FeatureSpec, widths: tuple[int, ...], dropout: float) -> dict:
    """A network over the (bands, bins) median matrix with choosable widths."""
    return {
        "n_bands": len(contract.bands),
        "n_bins": contract.n_bins,
        "n_classes": len(contract.classes),
        "widths": list(widths),
        "dropout": dropout,
    }


def _flat_features(contract: FeatureSpec, widths: tuple[int, ...], dropout: float) -> dict:
    """A network over a flat feature vector with choosable widths."""
    return {
        "n_features": contract.n_features,
        "n_classes": len(contract.classes),
        "widths": list(widths),
        "dropout": dropout,
    }


def _paper_layout(contract: FeatureSpec, widths: tuple[int, ...], dropout: float) -> dict:
    """A baseline with its paper's layer table: only the input bands and the classes vary."""
    return {"n_bands": len(contract.bands), "n_classes": len(contract.classes)}


_FLAT = (FeatureKind.MEDIAN1D, FeatureKind.HARMONIC)
register(Architecture(Arch.CROPNET2D, (FeatureKind.MEDIAN2D,), CropNet2D, _median_matrix, 4.69e6))
register(Architecture(Arch.CROPNET1D, _FLAT, CropNet1D, _flat_features))
register(Architecture(Arch.RANDOM_FOREST, _FLAT))
register(Architecture(Arch.RESNET50, (FeatureKind.MEDIAN2D,), resnet50, _paper_layout, 23.57e6))
register(Architecture(Arch.EFFICIENTNET_V2_S, (FeatureKind.MEDIAN2D,), efficientnet_v2_s, _paper_layout, 20.24e6))
register(Architecture(Arch.CONVNEXT_TINY, (FeatureKind.MEDIAN2D,), convnext_tiny, _paper_layout, 27.85e6))
register(Architecture(Arch.TEMPCNN, (FeatureKind.MEDIAN2D,), TempCNN, _median_matrix))
register(Architecture(Arch.LINEAR, _FLAT, LinearClassifier, _flat_features))


def architecture(arch: Arch | str) -> Architecture:
    """The record of ``arch`` (ValueError naming the registered ones)."""
    try:
        return ARCHITECTURES[Arch(arch)]
    except (ValueError, KeyError):
        raise ValueError(
            f"unknown architecture {arch!r}; expected one of {', '.join(a.value for a in ARCHITECTURES)}"
        ) from None


def torch_archs() -> tuple[Arch, ...]:
    """The architectures trained by the torch fit loop and saved as ``model.pt``."""
    return tuple(a for a, record in ARCHITECTURES.items() if record.is_torch)


def flat_archs() -> tuple[Arch, ...]:
    """The architectures that read flat feature vectors (1D medians, EMIT spectra); the others need a
    (bands, time) matrix."""
    return tuple(a for a, record in ARCHITECTURES.items() if FeatureKind.MEDIAN1D in record.features)


def arch_kwargs(arch: Arch | str, contract: FeatureSpec, *, widths: tuple[int, ...] = (), dropout: float = 0.1) -> dict:
    """The constructor arguments of ``arch`` for inputs of ``contract`` (saved in the model file)."""
    record = architecture(arch)
    if record.kwargs_of is None:
        raise ValueError(f"{record.arch.value} is not a torch architecture; it has no constructor arguments")
    return record.kwargs_of(contract, tuple(widths), dropout)


def build_model(arch: Arch | str, kwargs: dict) -> nn.Module:
    """A freshly initialised torch model of a registered architecture (ValueError for others)."""
    record = ARCHITECTURES.get(Arch(arch)) if arch in Arch.values() else None
    if record is None or record.builder is None:
        raise ValueError(
            f"{arch!r} is not a torch architecture; expected one of {', '.join(a.value for a in torch_archs())}"
        )
    return record.builder(**kwargs)


def parameter_counts() -> dict[str, int]:
    """Trainable parameters of each architecture the paper counts (default constructor arguments)."""
    return {
        a.value: count_parameters(record.builder())
        for a, record in ARCHITECTURES.items()
        if record.builder is not None and record.paper_parameters
    }


def parameter_table(counts: dict[str, int] | None = None) -> str:
    """A plain-text table of the models' parameter counts next to the paper's."""
    counts = counts or parameter_counts()
    lines = [f"{'model':<18} {'parameters':>12} {'paper':>8}"]
    for arch, n in counts.items():
        paper = ARCHITECTURES[Arch(arch)].paper_parameters or 0.0
        lines.append(f"{arch:<18} {n / 1e6:>10.2f} M {paper / 1e6:>6.2f} M")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m gee_crop.models.registry
    print(parameter_table())
