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

Tests that do not commit may ask for `fleetlab_tx` instead: the same fleet in a database shared by the
session's tests of that fleet, through one connection inside a transaction rolled back after each test
(about a millisecond a test; `read_sql` reads through a connection of its own, so it sees the fleet, not
the test's uncommitted writes).

A session looks each fleet's template up once (checked as ours then; cloned by name afterwards, and a
template dropped and made again under that name is told by its oid and never served), clones a template
under 64 MB through the WAL and a bigger one as files (`databases.clone`), drops a test's database in a
thread of its own while the next test's is made (`runs.Dropper`; the session waits for the drops at its
end), and records its clones in the template's record once, when it ends.

Each test session holds an advisory lock of its own run token while it runs; the token is in its test
databases' names, and their COMMENT is sealed by FLEETLAB_HOME (`fleetlab.store.cache.Seal`). A later
session drops the test databases of ours whose run is gone (a run killed by SIGKILL cannot clean up).
Database names carry the token and a template is built under a lock, so pytest-xdist workers share
templates and never databases.

With `--fleetlab-keep-failed`, a failed test's database is kept for a look instead of dropped (as
pgtestdb does): renamed `fleetlab_kept_…`, sealed as kept, and listed with its URL (password masked) at
the end of the run; a later run leaves it, `fleetlab cache clear` drops it.

Whatever goes wrong in the plugin fails the test's setup with one line, never a traceback: so no
password or key can show up, not even with `-l`.
"""

from __future__ import annotations

import contextlib
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from .config import Settings
from .config import secrets as configured_secrets
from .dsn import DatabaseURL
from .errors import FleetlabError, scrub
from .store import cache, databases, db, runs
from .store.runs import PREFIX, sweep  # noqa: F401 - the plugin's names for them

DEFAULT_AS_OF = "2026-01-01T00:00:00Z"
MARKER = "@pytest.mark.fleetlab"
_REPORTS = pytest.StashKey[dict]()  # a test's reports by phase (setup, call, teardown)
_KEPT = pytest.StashKey[list]()  # (test id, masked URL) of the databases kept after a failure


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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fleetlab")
    group.addoption(
        "--fleetlab-keep-failed",
        action="store_true",
        default=False,
        help="keep a failed test's fleetlab_db database for a look (listed at the end; `fleetlab cache clear` "
        "drops it)",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    kept = config.stash.get(_KEPT, [])
    if kept:
        terminalreporter.section("fleetlab: databases kept after a failure")
        for nodeid, url in kept:
            terminalreporter.write_line(f"{nodeid}: {url}")
        terminalreporter.write_line("(a later run leaves them; `fleetlab cache clear` drops them)")


def _failed(item: pytest.Item) -> bool:
    return any(r.failed for r in item.stash.get(_REPORTS, {}).values())


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
def _fleetlab_run(fleetlab_settings: Settings) -> Iterator[runs.Run]:
    with contextlib.ExitStack() as held:
        with _plainly("reaching the test server"):
            from .store.reset import target

            server = db.maintenance(target(fleetlab_settings))  # the remote-host guard of a reset
            token = secrets.token_hex(6)
            conn = held.enter_context(db.connect(server, autocommit=True))
            held.enter_context(databases.advisory_lock(conn, databases.RUN_LOCK_CLASS, token))
            run = runs.Run(server, token, conn, cache.Seal.load(fleetlab_settings.home, create=True))
            runs.sweep(run)
        yield run
        failed = run.finish_drops()
        run.drop_shared()
        run.record_hits()
        if failed:
            warnings.warn(
                f"fleetlab_db: {len(failed)} test database(s) could not be dropped (the next run sweeps them): "
                + scrub("; ".join(failed[:3]), *configured_secrets()),
                stacklevel=1,
            )


@pytest.fixture(scope="session")
def fleetlab_server(_fleetlab_run: runs.Run) -> DatabaseURL:
    """The maintenance URL of the server the test databases are made on."""
    return _fleetlab_run.server


@pytest.fixture
def fleetlab_db(
    request: pytest.FixtureRequest, fleetlab_settings: Settings, _fleetlab_run: runs.Run
) -> Iterator[FleetlabDB]:
    """A database of this test's own, seeded with the fleet its `fleetlab` marker asks for (default: the
    platform's own seed), dropped after the test."""
    run = _fleetlab_run
    spec = _spec_of(request)
    made = _make_database(run, fleetlab_settings, spec)
    try:
        yield made
    finally:
        made.conn.close()
        if request.config.getoption("fleetlab_keep_failed") and _failed(request.node):
            with _plainly(f"keeping {made.name}"):
                url, renamed = run.keep(made.name)
                note = "" if renamed else " (still in use: kept under its name until the next run)"
                request.config.stash.setdefault(_KEPT, []).append((request.node.nodeid, f"{url}{note}"))
        else:
            run.drop_later(made.name)  # while the next test's database is made


@pytest.fixture
def fleetlab_tx(
    request: pytest.FixtureRequest, fleetlab_settings: Settings, _fleetlab_run: runs.Run
) -> Iterator[FleetlabDB]:
    """Opt-in, for tests that do not commit: the fleet the marker asks for, in a database the session's
    tests of the same fleet share, through one connection inside a transaction rolled back after the test
    (about a millisecond per test, no database made). `conn.commit()` fails there (psycopg forbids it in a
    transaction block); a test that ends the transaction itself (a COMMIT statement) gets a warning, and the
    next test a fresh database. Tests that commit, or connect on their own, use `fleetlab_db`."""
    run = _fleetlab_run
    spec = _spec_of(request)
    shared = run.shared.get(spec)
    if shared is None or shared.conn.closed:
        shared = run.shared[spec] = _make_database(run, fleetlab_settings, spec)
    conn = shared.conn
    held = contextlib.ExitStack()
    with _plainly("beginning the test's transaction"):
        held.enter_context(conn.transaction(force_rollback=True))
    try:
        yield shared
    finally:
        closed = conn.closed
        committed = not closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with contextlib.suppress(psycopg.Error):
            held.close()  # ROLLBACK
        if closed or committed:  # the test closed the connection, or ended the transaction itself: start afresh
            run.shared.pop(spec, None)
            conn.close()
            with _plainly(f"dropping {shared.name}"):
                databases.drop(run.conn, shared.name, shared.url, ours="a database fleetlab_tx's tests shared")
        if committed:
            warnings.warn(
                f"fleetlab_tx: {request.node.nodeid} ended its transaction itself (a COMMIT?), so what it wrote "
                "may have been kept: its database was dropped, the next test gets a new one. Tests that commit "
                "use fleetlab_db.",
                stacklevel=1,
            )


def _spec_of(request: pytest.FixtureRequest):
    mark = request.node.get_closest_marker("fleetlab")
    with _plainly(f"{MARKER}{_shown(mark)}"):
        return spec_for(*(mark.args if mark else ()), **(mark.kwargs if mark else {}))


def _make_database(run: runs.Run, settings: Settings, spec) -> FleetlabDB:
    """A clone of the template of `spec`, sealed as this run's, with a connection to it."""
    name = run.next_name()
    with _plainly(f"making {name} on {run.server.where}"):
        url, conn, template = run.make(name, settings, spec)
    return FleetlabDB(
        url=url,
        conn=conn,
        settings=settings.replace(database_url=url.render(masked=False)),
        spec=spec,
        template=template,
    )


def _shown(mark) -> str:
    if mark is None:
        return ""
    parts = [repr(a) for a in mark.args] + [f"{k}={v!r}" for k, v in mark.kwargs.items()]
    return f"({', '.join(parts)})"
