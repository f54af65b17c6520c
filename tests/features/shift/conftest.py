"""Fixtures of the transfer-risk tests: real model inputs (5-day median composites, gap rule 12 bins as
the trainer's FeatureSpec) of the WorldCereal extractions and the Flanders 2019 patch, and the mapping
tests' patch, tiny ONNX model and reference map (reused from tests/mapping/conftest.py)."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.data.sampling import sample_from_files
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.features.spec import FeatureSpec
from gee_crop.training.dataset import series_features
from gee_crop.types import SamplingRules
from tests.mapping.conftest import (contract, offline_ee, patch_stack, reference_run,  # noqa: F401
                                    season_2019, tiny_onnx)

#: the trainer's contract with the gap rule that keeps dekadal and monthly extractions (12 bins = 60 days).
SPEC = FeatureSpec(max_gap_bins=12)
EXTRACTIONS = {"FRA 2023": "2023_FRA_LPIS_POLY_110_dekadal.geoparquet",
               "FRA 2022": "2022_FRA_LPIS_POLY_110_monthly.geoparquet",
               "BEL 2021": "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"}


def kept_inputs(series) -> np.ndarray:
    """(n, 10, t) reflectance medians of the samples the gap rule keeps, each in its own season."""
    feats = series_features(series, SPEC)
    return feats.values[feats.keep]


@pytest.fixture(scope="session")
def domain_inputs(shared_data) -> dict[str, np.ndarray]:
    """Real model inputs per domain: the three WorldCereal extractions and the Flanders 2019 patch
    (sampled as the issue's benchmark does: 20 m inward buffer, 30 m spacing)."""
    inputs = {name: kept_inputs(read_worldcereal(shared_data / "wc-extractions" / file))
              for name, file in EXTRACTIONS.items()}
    patch = sample_from_files(shared_data / "wc-gee-patches" / "0000280849BAC91C", region="BEL",
                              rules=SamplingRules(buffer_m=20, spacing_m=30, per_cell=400))
    inputs["Flanders 2019"] = kept_inputs(patch)
    return inputs


def held_out_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices: a random 20 % held out."""
    order = np.random.default_rng(seed).permutation(n)
    return order[n // 5:], order[:n // 5]


@pytest.fixture
def old_model(tmp_path):
    """The shipped default model with its domain summary taken out: a model exported before models
    stored one (gee-crop < 0.3)."""
    import onnx

    from gee_crop.models.zoo import zoo_model

    proto = onnx.load(str(zoo_model().path))
    kept = [p for p in proto.metadata_props if p.key != "domain_summary"]
    assert len(kept) < len(proto.metadata_props)
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    path = tmp_path / "old.int8.onnx"
    onnx.save(proto, str(path))
    return path
