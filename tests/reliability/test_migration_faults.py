"""Section 3 — migrations: drift refused by file name; a failing statement rolls its migration back whole."""

from __future__ import annotations

import shutil

import pytest

from fleetlab.errors import MigrationError
from fleetlab.store import db, migrate

from .harness import content_hash, observe

FIRST, SECOND, THIRD = sorted(p.name for p in migrate.MIGRATIONS_DIR.glob("*.sql"))[:3]


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, d)
    return d


@pytest.fixture
def migrated(new_db, folder):
    url = new_db()
    with db.connect(url, autocommit=True) as c:
        migrate.apply(c, folder)
    return url


def _refused(url, folder, *names):
    before = content_hash(url)
    with db.connect(url, autocommit=True) as c:
        with pytest.raises(MigrationError) as exc:
            migrate.apply(c, folder)
        st = migrate.status(c, folder)
    for name in names:
        assert name in str(exc.value), str(exc.value)
        assert any(name in d for d in st.drift), st.drift
    assert content_hash(url) == before
    return str(exc.value)


def test_edited_applied_migration_is_refused(migrated, folder):
    (folder / SECOND).write_text((folder / SECOND).read_text() + "\n-- an innocent edit\n")
    assert "changed" in _refused(migrated, folder, SECOND)


def test_deleted_applied_migration_is_refused(migrated, folder):
    (folder / THIRD).unlink()
    assert "missing" in _refused(migrated, folder, THIRD)


def test_new_migration_ordered_before_an_applied_one_is_refused(migrated, folder):
    (folder / "1707345600000_sneak_in.sql").write_text("CREATE TABLE sneaky (id int);")
    assert "ordered before" in _refused(migrated, folder, "1707345600000_sneak_in.sql")


def test_renumbered_applied_migration_is_refused(migrated, folder):
    (folder / THIRD).rename(folder / THIRD.replace("1707345600003", "1707345600009"))
    _refused(migrated, folder, THIRD)


def test_failing_statement_rolls_the_migration_back_whole(migrated, folder):
    (folder / "1707345600090_add_sites.sql").write_text(
        "CREATE TABLE sites (id int PRIMARY KEY);\n"
        "INSERT INTO sites VALUES (1);\n"
        "ALTER TABLE gateways ADD COLUMN site_id int;\n"
        "SELECT 1 / 0;\n"
        "CREATE TABLE never (id int);\n"
    )
    before = content_hash(migrated)
    with db.connect(migrated, autocommit=True) as c:
        with pytest.raises(MigrationError) as exc:
            migrate.apply(c, folder)
        assert "1707345600090_add_sites.sql" in str(exc.value) and "division by zero" in str(exc.value)
        assert c.execute("SELECT to_regclass('sites')").fetchone()[0] is None
    assert content_hash(migrated) == before
    # fixed, it applies exactly once
    (folder / "1707345600090_add_sites.sql").write_text("CREATE TABLE sites (id int PRIMARY KEY);\n")
    with db.connect(migrated, autocommit=True) as c:
        assert [m.filename for m in migrate.apply(c, folder)] == ["1707345600090_add_sites.sql"]
        assert migrate.apply(c, folder) == []
        rows, distinct = c.execute(
            "SELECT count(*), count(DISTINCT version) FROM fleetlab_meta.schema_migrations"
        ).fetchone()
    observe("double_applied_migrations", rows - distinct)
    assert rows == distinct == len(migrate.discover()) + 1


def test_earlier_migrations_of_a_run_stay_applied_when_a_later_one_fails(new_db, folder):
    (folder / "1707345600090_ok.sql").write_text("CREATE TABLE fine (id int);")
    (folder / "1707345600091_broken.sql").write_text("CREATE TABLE broken (id int); CREATE TABLE broken (id int);")
    url = new_db()
    with db.connect(url, autocommit=True) as c:
        with pytest.raises(MigrationError, match="1707345600091_broken.sql"):
            migrate.apply(c, folder)
        versions = [a.version for a in migrate.applied(c)]
        assert versions == [*(m.version for m in migrate.discover()), 1707345600090]
        assert c.execute("SELECT to_regclass('broken')").fetchone()[0] is None
