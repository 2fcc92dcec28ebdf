"""Section 2 — interleaving: concurrent resets and migration runners, and a runner killed holding the lock."""

from __future__ import annotations

import subprocess
import sys
import time

from fleetlab.store import db, migrate

from .harness import Background, cli, fleet_state, observe


def test_second_reset_stops_quickly_while_one_runs(seeded, env):
    first = Background(["reset", "--yes", "--seed", "7"], {**env, "FLEETLAB_FAULT_PAUSE": "copy:gateways"})
    try:
        first.wait_for("paused at copy:gateways")
        second = cli(["reset", "--yes"], env)
        assert second.returncode != 0 and not second.traceback, second.output
        assert "reset of" in second.stderr and "in progress" in second.stderr, second.stderr
        assert second.elapsed < 10, f"the second reset waited {second.elapsed:.1f}s instead of stopping"
    finally:
        first.resume()
    done = first.finish()
    assert done.returncode == 0, done.output
    state = fleet_state(seeded)
    if state != "complete":
        observe("half_built_databases")
    assert state == "complete"


MIGRATIONS = len(migrate.discover())


def test_ten_concurrent_migrate_apply_each_migration_once(new_db, env):
    url = new_db()  # an empty database: every migration pending
    e = {**env, "DATABASE_URL": url.render(masked=False), "FLEETLAB_LOCK_TIMEOUT": "30"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "fleetlab.app.cli", "migrate"],
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    applied_lines = sum(out.count("applied ") for _, out, _ in results)
    with db.connect(url, autocommit=True) as c:
        rows, distinct = c.execute(
            "SELECT count(*), count(DISTINCT version) FROM fleetlab_meta.schema_migrations"
        ).fetchone()
    double = (applied_lines - MIGRATIONS) + (rows - distinct)
    observe("double_applied_migrations", max(double, 0))
    assert all(code == 0 for code, _, _ in results), [err for code, _, err in results if code]
    assert not any("Traceback" in out + err for _, out, err in results)
    assert (applied_lines, rows, distinct) == (MIGRATIONS, MIGRATIONS, MIGRATIONS)


HOLD_LOCK = """
import sys
from fleetlab.store import databases, db
from fleetlab.dsn import DatabaseURL
conn = db.connect(DatabaseURL.parse(sys.argv[1]), autocommit=True)
with databases.advisory_lock(conn, databases.MIGRATE_LOCK_CLASS, conn.info.dbname, wait=5):
    print("locked", flush=True)
    conn.execute("SELECT pg_sleep(600)")  # busy on the server when the client dies
"""


def test_runner_killed_holding_the_lock_does_not_block_the_next(new_db, env):
    url = new_db()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, url.render(masked=False)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        time.sleep(0.3)  # pg_sleep is running
    finally:
        holder.kill()
        holder.wait()
    observe("kill_points_tried")
    run = cli(["migrate"], {**env, "DATABASE_URL": url.render(masked=False), "FLEETLAB_LOCK_TIMEOUT": "20"})
    assert run.returncode == 0, run.output
    # client_connection_check_interval ends the orphaned backend within about a second
    assert run.elapsed < 10, f"the next runner waited {run.elapsed:.1f}s for a dead client's lock"
    with db.connect(url, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM fleetlab_meta.schema_migrations").fetchone()[0] == MIGRATIONS


def test_waiting_runner_gives_up_with_a_clear_message(new_db, env):
    url = new_db()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, url.render(masked=False)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        run = cli(["migrate"], {**env, "DATABASE_URL": url.render(masked=False), "FLEETLAB_LOCK_TIMEOUT": "1"})
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode != 0 and not run.traceback
    assert "another `fleetlab migrate` is running" in run.stderr and "1s" in run.stderr, run.stderr
