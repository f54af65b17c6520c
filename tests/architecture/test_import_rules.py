"""The house rules, stated once: the floor order of gee_crop's rooms, and where lazy imports live.

A module may import gee_crop modules of its own room or of rooms on a lower floor only, so no two
rooms can form a cycle; within a room, files form no cycle either. Only ``cli/`` imports gee_crop
inside functions (to keep ``--help`` fast); everywhere else imports stand at the top of the file.
``gee_crop.testing`` (the strict service double, the offline evaluator) is imported by tests and by the
named offline modes only, in one place each, never on a path a real run takes; training draws no
figures (the commands in ``pipeline/`` do).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gee_crop"

#: Lowest floor first. A room is a top-level module or sub-package of gee_crop.
FLOORS: tuple[str, ...] = (
    "sensors",                               # the sensors (bands, masks, grids): below config, which aliases BANDS
    "config", "errors", "atomic", "outputs", "season",  # ground floor: constants, errors, outputs, the season
    "classes", "types", "countries", "ledger",
    "earthengine",                           # server side: ee graph builders + the one client
    "features",                              # client numerics: cloud, composite, augment, harmonics, spec
    "data",                                  # sample tables, readers, regions, sampling, splits
    "viz",                                   # plots, CAM, styles, geemap layers, HTML pages
    "assessment",                            # stratified design, area and accuracy estimators
    "models",                                # architectures, registry, model files, predictors
    "training",                              # fit loop, trainer, evaluation, metrics
    "export",                                # ONNX, quantisation, model cards
    "mapping",                               # tiling, sources, writers, xee cubes
    "experiments",                           # transfer studies, tables, report
    "testing",                               # fakes and demo loaders for offline tests
    "pipeline",                              # one function per command
    "cli",                                   # parses, calls one pipeline function, prints
)
UNRESTRICTED = {"__init__", "__main__", "resources"}
#: the product modules that may import gee_crop.testing: none. A user's command never runs on a test double
#: (the notebooks' offline fallback builds graphs with gee_crop.earthengine.offline; doctor's tests connect
#: it to the double).
OFFLINE_MODES: set[str] = set()
#: rooms a room must not import although it sits on a higher floor, with the reason.
FORBIDDEN = {("training", "viz"): "training computes; the commands in pipeline/ draw the figures"}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"  # the package's own __init__


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported gee_crop module, inside a function?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module == "gee_crop" or child.module.startswith("gee_crop."):
                    for alias in child.names:
                        candidate = f"{child.module}.{alias.name}"
                        sub = PACKAGE.parent / Path(*candidate.split("."))
                        is_module = sub.with_suffix(".py").exists() or sub.is_dir()
                        found.append((candidate if is_module else child.module, in_function))
            elif isinstance(child, ast.Import):
                found.extend((a.name, in_function) for a in child.names if a.name.startswith("gee_crop."))
            visit(child, nested)

    visit(tree, False)
    return found


def _graph() -> dict[str, list[tuple[str, bool]]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return found


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in _graph()} - UNRESTRICTED
    assert rooms <= set(FLOORS), f"rooms without a floor: {sorted(rooms - set(FLOORS))}; add them to FLOORS"


def test_rooms_import_only_lower_floors():
    floor = {room: i for i, room in enumerate(FLOORS)}
    upward = []
    for module, imports in _graph().items():
        here = _room(module)
        if here in UNRESTRICTED:
            continue
        for target, _ in imports:
            there = _room(target)
            if there != here and there not in UNRESTRICTED and floor[there] > floor[here]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports of a higher floor:\n" + "\n".join(sorted(set(upward)))


def test_no_module_cycles():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in _graph().items():
        edges[module].update(t for t, _ in imports if t != module)
    assert _cycles(edges) == []


def test_lazy_imports_only_in_cli():
    lazy = [f"{module} -> {target}" for module, imports in _graph().items() if _room(module) != "cli"
            for target, in_function in imports if in_function]
    assert not lazy, "gee_crop imports inside functions outside cli/:\n" + "\n".join(sorted(set(lazy)))


def _testing_imports() -> dict[str, list[str]]:
    """Every module outside ``gee_crop.testing`` that imports a module of it: {importer: [testing modules]}."""
    found: dict[str, list[str]] = defaultdict(list)
    for module, imports in _graph().items():
        if _room(module) != "testing":
            found[module] += [t for t, _ in imports if _room(t) == "testing"]
    return {module: targets for module, targets in found.items() if targets}


def test_testing_is_imported_only_by_the_named_offline_modes():
    importers = _testing_imports()
    existing = {m for m in OFFLINE_MODES if m in _graph()}
    assert set(importers) == existing, ("gee_crop.testing imported outside the offline modes "
                                        f"{sorted(OFFLINE_MODES)}: {sorted(set(importers) - OFFLINE_MODES)}")
    # in one place each: a single import statement of one testing module
    assert all(len(targets) == 1 for targets in importers.values()), importers


def test_the_demo_and_the_export_default_read_the_demo_data_from_data():
    """The demo's data and export's default calibration are product data (data/demo.py), not test helpers."""
    graph = _graph()
    for module in ("gee_crop.pipeline.demo", "gee_crop.pipeline.export"):
        targets = {t for t, _ in graph[module]}
        assert "gee_crop.data.demo" in targets and not any(_room(t) == "testing" for t in targets), module


def test_forbidden_room_pairs():
    found = [f"{module} -> {target} ({FORBIDDEN[_room(module), _room(target)]})"
             for module, imports in _graph().items() for target, _ in imports
             if (_room(module), _room(target)) in FORBIDDEN]
    assert not found, "\n".join(sorted(set(found)))


@pytest.mark.parametrize("source, expected", [
    ("from gee_crop.features import composite", ["gee_crop.features.composite"]),
    ("from gee_crop.features.composite import fill_gaps", ["gee_crop.features.composite"]),
    ("import gee_crop.config", ["gee_crop.config"]),
    ("from gee_crop import __version__", ["gee_crop"]),
])
def test_import_parser_reads_every_form(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source + "\n")
    assert [m for m, _ in _imports(path)] == expected
