"""Notebook snapshots for nbval: made from the marimo sources, never edited by hand.

A snapshot is `notebooks/snapshots/<name>.ipynb`: the notebook's code exported by
`marimo export ipynb` (topological order, no outputs), executed in a plain IPython kernel,
the kind `pytest --nbval` re-runs it in, against a freshly reset database with a fixed
scenario (`SNAPSHOT_ARGS`: fixed seed and as-of, so every row is the same on every run).
The notebooks mark what truly varies (a database URL, an elapsed time) with
`fleetlab.app.notebook.volatile`; `SANITIZE` masks that and marimo's random element ids for nbval.

Needs the dev dependencies (nbformat, nbclient, ipykernel); `scripts/snapshot_notebooks.py` is
the command, `tests/test_notebooks.py` the checks.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SNAPSHOTS = NOTEBOOKS / "snapshots"
SANITIZE = SNAPSHOTS / "sanitize.cfg"
# In execution order: `reset` resets the database the later ones read.
SNAPSHOTTED = ("reset", "explore", "compare")
SNAPSHOT_ARGS = (
    "--scenario multi-tenant --orgs 3 --factories-per-org 2-3 --gateways-per-factory 2-6 "
    "--seed 7 --as-of 2026-01-01T00:00:00Z"
)
SNAPSHOT_DB = "fleetlab_snapshots"
KERNEL = "python3"
KERNELSPEC = {"name": KERNEL, "display_name": "Python 3 (ipykernel)", "language": "python"}


def export_code(source: Path) -> Any:
    """The marimo notebook `source` as an ipynb (nbformat node) of code cells without outputs."""
    import nbformat

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{source.stem}.ipynb"
        proc = subprocess.run(
            [sys.executable, "-m", "marimo", "export", "ipynb", str(source), "-o", str(out)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"marimo export ipynb {source} failed:\n{proc.stderr.strip()}")
        nb = nbformat.read(out, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def cell_sources(nb: Any) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def differences(source: Path, snapshot: Path) -> list[str]:
    """How `snapshot`'s code differs from a fresh export of `source` (empty when up to date)."""
    import nbformat

    if not snapshot.exists():
        return [f"{snapshot} does not exist"]
    fresh = cell_sources(export_code(source))
    stored = cell_sources(nbformat.read(snapshot, as_version=4))
    problems = []
    if len(fresh) != len(stored):
        problems.append(f"{len(stored)} code cells in the snapshot, {len(fresh)} in {source.name}")
    for i, (a, b) in enumerate(zip(stored, fresh, strict=False)):
        if a != b:
            first = next((line for line in b.splitlines() if line.strip()), "")
            problems.append(f"cell {i + 1} differs (source now starts {first!r})")
    return problems


def execute(nb: Any, *, env: Mapping[str, str] | None = None, timeout: int = 300) -> Any:
    """Run `nb` in a fresh IPython kernel (cwd: the repository), in place; returns it."""
    from nbclient import NotebookClient

    saved = dict(os.environ)
    try:
        os.environ.update(env or {})  # the kernel inherits this process's environment
        client = NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=timeout,
            record_timing=False,
            resources={"metadata": {"path": str(ROOT)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    """The (regex, replacement) pairs of SANITIZE, in file order (nbval's format)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SANITIZE, encoding="utf-8")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def sanitize(nb: Any) -> Any:
    """Apply SANITIZE to the stored outputs too, so a regenerated snapshot differs only where the data does."""
    rules = sanitizers()

    def clean(text: str) -> str:
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        return text

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = clean(output["text"])
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output["data"][mime] = clean(value)
    return nb


def make(names: Sequence[str], env: Mapping[str, str]) -> list[Path]:
    """Export, execute and write the snapshots of `names`, in order; returns the paths written."""
    import nbformat

    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        nb = sanitize(execute(export_code(NOTEBOOKS / f"{name}.py"), env=env))
        path = SNAPSHOTS / f"{name}.ipynb"
        nbformat.write(nb, path)
        written.append(path)
    return written


def snapshot_env(database_url: str) -> dict[str, str]:
    """The environment the snapshots are made and checked with: a database, the fixed scenario."""
    return {"DATABASE_URL": database_url, "FLEETLAB_NOTEBOOK_ARGS": SNAPSHOT_ARGS}


def nbval_command(paths: Sequence[Path]) -> list[str]:
    """The pytest command that re-executes `paths` and compares them with their stored outputs."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(SANITIZE),
        "-p",
        "no:cacheprovider",
        "-q",
        *[str(p) for p in paths],
    ]
