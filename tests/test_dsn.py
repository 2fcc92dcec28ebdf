"""DATABASE_URL parsing: accepted forms, masking, locality, and refusals that never echo a password."""

from __future__ import annotations

import pytest

from fleetlab.dsn import DatabaseURL, check_database_name, mask
from fleetlab.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "db"),
    [
        ("postgresql://u:p@localhost:5433/fl", "localhost", 5433, "u", "fl"),
        ("postgres://u@127.0.0.1/fl", "127.0.0.1", None, "u", "fl"),
        ("postgresql+psycopg://u:p@[::1]:5432/fl", "::1", 5432, "u", "fl"),
        ("postgresql://postgres@/fleetlab?host=/tmp/x/pgdata", "/tmp/x/pgdata", None, "postgres", "fleetlab"),
        ("postgresql:///fl", "", None, "", "fl"),
        ("postgresql://u:p%40ss@h/fl%20db?sslmode=require", "h", None, "u", "fl db"),
    ],
)
def test_parse(url, host, port, user, db):
    u = DatabaseURL.parse(url)
    assert (u.host, u.port, u.user, u.dbname) == (host, port, user, db)
    assert DatabaseURL.parse(u.render(masked=False)) == u


def test_password_never_in_repr_or_str():
    u = DatabaseURL.parse("postgresql://u:S3cr%3At@localhost/fl")
    assert u.password == "S3cr:t"
    for text in (repr(u), str(u), u.render(), u.where):
        assert "S3cr" not in text
    assert u.render() == "postgresql://u:***@localhost/fl"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:hunter2@localhost/fl",
        "hunter2",
        "postgresql://u:hunter2@localhost:99999/fl",
        "postgresql://u:hunter2@localhost:abc/fl",
        "postgresql://u:hunter2@localhost/fl?password=hunter2",
        "postgresql://u:hunter2@localhost/fl?bogus=1",
        "postgresql://u:hunter2@[::1/fl",
        "postgresql://u:hunter2@localhost/a/b",
        "host=localhost password=hunter2 dbname=fl",
        "   ",
        "postgresql://u:hunter2@localhost/fl#frag",
    ],
)
def test_malformed_refused_without_password(url):
    with pytest.raises(ConfigError) as info:
        DatabaseURL.parse(url)
    assert "hunter2" not in str(info.value)
    assert "DATABASE_URL" in str(info.value)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("postgresql://u@localhost/f", True),
        ("postgresql://u@127.0.0.1/f", True),
        ("postgresql://u@127.8.9.10/f", True),
        ("postgresql://u@[::1]/f", True),
        ("postgresql:///f", True),
        ("postgresql://u@/f?host=/var/run/postgresql", True),
        ("postgresql://u@db.internal/f", False),
        ("postgresql://u@10.0.0.5/f", False),
        ("postgresql://u@localhost,db.internal/f", False),
        ("postgresql://u@localhost.evil.com/f", False),
    ],
)
def test_locality(url, local):
    assert DatabaseURL.parse(url).is_local is local


def test_mask_handles_garbage():
    assert mask("postgresql://u:topsecret@h/db") == "postgresql://u:***@h/db"
    assert "topsecret" not in mask("host=h password=topsecret")
    assert "topsecret" not in mask("postgresql://u:topsecret@@@")


def test_name_checks():
    check_database_name("fleetlab")
    check_database_name("x" * 63)
    with pytest.raises(ConfigError, match="64 bytes"):
        check_database_name("x" * 64)
    with pytest.raises(ConfigError, match="empty"):
        check_database_name("")


@pytest.mark.parametrize("host", ["localhost.", "LOCALHOST.", "127.1", "127.0.0.1", "2130706433", "::1", "/tmp"])
def test_every_spelling_of_this_machine_is_local(host):
    assert DatabaseURL(host=host).is_local


@pytest.mark.parametrize("host", ["localhost.example.com", "localhost..", "10.1", "192.0.2.1", "127.example"])
def test_other_machines_are_not_local(host):
    assert not DatabaseURL(host=host).is_local
