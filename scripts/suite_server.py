"""The PostgreSQL server the project's own test runs use: the test suite and the notebook snapshots.

TEST_DATABASE_URL's server when it is set; otherwise fleetlab's embedded server in a data folder of this
checkout's own under the temporary directory (never the workbench's `.fleetlab`), so two clones running
their suites at once share nothing. Whoever starts the embedded server stops it when done.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fleetlab.dsn import DatabaseURL
from fleetlab.store import server

ROOT = Path(__file__).resolve().parents[1]
# bytes 0..31 in base64: the key of every test and snapshot world (a published test key, not a secret)
TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


RAM_DISK = Path("/dev/shm")  # Linux's memory-backed folder
RAM_DISK_MIN_FREE = 4 * 2**30  # bytes free there before the test server goes there


def home() -> Path:
    """Where the embedded test server lives: $FLEETLAB_TEST_HOME, else a folder named after this checkout,
    in memory (/dev/shm) when the machine has one with room, else under the temporary directory.

    The suite makes and drops a database for almost every test: on ext4, creating files soon after
    deleting many is slow (the allocator steps over inodes freed in the last ~30 s), and a CREATE DATABASE
    took 100-300 ms there against 20-50 ms in memory (the whole suite: 4m12 against 3m15 on two cores).
    The test server holds only disposable test databases; fleetlab's own embedded server stays on disk."""
    given = os.environ.get("FLEETLAB_TEST_HOME")
    if given:
        return Path(given)
    name = f"fleetlab-test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
    try:
        if RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK) and shutil.disk_usage(RAM_DISK).free >= RAM_DISK_MIN_FREE:
            return RAM_DISK / name
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / name


@contextlib.contextmanager
def embedded() -> Iterator[DatabaseURL]:
    """The embedded test server's maintenance URL; stopped afterwards if this block started it."""
    pgdata = home() / "pgdata"
    started = server.running_url(pgdata) is None
    url = server.ensure_running(pgdata)
    try:
        yield url.with_dbname("postgres")
    finally:
        if started:
            server.stop(pgdata)


_SESSION_STARTED = "fleetlab_suite_server_started"


def start_for_session(config) -> None:
    """Start the embedded test server in the process that runs the session (pytest-xdist's controller, or
    the only process), so its workers share one server that none of them stops; called by the suite's
    conftests (once: the second call does nothing). With TEST_DATABASE_URL, nothing to start."""
    if hasattr(config, "workerinput") or os.environ.get("TEST_DATABASE_URL"):
        return
    if hasattr(config, _SESSION_STARTED):
        return
    pgdata = home() / "pgdata"
    started = server.running_url(pgdata) is None
    server.ensure_running(pgdata)
    setattr(config, _SESSION_STARTED, started)


def stop_for_session(config) -> None:
    """Stop the server `start_for_session` started, at the end of the session."""
    if getattr(config, _SESSION_STARTED, False):
        server.stop(home() / "pgdata")
        setattr(config, _SESSION_STARTED, False)


@contextlib.contextmanager
def maintenance_url() -> Iterator[DatabaseURL]:
    """The maintenance URL of the server test runs use (TEST_DATABASE_URL's, else the embedded one)."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield DatabaseURL.parse(external).with_dbname("postgres")
        return
    with embedded() as url:
        yield url
