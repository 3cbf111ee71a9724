"""The house: imports point one way, from the DAGs down to the pure matching code and the gateways.

Rooms are the top-level packages (``matching``, ``connectors``, ``dags``), the wings of ``tremplin/`` (one
sub-package each) and the few modules at ``tremplin/``'s root. Every import, lazy ones inside functions
included, must go to a room of a lower floor; no module imports, directly or not, one that imports it back.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from tremplin.settings import PROJECT_ROOT

PACKAGES = ("tremplin", "matching", "connectors", "dags")

# Lower floors first; a room may import only rooms of a lower floor (and itself).
FLOORS: tuple[tuple[str, ...], ...] = (
    ("tremplin.errors", "tremplin"),
    ("tremplin.settings", "tremplin.clock"),
    ("matching",),
    ("connectors", "tremplin.labels", "tremplin.oversight"),
    ("tremplin.sms",),
    ("tremplin.nightly", "tremplin.review"),
    ("tremplin.report",),
    ("tremplin.ops", "tremplin.app"),
    ("tremplin.dev",),
    ("tremplin.bench",),
    ("tremplin.cli",),
    ("tremplin.__main__", "dags"),
)
FLOOR = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}

ROOT_MODULES = {"settings", "errors", "clock", "labels", "cli", "app"}  # what everything needs, and the top


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = modules()


def resolve(name: str) -> str | None:
    """The project module ``name`` refers to (a module, or the package holding the imported name)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str) -> set[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found |= {t for t in map(resolve, targets) if t and t != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "tremplin" and len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_lazy_imports() -> None:
    """The check reads imports inside functions too (the DAG files import their task functions lazily)."""
    assert "tremplin.nightly.tasks" in GRAPH["dags.nightly_matching"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back() -> None:
    own_package = {
        m: {t for t in ts if not (MODULES[m].name == "__init__.py" and t.startswith(m + "."))}
        for m, ts in GRAPH.items()
    }
    assert cycles(own_package) == []


def test_no_circle_between_rooms() -> None:
    rooms: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        rooms[room(module)] |= {room(t) for t in targets} - {room(module)}
    assert cycles(rooms) == []


def test_every_room_has_a_floor() -> None:
    assert {room(m) for m in MODULES} <= set(FLOOR), "a new room: give it its floor in FLOORS"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module: str) -> None:
    upward = sorted(t for t in GRAPH[module] if room(t) != room(module) and FLOOR[room(t)] >= FLOOR[room(module)])
    assert upward == [], f"{module} imports rooms on its own floor or above"


def test_matching_is_pure_and_errors_and_settings_import_nothing_of_the_project() -> None:
    assert {
        t for m, ts in GRAPH.items() if m.startswith("matching") for t in ts if not t.startswith("matching")
    } == set()
    assert GRAPH["tremplin.errors"] == set()
    assert GRAPH["tremplin.clock"] == set()
    assert GRAPH["tremplin.settings"] <= {"tremplin.errors"}  # its own error type, nothing else


def test_the_root_of_tremplin_holds_only_what_everything_needs() -> None:
    root = {p.stem for p in (PROJECT_ROOT / "tremplin").glob("*.py") if not p.name.startswith("__")}
    assert root <= ROOT_MODULES


def test_no_test_support_in_production_rooms() -> None:
    """Fakes and throwaway servers live in tremplin/dev, never beside the production gateways."""
    for module, path in MODULES.items():
        if room(module) in ("tremplin.dev", "tremplin.bench"):
            continue
        assert not any(word in path.stem for word in ("fake", "mock", "stub", "pg_server")), module
