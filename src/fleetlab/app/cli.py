"""The `fleetlab` command. Wiring only: parse flags, call the library, print, exit.

Each command group lives in its own module and adds its commands through `register(subparsers)`.
Errors end the command through `fleetlab.app.failures`: a message and an exit code, never a
traceback, secrets scrubbed. The fleet flags come from the table in `fleetlab.app.options`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from ..config import Settings
from . import (
    cache_commands,
    check_commands,
    db_commands,
    export_commands,
    key_commands,
    notebook_commands,
    profile_commands,
    query_commands,
    reset_commands,
)
from .failures import run
from .parsers import epilog

# in the order `fleetlab --help` lists them
GROUPS = (
    reset_commands,  # reset, seed, scenarios
    db_commands,  # migrate, status, db url|stop|protect|unprotect
    cache_commands,  # cache list|clear
    export_commands,  # export
    key_commands,  # key new|rotate, decrypt
    query_commands,  # query
    check_commands,  # check
    profile_commands,  # profile
    notebook_commands,  # notebooks, notebooks run|edit
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in argv:  # what follows `--` goes to a notebook (`fleetlab notebooks run NAME -- ARGS`)
        at = argv.index("--")
        argv, passed = argv[:at], argv[at + 1 :]
    args = parser.parse_args(argv)
    if passed and not hasattr(args, "notebook_args"):
        parser.error(f"unrecognized arguments: -- {' '.join(passed)}")
    if passed:
        args.notebook_args = passed
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run(lambda: args.func(args, Settings.from_env()), "fleetlab")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetlab",
        description="A realistic PostgreSQL database of organizations, factories and gateways in one command.",
        epilog=epilog("fleetlab reset --scenario multi-tenant --yes"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fleetlab {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
