"""Real PostgreSQL for every test: migrate once into a template, clone it per test.

The server is `scripts/suite_server.py`'s: TEST_DATABASE_URL's, else fleetlab's embedded one in a data
folder of this checkout's own (never the workbench's; two clones never share one), stopped at the end
of the session that started it.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg
import pytest
import suite_server

from fleetlab.config import Settings
from fleetlab.dsn import DatabaseURL
from fleetlab.store import databases, db, marker, migrate

ROOT = suite_server.ROOT
TEST_KEY = suite_server.TEST_KEY
_counter = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    suite_server.start_for_session(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    suite_server.stop_for_session(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `server` every test that reaches the test server: every database fixture here starts from
    `server_url`, so a test that has it among its fixtures (directly or through another) is one. .ci/run's
    second pass, against another server, runs only these (`-m server`); a test that reaches the test
    server another way must use `server_url` or be marked `@pytest.mark.server` itself (the notebook
    snapshots' plugin marks its cells). Tests that start an embedded server of their own are not marked:
    on the second pass they would run against the same embedded server again."""
    for item in items:
        if "server_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)
    # the longest files first: xdist hands out whole files in this order, so the two workers end together
    # instead of one finishing a long browser file alone while the other waits
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


# the files that take longest (`pytest --durations`), longest first
LONGEST_FIRST = (
    "tests/test_browser.py",
    "tests/test_notebooks.py",
    "tests/reliability/test_hostile_plugin.py",
    "tests/reliability/test_kill_points.py",
    "tests/test_pytest_plugin.py",
    "tests/reliability/test_wrong_target.py",
    "tests/reliability/test_bad_input.py",
    "tests/test_parallel.py",
    "tests/reliability/test_server_identity.py",
)


@pytest.fixture(scope="session")
def server_url():
    """The maintenance URL of the server the tests use (TEST_DATABASE_URL's, else the embedded one,
    which the session stops at the end if it started it)."""
    with suite_server.maintenance_url() as url:
        yield url


OURS = "a database of this test session"  # the suite's names carry its pid: another session's are never these


def _create(admin: psycopg.Connection, name: str, template: str | None = None) -> None:
    databases.drop(admin, name, ours=OURS)  # left by a killed session of the same pid
    databases.create(admin, name, template=template)


@pytest.fixture(scope="session")
def admin(server_url: DatabaseURL):
    with db.connect(server_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def template_db(admin: psycopg.Connection, server_url: DatabaseURL):
    """A migrated, marked, empty database to clone; one per test session (named by pid)."""
    name = f"fltest_tpl_{os.getpid()}"
    _create(admin, name)
    with db.connect(server_url.with_dbname(name), autocommit=True) as conn:
        marker.create(conn)
        migrate.apply(conn)
    yield name
    databases.drop(admin, name, ours=OURS)


@pytest.fixture
def new_db(admin: psycopg.Connection, server_url: DatabaseURL):
    """A factory of fresh database names on the test server (dropped afterwards)."""
    names: list[str] = []

    def make(template: str | None = None, *, create: bool = True) -> DatabaseURL:
        name = f"fltest_{os.getpid()}_{next(_counter)}"
        names.append(name)
        if create:
            _create(admin, name, template)
        return server_url.with_dbname(name)

    yield make
    for name in names:
        databases.drop(admin, name, ours=OURS)
        databases.drop(admin, databases.build_name(name), ours=OURS)


@pytest.fixture
def db_url(new_db, template_db) -> DatabaseURL:
    """A freshly cloned, migrated, empty fleetlab database."""
    return new_db(template_db)


@pytest.fixture
def conn(db_url: DatabaseURL):
    with db.connect(db_url) as c:
        yield c


@pytest.fixture
def settings(db_url: DatabaseURL, tmp_path: Path) -> Settings:
    """Settings pointing at the cloned database, with a fixed test key; the scenario cache is off (its
    templates would outlive the test: tests/test_cache.py turns it on and clears what it made)."""
    return Settings(
        database_url=db_url.render(masked=False), home=tmp_path / "home", secret_key=TEST_KEY, cache_entries=0
    )


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the CLI in a subprocess against the cloned database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=settings.database_url or "",
        FLEETLAB_HOME=str(settings.home),
        FLEETLAB_SECRET_KEY=TEST_KEY,
        FLEETLAB_CACHE_ENTRIES="0",
    )
    return env


@pytest.fixture(scope="session")
def fleetlab_settings(server_url: DatabaseURL, tmp_path_factory, admin):
    """The pytest plugin's `fleetlab_db` on the test server, with the test key; the cache templates it
    makes are dropped at the end of the session."""
    # one FLEETLAB_HOME for every xdist worker of the session, as a project's own runs have: the workers
    # then share the plugin's templates (another home's templates are "not ours")
    home = (
        tmp_path_factory.getbasetemp().parent / "plugin-home"
        if os.environ.get("PYTEST_XDIST_WORKER")
        else tmp_path_factory.mktemp("plugin-home")
    )
    yield Settings(
        database_url=server_url.with_dbname("fleetlab_plugin").render(masked=False), home=home, secret_key=TEST_KEY
    )
    drop_templates(admin, home)


def drop_templates(admin: psycopg.Connection, home: Path, keep: set[str] = frozenset()) -> None:
    """Drop the scenario cache templates that FLEETLAB_HOME `home` made on the test server (but `keep`)."""
    from fleetlab.store import cache

    templates = cache.Cache(admin, cache.Seal.load(home, create=False))
    for entry in templates.entries():
        if entry.ours and entry.name not in keep:
            templates.drop(entry)
