"""Connections: which server and database to use, and connecting with errors that say what to do."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

import psycopg
from psycopg import sql

from ..config import WORKBENCH_DB, Settings
from ..dsn import MAINTENANCE_DB, DatabaseURL, check_name_length
from ..errors import ConfigError, DatabaseError, DatabaseUnavailable, FleetlabError, LockTimeout, scrub
from . import server

OWNER_ROLE = "fleetlab"  # the embedded server's login role for what fleetlab makes: owns it, not a superuser
READER_ROLE = "fleetlab_reader"  # the embedded server's login role for queries
_ROLES_MADE: set[tuple[object, str | None]] = set()  # (pgdata, server start) known to have them: one check per process


def resolve(settings: Settings, *, start: bool = True) -> DatabaseURL:
    """The URL of the workbench database: DATABASE_URL, or the embedded server's `fleetlab` database,
    reached as the `fleetlab` role (see `_embedded_roles`)."""
    if settings.database_url is not None:
        url = DatabaseURL.parse(settings.database_url)
        if not url.dbname:
            raise ConfigError(f"DATABASE_URL {url} names no database; add one at the end, e.g. …/{WORKBENCH_DB}.")
        return url
    if start:
        base = server.ensure_running(settings.pgdata)
    else:
        base = server.running_url(settings.pgdata)
        if base is None:
            raise DatabaseUnavailable(
                f"the embedded server in {settings.pgdata} is not running; `fleetlab reset` starts it."
            )
    _embedded_roles(settings, base)
    return replace(base, user=OWNER_ROLE, password=None).with_dbname(WORKBENCH_DB)


def resolve_reader(settings: Settings) -> DatabaseURL:
    """The URL queries read through: on the embedded server its `fleetlab_reader` login role (not a
    superuser: it reads every table and nothing of the server's files); with DATABASE_URL, that URL's
    own role (give it a read-only role for the same guarantee)."""
    url = resolve(settings)
    if not settings.embedded:
        return url
    return replace(url, user=READER_ROLE, password=None)


def _embedded_roles(settings: Settings, superuser: DatabaseURL) -> None:
    """Make the embedded server's two login roles, once per server start (the superuser does only this):

    - `fleetlab` (CREATEDB, no superuser) creates, owns, clones and drops fleetlab's databases, and is
      the role `fleetlab query --write` writes as: the owner of the workbench, nothing of the server's
      files or programs within reach. Databases an older fleetlab made as the superuser are handed to it.
    - `fleetlab_reader` reads every table (pg_read_all_data) and nothing else.
    """
    made = (settings.pgdata, server.started(settings.pgdata))  # this server, this start: a new cluster has none
    if made in _ROLES_MADE:
        return
    with connect(superuser, autocommit=True) as conn:
        for role, options, member_of in (
            (OWNER_ROLE, "CREATEDB", "pg_read_all_data, pg_signal_backend"),
            (READER_ROLE, "NOCREATEDB", "pg_read_all_data"),
        ):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                try:
                    conn.execute(
                        sql.SQL(
                            "CREATE ROLE {} LOGIN NOSUPERUSER " + options + " NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                            "IN ROLE " + member_of
                        ).format(sql.Identifier(role))
                    )
                except psycopg.errors.DuplicateObject:
                    pass  # another fleetlab process made it first
        older = conn.execute(
            "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolsuper "
            "AND (datname = %s OR starts_with(datname, 'fleetlab_build_'))",
            (WORKBENCH_DB,),
        ).fetchall()
        for (name,) in older:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(OWNER_ROLE))
            )
    _ROLES_MADE.add(made)


def maintenance(url: DatabaseURL) -> DatabaseURL:
    """The database to connect to when creating or dropping `url`'s database."""
    return url.with_dbname(MAINTENANCE_DB)


def connect(url: DatabaseURL, *, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """Connect to `url`. Failures become DatabaseUnavailable with a message free of secrets."""
    # the server would truncate a long name and connect to another database: a wrong target
    check_name_length(url.database)
    defaults = {"connect_timeout": 10, "application_name": "fleetlab"}
    try:  # the password is never held in a variable here: a traceback's locals show none
        conn = psycopg.connect(autocommit=autocommit, **{**defaults, **url.connect_kwargs(), **kwargs})
    except psycopg.Error as exc:
        raise DatabaseUnavailable(explain_connect(url, str(exc))) from None
    return conn


def explain_connect(url: DatabaseURL, error: str) -> str:
    """A connection failure's message (libpq's text in `error`) with a hint, free of secrets."""
    # libpq puts the cause ("Connection refused", "password authentication failed …") on one line
    # and its own hint on the next: keep both, on one line, without libpq's "connection failed:" prefix
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    detail = " ".join(ln if ln.endswith((".", "?", "!", ":")) else ln + "." for ln in lines[:-1])
    detail = (detail + " " + lines[-1] if lines else "").strip().removeprefix("connection failed: ")
    detail = detail.replace("FATAL:  ", "") or "no reason given"
    detail = scrub(detail.rstrip(".?") if detail.endswith(".") else detail, url.password)
    hint = (
        "Check that the server is running and DATABASE_URL is right, or unset DATABASE_URL to use the embedded server."
    )
    low = detail.lower()
    if "does not exist" in low and "role" in low:
        hint = "Check the user name in DATABASE_URL."
    elif "does not exist" in low and "database" in low:
        hint = "Create it with `fleetlab reset`, or point DATABASE_URL at an existing database."
    elif "password" in low or "authentication" in low:
        hint = "Check the user and password in DATABASE_URL."
    sep = "" if detail.endswith(("?", "!")) else "."
    return f"cannot connect to PostgreSQL at {url.where}: {detail}{sep} {hint}"


@contextlib.contextmanager
def translate_errors(url: DatabaseURL | None = None, what: str = "the statement") -> Iterator[None]:
    """Turn a psycopg error inside the block into DatabaseError with the server's message."""
    secret = url.password if url is not None else None
    try:
        yield
    except psycopg.OperationalError as exc:
        if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
            raise DatabaseError(f"{what} timed out: {scrub(first_line(exc), secret)}") from None
        raise DatabaseUnavailable(
            f"lost the connection to PostgreSQL during {what}: {scrub(first_line(exc), secret)}"
        ) from None
    except psycopg.Error as exc:
        raise DatabaseError(f"PostgreSQL rejected {what}: {scrub(first_line(exc), secret)}") from None


@contextlib.contextmanager
def all_or_nothing(conn: psycopg.Connection, doing: str, *, lock_timeout: float, holder: str) -> Iterator[None]:
    """Word the errors of one transaction that was rolled back: `doing` ("seeding") failed, was
    cancelled, lost its connection, or gave up waiting for a lock on `holder`; nothing was changed."""
    try:
        yield
    except psycopg.errors.LockNotAvailable:
        raise LockTimeout(
            f"another session holds a lock on {holder} of {conn.info.dbname!r}; gave up after "
            f"{lock_timeout:g}s and changed nothing. Close that session (or its open transaction) and try again."
        ) from None
    except psycopg.errors.QueryCanceled as exc:
        raise DatabaseError(
            f"{doing} was cancelled by the server and rolled back, nothing was changed: {first_line(exc)} "
            "(a statement_timeout set for this user, database or in PGOPTIONS?)"
        ) from None
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"lost the connection while {doing}: {first_line(exc)}. Nothing was changed."
        ) from None
    except psycopg.Error as exc:
        raise DatabaseError(f"{doing} failed and was rolled back, nothing was changed: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def set_connection_check(conn: psycopg.Connection) -> None:
    """Make the server notice a dead client during long statements (PostgreSQL 14+)."""
    if conn.info.server_version >= 140000:
        conn.execute("SELECT set_config('client_connection_check_interval', '1000', false)")


def data_directory(settings: Settings) -> str | None:
    """The server's data directory, as the workbench's owner role sees it; None when it may not read it."""
    try:
        with connect(resolve(settings), autocommit=True) as conn:
            return conn.execute("SELECT current_setting('data_directory', true)").fetchone()[0] or None
    except (FleetlabError, psycopg.Error):  # not allowed to read it
        return None
