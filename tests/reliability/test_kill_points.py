"""Section 4 — kill points: after a client or server dies at any moment, the previous data is whole or absent.

Never a partial fleet; and the next `fleetlab reset` / `seed` succeeds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from fleetlab.store import db, marker, migrate, server
from fleetlab.store.databases import build_name, previous_name

from .harness import Background, base_env, cli, cli_inprocess, content_hash, databases, fleet_state, observe, paused_pid

RESET_POINTS = [
    # point, what the previous database must be afterwards
    ("reset:before-create", "whole"),  # lock taken, old side database dropped, new one not yet created
    ("reset:after-create", "whole"),  # between create and migrate
    ("migrate:before-record", "whole"),  # during migrate: the first migration ran, its record not yet written
    ("copy:organizations", "whole"),
    ("copy:gateways", "whole"),  # during the gateways COPY
    *[
        (p, "whole")
        for p in ("reset:before-swap", "swap:after-end-sessions", "swap:after-rename-old", "swap:before-commit")
    ],  # the swap's transaction, not yet committed
    ("swap:after-commit", "new"),  # swapped, the previous database not yet dropped
]
SWAP_POINTS = [p for p in RESET_POINTS if p[0].startswith(("reset:before-swap", "swap:"))]


def _after_kill(url, before, expect: str) -> None:
    """Record and check the state left by a kill; `before` is the content hash of the previous data."""
    observe("kill_points_tried")
    state = fleet_state(url)
    if state.startswith("partial"):
        observe("half_built_databases")
    now = content_hash(url)
    whole = now == before
    if expect == "whole" and not whole and not state.startswith("partial"):
        observe("rows_lost_or_partial")
    assert state in ("complete", "absent"), state
    if expect == "whole":
        assert whole, f"previous data changed: {state}"
    elif expect == "new":  # the new fleet (seed 9), whole
        assert state == "complete" and not whole and _seed_of(url) == 9, state
    else:
        assert state == "absent"


def _seed_of(url) -> int:
    with db.connect(url, autocommit=True) as conn:
        return int(
            conn.execute("SELECT scenario -> 'spec' ->> 'seed' FROM fleetlab_meta.fleetlab_marker").fetchone()[0]
        )


def _recovers(url, env, server_url=None) -> None:
    """The next reset and seed succeed (in this process: the console script's code without its start-up)."""
    run = cli_inprocess(["reset", "--yes"], env)
    assert run.returncode == 0, run.output
    assert fleet_state(url) == "complete"
    if server_url is not None:
        assert build_name(url.database) not in databases(server_url)
    run = cli_inprocess(["seed", "--yes", "--seed", "5"], env)
    assert run.returncode == 0, run.output
    assert fleet_state(url) == "complete"


@pytest.mark.parametrize(("point", "expect"), RESET_POINTS, ids=[p for p, _ in RESET_POINTS])
def test_reset_killed(seeded, env, server_url, point, expect):
    before = content_hash(seeded)
    run = cli(["reset", "--yes", "--seed", "9"], {**env, "FLEETLAB_FAULT": point})
    assert run.returncode == -9, f"{point} was not reached: {run.output}"
    _after_kill(seeded, before, expect)
    _recovers(seeded, env, server_url)


@pytest.mark.parametrize(("point", "expect"), SWAP_POINTS, ids=[p for p, _ in SWAP_POINTS])
def test_cached_reset_killed_in_the_swap(seeded, env, server_url, point, expect):
    """The same kill points in a reset served from the scenario cache."""
    cached = {**env, "FLEETLAB_CACHE_ENTRIES": "4"}
    flags = ["--seed", "9", "--as-of", "2026-01-01T00:00:00Z"]
    assert cli_inprocess(["reset", "--yes", *flags], cached).returncode == 0  # builds and keeps the template
    assert cli_inprocess(["reset", "--yes"], env).returncode == 0  # the previous data: the default fleet again
    before = content_hash(seeded)
    try:
        run = cli(["reset", "--yes", *flags], {**cached, "FLEETLAB_FAULT": point})
        assert run.returncode == -9, f"{point} was not reached: {run.output}"
        _after_kill(seeded, before, expect)
        run = cli_inprocess(["reset", "--yes", *flags], cached)
        assert run.returncode == 0 and "cache: cloned" in run.stdout, run.output
        assert fleet_state(seeded) == "complete"
        assert not {build_name(seeded.database), previous_name(seeded.database)} & databases(server_url)
    finally:
        assert cli_inprocess(["cache", "clear"], cached).returncode == 0


def test_first_reset_killed_leaves_nothing(new_db, env, server_url):
    url = new_db(create=False)
    e = {**env, "DATABASE_URL": url.render(masked=False)}
    run = cli(["reset", "--yes"], {**e, "FLEETLAB_FAULT": "copy:gateways"})
    assert run.returncode == -9, run.output
    _after_kill(url, {"database": "absent"}, "absent")
    _recovers(url, e, server_url)


@pytest.mark.parametrize("point", ["copy:factories", "copy:gateways"])
def test_seed_killed(seeded, env, point):
    before = content_hash(seeded)
    run = cli(["seed", "--yes", "--seed", "9"], {**env, "FLEETLAB_FAULT": point})
    assert run.returncode == -9, run.output
    _after_kill(seeded, before, "whole")
    _recovers(seeded, env)


def test_migrate_killed_mid_migration(new_db, env):
    url = new_db()
    e = {**env, "DATABASE_URL": url.render(masked=False)}
    run = cli(["migrate"], {**e, "FLEETLAB_FAULT": "migrate:before-record"})
    assert run.returncode == -9, run.output
    observe("kill_points_tried")
    with db.connect(url, autocommit=True) as c:
        assert c.execute("SELECT to_regclass('organizations')").fetchone()[0] is None  # rolled back whole
    run = cli(["migrate"], {**e, "FLEETLAB_LOCK_TIMEOUT": "20"})
    assert run.returncode == 0, run.output
    with db.connect(url, autocommit=True) as c:
        rows, distinct = c.execute(
            "SELECT count(*), count(DISTINCT version) FROM fleetlab_meta.schema_migrations"
        ).fetchone()
    observe("double_applied_migrations", rows - distinct)
    assert rows == distinct == len(migrate.discover())


def test_migrate_killed_mid_move_of_the_bookkeeping(new_db, env):
    """Killed after migration 1707345600006 moved the history and marker, before its record: the old
    layout is whole (still ours, its history where it was), and the next `fleetlab migrate` moves it."""
    from ..test_migrate import old_layout

    url = new_db()
    with db.connect(url, autocommit=True) as c:
        old_layout(c)
    e = {**env, "DATABASE_URL": url.render(masked=False)}
    run = cli(["migrate"], {**e, "FLEETLAB_FAULT": "migrate:before-record"})
    assert run.returncode == -9, run.output
    observe("kill_points_tried")
    with db.connect(url, autocommit=True) as c:
        assert migrate.history(c) == "public.schema_migrations" and len(migrate.applied(c)) == 5
        assert c.execute("SELECT to_regnamespace('fleetlab_meta')").fetchone()[0] is None
        assert marker.read(c) is not None
    run = cli(["migrate"], {**e, "FLEETLAB_LOCK_TIMEOUT": "20"})
    assert run.returncode == 0, run.output
    with db.connect(url, autocommit=True) as c:
        assert migrate.history(c) == "fleetlab_meta.schema_migrations"
        assert [a.version for a in migrate.applied(c)] == [m.version for m in migrate.discover()]
        assert c.execute("SELECT to_regclass('public.fleetlab_marker')").fetchone()[0] is None
        assert marker.read(c).fleetlab_version == "0.0.9"


def test_backend_terminated_mid_seed(seeded, env, admin):
    before = content_hash(seeded)
    bg = Background(["seed", "--yes", "--seed", "9"], {**env, "FLEETLAB_FAULT_PAUSE": "copy:gateways"})
    try:
        bg.wait_for("paused at copy:gateways")
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (seeded.database,),
        ).fetchone()[0]
        assert killed >= 1
    finally:
        bg.resume()
    run = bg.finish()
    assert run.returncode != 0 and not run.traceback, run.output
    assert "Nothing was changed" in run.stderr or "nothing was changed" in run.stderr, run.stderr
    _after_kill(seeded, before, "whole")
    _recovers(seeded, env)


def test_reset_backend_terminated_mid_copy(seeded, env, admin):
    before = content_hash(seeded)
    side = build_name(seeded.database)
    bg = Background(["reset", "--yes", "--seed", "9"], {**env, "FLEETLAB_FAULT_PAUSE": "copy:gateways"})
    try:
        bg.wait_for("paused at copy:gateways")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (side,))
    finally:
        bg.resume()
    run = bg.finish()
    assert run.returncode != 0 and not run.traceback, run.output
    _after_kill(seeded, before, "whole")
    assert side not in databases(seeded.with_dbname("postgres"))  # dropped on the way out
    _recovers(seeded, env)


def test_server_stopped_immediately_mid_seed():
    """A separate embedded server (never the shared test server), stopped with `pg_ctl stop -m immediate`."""
    home = Path(tempfile.mkdtemp(prefix="flrel-"))
    env = base_env(FLEETLAB_HOME=str(home), FLEETLAB_LOCK_TIMEOUT="5")
    pgdata = home / "pgdata"
    try:
        assert cli(["reset", "--yes"], env, timeout=120).returncode == 0
        url = server.running_url(pgdata).with_dbname("fleetlab")
        before = content_hash(url)
        bg = Background(["seed", "--yes", "--seed", "9"], {**env, "FLEETLAB_FAULT_PAUSE": "copy:gateways"})
        try:
            bg.wait_for("paused at copy:gateways")
            server.stop(pgdata, mode="immediate")
        finally:
            bg.resume()
        run = bg.finish()
        assert run.returncode != 0 and not run.traceback, run.output
        assert "nothing was changed" in run.stderr.lower(), run.stderr
        time.sleep(0.2)
        url = server.ensure_running(pgdata).with_dbname("fleetlab")  # crash recovery
        _after_kill(url, before, "whole")
        _recovers(url, env)
    finally:
        try:
            server.stop(pgdata, mode="immediate")
        finally:
            shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("command", ["reset", "seed"])
def test_interrupted_mid_copy(seeded, env, command):
    """Ctrl-C during the gateways COPY: exit 130 with a message, the previous data whole."""
    before = content_hash(seeded)
    bg = Background([command, "--yes", "--seed", "9"], {**env, "FLEETLAB_FAULT_PAUSE": "copy:gateways"})
    try:
        bg.wait_for("paused at copy:gateways")
        bg.proc.send_signal(signal.SIGINT)
    finally:
        time.sleep(0.2)
        bg.resume()
    run = bg.finish()
    assert run.returncode == 130 and not run.traceback, run.output
    assert "interrupted" in run.stderr
    _after_kill(seeded, before, "whole")
    # "nothing half-done was kept": no half-built side database either
    assert build_name(seeded.database) not in databases(seeded.with_dbname("postgres"))
    _recovers(seeded, env)


# a fleet of 72,000 gateways loaded over two COPY streams: this process and one helper process
PARALLEL = ["--orgs", "3", "--factories-per-org", "4", "--gateways-per-factory", "6000", "--streams", "2"]


def _helpers(home: str) -> list[int]:
    """The pids of load helper processes (fleetlab.store.parallel) of the FLEETLAB_HOME `home`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if b"fleetlab.store.parallel" in (proc / "cmdline").read_bytes() and f"FLEETLAB_HOME={home}".encode() in (
                proc / "environ"
            ).read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def _no_helpers_left(home: str) -> None:
    deadline = time.monotonic() + 10
    while _helpers(home) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _helpers(home) == [], "a load helper outlived its reset"


@pytest.mark.parametrize("point", ["copy:gateways", "stream:gateways"])
def test_parallel_reset_killed(seeded, env, server_url, point):
    """The reset killed while its streams load (copy:), or one of its helpers killed (stream:)."""
    before = content_hash(seeded)
    run = cli(["reset", "--yes", "--seed", "9", *PARALLEL], {**env, "FLEETLAB_FAULT": point})
    if point.startswith("copy:"):
        assert run.returncode == -9, run.output
    else:
        assert run.returncode == 1 and not run.traceback, run.output
        assert "stream 2 of 2 was killed by signal 9" in run.stderr and "Nothing was changed" in run.stderr
    _after_kill(seeded, before, "whole")
    _no_helpers_left(env["FLEETLAB_HOME"])
    assert build_name(seeded.database) not in databases(server_url) or point.startswith("copy:")
    _recovers(seeded, env, server_url)


def test_parallel_reset_stream_loses_its_connection(seeded, env, admin):
    """A helper's backend terminated mid-COPY: the reset fails in words, the previous database stays."""
    before = content_hash(seeded)
    side = build_name(seeded.database)
    bg = Background(["reset", "--yes", "--seed", "9", *PARALLEL], {**env, "FLEETLAB_FAULT_PAUSE": "stream:gateways"})
    try:
        helper = paused_pid(bg.wait_for("paused at copy:gateways"))
        assert helper in _helpers(env["FLEETLAB_HOME"])
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name = 'fleetlab (load stream)'",
            (side,),
        ).fetchone()[0]
        assert ended == 1
    finally:
        with contextlib.suppress(ProcessLookupError, NameError):
            os.kill(helper, signal.SIGUSR1)
    run = bg.finish()
    assert run.returncode == 1 and not run.traceback, run.output
    assert "stream 2 of 2" in run.stderr and "Nothing was changed" in run.stderr, run.stderr
    _after_kill(seeded, before, "whole")
    assert side not in databases(seeded.with_dbname("postgres"))
    _no_helpers_left(env["FLEETLAB_HOME"])
