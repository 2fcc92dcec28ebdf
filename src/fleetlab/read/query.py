"""Rows out of PostgreSQL as typed polars frames, through Arrow (ADBC), not row by row.

`read_sql` reads through the ADBC PostgreSQL driver, which streams a query with
`COPY … TO STDOUT (FORMAT binary)` straight into Arrow buffers; measured on a million gateways
that is about ten times faster than `pl.read_database` over SQLAlchemy (see
`benchmarks/query.py`). The columns come out as users expect:

| PostgreSQL            | polars                                                        |
|-----------------------|---------------------------------------------------------------|
| uuid                  | String, canonical lower-case `8-4-4-4-12`                     |
| json, jsonb           | String holding the JSON text (see "JSON" below)               |
| timestamptz           | Datetime("us", "UTC")                                         |
| timestamp             | Datetime("us"), no time zone                                  |
| numeric(p, s)         | Decimal(p, s); numeric without a precision: Float64           |
| interval              | Duration("us") (a month counts as 30 days)                    |
| text, varchar, …      | String; integers, floats, booleans, dates as themselves       |
| other types (inet, …) | Binary, PostgreSQL's binary wire form: cast in SQL (`ip::text`) |

NULLs stay null in every column. Duplicate output names (`select * from a join b`) get a
suffix: `id`, `id_2`, …

JSON: jsonb columns come back as JSON text, because rows of one column need not share a shape
and a million-row decode is not free. Decode when you want a struct:
`read_sql(..., decode_json=True)` (all JSON columns) or `decode_json=["metadata"]`, or later
`frame.with_columns(frame["metadata"].str.json_decode(infer_schema_length=None))`; one field without decoding:
`pl.col("metadata").str.json_path_match("$.protocol")`.

Parameters are bound, never formatted into the SQL: write PostgreSQL's `$1, $2, …` and pass a
sequence. A text parameter compared with a uuid column needs a cast: `where id = $1::uuid`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ..config import Settings
from ..dsn import DatabaseURL, check_name_length
from ..errors import ConfigError, DatabaseError, DatabaseUnavailable
from ..store import db
from .arrow import to_polars

if TYPE_CHECKING:
    import adbc_driver_manager.dbapi

URLLike = DatabaseURL | str | None

__all__ = ["read_sql", "connect", "open_connection", "fetch", "resolve_url", "session_params"]


def resolve_url(url: URLLike = None, *, writes: bool = False) -> DatabaseURL:
    """`url` as a DatabaseURL; None means the workbench database (DATABASE_URL or the embedded server),
    read through the embedded server's non-superuser reader role unless `writes`."""
    if url is None:
        settings = Settings.from_env()
        return db.resolve(settings) if writes else db.resolve_reader(settings)
    if isinstance(url, DatabaseURL):
        return url
    if isinstance(url, str):
        return DatabaseURL.parse(url)
    raise ConfigError(f"url must be a postgresql:// URL or a DatabaseURL, not {type(url).__name__}.")


def session_params(target: DatabaseURL, *, read_only: bool) -> dict[str, str]:
    """The libpq parameters a read connection opens with, through ADBC (`open_connection`) or psycopg
    under SQLAlchemy (`fleetlab.read.engine`): the URL's own first, then a connect timeout, fleetlab's
    application name, a socket path kept on this machine, and with `read_only` read-only transactions."""
    check_name_length(target.database)  # PostgreSQL would truncate it onto another database's name
    params = dict(target.params)
    params.setdefault("connect_timeout", "10")
    params.setdefault("application_name", "fleetlab")
    if target.host.startswith("/"):
        params.setdefault("hostaddr", "")  # as db.connect: a socket path stays on this machine
    if read_only:
        params["options"] = f"{params.get('options', '')} -c default_transaction_read_only=on".strip()
    return params


def open_connection(target: DatabaseURL, *, writes: bool = False) -> adbc_driver_manager.dbapi.Connection:
    """An open ADBC connection (autocommit) to the resolved `target`; the caller closes it. Errors
    carry no secrets.

    Unless `writes`, every transaction of the session is read-only (`default_transaction_read_only`),
    and `fetch` runs each query in a transaction of its own, begun READ ONLY and rolled back: a query
    that turns the session's default off (`set_config(…, false)`) changes nothing for the next one.
    """
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi

    params = session_params(target, read_only=not writes)
    try:  # the URL with its password is never held in a variable: a traceback's locals show none
        conn = adbc_driver_postgresql.dbapi.connect(
            replace(target, params=tuple(params.items())).render(masked=False), autocommit=True
        )
    except adbc_driver_manager.Error as exc:
        raise DatabaseUnavailable(_explain_connect(target, exc)) from None
    if not writes:
        try:
            _drop_superuser(conn)
        except BaseException:
            conn.close()
            raise
    return conn


@contextlib.contextmanager
def connect(url: URLLike = None, *, writes: bool = False) -> Iterator[adbc_driver_manager.dbapi.Connection]:
    """`open_connection` to `url` (resolved by `resolve_url`), closed on exit."""
    conn = open_connection(resolve_url(url, writes=writes), writes=writes)
    try:
        yield conn
    finally:
        conn.close()


def _drop_superuser(conn: adbc_driver_manager.dbapi.Connection) -> None:
    """A superuser reads as pg_read_all_data: every table, no server files, no large-object import.

    A guard against mistakes, not against a superuser set on getting around it (SET ROLE can be
    undone); a non-superuser role (the embedded server's reader, or DATABASE_URL's) is the boundary.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT r.rolsuper AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_read_all_data') "
            "FROM pg_roles r WHERE r.rolname = current_user"
        )
        row = cur.fetchone()
        if row and row[0]:
            cur.execute("SET ROLE pg_read_all_data")


def read_sql(
    sql: str,
    *,
    url: URLLike = None,
    params: Sequence[Any] | None = None,
    decode_json: bool | Iterable[str] = False,
    writes: bool = False,
) -> pl.DataFrame:
    """Run one query and return its rows as a polars DataFrame (types: see the module doc).

    url: a postgresql:// URL or DatabaseURL; default the workbench database.
    params: values for `$1, $2, …`, bound by the server; exactly one per parameter.
    decode_json: True to decode every json/jsonb column into structs, or the names of some.
    writes: run any one statement (DDL, DML, …) with the URL's own role; by default only a query
        (SELECT, WITH, VALUES, TABLE) runs, in a read-only transaction.
    """
    with connect(url, writes=writes) as conn:
        return fetch(conn, sql, params, decode_json=decode_json, writes=writes)


def fetch(
    conn: adbc_driver_manager.dbapi.Connection,
    sql: str,
    params: Sequence[Any] | None = None,
    *,
    decode_json: bool | Iterable[str] = False,
    writes: bool = False,
) -> pl.DataFrame:
    """`read_sql` on an open ADBC connection (several queries, one connection)."""
    import adbc_driver_manager

    if not isinstance(sql, str) or not sql.strip():
        raise DatabaseError("the query is empty; give one SQL statement.")
    if params is not None and (isinstance(params, str | bytes) or not isinstance(params, Sequence)):
        raise ConfigError("params must be a list or tuple of values for $1, $2, … (not a string or mapping).")
    # read-only: the statement must be a query, so it runs as the subquery of one SELECT (no
    # utility statement, no COPY to a server file, no second statement), in a read-only transaction
    statement = sql if writes else f"{WRAPPER}{sql.strip().rstrip(';')}\n) AS fleetlab_query"
    values = tuple(params) if params is not None else ()
    try:
        with conn.cursor() as cur:
            _check_parameters(_parameters(cur, statement), len(values))
            if writes:
                cur.execute(statement, parameters=values or None)
                table = cur.fetch_arrow_table()
            else:
                cur.execute("BEGIN TRANSACTION READ ONLY")
                try:
                    cur.execute(statement, parameters=values or None)
                    table = cur.fetch_arrow_table()
                finally:
                    with contextlib.suppress(adbc_driver_manager.Error):
                        cur.execute("ROLLBACK")  # whatever the query set, for this session, goes with it
    except adbc_driver_manager.Error as exc:
        if writes:
            raise DatabaseError(server_message(exc)) from None
        raise DatabaseError(_refusal(exc, sql, _parses(conn, sql))) from None
    return to_polars(table, decode_json=decode_json)


def _parses(conn: adbc_driver_manager.dbapi.Connection, sql: str) -> BaseException | None:
    """The server's parse error of `sql` as the user wrote it (prepared, never run); None if it parses."""
    import adbc_driver_manager

    try:
        with conn.cursor() as cur:
            cur.adbc_prepare(sql)
    except adbc_driver_manager.Error as exc:
        return exc
    return None


WRAPPER = "SELECT * FROM ("


def _parameters(cur, statement: str) -> int | None:
    """How many `$n` the statement has, as the server parses it; None when it cannot tell before the
    values' types are known (a `$n` the statement never uses)."""
    import adbc_driver_manager

    try:
        wanted = cur.adbc_prepare(statement)
    except adbc_driver_manager.Error as exc:
        if getattr(exc, "sqlstate", None) == "42P18":  # indeterminate_datatype
            return None
        raise
    return len(wanted) if wanted is not None else 0


WRITE_HINT = "to change data or run other statements, pass --write (read_sql(..., writes=True))"


def _check_parameters(wanted: int | None, given: int) -> None:
    if wanted is None or wanted == given:
        return
    where = {0: "", 1: " ($1)", 2: " ($1, $2)"}.get(wanted, f" ($1 … ${wanted})")
    takes = f"takes {wanted} parameter{'s' if wanted != 1 else ''}{where}"
    raise ConfigError(
        f"the query {takes} and {given} value{'s were' if given != 1 else ' was'} given: "
        "give one value per parameter, in order (fleetlab query: -p VALUE; read_sql: params=[…])."
    )


def _refusal(exc: BaseException, sql: str, parse_error: BaseException | None) -> str:
    """The error of a read-only query, in the server's words for the statement as written, and one
    line saying what to do when the statement is not one query."""
    state = getattr(exc, "sqlstate", None)
    said = _first_line(exc)
    if state == "42601":  # not valid inside SELECT * FROM (…): a typo, or not a query at all?
        if parse_error is None:
            kind = sql.strip().split(None, 1)[0].upper()
            return f"{kind} is not a query: fleetlab runs one SELECT, WITH, VALUES or TABLE query, read-only; {WRITE_HINT}."
        if getattr(parse_error, "sqlstate", None) == "42601" and "multiple commands" in str(parse_error):
            return f"fleetlab runs one statement at a time: give them one by one ({WRITE_HINT})."
        return server_message(parse_error)  # the statement's own syntax error, positions as written
    if state == "25006":  # read_only_sql_transaction
        return f"{said}: fleetlab reads in a read-only transaction; {WRITE_HINT}."
    if state == "0A000" and "data-modifying" in said:  # WITH … (DELETE …) SELECT …
        return f"{said}: fleetlab reads only; {WRITE_HINT}."
    if state == "42501":  # insufficient_privilege
        return f"{said}: queries read with a role that cannot reach the server's files or change data; {WRITE_HINT}."
    return server_message(exc, shift=len(WRAPPER))


def _first_line(exc: BaseException) -> str:
    return server_message(exc).split(" (SQLSTATE", 1)[0]


# -- errors ---------------------------------------------------------------------------------

_DRIVER_PREFIX = re.compile(
    r"^[A-Z_]+: (?:\[libpq\] )?(?:Failed to (?:prepare|execute|bind)[^:]*: )?(?:could not begin COPY: )?"
)


def server_message(exc: BaseException, *, shift: int = 0) -> str:
    """The database's own error in one line, without the driver's wrapping: the message, where in the
    statement (line and column; `shift` columns of line 1 were not the user's), DETAIL and HINT, SQLSTATE."""
    text = _DRIVER_PREFIX.sub("", str(exc), count=1).split("\n\nQuery was:", 1)[0]
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().lstrip(". ").startswith("SQLSTATE")]
    if not lines:
        return type(exc).__name__
    said = lines[0].strip().removeprefix("ERROR:").strip()
    where = ""
    for line, caret in zip(lines, [*lines[1:], ""], strict=True):
        m = re.match(r"(LINE (\d+): )", line)
        if m and caret.strip() == "^":
            column = caret.index("^") - len(m.group(1)) + 1 - (shift if m.group(2) == "1" else 0)
            where = f" (line {m.group(2)}, column {column})"
    notes = [
        re.sub(r"^(DETAIL|HINT):\s+", lambda m: m.group(1).lower() + ": ", ln.strip()).rstrip(".")
        for ln in lines[1:]
        if ln.strip().startswith(("DETAIL:", "HINT:"))
    ]
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{said}{where}" + "".join(f"; {n}" for n in notes) + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


def _explain_connect(url: DatabaseURL, exc: BaseException) -> str:
    # the driver prefixes libpq's text and may echo the URI it was given: strip both, then word it like db.connect
    text = _DRIVER_PREFIX.sub("", str(exc)).replace("Failed to connect: ", "")
    return db.explain_connect(url, text.replace(url.render(masked=False), url.render()))
