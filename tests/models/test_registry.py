"""The architecture registry: one record per architecture, read by training, model files, cards and
experiments."""
from __future__ import annotations

import pytest
import torch

from gee_crop.config import Arch, FeatureKind
from gee_crop.errors import InputError
from gee_crop.experiments.config import ARCH_FEATURES
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.registry import (ARCHITECTURES, Architecture, arch_kwargs, architecture, build_model, register,
                                      torch_archs)
from gee_crop.season import Season
from gee_crop.training.trainer import TrainConfig


def test_every_architecture_has_exactly_one_record():
    assert list(ARCHITECTURES) == list(Arch)
    assert all(record.arch == arch for arch, record in ARCHITECTURES.items())
    assert architecture("tempcnn") is ARCHITECTURES[Arch.TEMPCNN]
    with pytest.raises(ValueError, match="twice"):
        register(Architecture(Arch.TEMPCNN, (FeatureKind.MEDIAN2D,)))
    with pytest.raises(ValueError, match="unknown architecture 'cropnet3d'"):
        architecture("cropnet3d")


def test_the_forest_is_the_one_architecture_that_is_not_torch():
    assert [a for a in Arch if a not in torch_archs()] == [Arch.RANDOM_FOREST]
    with pytest.raises(ValueError, match="not a torch architecture"):
        build_model("random_forest", {})
    with pytest.raises(ValueError, match="no constructor arguments"):
        arch_kwargs("random_forest", FeatureSpec())


#: the architectures with choosable widths (small here), each with every feature kind its record accepts
SMALL_WIDTHS = {Arch.CROPNET2D: (4, 4, 4, 4), Arch.CROPNET1D: (4, 4, 4, 4), Arch.TEMPCNN: (4, 4, 4, 8)}


@pytest.mark.parametrize("arch, feature_kind", [(arch, kind) for arch in SMALL_WIDTHS
                                                for kind in ARCHITECTURES[arch].features])
def test_a_record_builds_a_model_for_each_contract_it_accepts(arch, feature_kind):
    """Synthetic zeros: the constructor arguments follow from the contract (bins of a 15-day window,
    three classes), and the model reads the contract's input shape."""
    contract = FeatureSpec(feature_kind, season=Season(window_days=15), classes=("corn", "wheat", "other"))
    model = build_model(arch, arch_kwargs(arch, contract, widths=SMALL_WIDTHS[arch])).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, *contract.input_shape)).shape == (2, 3)


def test_training_and_experiments_read_the_records():
    for arch, record in ARCHITECTURES.items():
        default = TrainConfig(arch=arch.value).resolved().feature_kind
        assert default == record.features[0].value == ARCH_FEATURES[arch.value][0]
    with pytest.raises(InputError, match="tempcnn cannot use 'harmonic' features; use one of median2d"):
        TrainConfig(arch="tempcnn", feature_kind="harmonic").resolved()
