"""Append-only SQL migrations: `pending()`, `applied()`, `apply()`.

Each migration is a file `migrations/<version>_<name>.sql` (top level of the project). Applying one runs the file and
records it in `fleetlab_meta.schema_migrations` in the same transaction. A database made before migration
1707345600006 keeps its history in `public.schema_migrations` until that migration moves it: the runner
reads the history where it is (`history()`), and records each migration where the history is once the file
has run, so the move's own record lands in the moved table, in the move's transaction (a rollback leaves
both where they were). A session-level advisory lock serialises concurrent runners. The history is checked
before anything runs: an applied file that changed, vanished, or a new file ordered before an applied one is
refused by name.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from .. import faults
from ..dsn import DatabaseURL
from ..errors import MigrationError
from ..model.tables import BOOKKEEPING_SCHEMA
from . import marker
from .databases import MIGRATE_LOCK_CLASS, advisory_lock
from .db import connect, first_line
from .schema import describe, differences


def _migrations_dir() -> Path:
    """The SQL files: `fleetlab/migrations/` in an installed wheel (the build copies them there), else the
    checkout's top-level `migrations/` (an editable install runs the package from `src/`)."""
    package = Path(__file__).resolve().parents[1]
    shipped = package / "migrations"
    return shipped if shipped.is_dir() else package.parents[1] / "migrations"


MIGRATIONS_DIR = _migrations_dir()

_NAME = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.sql$")

HISTORY = f"{BOOKKEEPING_SCHEMA}.schema_migrations"
OLD_HISTORY = "public.schema_migrations"  # before 1707345600006_fleetlab_schema moved it
TRACKING_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {BOOKKEEPING_SCHEMA};
CREATE TABLE IF NOT EXISTS {HISTORY} (
    version       bigint      PRIMARY KEY,
    name          text        NOT NULL,
    checksum      text        NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    execution_ms  double precision NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str = field(repr=False)
    checksum: str

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: datetime
    execution_ms: float


@dataclass
class Status:
    applied: list[AppliedMigration]
    pending: list[Migration]
    drift: list[str]

    @property
    def ok(self) -> bool:
        return not self.drift


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in `directory`, ordered by version."""
    if not directory.is_dir():
        raise MigrationError(f"the migrations folder {directory} does not exist.")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(
                f"migration file {path.name} is not named <version>_<name>.sql (e.g. 1707345600004_add_sites.sql)."
            )
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"migration files {found[version].filename} and {path.name} share version {version}.")
        data = path.read_bytes()
        found[version] = Migration(
            version=version,
            name=m.group(2),
            path=path,
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
    return [found[v] for v in sorted(found)]


def fingerprint(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str]]:
    """(version, checksum) of every migration file: what the scenario cache keys on."""
    return [(m.version, m.checksum) for m in discover(directory)]


def history(conn: psycopg.Connection) -> str | None:
    """Where the migration history is: `fleetlab_meta.schema_migrations`, or in a database made before
    migration 1707345600006 `public.schema_migrations`; None before any migration."""
    for name in (HISTORY, OLD_HISTORY):
        if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]:
            return name
    return None


def applied(conn: psycopg.Connection) -> list[AppliedMigration]:
    """The migrations recorded in the history (empty if there is none yet)."""
    where = history(conn)
    if where is None:
        return []
    rows = conn.execute(
        f"SELECT version, name, checksum, applied_at, execution_ms FROM {where} ORDER BY version"
    ).fetchall()
    if not conn.autocommit:
        conn.commit()
    return [AppliedMigration(*r) for r in rows]


def status(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> Status:
    """Applied, pending and drift (the problems that make `apply()` refuse)."""
    files = discover(directory)
    done = applied(conn)
    by_version = {m.version: m for m in files}
    drift: list[str] = []
    for a in done:
        m = by_version.get(a.version)
        if m is None:
            drift.append(
                f"{a.version}_{a.name}.sql was applied on {a.applied_at:%Y-%m-%d %H:%M} but is missing from "
                f"{directory}; restore it (migrations are append-only)."
            )
        elif m.checksum != a.checksum:
            drift.append(
                f"{m.filename} was changed after it was applied (checksum differs); revert the edit and put "
                "the change in a new migration."
            )
    applied_versions = {a.version for a in done}
    last = max(applied_versions, default=None)
    pending = [m for m in files if m.version not in applied_versions]
    for m in pending:
        if last is not None and m.version < last:
            drift.append(
                f"{m.filename} is not applied but is ordered before the applied migration {last}; "
                "give it a version after the last applied one."
            )
    return Status(applied=done, pending=pending, drift=drift)


def pending(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations not yet applied (raises MigrationError on drift)."""
    st = status(conn, directory)
    _refuse_drift(st)
    return st.pending


def apply(
    conn: psycopg.Connection,
    directory: Path = MIGRATIONS_DIR,
    *,
    lock_timeout: float = 10.0,
    on_apply: Callable[[Migration, float], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration, each in its own transaction with its record.

    Waits at most `lock_timeout` seconds for a concurrent runner to finish.
    Returns the migrations applied by this call.
    """
    conn.autocommit = True
    busy = (
        f"another `fleetlab migrate` is running on this database; gave up after waiting {lock_timeout:g}s. "
        "Wait for it to finish and try again."
    )
    # the lock also has the server notice a dead client during the migrations' statements
    with advisory_lock(conn, MIGRATE_LOCK_CLASS, conn.info.dbname, wait=lock_timeout, busy=busy):
        if history(conn) is None:
            conn.execute(TRACKING_DDL)
        todo = pending(conn, directory)
        done: list[Migration] = []
        for m in todo:
            started = time.perf_counter()
            try:
                with conn.transaction():
                    # bounded wait for the tables a migration alters, as for the runner's own lock
                    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout * 1000)}ms",))
                    conn.execute(m.sql)
                    faults.reached("migrate:before-record")
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    conn.execute(  # where the history is now: the migration may have moved it
                        f"INSERT INTO {history(conn)} (version, name, checksum, execution_ms) VALUES (%s, %s, %s, %s)",
                        (m.version, m.name, m.checksum, elapsed_ms),
                    )
            except psycopg.OperationalError as exc:
                if isinstance(exc, pgerrors.LockNotAvailable):
                    raise MigrationError(
                        f"migration {m.filename} waited more than {lock_timeout:g}s for a lock on a table it "
                        "changes and was rolled back; another session holds that table (an open transaction?). "
                        "Close it and run `fleetlab migrate` again."
                    ) from None
                if isinstance(exc, pgerrors.QueryCanceled):
                    raise MigrationError(
                        f"migration {m.filename} timed out and was rolled back: {first_line(exc)}"
                    ) from None
                raise MigrationError(
                    f"lost the connection while applying {m.filename}: {first_line(exc)}. "
                    "Its transaction was rolled back; run `fleetlab migrate` again."
                ) from None
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {m.filename} failed and was rolled back: {first_line(exc)}. "
                    "Fix the file (it is not applied yet) and run `fleetlab migrate` again."
                ) from None
            done.append(m)
            if on_apply:
                on_apply(m, elapsed_ms)
        return done


def apply_fresh(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every migration to a database that has none yet (a reset's new database, which nobody else
    sees until the swap): one transaction in one round trip, each migration's time measured by the server
    and recorded as `apply` records it. When the batch fails it is rolled back whole and `apply` runs the
    migrations one by one, so the error names the file (and a flaky failure is not final)."""
    todo = discover(directory)
    parts = [TRACKING_DDL.strip() + ";"]
    for m in todo:
        record = sql.SQL(
            f"INSERT INTO {HISTORY} (version, name, checksum, execution_ms) VALUES ({{}}, {{}}, {{}}, "
            "extract(epoch FROM clock_timestamp() - current_setting('fleetlab.migration_started')::timestamptz) "
            "* 1000);"
        ).format(sql.Literal(m.version), sql.Literal(m.name), sql.Literal(m.checksum))
        parts += [
            "SELECT set_config('fleetlab.migration_started', clock_timestamp()::text, true);",
            m.sql.strip().rstrip(";") + ";",
            record.as_string(conn),
        ]
    conn.autocommit = True
    try:
        with conn.transaction():
            conn.execute("\n".join(parts).encode())  # several statements, no parameters: one simple query
            faults.reached("migrate:before-record")  # (here: every migration ran, nothing committed yet)
    except psycopg.OperationalError:
        raise  # the connection is gone: nothing to retry on
    except psycopg.Error:
        return apply(conn, directory)
    return todo


def pending_at(url: DatabaseURL) -> list[Migration]:
    """`pending` in the database at `url` (`fleetlab migrate --dry-run`), over a connection of its own."""
    with connect(url, autocommit=True) as conn:
        return pending(conn)


def apply_at(
    url: DatabaseURL, *, lock_timeout: float = 10.0, on_apply: Callable[[Migration, float], None] | None = None
) -> list[Migration]:
    """`apply` to the database at `url` (`fleetlab migrate`), over a connection of its own."""
    with connect(url, autocommit=True) as conn:
        return apply(conn, lock_timeout=lock_timeout, on_apply=on_apply)


@dataclass(frozen=True)
class DatabaseStatus:
    """What `fleetlab status` shows: the migrations, the marker, and how the catalog differs from
    what the migrations make (checked once every migration is applied and none drifted)."""

    migrations: Status
    marker: marker.Marker | None
    changed: list[str]


def database_status(url: DatabaseURL) -> DatabaseStatus:
    """The migrations, marker and catalog differences of the database at `url`."""
    with connect(url, autocommit=True) as conn:
        st = status(conn)
        mk = marker.read(conn)
        # once every migration is applied, the catalog must be what they make (an index dropped by hand…)
        changed = differences(describe(conn)) if not st.pending and not st.drift and st.applied else []
    return DatabaseStatus(st, mk, changed)


def _refuse_drift(st: Status) -> None:
    if st.drift:
        raise MigrationError(
            "the migration history does not match the files:\n" + "\n".join(f"  - {d}" for d in st.drift)
        )
