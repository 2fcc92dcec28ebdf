"""`fleetlab migrate`, `fleetlab status` and `fleetlab db url|stop|protect|unprotect`: the database in use."""

from __future__ import annotations

import argparse
import sys

from ..config import Settings
from ..errors import ConfigError
from .parsers import command


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import db, migrate

    url = db.resolve(settings)
    if args.dry_run:
        todo = migrate.pending_at(url)
        if not todo:
            print("-- nothing to apply: the database is up to date")
        for m in todo:
            print(f"-- {m.filename}\nBEGIN;\n{m.sql.rstrip()}\nCOMMIT;\n")
        return 0
    done = migrate.apply_at(
        url,
        lock_timeout=settings.lock_timeout,
        on_apply=lambda m, ms: print(f"applied {m.filename} ({ms:.0f} ms)"),
    )
    if not done:
        print(f"{url.where} is up to date")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import db, migrate

    url = db.resolve(settings)
    found = migrate.database_status(url)
    st, mk = found.migrations, found.marker
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
    for d in found.changed:
        print(f"  CHANGED  {d}")
    if st.drift:
        print(f"{len(st.drift)} drift problem(s): `fleetlab migrate` will refuse to run.", file=sys.stderr)
        return 1
    if found.changed:
        print(
            f"{len(found.changed)} difference(s) from the schema the migrations make (changed by hand?): "
            "`fleetlab seed` refuses this database; `fleetlab reset` rebuilds it.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_db_url(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import db

    url = db.resolve(settings, start=not settings.embedded or not args.no_start)
    print(url.render(masked=True))
    return 0


def cmd_db_stop(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import server

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
    from ..store import db, marker

    url = db.resolve(settings)
    marker.protect(url, args.protect)
    print(f"{url.where} is now {'protected: resets will refuse to drop it' if args.protect else 'unprotected'}")
    return 0


def register(sub) -> None:
    p = command(sub, "migrate", "apply pending migrations", "fleetlab migrate --dry-run")
    p.add_argument("--dry-run", action="store_true", help="print the SQL that would run, change nothing")
    p.set_defaults(func=cmd_migrate)

    p = command(sub, "status", "applied and pending migrations, and drift (exit 1 on drift)", "fleetlab status")
    p.set_defaults(func=cmd_status)

    p = command(sub, "db", "the database in use: url, stop, protect, unprotect", "fleetlab db url --no-start")
    actions = p.add_subparsers(title="db commands", metavar="ACTION", dest="action", required=True)
    q = command(actions, "url", "print the URL in use (password masked)", "fleetlab db url")
    q.add_argument("--no-start", action="store_true", help="do not start the embedded server")
    q.set_defaults(func=cmd_db_url)
    q = command(actions, "stop", "stop the embedded server", "fleetlab db stop")
    q.set_defaults(func=cmd_db_stop)
    q = command(actions, "protect", "mark the database protected: resets refuse to drop it", "fleetlab db protect")
    q.set_defaults(func=cmd_db_protect, protect=True)
    q = command(actions, "unprotect", "remove the protection", "fleetlab db unprotect")
    q.set_defaults(func=cmd_db_protect, protect=False)
