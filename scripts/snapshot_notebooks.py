"""Regenerate the nbval snapshots of the notebooks: `uv run python scripts/snapshot_notebooks.py`.

Each snapshot (`notebooks/snapshots/<name>.ipynb`) is exported from its marimo source and
executed in an IPython kernel against the database `fleetlab_snapshots` on the workbench's
server (the embedded one, or DATABASE_URL's), which the reset notebook resets with the fixed
scenario `notebook_snapshots.SNAPSHOT_ARGS` (scripts/notebook_snapshots.py). Commit the result; never edit a snapshot by hand.

`--check` only verifies that every snapshot's code matches its marimo source (exit 1 if not).
"""

from __future__ import annotations

import argparse
import sys

import notebook_snapshots as snapshots

from fleetlab.errors import FleetlabError
from fleetlab.store import db
from fleetlab.store.config import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="snapshot_notebooks.py", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=list(snapshots.SNAPSHOTTED), help="notebooks (default: all, in order)")
    p.add_argument("--check", action="store_true", help="only check the snapshots' code against the sources")
    args = p.parse_args(argv)
    if args.check:
        stale = {n: snapshots.differences(snapshots.NOTEBOOKS / f"{n}.py", snapshots.SNAPSHOTS / f"{n}.ipynb")
                 for n in args.names}
        for name, problems in stale.items():
            for problem in problems:
                print(f"{name}: {problem}", file=sys.stderr)
        if any(stale.values()):
            print("snapshots are out of date: run `uv run python scripts/snapshot_notebooks.py`", file=sys.stderr)
            return 1
        print("snapshots are up to date")
        return 0
    try:
        url = db.resolve(Settings.from_env()).with_dbname(snapshots.SNAPSHOT_DB)
    except FleetlabError as exc:
        print(f"snapshot_notebooks.py: error: {exc}", file=sys.stderr)
        return 1
    for path in snapshots.make(args.names, snapshots.snapshot_env(url.render(masked=False))):
        print(f"wrote {path.relative_to(snapshots.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
