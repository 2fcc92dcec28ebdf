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

    def last_seen_histogram(self, bounds: Sequence[timedelta], *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Active gateways (kept by `where`) by how long before `as_of` they were last seen (rows with a
        `bucket`, as in `last_seen_ages`), and the stale ones by the day (UTC) they went silent (rows
        with a `day`): what `last_seen_ages` and `silent_by_day` tell. The buckets are counted side by
        side in one parallel pass; the days group only the stale gateways.

        Columns: bucket (null on a day's row), day (Date; null on a bucket's row), gateways."""
        seconds = [b.total_seconds() for b in bounds]
        if not seconds or seconds != sorted(set(seconds)):
            raise ConfigError("bounds must be distinct durations in ascending order, e.g. [5 minutes, 1 hour].")
        q = self._query(where=where)
        # an age within bound k is a last_seen_at at or after as_of - bound k: plain comparisons with
        # instants, counted side by side (not a bucket number per row, grouped: the planner would expect a
        # million groups and sort them all)
        since = [q.param(f"since_{k}", self.clock.as_of - b, "timestamptz") for k, b in enumerate(bounds)]
        tests = [f"g.last_seen_at >= {since[0]}"]
        tests += [f"g.last_seen_at < {since[k - 1]} AND g.last_seen_at >= {since[k]}" for k in range(1, len(since))]
        tests += [f"g.last_seen_at < {since[-1]}"]
        every = list(range(-1, len(seconds) + 1))
        counts = ", ".join(f"count(*) FILTER (WHERE {t})" for t in ["g.last_seen_at IS NULL", *tests])
        aged = f"""
        SELECT unnest(ARRAY{every}) AS bucket, NULL::date AS day, unnest(ARRAY[{counts}]) AS gateways
        {q.gateways_counted()}
        """
        # the days in a query of their own: in one UNION the planner runs each branch in one process
        days_q = self._query(where=where)
        days = f"""
        SELECT NULL::int AS bucket, (g.last_seen_at AT TIME ZONE 'UTC')::date AS day, count(*) AS gateways
        {days_q.gateways_counted()} AND g.last_seen_at < {days_q.stale_before()}
        GROUP BY 2
        ORDER BY 2
        """
        ages = self._run(aged, q).cast({"bucket": pl.Int32, "gateways": pl.Int64})
        return pl.concat([ages, self._run(days, days_q).cast({"bucket": pl.Int32, "gateways": pl.Int64})])

    def silent_by_day(self, *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """The stale gateways (active, kept by `where`) by the day (UTC) they were last seen, however long
        ago: when what went silent stopped talking. One row per day that has any.

        Columns: day (Date), gateways. Never-seen gateways are not in it (`fleet_summary` counts them)."""
        return silent_days(self.last_seen_histogram([self.clock.stale_after], where=where))

    def last_seen_ages(self, bounds: Sequence[timedelta], *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Active gateways by how long before `as_of` they were last seen: `bucket` i holds ages above
        bounds[i-1] up to bounds[i] (bucket 0: up to bounds[0], also a time after as_of; bucket
        len(bounds): above the last bound), bucket -1 the gateways never seen. Every bucket is a row, 0
        when empty. `bounds` ascend.

        Columns: bucket, gateways."""
        return ages(self.last_seen_histogram(bounds, where=where), len(bounds))


def ages(histogram: pl.DataFrame, bounds: int) -> pl.DataFrame:
    """A `last_seen_histogram` of `bounds` bounds summed by bucket, every bucket a row (-1: never seen)."""
    every = pl.DataFrame({"bucket": list(range(-1, bounds + 1))}, schema={"bucket": pl.Int32})
    summed = histogram.filter(pl.col("bucket").is_not_null()).group_by("bucket").agg(pl.col("gateways").sum())
    joined = every.join(summed.cast({"bucket": pl.Int32}), on="bucket", how="left")
    return joined.select("bucket", pl.col("gateways").fill_null(0).cast(pl.Int64)).sort("bucket")


def silent_days(histogram: pl.DataFrame) -> pl.DataFrame:
    """The stale gateways of a `last_seen_histogram` by the day they went silent."""
    stale = histogram.filter(pl.col("day").is_not_null())
    return stale.group_by("day").agg(pl.col("gateways").sum().cast(pl.Int64)).sort("day")
