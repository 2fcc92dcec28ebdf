"""Fixtures of the reliability suite: a seeded workbench database and the CLI's environment."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from psycopg import sql

from fleetlab.generation.acme import acme_fleet
from fleetlab.store.databases import drop as drop_database
from fleetlab.store.reset import reset

from .harness import base_env

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def env(settings) -> dict[str, str]:
    """The CLI's environment: DATABASE_URL at the test's database, a fixed key, no PG* variables."""
    return base_env(
        DATABASE_URL=settings.database_url,
        FLEETLAB_HOME=str(settings.home),
        FLEETLAB_SECRET_KEY=settings.secret_key,
        FLEETLAB_LOCK_TIMEOUT="5",
        FLEETLAB_CACHE_ENTRIES="0",  # the scenario cache's own faults are in tests/test_cache.py
    )


@pytest.fixture
def seeded(settings, db_url):
    """The test's database, reset with the default fleet (the 'previous data' of the fault tests)."""
    reset(settings, acme_fleet(AS_OF))
    return db_url


@pytest.fixture
def alice(admin):
    """Another role on the server, with CREATEDB, as on a shared development server."""
    name = f"fltest_alice_{os.getpid()}"
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(name)))
    yield name
    for (db_name,) in admin.execute(
        "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)", (name,)
    ).fetchall():
        drop_database(admin, db_name, ours="made by this test's other role")
    admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
