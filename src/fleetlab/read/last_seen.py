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
        return self._run(f"SELECT g.last_seen_at {q.gateways_counted()}", q)["last_seen_at"]

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
            {q.gateways_counted()}
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
        ago: when what went silent stopped talking. One row per day that has any, aggregated in PostgreSQL.

        Columns: day (Date), gateways. Never-seen gateways are not in it (`fleet_summary` counts them).
        A status filter changes nothing unless it leaves stale out (then no row, and no query)."""
        kept = where.for_status("stale")
        if kept is None:
            return pl.DataFrame(schema={"day": pl.Date, "gateways": pl.Int64})
        q = self._query(where=kept)
        sql = f"""
        SELECT (g.last_seen_at AT TIME ZONE 'UTC')::date AS day, count(*) AS gateways
        {q.gateways_counted()} AND g.last_seen_at < {q.stale_before()}
        GROUP BY 1
        ORDER BY 1
        """
        return self._run(sql, q).cast({"gateways": pl.Int64})

    def last_seen_ages(self, bounds: Sequence[timedelta], *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Active gateways by how long before `as_of` they were last seen: `bucket` i holds ages above
        bounds[i-1] up to bounds[i] (bucket 0: up to bounds[0], also a time after as_of; bucket
        len(bounds): above the last bound), bucket -1 the gateways never seen. Every bucket is a row, 0
        when empty. `bounds` ascend. One pass, counted side by side (`breakdown(ages=…)` gives the same
        counts per model and firmware, and `ages()` sums them).

        Columns: bucket, gateways."""
        return ages(self.breakdown(["model"], where=where, ages=bounds))


def ages(breakdown: pl.DataFrame) -> pl.DataFrame:
    """The `last_seen_ages` frame of a `breakdown(ages=…)`: its age_k columns and never_seen summed,
    every bucket a row (-1: never seen)."""
    buckets = sorted(int(c.removeprefix("age_")) for c in breakdown.columns if c.startswith("age_"))
    if not buckets:
        raise ConfigError("that breakdown has no ages: ask for it with breakdown(ages=bounds).")
    counts = [int(breakdown["never_seen"].sum())] + [int(breakdown[f"age_{k}"].sum()) for k in buckets]
    return pl.DataFrame(
        {"bucket": [-1, *buckets], "gateways": counts}, schema={"bucket": pl.Int32, "gateways": pl.Int64}
    )
