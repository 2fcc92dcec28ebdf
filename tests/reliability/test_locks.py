"""Section 5 — locks and timeouts: a held lock or a short statement_timeout fails fast, clearly, changing nothing."""

from __future__ import annotations

import shutil
import time

import pytest

from fleetlab.errors import MigrationError
from fleetlab.store import db, migrate

from .harness import cli_inprocess, content_hash, fleet_state, observe  # the console script's code, in-process


@pytest.mark.parametrize(("table", "mode"), [("gateways", "ACCESS SHARE"), ("organizations", "ROW EXCLUSIVE")])
def test_seed_gives_up_on_a_held_lock(seeded, env, table, mode):
    before = content_hash(seeded)
    with db.connect(seeded) as other:
        other.execute(f"LOCK TABLE {table} IN {mode} MODE")  # held until the transaction ends
        run = cli_inprocess(["seed", "--yes", "--seed", "3"], {**env, "FLEETLAB_LOCK_TIMEOUT": "1"})
        other.rollback()
    assert run.returncode != 0 and not run.traceback, run.output
    assert "holds a lock" in run.stderr and "changed nothing" in run.stderr, run.stderr
    assert run.elapsed < 15, f"the seed waited {run.elapsed:.1f}s on a 1s lock timeout"
    after = content_hash(seeded)
    if after != before:
        observe("rows_lost_or_partial")
    assert after == before
    assert cli_inprocess(["seed", "--yes"], env).returncode == 0


def test_migration_waiting_on_a_table_lock_gives_up(new_db, tmp_path):
    """A new migration that alters a table someone holds does not wait forever."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder)
    url = new_db()
    with db.connect(url, autocommit=True) as c:
        migrate.apply(c, folder)
    (folder / "1707345600090_add_column.sql").write_text("ALTER TABLE gateways ADD COLUMN site_id int;")
    with db.connect(url) as other, db.connect(url, autocommit=True) as c:
        other.execute("SELECT count(*) FROM gateways")  # ACCESS SHARE until rollback
        c.execute("SET statement_timeout = '15s'")  # a backstop so a regression fails instead of hanging
        started = time.perf_counter()
        with pytest.raises(MigrationError) as exc:
            migrate.apply(c, folder, lock_timeout=1)
        elapsed = time.perf_counter() - started
        other.rollback()
        assert "1707345600090_add_column.sql" in str(exc.value), str(exc.value)
        assert elapsed < 10, f"waited {elapsed:.1f}s on a 1s lock timeout"
        assert [a.version for a in migrate.applied(c)][-1] == migrate.discover()[-1].version
        assert [m.filename for m in migrate.apply(c, folder, lock_timeout=1)] == ["1707345600090_add_column.sql"]


@pytest.mark.parametrize("command", [["seed", "--yes"], ["reset", "--yes"], ["migrate"], ["status"]])
def test_statement_timeout_gives_a_clear_message(seeded, env, command):
    """A server (or PGOPTIONS) with a tiny statement_timeout: a clear failure or success, never half a fleet."""
    url = (
        seeded.render(masked=False)
        + ("&" if "?" in seeded.render(masked=False) else "?")
        + ("options=-c%20statement_timeout%3D1")
    )
    with db.connect(seeded, autocommit=True) as c:
        c.execute("SELECT pg_sleep(0)")
    before = content_hash(seeded)
    run = cli_inprocess(command, {**env, "DATABASE_URL": url})
    observe("bad_inputs_tried")
    if run.traceback or run.returncode == 70:
        observe("tracebacks")
    assert not run.traceback and run.returncode != 70, run.output
    if run.returncode != 0:
        assert "timed out" in run.stderr or "timeout" in run.stderr, run.stderr
    state = fleet_state(seeded)
    if state.startswith("partial"):
        observe("half_built_databases")
    assert state == "complete"
    if command[0] != "reset" and run.returncode != 0:
        assert content_hash(seeded) == before
