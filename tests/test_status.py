"""A gateway's status has one definition (fleetlab.model.status): its SQL form, run by PostgreSQL, and its
polars form classify the same gateways the same way, at the boundaries too (exactly 5 minutes: online;
exactly stale_after: recent), and the Clock's as_of follows the spec's one rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fleetlab.errors import ConfigError
from fleetlab.model.status import DEFAULT_STALE_AFTER, ONLINE_WITHIN, STATUSES, Clock, clock_of, status_expr
from fleetlab.read.filters import Filter, Query
from fleetlab.read.query import read_sql

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
STALE_AFTER = timedelta(minutes=45)
# (last seen, its status at AS_OF with online within 5 minutes and stale after 45)
SAMPLE = [
    (None, "never_seen"),
    (AS_OF + timedelta(hours=1), "online"),  # a time after as_of: online
    (AS_OF, "online"),
    (AS_OF - ONLINE_WITHIN + US, "online"),
    (AS_OF - ONLINE_WITHIN, "online"),  # exactly 5 minutes
    (AS_OF - ONLINE_WITHIN - US, "recent"),
    (AS_OF - STALE_AFTER + US, "recent"),
    (AS_OF - STALE_AFTER, "recent"),  # exactly stale_after
    (AS_OF - STALE_AFTER - US, "stale"),
    (AS_OF - timedelta(days=400), "stale"),
]


def test_sql_and_polars_classify_alike_at_the_boundaries(db_url):
    clock = Clock(AS_OF, STALE_AFTER)
    expected = [status for _, status in SAMPLE]
    seen = pl.DataFrame({"last_seen_at": [t for t, _ in SAMPLE]}, schema={"last_seen_at": pl.Datetime("us", "UTC")})

    in_polars = seen.select(status_expr(clock).alias("status"))["status"].to_list()

    q = Query(clock)
    times = q.param("seen", [None if t is None else t.isoformat() for t, _ in SAMPLE], "text[]")
    in_sql = read_sql(
        f"SELECT {q.status('t.seen::timestamptz')} AS status FROM unnest({times}) WITH ORDINALITY t(seen, i) ORDER BY i",
        url=db_url,
        params=q.values,
    )["status"].to_list()

    assert in_polars == expected
    assert in_sql == expected
    assert set(expected) == set(STATUSES)
    # the same boundaries counted side by side, and kept by a status filter, with plain comparisons
    rows = f"(SELECT seen::timestamptz AS last_seen_at FROM unnest({times}) seen) g"
    counts = read_sql(f"SELECT {q.status_counts()} FROM {rows}", url=db_url, params=q.values).row(0, named=True)
    assert counts == {s: expected.count(s) for s in STATUSES}
    for status in STATUSES:
        kept = Query(clock, where=Filter(statuses=(status, "online")))
        sql = f"SELECT count(*) AS n FROM (SELECT unnest({kept.param('seen', q.values[0], 'text[]')})::timestamptz AS last_seen_at) g"
        n = read_sql(f"{sql} WHERE {kept.gateways_kept()}", url=db_url, params=kept.values)["n"][0]
        assert n == len({i for i, s in enumerate(expected) if s in (status, "online")}), status


def test_the_clock_of_a_scenario_record():
    recorded = clock_of({"as_of": "2026-01-01T01:00:00+01:00", "stale_after_hours": 0.75})
    assert recorded == Clock(AS_OF, STALE_AFTER, ONLINE_WITHIN)
    assert recorded.online_since == AS_OF - ONLINE_WITHIN and recorded.stale_before == AS_OF - STALE_AFTER
    assert clock_of({"as_of": "2026-01-01T00:00:00Z"}, stale_after=2).stale_after == timedelta(hours=2)
    assert clock_of({"as_of": "2026-01-01T00:00:00Z"}, as_of=AS_OF + US).as_of == AS_OF + US
    now = clock_of({})
    assert abs(now.as_of - datetime.now(UTC)) < timedelta(minutes=1) and now.stale_after == DEFAULT_STALE_AFTER
    # one rule for as_of, wherever it comes from: a time without a zone is refused, never taken as UTC
    for zoneless in ({"as_of": "2026-01-01T00:00:00"}, {}):
        given = None if zoneless else datetime(2026, 1, 1)
        with pytest.raises(ConfigError, match="has no time zone; add Z for UTC"):
            clock_of(zoneless, given)
    with pytest.raises(ConfigError, match="not an ISO-8601 time"):
        clock_of({}, "yesterday")
    with pytest.raises(ConfigError, match="stale_after must be positive"):
        clock_of({}, AS_OF, stale_after=0)
