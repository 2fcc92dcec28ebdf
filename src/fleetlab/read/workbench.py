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
from ..model.status import STATUSES, Clock, clock_of
from ..model.tables import TABLES
from ..store.marker import recorded_scenario, stamp
from .deletions import Deletions
from .filters import EVERYTHING, Filter, Query, check_bounds
from .last_seen import LastSeen
from .query import URLLike, fetch, open_connection, resolve_url
from .sites import COORDINATES

# Columns a notebook never shows: set by the database at load time (volatile) or secret.
HIDDEN_COLUMNS = ("created_at", "updated_at", "password_encrypted")


class Workbench(LastSeen, Deletions):
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

    @cached_property
    def stamp(self) -> tuple[str, str] | None:
        """When the database this handle read was made and last seeded (the marker's; None without one)."""
        with self._lock:
            return stamp(self.connection())

    def replaced(self) -> bool:
        """True when the database is no longer the one this handle first read: reset or re-seeded since
        (the marker's stamp changed), dropped, or not reachable. One tiny query; reconnects once."""
        self.stamp  # noqa: B018 (the first stamp, before comparing)
        for _ in range(2):
            try:
                with self._lock:
                    return stamp(self.connection()) != self.stamp
            except Exception:  # a reset ends this handle's session (the driver's own errors): reconnect once
                self.close()
        return True

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

    def fleet_and_factories(
        self, *, include_deleted: bool = False, where: Filter = EVERYTHING
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """`fleet_summary` and `gateways_per_factory` of the same filter, from one pass over the gateways
        (every factory's counts, in PostgreSQL; the organizations' sums of them, here)."""
        q = self._query(include_deleted, where)
        sql = f"""
        WITH {q.per_factory()}
        SELECT o.id AS organization_id, o.name AS organization, o.deleted_at AS organization_deleted_at,
               f.id AS factory_id, f.name AS factory, f.location, f.timezone, {COORDINATES},
               coalesce(p.gateways, 0) AS gateways, coalesce(p.online, 0) AS online,
               coalesce(p.recent, 0) AS recent, coalesce(p.stale, 0) AS stale,
               coalesce(p.never_seen, 0) AS never_seen, coalesce(p.deleted_gateways, 0) AS deleted_gateways,
               f.deleted_at, (f.id IS NOT NULL AND ({q.include_deleted()} OR f.deleted_at IS NULL)) AS counted
        FROM organizations o
        LEFT JOIN factories f ON f.organization_id = o.id
        LEFT JOIN per_factory p ON p.factory_id = f.id
        WHERE ({q.include_deleted()} OR o.deleted_at IS NULL) AND {q.organizations_kept("o")}
        ORDER BY o.name, o.id, f.name, f.id
        """
        rows = self._run(sql, q)
        counted = pl.col("counted")
        summary = rows.group_by("organization_id", maintain_order=True).agg(
            pl.col("organization").first(),
            counted.sum().cast(pl.Int64).alias("factories"),
            *[pl.col(c).filter(counted).sum().cast(pl.Int64) for c in ("gateways", *STATUSES)],
            pl.col("deleted_at").is_not_null().sum().cast(pl.Int64).alias("deleted_factories"),
            pl.col("deleted_gateways").sum().cast(pl.Int64),
            pl.col("organization_deleted_at").first().alias("deleted_at"),
        )
        per_factory = rows.filter(counted).drop("organization_deleted_at", "counted")
        return summary, per_factory

    def fleet_summary(self, *, include_deleted: bool = False, where: Filter = EVERYTHING) -> pl.DataFrame:
        """One row per organization: factories, gateways, online / recent / stale / never seen, soft-deleted.

        Columns: organization_id, organization, factories, gateways, online, recent, stale, never_seen,
        deleted_factories, deleted_gateways, deleted_at (of the organization).
        """
        return self.fleet_and_factories(include_deleted=include_deleted, where=where)[0]

    def gateways_per_factory(self, *, include_deleted: bool = False, where: Filter = EVERYTHING) -> pl.DataFrame:
        """One row per factory (those without gateways too): its gateways by status.

        Columns: organization_id, organization, factory_id, factory, location, timezone, latitude,
        longitude (`fleetlab.read.sites`; null when unknown), gateways, online, recent, stale, never_seen,
        deleted_gateways, deleted_at (of the factory).
        """
        return self.fleet_and_factories(include_deleted=include_deleted, where=where)[1]

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
        self,
        *,
        include_never_seen: bool = False,
        include_deleted: bool = False,
        where: Filter = EVERYTHING,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Gateways not seen for more than the clock's `stale_after` before its `as_of`, most silent first.

        include_never_seen: also list gateways never seen (last_seen_at NULL; they come after the rest).
        limit: at most this many stale gateways (the most silent), and as many never seen; a page read in
        PostgreSQL, whatever the fleet's size (None: all).
        Columns: id, gateway_id, name, model, firmware_version, last_seen_at, silent_for (Duration,
        null when never seen), factory_id, factory, organization_id, organization, deleted_at.
        """
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ConfigError(f"limit must be a whole number of rows (0 or more) or None, not {limit!r}.")
        q = self._query(include_deleted, where)
        rows = "ALL" if limit is None else q.param("limit", limit, "bigint")
        columns = f"""SELECT g.id, g.gateway_id, g.name, g.model, g.firmware_version, g.last_seen_at,
               (extract(epoch FROM {q.as_of()} - g.last_seen_at) * 1000000)::bigint AS silent_for,
               f.id AS factory_id, f.name AS factory, o.id AS organization_id, o.name AS organization,
               g.deleted_at
        {q.gateways_with_parents()}"""
        # a part the filter's statuses rule out is not asked at all (its index walk would find nothing)
        statuses = set(where.statuses or STATUSES)
        parts = []
        if "stale" in statuses:
            parts.append(f"""({columns} AND g.last_seen_at < {q.stale_before()}
             ORDER BY g.last_seen_at, g.gateway_id, g.id LIMIT {rows})""")
        if include_never_seen and "never_seen" in statuses:
            parts.append(f"""({columns} AND g.last_seen_at IS NULL ORDER BY g.gateway_id, g.id LIMIT {rows})""")
        if not parts:  # nothing silent is kept: the columns, no row
            parts.append(f"({columns} AND FALSE LIMIT {rows})")
        sql = f"""
        SELECT * FROM ({" UNION ALL ".join(parts)}) silent
        ORDER BY last_seen_at NULLS LAST, gateway_id, id
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
        {q.gateways_counted()}
        GROUP BY {cols}
        ORDER BY gateways DESC, {", ".join(f"g.{c} NULLS LAST" for c in columns)}
        """
        return self._run(sql, q)

    def breakdown(
        self,
        by: Sequence[str] = ("model", "firmware_version"),
        *,
        where: Filter = EVERYTHING,
        ages: Sequence[timedelta] | None = None,
    ) -> pl.DataFrame:
        """Active gateways per model and firmware version (or one of them, `by`) by status: what the mixes,
        the grid of pairs and the failure rates are drawn from, in one pass over the gateways. A NULL value
        is its own group; most common first. With `ages` (ascending bounds, as `last_seen_ages` takes),
        also each group's gateways by how long before as_of they were last seen, in the same pass.

        Columns: *by, gateways, online, recent, stale, never_seen, [age_0 … age_n,] share (of all counted
        gateways, 0..1)."""
        by = list(by)
        if not by or any(c not in ("model", "firmware_version") for c in by) or len(set(by)) != len(by):
            raise ConfigError(f"by takes model and/or firmware_version, not {by!r}.")
        q = self._query(where=where)
        cols = ", ".join(f"g.{c}" for c in by)
        aged = f"{q.age_counts(check_bounds(ages))}," if ages is not None else ""
        sql = f"""
        SELECT {cols}, count(*) AS gateways, {q.status_counts()}, {aged}
               (count(*)::float8 / sum(count(*)) OVER ())::float8 AS share
        {q.gateways_counted()}
        GROUP BY {cols}
        ORDER BY gateways DESC, {", ".join(f"g.{c} NULLS LAST" for c in by)}
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

    # -- first rows ----------------------------------------------------------------------------

    def first_rows(self, n: int = 5) -> dict[str, pl.DataFrame]:
        """The first `n` rows of each table (stable order), without volatile or secret columns."""
        out = {}
        for table in TABLES:
            frame = self.read_sql(f"SELECT * FROM {table} ORDER BY id LIMIT {int(n)}")
            out[table] = frame.drop([c for c in HIDDEN_COLUMNS if c in frame.columns])
        return out
