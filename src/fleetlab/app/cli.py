"""The `fleetlab` command. Wiring only: parse flags, call the library, print, exit.

Errors end the command through `fleetlab.app.failures`: a message and an exit code, never a
traceback, secrets scrubbed. The fleet flags come from the table in `fleetlab.app.options`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import psycopg

from ..errors import ConfigError, FleetlabError, ResetRefused
from ..store import db, marker, migrate, server
from ..store.config import Settings
from ..store.crypto import new_key
from ..store.dsn import DatabaseURL
from . import cache as cache_commands
from . import export as export_commands
from . import options
from .failures import run
from .output import FORMATS, print_summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run(lambda: args.func(args, Settings.from_env()), "fleetlab")


# -- fleet flags ----------------------------------------------------------------------------


def build_fleet(args: argparse.Namespace):
    """The fleet the flags ask for (gateways generated while loading); SpecError lists every problem."""
    from ..generation.fleets import plan

    return plan(options.spec_for(args.scenario, options.given(args)))


def cmd_scenarios(args: argparse.Namespace, settings: Settings) -> int:
    from ..model.scenarios import list_scenarios

    presets = list_scenarios()
    width = max(map(len, presets))
    for name, description in presets.items():
        print(f"{name:<{width}}  {description}")
    return 0


# -- commands -------------------------------------------------------------------------------


def confirm_target(args: argparse.Namespace, what: str):
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


def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.reset import reset
    from .progress import terminal_progress

    fleet = build_fleet(args)
    if args.streams is not None:
        settings = settings.replace(load_streams=args.streams)
    new_key = settings.key_file_missing
    with terminal_progress(sum(fleet.counts().values())) as progress:
        result = reset(
            settings,
            fleet,
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


def _streams(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 64, not {text!r}")
    return int(text)


def _say_key_created(settings: Settings, was_missing: bool) -> None:
    """Only commands that write passwords create a key; when they do, they say so."""
    if was_missing and settings.key_file.exists():
        print(
            f"created a new secret key in {settings.key_file} (mode 0600): the gateway passwords decrypt only "
            "with it. Keep it, or set FLEETLAB_SECRET_KEY.",
            file=sys.stderr,
        )


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.reset import seed, target
    from .progress import terminal_progress

    fleet = build_fleet(args)
    url = target(settings)
    if not confirm_target(args, "re-seed")(url):
        raise ResetRefused("seed cancelled; nothing was changed.")
    new_key = settings.key_file_missing
    with terminal_progress(sum(fleet.counts().values())) as progress:
        result = seed(settings, fleet, progress=progress)
    print_summary("seeded", result)
    _say_key_created(settings, new_key)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    url = db.resolve(settings)
    with db.connect(url, autocommit=True) as conn:
        if args.dry_run:
            todo = migrate.pending(conn)
            if not todo:
                print("-- nothing to apply: the database is up to date")
            for m in todo:
                print(f"-- {m.filename}\nBEGIN;\n{m.sql.rstrip()}\nCOMMIT;\n")
            return 0
        done = migrate.apply(
            conn,
            lock_timeout=settings.lock_timeout,
            on_apply=lambda m, ms: print(f"applied {m.filename} ({ms:.0f} ms)"),
        )
    if not done:
        print(f"{url.where} is up to date")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.schema import describe, differences

    url = db.resolve(settings)
    with db.connect(url, autocommit=True) as conn:
        st = migrate.status(conn)
        mk = marker.read(conn)
        # once every migration is applied, the catalog must be what they make (an index dropped by hand…)
        changed = differences(describe(conn)) if not st.pending and not st.drift and st.applied else []
    print(f"database: {url.where}")
    if mk is not None:
        print(
            f"marker:   fleetlab {mk.fleetlab_version}, created {mk.created_at:%Y-%m-%d %H:%M:%S %Z}"
            f"{', protected' if mk.protected else ''}"
        )
    else:
        print("marker:   none (not created by `fleetlab reset`)")
    for a in st.applied:
        print(f"  applied  {a.version}_{a.name}.sql  {a.applied_at:%Y-%m-%d %H:%M:%S}  {a.execution_ms:.0f} ms")
    for m in st.pending:
        print(f"  pending  {m.filename}")
    for d in st.drift:
        print(f"  DRIFT    {d}")
    for d in changed:
        print(f"  CHANGED  {d}")
    if st.drift:
        print(f"{len(st.drift)} drift problem(s): `fleetlab migrate` will refuse to run.", file=sys.stderr)
        return 1
    if changed:
        print(
            f"{len(changed)} difference(s) from the schema the migrations make (changed by hand?): "
            "`fleetlab seed` refuses this database; `fleetlab reset` rebuilds it.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_db_url(args: argparse.Namespace, settings: Settings) -> int:
    url = db.resolve(settings, start=not settings.embedded or not args.no_start)
    print(url.render(masked=True))
    return 0


def cmd_db_stop(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.embedded:
        raise ConfigError(
            "DATABASE_URL is set: fleetlab only stops its own embedded server. Unset it to stop that one."
        )
    if server.stop(settings.pgdata):
        print(f"stopped the embedded server in {settings.pgdata}")
    else:
        print(f"the embedded server in {settings.pgdata} was not running")
    return 0


def cmd_db_protect(args: argparse.Namespace, settings: Settings) -> int:
    url = db.resolve(settings)
    with db.connect(url, autocommit=True) as conn:
        if marker.read(conn) is None:
            raise ResetRefused(f"{url.where} has no fleetlab marker; there is nothing to (un)protect.")
        marker.set_protected(conn, args.protect)
    print(f"{url.where} is now {'protected: resets will refuse to drop it' if args.protect else 'unprotected'}")
    return 0


def cmd_key_new(args: argparse.Namespace, settings: Settings) -> int:
    print(new_key())
    return 0


def cmd_key_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.rotate import rotate
    from .progress import terminal_progress

    keys = settings.keyring(create=False)
    url = db.resolve(settings)
    with db.connect(url) as conn, db.translate_errors(url, "the rotation"):
        if marker.read(conn) is None:
            raise ResetRefused(
                f"{url.where} has no fleetlab marker; fleetlab rotates passwords only in databases it made."
            )
        total = conn.execute("SELECT count(*) FROM gateways").fetchone()[0]
        with terminal_progress(total) as progress:
            done = rotate(conn, keys, lock_timeout=settings.lock_timeout, progress=progress)
    legacy = f" ({done.from_v1:,} from fleetlab's earlier v1 format)" if done.from_v1 else ""
    print(
        f"re-encrypted {done.rewritten:,} of {done.total:,} gateway passwords under key {done.key_id}{legacy}; "
        f"{done.total - done.rewritten:,} were already under it"
    )
    return 0


def cmd_decrypt(args: argparse.Namespace, settings: Settings) -> int:
    from ..errors import SecretError

    keys = settings.keyring(create=False)
    url = db.resolve(settings)
    with db.connect(url) as conn, db.translate_errors(url, "reading the gateway's password"):
        rows = conn.execute(
            "SELECT id::text, password_encrypted FROM gateways WHERE gateway_id = %s ORDER BY deleted_at NULLS FIRST",
            (args.gateway_id,),
        ).fetchall()
    if not rows:
        raise ConfigError(f"no gateway with gateway_id {args.gateway_id!r} in {url.where}.")
    row_id, token = rows[0]
    try:
        print(keys.decrypt(token, row_id))
    except SecretError as exc:
        raise SecretError(f"the password of gateway {args.gateway_id!r} does not decrypt: {exc}") from None
    return 0


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    from ..read.query import connect, fetch
    from .output import format_for, output_path, write_file, write_frame

    fmt = format_for(args.output, args.format)
    if fmt == "parquet" and not args.output and sys.stdout.isatty():
        raise ConfigError("parquet is binary: give --output FILE, or redirect stdout to a file.")
    url = db.resolve(settings) if args.write else db.resolve_reader(settings)
    with connect(url, writes=args.write) as conn:
        target = None
        if args.output:  # checked before the query runs: a refused path costs nothing
            target = output_path(args.output, overwrite=args.overwrite, keep_out=_server_folders(settings))
        frame = fetch(conn, args.sql, args.param or None, writes=args.write)
    if target is not None:
        write_file(frame, fmt, target, max_rows=args.max_rows)
        print(f"wrote {frame.height:,} rows × {frame.width} columns to {args.output} ({fmt})", file=sys.stderr)
    else:
        write_frame(frame, fmt, sys.stdout.buffer, max_rows=args.max_rows)
        sys.stdout.buffer.flush()
    return 0


def _server_folders(settings: Settings) -> list:
    """Folders `--output` must never write into: fleetlab's home (the embedded server's data, the key
    file) and the server's data directory, when its role may read where that is."""
    folders = [settings.home]
    try:
        with db.connect(db.resolve(settings), autocommit=True) as conn:
            found = conn.execute("SELECT current_setting('data_directory', true)").fetchone()[0]
    except (FleetlabError, psycopg.Error):  # not allowed to read it
        found = None
    return folders + ([found] if found else [])


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from ..errors import SecretError
    from ..store.checks import run as run_checks

    url = db.resolve(settings)
    keys, problem = None, ""
    try:
        keys = settings.keyring(create=False)
    except SecretError as exc:
        problem = str(exc)
    with db.connect(url) as conn, db.translate_errors(url, "the checks"):
        report = run_checks(conn, keys, where=url.where, key_problem=problem)
    print(report.render())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetlab",
        description="A realistic PostgreSQL database of organizations, factories and gateways in one command.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("reset", help="drop, create, migrate and seed the workbench database")
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

    p = sub.add_parser("seed", help="replace the rows (truncate + seed in one transaction) without dropping")
    options.add_arguments(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("scenarios", help="list the preset scenarios for --scenario, one line each")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("migrate", help="apply pending migrations")
    p.add_argument("--dry-run", action="store_true", help="print the SQL that would run, change nothing")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("status", help="applied and pending migrations, and drift (exit 1 on drift)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("db", help="the database in use: url, stop, protect, unprotect")
    dbsub = p.add_subparsers(title="db commands", metavar="ACTION", dest="action", required=True)
    q = dbsub.add_parser("url", help="print the URL in use (password masked)")
    q.add_argument("--no-start", action="store_true", help="do not start the embedded server")
    q.set_defaults(func=cmd_db_url)
    q = dbsub.add_parser("stop", help="stop the embedded server")
    q.set_defaults(func=cmd_db_stop)
    q = dbsub.add_parser("protect", help="mark the database protected: resets refuse to drop it")
    q.set_defaults(func=cmd_db_protect, protect=True)
    q = dbsub.add_parser("unprotect", help="remove the protection")
    q.set_defaults(func=cmd_db_protect, protect=False)

    cache_commands.add_parser(sub)
    export_commands.add_parser(sub)

    p = sub.add_parser("key", help="secret keys: `key new` prints a fresh base64 key, `key rotate` re-encrypts")
    ksub = p.add_subparsers(title="key commands", metavar="ACTION", dest="action", required=True)
    q = ksub.add_parser("new", help="print a new random AES-256 key (base64) for FLEETLAB_SECRET_KEY or ENCRYPTION_KEY")
    q.set_defaults(func=cmd_key_new)
    q = ksub.add_parser(
        "rotate", help="re-encrypt every gateway password under the current key, in the platform's format"
    )
    q.set_defaults(func=cmd_key_rotate)

    p = sub.add_parser("decrypt", help="print a gateway's decrypted password (for inspection)")
    p.add_argument("gateway_id", help="the gateway's device id, e.g. GW-SPR-001")
    p.set_defaults(func=cmd_decrypt)

    p = sub.add_parser("query", help="run one SQL query, read-only, and print or write its rows")
    p.add_argument("sql", help='the SQL, e.g. "select * from gateways where model = $1"')
    p.add_argument(
        "--write",
        action="store_true",
        help="run any one statement (DDL, DML, …) with the database owner's rights, not read-only",
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="VALUE",
        help="a value for $1, $2, … in order (repeat the flag); text, cast in SQL: $1::uuid",
    )
    p.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from --output's extension, else table)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout (a new file)")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--max-rows", type=int, default=50, help="rows the table format shows (-1: all; default 50)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser(
        "check",
        help="check the database: the platform's schema and behaviour, orphans, unique ids, counts, passwords, "
        "values (exit 1 on failure)",
    )
    p.set_defaults(func=cmd_check)
    return parser


if __name__ == "__main__":
    sys.exit(main())
