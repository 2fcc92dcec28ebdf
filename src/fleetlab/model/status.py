"""A gateway's connectivity status, and the Clock it is computed against: defined once, here.

| status     | meaning                                                               |
|------------|-----------------------------------------------------------------------|
| online     | last seen within `online_within` (5 minutes) before `as_of`, or later |
| recent     | last seen earlier than that, but not more than `stale_after` ago       |
| stale      | last seen more than `stale_after` before `as_of`                       |
| never_seen | `last_seen_at` is NULL                                                |

So a gateway seen exactly 5 minutes before `as_of` is online, and one seen exactly `stale_after`
before it is recent. The generator draws its online / stale / never-seen fractions with these
thresholds, the read layer classifies rows in SQL (`status_sql`) and the compare notebook classifies
generated frames in polars (`status_expr`): both compare against the same two instants of a Clock,
`online_since` and `stale_before`.

A generated fleet is a snapshot at its scenario's `as_of`, so `clock_of(scenario)` takes the Clock
from the scenario record (the marker's, or a fleet's): its `as_of` (else now) and its
`stale_after_hours` (else 24 hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .values import parse_as_of

if TYPE_CHECKING:
    import polars as pl

STATUSES = ("online", "recent", "stale", "never_seen")
ONLINE_WITHIN = timedelta(minutes=5)
DEFAULT_STALE_AFTER_HOURS = 24.0
DEFAULT_STALE_AFTER = timedelta(hours=DEFAULT_STALE_AFTER_HOURS)


@dataclass(frozen=True)
class Clock:
    """The reference time and thresholds the statuses are computed against (make one with `clock_of`)."""

    as_of: datetime
    stale_after: timedelta = DEFAULT_STALE_AFTER
    online_within: timedelta = ONLINE_WITHIN

    @property
    def online_since(self) -> datetime:
        """Seen at or after this instant: online."""
        return self.as_of - self.online_within

    @property
    def stale_before(self) -> datetime:
        """Seen before this instant: stale."""
        return self.as_of - self.stale_after


# -- the one definition, in SQL and in polars ----------------------------------------------------


def status_tests(last_seen: str, online_since: str, stale_before: str) -> dict[str, str]:
    """Each status as a SQL condition on `last_seen` (exactly one holds for any row): what `status_sql`
    decides, for counting side by side (`count(*) FILTER (WHERE …)`) with plain comparisons of instants."""
    return {
        "online": f"{last_seen} >= {online_since}",
        "recent": f"{last_seen} < {online_since} AND {last_seen} >= {stale_before}",
        "stale": f"{last_seen} < {online_since} AND {last_seen} < {stale_before}",
        "never_seen": f"{last_seen} IS NULL",
    }


def status_sql(last_seen: str, online_since: str, stale_before: str) -> str:
    """The status as a SQL CASE: `last_seen` a timestamptz column, `online_since` and `stale_before`
    SQL expressions for the Clock's two instants (bound parameters, e.g. `$2::timestamptz`)."""
    tests = status_tests(last_seen, online_since, stale_before)
    return f"""CASE
        WHEN {tests["never_seen"]} THEN 'never_seen'
        WHEN {tests["online"]} THEN 'online'
        WHEN {tests["stale"]} THEN 'stale'
        ELSE 'recent' END"""


def status_expr(clock: Clock, last_seen: str = "last_seen_at") -> pl.Expr:
    """The status as a polars expression over the column `last_seen` (an aware Datetime)."""
    import polars as pl

    seen = pl.col(last_seen)
    return (
        pl.when(seen.is_null())
        .then(pl.lit("never_seen"))
        .when(seen >= pl.lit(clock.online_since))
        .then(pl.lit("online"))
        .when(seen < pl.lit(clock.stale_before))
        .then(pl.lit("stale"))
        .otherwise(pl.lit("recent"))
    )


# -- the Clock of a scenario ---------------------------------------------------------------------


def clock_of(
    scenario: dict[str, Any] | None = None,
    as_of: datetime | str | None = None,
    stale_after: timedelta | float | None = None,
    online_within: timedelta = ONLINE_WITHIN,
) -> Clock:
    """The Clock of a scenario record (the marker's, or a fleet's `scenario`): explicit values first,
    then the record's `as_of` and `stale_after_hours`, then now and 24 hours.

    as_of: an aware datetime or ISO-8601 text with a time zone (`fleetlab.model.values.parse_as_of`:
        a time without one is refused). stale_after: a timedelta or a number of hours.
    """
    scenario = scenario or {}
    if as_of is None and scenario.get("as_of") is not None:
        as_of = parse(scenario["as_of"], "the recorded scenario's as_of")
    elif as_of is not None:
        as_of = parse(as_of, "as_of")
    if stale_after is None:
        hours = scenario.get("stale_after_hours")
        ok = isinstance(hours, int | float) and not isinstance(hours, bool) and hours > 0
        stale_after = timedelta(hours=hours) if ok else DEFAULT_STALE_AFTER
    elif not isinstance(stale_after, timedelta):
        stale_after = timedelta(hours=float(stale_after))
    if stale_after <= timedelta(0) or online_within < timedelta(0):
        raise ConfigError("stale_after must be positive and online_within not negative.")
    return Clock(as_of or datetime.now(UTC), stale_after, online_within)


def parse(value: datetime | str, where: str = "as_of") -> datetime:
    """`value` as an aware datetime in UTC, by the spec's one rule (`parse_as_of`); ConfigError otherwise."""
    problems: list[str] = []
    parsed = parse_as_of(value, where, problems)
    if parsed is None:
        raise ConfigError(f"{problems[0]}.")
    return parsed
