"""Hostile trials of the pytest plugin: secrets kept out of every output, the remote-host guard, bad
marker arguments, killed runs swept, and the workbench's templates never evicted by a test run."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest
from psycopg import sql

from fleetlab.errors import FleetlabError
from fleetlab.store import cache
from fleetlab.store import runs as store_runs
from fleetlab.store.databases import RUN_LOCK_CLASS, advisory_lock
from fleetlab.store.databases import create as create_database
from fleetlab.store.databases import drop as drop_database

from ..conftest import TEST_KEY, drop_templates
from .harness import base_env, cli, databases, observe

PASSWORD = "pl4gin-s3cret-" + "x" * 8  # the test servers trust local connections: any password connects
SEED = 400_000 + os.getpid() % 100_000


def _pytest(project, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(project), *args]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)


def _env(tmp_path, url: str, **extra: str) -> dict[str, str]:
    env = base_env(
        FLEETLAB_TEST_DATABASE_URL=url, FLEETLAB_HOME=str(tmp_path / "home"), FLEETLAB_SECRET_KEY=TEST_KEY, **extra
    )
    return {k: v for k, v in env.items() if not k.startswith("PYTEST_")}


def _project(tmp_path, text: str):
    project = tmp_path / "their_project"
    project.mkdir(exist_ok=True)
    (project / "test_theirs.py").write_text(textwrap.dedent(text))
    return project


def _leaks(proc: subprocess.CompletedProcess, *secrets: str) -> list[str]:
    out = proc.stdout + proc.stderr
    return [s for s in secrets if s in out]


BAD_MARKERS = """
    import pytest

    @pytest.mark.fleetlab(as_of=None)
    def test_as_of_none(fleetlab_db):
        pass

    @pytest.mark.fleetlab(scenario=None)
    def test_scenario_none(fleetlab_db):
        pass

    @pytest.mark.fleetlab("default", "multi-tenant")
    def test_two_positional(fleetlab_db):
        pass

    @pytest.mark.fleetlab(organisations=3)
    def test_misspelt(fleetlab_db):
        pass

    def test_a_query_that_fails(fleetlab_db):
        fleetlab_db.read_sql("SELECT * FROM no_such_table")

    def test_a_failing_assert(fleetlab_db):
        url = fleetlab_db.url
        assert fleetlab_db.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == 7
"""


def test_no_secret_in_any_output_and_bad_markers_fail_in_one_line(tmp_path, server_url, admin):
    planted = f"{cache.PREFIX}junk_{os.getpid()}"  # a malformed "template" on the server breaks nothing
    create_database(admin, planted)
    admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(planted), sql.Literal("[" * 50_000)))
    project = _project(tmp_path, BAD_MARKERS)
    url = replace(server_url.with_dbname("theirs"), password=PASSWORD).render(masked=False)
    try:
        proc = _pytest(project, _env(tmp_path, url), "-l", "--tb=long", "-rA")
    finally:
        drop_database(admin, planted, ours="planted by this test")
        drop_templates(admin, tmp_path / "home")
    observe("bad_inputs_tried", 6)
    leaked = _leaks(proc, PASSWORD, TEST_KEY)
    observe("secrets_leaked", len(leaked))
    assert not leaked, proc.stdout[-4000:]
    assert "4 errors" in proc.stdout and "2 failed" in proc.stdout, proc.stdout[-4000:]
    for test, said in [
        ("test_as_of_none", "as_of cannot be None"),
        ("test_scenario_none", "scenario must be"),
        ("test_two_positional", "only positional argument"),
        ("test_misspelt", "not organisations"),
    ]:
        section = proc.stdout.split(f"ERROR at setup of {test} ")[1].split("\n_____")[0].split("\n=====")[0]
        lines = [ln for ln in section.splitlines()[1:] if ln.strip()]
        assert len(lines) == 1 and "fleetlab_db: @pytest.mark.fleetlab(" in lines[0] and said in lines[0], section
    assert "no_such_table" in proc.stdout  # the query's own failure is shown, with its locals, and no secret


@pytest.mark.parametrize(
    ("case", "url", "said"),
    [
        ("unreachable", f"postgresql://someone:{PASSWORD}@127.0.0.1:1/theirs", "cannot connect to PostgreSQL"),
        ("remote", f"postgresql://someone:{PASSWORD}@db.example.invalid/theirs", "the host is not this machine"),
        ("not a url", f"postgres:/{PASSWORD}@nowhere", ""),
    ],
)
def test_a_plugin_that_cannot_start_says_so_in_one_line(tmp_path, case, url, said):
    project = _project(tmp_path, "def test_it(fleetlab_db):\n    pass\n")
    proc = _pytest(project, _env(tmp_path, url), "-l", "--tb=long")
    assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout[-3000:]
    assert not _leaks(proc, PASSWORD, TEST_KEY), proc.stdout[-3000:]
    error = [ln for ln in proc.stdout.splitlines() if "fleetlab_db:" in ln]
    assert error and said in error[0], proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout and "fleetlab/pytest_plugin.py" not in proc.stdout, proc.stdout[-3000:]


def test_bad_settings_fail_in_one_line(tmp_path, server_url):
    project = _project(tmp_path, "def test_it(fleetlab_db):\n    pass\n")
    url = replace(server_url.with_dbname("theirs"), password=PASSWORD).render(masked=False)
    proc = _pytest(project, _env(tmp_path, url, FLEETLAB_LOCK_TIMEOUT="soon"), "-l", "--tb=long")
    assert proc.returncode == 1 and "FLEETLAB_LOCK_TIMEOUT must be a number" in proc.stdout, proc.stdout[-3000:]
    assert not _leaks(proc, PASSWORD, TEST_KEY) and "Traceback" not in proc.stdout


KILLED = """
    import os, signal
    def test_killed(fleetlab_db):
        open(os.environ["WHERE"], "w").write(fleetlab_db.name)
        os.kill(os.getpid(), signal.SIGKILL)
"""
LATER = f"""
    import pytest

    @pytest.mark.fleetlab(scenario="multi-tenant", organizations=2, seed={SEED})
    def test_one(fleetlab_db):
        assert fleetlab_db.read_sql("SELECT * FROM organizations").height == 2

    @pytest.mark.fleetlab(scenario="multi-tenant", organizations=2, seed={SEED + 1})
    def test_two(fleetlab_db):
        assert fleetlab_db.read_sql("SELECT * FROM organizations").height == 2
"""


def test_a_killed_runs_databases_are_swept_and_the_workbenchs_templates_kept(tmp_path, server_url, admin, new_db):
    home = tmp_path / "home"
    # the workbench's own template, in the same FLEETLAB_HOME, on the same server
    workbench = new_db(create=False)
    wb_env = base_env(
        DATABASE_URL=workbench.render(masked=False),
        FLEETLAB_HOME=str(home),
        FLEETLAB_SECRET_KEY=TEST_KEY,
        FLEETLAB_CACHE_ENTRIES="1",
    )
    made = cli(["reset", "--yes", "--seed", str(SEED + 2), "--as-of", "2026-01-01T00:00:00Z"], wb_env)
    assert made.returncode == 0 and "kept as" in made.stdout, made.output
    kept = made.stdout.split(" kept as ")[1].split()[0]

    where = tmp_path / "name.txt"
    url = server_url.with_dbname("theirs").render(masked=False)
    try:
        killed = _pytest(_project(tmp_path, KILLED), {**_env(tmp_path, url), "WHERE": str(where)}, "-q")
        assert killed.returncode == -9, killed.stdout[-3000:]
        left = where.read_text()
        assert left in databases(server_url)  # what a killed run leaves

        later = _pytest(_project(tmp_path, LATER), _env(tmp_path, url, FLEETLAB_CACHE_ENTRIES="1"), "-q")
        assert later.returncode == 0 and "2 passed" in later.stdout, later.stdout[-3000:]
        assert left not in databases(server_url)  # swept: its run is gone
        entries = cache.Cache(admin, cache.Seal.load(home, create=False)).entries()
        assert kept in {e.name for e in entries if e.ours and e.origin == "reset"}  # a test run never evicts it
        assert len([e for e in entries if e.ours and e.origin == "pytest"]) == 1  # its own limit of 1
    finally:
        drop_templates(admin, home)
        for name in databases(server_url):
            if name.startswith("fleetlab_test_") and json.dumps(name) and name == where.read_text():
                drop_database(admin, name, ours="the test database of this test's killed run")


def test_another_sessions_live_databases_are_not_swept(tmp_path, server_url, admin):
    """A second run while the first is alive leaves the first's databases alone."""
    from fleetlab import pytest_plugin
    from fleetlab.config import Settings
    from fleetlab.store import db

    settings = Settings(
        database_url=server_url.with_dbname("theirs").render(masked=False), home=tmp_path / "home", secret_key=TEST_KEY
    )
    live, locks = [], contextlib.ExitStack()
    for _ in range(2):
        conn = db.connect(server_url, autocommit=True)
        token = os.urandom(6).hex()
        locks.enter_context(advisory_lock(conn, RUN_LOCK_CLASS, token))  # as a live run's session holds it
        live.append(store_runs.Run(server_url, token, conn, cache.Seal.load(settings.home, create=True)))
    name = f"{pytest_plugin.PREFIX}{live[0].token}_0"
    create_database(admin, name)
    try:
        store_runs.seal_test_database(live[0], name)
        assert pytest_plugin.sweep(live[1]) == [] and name in databases(server_url)  # its run is alive
        live[0].conn.close()  # its lock goes when its server process has exited: a moment later
        swept = []
        for _ in range(50):
            swept = pytest_plugin.sweep(live[1])
            if swept:
                break
            time.sleep(0.1)
        assert swept == [name] and name not in databases(server_url)
    finally:
        drop_database(admin, name, ours="this test's stand-in for a run's test database")
        locks.close()
        live[1].conn.close()


def test_a_template_replaced_during_a_session_is_never_cloned(tmp_path, server_url, admin, alice):
    """A session looks a template up once and then clones it by name: if the template is dropped (a `cache
    clear` elsewhere) and another role makes a database under its name, the session sees another oid, drops
    its clone, and looks again (building a template of its own), never serving the other role's database."""
    from fleetlab.config import Settings
    from fleetlab.pytest_plugin import spec_for
    from fleetlab.store import db

    settings = Settings(
        database_url=server_url.with_dbname("theirs").render(masked=False),
        home=tmp_path / "home",
        secret_key=TEST_KEY,
        cache_entries=4,
    )
    conn = db.connect(server_url, autocommit=True)
    run = store_runs.Run(server_url, os.urandom(6).hex(), conn, cache.Seal.load(settings.home, create=True))
    spec = spec_for("multi-tenant", organizations=2, seed=424_242)
    try:
        first = run.template(settings, spec)
        name = run.next_name()
        assert run.clone(first, name)
        drop_database(admin, name, ours="this test's first clone")
        # the template goes; alice makes a database of that name, with a table of her own, as a template
        drop_database(admin, first.name, ours="the template this test replaces")
        create_database(admin, first.name)
        with db.connect(server_url.with_dbname(first.name), autocommit=True) as theirs:
            theirs.execute("CREATE TABLE alices_secret (x int)")
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(first.name), sql.Identifier(alice))
        )
        admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(sql.Identifier(first.name)))
        second = run.next_name()
        assert not run.clone(first, second)  # the oid changed: its clone is dropped at once
        assert second not in databases(server_url)
        run.forget(spec)
        with pytest.raises(FleetlabError, match="not ours|could not keep"):  # alice holds the name: no template
            run.template(settings, spec)
    finally:
        run.record_hits()
        conn.close()
        for left in databases(server_url):
            if left.startswith(f"{store_runs.PREFIX}{run.token}_"):
                drop_database(admin, left, ours="this test's clones")
        drop_templates(admin, settings.home)
