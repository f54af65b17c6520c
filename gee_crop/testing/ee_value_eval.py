"""A tiny evaluator of Earth Engine value graphs (numbers, strings, feature properties) with the
server's types (test helper, not a server stand-in).

The server keeps a number's Java type: ``Number.parse`` of a text with a decimal point or exponent
gives a double, of an integer text a long (https://developers.google.com/earth-engine/apidocs/ee-number-parse),
``ee.Algorithms.String`` writes a double as Java does ("201.0"), and ``Number.format`` is Java's
``Formatter``, whose ``%d`` refuses a double (IllegalFormatConversionException; the pattern rules are
https://developers.google.com/earth-engine/apidocs/ee-number-format, which points to
https://docs.oracle.com/en/java/javase/11/docs/api/java.base/java/util/Formatter.html).
``Number.toLong`` truncates to a long. Numbers are Python ``int`` (long) or ``float`` (double).
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


def _evaluate(node: Any) -> Any:
    if not isinstance(node, dict) or "function" not in node:
        return node
    fn, args = node["function"], {k: _evaluate(v) for k, v in node["arguments"].items()}
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


def evaluate_value(obj: ee.ComputedObject) -> Any:
    """The value of ``obj`` (raises ``ee.EEException`` where the server refuses)."""
    return _evaluate(resolved(obj))
