"""The classifier inside the Earth Engine graph: the 5-day composite goes in, ``class`` and ``confidence``
(and optionally ``p_<class>``) come out, so only one or two bytes per pixel leave the server.

Two kinds of model run there, each described by plain numbers (``gee_crop.models.server`` reads them
from a model file):

* :class:`TempCNNLayers` -- a TempCNN as per-pixel array operations: ``toArray`` / ``arrayReshape`` to
  the (bands, t) input, the model's input scaling and standardisation, each Conv1d as a sum over kernel
  offsets of ``matrixMultiply`` with a constant weight array over an ``arraySlice`` window of the
  zero-padded input (batch norm folded in), ReLU, the flattening, the dense head and the softmax;
* :class:`ForestTrees` -- a Random Forest as ``ee.Classifier.decisionTreeEnsemble`` of tree strings in
  the text format of R's rpart (https://developers.google.com/earth-engine/apidocs/ee-classifier-decisiontree),
  its probabilities the share of trees voting for each class (``MULTIPROBABILITY``,
  https://developers.google.com/earth-engine/apidocs/ee-classifier-setoutputmode). A forest whose strings
  do not fit one request is stored first as table assets of tree strings (:func:`tree_table_exports`)
  and read back by :func:`tree_table_classifier`.

The composite is the one ``mapping.sources.EarthEngineSource.image`` requests: 10 x t bands, band-major
(:func:`~gee_crop.earthengine.composite.composite_band_names`), in an ``Encoding`` with 0 for a masked
pixel; it is decoded here exactly as the local map decodes it (:func:`decoded_reflectance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ee
import numpy as np

from gee_crop.config import LOG_GAIN, REFLECTANCE_SCALE, SMOOTH_BINS, Encoding, InputScaling
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT
from gee_crop.earthengine.composite import SQRT8_MAX, SQRT8_STEPS, composite_band_names

#: the output bands of a server map, as the local map's (``mapping.writers.band_names``).
CLASS_BAND, CONFIDENCE_BAND = "class", "confidence"
PERCENT = 100
#: table assets of tree strings: the property holding a tree, and the newline stand-in in it (one line
#: per node; the stand-in keeps a string one table cell, as geemap's ``export_trees_to_fc`` does).
TREE_PROPERTY, TREE_NEWLINE = "tree", "#"


@dataclass(frozen=True)
class ConvLayer:
    """One Conv1d + BatchNorm1d + ReLU block: ``weight`` (out, in, kernel) and ``bias`` (out,) with the
    batch norm folded in (float64), ``stride`` and zero ``padding`` along time."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int

    def out_steps(self, steps: int) -> int:
        """Time steps out of ``steps`` in."""
        return (steps + 2 * self.padding - self.weight.shape[2]) // self.stride + 1


@dataclass(frozen=True)
class DenseLayer:
    """One Linear layer: ``weight`` (out, in), ``bias`` (out,) (float64)."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class TempCNNLayers:
    """A TempCNN in numbers: ``scaling`` then ``(x - mean) / std`` per band ((bands,) each), the
    ``convs`` (each followed by ReLU), flattening (channel-major, as torch), the ``dense`` layers (ReLU
    between them; the last gives the logits of ``classes``)."""

    classes: tuple[str, ...]
    n_bins: int
    scaling: InputScaling
    mean: np.ndarray
    std: np.ndarray
    convs: tuple[ConvLayer, ...]
    dense: tuple[DenseLayer, ...]

    @property
    def n_bands(self) -> int:
        return len(self.mean)

    def macs_per_pixel(self) -> int:
        """Multiply-accumulates of one pixel: the convolutions, the dense layers and a smoothing matrix."""
        total = self.n_bands * self.n_bins * self.n_bins if self.scaling == InputScaling.SMOOTH else 0
        steps = self.n_bins
        for conv in self.convs:
            steps = conv.out_steps(steps)
            total += int(np.prod(conv.weight.shape)) * steps
        return total + sum(int(np.prod(layer.weight.shape)) for layer in self.dense)


@dataclass(frozen=True)
class DecisionTree:
    """One tree, node 0 its root: ``left`` / ``right`` child (-1 at a leaf), ``feature`` index and
    ``threshold`` (a pixel with ``value <= threshold`` goes left), ``leaf_class`` (class index voted at
    a leaf)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    leaf_class: np.ndarray


@dataclass(frozen=True)
class ForestTrees:
    """A Random Forest on the flat (band-major) reflectance of ``n_bins`` windows, as EE tree strings."""

    classes: tuple[str, ...]
    n_bins: int
    trees: tuple[str, ...]

    @property
    def voted(self) -> tuple[int, ...]:
        """The class indices some leaf votes for, ascending: the classes the ensemble has seen, the order
        of its ``MULTIPROBABILITY`` array."""
        return tuple(
            sorted({int(line.split()[-2]) for tree in self.trees for line in tree.splitlines() if line.endswith("*")})
        )


ServerModel = TempCNNLayers | ForestTrees


# ----------------------------------------------------------------------------------------- decoding


def decoded_reflectance(composite: ee.Image, n_bins: int, encoding: Encoding | str = Encoding.SQRT8) -> ee.Image:
    """The composite's 10 x ``n_bins`` values as one 1-D float64 array per pixel (band-major reflectance),
    decoded as the local map decodes them: sqrt8 codes -> ``max(1, round(10,000 SQRT8_MAX ((code - 1) /
    SQRT8_STEPS)^2)) / 10,000`` (the DN of ``mapping.sources.quantize_dn(decode_sqrt8(code))``, equal for
    all 256 codes), uint16 -> DN / 10,000. Array arithmetic, element by element with constant arrays of
    the same length: one operation per step instead of one per band."""
    names = composite_band_names(n_bins)
    codes = composite.select(names).toArray().toDouble()
    n = len(names)
    if Encoding(encoding) is Encoding.UINT16:
        return codes.divide(_full((n,), REFLECTANCE_SCALE))
    s = codes.subtract(_full((n,), 1.0)).divide(_full((n,), SQRT8_STEPS))
    dn = s.multiply(s).multiply(_full((n,), REFLECTANCE_SCALE * SQRT8_MAX)).round().max(_full((n,), 1.0))
    return dn.divide(_full((n,), REFLECTANCE_SCALE))


def composite_valid(composite: ee.Image, n_bins: int) -> ee.Image:
    """1 where every value of the pixel is set (a masked pixel travels as 0 in every encoding)."""
    return composite.select(composite_band_names(n_bins)).reduce(ee.Reducer.min()).gt(0)


# ----------------------------------------------------------------------------------------- TempCNN


def _short(values: np.ndarray) -> list:
    """``values`` as nested lists of the shortest decimals that round-trip float32: the weights are
    float32, and the request carries 10-12 characters a number instead of 18-20."""
    return np.asarray(values, dtype=np.float32).astype(str).astype(np.float64).tolist()


def _constant(values: np.ndarray) -> ee.Image:
    """A constant array image (every pixel holds ``values``)."""
    return ee.Image(ee.Array(_short(values)))


def _full(shape: tuple[int, ...], value: float) -> ee.Image:
    return _constant(np.full(shape, value))


def _lengths(*lengths: int) -> ee.Image:
    """The 1-D lengths image ``arrayReshape`` takes."""
    return ee.Image.constant(list(lengths)).toArray()


def smoothing_matrix(n_bins: int) -> np.ndarray:
    """(t, t) matrix A with ``x @ A`` = the moving mean of input scaling "smooth" (``SMOOTH_BINS`` bins,
    centred, the first and last bin repeated at the edges; ``features.spec.scale_reflectance``)."""
    half = SMOOTH_BINS // 2
    a = np.zeros((n_bins, n_bins))
    for t in range(n_bins):
        for k in range(-half, half + 1):
            a[min(max(t + k, 0), n_bins - 1), t] += 1.0 / SMOOTH_BINS
    return a


def _scaled(x: ee.Image, layers: TempCNNLayers) -> ee.Image:
    """The (bands, t) reflectance as the model sees it before its standardisation."""
    shape = (layers.n_bands, layers.n_bins)
    if layers.scaling == InputScaling.SMOOTH:
        return x.matrixMultiply(_constant(smoothing_matrix(layers.n_bins)))
    if layers.scaling == InputScaling.LOG:  # log1p(LOG_GAIN max(x, 0))
        return x.max(_full(shape, 0.0)).multiply(_full(shape, LOG_GAIN)).add(_full(shape, 1.0)).log()
    return x


def _conv(x: ee.Image, conv: ConvLayer, steps: int) -> ee.Image:
    """ReLU(conv(x)) of a (in, steps) array image: sum over kernel offsets k of W[:, :, k] times the
    window of the zero-padded input starting at k, every ``stride``-th step."""
    n_in, out = conv.weight.shape[1], conv.out_steps(steps)
    if conv.padding:
        pad = _full((n_in, conv.padding), 0.0)
        x = pad.arrayCat(x, 1).arrayCat(pad, 1)
    total = None
    for k in range(conv.weight.shape[2]):
        window = x.arraySlice(1, k, k + conv.stride * (out - 1) + 1, conv.stride)
        term = _constant(conv.weight[:, :, k]).matrixMultiply(window)
        total = term if total is None else total.add(term)
    assert total is not None, "a convolution has at least one kernel offset"
    shape = (conv.weight.shape[0], out)
    biased = total.add(_constant(np.repeat(conv.bias[:, None], out, axis=1)))
    return biased.max(_full(shape, 0.0))


def tempcnn_logits(reflectance: ee.Image, layers: TempCNNLayers) -> ee.Image:
    """(classes, 1) array image of the model's logits from the decoded reflectance array
    (:func:`decoded_reflectance`)."""
    x = reflectance.arrayReshape(_lengths(layers.n_bands, layers.n_bins), 2)
    shape = (layers.n_bands, layers.n_bins)
    x = _scaled(x, layers)
    x = x.subtract(_constant(np.repeat(layers.mean[:, None], layers.n_bins, 1)))
    x = x.divide(_constant(np.repeat(layers.std[:, None], layers.n_bins, 1)))
    steps = shape[1]
    for conv in layers.convs:
        x = _conv(x, conv, steps)
        steps = conv.out_steps(steps)
    x = x.arrayReshape(_lengths(layers.convs[-1].weight.shape[0] * steps, 1), 2)  # torch's Flatten, as a column
    for i, layer in enumerate(layers.dense):
        x = _constant(layer.weight).matrixMultiply(x).add(_constant(layer.bias[:, None]))
        if i < len(layers.dense) - 1:
            x = x.max(_full((layer.weight.shape[0], 1), 0.0))
    return x


def _probability_names(classes: Sequence[str]) -> list[str]:
    return [f"p_{c}" for c in classes]


def tempcnn_probabilities(reflectance: ee.Image, layers: TempCNNLayers) -> ee.Image:
    """One float band ``p_<class>`` per class: the softmax of :func:`tempcnn_logits`."""
    names = _probability_names(layers.classes)
    exp = tempcnn_logits(reflectance, layers).arrayProject([0]).arrayFlatten([names]).exp()
    return exp.divide(exp.reduce(ee.Reducer.sum()))


# ----------------------------------------------------------------------------------------- forests


def _children(tree: DecisionTree, node: int, number: int, depth: int, names: Sequence[str]) -> list[tuple]:
    """The two children of ``node`` as (node, number, depth, condition), the ``>`` one first (a stack pops
    the ``<=`` one first, as rpart prints it)."""
    name, thr = names[int(tree.feature[node])], repr(float(tree.threshold[node]))
    return [
        (int(tree.right[node]), 2 * number + 1, depth, f"{name} > {thr}"),
        (int(tree.left[node]), 2 * number, depth, f"{name} <= {thr}"),
    ]


def tree_string(tree: DecisionTree, feature_names: Sequence[str]) -> str:
    """One tree in rpart's text format, as ``ee.Classifier.decisionTree`` reads it ("the text format
    generated by R", https://developers.google.com/earth-engine/apidocs/ee-classifier-decisiontree) and
    geemap's ``ml.tree_to_string`` writes it: ``1) root n loss yval``, then each node
    ``k) feature <= thr n loss yval`` (or ``>``) depth-first, the children of node k numbered 2k (``<=``)
    and 2k + 1 (``>``), two spaces of indent per level, `` *`` ending a leaf. A leaf's yval is its class
    index; counts and losses do not classify and are written as 1 and 0."""
    leaf = tree.left[0] < 0
    lines = [f"1) root 1 0 {int(tree.leaf_class[0])}{' *' if leaf else ''}"]
    stack = [] if leaf else _children(tree, 0, 1, 1, feature_names)
    while stack:
        node, number, depth, condition = stack.pop()
        leaf = tree.left[node] < 0
        lines.append(f"{'  ' * depth}{number}) {condition} 1 0 {int(tree.leaf_class[node])}{' *' if leaf else ''}")
        if not leaf:
            stack.extend(_children(tree, node, number, depth + 1, feature_names))
    return "\n".join(lines)


def forest_trees(trees: Sequence[DecisionTree], classes: Sequence[str], n_bins: int) -> ForestTrees:
    """The forest's trees as EE tree strings over the composite's band names (band-major: the flat
    feature order of a forest on medians)."""
    names = composite_band_names(n_bins)
    return ForestTrees(tuple(classes), n_bins, tuple(tree_string(t, names) for t in trees))


def ensemble_classifier(trees: Sequence[str] | ee.List) -> ee.Classifier:
    """``decisionTreeEnsemble`` of tree strings in ``MULTIPROBABILITY`` mode: per pixel the share of the
    trees voting for each class the ensemble has seen, in ascending class order."""
    return ee.Classifier.decisionTreeEnsemble(trees).setOutputMode("MULTIPROBABILITY")


def forest_probabilities(
    reflectance: ee.Image, forest: ForestTrees, classifier: ee.Classifier | None = None
) -> ee.Image:
    """One float band ``p_<class>`` per class: the vote shares of ``classifier`` (default: the forest's
    own strings in the request; :func:`tree_table_classifier` for a forest stored as assets), 0 for a class
    no leaf votes for."""
    classifier = ensemble_classifier(list(forest.trees)) if classifier is None else classifier
    voted = forest.voted
    names = _probability_names(forest.classes)
    # the features by the trees' names, as float32: the forest's thresholds are float32 and its local
    # run (onnxruntime) compares float32 features; float64 ones flip a split where both round to one value
    bands = reflectance.arrayFlatten([composite_band_names(forest.n_bins)]).toFloat()
    shares = bands.classify(classifier).arrayFlatten([[names[i] for i in voted]])
    unseen = [n for i, n in enumerate(names) if i not in voted]
    if unseen:
        shares = shares.addBands(ee.Image.constant([0.0] * len(unseen)).rename(unseen))
    return shares.select(names)


def tree_table_exports(
    forest: ForestTrees, asset_id: str, *, body_limit: int = REQUEST_PAYLOAD_LIMIT // 2, overwrite: bool = False
) -> list[dict]:
    """Table-export configs (``EarthEngineClient.start_export``) that store the forest's tree strings as
    table assets ``{asset_id}_000``, ``_001`` ..., one feature per tree: the inline table travels in the
    export request itself, so each part holds at most ``body_limit`` bytes of tree text (half the
    request limit by default, leaving room for the features' wrapping)."""
    parts: list[list[str]] = [[]]
    size = 0
    for tree in forest.trees:
        if parts[-1] and size + len(tree) > body_limit:
            parts.append([])
            size = 0
        parts[-1].append(tree)
        size += len(tree)
    configs = []
    for k, part in enumerate(parts):
        features = [
            ee.Feature(None, {TREE_PROPERTY: tree.replace("\n", TREE_NEWLINE), "index": i})
            for i, tree in enumerate(part)
        ]
        configs.append(
            {
                "collection": ee.FeatureCollection(features),
                "description": f"gee-crop-forest-{k:03d}",
                "destination": "asset",
                "asset_id": f"{asset_id}_{k:03d}",
                "overwrite": bool(overwrite),
            }
        )
    return configs


def tree_table_classifier(asset_ids: Sequence[str]) -> ee.Classifier:
    """The ensemble classifier of tree strings stored by :func:`tree_table_exports` (in part order)."""
    tables = [ee.FeatureCollection(a).sort("index") for a in asset_ids]
    merged = ee.List([])
    for table in tables:
        merged = merged.cat(table.aggregate_array(TREE_PROPERTY))
    trees = merged.map(lambda t: ee.String(t).replace(TREE_NEWLINE, "\n", "g"))
    return ensemble_classifier(trees)


# ----------------------------------------------------------------------------------------- map bands


def map_bands(
    probabilities: ee.Image, classes: Sequence[str], valid: ee.Image, with_probabilities: bool = False
) -> ee.Image:
    """uint8 ``class`` (the first most probable class, as ``mapping.writers.encode_bands``),
    ``confidence`` (round(100 x top probability)) and, when asked, ``p_<class>`` (percent) from the float
    bands ``p_<class>`` of ``classes``; masked where ``valid`` is 0."""
    names = _probability_names(classes)
    top = probabilities.toArray().arrayArgmax().arrayGet(ee.Image.constant(0)).toUint8().rename(CLASS_BAND)
    confidence = probabilities.reduce(ee.Reducer.max()).multiply(PERCENT).round().toUint8().rename(CONFIDENCE_BAND)
    bands = top.addBands(confidence)
    if with_probabilities:
        bands = bands.addBands(probabilities.multiply(PERCENT).round().toUint8().rename(names))
    return bands.updateMask(valid)


def model_probabilities(
    model: ServerModel,
    composite: ee.Image,
    encoding: Encoding | str = Encoding.SQRT8,
    classifier: ee.Classifier | None = None,
) -> ee.Image:
    """One float band ``p_<class>`` per class of ``model`` over the encoded ``composite`` (unmasked:
    :func:`classification_image` masks); ``classifier``: a forest read from table assets
    (:func:`tree_table_classifier`) instead of its strings inline."""
    reflectance = decoded_reflectance(composite, model.n_bins, encoding)
    if isinstance(model, TempCNNLayers):
        return tempcnn_probabilities(reflectance, model)
    return forest_probabilities(reflectance, model, classifier)


def classification_image(
    model: ServerModel,
    composite: ee.Image,
    *,
    probabilities: bool = False,
    encoding: Encoding | str = Encoding.SQRT8,
    classifier: ee.Classifier | None = None,
) -> ee.Image:
    """The map bands of ``model`` over the encoded ``composite`` (:func:`map_bands`), masked where the
    composite is (any value 0)."""
    p = model_probabilities(model, composite, encoding, classifier)
    return map_bands(p, model.classes, composite_valid(composite, model.n_bins), probabilities)
