"""`fleetlab check`: the database's invariants, one line each (fleetlab.store.checks); exit 1 on errors only."""

from __future__ import annotations

import argparse

from ..config import Settings
from ..errors import SecretError
from .parsers import command


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import db
    from ..store.checks import run_at
    from ..store.crypto import keyring_for

    url = db.resolve(settings)
    keys, problem = None, ""
    try:
        keys = keyring_for(settings, create=False)
    except SecretError as exc:
        problem = str(exc)
    report = run_at(url, keys, key_problem=problem)
    print(report.render())
    return 0 if report.ok else 1


def register(sub) -> None:
    p = command(
        sub,
        "check",
        "check the database: the platform's schema and behaviour, orphans, unique ids, counts, passwords, "
        "values; exit 1 on errors (what the platform refuses), warnings listed (what only fleetlab flags)",
        "fleetlab check",
    )
    p.set_defaults(func=cmd_check)
