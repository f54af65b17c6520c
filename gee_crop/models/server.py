"""A model file as the classifier inside the Earth Engine graph (``gee-crop map --on-server``).

The numbers come from the model file itself, so any TempCNN a user trains or fine-tunes runs there as
the shipped student does: a ``model.pt`` (``torch.load(weights_only=True)``, batch norm folded into the
convolutions) or its ONNX export (initializers; an int8 file's weights dequantized, its activations
kept in float). A Random Forest's ``model.onnx`` gives its trees (``TreeEnsembleClassifier``). The graph
itself is built in :mod:`gee_crop.earthengine.inference` (that floor cannot read a model file). CropNet
and the other large networks stay local: :func:`server_model` refuses them in one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import ee
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

from gee_crop.config import Arch, Encoding
from gee_crop.earthengine.client import request_body_bytes
from gee_crop.earthengine.inference import (
    ConvLayer,
    DecisionTree,
    DenseLayer,
    ForestTrees,
    ServerModel,
    TempCNNLayers,
    classification_image,
    forest_trees,
    tree_table_classifier,
    tree_table_exports,
)
from gee_crop.errors import ModelFileError
from gee_crop.models.io import INPUT_NAME, ModelFile, load_model
from gee_crop.models.tempcnn import TempCNN
from gee_crop.models.zoo import zoo_model

#: the most multiply-accumulates per pixel a model may cost on the server: the student TempCNN costs
#: about 0.5 M, CropNet 174 M (the batch EECU of a country map scale with it).
MAX_SERVER_MACS = 5_000_000


@dataclass(frozen=True)
class ServerCost:
    """What a model costs inside the map graph: ``macs_per_pixel`` (multiply-accumulates; for a forest
    the comparisons of its deepest paths, summed over the trees) and ``request_bytes`` (the request body
    of the classifier graph over a placeholder composite: its weights or tree strings)."""

    macs_per_pixel: int
    request_bytes: int


def _name(model: ModelFile) -> str:
    stem = model.path.name.split(".")[0]
    return str(model.path) if stem == "model" else stem


# ------------------------------------------------------------------------------------------- TempCNN


def _torch_tempcnn(model: ModelFile) -> TempCNNLayers:
    """The layers of a TempCNN ``model.pt``: each Conv1d with its BatchNorm1d folded in (eval statistics)."""
    net, _ = load_model(model)
    assert isinstance(net, TempCNN), "server_model reads only TempCNN files here"
    convs = []
    for block in net.convs:
        block = cast(torch.nn.Sequential, block)
        conv, norm = cast(torch.nn.Conv1d, block[0]), cast(torch.nn.BatchNorm1d, block[1])
        assert norm.running_mean is not None and norm.running_var is not None, "batch norm without statistics"
        scale = (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach().double().numpy()
        weight = conv.weight.detach().double().numpy() * scale[:, None, None]
        bias = norm.bias.detach().double().numpy() - norm.running_mean.double().numpy() * scale
        if conv.bias is not None:
            bias = bias + conv.bias.detach().double().numpy() * scale
        convs.append(ConvLayer(weight, bias, int(conv.stride[0]), int(conv.padding[0])))
    dense = [
        DenseLayer(m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
        for m in net.head
        if isinstance(m, torch.nn.Linear)
    ]
    spec = model.contract
    return TempCNNLayers(
        spec.classes,
        spec.n_bins,
        spec.input_scaling,
        net.normalization.mean.double().numpy(),
        net.normalization.std.double().numpy(),
        tuple(convs),
        tuple(dense),
    )


class _OnnxTensors:
    """The constant tensors of an ONNX graph by name: initializers, and DequantizeLinear of initializers
    (an int8 file's weights: ``(q - zero_point) * scale`` along the node's axis)."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        self.values = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in proto.graph.initializer}
        self.producers = {out: node for node in proto.graph.node for out in node.output}

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.values:
            return self.values[name]
        node = self.producers.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            raise KeyError(name)
        q, scale = self.values[node.input[0]], self.values[node.input[1]]
        zero = self.values[node.input[2]] if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        return (q - zero) * scale

    def has(self, name: str) -> bool:
        try:
            self[name]
        except KeyError:
            return False
        return True


def _attr(node: onnx.NodeProto, name: str, default):
    found = [onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name]
    return found[0] if found else default


def _band_statistic(nodes: list[onnx.NodeProto], tensors: _OnnxTensors, op: str, n_bands: int) -> np.ndarray:
    """The (bands,) constant of the normalisation's Sub (mean) or Div (std): a (1, bands, 1) initializer."""
    for node in nodes:
        if node.op_type == op and tensors.has(node.input[1]):
            value = tensors[node.input[1]]
            if value.shape == (1, n_bands, 1):
                return value.ravel()
    raise ModelFileError(f"the ONNX graph has no per-band {op} of its input; export the model again with gee-crop")


def _onnx_tempcnn(model: ModelFile) -> TempCNNLayers:
    """The layers of an exported TempCNN (fp32 or int8; batch norm already folded by the exporter, or
    folded here where a BatchNormalization node follows a Conv)."""
    proto = onnx.load_model_from_string(model.data)
    tensors, nodes, spec = _OnnxTensors(proto), list(proto.graph.node), model.contract
    consumers = {name: node for node in nodes for name in node.input}
    convs = []
    for node in (n for n in nodes if n.op_type == "Conv"):
        weight = tensors[node.input[1]]
        bias = tensors[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0])
        after = consumers.get(node.output[0])
        if after is not None and after.op_type == "BatchNormalization":
            gamma, beta, mean, var = (tensors[name] for name in after.input[1:5])
            scale = gamma / np.sqrt(var + _attr(after, "epsilon", 1e-5))
            weight, bias = weight * scale[:, None, None], beta + (bias - mean) * scale
        pads = list(_attr(node, "pads", [0, 0]))
        if pads[0] != pads[-1] or _attr(node, "group", 1) != 1:
            raise ModelFileError(f"{model.path}: a convolution of the ONNX graph is not a TempCNN's; export it again")
        convs.append(ConvLayer(weight, bias, int(_attr(node, "strides", [1])[0]), int(pads[0])))
    dense = []
    for node in (n for n in nodes if n.op_type == "Gemm"):
        weight = tensors[node.input[1]]
        dense.append(DenseLayer(weight if _attr(node, "transB", 0) else weight.T, tensors[node.input[2]]))
    n_bands = len(spec.bands)
    mean = _band_statistic(nodes, tensors, "Sub", n_bands)
    std = _band_statistic(nodes, tensors, "Div", n_bands)
    return TempCNNLayers(spec.classes, spec.n_bins, spec.input_scaling, mean, std, tuple(convs), tuple(dense))


# ------------------------------------------------------------------------------------------- forests


def _onnx_trees(model: ModelFile) -> list[DecisionTree]:
    """The trees of a forest's ``TreeEnsembleClassifier``: ``BRANCH_LEQ`` splits (``x <= threshold`` goes
    to the true branch) and, per leaf, the class of its largest weight (the tree's vote)."""
    proto = onnx.load_model_from_string(model.data)
    node = next((n for n in proto.graph.node if n.op_type == "TreeEnsembleClassifier"), None)
    if node is None:
        raise ModelFileError(f"{model.path} holds no tree ensemble; train the forest again with gee-crop")
    a = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    modes = np.array([m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]])
    if set(modes) - {"BRANCH_LEQ", "LEAF"}:
        raise ModelFileError(f"{model.path} has splits other than x <= threshold; train the forest again with gee-crop")
    labels = np.asarray(a["classlabels_int64s"])
    tree_ids, node_ids = np.asarray(a["nodes_treeids"]), np.asarray(a["nodes_nodeids"])
    weights = (np.asarray(a["class_treeids"]), np.asarray(a["class_nodeids"]), np.asarray(a["class_ids"]))
    class_weights = np.asarray(a["class_weights"])
    trees = []
    for tree in np.unique(tree_ids):
        at = np.nonzero(tree_ids == tree)[0]
        index = {int(n): i for i, n in enumerate(node_ids[at])}  # node id -> position in this tree
        n = len(at)
        leaf = modes[at] == "LEAF"
        left = np.where(leaf, -1, [index.get(int(t), -1) for t in np.asarray(a["nodes_truenodeids"])[at]])
        right = np.where(leaf, -1, [index.get(int(f), -1) for f in np.asarray(a["nodes_falsenodeids"])[at]])
        votes = np.zeros((n, len(labels)))
        mine = weights[0] == tree
        np.add.at(votes, ([index[int(k)] for k in weights[1][mine]], weights[2][mine]), class_weights[mine])
        trees.append(
            DecisionTree(
                left.astype(np.int64),
                right.astype(np.int64),
                np.asarray(a["nodes_featureids"])[at],
                np.asarray(a["nodes_values"], dtype=np.float64)[at],
                labels[votes.argmax(axis=1)],
            )
        )
    return trees


def _depth(tree: DecisionTree) -> int:
    depth, frontier = 0, [0]
    while frontier:
        frontier = [c for n in frontier for c in (tree.left[n], tree.right[n]) if c >= 0]
        depth += 1 if frontier else 0
    return depth


# ------------------------------------------------------------------------------------------- dispatch


def model_macs(model: ModelFile) -> int:
    """Multiply-accumulates per pixel of a torch or ONNX network (convolutions and dense layers)."""
    if model.kind == "torch":
        net, _ = load_model(model)
        total = 0

        def count(module: torch.nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            nonlocal total
            total += output.numel() * int(np.prod(cast(torch.Tensor, module.weight).shape[1:]))

        hooks = [
            m.register_forward_hook(count)
            for m in net.modules()
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))
        ]
        with torch.no_grad():
            net(torch.zeros((1, *model.contract.input_shape)))
        for hook in hooks:
            hook.remove()
        return total
    return _onnx_macs(model)


def _onnx_macs(model: ModelFile) -> int:
    """Multiply-accumulates of an ONNX network: its Conv, Gemm and MatMul outputs (made graph outputs,
    computed by onnxruntime for one zero pixel: the exporters leave the time axis symbolic) times each
    output element's inputs."""
    proto = onnx.load_model_from_string(model.data)
    tensors = _OnnxTensors(proto)
    layers = [n for n in proto.graph.node if n.op_type in ("Conv", "Gemm", "MatMul") and tensors.has(n.input[1])]
    known = {o.name for o in proto.graph.output}
    proto.graph.output.extend(onnx.ValueInfoProto(name=n.output[0]) for n in layers if n.output[0] not in known)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, *model.contract.input_shape), dtype=np.float32)
    outputs = session.run([n.output[0] for n in layers], {INPUT_NAME: zeros})
    total = 0
    for node, out in zip(layers, outputs):
        weight = tensors[node.input[1]]
        if node.op_type == "Conv" or (node.op_type == "Gemm" and _attr(node, "transB", 0)):
            per_output = int(np.prod(weight.shape[1:]))  # (out, in, kernel...) or a transposed (out, in)
        else:
            per_output = weight.shape[0]  # (in, out)
        total += out.size * per_output
    return total


def server_model(model: ModelFile) -> ServerModel:
    """What of ``model`` runs on the server: a TempCNN's layers or a forest's tree strings.
    ModelFileError in one line for anything else (CropNet and the other large networks map locally)."""
    meta, spec = model.meta, model.contract
    arch = meta.get("arch")
    if arch == Arch.RANDOM_FOREST and spec.is_median:
        return forest_trees(_onnx_trees(model), spec.classes, spec.n_bins)
    macs = model_macs(model) if arch != Arch.RANDOM_FOREST else 0
    if arch == Arch.TEMPCNN and macs <= MAX_SERVER_MACS:
        return _torch_tempcnn(model) if model.kind == "torch" else _onnx_tempcnn(model)
    cost = f"costs {macs / 1e6:.0f} M MACs per pixel" if macs else f"uses {spec.feature_kind.value} features"
    raise ModelFileError(
        f"{_name(model)} {cost}; it is not for the server: map it locally (drop --on-server) or use {zoo_model().name}"
    )


def server_classification(
    model: ModelFile,
    composite: ee.Image,
    *,
    probabilities: bool = False,
    encoding: Encoding | str = Encoding.SQRT8,
    tree_tables: Sequence[str] | None = None,
) -> ee.Image:
    """The map of ``model`` computed inside Earth Engine from the 5-day composite that
    ``mapping.sources.EarthEngineSource.image`` builds (in ``encoding``, 0 = masked): uint8 bands
    ``class`` (index into the model's classes), ``confidence`` (round(100 x top probability)) and, with
    ``probabilities``, ``p_<class>`` (percent); masked where the composite is. ``tree_tables``: the asset
    ids where :func:`forest_table_exports` stored a forest too large for one request. ModelFileError for
    a model that does not run on the server (:func:`server_model`)."""
    classifier = tree_table_classifier(tree_tables) if tree_tables else None
    return classification_image(
        server_model(model), composite, probabilities=probabilities, encoding=encoding, classifier=classifier
    )


def forest_table_exports(model: ModelFile, asset_id: str, *, overwrite: bool = False) -> list[dict]:
    """The table exports that store a forest's tree strings as assets ``{asset_id}_000`` ... (for a forest
    whose ``server_cost(model).request_bytes`` exceeds the request limit); ModelFileError for a model that
    is no forest."""
    trees = server_model(model)
    if not isinstance(trees, ForestTrees):
        raise ModelFileError(f"{_name(model)} is not a Random Forest; only forests are stored as tree tables")
    return tree_table_exports(trees, asset_id, overwrite=overwrite)


def server_cost(model: ModelFile) -> ServerCost:
    """MACs per pixel and the request bytes of ``model``'s classifier graph (ModelFileError as
    :func:`server_model`)."""
    layers = server_model(model)
    image = classification_image(layers, ee.Image.constant(0))
    size = request_body_bytes({"expression": image})
    if isinstance(layers, TempCNNLayers):
        return ServerCost(layers.macs_per_pixel(), size)
    return ServerCost(sum(_depth(t) for t in _onnx_trees(model)), size)
