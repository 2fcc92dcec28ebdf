"""The package's layout, as checked: layers that import one way only, no cycle, no module over 400 lines.

The layers are written once, as the import-linter contract in pyproject.toml (`[tool.importlinter]`):

    fleetlab (the facade, its __main__ and pytest_plugin)  >  app  >  read  >  store  >  generation  >  model
    >  config, dsn, faults, errors, _version

A module may import from its own layer and from the layers below it. `lint-imports` reads every import (at
the top, inside functions, under TYPE_CHECKING), so a lazy import cannot hide a wrong-way dependency; the
cycle finder here reads them the same way. The style is checked too: `ruff check` and `ruff format --check`.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fleetlab"
CONTRACT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"][0]
LAYERS = [[m.strip() for m in layer.replace(":", "|").split("|")] for layer in CONTRACT["layers"]]
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int | None:
    """The index of `module`'s layer in the contract (0 is the top), None for the root facade `fleetlab`."""
    for n, members in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return n
    return None


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


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "fleetlab" and layer(m) is None] == []


def test_imports_run_from_higher_layers_to_lower_ones_only():
    done = subprocess.run(
        [Path(sys.executable).parent / "lint-imports", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"


def test_the_resolver_sees_function_level_and_relative_imports():
    # fleetlab.generation.fleets imports the generator inside a function
    assert "fleetlab.generation.generator" in GRAPH["fleetlab.generation.fleets"]
    assert "fleetlab.store.db" in GRAPH["fleetlab.app.db_commands"]  # `from ..store import db`
    assert "fleetlab.errors" in GRAPH["fleetlab.model.spec"]


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(), reason="ruff")
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_the_code_is_linted_and_formatted(command):
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff if ruff.exists() else "ruff"), *command, "."], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, (
        f"`uv run ruff {' '.join(command)} .` fails; run `uv run ruff format .`:\n{done.stdout[-3000:]}"
    )


def test_the_readmes_layout_names_every_module_and_only_those():
    """The README's Layout gives each module one line: a new module is described there, a gone one leaves."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    listed, folders = set(), []
    for line in block.splitlines():
        if not line.strip() or not line.lstrip()[0].isalnum() and not line.lstrip().startswith("_"):
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0]
        if line.startswith(" " * (2 * depth)) and (name.endswith("/") or name.endswith(".py")):
            folders = folders[:depth] + ([name] if name.endswith("/") else [])
            if name.endswith(".py"):
                listed.add("".join(folders[:depth]) + name)
    modules = {
        "src/fleetlab/" + p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" or p.parent == PACKAGE
        if p.parent.name != "scenarios" and p.name != "_version.py" and p.name != "__main__.py"
    }
    assert modules - listed == set(), "modules the README's Layout does not name"
    assert {m for m in listed if m.startswith("src/")} - modules == set(), "the Layout names modules that are gone"
