"""fleetlab's pytest plugin: `fleetlab_db`, a freshly cloned, seeded database for each test.

Installing fleetlab registers it (entry point `pytest11`); nothing to configure:

    def test_active_gateways(fleetlab_db):
        n = fleetlab_db.conn.execute("SELECT count(*) FROM gateways WHERE deleted_at IS NULL").fetchone()[0]
        assert n > 0

    @pytest.mark.fleetlab(scenario="multi-tenant", seed=7, organizations=3)
    def test_tenants(fleetlab_db):
        assert fleetlab_db.read_sql("SELECT * FROM organizations").height == 3

The marker takes a preset name (or a TOML path) and any field `FleetSpec.override` takes (organizations,
factories_per_organization, gateways_per_factory, seed, as_of, locale). Without `as_of`, tests get
2026-01-01T00:00:00Z, so their rows are the same on every run. Each fleet is built once per server into
a template of fleetlab's scenario cache (a later session clones it at once; `fleetlab cache list`), and
each test gets `CREATE DATABASE … TEMPLATE` of it, dropped after the test. The server is fleetlab's
usual one: DATABASE_URL's, else the embedded server in FLEETLAB_HOME; FLEETLAB_TEST_DATABASE_URL, when
set, wins. Database names carry the process id, and a template is built under a lock, so pytest-xdist
workers share templates and never databases.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from .model.scenarios import load_scenario
from .model.spec import FleetSpec
from .store import cache, db
from .store.config import Settings
from .store.dsn import DatabaseURL

DEFAULT_AS_OF = "2026-01-01T00:00:00Z"
TEMPLATE_LOCK_CLASS = 0x666D  # advisory lock namespace: building one cache template
_counter = itertools.count()


@dataclass
class FleetlabDB:
    """What `fleetlab_db` gives a test: its own database, seeded with `spec`."""

    url: DatabaseURL  # repr masks the password; `dsn` is the full URL
    conn: psycopg.Connection = field(repr=False)
    settings: Settings = field(repr=False)
    spec: FleetSpec
    template: str

    @property
    def dsn(self) -> str:
        return self.url.render(masked=False)

    @property
    def name(self) -> str:
        return self.url.database

    def read_sql(self, query: str, params: Any = None):
        """The query's rows as a polars DataFrame (read-only, as `fleetlab.read_sql`)."""
        from .read.query import read_sql

        return read_sql(query, url=self.url, params=params)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fleetlab(scenario='default', **fields): the fleet `fleetlab_db` loads (a preset or TOML path, "
        "and FleetSpec.override's fields: organizations, gateways_per_factory, seed, as_of, ...)",
    )


def spec_for(scenario: str = "default", **fields: Any) -> FleetSpec:
    """The fleet a `@pytest.mark.fleetlab(...)` asks for, with as_of pinned."""
    fields.setdefault("as_of", DEFAULT_AS_OF)
    return load_scenario(scenario).override(**fields)


@pytest.fixture(scope="session")
def fleetlab_settings() -> Settings:
    """fleetlab's settings for the test session (FLEETLAB_TEST_DATABASE_URL over DATABASE_URL)."""
    settings = Settings.from_env()
    if settings.test_database_url:
        settings = settings.replace(database_url=settings.test_database_url)
    return settings.replace(cache_entries=max(settings.cache_entries, 1))


@pytest.fixture(scope="session")
def fleetlab_server(fleetlab_settings: Settings) -> DatabaseURL:
    """The maintenance URL of the server the test databases are made on."""
    return db.maintenance(db.resolve(fleetlab_settings))


def template_for(settings: Settings, server: DatabaseURL, spec: FleetSpec) -> str:
    """The cache template of `spec` on `server`, built now (once, under a lock) if it is missing."""
    from .build.fleets import plan
    from .store import migrate
    from .store.reset import reset

    fleet = plan(spec)
    keys = settings.keyring(create=True)
    key = cache.key(fleet.scenario, keys.current_id, migrate.fingerprint())
    assert key is not None, "spec_for pins as_of"
    with db.connect(server, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (TEMPLATE_LOCK_CLASS, key))
        try:
            if cache.lookup(admin, key) is None:
                scratch = server.with_dbname(f"fleetlab_tplbuild_{key[:16]}")
                reset(settings.replace(database_url=scratch.render(masked=False)), fleet, url=scratch)
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch.database)))
            entry = cache.lookup(admin, key)
            if entry is None:
                raise RuntimeError(f"fleetlab could not keep a template of {spec.name!r} on {server.where}")
            cache.touch(admin, entry)
            return entry.name
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (TEMPLATE_LOCK_CLASS, key))


@pytest.fixture
def fleetlab_db(request: pytest.FixtureRequest, fleetlab_settings: Settings, fleetlab_server: DatabaseURL
                ) -> Iterator[FleetlabDB]:
    """A database of this test's own, seeded with the fleet its `fleetlab` marker asks for (default: the
    platform's own seed), dropped after the test."""
    mark = request.node.get_closest_marker("fleetlab")
    args, kwargs = (mark.args, mark.kwargs) if mark else ((), {})
    spec = spec_for(*args, **kwargs)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"fleetlab_test_{worker}_{os.getpid()}_{next(_counter)}"
    for attempt in (1, 2):
        template = template_for(fleetlab_settings, fleetlab_server, spec)
        with db.connect(fleetlab_server, autocommit=True) as admin:
            try:
                cache.clone(admin, template, name)
                break
            except psycopg.errors.UndefinedDatabase:
                if attempt == 2:  # evicted (or cleared) twice between lookup and clone: say so
                    raise
    url = fleetlab_server.with_dbname(name)
    try:
        with db.connect(url) as conn:
            yield FleetlabDB(url=url, conn=conn, settings=fleetlab_settings.replace(database_url=url.render(masked=False)),
                             spec=spec, template=template)
    finally:
        with db.connect(fleetlab_server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
