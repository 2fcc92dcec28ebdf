"""`Workbench`: one handle on a fleet database for reading, and the canned questions as its methods.

    from fleetlab import Workbench
    db = Workbench()                   # the workbench database; or Workbench(url)
    db.fleet_summary()                 # per organization: factories, gateways by status, soft-deleted
    db.stale_gateways(include_never_seen=True)
    Workbench(stale_after=48).stale_gateways()   # another clock: a handle of its own

A Workbench resolves its URL once, opens one ADBC connection when first asked and reuses it (every
query in a read-only transaction of its own, as `fleetlab.read.query.fetch` runs them), and reads
its Clock once, from the marker, when it is made (`fleetlab.model.status`: a generated fleet is a
snapshot at its scenario's `as_of`), unless given one. `close()` it, or use it in a `with` block.

**Active rows.** By default only active rows count: a row is active when its own `deleted_at` is
NULL *and* so is every ancestor's (a gateway of a soft-deleted factory is not in the active fleet).
`include_deleted=True` counts soft-deleted rows as if they were active; the `deleted_*` columns
always count rows whose own `deleted_at` is set. Every filtered question takes a `Filter` (`where=`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import polars as pl

from ..errors import ConfigError
from ..model.status import Clock, clock_of
from ..model.tables import TABLES
from ..store.marker import recorded_scenario
from .filters import EVERYTHING, Filter, Query
from .query import URLLike, fetch, open_connection, resolve_url
from .sites import COORDINATES

# Columns a notebook never shows: set by the database at load time (volatile) or secret.
HIDDEN_COLUMNS = ("created_at", "updated_at", "password_encrypted")


class Workbench:
    """A fleet database to read (`url`: a postgresql:// URL or DatabaseURL; default the workbench
    database), with the Clock statuses are computed against: `clock`, else one from the marker's
    scenario with `as_of` (aware datetime or ISO-8601 text) and `stale_after` (timedelta or hours)
    put first."""

    def __init__(
        self,
        url: URLLike = None,
        clock: Clock | None = None,
        *,
        as_of: datetime | str | None = None,
        stale_after: timedelta | float | None = None,
    ):
        self.url = resolve_url(url)
        self._conn: Any = None
        self._lock = threading.Lock()
        if clock is None:
            clock = clock_of(self.scenario if as_of is None or stale_after is None else {}, as_of, stale_after)
        elif as_of is not None or stale_after is not None:
            raise ConfigError("give a Workbench a clock, or as_of and stale_after, not both.")
        self.clock = clock

    def __repr__(self) -> str:
        return f"Workbench({self.url.where!r}, as_of={self.clock.as_of.isoformat()})"

    # -- the connection -------------------------------------------------------------------------

    def connection(self):
        """The handle's ADBC connection, opened on first use (read-only sessions)."""
        if self._conn is None:
            self._conn = open_connection(self.url)
            self._closer = weakref.finalize(self, self._conn.close)
        return self._conn

    def close(self) -> None:
        """Close the connection (a later question opens a new one)."""
        if self._conn is not None:
            self._closer()
            self._conn = None

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_sql(self, sql: str, params: Sequence[Any] | None = None, *, decode_json: Any = False) -> pl.DataFrame:
        """One read-only query (`fleetlab.read.query.read_sql`) on the handle's connection."""
        with self._lock:
            return fetch(self.connection(), sql, params, decode_json=decode_json)

    def engine(self, **kwargs: Any):
        """A SQLAlchemy engine on the same database (`fleetlab.read.engine.engine`), e.g. for `mo.sql`."""
        from .engine import engine

        return engine(self.url, **kwargs)

    def _run(self, sql: str, q: Query) -> pl.DataFrame:
        return self.read_sql(sql, q.values)

    def _query(self, include_deleted: bool = False, where: Filter = EVERYTHING) -> Query:
        return Query(self.clock, include_deleted, where)

    # -- what the database holds ----------------------------------------------------------------

    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The scenario the marker records ({} without one)."""
        with self._lock:
            return recorded_scenario(self.connection())

    def check_fleet(self) -> Workbench:
        """This handle; ConfigError when the database has no fleet tables (nothing to explore: reset it)."""
        missing = self.read_sql(
            "SELECT t FROM unnest($1::text[]) t WHERE to_regclass('public.' || t) IS NULL", [list(TABLES)]
        )["t"].to_list()
        if missing:
            raise ConfigError(
                f"database {self.url.where} has no {', '.join(missing)} table: it holds no fleet. "
                "Reset it with `uv run fleetlab reset` or notebooks/reset.py."
            )
        return self

    # -- the fleet by organization and factory --------------------------------------------------

    def fleet_summary(self, *, include_deleted: bool = False, where: Filter = EVERYTHING) -> pl.DataFrame:
        """One row per organization: factories, gateways, online / recent / stale / never seen, soft-deleted.

        Columns: organization_id, organization, factories, gateways, online, recent, stale, never_seen,
        deleted_factories, deleted_gateways, deleted_at (of the organization).
        """
        q = self._query(include_deleted, where)
        sql = f"""
        WITH {q.per_factory()}
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
        LEFT JOIN (SELECT *, ({q.include_deleted()} OR deleted_at IS NULL) AS counted FROM factories) f
               ON f.organization_id = o.id
        LEFT JOIN per_factory p ON p.factory_id = f.id
        WHERE ({q.include_deleted()} OR o.deleted_at IS NULL) AND {q.organizations_kept("o")}
        GROUP BY o.id
        ORDER BY o.name, o.id
        """
        return self._run(sql, q)

    def gateways_per_factory(self, *, include_deleted: bool = False, where: Filter = EVERYTHING) -> pl.DataFrame:
        """One row per factory (those without gateways too): its gateways by status.

        Columns: organization_id, organization, factory_id, factory, location, timezone, latitude,
        longitude (`fleetlab.read.sites`; null when unknown), gateways, online, recent, stale, never_seen,
        deleted_gateways, deleted_at (of the factory).
        """
        q = self._query(include_deleted, where)
        sql = f"""
        WITH {q.per_factory()}
        SELECT o.id AS organization_id, o.name AS organization, f.id AS factory_id, f.name AS factory,
               f.location, f.timezone, {COORDINATES},
               coalesce(p.gateways, 0) AS gateways, coalesce(p.online, 0) AS online,
               coalesce(p.recent, 0) AS recent, coalesce(p.stale, 0) AS stale,
               coalesce(p.never_seen, 0) AS never_seen, coalesce(p.deleted_gateways, 0) AS deleted_gateways,
               f.deleted_at
        FROM factories f
        JOIN organizations o ON o.id = f.organization_id
        LEFT JOIN per_factory p ON p.factory_id = f.id
        WHERE ({q.include_deleted()} OR (f.deleted_at IS NULL AND o.deleted_at IS NULL))
          AND {q.organizations_kept("o")}
        ORDER BY o.name, o.id, f.name, f.id
        """
        return self._run(sql, q)

    def factory_gateways(
        self, factory_id: str, *, include_deleted: bool = False, where: Filter = EVERYTHING
    ) -> pl.DataFrame:
        """The gateways of one factory that `where`'s models, firmware and statuses keep, by device id
        (no secrets, no volatile columns)."""
        q = self._query(include_deleted, where)
        sql = f"""
        SELECT g.gateway_id, g.name, g.model, g.firmware_version, g.last_seen_at, g.url, g.email,
               g.metadata->>'protocol' AS protocol, g.metadata->>'ip' AS ip, g.deleted_at, g.id
        FROM gateways g
        WHERE g.factory_id = {q.param("factory_id", factory_id, "uuid")}
          AND ({q.include_deleted()} OR g.deleted_at IS NULL) AND {q.gateways_kept()}
        ORDER BY g.gateway_id, g.deleted_at NULLS FIRST, g.id
        """
        return self._run(sql, q)

    # -- gateways: silent ones, mixes, one record -----------------------------------------------

    def stale_gateways(
        self, *, include_never_seen: bool = False, include_deleted: bool = False, where: Filter = EVERYTHING
    ) -> pl.DataFrame:
        """Gateways not seen for more than the clock's `stale_after` before its `as_of`, most silent first.

        include_never_seen: also list gateways never seen (last_seen_at NULL; they come after the rest).
        Columns: id, gateway_id, name, model, firmware_version, last_seen_at, silent_for (Duration,
        null when never seen), factory_id, factory, organization_id, organization, deleted_at.
        """
        q = self._query(include_deleted, where)
        sql = f"""
        SELECT g.id, g.gateway_id, g.name, g.model, g.firmware_version, g.last_seen_at,
               (extract(epoch FROM {q.as_of()} - g.last_seen_at) * 1000000)::bigint AS silent_for,
               f.id AS factory_id, f.name AS factory, o.id AS organization_id, o.name AS organization,
               g.deleted_at
        {q.gateways_with_parents()}
          AND (g.last_seen_at < {q.stale_before()}
               OR ({q.param("include_never_seen", bool(include_never_seen), "boolean")} AND g.last_seen_at IS NULL))
        ORDER BY g.last_seen_at NULLS LAST, g.gateway_id, g.id
        """
        return self._run(sql, q).with_columns(pl.col("silent_for").cast(pl.Duration("us")))

    def model_distribution(self, *, include_deleted: bool = False, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Gateways per model (a NULL model is its own group), most common first.

        Columns: model, gateways, share (of all counted gateways, 0..1).
        """
        return self._distribution(["model"], include_deleted, where)

    def firmware_distribution(
        self, *, by_model: bool = False, include_deleted: bool = False, where: Filter = EVERYTHING
    ) -> pl.DataFrame:
        """Gateways per firmware version (per model and version with by_model), most common first.

        Columns: [model,] firmware_version, gateways, share (of all counted gateways, 0..1).
        """
        columns = ["model", "firmware_version"] if by_model else ["firmware_version"]
        return self._distribution(columns, include_deleted, where)

    def _distribution(self, columns: list[str], include_deleted: bool, where: Filter) -> pl.DataFrame:
        q = self._query(include_deleted, where)
        cols = ", ".join(f"g.{c}" for c in columns)
        sql = f"""
        SELECT {cols}, count(*) AS gateways,
               (count(*)::float8 / sum(count(*)) OVER ())::float8 AS share
        {q.gateways_with_parents()}
        GROUP BY {cols}
        ORDER BY gateways DESC, {", ".join(f"g.{c} NULLS LAST" for c in columns)}
        """
        return self._run(sql, q)

    def gateway_record(self, gateway_id: str, *, include_deleted: bool = False) -> pl.DataFrame:
        """A gateway's full record with its factory and organization, by device id (GW-…) or row id.

        One row per match: one active gateway at most, and with include_deleted also the
        soft-deleted rows that used the same device id. Empty when nothing matches.
        Columns: the gateway's (password_encrypted is the ciphertext), then factory_* and organization_*.
        """
        if not isinstance(gateway_id, str) or not gateway_id.strip():
            raise ConfigError("give a gateway's device id (e.g. GW-SPR-001) or its row id (a uuid).")
        q = self._query(include_deleted)
        wanted = q.param("gateway_id", gateway_id.strip(), "text")
        sql = f"""
        SELECT g.*,
               f.name AS factory_name, f.location AS factory_location, f.timezone AS factory_timezone,
               f.metadata AS factory_metadata, f.created_at AS factory_created_at,
               f.updated_at AS factory_updated_at, f.deleted_at AS factory_deleted_at,
               o.id AS organization_id, o.name AS organization_name, o.metadata AS organization_metadata,
               o.created_at AS organization_created_at, o.updated_at AS organization_updated_at,
               o.deleted_at AS organization_deleted_at
        {q.gateways_with_parents(filtered=False)}
          AND (g.gateway_id = {wanted} OR g.id::text = lower({wanted}))
        ORDER BY g.deleted_at NULLS FIRST, g.id
        """
        return self._run(sql, q)

    # -- when gateways were last seen -----------------------------------------------------------

    def last_seen(self, where: Filter = EVERYTHING) -> pl.Series:
        """`last_seen_at` of the active gateways (nulls: never seen) the filter keeps."""
        q = self._query(where=where)
        return self._run(f"SELECT g.last_seen_at {q.gateways_with_parents()}", q)["last_seen_at"]

    def last_seen_by_day(self, *, days: int = 60, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Active gateways by the day (UTC) they were last seen, for the `days` calendar days that end with
        the one `as_of` falls in (the day before, when as_of is midnight): when what went silent stopped
        talking. Aggregated in PostgreSQL; days without any are rows with 0.

        Columns: day (Date), gateways. Gateways last seen earlier, or never, are not in it."""
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660:
            raise ConfigError(f"days must be a whole number from 1 to 3660, not {days!r}.")
        q = self._query(where=where)
        # the last day is the one as_of falls in (the day before, for an as_of at midnight)
        last = f"(({q.as_of()} - interval '1 microsecond') AT TIME ZONE 'UTC')::date"
        sql = f"""
        WITH span AS (
            SELECT ({last} - ({q.param("days", days, "int")} - 1)) AS first, {last} AS last
        ), seen AS (
            SELECT (g.last_seen_at AT TIME ZONE 'UTC')::date AS day, count(*) AS gateways
            {q.gateways_with_parents()}
              AND g.last_seen_at >= ((SELECT first FROM span)::timestamp AT TIME ZONE 'UTC')
              AND g.last_seen_at <= {q.as_of()}
            GROUP BY 1
        )
        SELECT d::date AS day, coalesce(seen.gateways, 0) AS gateways
        FROM span, generate_series(span.first, span.last, interval '1 day') d
        LEFT JOIN seen ON seen.day = d::date
        ORDER BY 1
        """
        return self._run(sql, q)

    def last_seen_ages(self, bounds: Sequence[timedelta], *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Active gateways by how long before `as_of` they were last seen, counted in PostgreSQL: `bucket` i
        holds ages above bounds[i-1] up to bounds[i] (bucket 0: up to bounds[0], also a time after as_of;
        bucket len(bounds): above the last bound), bucket -1 the gateways never seen. Every bucket is a
        row, 0 when empty. `bounds` ascend.

        Columns: bucket, gateways."""
        seconds = [b.total_seconds() for b in bounds]
        if not seconds or seconds != sorted(set(seconds)):
            raise ConfigError("bounds must be distinct durations in ascending order, e.g. [5 minutes, 1 hour].")
        q = self._query(where=where)
        buckets = f"cardinality({q.param('bounds', seconds, 'float8[]')})"
        negated = q.param("negated_bounds", sorted(-s for s in seconds), "float8[]")
        # width_bucket counts the negated bounds at or below -age: the bounds an age is within
        sql = f"""
        WITH counted AS (
            SELECT CASE WHEN g.last_seen_at IS NULL THEN -1
                        ELSE {buckets} - width_bucket(
                            -extract(epoch FROM {q.as_of()} - g.last_seen_at)::float8, {negated}) END AS bucket,
                   count(*) AS gateways
            {q.gateways_with_parents()}
            GROUP BY 1
        )
        SELECT b AS bucket, coalesce(c.gateways, 0) AS gateways
        FROM generate_series(-1, {buckets}) b LEFT JOIN counted c ON c.bucket = b
        ORDER BY b
        """
        return self._run(sql, q)

    # -- soft deletions and first rows ----------------------------------------------------------

    def deletions_by_month(self) -> pl.DataFrame:
        """Soft deletions per month (UTC) and table, aggregated in PostgreSQL.

        Columns: month (Date, its first day), table, rows."""
        return self.read_sql("""
        SELECT (date_trunc('month', deleted_at AT TIME ZONE 'UTC'))::date AS month, "table", count(*) AS rows
        FROM (
            SELECT 'organizations' AS "table", deleted_at FROM organizations WHERE deleted_at IS NOT NULL
            UNION ALL SELECT 'factories', deleted_at FROM factories WHERE deleted_at IS NOT NULL
            UNION ALL SELECT 'gateways', deleted_at FROM gateways WHERE deleted_at IS NOT NULL
        ) d
        GROUP BY 1, 2
        ORDER BY 1, 2
        """)

    def deleted_rows(self, *, table: str | None = None) -> pl.DataFrame:
        """Soft-deleted rows of the three tables (or of one `table`), most recently deleted first.

        Columns: table, id, name, gateway_id (gateways only), parent_id (organization_id of a
        factory, factory_id of a gateway), deleted_at.
        """
        if table is not None and table not in TABLES:
            raise ConfigError(f"table must be one of {', '.join(TABLES)}, not {table!r}.")
        sql = """
        SELECT * FROM (
            SELECT 'organizations' AS "table", id, name, NULL::varchar AS gateway_id, NULL::uuid AS parent_id,
                   deleted_at
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
        return self.read_sql(sql, [table])

    def first_rows(self, n: int = 5) -> dict[str, pl.DataFrame]:
        """The first `n` rows of each table (stable order), without volatile or secret columns."""
        out = {}
        for table in TABLES:
            frame = self.read_sql(f"SELECT * FROM {table} ORDER BY id LIMIT {int(n)}")
            out[table] = frame.drop([c for c in HIDDEN_COLUMNS if c in frame.columns])
        return out
