"""Read a serialized Earth Engine graph back (which functions it calls, with which constants).

Used to check graphs offline and by the test fake to learn what a request asks for; also handy to
answer "what will this send to the server?" when debugging.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ee


def _resolve(node: dict, values: dict, memo: dict | None = None) -> Any:
    # Shared sub-graphs are referenced by id: resolve each once, so that the result shares them too
    # (a gap-filling chain would otherwise blow up exponentially).
    memo = {} if memo is None else memo
    if "valueReference" in node:
        ref = node["valueReference"]
        if ref not in memo:
            memo[ref] = _resolve(values[ref], values, memo)
        return memo[ref]
    if "constantValue" in node:
        return node["constantValue"]
    if "arrayValue" in node:
        return [_resolve(v, values, memo) for v in node["arrayValue"].get("values", [])]
    if "dictionaryValue" in node:
        return {k: _resolve(v, values, memo) for k, v in node["dictionaryValue"].get("values", {}).items()}
    if "functionInvocationValue" in node:
        inv = node["functionInvocationValue"]
        name = inv.get("functionName") or "<custom>"
        return {
            "function": name,
            "arguments": {k: _resolve(v, values, memo) for k, v in inv.get("arguments", {}).items()},
        }
    if "functionDefinitionValue" in node:
        return {
            "function": "<definition>",
            "body": _resolve(values[node["functionDefinitionValue"]["body"]], values, memo),
        }
    if "argumentReference" in node:
        return {"argument": node["argumentReference"]}
    return node


def resolved(obj: ee.ComputedObject) -> Any:
    """The graph of ``obj`` as nested dicts ``{"function", "arguments"}`` with constants inlined."""
    encoded = ee.serializer.encode(obj, for_cloud_api=True)
    return _resolve(encoded["values"][encoded["result"]], encoded["values"])


def walk_calls(node: Any, seen: set[int] | None = None) -> Iterator[dict]:
    """Each distinct call once (shared sub-graphs are visited once)."""
    seen = set() if seen is None else seen
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return
        seen.add(id(node))
    if isinstance(node, dict):
        if "function" in node:
            yield node
        for value in node.values():
            yield from walk_calls(value, seen)
    elif isinstance(node, list):
        for value in node:
            yield from walk_calls(value, seen)


def invocations(obj: ee.ComputedObject, function: str | None = None) -> list[dict]:
    """Every call in the graph (or those of ``function``), as ``{"function", "arguments"}``."""
    calls = list(walk_calls(resolved(obj)))
    return [c for c in calls if function is None or c["function"] == function]


def function_names(obj: ee.ComputedObject) -> set[str]:
    """The set of server algorithms the graph calls."""
    return {c["function"] for c in invocations(obj) if not c["function"].startswith("<")}
