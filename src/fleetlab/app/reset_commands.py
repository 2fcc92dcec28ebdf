"""`fleetlab reset`, `fleetlab seed` and `fleetlab scenarios`: a fleet into the workbench database."""

from __future__ import annotations

import argparse
import sys

from ..config import Settings
from ..dsn import DatabaseURL
from ..errors import ResetRefused
from . import options
from .output import print_summary
from .parsers import command


def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.reset import reset
    from .progress import terminal_progress

    spec = options.spec_for(args.scenario, options.given(args))  # planned by the reset, only if it builds
    if not args.yes and not sys.stdin.isatty():  # refused before anything is made: no server, no key
        raise ResetRefused(
            f"`fleetlab reset` {would(settings)}; without a terminal to ask, pass --yes. Nothing was created."
        )
    if args.streams is not None:
        settings = settings.replace(load_streams=args.streams)
    new_key = settings.key_file_missing
    with terminal_progress() as progress:
        result = reset(
            settings,
            spec,
            confirm=confirm_target(args, "reset"),
            progress=progress,
            end_sessions=not args.keep_sessions,
            use_cache=not args.no_cache,
        )
    print_summary("reset", result)
    if result.ended:
        print(
            f"ended {len(result.ended)} other session(s) on {result.url.database!r}: {', '.join(result.ended[:5])}"
            f"{' …' if len(result.ended) > 5 else ''}",
            file=sys.stderr,
        )
    _say_key_created(settings, new_key)
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.reset import seed, target
    from .progress import terminal_progress

    fleet = options.fleet_for(args)
    url = target(settings)
    if not confirm_target(args, "re-seed")(url):
        raise ResetRefused("seed cancelled; nothing was changed.")
    new_key = settings.key_file_missing
    with terminal_progress(sum(fleet.counts().values())) as progress:
        result = seed(settings, fleet, progress=progress)
    print_summary("seeded", result)
    _say_key_created(settings, new_key)
    return 0


def cmd_scenarios(args: argparse.Namespace, settings: Settings) -> int:
    from ..model.scenarios import list_scenarios

    presets = list_scenarios()
    width = max(map(len, presets))
    for name, description in presets.items():
        print(f"{name:<{width}}  {description}")
    return 0


def would(settings: Settings) -> str:
    """What a reset would do, found without side effects: no server started, no file made."""
    if settings.database_url is None:
        if not (settings.pgdata / "PG_VERSION").exists():
            return f"would create database 'fleetlab' on a new embedded server in {settings.home}"
        return f"would replace database 'fleetlab' on the embedded server in {settings.home}"
    from ..errors import FleetlabError
    from ..store import db

    url = DatabaseURL.parse(settings.database_url)
    try:
        with db.connect(db.maintenance(url), autocommit=True, connect_timeout=3) as conn:
            exists = db.database_exists(conn, url.database)
    except FleetlabError:
        return f"would replace (or create) database {url.database!r} at {url.where}"
    return f"would {'replace' if exists else 'create'} database {url.database!r} at {url.where}"


def confirm_target(args: argparse.Namespace, what: str):
    """The `confirm` callback of a reset or seed: --yes, else ask on the terminal, else refuse."""

    def ask(url: DatabaseURL) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise ResetRefused(
                f"`fleetlab {what}` would replace database {url.where}; without a terminal to ask, pass --yes."
            )
        print(
            f"This will {what} database {url.database!r} on {url.host or 'the local socket'}"
            f"{':' + str(url.port) if url.port else ''}; its data will be replaced.",
            file=sys.stderr,
        )
        # the question goes to stderr, like the target above: stdout may be redirected to a file
        print("Continue? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        return answer in ("y", "yes")

    return ask


def _say_key_created(settings: Settings, was_missing: bool) -> None:
    """Only commands that write passwords create a key; when they do, they say so."""
    if was_missing and settings.key_file.exists():
        print(
            f"created a new secret key in {settings.key_file} (mode 0600): the gateway passwords decrypt only "
            "with it. Keep it, or set FLEETLAB_SECRET_KEY.",
            file=sys.stderr,
        )


def _streams(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 64, not {text!r}")
    return int(text)


def register(sub) -> None:
    p = command(
        sub,
        "reset",
        "drop, create, migrate and seed the workbench database",
        "fleetlab reset --scenario multi-tenant --seed 7 --yes",
    )
    options.add_arguments(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--keep-sessions",
        action="store_true",
        help="refuse, changing nothing, if other sessions use the database (default: end them, and say so)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="build from scratch: neither clone a cached template nor keep this build as one",
    )
    p.add_argument(
        "--streams",
        type=_streams,
        default=None,
        metavar="N",
        help="COPY streams that load a big fleet side by side (default: FLEETLAB_LOAD_STREAMS, "
        "else one per core from 200,000 gateways)",
    )
    p.set_defaults(func=cmd_reset)

    p = command(
        sub,
        "seed",
        "replace the rows (truncate + seed in one transaction) without dropping",
        "fleetlab seed --locale de_DE,ja_JP --gateways-per-factory 20-40 --yes",
    )
    options.add_arguments(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_seed)

    p = command(sub, "scenarios", "list the preset scenarios for --scenario, one line each", "fleetlab scenarios")
    p.set_defaults(func=cmd_scenarios)
