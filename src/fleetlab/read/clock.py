"""The reference time and thresholds a gateway's connectivity status is computed against.

See `fleetlab.read.inspect` for the statuses. `clock(conn)` takes them from the scenario the
database's marker records (a generated fleet is a snapshot at its `as_of`), else now and 24 hours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ConfigError
from .query import fetch

ONLINE_WITHIN = timedelta(minutes=5)
DEFAULT_STALE_AFTER = timedelta(hours=24)


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
    return clock_of(scenario, as_of, stale_after, online_within)


def clock_of(
    scenario: dict[str, Any],
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    online_within: timedelta = ONLINE_WITHIN,
) -> Clock:
    """The Clock of a scenario record (the marker's, or a fleet's `scenario`): explicit values first,
    then the record's `as_of` and `stale_after_hours`, then now and 24 hours."""
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
STATUS = """CASE
        WHEN g.last_seen_at IS NULL THEN 'never_seen'
        WHEN g.last_seen_at >= $1::timestamptz - make_interval(secs => $2::float8) THEN 'online'
        WHEN g.last_seen_at < $1::timestamptz - make_interval(secs => $3::float8) THEN 'stale'
        ELSE 'recent' END"""
