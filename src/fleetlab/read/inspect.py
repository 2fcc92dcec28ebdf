"""Canned questions about a fleet, each answered as a polars frame (through `fleetlab.read.query`).

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
definitions the generator (`fleetlab.model.spec`) draws its online/stale/never-seen fractions with.
Pass `as_of=datetime.now(UTC)` for the wall clock's view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from ..errors import ConfigError
from ..model.tables import TABLES
from .clock import clock, recorded_scenario
from .filters import EVERYTHING, PER_FACTORY, STATUSES, Filter, gateways_with_parents, run
from .query import URLLike, connect, fetch, read_sql, resolve_url
from .sites import COORDINATES

__all__ = ["EVERYTHING", "STATUSES", "Filter"]  # the filters every question here takes

# Columns a notebook never shows: set by the database at load time (volatile) or secret.
HIDDEN_COLUMNS = ("created_at", "updated_at", "password_encrypted")


def fleet_summary(
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    include_deleted: bool = False,
    where: Filter = EVERYTHING,
) -> pl.DataFrame:
    """One row per organization: factories, gateways, online / recent / stale / never seen, soft-deleted.

    Columns: organization_id, organization, factories, gateways, online, recent, stale, never_seen,
    deleted_factories, deleted_gateways, deleted_at (of the organization).
    """
    sql = f"""
    WITH {PER_FACTORY}
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
    WHERE ($4::boolean OR o.deleted_at IS NULL) AND {Filter.organizations_sql("o", 5)}
    GROUP BY o.id
    ORDER BY o.name, o.id
    """
    return run(sql, url, as_of, stale_after, include_deleted, where)


def gateways_per_factory(
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    include_deleted: bool = False,
    where: Filter = EVERYTHING,
) -> pl.DataFrame:
    """One row per factory (those without gateways too): its gateways by status.

    Columns: organization_id, organization, factory_id, factory, location, timezone, latitude,
    longitude (`fleetlab.read.sites`; null when unknown), gateways, online, recent, stale, never_seen,
    deleted_gateways, deleted_at (of the factory).
    """
    sql = f"""
    WITH {PER_FACTORY}
    SELECT o.id AS organization_id, o.name AS organization, f.id AS factory_id, f.name AS factory,
           f.location, f.timezone, {COORDINATES},
           coalesce(p.gateways, 0) AS gateways, coalesce(p.online, 0) AS online,
           coalesce(p.recent, 0) AS recent, coalesce(p.stale, 0) AS stale,
           coalesce(p.never_seen, 0) AS never_seen, coalesce(p.deleted_gateways, 0) AS deleted_gateways,
           f.deleted_at
    FROM factories f
    JOIN organizations o ON o.id = f.organization_id
    LEFT JOIN per_factory p ON p.factory_id = f.id
    WHERE ($4::boolean OR (f.deleted_at IS NULL AND o.deleted_at IS NULL)) AND {Filter.organizations_sql("o", 5)}
    ORDER BY o.name, o.id, f.name, f.id
    """
    return run(sql, url, as_of, stale_after, include_deleted, where)


def stale_gateways(
    stale_after: timedelta | float | None = None,
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    include_never_seen: bool = False,
    include_deleted: bool = False,
    where: Filter = EVERYTHING,
) -> pl.DataFrame:
    """Gateways not seen for more than `stale_after` (a timedelta or hours) before `as_of`, most silent first.

    include_never_seen: also list gateways never seen (last_seen_at NULL; they come after the rest).
    Columns: id, gateway_id, name, model, firmware_version, last_seen_at, silent_for (Duration,
    null when never seen), factory_id, factory, organization_id, organization, deleted_at.
    """
    sql = f"""
    SELECT g.id, g.gateway_id, g.name, g.model, g.firmware_version, g.last_seen_at,
           (extract(epoch FROM $1::timestamptz - g.last_seen_at) * 1000000)::bigint AS silent_for,
           f.id AS factory_id, f.name AS factory, o.id AS organization_id, o.name AS organization,
           g.deleted_at
    {gateways_with_parents()}
      AND (g.last_seen_at < $1::timestamptz - make_interval(secs => $3::float8)
           OR ($9::boolean AND g.last_seen_at IS NULL))
    ORDER BY g.last_seen_at NULLS LAST, g.gateway_id, g.id
    """
    frame = run(sql, url, as_of, stale_after, include_deleted, where, [include_never_seen])
    return frame.with_columns(pl.col("silent_for").cast(pl.Duration("us")))


def model_distribution(
    *, url: URLLike = None, include_deleted: bool = False, where: Filter = EVERYTHING
) -> pl.DataFrame:
    """Gateways per model (a NULL model is its own group), most common first.

    Columns: model, gateways, share (of all counted gateways, 0..1).
    """
    return _distribution(["model"], url, include_deleted, where)


def firmware_distribution(
    *, url: URLLike = None, by_model: bool = False, include_deleted: bool = False, where: Filter = EVERYTHING
) -> pl.DataFrame:
    """Gateways per firmware version (per model and version with by_model), most common first.

    Columns: [model,] firmware_version, gateways, share (of all counted gateways, 0..1).
    """
    columns = ["model", "firmware_version"] if by_model else ["firmware_version"]
    return _distribution(columns, url, include_deleted, where)


def _distribution(columns: list[str], url: URLLike, include_deleted: bool, where: Filter) -> pl.DataFrame:
    cols = ", ".join(f"g.{c}" for c in columns)
    sql = f"""
    SELECT {cols}, count(*) AS gateways,
           (count(*)::float8 / sum(count(*)) OVER ())::float8 AS share
    {gateways_with_parents()}
    GROUP BY {cols}
    ORDER BY gateways DESC, {", ".join(f"g.{c} NULLS LAST" for c in columns)}
    """
    return run(sql, url, include_deleted=include_deleted, where=where)


def last_seen_by_day(
    *, url: URLLike = None, as_of: datetime | None = None, days: int = 60, where: Filter = EVERYTHING
) -> pl.DataFrame:
    """Active gateways by the day (UTC) they were last seen, for the `days` calendar days that end with
    the one `as_of` falls in (the day before, when as_of is midnight): when what went silent stopped
    talking. Aggregated in PostgreSQL; days without any are rows with 0.

    Columns: day (Date), gateways. Gateways last seen earlier, or never, are not in it."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660:
        raise ConfigError(f"days must be a whole number from 1 to 3660, not {days!r}.")
    # the last day is the one as_of falls in (the day before, for an as_of at midnight)
    sql = f"""
    WITH span AS (
        SELECT ((($1::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC')::date - ($9::int - 1)) AS first,
               (($1::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC')::date AS last
    ), seen AS (
        SELECT (g.last_seen_at AT TIME ZONE 'UTC')::date AS day, count(*) AS gateways
        {gateways_with_parents()}
          AND g.last_seen_at >= ((SELECT first FROM span)::timestamp AT TIME ZONE 'UTC')
          AND g.last_seen_at <= $1::timestamptz
        GROUP BY 1
    )
    SELECT d::date AS day, coalesce(seen.gateways, 0) AS gateways
    FROM span, generate_series(span.first, span.last, interval '1 day') d
    LEFT JOIN seen ON seen.day = d::date
    ORDER BY 1
    """
    return run(sql, url, as_of, None, False, where, [days])


def last_seen_ages(
    bounds: Sequence[timedelta],
    *,
    url: URLLike = None,
    as_of: datetime | None = None,
    where: Filter = EVERYTHING,
) -> pl.DataFrame:
    """Active gateways by how long before `as_of` they were last seen, counted in PostgreSQL: `bucket` i
    holds ages above bounds[i-1] up to bounds[i] (bucket 0: up to bounds[0], also a time after as_of;
    bucket len(bounds): above the last bound), bucket -1 the gateways never seen. Every bucket is a
    row, 0 when empty. `bounds` ascend.

    Columns: bucket, gateways."""
    seconds = [b.total_seconds() for b in bounds]
    if not seconds or seconds != sorted(set(seconds)):
        raise ConfigError("bounds must be distinct durations in ascending order, e.g. [5 minutes, 1 hour].")
    # width_bucket counts the negated bounds at or below -age: the bounds an age is within
    sql = f"""
    WITH counted AS (
        SELECT CASE WHEN g.last_seen_at IS NULL THEN -1
                    ELSE cardinality($9::float8[]) - width_bucket(
                        -extract(epoch FROM $1::timestamptz - g.last_seen_at)::float8, $10::float8[]) END AS bucket,
               count(*) AS gateways
        {gateways_with_parents()}
        GROUP BY 1
    )
    SELECT b AS bucket, coalesce(c.gateways, 0) AS gateways
    FROM generate_series(-1, cardinality($9::float8[])) b LEFT JOIN counted c ON c.bucket = b
    ORDER BY b
    """
    return run(sql, url, as_of, None, False, where, [seconds, sorted(-s for s in seconds)])


def deletions_by_month(*, url: URLLike = None) -> pl.DataFrame:
    """Soft deletions per month (UTC) and table, aggregated in PostgreSQL.

    Columns: month (Date, its first day), table, rows."""
    sql = """
    SELECT (date_trunc('month', deleted_at AT TIME ZONE 'UTC'))::date AS month, "table", count(*) AS rows
    FROM (
        SELECT 'organizations' AS "table", deleted_at FROM organizations WHERE deleted_at IS NOT NULL
        UNION ALL SELECT 'factories', deleted_at FROM factories WHERE deleted_at IS NOT NULL
        UNION ALL SELECT 'gateways', deleted_at FROM gateways WHERE deleted_at IS NOT NULL
    ) d
    GROUP BY 1, 2
    ORDER BY 1, 2
    """
    with connect(url) as conn:
        return fetch(conn, sql)


def gateway_record(gateway_id: str, *, url: URLLike = None, include_deleted: bool = False) -> pl.DataFrame:
    """A gateway's full record with its factory and organization, by device id (GW-…) or row id.

    One row per match: one active gateway at most, and with include_deleted also the
    soft-deleted rows that used the same device id. Empty when nothing matches.
    Columns: the gateway's (password_encrypted is the ciphertext), then factory_* and organization_*.
    """
    if not isinstance(gateway_id, str) or not gateway_id.strip():
        raise ConfigError("give a gateway's device id (e.g. GW-SPR-001) or its row id (a uuid).")
    sql = f"""
    SELECT g.*,
           f.name AS factory_name, f.location AS factory_location, f.timezone AS factory_timezone,
           f.metadata AS factory_metadata, f.created_at AS factory_created_at,
           f.updated_at AS factory_updated_at, f.deleted_at AS factory_deleted_at,
           o.id AS organization_id, o.name AS organization_name, o.metadata AS organization_metadata,
           o.created_at AS organization_created_at, o.updated_at AS organization_updated_at,
           o.deleted_at AS organization_deleted_at
    {gateways_with_parents(filtered=False)}
      AND (g.gateway_id = $9 OR g.id::text = lower($9))
    ORDER BY g.deleted_at NULLS FIRST, g.id
    """
    return run(sql, url, include_deleted=include_deleted, extra=[gateway_id.strip()])


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


# -- what the notebooks show ----------------------------------------------------------------


def fleet_context(url: URLLike = None) -> dict[str, Any]:
    """What the workbench holds: the recorded scenario, the Clock statuses are computed with, and the
    database's URL (`url`, resolved once: pass it on to the other functions).

    Raises ConfigError when the database has no fleet tables (nothing to explore: reset it first)."""
    resolved = resolve_url(url)
    with connect(resolved) as conn:
        missing = fetch(
            conn, "SELECT t FROM unnest($1::text[]) t WHERE to_regclass('public.' || t) IS NULL", [list(TABLES)]
        )["t"].to_list()
        if missing:
            raise ConfigError(
                f"database {resolved.where} has no {', '.join(missing)} table: it holds no fleet. "
                "Reset it with `uv run fleetlab reset` or notebooks/reset.py."
            )
        return {"scenario": recorded_scenario(conn), "clock": clock(conn), "url": resolved}


def first_rows(url: URLLike = None, n: int = 5) -> dict[str, pl.DataFrame]:
    """The first `n` rows of each table (stable order), without volatile or secret columns."""
    out = {}
    with connect(url) as conn:
        for table in TABLES:
            frame = fetch(conn, f"SELECT * FROM {table} ORDER BY id LIMIT {int(n)}")
            out[table] = frame.drop([c for c in HIDDEN_COLUMNS if c in frame.columns])
    return out


def last_seen(url: URLLike = None, where: Filter = EVERYTHING) -> pl.Series:
    """`last_seen_at` of the active gateways (nulls: never seen) the filter keeps."""
    return run(f"SELECT g.last_seen_at {gateways_with_parents()}", url, where=where)["last_seen_at"]


def factory_gateways(factory_id: str, url: URLLike = None, *, include_deleted: bool = False) -> pl.DataFrame:
    """The gateways of one factory, by device id (no secrets, no volatile columns)."""
    return read_sql(
        """
        SELECT gateway_id, name, model, firmware_version, last_seen_at, url, email,
               metadata->>'protocol' AS protocol, metadata->>'ip' AS ip, deleted_at, id
        FROM gateways
        WHERE factory_id = $1::uuid AND ($2::boolean OR deleted_at IS NULL)
        ORDER BY gateway_id, deleted_at NULLS FIRST, id
        """,
        url=url,
        params=[factory_id, include_deleted],
    )
