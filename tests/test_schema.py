"""The schema matches the original system's specification, checked against the live catalog."""

from __future__ import annotations

import time

import psycopg
import pytest

from fleetlab.model.tables import WIDTHS

COMMON = {
    "id": ("uuid", "NO", "gen_random_uuid()"),
    "metadata": ("jsonb", "NO", "'{}'::jsonb"),
    "created_at": ("timestamp with time zone", "NO", "now()"),
    "updated_at": ("timestamp with time zone", "NO", "now()"),
    "deleted_at": ("timestamp with time zone", "YES", None),
}
EXPECTED = {
    "organizations": {**COMMON, "name": ("character varying", "NO", None)},
    "factories": {
        **COMMON,
        "organization_id": ("uuid", "NO", None),
        "name": ("character varying", "NO", None),
        "location": ("character varying", "YES", None),
        "timezone": ("character varying", "NO", "'UTC'::character varying"),
    },
    "gateways": {
        **COMMON,
        "factory_id": ("uuid", "NO", None),
        "gateway_id": ("character varying", "NO", None),
        "name": ("character varying", "NO", None),
        "url": ("character varying", "NO", None),
        "email": ("character varying", "NO", None),
        "password_encrypted": ("text", "NO", None),
        "model": ("character varying", "YES", None),
        "firmware_version": ("character varying", "YES", None),
        "last_seen_at": ("timestamp with time zone", "YES", None),
    },
}


@pytest.mark.parametrize("table", list(EXPECTED))
def test_columns_types_nullability_defaults(conn, table):
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    ).fetchall()
    got = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert got == EXPECTED[table]
    widths = {name: length for name, _, _, _, length in rows if length is not None}
    assert widths == {c: w for (t, c), w in WIDTHS.items() if t == table}  # the platform's: 500, 100, 50 ...


def _indexes(conn, table):
    return {
        r[0]: r[1]
        for r in conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)).fetchall()
    }


def test_indexes_including_partial_ones(conn):
    org = _indexes(conn, "organizations")
    assert any("(name)" in d for d in org.values())
    assert any("WHERE (deleted_at IS NULL)" in d for d in org.values())
    fac = _indexes(conn, "factories")
    assert any("(organization_id)" in d for d in fac.values())
    assert any("(name)" in d for d in fac.values())
    assert any("WHERE (deleted_at IS NULL)" in d for d in fac.values())
    gw = _indexes(conn, "gateways")
    assert any("(factory_id)" in d for d in gw.values())
    assert any("(last_seen_at)" in d for d in gw.values())
    unique = [d for d in gw.values() if "UNIQUE" in d and "(gateway_id)" in d]
    assert unique and all("WHERE (deleted_at IS NULL)" in d for d in unique)
    assert any("(deleted_at)" in d and "WHERE (deleted_at IS NULL)" in d and "UNIQUE" not in d for d in gw.values())


def test_foreign_keys_cascade(conn):
    rows = conn.execute(
        """SELECT conrelid::regclass::text, confrelid::regclass::text, confdeltype
           FROM pg_constraint WHERE contype = 'f' ORDER BY 1"""
    ).fetchall()
    assert rows == [("factories", "organizations", "c"), ("gateways", "factories", "c")]


def _org_factory_gateway(conn, gateway_id="GW-1"):
    org = conn.execute("INSERT INTO organizations (name) VALUES ('O') RETURNING id").fetchone()[0]
    fac = conn.execute(
        "INSERT INTO factories (organization_id, name) VALUES (%s, 'F') RETURNING id", (org,)
    ).fetchone()[0]
    gw = conn.execute(
        "INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted) "
        "VALUES (%s, %s, 'G', 'https://g', 'g@x.com', 'v1.x.y') RETURNING id",
        (fac, gateway_id),
    ).fetchone()[0]
    return org, fac, gw


def test_defaults_fill_in(conn):
    org, fac, gw = _org_factory_gateway(conn)
    row = conn.execute(
        "SELECT metadata, created_at = updated_at, deleted_at FROM organizations WHERE id = %s", (org,)
    ).fetchone()
    assert row == ({}, True, None)
    assert conn.execute("SELECT timezone, location FROM factories WHERE id = %s", (fac,)).fetchone() == ("UTC", None)
    assert str(org).count("-") == 4  # gen_random_uuid() without any extension


def test_delete_cascades_down(conn):
    org, fac, gw = _org_factory_gateway(conn)
    conn.execute("DELETE FROM organizations WHERE id = %s", (org,))
    assert conn.execute("SELECT count(*) FROM factories").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == 0


def test_orphans_rejected(conn):
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("INSERT INTO factories (organization_id, name) VALUES (gen_random_uuid(), 'F')")


@pytest.mark.parametrize("table", ["organizations", "factories", "gateways"])
def test_trigger_moves_updated_at(db_url, table):
    from fleetlab.store import db

    with db.connect(db_url, autocommit=True) as c:
        _org_factory_gateway(c)
        before = c.execute(f"SELECT updated_at, created_at FROM {table}").fetchone()
        time.sleep(0.01)  # now() is the transaction start: the update runs in a later one
        c.execute(f"UPDATE {table} SET metadata = '{{\"touched\": true}}'")
        after = c.execute(f"SELECT updated_at, created_at FROM {table}").fetchone()
    assert after[0] > before[0]
    assert after[1] == before[1]


def test_one_shared_trigger_function(conn):
    """The platform's names: update_updated_at_column(), and update_<table>_updated_at on each table."""
    funcs = conn.execute("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace").fetchall()
    triggers = conn.execute(
        "SELECT tgrelid::regclass::text, tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE p.proname = 'update_updated_at_column' AND NOT tgisinternal ORDER BY 1"
    ).fetchall()
    assert funcs == [("update_updated_at_column",)]
    assert triggers == [(t, f"update_{t}_updated_at") for t in ("factories", "gateways", "organizations")]


def test_active_gateway_id_unique_but_reusable_after_soft_delete(conn):
    _, fac, gw = _org_factory_gateway(conn, "GW-SAME")
    insert = (
        "INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted) "
        "VALUES (%s, 'GW-SAME', 'G2', 'https://g2', 'g2@x.com', 'v1.x.y')"
    )
    conn.execute("SAVEPOINT s")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(insert, (fac,))
    conn.execute("ROLLBACK TO SAVEPOINT s")
    conn.execute("UPDATE gateways SET deleted_at = now() WHERE id = %s", (gw,))
    conn.execute(insert, (fac,))
    assert conn.execute("SELECT count(*) FROM gateways WHERE gateway_id = 'GW-SAME'").fetchone()[0] == 2


def test_no_extension_needed(conn):
    exts = [r[0] for r in conn.execute("SELECT extname FROM pg_extension").fetchall()]
    assert exts == ["plpgsql"]
