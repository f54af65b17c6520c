"""The Random Forest baseline of the paper (500 trees; METHOD.md "CropNet": "Baselines").

Trained on flat features: 1D medians (10 x t values) or the 35 harmonic coefficients. The paper's RF
on 1D medians is a strong, cheap baseline (95.77 % OA FRA->FRA, 92.26 % FRA->BEL).

A fitted forest is stored as ONNX (:func:`forest_to_onnx`), never as a pickle, so ``map`` and
``evaluate`` run it with onnxruntime and no code is unpickled when a model file is read.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gee_crop.classes import CLASSES

RF_TREES = 500
#: ONNX opsets of the forest graph: the default domain and the ONNX-ML domain (TreeEnsembleClassifier).
FOREST_OPSETS = {"": 17, "ai.onnx.ml": 3}


def fit_random_forest(
    features: np.ndarray, labels: np.ndarray, *, n_estimators: int = RF_TREES, seed: int = 0, n_jobs: int = -1
):
    """Fit ``RandomForestClassifier(n_estimators=500, n_jobs=-1)`` on (n, F) features, (n,) class indices."""
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=n_estimators, n_jobs=n_jobs, random_state=seed)
    forest.fit(np.asarray(features, dtype=np.float32), np.asarray(labels, dtype=np.int64))
    return forest


def forest_probabilities(forest, features: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """(n, n_classes) float32 class probabilities in config.CLASSES order.

    A forest only knows the classes it saw in training; the others get probability 0. No rows (an empty
    validation split, ``--val-fraction 0``) give no rows: scikit-learn refuses to predict on none.
    """
    features = np.asarray(features, dtype=np.float32)
    if len(features) == 0:
        return np.zeros((0, n_classes), dtype=np.float32)
    proba = forest.predict_proba(features)
    out = np.zeros((proba.shape[0], n_classes), dtype=np.float32)
    out[:, np.asarray(forest.classes_, dtype=np.int64)] = proba
    return out


def forest_to_onnx(
    forest, n_features: int, input_name: str, output_name: str, n_classes: int = len(CLASSES)
) -> onnx.ModelProto:
    """The fitted forest as an ONNX graph: ``input_name`` (N, n_features) float32 ->
    ``output_name`` (N, n_classes) probabilities in config.CLASSES order.

    skl2onnx writes the probabilities of the classes the forest saw; a (seen, n_classes) 0/1 matrix
    places them in their columns (exact: products with 1 and sums with 0), as
    :func:`forest_probabilities` does.
    """
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    proto = to_onnx(
        forest,
        initial_types=[(input_name, FloatTensorType([None, int(n_features)]))],
        options={id(forest): {"zipmap": False}},
        target_opset=dict(FOREST_OPSETS),
    )
    graph = proto.graph
    seen = np.asarray(forest.classes_, dtype=np.int64)
    placement = np.zeros((len(seen), n_classes), dtype=np.float32)
    placement[np.arange(len(seen)), seen] = 1.0
    produced = next(o for o in graph.output if "prob" in o.name).name
    for node in graph.node:  # rename skl2onnx's probabilities, which may already be called output_name
        node.output[:] = ["seen_class_probabilities" if out == produced else out for out in node.output]
    graph.initializer.append(numpy_helper.from_array(placement, "class_placement"))
    graph.node.append(helper.make_node("MatMul", ["seen_class_probabilities", "class_placement"], [output_name]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [None, n_classes]))
    proto.producer_name = "gee-crop"
    onnx.checker.check_model(proto)
    return proto
