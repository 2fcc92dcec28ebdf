"""The pytest plugin: another project's tests ask for `fleetlab_db` and get a seeded database of their own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetlab.store import cache

from .conftest import TEST_KEY, drop_templates

SEED = 200_000 + os.getpid() % 100_000  # this session's own templates
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
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
    from fleetlab import pytest_plugin

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
        m = pytest_plugin._NAME.match(name)
        if name in builds or (m and pytest_plugin._sealed(seal, name, oid, m.group(1), comment)):
            left.append(name)
    return left
