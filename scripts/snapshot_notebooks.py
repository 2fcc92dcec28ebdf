"""Snapshot marimo notebooks for the regression tests: `uv run python scripts/snapshot_notebooks.py [NOTEBOOK ...]`.

A snapshot, tests/notebooks/<name>.ipynb, is the notebook exported to ipynb and run in an IPython kernel
in a world of its own: the fleet its flags give (`--args`; for a new notebook, a small fixed multi-tenant
fleet) loaded into a database of its own on the test server, never the workbench's. `uv run pytest` (and
`pytest --nbval tests/notebooks/`) then re-runs every snapshot in the same world and compares.

  uv run python scripts/snapshot_notebooks.py                     # re-make every snapshot (after editing notebooks)
  uv run python scripts/snapshot_notebooks.py notebooks/mine.py   # snapshot a new or changed notebook
  uv run python scripts/snapshot_notebooks.py notebooks/mine.py --args "--scenario stale-fleet --as-of 2026-01-01T00:00:00Z"
  uv run python scripts/snapshot_notebooks.py --check             # are the snapshots' code and sources the same?

Commit the snapshots; never edit one by hand. The server is TEST_DATABASE_URL's, else an embedded one in
a temporary folder of this checkout's own (started and stopped by this command when it is not running).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import snapshot_worlds as snapshots
import suite_server

from fleetlab.errors import FleetlabError


def _source(given: str) -> Path:
    """A notebook given as a path (notebooks/mine.py) or as a snapshot's name (mine)."""
    path = Path(given)
    if path.suffix == ".py":
        if not path.exists():
            raise snapshots.SnapshotError(f"{given}: no such notebook")
        return path
    snapshot = snapshots.SNAPSHOTS / f"{path.stem}.ipynb"
    if not snapshot.exists():
        raise snapshots.SnapshotError(
            f"{given}: no snapshot of that name; give the notebook's path (notebooks/{given}.py)"
        )
    return snapshots.ROOT / snapshots.Recipe.of(nbformat.read(snapshot, as_version=4), snapshot.name).source


def _args_for(source: Path, given: str | None) -> str:
    """--args, else the flags the notebook's snapshot already records, else the default world."""
    if given is not None:
        return given
    snapshot = snapshots.snapshot_of(source)
    if snapshot.exists():
        try:
            return snapshots.Recipe.of(nbformat.read(snapshot, as_version=4)).args
        except snapshots.SnapshotError:
            pass
    return snapshots.DEFAULT_ARGS


def check(names: list[str]) -> int:
    paths = [snapshots.SNAPSHOTS / f"{Path(n).stem}.ipynb" for n in names] or snapshots.snapshots()
    failed = False
    for path in paths:
        for problem in snapshots.differences(path):
            failed = True
            print(f"{path.stem}: {problem}", file=sys.stderr)
    if failed:
        print("snapshots are out of date: run `uv run python scripts/snapshot_notebooks.py`", file=sys.stderr)
        return 1
    print(f"{len(paths)} snapshots are up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="snapshot_notebooks.py",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    p.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="marimo notebooks (notebooks/x.py) or snapshot names (default: every snapshot)",
    )
    p.add_argument("--args", metavar="FLAGS", help="the fleet flags of the snapshot's world, as for `fleetlab reset`")
    p.add_argument("--check", action="store_true", help="only check the snapshots' code against their sources")
    args = p.parse_args(argv)
    if args.check:
        return check(args.notebooks)
    try:
        given = args.notebooks or [str(path) for path in snapshots.snapshots()]
        jobs = [(source, _args_for(source, args.args)) for source in map(_source, given)]
        for _, flags in jobs:
            snapshots.checked_args(flags)
        with suite_server.maintenance_url() as server_url:
            for source, flags in jobs:
                path = snapshots.make(source, flags, server_url)
                print(f"wrote {path.relative_to(snapshots.ROOT)}  (world: {flags})")
    except (snapshots.SnapshotError, FleetlabError) as exc:
        print(f"snapshot_notebooks.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
