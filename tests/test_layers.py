"""The package's layers: imports run one way only, with no cycle, function-level imports included.

    errors, _version  <  model  <  generate  <  store  <  read  <  app  <  fleetlab (the facade, its
                                                                        __main__ and pytest_plugin)

A module may import from its own layer and from the layers before it. Every import is read from
the source (at the top, inside functions, under TYPE_CHECKING), so a lazy import cannot hide a
cycle or a wrong-way dependency. Also: no module over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fleetlab"
LAYERS = ["foundation", "model", "generate", "store", "read", "app", "facade"]
FOUNDATION = {"fleetlab.errors", "fleetlab._version"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module in FOUNDATION:
        return "foundation"
    if module in ("fleetlab", "fleetlab.__main__", "fleetlab.pytest_plugin"):
        return "facade"
    return module.split(".")[1]


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The fleetlab modules an import statement loads (a package's submodule when a name is one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "fleetlab"]
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    if target.split(".")[0] != "fleetlab":
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets.update(t for t in resolve(module, node) if t != module)
        graph[module] = targets
    return graph


GRAPH = imports()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_known_layer():
    assert {layer(m) for m in MODULES} <= set(LAYERS), sorted(m for m in MODULES if layer(m) not in LAYERS)


def test_imports_run_from_higher_layers_to_lower_ones_only():
    wrong = [
        f"{src} ({layer(src)}) imports {dst} ({layer(dst)})"
        for src, targets in GRAPH.items()
        for dst in sorted(targets)
        if LAYERS.index(layer(dst)) > LAYERS.index(layer(src))
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"


def test_the_resolver_sees_function_level_and_relative_imports():
    # fleetlab.generate.fleets imports the generator inside a function
    assert "fleetlab.generate.generator" in GRAPH["fleetlab.generate.fleets"]
    assert "fleetlab.store.db" in GRAPH["fleetlab.app.db_commands"]  # `from ..store import db`
    assert "fleetlab.errors" in GRAPH["fleetlab.model.spec"]
