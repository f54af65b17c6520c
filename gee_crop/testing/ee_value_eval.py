"""A tiny evaluator of Earth Engine value graphs (numbers, strings, lists, feature and image properties)
with the server's types (test helper, not a server stand-in).

The server keeps a number's Java type: ``Number.parse`` of a text with a decimal point or exponent
gives a double, of an integer text a long (https://developers.google.com/earth-engine/apidocs/ee-number-parse),
``ee.Algorithms.String`` writes a double as Java does ("201.0"), and ``Number.format`` is Java's
``Formatter``, whose ``%d`` refuses a double (IllegalFormatConversionException; the pattern rules are
https://developers.google.com/earth-engine/apidocs/ee-number-format, which points to
https://docs.oracle.com/en/java/javase/11/docs/api/java.base/java/util/Formatter.html).
``Number.toLong`` truncates to a long. Numbers are Python ``int`` (long) or ``float`` (double).
Lists: ``List.sequence`` is inclusive of ``end`` and gives longs when start, end and step are longs
(https://developers.google.com/earth-engine/apidocs/ee-list-sequence); ``List.map`` drops nulls only with
``dropNulls`` (https://developers.google.com/earth-engine/apidocs/ee-list-map); ``List.get`` refuses an
index out of range. An image is its properties only (``Image.constant`` then ``set``), enough for graphs
that read an image's metadata.
"""

from __future__ import annotations

import re
from typing import Any

import ee

from gee_crop.earthengine.graph import resolved


def _java_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e7 else f"{value:.1f}"
    return str(value)


def _format(number: int | float, pattern: str) -> str:
    conversion = re.search(r"%[#\-+ 0,(.\d]*([sdoxXeEfgGaA])", pattern)
    if conversion is None:
        raise ee.EEException(f"Number.format: bad pattern {pattern!r}")
    if conversion.group(1) in "doxX" and isinstance(number, float):
        raise ee.EEException(f"Number.format: {conversion.group(1)} != java.lang.Double")
    if conversion.group(1) in "eEfgGaA" and isinstance(number, int):
        raise ee.EEException(f"Number.format: {conversion.group(1)} != java.lang.Long")
    return pattern.replace(conversion.group(0), conversion.group(0).replace(",", "") % number)


#: Number comparisons give 0/1 longs, as the server's do.
_NUMBER_OPS = {
    "Number.gte": lambda a, b: int(a >= b),
    "Number.lte": lambda a, b: int(a <= b),
    "Number.and": lambda a, b: int(bool(a) and bool(b)),
    "Number.or": lambda a, b: int(bool(a) or bool(b)),
    "Number.subtract": lambda a, b: a - b,
    "Number.add": lambda a, b: a + b,
}


def _evaluate(node: Any, env: Any = None) -> Any:
    if isinstance(node, list):
        return [_evaluate(v, env) for v in node]
    if isinstance(node, dict) and "argument" in node and len(node) == 1:
        return env  # the one argument of the mapped function being applied
    if not isinstance(node, dict) or "function" not in node:
        return node
    fn = node["function"]
    if fn == "List.map":
        items = _evaluate(node["arguments"]["list"], env)
        body = node["arguments"]["baseAlgorithm"]["body"]
        mapped = [_evaluate(body, item) for item in items]
        return [m for m in mapped if m is not None] if node["arguments"].get("dropNulls") else mapped
    if fn == "If":  # only the chosen case is evaluated, as on the server
        condition = _evaluate(node["arguments"]["condition"], env)
        case = "trueCase" if condition not in (0, False, None) else "falseCase"
        return _evaluate(node["arguments"].get(case), env)
    args = {k: _evaluate(v, env) for k, v in node["arguments"].items()}
    if fn == "Image.constant":
        return {"properties": {}}
    if fn == "Element.set":
        return {"properties": {**args["object"]["properties"], args["key"]: args["value"]}}
    if fn == "Element.setMulti":
        return {"properties": {**args["object"]["properties"], **args["properties"]}}
    if fn == "List.sequence":
        start, end, step = args["start"], args.get("end"), args.get("step", 1)
        values = [start + k * step for k in range(int((end - start) // step) + 1)]
        return values if all(isinstance(v, int) for v in (start, end, step)) else [float(v) for v in values]
    if fn == "List.size":
        return len(args["list"])
    if fn == "List.get":
        index = int(args["index"])
        if not 0 <= index < len(args["list"]):
            raise ee.EEException(f"List.get: List index must be between 0 and {len(args['list']) - 1}.")
        return args["list"][index]
    if fn in _NUMBER_OPS:
        return _NUMBER_OPS[fn](args["left"], args["right"])
    if fn == "String.cat":
        return str(args["string1"]) + str(args["string2"])
    if fn == "Feature":
        return {"properties": args.get("metadata", {})}
    if fn == "Element.get":
        return args["object"]["properties"].get(args["property"])
    if fn == "String":
        return _java_text(args["input"])
    if fn == "Number.parse":
        text = str(args["input"]).strip()
        return float(text) if re.search(r"[.eE]", text) else int(text)
    if fn == "Number.toLong":
        return int(args["input"])
    if fn == "Number.format":
        return _format(args["number"], args.get("pattern", "%s"))
    raise NotImplementedError(f"{fn} is not supported by the value evaluator")


def evaluate_node(node: Any, env: Any = None) -> Any:
    """The value of an already resolved graph ``node`` (``graph.resolved``); ``env``: the argument of the
    mapped function it is the body of."""
    return _evaluate(node, env)


def evaluate_value(obj: ee.ComputedObject) -> Any:
    """The value of ``obj`` (raises ``ee.EEException`` where the server refuses)."""
    return _evaluate(resolved(obj))
