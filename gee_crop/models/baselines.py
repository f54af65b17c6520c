"""The Random Forest baseline of the paper (500 trees; METHOD.md "CropNet": "Baselines").

Trained on flat features: 1D medians (10 x t values) or the 35 harmonic coefficients. The paper's RF
on 1D medians is a strong, cheap baseline (95.77 % OA FRA->FRA, 92.26 % FRA->BEL).
"""
from __future__ import annotations

import numpy as np

from gee_crop.config import CLASSES

RF_TREES = 500


def fit_random_forest(features: np.ndarray, labels: np.ndarray, *, n_estimators: int = RF_TREES,
                      seed: int = 0, n_jobs: int = -1):
    """Fit ``RandomForestClassifier(n_estimators=500, n_jobs=-1)`` on (n, F) features, (n,) class indices."""
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=n_estimators, n_jobs=n_jobs, random_state=seed)
    forest.fit(np.asarray(features, dtype=np.float32), np.asarray(labels, dtype=np.int64))
    return forest


def forest_probabilities(forest, features: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """(n, n_classes) float32 class probabilities in config.CLASSES order.

    A forest only knows the classes it saw in training; the others get probability 0.
    """
    proba = forest.predict_proba(np.asarray(features, dtype=np.float32))
    out = np.zeros((proba.shape[0], n_classes), dtype=np.float32)
    out[:, np.asarray(forest.classes_, dtype=np.int64)] = proba
    return out
