"""The migration runner: order, one transaction per file, drift refusal, concurrent runners."""

from __future__ import annotations

import shutil
import threading

import pytest

from fleetlab.errors import LockTimeout, MigrationError
from fleetlab.store import databases, db, marker, migrate

from .reliability.harness import cli_inprocess


@pytest.fixture
def empty_url(new_db):
    return new_db()


@pytest.fixture
def mdir(tmp_path):
    """A private copy of the migrations folder to tamper with."""
    d = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, d)
    return d


def test_files_keep_original_timestamps():
    names = [m.filename for m in migrate.discover()]
    assert names == [
        "1707345600001_create_organizations.sql",
        "1707345600002_create_factories.sql",
        "1707345600003_create_gateways.sql",
        "1707345600004_match_platform_schema.sql",
        "1707345600005_record_platform_migrations.sql",
        "1707345600006_fleetlab_schema.sql",
    ]


def test_apply_records_each_file(empty_url):
    with db.connect(empty_url, autocommit=True) as c:
        assert [m.version for m in migrate.pending(c)] == [m.version for m in migrate.discover()]
        done = migrate.apply(c)
        assert len(done) == 6
        rows = c.execute(
            "SELECT version, name, checksum, execution_ms >= 0, applied_at IS NOT NULL FROM fleetlab_meta.schema_migrations ORDER BY 1"
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(m.version, m.name) for m in done]
        assert [r[2] for r in rows] == [m.checksum for m in done]
        assert all(r[3] and r[4] for r in rows)
        assert migrate.pending(c) == []
        assert migrate.apply(c) == []  # idempotent


def test_failing_migration_rolls_back_whole_and_names_file(empty_url, mdir):
    (mdir / "1707345600090_broken.sql").write_text(
        "CREATE TABLE sites (id int);\nINSERT INTO sites VALUES (1);\nSELECT 1/0;\n"
    )
    with db.connect(empty_url, autocommit=True) as c:
        with pytest.raises(MigrationError, match="1707345600090_broken.sql.*division by zero"):
            migrate.apply(c, mdir)
        assert c.execute("SELECT to_regclass('sites')").fetchone()[0] is None
        assert [a.version for a in migrate.applied(c)] == [m.version for m in migrate.discover()]


def test_a_new_database_gets_every_migration_in_one_batch_recorded_as_one_by_one(empty_url, new_db):
    """apply_fresh (a reset's new database): the same schema and the same records as apply, each
    migration's time measured by the server."""
    from fleetlab.store import schema

    one_by_one = new_db()
    with db.connect(empty_url, autocommit=True) as fresh, db.connect(one_by_one, autocommit=True) as c:
        assert migrate.apply_fresh(fresh) == migrate.discover()
        migrate.apply(c)
        records = "SELECT version, name, checksum, execution_ms >= 0 FROM fleetlab_meta.schema_migrations ORDER BY 1"
        assert fresh.execute(records).fetchall() == c.execute(records).fetchall()
        assert schema.describe(fresh) == schema.describe(c)
        assert migrate.pending(fresh) == []


def test_a_failing_batch_is_applied_again_one_by_one_and_names_the_file(empty_url, mdir):
    (mdir / "1707345600090_broken.sql").write_text("CREATE TABLE sites (id int);\nSELECT 1/0;\n")
    with db.connect(empty_url, autocommit=True) as c:
        with pytest.raises(MigrationError, match="1707345600090_broken.sql.*division by zero"):
            migrate.apply_fresh(c, mdir)
        assert c.execute("SELECT to_regclass('sites')").fetchone()[0] is None
        # the batch rolled back whole; one by one, the good ones before the broken file are kept
        assert [a.version for a in migrate.applied(c)] == [m.version for m in migrate.discover()]


def test_edited_applied_migration_refused(empty_url, mdir):
    with db.connect(empty_url, autocommit=True) as c:
        migrate.apply(c, mdir)
        f = mdir / "1707345600002_create_factories.sql"
        f.write_text(f.read_text() + "\n-- sneaky edit\n")
        with pytest.raises(MigrationError, match="1707345600002_create_factories.sql was changed"):
            migrate.apply(c, mdir)
        assert not migrate.status(c, mdir).ok


def test_missing_applied_migration_refused(empty_url, mdir):
    with db.connect(empty_url, autocommit=True) as c:
        migrate.apply(c, mdir)
        (mdir / "1707345600003_create_gateways.sql").unlink()
        with pytest.raises(MigrationError, match="1707345600003_create_gateways.sql .*missing"):
            migrate.pending(c, mdir)


def test_new_file_ordered_before_applied_refused(empty_url, mdir):
    with db.connect(empty_url, autocommit=True) as c:
        migrate.apply(c, mdir)
        (mdir / "1707345600002_again.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="share version 1707345600002"):
            migrate.discover(mdir)
        (mdir / "1707345600002_again.sql").unlink()
        (mdir / "create-sites.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="create-sites.sql is not named"):
            migrate.discover(mdir)
        (mdir / "create-sites.sql").unlink()
        (mdir / "1707345600000_early.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="1707345600000_early.sql is not applied but is ordered before"):
            migrate.apply(c, mdir)


def test_concurrent_runners_apply_each_migration_once(empty_url):
    errors: list[BaseException] = []
    applied: list[int] = []
    lock = threading.Lock()

    def run():
        try:
            with db.connect(empty_url, autocommit=True) as c:
                done = migrate.apply(c, lock_timeout=30)
                with lock:
                    applied.extend(m.version for m in done)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(applied) == [m.version for m in migrate.discover()]
    with db.connect(empty_url) as c:
        assert c.execute("SELECT count(*) FROM fleetlab_meta.schema_migrations").fetchone()[0] == len(
            migrate.discover()
        )


def test_waiting_runner_gives_up_with_clear_message(empty_url):
    with (
        db.connect(empty_url, autocommit=True) as holder,
        databases.advisory_lock(holder, databases.MIGRATE_LOCK_CLASS, empty_url.database),
        db.connect(empty_url, autocommit=True) as c,
        pytest.raises(
            LockTimeout, match="another `fleetlab migrate` is running on this database; gave up after waiting 0.3s"
        ),
    ):
        migrate.apply(c, lock_timeout=0.3)


def test_cli_migrate_dry_run_and_status(empty_url, cli_env):
    env = {**cli_env, "DATABASE_URL": empty_url.render(masked=False)}

    def run(*args):  # the console script's code in this process: what each command does and says
        return cli_inprocess(list(args), env)

    out = run("migrate", "--dry-run")
    assert out.returncode == 0
    assert "-- 1707345600001_create_organizations.sql" in out.stdout and "CREATE TABLE gateways" in out.stdout
    with db.connect(empty_url) as c:
        assert c.execute("SELECT to_regclass('organizations')").fetchone()[0] is None
    st = run("status")
    assert st.returncode == 0 and st.stdout.count("pending") == len(migrate.discover())
    assert run("migrate").returncode == 0
    st = run("status")
    assert st.returncode == 0 and st.stdout.count("applied") == len(migrate.discover())
    with db.connect(empty_url, autocommit=True) as c:
        c.execute("UPDATE fleetlab_meta.schema_migrations SET checksum = 'x' WHERE version = 1707345600001")
    st = run("status")
    assert st.returncode == 1 and "1707345600001_create_organizations.sql was changed" in st.stdout
    mig = run("migrate")
    assert mig.returncode != 0 and "1707345600001_create_organizations.sql" in mig.stderr
    assert "Traceback" not in mig.stderr


def test_a_schema_changed_by_hand_is_seen_by_status_check_and_seed(cli_env, conn):
    def run(*args):  # the console script's code in this process: what each command sees and says
        return cli_inprocess(list(args), cli_env)

    assert run("seed", "--yes").returncode == 0
    assert run("status").returncode == 0
    conn.execute("CREATE TABLE team_notes (x int)")  # a table of the team's own: named, but seed goes on
    conn.commit()
    st = run("status")
    assert st.returncode == 1 and "table team_notes: not in the platform schema" in st.stdout
    assert run("seed", "--yes").returncode == 0
    conn.execute("DROP INDEX gateways_gateway_id_unique_idx")
    conn.commit()
    st = run("status")
    assert st.returncode == 1 and "index gateways.gateways_gateway_id_unique_idx: missing" in st.stdout, st.stdout
    assert "fleetlab reset" in st.stderr
    check = run("check")
    assert check.returncode == 1 and "gateways_gateway_id_unique_idx: missing" in check.stdout
    seeded = run("seed", "--yes")
    assert seeded.returncode == 1 and "gateways_gateway_id_unique_idx: missing" in seeded.stderr
    assert run("reset", "--yes").returncode == 0
    assert run("status").returncode == 0


# -- fleetlab's bookkeeping in its own schema --------------------------------------------------------

PLATFORM_TABLES = ["factories", "gateways", "organizations", "pgmigrations"]  # what the platform's migrations make


def _tables(c, schema: str) -> list[str]:
    return [
        r[0]
        for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)).fetchall()
    ]


def test_public_holds_exactly_the_platforms_tables(empty_url):
    with db.connect(empty_url, autocommit=True) as c:
        marker.create(c)
        migrate.apply(c)
        assert _tables(c, "public") == PLATFORM_TABLES
        assert _tables(c, "fleetlab_meta") == ["fleetlab_marker", "schema_migrations"]
        # nothing of fleetlab's elsewhere either: no sequence, view or function outside the two schemas
        others = c.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('public', 'fleetlab_meta', 'pg_catalog', 'information_schema', 'pg_toast')"
        ).fetchall()
        assert others == []


OLD_MARKER = """
CREATE TABLE public.fleetlab_marker (
    id boolean PRIMARY KEY DEFAULT true CHECK (id), created_at timestamptz NOT NULL DEFAULT now(),
    fleetlab_version text NOT NULL, protected boolean NOT NULL DEFAULT false, scenario jsonb, seeded_at timestamptz
);
INSERT INTO public.fleetlab_marker (fleetlab_version, scenario, created_at)
VALUES ('0.0.9', '{"name": "old"}', '2025-06-01Z');
CREATE TABLE public.schema_migrations (
    version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(), execution_ms double precision NOT NULL
);
"""


def old_layout(c) -> None:
    """A database as a fleetlab before migration 1707345600006 left it: history and marker in public."""
    c.execute(OLD_MARKER)
    for m in migrate.discover()[:5]:
        c.execute(m.sql)
        c.execute(
            "INSERT INTO public.schema_migrations (version, name, checksum, applied_at, execution_ms) "
            "VALUES (%s, %s, %s, '2025-06-01Z', 1)",
            (m.version, m.name, m.checksum),
        )


def test_a_database_of_the_old_layout_is_ours_and_moves_in_place(empty_url):
    with db.connect(empty_url, autocommit=True) as c:
        old_layout(c)
        found = marker.read(c)
        assert found is not None and found.scenario == {"name": "old"}  # still ours before it moves
        st = migrate.status(c)
        assert [a.version for a in st.applied] == [m.version for m in migrate.discover()[:5]] and not st.drift
        assert [m.filename for m in migrate.apply(c)] == ["1707345600006_fleetlab_schema.sql"]
        assert _tables(c, "public") == PLATFORM_TABLES
        assert _tables(c, "fleetlab_meta") == ["fleetlab_marker", "schema_migrations"]
        history = c.execute(
            "SELECT version, applied_at < '2025-06-02Z' FROM fleetlab_meta.schema_migrations ORDER BY 1"
        )
        assert [r[1] for r in history.fetchall()] == [True] * 5 + [False]  # the old records kept, the move added
        moved = marker.read(c)
        assert moved is not None and moved.scenario == {"name": "old"} and moved.fleetlab_version == "0.0.9"
        assert migrate.pending(c) == [] and migrate.apply(c) == []  # once


def test_fleetlab_migrate_moves_an_old_database(empty_url, tmp_path):
    from .reliability.harness import base_env

    with db.connect(empty_url, autocommit=True) as c:
        old_layout(c)
    env = base_env(DATABASE_URL=empty_url.render(masked=False), FLEETLAB_HOME=str(tmp_path / "home"))
    check = cli_inprocess(["check"], env)  # before the move: the bookkeeping in public is named, with the cure
    assert "table schema_migrations: not in the platform schema" in check.stdout, check.output
    assert "table fleetlab_marker: not in the platform schema" in check.stdout and "`fleetlab migrate`" in check.stdout
    run = cli_inprocess(["migrate"], env)
    assert run.returncode == 0, run.output
    assert "1707345600006_fleetlab_schema" in run.output
    status = cli_inprocess(["status"], env)
    assert status.returncode == 0 and "CHANGED" not in status.output, status.output


def test_the_move_rolls_back_with_its_record(empty_url, mdir):
    """Migration 6 failing after its move (here: a statement appended to it) leaves the old layout whole,
    still ours, and the real file moves it afterwards."""
    with db.connect(empty_url, autocommit=True) as c:
        old_layout(c)
        move = mdir / "1707345600006_fleetlab_schema.sql"
        real = move.read_text()
        move.write_text(real + "\nSELECT 1 / 0;\n")
        with pytest.raises(MigrationError, match="1707345600006_fleetlab_schema.sql failed and was rolled back"):
            migrate.apply(c, mdir)
        assert _tables(c, "public") == sorted([*PLATFORM_TABLES, "fleetlab_marker", "schema_migrations"])
        assert c.execute("SELECT to_regnamespace('fleetlab_meta')").fetchone()[0] is None
        assert migrate.history(c) == "public.schema_migrations" and len(migrate.applied(c)) == 5
        assert marker.read(c) is not None
        move.write_text(real)
        assert [m.filename for m in migrate.apply(c, mdir)] == ["1707345600006_fleetlab_schema.sql"]
        assert migrate.history(c) == "fleetlab_meta.schema_migrations" and len(migrate.applied(c)) == 6


def test_the_move_run_again_changes_nothing(empty_url):
    """Migration 6 by hand on a database already moved (or made new) is a no-op: the tables stay, rows and all."""
    with db.connect(empty_url, autocommit=True) as c:
        old_layout(c)
        migrate.apply(c)
        before = c.execute("SELECT * FROM fleetlab_meta.schema_migrations ORDER BY version").fetchall()
        c.execute(migrate.discover()[5].sql)
        assert _tables(c, "public") == PLATFORM_TABLES
        assert _tables(c, "fleetlab_meta") == ["fleetlab_marker", "schema_migrations"]
        assert c.execute("SELECT * FROM fleetlab_meta.schema_migrations ORDER BY version").fetchall() == before
        assert marker.read(c).fleetlab_version == "0.0.9"


def test_the_bookkeeping_schema_is_not_named_like_a_role_fleetlab_documents():
    """A schema named like the connecting role comes first in the default search_path ("$user", public):
    the platform's unqualified CREATE TABLEs would land in it. compose.yaml's role is the one to avoid."""
    import re
    from pathlib import Path

    from fleetlab.model.tables import BOOKKEEPING_SCHEMA

    root = Path(__file__).resolve().parents[1]
    role = re.search(r"POSTGRES_USER:\s*(\S+)", (root / "compose.yaml").read_text()).group(1)
    assert BOOKKEEPING_SCHEMA not in (role, "postgres", "public")
    assert f"postgresql://{role}:" in (root / "README.md").read_text()  # the URL the README tells people to use
