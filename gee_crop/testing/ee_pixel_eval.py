"""A tiny evaluator of Earth Engine image graphs for ONE pixel (test helper, not a server stand-in).

It covers the pixel-wise image algebra the gap-filling graph uses (constant, rename, select,
updateMask, unmask, add/subtract/multiply/divide/max/lte, addBands, round, toUint16) with Earth
Engine's rules: binary ops pair bands (one-band operands broadcast) and keep the left names, masks
combine with AND, division by zero is masked. An image is a list of (name, value, valid).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import ee

from gee_crop.earthengine.graph import resolved

Band = tuple[str, float, bool]
#: a band of any evaluator (this one's per pixel, ee_grid_eval's per grid)
B = TypeVar("B")


def _image(node: Any, memo: dict) -> list[Band]:
    if isinstance(node, (int, float)):
        return [("constant", float(node), True)]
    key = id(node)
    if key not in memo:
        memo[key] = _evaluate(node, memo)
    return memo[key]


def band_pairs(a: list[B], b: list[B]) -> list[tuple[B, B]]:
    if len(b) == 1:
        b = b * len(a)
    elif len(a) == 1:
        a = a * len(b)
    if len(a) != len(b):
        raise ValueError(f"band counts differ: {len(a)} vs {len(b)}")
    return list(zip(a, b))


_BINARY: dict[str, Callable[[float, float], float]] = {
    "Image.add": lambda x, y: x + y,
    "Image.subtract": lambda x, y: x - y,
    "Image.multiply": lambda x, y: x * y,
    "Image.max": max,
    "Image.lte": lambda x, y: float(x <= y),
}


def _evaluate(node: dict, memo: dict) -> list[Band]:
    fn, args = node["function"], node["arguments"]
    if fn == "Image.constant":
        values = args["value"] if isinstance(args["value"], list) else [args["value"]]
        names = ["constant"] if len(values) == 1 else [f"constant_{i}" for i in range(len(values))]
        return [(n, float(v), True) for n, v in zip(names, values)]
    if fn == "Image.rename":
        return [(n, v, m) for n, (_, v, m) in zip(args["names"], _image(args["input"], memo))]
    if fn == "Image.select":
        bands = {b[0]: b for b in _image(args["input"], memo)}
        return [bands[n] for n in args["bandSelectors"]]
    if fn == "Image.updateMask":
        return [
            (n, v, m and mm and mv != 0)
            for (n, v, m), (_, mv, mm) in band_pairs(_image(args["image"], memo), _image(args["mask"], memo))
        ]
    if fn == "Image.unmask":
        return [
            (n, v, m) if m else (n, fv, fm)
            for (n, v, m), (_, fv, fm) in band_pairs(_image(args["input"], memo), _image(args.get("value", 0), memo))
        ]
    if fn in _BINARY:
        op = _BINARY[fn]
        return [
            (n1, op(v1, v2) if m1 and m2 else math.nan, m1 and m2)
            for (n1, v1, m1), (_, v2, m2) in band_pairs(_image(args["image1"], memo), _image(args["image2"], memo))
        ]
    if fn == "Image.divide":
        return [
            (n1, v1 / v2 if (m1 and m2 and v2 != 0) else math.nan, m1 and m2 and v2 != 0)
            for (n1, v1, m1), (_, v2, m2) in band_pairs(_image(args["image1"], memo), _image(args["image2"], memo))
        ]
    if fn == "Image.addBands":
        return _image(args["dstImg"], memo) + _image(args["srcImg"], memo)
    if fn == "Image.round":
        return [(n, float(math.floor(v + 0.5)) if m else v, m) for n, v, m in _image(args["value"], memo)]
    if fn == "Image.toUint16":
        return [(n, min(max(v, 0.0), 65535.0) if m else v, m) for n, v, m in _image(args["value"], memo)]
    raise NotImplementedError(f"{fn} is not supported by the one-pixel evaluator")


def evaluate_pixel(image: ee.Image) -> list[Band]:
    """(name, value, valid) per band of ``image`` for a graph of constant images."""
    return _image(resolved(image), {})
