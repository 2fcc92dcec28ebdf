"""The questions of `fleetlab.read.workbench.Workbench` about when gateways were last seen: the
timestamps, by day, the silent ones by the day they went quiet, and by age. Aggregated in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import polars as pl

from ..errors import ConfigError
from .filters import EVERYTHING, Filter


class LastSeen:
    """Part of `Workbench` (its `_query` and `_run`, its clock)."""

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
        # the last day is the one as_of falls in (the day before, for an as_of at midnight); the bounds go
        # out as values, so the planner knows how much of the index they cover
        last = (self.clock.as_of.astimezone(UTC) - timedelta(microseconds=1)).date()
        first = last - timedelta(days=days - 1)
        since = datetime.combine(first, time(), tzinfo=UTC)
        sql = f"""
        WITH seen AS (
            SELECT (g.last_seen_at AT TIME ZONE 'UTC')::date AS day, count(*) AS gateways
            {q.gateways_with_parents()}
              AND g.last_seen_at >= {q.param("since", since, "timestamptz")} AND g.last_seen_at <= {q.as_of()}
            GROUP BY 1
        )
        SELECT d::date AS day, coalesce(seen.gateways, 0) AS gateways
        FROM generate_series({q.param("first", first, "date")}, {q.param("last", last, "date")}, interval '1 day') d
        LEFT JOIN seen ON seen.day = d::date
        ORDER BY 1
        """
        return self._run(sql, q)

    def silent_by_day(self, *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """The stale gateways (active, kept by `where`) by the day (UTC) they were last seen, however long
        ago: when what went silent stopped talking. Aggregated in PostgreSQL; one row per day that has any.

        Columns: day (Date), gateways. Never-seen gateways are not in it (`fleet_summary` counts them)."""
        q = self._query(where=where)
        sql = f"""
        SELECT (g.last_seen_at AT TIME ZONE 'UTC')::date AS day, count(*) AS gateways
        {q.gateways_with_parents()} AND g.last_seen_at < {q.stale_before()}
        GROUP BY 1
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
