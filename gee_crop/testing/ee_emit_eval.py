"""Evaluates the EMIT image graphs of :mod:`gee_crop.earthengine.emit` at a set of places (test helper, not a
server stand-in): the collection filtered by date, each image's kept bands named on the server from its own
band centres (the value evaluator), the cloud flag and fill masked, the monthly medians and the intersection
of their clear masks.

An image is a list of bands (name, values (n,), mask (n,)) over the n places of the request (the points of a
``sampleRegions``, or the pixel centres of a ``computePixels`` grid) with its properties. It follows Earth
Engine's rules: binary operations pair bands (a one-band operand broadcasts) and keep the left names, masks
combine with AND, ``updateMask`` also masks where the mask value is 0; ``select`` of a name the image lacks
fails as the server does ("Image.select: Pattern 'x' did not match any bands.", quoted in
https://github.com/gee-community/geetools/issues/68); the median of a collection is taken per band over the
images that hold it, masked where no image is clear; ``Image.constant`` of a list names its bands
``constant_0`` ...; ``Image.reduce`` with ``Reducer.min`` gives one band ``min``, masked where every band is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ee
import numpy as np

from gee_crop.testing.ee_pixel_eval import band_pairs
from gee_crop.testing.ee_value_eval import evaluate_node

Band = tuple[str, np.ndarray, np.ndarray]


@dataclass
class EvalImage:
    """One image at the request's places: its bands, properties and acquisition day (None: not an acquisition)."""

    bands: list[Band]
    properties: dict = field(default_factory=dict)
    date: np.datetime64 | None = None


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Image.neq": lambda a, b: (a != b).astype(np.float64),
    "Image.eq": lambda a, b: (a == b).astype(np.float64),
    "Image.and": lambda a, b: ((a != 0) & (b != 0)).astype(np.float64),
}


def select_refusal(name: str) -> str:
    """The server's message for a band name an image lacks."""
    return f"Image.select: Pattern '{name}' did not match any bands."


class EmitEvaluator:
    """Evaluates image and collection graphs over ``n`` places, ``ImageCollection.load`` answered by
    ``load(collection_id)`` (the images of that collection at the places)."""

    def __init__(self, n: int, load: Callable[[str], list[EvalImage]]) -> None:
        self.n, self.load = n, load
        self._memo: dict[tuple[int, int], tuple[Any, EvalImage]] = {}

    # ------------------------------------------------------------------ collections

    def collection(self, node: Any, env: EvalImage | None = None) -> list[EvalImage]:
        fn, args = node["function"], node["arguments"]
        if fn == "ImageCollection.load":
            return self.load(args["id"])
        if fn == "ImageCollection.fromImages":
            return [self.image(i, env) for i in args["images"]]
        if fn in ("Collection.merge", "ImageCollection.merge"):
            return self.collection(args["collection1"], env) + self.collection(args["collection2"], env)
        if fn == "Collection.map":
            body = args["baseAlgorithm"]["body"]
            return [self.image(body, item) for item in self.collection(args["collection"], env)]
        if fn == "Collection.filter":
            items = self.collection(args["collection"], env)
            return [item for item in items if self._passes(args["filter"], item)]
        raise NotImplementedError(f"{fn} is not supported by the EMIT evaluator")

    def _passes(self, node: dict, item: EvalImage) -> bool:
        fn, args = node["function"], node["arguments"]
        if fn == "Filter.intersects":
            return True  # an image off the places is masked there already (its footprint)
        if fn == "Filter.dateRangeContains" and args.get("rightField") == "system:time_start":
            window = args["leftValue"]["arguments"]
            start, end = _date(window["start"]), _date(window["end"])
            return item.date is not None and bool(start <= item.date < end)
        raise NotImplementedError(f"filter {fn} is not supported by the EMIT evaluator")

    # ------------------------------------------------------------------ images

    def image(self, node: Any, env: EvalImage | None = None) -> EvalImage:
        if isinstance(node, (int, float)):
            return self._constant([node])
        if isinstance(node, dict) and "argument" in node:
            assert env is not None, "an argument outside a mapped function"
            return env
        key = (id(node), id(env))  # shared sub-graphs (a month's median feeds its bands and the clear mask)
        if key not in self._memo:
            self._memo[key] = (node, EvalImage(self._bands(node, env)))
        return self._memo[key][1]

    def bands(self, node: Any, env: EvalImage | None = None) -> list[Band]:
        return self.image(node, env).bands

    def _constant(self, values: list) -> EvalImage:
        names = ["constant"] if len(values) == 1 else [f"constant_{i}" for i in range(len(values))]
        ones = np.ones(self.n, bool)
        return EvalImage([(name, np.full(self.n, float(v)), ones) for name, v in zip(names, values)])

    def _bands(self, node: dict, env: EvalImage | None) -> list[Band]:
        fn, args = node["function"], node["arguments"]
        if fn == "Image.constant":
            return self._constant(args["value"] if isinstance(args["value"], list) else [args["value"]]).bands
        if fn == "Image.select":
            source = self.image(args["input"], env)
            names = self._names(args["bandSelectors"], source)
            found = {b[0]: b for b in source.bands}
            for name in names:
                if name not in found:
                    raise ee.EEException(select_refusal(name))
            return [found[name] for name in names]
        if fn == "Image.rename":
            return [(n, v, m) for n, (_, v, m) in zip(args["names"], self.bands(args["input"], env))]
        if fn == "Image.regexpRename":
            pattern, replacement = re.compile(args["regex"]), args["replacement"].replace("$", "\\")
            return [(pattern.sub(replacement, n, count=0), v, m) for n, v, m in self.bands(args["input"], env)]
        if fn == "Image.addBands":
            return self.bands(args["dstImg"], env) + self.bands(args["srcImg"], env)
        if fn == "Image.updateMask":
            pairs = band_pairs(self.bands(args["image"], env), self.bands(args["mask"], env))
            return [(n, v, m & mm & (mv != 0)) for (n, v, m), (_, mv, mm) in pairs]
        if fn == "Image.mask":
            ones = np.ones(self.n, bool)
            return [(n, m.astype(np.float64), ones) for n, _, m in self.bands(args["image"], env)]
        if fn == "Image.unmask":
            fill = self.bands(args.get("value", 0), env)
            pairs = band_pairs(self.bands(args["input"], env), fill)
            return [(n, np.where(m, v, fv), m | fm) for (n, v, m), (_, fv, fm) in pairs]
        if fn == "Image.toFloat":
            return [(n, v.astype(np.float32).astype(np.float64), m) for n, v, m in self.bands(args["value"], env)]
        if fn == "Image.reduce" and args["reducer"]["function"] == "Reducer.min":
            bands = self.bands(args["image"], env)
            values = np.stack([np.where(m, v, np.inf) for _, v, m in bands])
            mask = np.asarray(np.stack([m for _, _, m in bands]).any(axis=0), dtype=bool)
            return [("min", np.where(mask, values.min(axis=0), 0.0), mask)]
        if fn in _BINARY:
            pairs = band_pairs(self.bands(args["image1"], env), self.bands(args["image2"], env))
            return [(n, _BINARY[fn](v1, v2), m1 & m2) for (n, v1, m1), (_, v2, m2) in pairs]
        if fn == "reduce.median":
            return self._median(self.collection(args["collection"], env))
        raise NotImplementedError(f"{fn} is not supported by the EMIT evaluator")

    def _median(self, images: list[EvalImage]) -> list[Band]:
        """Per band name (in order of first appearance), the median of the images' clear values."""
        names: list[str] = []
        for item in images:
            names.extend(n for n, _, _ in item.bands if n not in names)
        out: list[Band] = []
        for name in names:
            held = [(v, m) for item in images for n, v, m in item.bands if n == name]
            values = np.stack([np.where(m, v, np.nan) for v, m in held])
            mask = np.asarray(np.stack([m for _, m in held]).any(axis=0), dtype=bool)
            with np.errstate(all="ignore"):
                median = np.nanmedian(np.where(mask, values, 0.0), axis=0) if mask.any() else np.zeros(self.n)
            out.append((name, np.where(mask, median, 0.0), mask))
        return out

    def _names(self, selectors: Any, source: EvalImage) -> list[str]:
        """The band names a ``select`` asks for: constants, or a list computed from the image's properties."""
        if isinstance(selectors, list) and all(isinstance(s, str) for s in selectors):
            return list(selectors)
        return [str(n) for n in evaluate_node(_with_properties(selectors, source.properties))]


def _with_properties(node: Any, properties: dict) -> Any:
    """``node`` with each ``Element.get`` of a mapped function's argument reading ``properties``."""
    if isinstance(node, list):
        return [_with_properties(v, properties) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("function") == "Element.get" and "argument" in node["arguments"].get("object", {}):
        return {**node, "arguments": {**node["arguments"], "object": {"properties": properties}}}
    return {k: _with_properties(v, properties) for k, v in node.items()}


def _date(node: Any) -> np.datetime64:
    """A ``Date.fromYMD`` / ``Date.advance`` (months, days) graph as a day."""
    if isinstance(node, str):
        return np.datetime64(node[:10], "D")
    fn, args = node["function"], node["arguments"]
    if fn == "Date.fromYMD":
        return np.datetime64(f"{int(args['year']):04d}-{int(args['month']):02d}-{int(args.get('day', 1)):02d}", "D")
    if fn == "Date.advance":
        start = _date(args["date"])
        if args["unit"] == "month":
            month = start.astype("datetime64[M]") + int(args["delta"])
            return month.astype("datetime64[D]") + (start - start.astype("datetime64[M]").astype("datetime64[D]"))
        if args["unit"] == "day":
            return start + int(args["delta"])
    raise NotImplementedError(f"date {fn} is not supported by the EMIT evaluator")
