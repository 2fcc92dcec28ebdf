"""Canned questions about a fleet, each answered as a polars frame (through `fleetlab.query`).

Every function takes `url=` (default: the workbench database) and reads through one ADBC connection.

**Active rows.** By default only active rows count: a row is active when its own `deleted_at` is
NULL *and* so is every ancestor's (a gateway of a soft-deleted factory is not in the active
fleet). These are the rows the partial `WHERE deleted_at IS NULL` indexes serve.
`include_deleted=True` counts soft-deleted rows as if they were active; the `deleted_*` columns
always count rows whose own `deleted_at` is set.

**Connectivity** of a gateway, relative to a reference time `as_of`:

| status     | meaning                                                            |
|------------|--------------------------------------------------------------------|
| online     | last seen within `online_within` (5 minutes) before `as_of`, or later |
| recent     | last seen earlier than that, but not more than `stale_after` ago    |
| stale      | last seen more than `stale_after` before `as_of`                    |
| never_seen | `last_seen_at` is NULL                                             |

`as_of` defaults to the `as_of` of the scenario recorded in the database's marker (a generated
fleet is a snapshot at that instant, so its statuses do not drift with the wall clock), else now;
`stale_after` defaults to the scenario's `stale_after_hours`, else 24 hours. These are the
definitions the generator (`fleetlab.spec`) draws its online/stale/never-seen fractions with.
Pass `as_of=datetime.now(UTC)` for the wall clock's view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from .errors import ConfigError
from .query import URLLike, connect, fetch

ONLINE_WITHIN = timedelta(minutes=5)
DEFAULT_STALE_AFTER = timedelta(hours=24)
TABLES = ("organizations", "factories", "gateways")


@dataclass(frozen=True)
class Clock:
    """The reference time and thresholds the statuses are computed against."""

    as_of: datetime
    stale_after: timedelta = DEFAULT_STALE_AFTER
    online_within: timedelta = ONLINE_WITHIN

    def params(self) -> list[Any]:
        """$1 as_of, $2 online_within seconds, $3 stale_after seconds."""
        return [self.as_of, self.online_within.total_seconds(), self.stale_after.total_seconds()]


def recorded_scenario(conn) -> dict[str, Any]:
    """The scenario the marker records ({} when there is no marker or no seed yet)."""
    exists = fetch(conn, "SELECT to_regclass('public.fleetlab_marker') IS NOT NULL AS present")
    if not exists["present"][0]:
        return {}
    rows = fetch(conn, "SELECT scenario::text AS scenario FROM fleetlab_marker")
    if rows.height == 0 or rows["scenario"][0] is None:
        return {}
    value = json.loads(rows["scenario"][0])
    return value if isinstance(value, dict) else {}


def clock(
    conn,
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    online_within: timedelta = ONLINE_WITHIN,
) -> Clock:
    """The Clock for this database: explicit values first, then the marker's scenario, then defaults.

    stale_after may be a timedelta or a number of hours.
    """
    scenario = recorded_scenario(conn) if as_of is None or stale_after is None else {}
    if as_of is None:
        recorded = scenario.get("as_of")
        as_of = _parse_time(recorded) if isinstance(recorded, str) else None
        if as_of is None:
            as_of = datetime.now(UTC)
    elif as_of.tzinfo is None:
        raise ConfigError("as_of must be timezone-aware, e.g. datetime(2026, 1, 1, tzinfo=UTC).")
    if stale_after is None:
        hours = scenario.get("stale_after_hours")
        ok = isinstance(hours, int | float) and not isinstance(hours, bool) and hours > 0
        stale_after = timedelta(hours=hours) if ok else DEFAULT_STALE_AFTER
    elif not isinstance(stale_after, timedelta):
        stale_after = timedelta(hours=float(stale_after))
    if stale_after <= timedelta(0) or online_within < timedelta(0):
        raise ConfigError("stale_after must be positive and online_within not negative.")
    return Clock(as_of.astimezone(UTC), stale_after, online_within)


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# $1 as_of, $2 online_within (s), $3 stale_after (s); `g` is the gateways row
_STATUS = """CASE
        WHEN g.last_seen_at IS NULL THEN 'never_seen'
        WHEN g.last_seen_at >= $1::timestamptz - make_interval(secs => $2::float8) THEN 'online'
        WHEN g.last_seen_at < $1::timestamptz - make_interval(secs => $3::float8) THEN 'stale'
        ELSE 'recent' END"""

# one row per factory: its gateways by status. $4: include_deleted
_PER_FACTORY = f"""
    per_factory AS (
        SELECT g.factory_id,
               count(*) FILTER (WHERE counted) AS gateways,
               count(*) FILTER (WHERE counted AND status = 'online') AS online,
               count(*) FILTER (WHERE counted AND status = 'recent') AS recent,
               count(*) FILTER (WHERE counted AND status = 'stale') AS stale,
               count(*) FILTER (WHERE counted AND status = 'never_seen') AS never_seen,
               count(*) FILTER (WHERE g.deleted_at IS NOT NULL) AS deleted_gateways
        FROM (SELECT g.factory_id, g.deleted_at, ($4::boolean OR g.deleted_at IS NULL) AS counted,
                     {_STATUS} AS status
              FROM gateways g) g
        GROUP BY g.factory_id
    )"""


def fleet_summary(
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    include_deleted: bool = False,
) -> pl.DataFrame:
    """One row per organization: factories, gateways, online / recent / stale / never seen, soft-deleted.

    Columns: organization_id, organization, factories, gateways, online, recent, stale, never_seen,
    deleted_factories, deleted_gateways, deleted_at (of the organization).
    """
    sql = f"""
    WITH {_PER_FACTORY}
    SELECT o.id AS organization_id, o.name AS organization,
           count(f.id) FILTER (WHERE f.counted) AS factories,
           coalesce(sum(p.gateways) FILTER (WHERE f.counted), 0)::bigint AS gateways,
           coalesce(sum(p.online) FILTER (WHERE f.counted), 0)::bigint AS online,
           coalesce(sum(p.recent) FILTER (WHERE f.counted), 0)::bigint AS recent,
           coalesce(sum(p.stale) FILTER (WHERE f.counted), 0)::bigint AS stale,
           coalesce(sum(p.never_seen) FILTER (WHERE f.counted), 0)::bigint AS never_seen,
           count(f.id) FILTER (WHERE f.deleted_at IS NOT NULL) AS deleted_factories,
           coalesce(sum(p.deleted_gateways), 0)::bigint AS deleted_gateways,
           o.deleted_at
    FROM organizations o
    LEFT JOIN (SELECT *, ($4::boolean OR deleted_at IS NULL) AS counted FROM factories) f
           ON f.organization_id = o.id
    LEFT JOIN per_factory p ON p.factory_id = f.id
    WHERE $4::boolean OR o.deleted_at IS NULL
    GROUP BY o.id
    ORDER BY o.name, o.id
    """
    return _run(sql, url, as_of, stale_after, include_deleted)


def gateways_per_factory(
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    include_deleted: bool = False,
) -> pl.DataFrame:
    """One row per factory (those without gateways too): its gateways by status.

    Columns: organization_id, organization, factory_id, factory, location, timezone, gateways,
    online, recent, stale, never_seen, deleted_gateways, deleted_at (of the factory).
    """
    sql = f"""
    WITH {_PER_FACTORY}
    SELECT o.id AS organization_id, o.name AS organization, f.id AS factory_id, f.name AS factory,
           f.location, f.timezone,
           coalesce(p.gateways, 0) AS gateways, coalesce(p.online, 0) AS online,
           coalesce(p.recent, 0) AS recent, coalesce(p.stale, 0) AS stale,
           coalesce(p.never_seen, 0) AS never_seen, coalesce(p.deleted_gateways, 0) AS deleted_gateways,
           f.deleted_at
    FROM factories f
    JOIN organizations o ON o.id = f.organization_id
    LEFT JOIN per_factory p ON p.factory_id = f.id
    WHERE $4::boolean OR (f.deleted_at IS NULL AND o.deleted_at IS NULL)
    ORDER BY o.name, o.id, f.name, f.id
    """
    return _run(sql, url, as_of, stale_after, include_deleted)


_GATEWAY_CONTEXT = """
    FROM gateways g
    JOIN factories f ON f.id = g.factory_id
    JOIN organizations o ON o.id = f.organization_id
    WHERE ($4::boolean OR (g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL))"""


def stale_gateways(
    stale_after: timedelta | float | None = None,
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    include_never_seen: bool = False,
    include_deleted: bool = False,
) -> pl.DataFrame:
    """Gateways not seen for more than `stale_after` (a timedelta or hours) before `as_of`, most silent first.

    include_never_seen: also list gateways never seen (last_seen_at NULL; they come first).
    Columns: id, gateway_id, name, model, firmware_version, last_seen_at, silent_for (Duration,
    null when never seen), factory_id, factory, organization_id, organization, deleted_at.
    """
    sql = f"""
    SELECT g.id, g.gateway_id, g.name, g.model, g.firmware_version, g.last_seen_at,
           (extract(epoch FROM $1::timestamptz - g.last_seen_at) * 1000000)::bigint AS silent_for,
           f.id AS factory_id, f.name AS factory, o.id AS organization_id, o.name AS organization,
           g.deleted_at
    {_GATEWAY_CONTEXT}
      AND (g.last_seen_at < $1::timestamptz - make_interval(secs => $3::float8)
           OR ($5::boolean AND g.last_seen_at IS NULL))
    ORDER BY g.last_seen_at NULLS FIRST, g.gateway_id, g.id
    """
    frame = _run(sql, url, as_of, stale_after, include_deleted, [include_never_seen])
    return frame.with_columns(pl.col("silent_for").cast(pl.Duration("us")))


def model_distribution(*, url: URLLike = None, include_deleted: bool = False) -> pl.DataFrame:
    """Gateways per model (a NULL model is its own group), most common first.

    Columns: model, gateways, share (of all counted gateways, 0..1).
    """
    return _distribution(["model"], url, include_deleted)


def firmware_distribution(*, url: URLLike = None, by_model: bool = False, include_deleted: bool = False) -> pl.DataFrame:
    """Gateways per firmware version (per model and version with by_model), most common first.

    Columns: [model,] firmware_version, gateways, share (of all counted gateways, 0..1).
    """
    return _distribution(["model", "firmware_version"] if by_model else ["firmware_version"], url, include_deleted)


def _distribution(columns: list[str], url: URLLike, include_deleted: bool) -> pl.DataFrame:
    cols = ", ".join(f"g.{c}" for c in columns)
    sql = f"""
    SELECT {cols}, count(*) AS gateways,
           (count(*)::float8 / sum(count(*)) OVER ())::float8 AS share
    FROM gateways g
    JOIN factories f ON f.id = g.factory_id
    JOIN organizations o ON o.id = f.organization_id
    WHERE ($1::boolean OR (g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL))
    GROUP BY {cols}
    ORDER BY gateways DESC, {", ".join(f"g.{c} NULLS LAST" for c in columns)}
    """
    with connect(url) as conn:
        return fetch(conn, sql, [bool(include_deleted)])


def gateway_record(gateway_id: str, *, url: URLLike = None, include_deleted: bool = False) -> pl.DataFrame:
    """A gateway's full record with its factory and organization, by device id (GW-…) or row id.

    One row per match: one active gateway at most, and with include_deleted also the
    soft-deleted rows that used the same device id. Empty when nothing matches.
    Columns: the gateway's (password_encrypted is the ciphertext), then factory_* and organization_*.
    """
    if not isinstance(gateway_id, str) or not gateway_id.strip():
        raise ConfigError("give a gateway's device id (e.g. GW-SPR-001) or its row id (a uuid).")
    sql = """
    SELECT g.*,
           f.name AS factory_name, f.location AS factory_location, f.timezone AS factory_timezone,
           f.metadata AS factory_metadata, f.created_at AS factory_created_at,
           f.updated_at AS factory_updated_at, f.deleted_at AS factory_deleted_at,
           o.id AS organization_id, o.name AS organization_name, o.metadata AS organization_metadata,
           o.created_at AS organization_created_at, o.updated_at AS organization_updated_at,
           o.deleted_at AS organization_deleted_at
    FROM gateways g
    JOIN factories f ON f.id = g.factory_id
    JOIN organizations o ON o.id = f.organization_id
    WHERE (g.gateway_id = $1 OR g.id::text = lower($1))
      AND ($2::boolean OR (g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL))
    ORDER BY g.deleted_at NULLS FIRST, g.id
    """
    with connect(url) as conn:
        return fetch(conn, sql, [gateway_id.strip(), bool(include_deleted)])


def deleted_rows(*, url: URLLike = None, table: str | None = None) -> pl.DataFrame:
    """Soft-deleted rows of the three tables (or of one `table`), most recently deleted first.

    Columns: table, id, name, gateway_id (gateways only), parent_id (organization_id of a
    factory, factory_id of a gateway), deleted_at.
    """
    if table is not None and table not in TABLES:
        raise ConfigError(f"table must be one of {', '.join(TABLES)}, not {table!r}.")
    sql = """
    SELECT * FROM (
        SELECT 'organizations' AS "table", id, name, NULL::varchar AS gateway_id, NULL::uuid AS parent_id, deleted_at
        FROM organizations WHERE deleted_at IS NOT NULL
        UNION ALL
        SELECT 'factories', id, name, NULL, organization_id, deleted_at
        FROM factories WHERE deleted_at IS NOT NULL
        UNION ALL
        SELECT 'gateways', id, name, gateway_id, factory_id, deleted_at
        FROM gateways WHERE deleted_at IS NOT NULL
    ) d
    WHERE $1::text IS NULL OR d."table" = $1::text
    ORDER BY deleted_at DESC, "table", id
    """
    with connect(url) as conn:
        return fetch(conn, sql, [table])


def _run(
    sql: str,
    url: URLLike,
    as_of: datetime | None,
    stale_after: timedelta | float | None,
    include_deleted: bool,
    extra: list[Any] | None = None,
) -> pl.DataFrame:
    with connect(url) as conn:
        c = clock(conn, as_of, stale_after)
        return fetch(conn, sql, [*c.params(), bool(include_deleted), *(extra or [])])
