"""Loading a fleet: TRUNCATE and COPY organizations → factories → gateways in one transaction.

A failure, a lock timeout or a killed client leaves the previous rows in place: never a partial fleet.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import psycopg
from psycopg import sql

from . import faults, marker
from .crypto import Keyring, password_aad
from .db import first_line, set_connection_check
from .errors import DatabaseError, DatabaseUnavailable, LockTimeout, ResetRefused
from .fleet import SCHEMAS, TABLES, Fleet
from .keyed import keyed_password

CHUNK_ROWS = 50_000

Progress = Callable[[str, int, int], None]  # (table, rows done, rows total)


def encrypt_passwords(gateways: pl.DataFrame, seed: int, keyring: Keyring) -> pl.Series:
    """The password_encrypted column for `gateways`: keyed plaintexts, fresh nonces."""
    enc = keyring.encryptor()
    return pl.Series(
        "password_encrypted",
        [enc.encrypt(keyed_password(seed, rid), password_aad(rid)) for rid in gateways["id"].to_list()],
        dtype=pl.String,
    )


def copy_frame(cur: psycopg.Cursor, table: str, frame: pl.DataFrame, progress: Progress | None = None, *, total: int | None = None, done: int = 0) -> int:
    """COPY `frame` into `table` as CSV in chunks; returns the rows written."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')").format(sql.Identifier(table), cols)
    total = frame.height if total is None else total
    with cur.copy(stmt) as copy:
        for offset in range(0, frame.height, CHUNK_ROWS):
            chunk = frame.slice(offset, CHUNK_ROWS)
            copy.write(chunk.write_csv(include_header=False, null_value="\\N").encode())
            faults.reached(f"copy:{table}")
            done += chunk.height
            if progress:
                progress(table, done, total)
    return done


def load(conn: psycopg.Connection, fleet: Fleet, keyring: Keyring, *, lock_timeout: float = 10.0, progress: Progress | None = None) -> dict[str, int]:
    """Replace the three tables' rows with `fleet`, all in one transaction. Returns rows per table."""
    if marker.read(conn) is None:
        conn.rollback()
        raise ResetRefused(
            f"database {conn.info.dbname!r} has no fleetlab marker; refusing to truncate its tables. "
            "Create it with `fleetlab reset`."
        )
    conn.rollback()
    set_connection_check(conn)
    counts: dict[str, int] = {}
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout * 1000)}ms",))
            conn.execute("TRUNCATE organizations, factories, gateways")
            conn.execute("SELECT set_config('lock_timeout', '0', true)")
            with conn.cursor() as cur:
                for table in TABLES:
                    frame = fleet.frames()[table].select(list(SCHEMAS[table]))
                    if table == "gateways":
                        frame = frame.with_columns(encrypt_passwords(frame, fleet.seed, keyring))
                    counts[table] = copy_frame(cur, table, frame, progress)
            marker.record_seed(conn, {**fleet.scenario, "counts": counts})
    except psycopg.errors.LockNotAvailable:
        raise LockTimeout(
            f"another session holds a lock on the fleet tables of {conn.info.dbname!r}; gave up after "
            f"{lock_timeout:g}s and changed nothing. Close that session (or its open transaction) and try again."
        ) from None
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"lost the connection while seeding: {first_line(exc)}. Nothing was changed.") from None
    except psycopg.Error as exc:
        raise DatabaseError(f"seeding failed and was rolled back, nothing was changed: {first_line(exc)}") from None
    return counts
