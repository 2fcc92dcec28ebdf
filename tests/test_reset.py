"""Reset and seed: the default fleet, the summary, and the guards that keep other data safe."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import psycopg
import pytest

from fleetlab.config import Settings
from fleetlab.errors import ConfigError, LockTimeout, ResetRefused
from fleetlab.generation.acme import acme_fleet
from fleetlab.store import databases, db, marker
from fleetlab.store.crypto import decrypt_password, keyring_for
from fleetlab.store.databases import RESET_LOCK_CLASS, build_name
from fleetlab.store.reset import reset, seed

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def counts(url):
    with db.connect(url) as c:
        return tuple(
            c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("organizations", "factories", "gateways")
        )


def test_reset_loads_the_original_seed(settings):
    result = reset(settings, acme_fleet(AS_OF))
    assert result.counts == {"organizations": 1, "factories": 3, "gateways": 6}
    assert result.elapsed > 0
    with db.connect(result.url) as c:
        assert c.execute("SELECT name FROM organizations").fetchone()[0] == "Acme Manufacturing"
        factories = c.execute("SELECT name, timezone FROM factories ORDER BY name").fetchall()
        assert factories == [
            ("Austin Facility", "America/Chicago"),
            ("Detroit Assembly", "America/Detroit"),
            ("Springfield Plant", "America/Chicago"),
        ]
        per_factory = c.execute("SELECT count(*) FROM gateways GROUP BY factory_id").fetchall()
        assert [r[0] for r in per_factory] == [2, 2, 2]
        rows = c.execute(
            "SELECT id::text, gateway_id, password_encrypted, metadata, last_seen_at FROM gateways"
        ).fetchall()
        assert len({r[4] for r in rows}) == 5  # four last-seen offsets, two never seen
        assert sum(r[4] is None for r in rows) == 2
        assert all(isinstance(r[3], dict) and r[3] for r in rows)
        keys = keyring_for(settings, create=True)
        for row_id, _, token, _, _ in rows:
            assert json.loads(token)["kid"] == keys.current_id
            assert "PLACEHOLDER" not in token
            assert decrypt_password(keys, token, row_id) == "admin123"
        m = marker.read(c)
        assert m is not None and not m.protected
        assert m.scenario["counts"] == result.counts
    with db.connect(db.maintenance(result.url)) as c:
        assert not db.database_exists(c, build_name(result.url.database))


def test_second_reset_replaces_everything(settings):
    first = reset(settings, acme_fleet(AS_OF, seed=1))
    with db.connect(first.url, autocommit=True) as c:
        c.execute("CREATE TABLE scratch (x int)")
    reset(settings, acme_fleet(AS_OF, seed=2))
    with db.connect(first.url) as c:
        assert c.execute("SELECT to_regclass('scratch')").fetchone()[0] is None
    assert counts(first.url) == (1, 3, 6)


def test_reset_creates_a_missing_database(new_db, tmp_path):
    from tests.conftest import TEST_KEY

    url = new_db(create=False)
    s = Settings(database_url=url.render(masked=False), home=tmp_path, secret_key=TEST_KEY)
    reset(s, acme_fleet(AS_OF))
    assert counts(url) == (1, 3, 6)


def test_unmarked_database_with_tables_is_kept(new_db, tmp_path):
    from tests.conftest import TEST_KEY

    url = new_db()
    with db.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE precious (x int); INSERT INTO precious VALUES (42)")
    s = Settings(database_url=url.render(masked=False), home=tmp_path, secret_key=TEST_KEY)
    with pytest.raises(ResetRefused, match="has tables .*public.precious.* but no fleetlab marker"):
        reset(s, acme_fleet(AS_OF))
    with pytest.raises(ResetRefused, match="no fleetlab marker"):
        seed(s, acme_fleet(AS_OF))
    with db.connect(url) as c:
        assert c.execute("SELECT x FROM precious").fetchone()[0] == 42


def test_empty_unmarked_database_may_be_reset(new_db, tmp_path):
    from tests.conftest import TEST_KEY

    url = new_db()
    s = Settings(database_url=url.render(masked=False), home=tmp_path, secret_key=TEST_KEY)
    reset(s, acme_fleet(AS_OF))
    assert counts(url) == (1, 3, 6)


def test_protected_marker_is_kept(settings):
    r = reset(settings, acme_fleet(AS_OF))
    with db.connect(r.url, autocommit=True) as c:
        marker.set_protected(c, True)
    with pytest.raises(ResetRefused, match="protected"):
        reset(settings, acme_fleet(AS_OF, seed=5))
    with pytest.raises(ResetRefused, match="protected"):
        seed(settings, acme_fleet(AS_OF, seed=5))
    assert counts(r.url) == (1, 3, 6)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://dev:secret@db.example.invalid:5432/fleetlab",
        "postgresql://dev@db.example.invalid/fleetlab",
        "postgres://u@[2001:db8::1]/fleetlab",
    ],
)
def test_remote_host_refused_before_any_connection(url, tmp_path):
    s = Settings(database_url=url, home=tmp_path)
    with pytest.raises(ResetRefused, match="not this machine.*FLEETLAB_ALLOW_REMOTE_RESET=1") as info:
        reset(s, acme_fleet(AS_OF))
    assert "secret" not in str(info.value)


def test_remote_allowed_when_asked_then_fails_on_connection(tmp_path):
    s = Settings(database_url="postgresql://u:pw@db.example.invalid/fleetlab", home=tmp_path, allow_remote_reset=True)
    with pytest.raises(Exception) as info:
        reset(s, acme_fleet(AS_OF))
    assert "pw" not in str(info.value).replace("password", "")
    assert "cannot connect" in str(info.value)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("x" * 64, "64 bytes long"),
        ("é" * 32, "64 bytes long"),
        ("postgres", "belongs to the PostgreSQL cluster"),
        ("template1", "belongs to the PostgreSQL cluster"),
    ],
)
def test_bad_database_names_refused(server_url, tmp_path, name, match):
    url = server_url.with_dbname(name).render(masked=False)
    s = Settings(database_url=url, home=tmp_path)
    with pytest.raises(ConfigError, match=match):
        reset(s, acme_fleet(AS_OF))


def test_hostile_but_legal_name_is_quoted(new_db, tmp_path, admin):
    from tests.conftest import TEST_KEY

    base = new_db(create=False)
    name = 'fl"; DROP DATABASE postgres; --ü'
    url = base.with_dbname(name)
    s = Settings(database_url=url.render(masked=False), home=tmp_path, secret_key=TEST_KEY)
    try:
        reset(s, acme_fleet(AS_OF))
        assert counts(url) == (1, 3, 6)
        assert db.database_exists(admin, "postgres")
    finally:
        databases.drop(admin, name, ours="the database this test reset")


def test_concurrent_reset_stops_with_clear_message(settings, admin, db_url):
    admin_url = db.maintenance(db_url)
    with (
        db.connect(admin_url, autocommit=True) as holder,
        databases.advisory_lock(holder, RESET_LOCK_CLASS, db_url.database),
        pytest.raises(LockTimeout, match="reset of .* is in progress"),
    ):
        reset(settings, acme_fleet(AS_OF))
    assert counts(db_url) == (0, 0, 0)  # untouched clone


def test_declined_confirmation_changes_nothing(settings, db_url):
    seen = []
    with pytest.raises(ResetRefused, match="cancelled"):
        reset(settings, acme_fleet(AS_OF), confirm=lambda url: seen.append(url) or False)
    assert seen[0].database == db_url.database
    with db.connect(db_url) as c:
        assert marker.read(c) is not None


def test_leftover_side_database_is_cleaned(settings, db_url, admin):
    side = build_name(db_url.database)
    databases.create(admin, side)
    with db.connect(db_url.with_dbname(side), autocommit=True) as c:
        marker.create(c)
    reset(settings, acme_fleet(AS_OF))
    assert not db.database_exists(admin, side)
    assert counts(db_url) == (1, 3, 6)


def test_seed_replaces_rows_in_place(settings, db_url):
    reset(settings, acme_fleet(AS_OF, seed=1))
    with db.connect(db_url) as c:
        before = {r[0] for r in c.execute("SELECT id FROM gateways").fetchall()}
    result = seed(settings, acme_fleet(AS_OF, seed=2))
    assert result.counts["gateways"] == 6
    with db.connect(db_url) as c:
        after = {r[0] for r in c.execute("SELECT id FROM gateways").fetchall()}
    assert before.isdisjoint(after)


def test_failed_seed_keeps_previous_rows(settings, db_url):
    reset(settings, acme_fleet(AS_OF))
    bad = acme_fleet(AS_OF, seed=9)
    bad.gateways = bad.gateways.with_columns(pl.lit("GW-DUP").alias("gateway_id"))  # duplicates
    with pytest.raises(Exception, match="rolled back"):
        seed(settings, bad)
    assert counts(db_url) == (1, 3, 6)


def test_reset_says_which_sessions_it_ended_or_refuses_to(cli_env, db_url, admin):
    from fleetlab.store.databases import build_name

    from .reliability.harness import cli_inprocess

    def run(*args):  # the console script's code in this process: what each reset says
        return cli_inprocess(list(args), cli_env)

    assert run("reset", "--yes").returncode == 0
    other = psycopg.connect(db_url.render(masked=False), application_name="team-notebook")
    try:
        other.execute("SELECT count(*) FROM gateways")  # idle in a transaction, holding a lock
        refused = run("reset", "--yes", "--keep-sessions", "--seed", "4")
        assert refused.returncode == 1 and "1 other session(s)" in refused.stderr and "team-notebook" in refused.stderr
        assert "Nothing was changed" in refused.stderr
        assert other.execute("SELECT count(*) FROM gateways").fetchone()[0] == 6  # still connected, same rows
        names = {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
        assert build_name(db_url.database) not in names
        done = run("reset", "--yes", "--seed", "4")
        assert done.returncode == 0, done.stderr
        assert f"ended 1 other session(s) on {db_url.database!r}: team-notebook (" in done.stderr
    finally:
        other.close()


# -- public is the platform's; fleetlab's bookkeeping in its own schema ------------------------------

PLATFORM_TABLES = ["factories", "gateways", "organizations", "pgmigrations"]  # what the platform's migrations make


def _tables_by_schema(c) -> dict[str, list[str]]:
    rows = c.execute(
        "SELECT table_schema, array_agg(table_name::text ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') GROUP BY 1"
    ).fetchall()
    return dict(rows)


def test_a_reset_leaves_public_to_the_platform(settings):
    result = reset(settings, acme_fleet(AS_OF))
    with db.connect(result.url, autocommit=True) as c:
        assert _tables_by_schema(c) == {
            "public": PLATFORM_TABLES,
            "fleetlab_meta": ["fleetlab_marker", "schema_migrations"],
        }
        listed = c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
        assert [r[0] for r in listed] == PLATFORM_TABLES
        # the platform's way in: the default search_path, unqualified names, its own tool's history
        assert c.execute("SELECT current_setting('search_path')").fetchone()[0] == '"$user", public'
        assert c.execute("SELECT count(*) FROM gateways").fetchone()[0] == 6
        assert c.execute("SELECT count(*) FROM pgmigrations").fetchone()[0] == 3
        with c.transaction(force_rollback=True):  # and what it creates unqualified lands in public
            c.execute("CREATE TABLE probe (x int)")
            assert c.execute("SELECT to_regclass('probe')::text").fetchone()[0] == "probe"
            assert c.execute("SELECT to_regclass('public.probe') IS NOT NULL").fetchone()[0]


def _old_workbench(url, *, protected: bool = False) -> None:
    """The workbench as a fleetlab before migration 1707345600006 left it: bookkeeping in public, a fleet."""
    from .test_migrate import old_layout

    with db.connect(url, autocommit=True) as c:
        old_layout(c)
        c.execute("INSERT INTO organizations (name) VALUES ('Old Org')")
        c.execute("UPDATE public.fleetlab_marker SET protected = %s", (protected,))


def test_a_reset_replaces_a_workbench_of_the_old_layout(new_db, tmp_path):
    from tests.conftest import TEST_KEY

    url = new_db()
    _old_workbench(url)
    s = Settings(database_url=url.render(masked=False), home=tmp_path, secret_key=TEST_KEY, cache_entries=0)
    with pytest.raises(ResetRefused, match="not fully migrated; run `fleetlab migrate`"):
        seed(s, acme_fleet(AS_OF))  # rows in place need the move first
    reset(s, acme_fleet(AS_OF))  # recognised as ours by its marker in public, and rebuilt
    assert counts(url) == (1, 3, 6)
    with db.connect(url, autocommit=True) as c:
        assert _tables_by_schema(c) == {
            "public": PLATFORM_TABLES,
            "fleetlab_meta": ["fleetlab_marker", "schema_migrations"],
        }
        m = marker.read(c)
        assert m is not None and m.scenario["counts"] == {"organizations": 1, "factories": 3, "gateways": 6}


def test_a_protected_workbench_of_the_old_layout_is_kept(new_db, tmp_path):
    from tests.conftest import TEST_KEY

    url = new_db()
    _old_workbench(url, protected=True)
    s = Settings(database_url=url.render(masked=False), home=tmp_path, secret_key=TEST_KEY, cache_entries=0)
    for run in (reset, seed):
        with pytest.raises(ResetRefused, match="protected"):
            run(s, acme_fleet(AS_OF))
    assert counts(url) == (1, 0, 0)
