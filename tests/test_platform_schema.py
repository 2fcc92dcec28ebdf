"""The schema is the real platform's, names included; an older fleetlab database upgrades in place.

The reference (`src/fleetlab/store/platform_schema.json`) is `fleetlab.store.schema.describe()` of a database
built by the platform's own node-pg-migrate migrations.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from fleetlab.errors import MigrationError
from fleetlab.model.tables import WIDTHS
from fleetlab.store import db, marker, migrate
from fleetlab.store.schema import describe, differences, reference

from .test_crypto import v1_token

PLATFORM_INDEXES = {
    "organizations_deleted_at_idx",
    "organizations_name_idx",
    "factories_organization_id_idx",
    "factories_deleted_at_idx",
    "factories_name_idx",
    "gateways_factory_id_idx",
    "gateways_gateway_id_unique_idx",
    "gateways_deleted_at_idx",
    "gateways_last_seen_at_idx",
}


def test_reference_has_the_platforms_names_and_widths():
    ref = reference()
    assert {r[1] for r in ref["indexes"]} - {
        "organizations_pkey",
        "factories_pkey",
        "gateways_pkey",
        "pgmigrations_pkey",  # node-pg-migrate's history: id SERIAL PRIMARY KEY
    } == PLATFORM_INDEXES
    assert ref["columns"]["pgmigrations"] == [  # as node-pg-migrate creates it (and migration 5 does)
        ["id", "integer", True, "nextval('pgmigrations_id_seq'::regclass)"],
        ["name", "character varying(255)", True, None],
        ["run_on", "timestamp without time zone", True, None],
    ]
    assert {r[1] for r in ref["triggers"]} == {
        f"update_{t}_updated_at" for t in ("organizations", "factories", "gateways")
    }
    assert [f[0] for f in ref["functions"]] == ["update_updated_at_column"]
    widths = {
        (t, c[0]): int(c[1].split("(")[1].rstrip(")"))
        for t, cols in ref["columns"].items()
        if t != "pgmigrations"  # node-pg-migrate's, not a table fleetlab writes
        for c in cols
        if c[1].startswith("character varying")
    }
    assert widths == WIDTHS


def test_a_fresh_database_is_the_platforms_schema(conn):
    assert differences(describe(conn)) == []


def test_differences_are_named(conn):
    conn.execute("ALTER INDEX gateways_last_seen_at_idx RENAME TO seen_idx")
    conn.execute("ALTER TABLE factories ALTER COLUMN location TYPE varchar(255)")
    diff = differences(describe(conn))
    conn.rollback()
    assert "column factories.location: character varying(255), platform: character varying(500)" in diff
    assert "index gateways.gateways_last_seen_at_idx: missing" in diff
    assert "index gateways.seen_idx: not in the platform schema" in diff


def test_public_is_compared_whole_and_fleetlabs_own_schema_not_at_all(conn):
    assert sorted(describe(conn)["columns"]) == ["factories", "gateways", "organizations", "pgmigrations"]
    conn.execute("CREATE TABLE fleetlab_meta.notes (x int)")  # fleetlab's schema: not the platform's business
    assert differences(describe(conn)) == []
    conn.execute("ALTER TABLE fleetlab_meta.schema_migrations SET SCHEMA public")  # a table more in public
    conn.execute("DROP TABLE pgmigrations")  # and one less: the platform's db:migrate would start over
    diff = differences(describe(conn))
    conn.rollback()
    assert diff == [
        "table pgmigrations: missing (dropped or renamed?), and with it its constraints, indexes and triggers",
        "table schema_migrations: not in the platform schema",
    ]


@pytest.fixture
def first_three(tmp_path):
    """The migrations a workbench database had before the port: the first three files."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for m in migrate.discover()[:3]:
        shutil.copy(m.path, folder / m.filename)
    return folder


def _old_database(new_db, first_three, model: str = "Siemens SIMATIC IOT2050"):
    url = new_db()
    with db.connect(url, autocommit=True) as c:
        marker.create(c)
        migrate.apply(c, first_three)
        c.execute("INSERT INTO organizations (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'Old Org')")
        c.execute(
            "INSERT INTO factories (id, organization_id, name, location, timezone) VALUES "
            "('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'Old Plant', "
            "'1 Main St', 'Europe/Berlin')"
        )
        c.execute(
            "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model, "
            "firmware_version, created_at, updated_at) VALUES ('00000000-0000-4000-8000-000000000003', "
            "'00000000-0000-4000-8000-000000000002', 'GW-OLD-1', 'Old Gateway', 'https://old:8443', "
            "'old@example.com', %s, %s, '1.3.1', '2025-01-01Z', '2025-01-01Z')",
            (v1_token(bytes(range(32)), "legacy-pw", "00000000-0000-4000-8000-000000000003"), model),
        )
    return url


def test_an_existing_database_upgrades_in_place(new_db, first_three):
    url = _old_database(new_db, first_three)
    with db.connect(url, autocommit=True) as c:
        assert differences(describe(c))  # the old names and widths
        assert [m.filename for m in migrate.apply(c)] == [
            "1707345600004_match_platform_schema.sql",
            "1707345600005_record_platform_migrations.sql",
            "1707345600006_fleetlab_schema.sql",
        ]
        assert differences(describe(c)) == []
        row = c.execute("SELECT gateway_id, model, password_encrypted LIKE 'v1.%', updated_at FROM gateways").fetchone()
        assert row[:3] == ("GW-OLD-1", "Siemens SIMATIC IOT2050", True)
        # the platform's trigger keeps updated_at current
        c.execute("UPDATE gateways SET name = 'Renamed'")
        assert c.execute("SELECT updated_at FROM gateways").fetchone()[0] > datetime(2025, 1, 2, tzinfo=UTC)
        # wider columns now take what the platform's API accepts
        c.execute("UPDATE factories SET location = %s", ("x" * 500,))


def test_values_too_long_for_the_platform_stop_the_upgrade_with_a_hint(new_db, first_three):
    url = _old_database(new_db, first_three, model="M" * 150)
    with db.connect(url, autocommit=True) as c:
        with pytest.raises(MigrationError) as info:
            migrate.apply(c)
        text = str(info.value)
        assert (
            "1707345600004_match_platform_schema.sql" in text and "gateways.model (1 rows over 100 characters)" in text
        )
        assert [a.version for a in migrate.applied(c)] == [m.version for m in migrate.discover()[:3]]
        assert c.execute("SELECT to_regclass('organizations_name_index')").fetchone()[0] is not None  # untouched
