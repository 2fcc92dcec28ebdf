"""The canned inspection queries against the original seed, whose statuses are known exactly.

The original seed at AS_OF (online within 5 min; the fixture records stale after 45 min):
  Springfield: SPR-001 seen 15 min ago (recent), SPR-002 never seen
  Detroit:     DET-001 5 min (online),           DET-002 60 min (stale)
  Austin:      AUS-001 30 min (recent),          AUS-002 never seen
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from fleetlab.errors import ConfigError, DatabaseError
from fleetlab.generation.acme import acme_fleet
from fleetlab.read.filters import EVERYTHING, Filter
from fleetlab.read.query import read_sql
from fleetlab.read.workbench import Workbench
from fleetlab.store.crypto import keyring_for
from fleetlab.store.load import load

OLD_ORG = "0d000000-0000-4000-8000-000000000000"
AS_OF = datetime(2030, 1, 1, tzinfo=UTC)  # in the future: a default of now() would see every gateway as online


@pytest.fixture
def acme(conn, settings, db_url):
    fleet = acme_fleet(AS_OF, seed=7)
    fleet.scenario = {"name": "acme-test", "as_of": "2030-01-01T00:00:00Z", "stale_after_hours": 0.75}
    load(conn, fleet, keyring_for(settings, create=True))
    conn.commit()  # load() leaves its work in the connection's open transaction: commit for other sessions
    return fleet


@pytest.fixture
def edited(acme, conn):
    """Acme plus soft deletes: an old GW-SPR-001, the Austin factory, a whole old organization."""
    t = {"t": AS_OF}
    conn.execute(
        """
        INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted, model,
                              firmware_version, last_seen_at, deleted_at)
        SELECT id, 'GW-SPR-001', 'Old press gateway', 'https://old', 'old@example.com', 'v1.x.y', 'Moxa UC-8210',
               '0.9', %(t)s - interval '40 days', %(t)s - interval '30 days'
        FROM factories WHERE name = 'Springfield Plant'
        """,
        t,
    )
    conn.execute("UPDATE factories SET deleted_at = %(t)s - interval '1 day' WHERE name = 'Austin Facility'", t)
    conn.execute(
        "INSERT INTO organizations (id, name, deleted_at) VALUES (%(id)s, 'Old Co', %(t)s - interval '2 days')",
        {**t, "id": OLD_ORG},
    )
    conn.execute("INSERT INTO factories (organization_id, name) VALUES (%s, 'Old Plant')", (OLD_ORG,))
    conn.commit()
    return acme


def factory_id(fleet, name):
    return fleet.factories.filter(pl.col("name") == name)["id"][0]


def test_fleet_summary(db_url, acme):
    df = Workbench(db_url).fleet_summary()
    assert df.height == 1
    row = df.row(0, named=True)
    assert row["organization_id"] == acme.organizations["id"][0]
    assert row["organization"] == "Acme Manufacturing"
    assert {
        k: row[k]
        for k in (
            "factories",
            "gateways",
            "online",
            "recent",
            "stale",
            "never_seen",
            "deleted_factories",
            "deleted_gateways",
        )
    } == {
        "factories": 3,
        "gateways": 6,
        "online": 1,
        "recent": 2,
        "stale": 1,
        "never_seen": 2,
        "deleted_factories": 0,
        "deleted_gateways": 0,
    }
    assert row["deleted_at"] is None
    assert df.schema["gateways"] == pl.Int64 and df.schema["deleted_at"] == pl.Datetime("us", "UTC")


def test_clock_defaults_come_from_the_marker_and_can_be_overridden(db_url, acme):
    one_hour_later = Workbench(db_url, as_of=AS_OF + timedelta(hours=1)).fleet_summary().row(0, named=True)
    assert (one_hour_later["online"], one_hour_later["recent"], one_hour_later["stale"]) == (0, 0, 4)
    tight = Workbench(db_url, stale_after=timedelta(minutes=10)).fleet_summary().row(0, named=True)
    assert (tight["online"], tight["recent"], tight["stale"]) == (1, 0, 3)
    loose = Workbench(db_url, stale_after=timedelta(hours=24)).fleet_summary().row(0, named=True)
    assert (loose["online"], loose["recent"], loose["stale"]) == (1, 3, 0)
    with pytest.raises(ConfigError, match="has no time zone; add Z for UTC"):
        Workbench(db_url, as_of=datetime(2030, 1, 1))
    with pytest.raises(ConfigError, match="has no time zone"):
        Workbench(db_url, as_of="2030-01-01T00:00:00")  # the spec's rule: no zone, no guess
    assert Workbench(db_url, as_of="2030-01-01T01:00:00+01:00").clock.as_of == AS_OF


def test_clock_without_a_recorded_scenario_uses_now_and_24_hours(db_url):
    clock = Workbench(db_url).clock
    assert abs(clock.as_of - datetime.now(UTC)) < timedelta(minutes=5)
    assert clock.stale_after == timedelta(hours=24) and clock.online_within == timedelta(minutes=5)


def test_one_handle_one_connection_read_only_and_the_clock_read_once(db_url, acme, conn):
    db = Workbench(db_url)
    pid = db.read_sql("SELECT pg_backend_pid() AS pid")["pid"][0]
    before = db.fleet_summary()
    db.stale_gateways(include_never_seen=True)
    db.gateway_record("GW-SPR-001")
    assert db.read_sql("SELECT pg_backend_pid() AS pid")["pid"][0] == pid  # one connection for every question
    assert db.scenario["name"] == "acme-test" and db.clock.stale_after == timedelta(minutes=45)

    # the clock is the one the handle read when it was made: a marker changed since moves a new handle only
    conn.execute(
        "UPDATE fleetlab_meta.fleetlab_marker SET scenario = jsonb_set(scenario, '{as_of}', '\"2030-01-01T01:00:00Z\"')"
    )
    conn.commit()
    assert db.clock.as_of == AS_OF and db.fleet_summary().equals(before)
    later = Workbench(db_url)
    assert later.clock.as_of == AS_OF + timedelta(hours=1) and later.fleet_summary()["online"][0] == 0
    given = Workbench(db_url, db.clock)  # a clock given: the marker is not read for it
    assert given.clock is db.clock and given.fleet_summary().equals(before)
    with pytest.raises(ConfigError, match="not both"):
        Workbench(db_url, db.clock, as_of=AS_OF)

    # read-only for the connection's whole life, as read_sql: one query cannot open the next for writes
    conn.execute("CREATE TABLE fltest_hits (n int)")
    conn.execute(
        "CREATE FUNCTION fltest_bump() RETURNS int LANGUAGE sql AS 'INSERT INTO fltest_hits VALUES (1) RETURNING 1'"
    )
    conn.commit()
    db.read_sql("SELECT set_config('default_transaction_read_only', 'off', false) AS x")
    with pytest.raises(DatabaseError, match="read-only transaction"):
        db.read_sql("SELECT fltest_bump() AS n")
    assert conn.execute("SELECT count(*) FROM fltest_hits").fetchone()[0] == 0
    assert db.read_sql("SELECT pg_backend_pid() AS pid")["pid"][0] == pid  # a refused query leaves it usable
    db.close()
    assert db.read_sql("SELECT pg_backend_pid() AS pid")["pid"][0] != pid  # closed: the next question reconnects


def test_gateways_per_factory(db_url, acme):
    df = Workbench(db_url).gateways_per_factory()
    assert df["factory"].to_list() == ["Austin Facility", "Detroit Assembly", "Springfield Plant"]
    by = {r["factory"]: r for r in df.to_dicts()}
    assert {k: by["Springfield Plant"][k] for k in ("gateways", "online", "recent", "stale", "never_seen")} == {
        "gateways": 2,
        "online": 0,
        "recent": 1,
        "stale": 0,
        "never_seen": 1,
    }
    assert (by["Detroit Assembly"]["online"], by["Detroit Assembly"]["stale"]) == (1, 1)
    assert (by["Austin Facility"]["recent"], by["Austin Facility"]["never_seen"]) == (1, 1)
    assert by["Austin Facility"]["factory_id"] == factory_id(acme, "Austin Facility")
    assert by["Austin Facility"]["timezone"] == "America/Chicago"
    assert set(df["organization"]) == {"Acme Manufacturing"}


def test_stale_gateways(db_url, acme):
    df = Workbench(db_url).stale_gateways()
    assert df["gateway_id"].to_list() == ["GW-DET-002"]
    assert df["silent_for"][0] == timedelta(hours=1)
    assert df["factory"][0] == "Detroit Assembly" and df["organization"][0] == "Acme Manufacturing"
    assert df.schema["silent_for"] == pl.Duration("us") and df.schema["last_seen_at"] == pl.Datetime("us", "UTC")

    with_never = Workbench(db_url).stale_gateways(include_never_seen=True)
    assert with_never["gateway_id"].to_list() == ["GW-DET-002", "GW-AUS-002", "GW-SPR-002"]  # the silent first
    assert with_never["silent_for"][-1] is None and with_never["last_seen_at"][-1] is None

    ten_minutes = Workbench(db_url, stale_after=timedelta(minutes=10)).stale_gateways()
    assert ten_minutes["gateway_id"].to_list() == ["GW-DET-002", "GW-AUS-001", "GW-SPR-001"]
    assert Workbench(db_url, stale_after=0.4).stale_gateways()["gateway_id"].to_list() == [
        "GW-DET-002",
        "GW-AUS-001",
    ]  # hours


def test_model_and_firmware_distribution(db_url, acme, conn):
    models = Workbench(db_url).model_distribution()
    assert models.rows() == [("CTC-GW-100", 3, pytest.approx(0.5)), ("CTC-GW-200", 3, pytest.approx(0.5))]
    firmware = Workbench(db_url).firmware_distribution()
    assert firmware["firmware_version"].to_list() == ["v2.0.5", "v2.1.0", "v2.2.1"]
    assert firmware["gateways"].to_list() == [2, 2, 2] and firmware["share"].sum() == pytest.approx(1.0)
    by_model = Workbench(db_url).firmware_distribution(by_model=True)
    assert by_model.columns == ["model", "firmware_version", "gateways", "share"]
    assert by_model.row(0) == ("CTC-GW-100", "v2.0.5", 1, pytest.approx(1 / 6))

    # a NULL model or firmware is a group of its own, not dropped
    conn.execute("UPDATE gateways SET model = NULL, firmware_version = NULL WHERE gateway_id = 'GW-AUS-001'")
    conn.commit()
    assert Workbench(db_url).model_distribution().row(-1) == (None, 1, pytest.approx(1 / 6))
    assert Workbench(db_url).firmware_distribution().row(-1) == (None, 1, pytest.approx(1 / 6))


def test_gateway_record(db_url, acme):
    df = Workbench(db_url).gateway_record("GW-SPR-001")
    assert df.height == 1
    row = df.row(0, named=True)
    gw = acme.gateways.filter(pl.col("gateway_id") == "GW-SPR-001").row(0, named=True)
    assert row["id"] == gw["id"] and row["factory_id"] == gw["factory_id"]
    assert row["factory_name"] == "Springfield Plant" and row["factory_timezone"] == "America/Chicago"
    assert row["organization_name"] == "Acme Manufacturing"
    assert row["organization_id"] == acme.organizations["id"][0]
    assert row["password_encrypted"].startswith('{"encrypted":"') and row["last_seen_at"] == AS_OF - timedelta(
        minutes=15
    )
    assert Workbench(db_url).gateway_record(gw["id"].upper())["gateway_id"].to_list() == ["GW-SPR-001"]
    assert Workbench(db_url).gateway_record("GW-NOPE-999").height == 0
    with pytest.raises(ConfigError):
        Workbench(db_url).gateway_record(" ")


def test_soft_deleted_rows_are_left_out_by_default(db_url, edited):
    summary = Workbench(db_url).fleet_summary()
    assert summary["organization"].to_list() == ["Acme Manufacturing"]
    acme = summary.row(0, named=True)
    # Austin (soft-deleted) and its two gateways are out; the old GW-SPR-001 is out
    assert {
        k: acme[k]
        for k in (
            "factories",
            "gateways",
            "online",
            "recent",
            "stale",
            "never_seen",
            "deleted_factories",
            "deleted_gateways",
        )
    } == {
        "factories": 2,
        "gateways": 4,
        "online": 1,
        "recent": 1,
        "stale": 1,
        "never_seen": 1,
        "deleted_factories": 1,
        "deleted_gateways": 1,
    }
    assert Workbench(db_url).gateways_per_factory()["factory"].to_list() == ["Detroit Assembly", "Springfield Plant"]
    assert Workbench(db_url).stale_gateways(include_never_seen=True)["gateway_id"].to_list() == [
        "GW-DET-002",
        "GW-SPR-002",
    ]
    assert Workbench(db_url).model_distribution()["gateways"].sum() == 4
    assert Workbench(db_url).gateway_record("GW-SPR-001")["name"].to_list() == ["North Wing Gateway"]
    assert Workbench(db_url).gateway_record("GW-AUS-001").height == 0  # its factory is soft-deleted


def test_include_deleted(db_url, edited):
    summary = Workbench(db_url).fleet_summary(include_deleted=True)
    assert summary["organization"].to_list() == ["Acme Manufacturing", "Old Co"]
    acme, old = summary.to_dicts()
    assert (acme["factories"], acme["gateways"], acme["stale"], acme["never_seen"]) == (3, 7, 2, 2)
    assert (old["factories"], old["gateways"]) == (1, 0) and old["deleted_at"] == AS_OF - timedelta(days=2)
    per_factory = Workbench(db_url).gateways_per_factory(include_deleted=True)
    assert per_factory["factory"].to_list() == ["Austin Facility", "Detroit Assembly", "Springfield Plant", "Old Plant"]
    assert per_factory.filter(pl.col("factory") == "Old Plant")["gateways"][0] == 0
    records = Workbench(db_url).gateway_record("GW-SPR-001", include_deleted=True)
    assert records["name"].to_list() == ["North Wing Gateway", "Old press gateway"]
    assert records["deleted_at"][0] is None and records["deleted_at"][1] == AS_OF - timedelta(days=30)
    assert Workbench(db_url).model_distribution(include_deleted=True)["gateways"].sum() == 7


def test_deleted_rows(db_url, edited):
    df = Workbench(db_url).deleted_rows()
    assert df.select("table", "name").rows() == [
        ("factories", "Austin Facility"),
        ("organizations", "Old Co"),
        ("gateways", "Old press gateway"),
    ]
    gw = Workbench(db_url).deleted_rows(table="gateways").row(0, named=True)
    assert gw["gateway_id"] == "GW-SPR-001" and (gw["organization"], gw["factory"]) == (
        "Acme Manufacturing",
        "Springfield Plant",
    )
    assert df.filter(pl.col("table") == "factories").select("organization", "factory").row(0) == (
        "Acme Manufacturing",
        "Austin Facility",
    )
    assert Workbench(db_url).deleted_rows(limit=1)["name"].to_list() == ["Austin Facility"]
    assert df.schema["id"] == pl.String and df.schema["deleted_at"] == pl.Datetime("us", "UTC")
    with pytest.raises(ConfigError, match="table must be"):
        Workbench(db_url).deleted_rows(table="users")


def test_empty_database(db_url):
    assert Workbench(db_url).fleet_summary().height == 0
    assert Workbench(db_url).deleted_rows().height == 0
    assert Workbench(db_url).model_distribution().columns == ["model", "gateways", "share"]


# -- what the explore notebook shows (issue 14) ---------------------------------------------------


def test_the_notebooks_sql_lists_the_longest_silent_as_the_workbench_does(settings, db_url):
    """The SQL cell's default query lists the active gateways silent longest (their parents active too):
    the same rows, in the same order, as stale_gateways, on a fleet with soft-deleted organizations and
    factories."""
    from fleetlab.app.explore import EXAMPLE_SQL
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    spec = load_scenario("stale-fleet").override(organizations="8", as_of="2026-01-01T00:00:00Z")
    seed(settings, plan(dataclasses.replace(spec, deleted_organizations=0.2, deleted_factories=0.2)))
    from_sql = read_sql(EXAMPLE_SQL, url=db_url)
    expected = Workbench(db_url).stale_gateways(limit=50)
    assert from_sql.height == expected.height == 50
    assert (
        from_sql.select("organization", "factory", "gateway_id").rows()
        == expected.select("organization", "factory", "gateway_id").rows()
    )


def test_readable_hides_ids_and_speaks_in_percent_and_durations():
    from datetime import UTC, datetime

    from fleetlab.app.explore import readable

    seen = datetime(2026, 1, 1, 9, 14, 3, 123456, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "organization": ["A", "B", "C", "D", "E"],
            "share": [0.095238095238095230, 1.0, 0.0, 0.5, None],
            "silent_for": [
                timedelta(days=2, hours=4, minutes=5),
                timedelta(hours=3, minutes=12),
                timedelta(minutes=12),
                timedelta(seconds=45),
                None,
            ],
            "last_seen_at": [seen, None, seen, seen, seen],
        }
    ).with_columns(pl.col("last_seen_at").dt.convert_time_zone("Europe/Berlin"))
    from fleetlab.app.explore import _span

    assert [_span(timedelta(days=1)), _span(timedelta(hours=3)), _span(timedelta(minutes=45))] == [
        "1 d",
        "3 h",
        "45 min",
    ]
    out = readable(frame, durations=["silent_for"])
    assert out.columns == ["organization", "share", "silent_for", "last_seen_at"]
    assert out["last_seen_at"].to_list()[:2] == ["2026-01-01 09:14:03", None]  # UTC, to the second
    assert out["share"].to_list() == ["9.5 %", "100.0 %", "0.0 %", "50.0 %", None]
    assert out["silent_for"].to_list() == ["2 d 4 h", "3 h 12 min", "12 min", "45 s", None]


def test_fleet_context_says_when_there_is_no_fleet(new_db, settings):
    from fleetlab.app.explore import workbench
    from fleetlab.errors import ConfigError, DatabaseUnavailable

    empty = new_db()  # a database with no tables
    with pytest.raises(ConfigError, match="holds no fleet.*fleetlab reset"):
        workbench(empty)
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        workbench("postgresql://nobody@127.0.0.1:1/nothing")


def test_filters_keep_exactly_the_part_of_the_fleet_they_name(settings, db_url):
    """Every question answered for a filtered fleet equals the unfiltered answer restricted by hand."""
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    seed(settings, plan(load_scenario("multi-tenant").override(organizations="6", as_of="2026-01-01T00:00:00Z")))
    whole = Workbench(db_url).fleet_summary()
    two = tuple(whole["organization_id"].head(2).to_list())
    models = tuple(Workbench(db_url).model_distribution()["model"].head(2).to_list())
    firmware = tuple(Workbench(db_url).firmware_distribution()["firmware_version"].head(3).to_list())

    only_two = Workbench(db_url).fleet_summary(where=Filter(organizations=two))
    assert only_two.equals(whole.filter(pl.col("organization_id").is_in(list(two))))
    per_factory = Workbench(db_url).gateways_per_factory(where=Filter(organizations=two))
    assert set(per_factory["organization_id"]) == set(two)

    kept = Filter(models=models, firmware=firmware)
    expected = read_sql(
        """SELECT count(*) AS n FROM gateways g JOIN factories f ON f.id = g.factory_id
           JOIN organizations o ON o.id = f.organization_id
           WHERE g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL
             AND g.model = ANY($1::text[]) AND g.firmware_version = ANY($2::text[])""",
        url=db_url,
        params=["{" + ",".join(f'"{m}"' for m in models) + "}", "{" + ",".join(firmware) + "}"],
    )["n"][0]
    assert Workbench(db_url).fleet_summary(where=kept)["gateways"].sum() == expected > 0
    mix = Workbench(db_url).model_distribution(where=kept)
    assert set(mix["model"]) <= set(models) and mix["gateways"].sum() == expected
    assert abs(mix["share"].sum() - 1) < 1e-9
    assert Workbench(db_url).last_seen(kept).len() == expected
    stale = Workbench(db_url).stale_gateways(include_never_seen=True, where=kept)
    assert set(stale["model"]) <= set(models) and set(stale["firmware_version"]) <= set(firmware)
    everything = Workbench(db_url).stale_gateways(include_never_seen=True)
    assert (
        stale.height
        == everything.filter(
            pl.col("model").is_in(list(models)) & pl.col("firmware_version").is_in(list(firmware))
        ).height
    )


def test_the_time_views_count_what_the_rows_say(settings, db_url):
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    seed(settings, plan(load_scenario("stale-fleet").override(organizations="4", as_of="2026-01-01T00:00:00Z")))
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    by_day = Workbench(db_url).last_seen_by_day(days=30)
    # as_of is midnight: the last day is the one before it, the first 29 days earlier
    assert by_day.height == 30 and by_day["day"][-1] == date(2025, 12, 31) and by_day["day"][0] == date(2025, 12, 2)
    seen = Workbench(db_url).last_seen().drop_nulls()
    window = seen.filter((seen >= datetime(2025, 12, 2, tzinfo=UTC)) & (seen <= as_of))
    assert by_day["gateways"].sum() == window.len() > 0
    counted = window.dt.date().value_counts(name="n")
    for day, n in counted.iter_rows():
        assert by_day.filter(pl.col("day") == day)["gateways"][0] == n
    kept = Filter(models=(Workbench(db_url).model_distribution()["model"][0],))
    assert Workbench(db_url).last_seen_by_day(days=30, where=kept)["gateways"].sum() < by_day["gateways"].sum()

    # the age buckets, counted in PostgreSQL, against the rows' own ages (bounds inclusive)
    from fleetlab.app.charts import AGE_BOUNDS, AGE_BUCKETS, NEVER, age_buckets

    ages = age_buckets(Workbench(db_url).last_seen_ages(AGE_BOUNDS))
    every = Workbench(db_url).last_seen()
    expected = [0] * len(AGE_BUCKETS)
    for seen_at in every.drop_nulls().to_list():  # the first bucket whose bound the age is within
        expected[next(i for i, (_, b) in enumerate(AGE_BUCKETS) if b is None or as_of - seen_at <= b)] += 1
    assert ages["age"].to_list() == [label for label, _ in AGE_BUCKETS] + [NEVER]
    assert ages["gateways"].to_list() == [*expected, every.null_count()]
    assert ages["gateways"].sum() == every.len() and min(expected) >= 0 and max(expected) > 0
    with pytest.raises(ConfigError, match="ascending"):
        Workbench(db_url).last_seen_ages(list(reversed(AGE_BOUNDS)))
    # the same ages per model and firmware, from the breakdown's pass; a status filter keeps its own ages
    pairs = Workbench(db_url).breakdown(ages=AGE_BOUNDS)
    aged = [f"age_{k}" for k in range(len(AGE_BOUNDS) + 1)]
    assert pairs.select(aged).sum().row(0) == tuple(expected)
    assert (
        pairs.select(pl.sum_horizontal(aged).alias("seen"))["seen"] + pairs["never_seen"] == pairs["gateways"]
    ).all()
    stale_only = Workbench(db_url).breakdown(ages=AGE_BOUNDS, where=Filter(statuses=("stale",)))
    assert (
        stale_only["gateways"].sum() == stale_only["stale"].sum() == stale_only.select(aged).sum().sum_horizontal()[0]
    )
    assert stale_only["stale"].sum() > 0 and stale_only["age_0"].sum() == 0  # seen within 5 minutes: never stale
    with pytest.raises(ConfigError, match="ascending"):
        Workbench(db_url).breakdown(ages=[AGE_BOUNDS[1], AGE_BOUNDS[0]])

    months = Workbench(db_url).deletions_by_month()
    deleted = Workbench(db_url).deleted_rows()
    assert months["rows"].sum() == deleted.height > 0
    assert (
        months.group_by("table").agg(pl.col("rows").sum()).sort("table").rows()
        == deleted.group_by("table").len().sort("table").rows()
    )
    with pytest.raises(ConfigError, match="days"):
        Workbench(db_url).last_seen_by_day(days=0)


def test_pages_breakdowns_and_silences_agree_with_the_rows(settings, db_url):
    """The questions the explore page asks at any size: a page of the most silent (a LIMIT in
    PostgreSQL), the status counts per model and firmware in one pass, the stale by the day they went
    quiet, and the soft-deleted rows narrowed by the filter; each against the unlimited answers."""
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    seed(settings, plan(load_scenario("stale-fleet").override(organizations="4", as_of="2026-01-01T00:00:00Z")))
    db = Workbench(db_url)
    every = db.stale_gateways(include_never_seen=True)
    page = db.stale_gateways(include_never_seen=True, limit=7)
    stale, never = every.filter(pl.col("last_seen_at").is_not_null()), every.filter(pl.col("last_seen_at").is_null())
    assert stale.height > 7 and never.height > 7
    assert page["id"].to_list() == stale.head(7)["id"].to_list() + never.head(7)["id"].to_list()
    assert db.stale_gateways(limit=0).height == 0
    for statuses in [("online",), ("never_seen",), ("stale", "recent"), ("recent",)]:
        kept = Filter(statuses=statuses)
        whole = db.stale_gateways(include_never_seen=True, where=kept)
        paged = db.stale_gateways(include_never_seen=True, where=kept, limit=7)
        seen, unseen = (
            whole.filter(pl.col("last_seen_at").is_not_null()),
            whole.filter(pl.col("last_seen_at").is_null()),
        )
        assert paged["id"].to_list() == seen.head(7)["id"].to_list() + unseen.head(7)["id"].to_list(), statuses
        assert whole.height == ("stale" in statuses) * stale.height + ("never_seen" in statuses) * never.height
    with pytest.raises(ConfigError, match="limit"):
        db.stale_gateways(limit=-1)

    pairs = db.breakdown()
    summary = db.fleet_summary()
    for status in ("online", "recent", "stale", "never_seen"):
        assert pairs[status].sum() == summary[status].sum()
    assert pairs["gateways"].sum() == summary["gateways"].sum()
    assert (
        pairs.select("model", "firmware_version", "gateways").sort("model", "firmware_version").rows()
        == (db.firmware_distribution(by_model=True).select("model", "firmware_version", "gateways"))
        .sort("model", "firmware_version")
        .rows()
    )
    assert db.breakdown(["model"])["gateways"].to_list() == db.model_distribution()["gateways"].to_list()
    with pytest.raises(ConfigError, match="by takes"):
        db.breakdown(["name"])

    by_day = db.silent_by_day()
    assert by_day["gateways"].sum() == stale.height
    # a status filter keeps all the stale gateways or none of them
    assert db.silent_by_day(where=Filter(statuses=("stale", "online"))).rows() == by_day.rows()
    assert db.silent_by_day(where=Filter(statuses=("online", "never_seen"))).height == 0
    assert Filter(statuses=("recent",)).for_status("stale") is None and EVERYTHING.for_status("stale") == EVERYTHING
    assert sorted(by_day.rows()) == sorted(stale["last_seen_at"].dt.date().value_counts(name="n").rows())

    org = summary.filter(pl.col("gateways") > 0)["organization_id"][0]
    mine = db.deleted_rows(where=Filter(organizations=(org,)))
    name = summary.filter(pl.col("organization_id") == org)["organization"][0]
    everything = db.deleted_rows()
    assert 0 < mine.height < everything.height and set(mine["organization"]) == {name}
    assert mine.height == everything.filter(pl.col("organization") == name).height
    models = db.deleted_rows(where=Filter(models=(pairs["model"][0],)))
    assert set(models["table"]) == {"gateways"}
    months = db.deletions_by_month(where=Filter(organizations=(org,)))
    assert months["rows"].sum() == mine.height


def test_a_replaced_database_is_noticed(acme, db_url, settings):
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    db = Workbench(db_url)
    assert db.replaced() is False
    seed(settings, plan(load_scenario("default").override(as_of="2026-01-01T00:00:00Z")))
    assert db.replaced() is True
    assert Workbench(db_url).replaced() is False


def test_the_sql_editor_says_what_postgresql_said_and_keeps_the_last_result(acme, db_url):
    """A syntax error or a write gives PostgreSQL's message, not an exception (the page keeps its last result)."""
    from fleetlab.app.explore import run_sql

    with Workbench(db_url.render(masked=False)) as db:
        rows, error = run_sql(db, "SELECT count(*) AS n FROM gateways")
        assert error is None and rows["n"].to_list() == [6]
        rows, error = run_sql(db, "SELEC count(*) FROM gateways")
        assert rows is None and "syntax error" in error and "SELEC" in error
        rows, error = run_sql(db, "DELETE FROM gateways")
        assert rows is None and error and "read" in error.lower(), error
        assert "--write (read_sql" not in error
        rows, error = run_sql(db, "SELECT count(*) AS n FROM gateways")  # nothing was deleted
        assert error is None and rows["n"].to_list() == [6]


def test_no_fleet_says_to_reach_the_server_or_to_reset_whichever_is_wrong(new_db):
    from fleetlab.app.explore import no_fleet_hint, workbench
    from fleetlab.errors import DatabaseUnavailable, FleetlabError

    with pytest.raises(DatabaseUnavailable) as unreachable:
        workbench("postgresql://nobody@127.0.0.1:1/nothing")
    assert no_fleet_hint(unreachable.value).startswith("The server did not answer")
    with pytest.raises(FleetlabError) as empty:  # reachable, no fleet in it
        workbench(new_db())
    assert not isinstance(empty.value, DatabaseUnavailable)
    assert no_fleet_hint(empty.value).startswith("Reset the workbench first")


def test_one_factorys_gateways_follow_the_filters_too(settings, db_url):
    """Under a status (or model) filter, the chosen factory's list holds only those gateways, as the counts say."""
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    seed(settings, plan(load_scenario("stale-fleet").override(organizations="2", as_of="2026-01-01T00:00:00Z")))
    db = Workbench(db_url)
    stale_only = Filter(statuses=("stale",))
    per_factory = db.gateways_per_factory(where=stale_only)
    factory = per_factory.filter(pl.col("stale") > 0).sort("stale", descending=True).row(0, named=True)
    listed = db.factory_gateways(factory["factory_id"], where=stale_only)
    everything = db.factory_gateways(factory["factory_id"])
    assert listed.height == factory["stale"] < everything.height
    cutoff = db.clock.as_of - db.clock.stale_after
    assert listed["last_seen_at"].is_not_null().all() and (listed["last_seen_at"] < cutoff).all()
    model = everything["model"][0]
    assert set(db.factory_gateways(factory["factory_id"], where=Filter(models=(model,)))["model"]) == {model}


def test_the_silent_and_deleted_lists_lead_with_where_and_say_how_many_in_all(settings, db_url):
    from fleetlab.app import explore
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import seed

    seed(settings, plan(load_scenario("stale-fleet").override(organizations="3", as_of="2026-01-01T00:00:00Z")))
    db = Workbench(db_url)
    summary = db.fleet_summary()
    html = explore.silent_table(db.stale_gateways(include_never_seen=True, limit=5), db.clock, summary).text
    stale, never = int(summary["stale"].sum()), int(summary["never_seen"].sum())
    assert f"{stale:,} gateways not seen" in html and "the 5 longest silent listed" in html
    assert f"{never:,} never seen" in html and "the first 5 by device id listed" in html
    assert "literal" not in html and "organization_id" not in html
    assert html.index("organization") < html.index("gateway_id") < html.index("firmware_version")
    deleted = explore.deleted_table(db.deleted_rows(limit=3), db.deletions_by_month()).text
    assert f"{db.deleted_rows().height:,} soft-deleted rows" in deleted and "the latest 3 listed" in deleted
    assert "literal" not in deleted and deleted.index("organization") < deleted.index("deleted_at")
