"""Notebook snapshots for nbval: made from the marimo sources, never edited by hand.

A snapshot is `tests/notebooks/<name>.ipynb`: a marimo notebook's code exported by
`marimo export ipynb` (topological order), executed in a plain IPython kernel (the kind `pytest --nbval`
re-runs it in) with the outputs kept. Each snapshot carries its own world in its metadata
(`metadata.fleetlab`: the marimo source and the fleet flags): before it runs, that fleet is loaded into a
database of its own, `fleetlab_snapshot_<name>_<pid>` on the test server (`suite_server`), and its kernel
gets DATABASE_URL (that database), FLEETLAB_NOTEBOOK_ARGS (the flags), a test key and a throw-away
FLEETLAB_HOME; nothing of the workbench's configuration reaches it. The database is dropped afterwards.

The notebooks mark what truly varies (a database URL, an elapsed time) with
`fleetlab.app.notebook.volatile`; `SANITIZE` masks that and marimo's per-run element ids.

`scripts/snapshot_notebooks.py` is the command, `scripts/snapshot_plugin.py` the pytest side
(tests/notebooks/conftest.py), `tests/test_notebooks.py` the checks.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite_server import TEST_KEY

from fleetlab.dsn import DatabaseURL

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SNAPSHOTS = ROOT / "tests" / "notebooks"
SANITIZE = SNAPSHOTS / "sanitize.cfg"
# the world of a new snapshot unless --args says otherwise: small, several locales, every status
DEFAULT_ARGS = (
    "--scenario multi-tenant --orgs 3 --factories-per-org 2-3 --gateways-per-factory 2-6 "
    "--seed 7 --as-of 2026-01-01T00:00:00Z"
)
KERNEL = "python3"
KERNELSPEC = {"name": KERNEL, "display_name": "Python 3 (ipykernel)", "language": "python"}
# what a kernel must not inherit from the shell that runs the snapshots: the workbench's configuration
WORKBENCH_VARS = re.compile(r"^(DATABASE_URL|TEST_DATABASE_URL|ENCRYPTION_KEY|FLEETLAB_.*|PG.*)$")


class SnapshotError(Exception):
    """A snapshot cannot be made or run as asked; the message says what to do."""


# -- what a snapshot records ----------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """`metadata.fleetlab` of a snapshot: its marimo source (relative to the project) and its world's flags."""

    source: str
    args: str

    @classmethod
    def of(cls, nb: Any, path: Path | str = "the notebook") -> Recipe:
        meta = dict(nb.metadata.get("fleetlab") or {})
        if not meta.get("source") or meta.get("args") is None:
            raise SnapshotError(
                f"{path} records no world (metadata.fleetlab): make it with "
                "`uv run python scripts/snapshot_notebooks.py notebooks/<name>.py`"
            )
        return cls(source=str(meta["source"]), args=str(meta["args"]))

    def record(self, nb: Any) -> Any:
        nb.metadata["fleetlab"] = {"source": self.source, "args": self.args}
        return nb


def snapshots() -> list[Path]:
    """Every snapshot, by name."""
    return sorted(SNAPSHOTS.glob("*.ipynb"))


def snapshot_of(source: Path) -> Path:
    return SNAPSHOTS / f"{source.stem}.ipynb"


def checked_args(args: str) -> str:
    """`args` if they give one fleet, the same on every run; SnapshotError otherwise."""
    from fleetlab.app import notebook, options
    from fleetlab.errors import FleetlabError

    try:
        ns = notebook.parser("snapshot").parse_args(shlex.split(args))
        spec = options.spec_for(ns.scenario, options.given(ns))
    except (FleetlabError, ValueError) as exc:
        raise SnapshotError(f"--args {args!r}: {exc}") from None
    if spec.as_of is None:
        raise SnapshotError(
            f"--args {args!r} leave the time at 'now', so the snapshot would change every minute: "
            "add --as-of, e.g. --as-of 2026-01-01T00:00:00Z"
        )
    return args


# -- the world ------------------------------------------------------------------------------


def database_name(stem: str) -> str:
    """The snapshot's own database: named after it and this process (two runs never share one)."""
    return f"fleetlab_snapshot_{re.sub(r'[^a-z0-9]+', '_', stem.lower())[:24]}_{os.getpid()}"


@dataclass
class World:
    """One snapshot's database on the test server, loaded with its recipe's fleet."""

    url: DatabaseURL
    args: str
    home: Path
    # The scenario cache serves the worlds on the checkout's own embedded test server (its templates stay
    # there for the next run); on a shared TEST_DATABASE_URL server it is off, so nothing outlives a run.
    cache_entries: int = 0

    @classmethod
    def open(cls, server_url: DatabaseURL, stem: str, args: str, home: Path) -> World:
        from fleetlab.app.notebook import parser
        from fleetlab.app.options import fleet_for
        from fleetlab.config import Settings
        from fleetlab.store.reset import reset

        world = cls(
            server_url.with_dbname(database_name(stem)),
            checked_args(args),
            home,
            cache_entries=0 if os.environ.get("TEST_DATABASE_URL") else 4,
        )
        world.drop()  # a run killed before its cleanup may have left it
        settings = Settings(
            database_url=world.url.render(masked=False),
            home=home,
            secret_key=TEST_KEY,
            cache_entries=world.cache_entries,
        )
        reset(settings, fleet_for(parser("snapshot").parse_args(shlex.split(args))))
        return world

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` without the workbench's configuration, with this world's."""
        env = {k: v for k, v in base.items() if not WORKBENCH_VARS.match(k)}
        env.update(
            DATABASE_URL=self.url.render(masked=False),
            FLEETLAB_NOTEBOOK_ARGS=self.args,
            FLEETLAB_SECRET_KEY=TEST_KEY,
            FLEETLAB_HOME=str(self.home),
            FLEETLAB_CACHE_ENTRIES=str(self.cache_entries),
        )
        return env

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """This process's environment is the world's inside the block (a kernel started there inherits it)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env(saved))
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def drop(self) -> None:
        from fleetlab.store import databases, db

        with db.connect(self.url.with_dbname("postgres"), autocommit=True) as admin:
            for name in (self.url.dbname, databases.build_name(self.url.dbname)):
                databases.drop(admin, name, self.url, ours="the snapshot run's own database")


# -- making one -----------------------------------------------------------------------------


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
            raise SnapshotError(f"marimo export ipynb {source} failed:\n{proc.stderr.strip()}")
        nb = nbformat.read(out, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def cell_sources(nb: Any) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def differences(snapshot: Path) -> list[str]:
    """How `snapshot`'s code differs from a fresh export of its marimo source (empty when up to date)."""
    import nbformat

    if not snapshot.exists():
        return [f"{snapshot} does not exist"]
    stored_nb = nbformat.read(snapshot, as_version=4)
    try:
        recipe = Recipe.of(stored_nb, snapshot.name)
    except SnapshotError as exc:
        return [str(exc)]
    source = ROOT / recipe.source
    if not source.exists():
        return [f"its source {recipe.source} does not exist (delete the snapshot, or restore the notebook)"]
    fresh, stored = cell_sources(export_code(source)), cell_sources(stored_nb)
    problems = []
    if len(fresh) != len(stored):
        problems.append(f"{len(stored)} code cells in the snapshot, {len(fresh)} in {recipe.source}")
    for i, (a, b) in enumerate(zip(stored, fresh, strict=False)):
        if a != b:
            first = next((line for line in b.splitlines() if line.strip()), "")
            problems.append(f"cell {i + 1} differs (source now starts {first!r})")
    return problems


def execute(nb: Any, *, cwd: Path, timeout: int = 300) -> Any:
    """Run `nb` in a fresh IPython kernel started in `cwd`, in place; returns it."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, kernel_name=KERNEL, timeout=timeout, record_timing=False, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
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


def make(source: Path, args: str, server_url: DatabaseURL) -> Path:
    """Export `source`, run it in its world (loaded from `args`) and write its snapshot; returns the path."""
    import nbformat

    source = source.resolve()
    try:
        relative = source.relative_to(ROOT).as_posix()
    except ValueError:
        raise SnapshotError(f"{source} is not inside the project ({ROOT}): move it under notebooks/") from None
    nb = Recipe(relative, checked_args(args)).record(export_code(source))
    with tempfile.TemporaryDirectory(prefix="fleetlab-snapshot-") as home:
        world = World.open(server_url, source.stem, args, Path(home))
        try:
            with world.environment():
                execute(nb, cwd=SNAPSHOTS)
        finally:
            world.drop()
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    path = snapshot_of(source)
    nbformat.write(sanitize(nb), path)
    return path
