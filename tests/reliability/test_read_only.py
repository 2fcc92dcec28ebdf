"""Read-only means read-only for a connection's whole life: each read runs in its own READ ONLY
transaction, so what one query sets for the session does not open the next one for writes."""

from __future__ import annotations

import pytest

from fleetlab.errors import DatabaseError
from fleetlab.read.query import connect, fetch

from .harness import observe


@pytest.fixture
def bump(conn):
    """A function that writes, as a team might have in its database."""
    conn.execute("CREATE TABLE fltest_hits (n int)")
    conn.execute(
        "CREATE FUNCTION fltest_bump() RETURNS int LANGUAGE sql AS 'INSERT INTO fltest_hits VALUES (1) RETURNING 1'"
    )
    conn.commit()
    yield
    conn.rollback()


@pytest.mark.parametrize(
    "opener",
    [
        "select set_config('default_transaction_read_only', 'off', false) as x",
        "select set_config('transaction_read_only', 'off', false) as x",
        "select set_config('role', 'postgres', false) as x",
    ],
)
def test_one_read_cannot_open_the_next_for_writes(db_url, conn, bump, opener):
    with connect(db_url) as adbc:
        try:
            fetch(adbc, opener)
        except DatabaseError:
            pass  # refused outright is fine too
        observe("bad_inputs_tried")
        with pytest.raises(DatabaseError, match="read-only transaction"):
            fetch(adbc, "select fltest_bump() as n")
        assert fetch(adbc, "select current_setting('default_transaction_read_only') as s")["s"][0] == "on"
    assert conn.execute("SELECT count(*) FROM fltest_hits").fetchone()[0] == 0


def test_a_failed_read_leaves_the_connection_usable(db_url):
    with connect(db_url) as adbc:
        with pytest.raises(DatabaseError):
            fetch(adbc, "select 1/0 as x")
        assert fetch(adbc, "select 2 as x")["x"][0] == 2
