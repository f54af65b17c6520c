"""Earth Engine's array-image algorithms and ``Image.classify`` with a tree ensemble, in numpy, for the
grid evaluator (:mod:`gee_crop.testing.ee_grid_eval`; test helper, not a server stand-in).

A band is ``(name, values, mask)``: ``values`` (h, w) for scalar pixels, (h, w, *dims) for array
pixels ((1, 1, *dims) for a constant array image, broadcast by numpy), ``mask`` (h, w). Each function
follows its documentation page (cited beside it) and refuses what the page does not promise (other
shapes, non-constant lengths), so a graph that passes here uses the algorithms as documented. Arrays
are nested lists, axis 0 outermost ("Arrays and Array Images",
https://developers.google.com/earth-engine/guides/arrays_array_images): numpy's C order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from gee_crop.testing.ee_pixel_eval import band_pairs

Band = tuple[str, np.ndarray, np.ndarray]
Evaluate = Callable[[Any], list[Band]]


def same_shape(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The operands of a pixel-wise binary operator: scalar pixels, or array pixels of one shape."""
    if a.ndim != b.ndim or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"pixel shapes differ: {a.shape[2:]} vs {b.shape[2:]}")
    return a, b


def constant_bands(value: Any, shape: tuple[int, int]) -> list[Band]:
    """``Image.constant``: a number (band ``constant``), a list of numbers (``constant_0`` ...), or an
    ``ee.Array`` (one array band ``constant``) (https://developers.google.com/earth-engine/apidocs/ee-image-constant)."""
    ones = np.ones(shape, bool)
    if isinstance(value, dict) and value.get("function") == "Array":
        array = np.asarray(value["arguments"]["values"], dtype=np.float64)
        return [("constant", array.reshape(1, 1, *array.shape), ones)]
    if isinstance(value, list):
        return [(f"constant_{i}", np.full(shape, float(v)), ones) for i, v in enumerate(value)]
    return [("constant", np.full(shape, float(value)), ones)]


def _uniform(values: np.ndarray) -> np.ndarray:
    """The one value of a constant image (lengths, slice bounds): refused when it varies by pixel."""
    first = values[0, 0]
    if not np.all(values == first):
        raise NotImplementedError("per-pixel lengths or bounds are not supported")
    return np.asarray(first)


def _single(bands: list[Band], fn: str) -> Band:
    if len(bands) != 1:
        raise NotImplementedError(f"{fn} of {len(bands)} bands")
    return bands[0]


def to_array(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.toArray``: scalar bands -> one 1-D band ``array`` along axis 0, "masked if any input
    bands are masked" (https://developers.google.com/earth-engine/apidocs/ee-image-toarray)."""
    bands = ev(args["image"])
    if int(args.get("axis", 0)) != 0 or any(v.ndim != 2 for _, v, _ in bands):
        raise NotImplementedError("toArray of scalar bands along axis 0 only")
    mask = np.logical_and.reduce([m for _, _, m in bands])
    return [("array", np.stack([v for _, v, _ in bands], axis=-1), mask)]


def array_reshape(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arrayReshape``: each pixel's array to ``lengths`` (a 1-D image of ``dimensions`` lengths),
    "preserving the order and number of elements" (https://developers.google.com/earth-engine/apidocs/ee-image-arrayreshape)."""
    _, lengths, _ = _single(ev(args["lengths"]), "arrayReshape lengths")
    shape = tuple(int(n) for n in _uniform(lengths))
    if len(shape) != int(args["dimensions"]):
        raise ValueError(f"arrayReshape: {len(shape)} lengths for {args['dimensions']} dimensions")
    out = []
    for name, v, m in ev(args["image"]):
        if int(np.prod(v.shape[2:])) != int(np.prod(shape)):
            raise ValueError(f"arrayReshape: {v.shape[2:]} cannot become {shape}")
        out.append((name, v.reshape(*v.shape[:2], *shape), m))
    return out


def array_slice(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arraySlice``: positions ``start`` (inclusive) to ``end`` (exclusive) by ``step`` along
    ``axis``; negative bounds count from the end; "the result can be length 0"
    (https://developers.google.com/earth-engine/apidocs/ee-image-arrayslice)."""
    axis, step = int(args.get("axis", 0)), int(args.get("step", 1))
    start = int(_uniform(_single(ev(args["start"]), "arraySlice start")[1])) if "start" in args else 0
    end = int(_uniform(_single(ev(args["end"]), "arraySlice end")[1])) if "end" in args else None
    if step < 1:
        raise ValueError("arraySlice: step must be positive")
    out = []
    for name, v, m in ev(args["input"]):
        index = [slice(None)] * v.ndim
        index[2 + axis] = slice(start, end, step)
        out.append((name, v[tuple(index)], m))
    return out


def array_cat(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arrayCat``: each pixel's arrays concatenated along ``axis``, bands paired
    (https://developers.google.com/earth-engine/apidocs/ee-image-arraycat)."""
    axis = int(args["axis"])
    out = []
    for (n1, v1, m1), (_, v2, m2) in band_pairs(ev(args["image1"]), ev(args["image2"])):
        lead = np.broadcast_shapes(v1.shape[:2], v2.shape[:2])
        v1, v2 = (np.broadcast_to(v, (*lead, *v.shape[2:])) for v in (v1, v2))
        out.append((n1, np.concatenate([v1, v2], axis=2 + axis), m1 & m2))
    return out


def matrix_multiply(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.matrixMultiply``: A * B per pixel for each matched pair of bands; a one-band image is used
    against every band of the other; names from the longer input, image1's when equal
    (https://developers.google.com/earth-engine/apidocs/ee-image-matrixmultiply)."""
    a, b = ev(args["image1"]), ev(args["image2"])
    names = [n for n, _, _ in (b if len(b) > len(a) else a)]
    if len(a) == 1:
        a = a * len(b)
    if len(b) == 1:
        b = b * len(a)
    out = []
    for name, (_, va, ma), (_, vb, mb) in zip(names, a, b):
        if va.ndim != 4 or vb.ndim != 4 or va.shape[3] != vb.shape[2]:
            raise ValueError(f"matrixMultiply: {va.shape[2:]} times {vb.shape[2:]}")
        out.append((name, _matmul(va, vb), ma & mb))
    return out


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel A @ B; a constant operand ((1, 1, ...)) as one BLAS product over all pixels."""
    if a.shape[:2] == (1, 1):
        return np.moveaxis(np.tensordot(b, a[0, 0], axes=([2], [1])), -1, 2)  # (h, w, k, n) -> (h, w, n, k)
    if b.shape[:2] == (1, 1):
        return np.tensordot(a, b[0, 0], axes=([3], [0]))
    return np.matmul(a, b)


def array_project(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arrayProject``: keep ``axes``; "dropped axes must be at most length 1"
    (https://developers.google.com/earth-engine/apidocs/ee-image-arrayproject)."""
    keep = [int(a) for a in args["axes"]]
    out = []
    for name, v, m in ev(args["input"]):
        dims = v.shape[2:]
        if any(dims[i] > 1 for i in range(len(dims)) if i not in keep):
            raise ValueError(f"arrayProject: dropping an axis longer than 1 from {dims}")
        out.append((name, v.reshape(*v.shape[:2], *[dims[i] for i in keep]), m))
    return out


def array_flatten(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arrayFlatten``: a single band of equal-shape arrays -> one scalar band per element, named
    by ``coordinateLabels`` joined with ``separator`` ("_") (https://developers.google.com/earth-engine/apidocs/ee-image-arrayflatten)."""
    _, v, m = _single(ev(args["image"]), "arrayFlatten")
    labels, sep = args["coordinateLabels"], args.get("separator", "_")
    dims = v.shape[2:]
    if tuple(len(axis) for axis in labels) != dims:
        raise ValueError(f"arrayFlatten: labels {[len(a) for a in labels]} for an array of {dims}")
    out = []
    for position in np.ndindex(*dims):
        element = (Ellipsis, *position)
        out.append((sep.join(labels[k][i] for k, i in enumerate(position)), v[element], m))
    return out


def array_argmax(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arrayArgmax``: the position of the maximum, "if there are multiple occurrences ... the
    first" (https://developers.google.com/earth-engine/apidocs/ee-image-arrayargmax)."""
    out = []
    for name, v, m in ev(args["image"]):
        dims = v.shape[2:]
        flat = v.reshape(*v.shape[:2], -1).argmax(axis=-1)
        out.append((name, np.stack(np.unravel_index(flat, dims), axis=-1).astype(np.float64), m))
    return out


def array_get(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.arrayGet``: the value at ``position`` (one scalar band per dimension), for each band
    (https://developers.google.com/earth-engine/apidocs/ee-image-arrayget)."""
    position = [p for _, p, _ in ev(args["position"])]
    out = []
    for name, v, m in ev(args["image"]):
        dims = v.shape[2:]
        if len(position) != len(dims):
            raise ValueError(f"arrayGet: {len(position)} coordinates for an array of {dims}")
        index = [np.broadcast_to(p, v.shape[:2]).astype(np.int64) for p in position]
        grid = np.indices(v.shape[:2])
        element: tuple[np.ndarray, ...] = (grid[0], grid[1], *index)
        out.append((name, v[element], m))
    return out


#: ``Image.reduce`` with these reducers: over the bands of each pixel, output named by the reducer
#: (https://developers.google.com/earth-engine/apidocs/ee-image-reduce).
_REDUCERS: dict[str, tuple[str, Callable]] = {
    "Reducer.min": ("min", np.min),
    "Reducer.max": ("max", np.max),
    "Reducer.sum": ("sum", np.sum),
}


def image_reduce(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.reduce`` of scalar bands; the output is masked where any band is (never partial stacks)."""
    name, fn = _REDUCERS[args["reducer"]["function"]]
    bands = ev(args["image"])
    if any(v.ndim != 2 for _, v, _ in bands):
        raise NotImplementedError("Image.reduce of array bands")
    mask = np.logical_and.reduce([m for _, _, m in bands])
    return [(name, fn(np.stack([v for _, v, _ in bands]), axis=0), mask)]


# ----------------------------------------------------------------------------------- tree ensembles

_NODE = re.compile(r"^\s*(\d+)\)\s+(.*?)\s*(\*)?\s*$")


def parse_tree(text: str) -> dict[int, tuple[str | None, str, float, float, bool]]:
    """An rpart tree string ("the text format generated by R",
    https://developers.google.com/earth-engine/apidocs/ee-classifier-decisiontree) as node number ->
    (feature, op, threshold, yval, leaf); the root has feature None. Children of node k are 2k and 2k+1."""
    nodes: dict[int, tuple[str | None, str, float, float, bool]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _NODE.match(line)
        if match is None:
            raise ValueError(f"not a tree line: {line!r}")
        number, rest, star = int(match.group(1)), match.group(2).split(), bool(match.group(3))
        if rest[0] == "root":
            nodes[number] = (None, "", 0.0, float(rest[3]), star)
        else:
            feature, op, thr, _n, _loss, yval = rest
            nodes[number] = (feature, op, float(thr), float(yval), star)
    if 1 not in nodes:
        raise ValueError("a tree string without its root node 1")
    return nodes


_OPS = {"<=": np.less_equal, ">": np.greater, "<": np.less, ">=": np.greater_equal}


def tree_votes(nodes: dict, features: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) yval of the leaf each pixel reaches: at node k it goes to the child whose condition holds."""
    n = len(next(iter(features.values())))
    at = np.ones(n, dtype=np.int64)
    while True:
        inner = np.array([not nodes[k][4] for k in at.tolist()])
        if not inner.any():
            return np.array([nodes[k][3] for k in at.tolist()])
        for k in np.unique(at[inner]).tolist():
            here = np.nonzero(at == k)[0]
            feature, op, thr, _, _ = nodes[2 * k]
            if 2 * k + 1 not in nodes or feature is None:
                raise ValueError(f"node {k} has not both children")
            goes_left = _OPS[op](features[feature][here], thr)
            at[here] = np.where(goes_left, 2 * k, 2 * k + 1)


def classify(ev: Evaluate, args: dict) -> list[Band]:
    """``Image.classify`` with ``Classifier.decisionTreeEnsemble`` (tree strings over band names) in
    ``MULTIPROBABILITY`` mode: "an array of probabilities that each class is correct ordered by classes
    seen" (https://developers.google.com/earth-engine/apidocs/ee-classifier-setoutputmode), taken here as
    the share of trees voting for each class a leaf names, classes ascending. Masked where any band is."""
    classifier = args["classifier"]
    if classifier["function"] != "Classifier.setOutputMode" or classifier["arguments"]["mode"] != "MULTIPROBABILITY":
        raise NotImplementedError("classify supports decisionTreeEnsemble in MULTIPROBABILITY mode only")
    ensemble = classifier["arguments"]["classifier"]
    if ensemble["function"] != "Classifier.decisionTreeEnsemble":
        raise NotImplementedError(f"classify with {ensemble['function']}")
    trees = [parse_tree(t) for t in ensemble["arguments"]["treeStrings"]]
    bands = ev(args["image"])
    h, w = bands[0][1].shape
    features = {name: v.ravel() for name, v, _ in bands}
    mask = np.logical_and.reduce([m for _, _, m in bands])
    seen = sorted({node[3] for tree in trees for node in tree.values() if node[4]})
    votes = np.stack([tree_votes(tree, features) for tree in trees])  # (trees, pixels)
    shares = np.stack([(votes == c).mean(axis=0) for c in seen], axis=-1)
    return [(args.get("outputName", "classification"), shares.reshape(h, w, len(seen)), mask)]


ARRAY_FUNCTIONS: dict[str, Callable[[Evaluate, dict], list[Band]]] = {
    "Image.toArray": to_array,
    "Image.arrayReshape": array_reshape,
    "Image.arraySlice": array_slice,
    "Image.arrayCat": array_cat,
    "Image.matrixMultiply": matrix_multiply,
    "Image.arrayProject": array_project,
    "Image.arrayFlatten": array_flatten,
    "Image.arrayArgmax": array_argmax,
    "Image.arrayGet": array_get,
    "Image.reduce": image_reduce,
    "Image.classify": classify,
}
