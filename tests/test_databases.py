"""fleetlab.store.databases: the one DROP DATABASE decides "is it ours", and the one advisory lock helper."""

from __future__ import annotations

import time

import pytest

from fleetlab.errors import LockTimeout, ResetRefused
from fleetlab.store import databases, db, marker


def test_drop_without_a_reason_keeps_a_database_that_is_not_fleetlabs(admin, new_db):
    url = new_db()
    with db.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE precious (id int)")
    with pytest.raises(ResetRefused, match="no fleetlab marker"):
        databases.drop(admin, url.database, url)
    assert db.database_exists(admin, url.database)
    with db.connect(url, autocommit=True) as c:
        marker.create(c)
    assert databases.drop(admin, url.database, url)  # marked: fleetlab's
    assert not db.database_exists(admin, url.database)


def test_drop_never_takes_the_clusters_own_databases(admin):
    for name in ("postgres", "template0", "template1"):
        with pytest.raises(ResetRefused, match="belongs to the PostgreSQL cluster"):
            databases.drop(admin, name, ours="a test that says so")
        assert db.database_exists(admin, name)


def test_drop_without_force_keeps_a_database_in_use_and_drops_a_template(admin, new_db):
    url = new_db()
    with db.connect(url, autocommit=True):
        assert databases.drop(admin, url.database, ours="this test's database", force=False) is False
        assert db.database_exists(admin, url.database)
    databases.make_template(admin, url.database)
    for _ in range(50):  # the session's backend exits a moment after the client closes it
        if databases.drop(admin, url.database, ours="this test's database", force=False):
            break
        time.sleep(0.05)
    assert not db.database_exists(admin, url.database)


def _take(conn, lock_class: int = databases.RESET_LOCK_CLASS, **how) -> None:
    with databases.advisory_lock(conn, lock_class, "fltest-lock", **how):
        pass


def test_advisory_lock_tries_waits_and_releases(admin, server_url):
    with db.connect(server_url, autocommit=True) as other:
        with databases.advisory_lock(other, databases.RESET_LOCK_CLASS, "fltest-lock"):
            with pytest.raises(LockTimeout, match="busy right now"):
                _take(admin, wait=0, busy="busy right now")
            started = time.monotonic()
            with pytest.raises(LockTimeout, match="another session holds the advisory lock 0x666c/'fltest-lock'"):
                _take(admin, wait=0.2)
            assert 0.15 < time.monotonic() - started < 5
            _take(admin, databases.KEEP_LOCK_CLASS, wait=0)  # another namespace, another lock
        _take(admin, wait=0)  # released at the end of the holder's block, its session still open
    assert admin.execute("SHOW lock_timeout").fetchone()[0] == "0"  # the wait's limit is undone


def test_the_embedded_server_keeps_a_million_gateways_in_its_buffers(admin, server_url):
    """shared_buffers is a quarter of the memory given (cgroup or machine), from 256 MB to 4 GB: a table
    under a quarter of it is scanned through PostgreSQL's buffers, not reread from the OS each time."""
    from fleetlab.store import server

    assert server.shared_buffers_mb(1 * 2**30) == 256
    assert server.shared_buffers_mb(12 * 2**30) == 3072
    assert server.shared_buffers_mb(64 * 2**30) == 4096
    assert server.shared_buffers_mb(0) == 256
    if not server_url.host.startswith("/"):
        pytest.skip("TEST_DATABASE_URL names a server fleetlab did not configure")
    shown = admin.execute("SELECT setting::bigint * 8192 / 2^20 FROM pg_settings WHERE name = 'shared_buffers'")
    assert shown.fetchone()[0] == server.shared_buffers_mb()
