"""The pytest plugin: another project's tests ask for `fleetlab_db` and get a seeded database of their own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from fleetlab.store import cache
from fleetlab.store import runs as store_runs

from .conftest import TEST_KEY, drop_templates

SEED = 200_000 + os.getpid() % 100_000  # this session's own templates
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
README_TX_EXAMPLE = re.search(r"```python\n(def test_\w+\(fleetlab_tx\).*?)```", README, flags=re.S).group(1)
README_EXAMPLE = re.search(r"```python\n(import pytest\n.*?fleetlab_db.*?)```", README, flags=re.S).group(1)

USERS_TESTS = textwrap.dedent(f"""
    import pytest

    def test_default_fleet(fleetlab_db):
        # the platform's own seed, in a database of this test's own
        n = fleetlab_db.conn.execute("SELECT count(*) FROM gateways").fetchone()[0]
        assert n == 6
        fleetlab_db.conn.execute("DELETE FROM gateways")
        fleetlab_db.conn.commit()

    def test_each_test_gets_a_fresh_copy(fleetlab_db):
        assert fleetlab_db.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == 6

    @pytest.mark.fleetlab(scenario="multi-tenant", organizations=3, seed={SEED})
    def test_marked_fleet(fleetlab_db):
        assert fleetlab_db.read_sql("SELECT * FROM organizations").height == 3
        assert fleetlab_db.name.startswith("fleetlab_test_")
        assert "****" in repr(fleetlab_db.url) or fleetlab_db.url.password is None

    @pytest.mark.parametrize("i", range(4))
    @pytest.mark.fleetlab(scenario="multi-tenant", organizations=3, seed={SEED})
    def test_many_clones_of_one_template(fleetlab_db, i):
        fleetlab_db.conn.execute("INSERT INTO organizations (name) VALUES ('mine')")
        fleetlab_db.conn.commit()
        assert fleetlab_db.read_sql("SELECT * FROM organizations").height == 4
""")


@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_another_projects_tests_get_fleetlab_db(tmp_path, server_url, admin, workers):
    project = tmp_path / "their_project"
    project.mkdir()
    (project / "test_with_fleetlab.py").write_text(USERS_TESTS)
    (project / "test_from_the_readme.py").write_text(README_EXAMPLE)  # the README's example, as it is
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "PYTEST_"))}
    env.update(
        FLEETLAB_TEST_DATABASE_URL=server_url.with_dbname("their_db").render(masked=False),
        FLEETLAB_HOME=str(tmp_path / "home"),
        FLEETLAB_SECRET_KEY=TEST_KEY,
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project)]
    if workers:
        cmd += ["-n", workers]
    try:
        proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0 and "9 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert _left_by(admin, tmp_path / "home") == []  # every test's database was dropped
        made = [e for e in cache.Cache(admin, cache.Seal.load(tmp_path / "home", create=False)).entries() if e.ours]
        assert {e.spec.get("seed") for e in made} <= {0, 7, SEED}  # the default fleet, the README's, the marked one
        assert {e.origin for e in made} == {"pytest"}
    finally:
        drop_templates(admin, tmp_path / "home")


def _left_by(admin, home) -> list[str]:
    """The test databases and template builds of FLEETLAB_HOME `home` still on the server (another suite's,
    on a shared server, are another home's)."""

    seal = cache.Seal.load(home, create=False)
    rows = admin.execute(
        "SELECT datname, oid::bigint, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname LIKE 'fleetlab_test%' OR datname LIKE 'fleetlab_tplbuild_%'"
    ).fetchall()
    builds = {
        cache.Cache(admin, seal).name_for(e.key).replace(cache.PREFIX, "fleetlab_tplbuild_")[:34]
        for e in cache.Cache(admin, seal).entries()
        if e.ours
    }
    left = []
    for name, oid, comment in rows:
        m = store_runs.NAME.match(name)
        if name in builds or (m and store_runs.sealed(seal, name, oid, m.group(1), comment)):
            left.append(name)
    return left


TX_TESTS = textwrap.dedent(f"""
    import psycopg
    import pytest

    pytestmark = pytest.mark.fleetlab(scenario="multi-tenant", organizations=2, seed={SEED + 1})
    seen = {{}}

    @pytest.mark.parametrize("i", range(3))
    def test_a_database_of_its_own(fleetlab_db, i):
        assert fleetlab_db.conn.execute("SELECT count(*) FROM organizations").fetchone()[0] == 2

    def test_1_writes(fleetlab_tx):
        seen["name"] = fleetlab_tx.name
        seen["gateways"] = fleetlab_tx.conn.execute("SELECT count(*) FROM gateways").fetchone()[0]
        fleetlab_tx.conn.execute("DELETE FROM gateways")
        assert fleetlab_tx.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == 0

    def test_2_sees_the_write_rolled_back_in_the_same_database(fleetlab_tx):
        assert fleetlab_tx.name == seen["name"]
        assert fleetlab_tx.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == seen["gateways"] > 0

    def test_3_cannot_commit(fleetlab_tx):
        with pytest.raises(psycopg.ProgrammingError):
            fleetlab_tx.conn.commit()

    def test_4_commits_behind_its_back(fleetlab_tx):
        fleetlab_tx.conn.execute("DELETE FROM gateways")
        fleetlab_tx.conn.execute("COMMIT")

    def test_5_gets_a_new_database_with_every_row(fleetlab_tx):
        assert fleetlab_tx.name != seen["name"]
        assert fleetlab_tx.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == seen["gateways"]
""")


def test_fleetlab_tx_rolls_each_test_back_in_a_shared_database_and_hits_are_recorded_once(tmp_path, server_url, admin):
    """fleetlab_tx: one database for the session's tests of a fleet, each test rolled back; a test that
    commits behind its back is warned about and the next test gets a new database. The session records its
    clones (3 databases of their own + 2 shared) in the template's record, once, at its end."""
    project = tmp_path / "their_project"
    project.mkdir()
    (project / "test_tx.py").write_text(TX_TESTS)
    (project / "test_tx_from_the_readme.py").write_text(README_TX_EXAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "PYTEST_"))}
    env.update(
        FLEETLAB_TEST_DATABASE_URL=server_url.with_dbname("their_db").render(masked=False),
        FLEETLAB_HOME=str(tmp_path / "home"),
        FLEETLAB_SECRET_KEY=TEST_KEY,
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--rootdir",
        str(project),
    ]
    try:
        proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)
        out = proc.stdout[-4000:] + proc.stderr[-2000:]
        assert proc.returncode == 0 and "9 passed" in proc.stdout, out
        assert "test_4_commits_behind_its_back ended its transaction itself" in proc.stdout, out
        assert _left_by(admin, tmp_path / "home") == []  # the shared databases were dropped too
        made = [e for e in cache.Cache(admin, cache.Seal.load(tmp_path / "home", create=False)).entries() if e.ours]
        assert sorted((e.spec.get("seed"), e.hits) for e in made) == [(0, 1), (SEED + 1, 5)], made
    finally:
        drop_templates(admin, tmp_path / "home")


FAILING_TESTS = textwrap.dedent("""
    def test_passes(fleetlab_db):
        assert fleetlab_db.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] == 6

    def test_fails_after_writing(fleetlab_db):
        fleetlab_db.conn.execute("UPDATE gateways SET name = 'look at me' WHERE gateway_id = 'GW-SPR-001'")
        fleetlab_db.conn.commit()
        assert False, "a failure to look into"
""")


def test_keep_failed_keeps_a_failed_tests_database_until_cache_clear(tmp_path, server_url, admin):
    from .reliability.harness import base_env, cli_inprocess

    project = tmp_path / "their_project"
    project.mkdir()
    (project / "test_keep.py").write_text(FAILING_TESTS)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "PYTEST_"))}
    env.update(
        FLEETLAB_TEST_DATABASE_URL=server_url.with_dbname("their_db").render(masked=False),
        FLEETLAB_HOME=str(home),
        FLEETLAB_SECRET_KEY=TEST_KEY,
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project)]
    try:
        proc = subprocess.run([*cmd, "--fleetlab-keep-failed"], cwd=project, env=env, capture_output=True, text=True)
        assert proc.returncode == 1 and "1 failed, 1 passed" in proc.stdout, proc.stdout[-3000:]
        assert "fleetlab: databases kept after a failure" in proc.stdout
        line = next(x for x in proc.stdout.splitlines() if x.startswith("test_keep.py::test_fails_after_writing: "))
        name = re.search(r"fleetlab_kept_[0-9a-f]{12}_\d+", line).group(0)
        with psycopg.connect(server_url.with_dbname(name).render(masked=False)) as conn:
            assert conn.execute("SELECT count(*) FROM gateways WHERE name = 'look at me'").fetchone()[0] == 1
        # a later run (without the flag) leaves it; only the passing test's database was dropped
        again = subprocess.run([*cmd, "-k", "passes"], cwd=project, env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stdout[-2000:]
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        cleared = cli_inprocess(
            ["cache", "clear"],
            base_env(
                FLEETLAB_HOME=str(home), DATABASE_URL=env["FLEETLAB_TEST_DATABASE_URL"], FLEETLAB_SECRET_KEY=TEST_KEY
            ),
        )
        assert "dropped 1 test database(s)" in cleared.stdout, cleared.output
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
    finally:
        drop_templates(admin, home)
        for (left,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'fleetlab_kept_%'").fetchall():
            from fleetlab.store import databases

            databases.drop(admin, left, ours="this test's kept database")
