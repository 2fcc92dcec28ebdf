"""The marker: a one-row table that says "this database was made by fleetlab" (`fleetlab_meta.fleetlab_marker`;
in a database made before migration 1707345600006, `public.fleetlab_marker` until that migration moves it:
it is read in either place, the new one first).

A reset drops only databases that carry it (or hold no tables at all), and never one whose
marker says `protected`. The seed records its scenario there, so `fleetlab check` can compare.
A marker table without its row is no marker, wherever it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg

from .._version import __version__
from ..dsn import DatabaseURL
from ..errors import ResetRefused
from ..model.tables import BOOKKEEPING_SCHEMA, TABLES
from .db import connect

TABLE = f"{BOOKKEEPING_SCHEMA}.fleetlab_marker"
PLACES = (TABLE, "public.fleetlab_marker")  # where it is, newest layout first
_WHERE = "SELECT coalesce(" + ", ".join(f"to_regclass('{place}')" for place in PLACES) + ")::text"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {BOOKKEEPING_SCHEMA};
CREATE TABLE {TABLE} (
    id                boolean     PRIMARY KEY DEFAULT true CHECK (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    fleetlab_version  text        NOT NULL,
    protected         boolean     NOT NULL DEFAULT false,
    scenario          jsonb,
    seeded_at         timestamptz
);
COMMENT ON TABLE {TABLE} IS 'Created by fleetlab: this database may be dropped by `fleetlab reset`.';
"""


@dataclass(frozen=True)
class Marker:
    created_at: datetime
    fleetlab_version: str
    protected: bool
    scenario: dict[str, Any] | None
    seeded_at: datetime | None


def create(conn: psycopg.Connection) -> None:
    conn.execute(DDL)
    conn.execute(f"INSERT INTO {TABLE} (fleetlab_version) VALUES (%s)", (__version__,))


def where(conn) -> str | None:
    """The marker table's name as SQL (its place, `PLACES`), or None without one. Any DB-API connection."""
    with conn.cursor() as cur:
        cur.execute(_WHERE)
        row = cur.fetchone()
    return row[0] if row and row[0] else None


def _tables(conn: psycopg.Connection) -> list[str]:
    """The marker tables the database has, in the order of `PLACES`."""
    rows = conn.execute(
        "SELECT p FROM unnest(%s::text[]) WITH ORDINALITY t(p, i) WHERE to_regclass(p) IS NOT NULL ORDER BY i",
        (list(PLACES),),
    ).fetchall()
    return [r[0] for r in rows]


def read(conn: psycopg.Connection) -> Marker | None:
    """The marker of the connected database, or None if it has none.

    fleetlab moves the old marker, never copies it, so only a hand makes one in both places: then a
    table without its row means no marker, and either one saying `protected` protects, as the old
    place alone did before the move."""
    found = []
    for table in _tables(conn):
        row = conn.execute(
            f"SELECT created_at, fleetlab_version, protected, scenario, seeded_at FROM {table}"
        ).fetchone()
        if row is None:
            return None
        found.append(Marker(*row))
    if not found:
        return None
    return replace(found[0], protected=any(m.protected for m in found))


def recorded_scenario(conn) -> dict[str, Any]:
    """The scenario the marker records ({} when there is no marker or no seed yet).

    `conn` is any DB-API connection to the database: psycopg's, or the read layer's ADBC one (the
    statements take no parameters, so either driver's placeholder style will do)."""
    table = where(conn)
    if table is None:
        return {}
    with conn.cursor() as cur:
        cur.execute(f"SELECT scenario::text FROM {table}")
        row = cur.fetchone()
    value = json.loads(row[0]) if row is not None and row[0] is not None else None
    return value if isinstance(value, dict) else {}


def stamp(conn) -> tuple[str, str] | None:
    """When the database was made and last seeded (as text), or None without a marker: a reset or a
    seed changes it, so a reader can tell that the fleet it read is gone. Any DB-API connection."""
    table = where(conn)
    if table is None:
        return None
    with conn.cursor() as cur:
        cur.execute(f"SELECT created_at::text, coalesce(seeded_at::text, '') FROM {table}")
        row = cur.fetchone()
    return None if row is None else (row[0], row[1])


def user_tables(conn: psycopg.Connection) -> list[str]:
    """Tables, views and sequences outside the system schemas."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
        ORDER BY 1 LIMIT 6
        """
    ).fetchall()
    return [r[0] for r in rows]


def set_protected(conn: psycopg.Connection, protected: bool) -> None:
    for table in _tables(conn):  # both places, when a hand made two (`read`)
        conn.execute(f"UPDATE {table} SET protected = %s", (protected,))


def protect(url: DatabaseURL, protected: bool) -> None:
    """Mark the database at `url` protected (resets refuse to drop it) or not; it must carry a marker."""
    with connect(url, autocommit=True) as conn:
        if read(conn) is None:
            raise ResetRefused(f"{url.where} has no fleetlab marker; there is nothing to (un)protect.")
        set_protected(conn, protected)


def record_seed(conn: psycopg.Connection, scenario: dict[str, Any]) -> None:
    table = where(conn)
    conn.execute(f"UPDATE {table} SET scenario = %s::jsonb, seeded_at = now()", (json.dumps(scenario, default=str),))


def restamp(conn: psycopg.Connection) -> dict[str, int]:
    """A database cloned from a template was created now: say so, and return the rows its seed recorded."""
    row = conn.execute(f"UPDATE {where(conn)} SET created_at = now() RETURNING scenario").fetchone()
    counts = ((row[0] if row else None) or {}).get("counts") or {}
    return {t: int(counts[t]) for t in TABLES if t in counts}  # jsonb keeps its own key order
