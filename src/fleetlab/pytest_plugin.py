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
each test gets `CREATE DATABASE … TEMPLATE` of it, dropped after the test. The plugin's templates are
counted apart from the workbench's: a test run never evicts those. The server is fleetlab's usual one:
DATABASE_URL's, else the embedded server in FLEETLAB_HOME; FLEETLAB_TEST_DATABASE_URL, when set, wins,
and like a reset it must be on this machine unless FLEETLAB_ALLOW_REMOTE_RESET=1.

Each test session holds an advisory lock of its own run token while it runs; the token is in its test
databases' names, and their COMMENT is sealed by FLEETLAB_HOME (`fleetlab.store.cache.Seal`). A later
session drops the test databases of ours whose run is gone (a run killed by SIGKILL cannot clean up).
Database names carry the token and a template is built under a lock, so pytest-xdist workers share
templates and never databases.

Whatever goes wrong in the plugin fails the test's setup with one line, never a traceback: so no
password or key can show up, not even with `-l`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from .config import Settings
from .config import secrets as configured_secrets
from .dsn import DatabaseURL
from .errors import DatabaseError, FleetlabError, LockTimeout, scrub
from .store import cache, databases, db
from .store.crypto import keyring_for

DEFAULT_AS_OF = "2026-01-01T00:00:00Z"
PREFIX = "fleetlab_test_"
_NAME = re.compile(rf"^{PREFIX}([0-9a-f]{{12}})_\d+$")
MARKER = "@pytest.mark.fleetlab"
_counter = itertools.count()


@dataclass
class FleetlabDB:
    """What `fleetlab_db` gives a test: its own database, seeded with `spec`."""

    url: DatabaseURL  # repr masks the password; `dsn` is the full URL
    conn: psycopg.Connection = field(repr=False)
    settings: Settings = field(repr=False)
    spec: Any
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


@dataclass
class _Run:
    """This test session on the server: its token, and the connection holding its lock."""

    server: DatabaseURL
    token: str
    conn: psycopg.Connection = field(repr=False)
    seal: cache.Seal | None = field(repr=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fleetlab(scenario='default', **fields): the fleet `fleetlab_db` loads (a preset or TOML path, "
        "and FleetSpec.override's fields: organizations, gateways_per_factory, seed, as_of, ...)",
    )


@contextlib.contextmanager
def _plainly(doing: str) -> Iterator[None]:
    """Fail the test (setup) with one scrubbed line instead of the error's traceback and locals."""
    message = None
    try:
        yield
    except (pytest.fail.Exception, pytest.skip.Exception, KeyboardInterrupt):
        raise
    except FleetlabError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure: one line, not a traceback with locals
        message = f"{type(exc).__name__}: {db.first_line(exc)}"
    if message is not None:
        try:
            pytest.fail(f"fleetlab_db: {doing}: {scrub(message, *configured_secrets())}", pytrace=False)
        except pytest.fail.Exception as failed:
            raise failed from None  # not "during handling of the above exception": that would show it


def spec_for(*args: Any, **fields: Any):
    """The fleet a `@pytest.mark.fleetlab(...)` asks for, with as_of pinned. Raises ValueError for
    arguments the marker does not take."""
    from .model.scenarios import load_scenario
    from .model.spec import OVERRIDES

    if len(args) > 1 or (args and "scenario" in fields):
        raise ValueError("takes the scenario as its only positional argument, the rest by name")
    scenario = args[0] if args else fields.pop("scenario", "default")
    if not isinstance(scenario, str) or not scenario:
        raise ValueError(f"scenario must be a preset name or a TOML path, not {scenario!r}")
    unknown = sorted(set(fields) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"takes scenario and {', '.join(OVERRIDES)}, not {', '.join(unknown)}")
    empty = sorted(k for k, v in fields.items() if v is None)
    if empty:
        raise ValueError(f"{', '.join(empty)} cannot be None (leave it out for the default)")
    fields.setdefault("as_of", DEFAULT_AS_OF)
    return load_scenario(scenario).override(**fields)


@pytest.fixture(scope="session")
def fleetlab_settings() -> Settings:
    """fleetlab's settings for the test session (FLEETLAB_TEST_DATABASE_URL over DATABASE_URL)."""
    with _plainly("reading fleetlab's settings"):
        settings = Settings.from_env()
        if settings.test_database_url:
            settings = settings.replace(database_url=settings.test_database_url)
        return settings.replace(cache_entries=max(settings.cache_entries, 1))


@pytest.fixture(scope="session")
def _fleetlab_run(fleetlab_settings: Settings) -> Iterator[_Run]:
    with contextlib.ExitStack() as held:
        with _plainly("reaching the test server"):
            from .store.reset import target

            server = db.maintenance(target(fleetlab_settings))  # the remote-host guard of a reset
            token = secrets.token_hex(6)
            conn = held.enter_context(db.connect(server, autocommit=True))
            held.enter_context(databases.advisory_lock(conn, databases.RUN_LOCK_CLASS, token))
            run = _Run(server, token, conn, cache.Seal.load(fleetlab_settings.home, create=True))
            sweep(run)
        yield run


@pytest.fixture(scope="session")
def fleetlab_server(_fleetlab_run: _Run) -> DatabaseURL:
    """The maintenance URL of the server the test databases are made on."""
    return _fleetlab_run.server


def sweep(run: _Run) -> list[str]:
    """Drop the test databases of ours whose test session is gone; returns their names."""
    if run.seal is None:
        return []
    dropped = []
    rows = run.conn.execute(
        "SELECT datname, oid::bigint, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE starts_with(datname, %s) AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
        (PREFIX,),
    ).fetchall()
    for name, oid, comment in rows:
        m = _NAME.match(name)
        if not m or m.group(1) == run.token or not _sealed(run.seal, name, oid, m.group(1), comment):
            continue
        try:
            with databases.advisory_lock(run.conn, databases.RUN_LOCK_CLASS, m.group(1), wait=0):  # its run is gone
                databases.drop(run.conn, name, run.server, ours="a sealed test database of a finished run")
                dropped.append(name)
        except (LockTimeout, DatabaseError):  # its run is alive, or the drop failed: left for a later run
            pass
    return dropped


def _sealed(seal: cache.Seal, name: str, oid: int, token: str, comment: str | None) -> bool:
    try:
        doc = json.loads(comment or "") if len(comment or "") < 4096 else None
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and seal.verifies(name, oid, {"fleetlab_test": token}, doc.get("seal"))


def template_for(settings: Settings, server: DatabaseURL, spec) -> str:
    """The cache template of `spec` on `server`, built now (once, under a lock) if it is missing."""
    from .generation.fleets import plan
    from .store import migrate
    from .store.reset import reset

    fleet = plan(spec)
    keys = keyring_for(settings, create=True)
    key = cache.key(fleet.scenario, keys.current_id, migrate.fingerprint())
    assert key is not None, "spec_for pins as_of"
    with db.connect(server, autocommit=True) as admin:
        templates = cache.Cache(admin, cache.Seal.load(settings.home, create=True))
        why = "it was dropped meanwhile"
        with databases.advisory_lock(admin, databases.TEMPLATE_LOCK_CLASS, key):
            if templates.lookup(key) is None:
                scratch = server.with_dbname(templates.name_for(key).replace(cache.PREFIX, "fleetlab_tplbuild_")[:34])
                why = reset(settings, fleet, url=scratch, origin="pytest").cache
                databases.drop(admin, scratch.database, scratch, ours="the database this template was built in")
            entry = templates.lookup(key)
            if entry is None:
                raise FleetlabError(f"could not keep a template of {spec.name!r} on {server.where} ({why})")
            templates.touch(entry)
            return entry.name


@pytest.fixture
def fleetlab_db(
    request: pytest.FixtureRequest, fleetlab_settings: Settings, _fleetlab_run: _Run
) -> Iterator[FleetlabDB]:
    """A database of this test's own, seeded with the fleet its `fleetlab` marker asks for (default: the
    platform's own seed), dropped after the test."""
    run = _fleetlab_run
    mark = request.node.get_closest_marker("fleetlab")
    with _plainly(f"{MARKER}{_shown(mark)}"):
        spec = spec_for(*(mark.args if mark else ()), **(mark.kwargs if mark else {}))
    name = f"{PREFIX}{run.token}_{next(_counter)}"
    with _plainly(f"making {name} on {run.server.where}"):
        for attempt in (1, 2):
            template = template_for(fleetlab_settings, run.server, spec)
            try:
                databases.clone(run.conn, template, name)
                break
            except psycopg.errors.InvalidCatalogName:
                if attempt == 2:  # evicted (or cleared) twice between lookup and clone: say so
                    raise
        _seal_test_database(run, name)
        url = run.server.with_dbname(name)
        conn = db.connect(url)
    try:
        yield FleetlabDB(
            url=url,
            conn=conn,
            settings=fleetlab_settings.replace(database_url=url.render(masked=False)),
            spec=spec,
            template=template,
        )
    finally:
        conn.close()
        with _plainly(f"dropping {name}"):
            databases.drop(run.conn, name, url, ours="this test's database")


def _seal_test_database(run: _Run, name: str) -> None:
    if run.seal is None:
        return
    oid = run.conn.execute("SELECT oid::bigint FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]
    doc = {"fleetlab_test": run.token, "seal": run.seal.sign(name, oid, {"fleetlab_test": run.token})}
    run.conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(json.dumps(doc))))


def _shown(mark) -> str:
    if mark is None:
        return ""
    parts = [repr(a) for a in mark.args] + [f"{k}={v!r}" for k, v in mark.kwargs.items()]
    return f"({', '.join(parts)})"
