"""The embedded server's identity follows its data directory: a copied tree is its own server, a stale
postmaster.pid naming a live process is recovered from, and `db stop` never stops another tree's server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from fleetlab.store import server

from ..conftest import ROOT, TEST_KEY
from .harness import observe


@pytest.fixture
def homes():
    # under /tmp itself, readable by the `pgserver` user the embedded server runs as when we are root
    root = Path(tempfile.mkdtemp(prefix="fleetlab-server-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    for pgdata in root.glob("*/pgdata"):
        try:
            server.stop(pgdata, mode="immediate")
        except Exception:  # noqa: BLE001 - cleanup
            pass
    shutil.rmtree(root, ignore_errors=True)


def fleetlab(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "PG"))}
    env.update(FLEETLAB_HOME=str(home), FLEETLAB_SECRET_KEY=TEST_KEY)
    return subprocess.run(
        [sys.executable, "-m", "fleetlab", *args], env=env, capture_output=True, text=True, timeout=180
    )


def seed_of(pgdata: Path) -> int:
    url = server.running_url(pgdata)
    with psycopg.connect(**url.with_dbname("fleetlab").connect_kwargs()) as conn:
        return conn.execute("SELECT (scenario->>'seed')::int FROM fleetlab_meta.fleetlab_marker").fetchone()[0]


def test_a_copied_tree_is_its_own_server_and_never_touches_the_original(homes):
    a, b = homes / "a", homes / "b"
    assert fleetlab(a, "reset", "--yes", "--seed", "1").returncode == 0
    subprocess.run(["cp", "-a", str(a), str(b)], check=True)  # copied while its server runs
    observe("bad_inputs_tried")
    assert server.running_url(b / "pgdata") is None  # the copy's postmaster.pid names a's server

    done = fleetlab(b, "reset", "--yes", "--seed", "2")
    assert done.returncode == 0, done.stderr
    assert seed_of(a / "pgdata") == 1 and seed_of(b / "pgdata") == 2  # the original untouched
    assert str(b / "pgdata") in fleetlab(b, "db", "url").stdout

    stopped = fleetlab(b, "db", "stop")
    assert stopped.returncode == 0 and str(b / "pgdata") in stopped.stdout
    assert server.running_url(a / "pgdata") is not None  # only the copy's server stopped
    assert "was not running" in fleetlab(b, "db", "stop").stdout


def test_a_stale_postmaster_pid_naming_a_live_process_is_recovered_from(homes):
    a = homes / "a"
    assert fleetlab(a, "reset", "--yes").returncode == 0
    pgdata = a / "pgdata"
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    assert fleetlab(a, "db", "stop").returncode == 0
    # as after a reboot: the file names a PID that now belongs to an unrelated, live process
    lines[0] = str(os.getpid())
    observe("bad_inputs_tried")
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
    assert server.running_url(pgdata) is None
    stop = fleetlab(a, "db", "stop")
    assert stop.returncode == 0 and "was not running" in stop.stdout  # and this process lives on
    done = fleetlab(a, "reset", "--yes", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert seed_of(pgdata) == 3


def _python_for(user: str) -> str | None:
    """An interpreter of this Python version that `user` may run (ours may live under /root)."""
    for candidate in (sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"):
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"],
                user=user,
                capture_output=True,
                text=True,
                timeout=30,
                cwd="/",
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout.strip() == str(sys.version_info[:2]):
            return candidate
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="acting as another user needs root")
def test_another_unix_user_starts_its_own_embedded_server(homes):
    # what a root run of the embedded-server package leaves behind: its lock, root's, in the shared /tmp
    (Path(tempfile.gettempdir()) / ".lockfile").touch(exist_ok=True)
    observe("bad_inputs_tried")
    python = _python_for("nobody")
    if python is None:
        pytest.skip("no Python of this version that the user nobody may run")
    home = homes / "nobody"
    home.mkdir()
    shutil.chown(home, "nobody", "nogroup")
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "FLEETLAB_HOME": str(home / ".fleetlab"),
        "FLEETLAB_SECRET_KEY": TEST_KEY,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *site]),
    }

    def as_nobody(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, "-m", "fleetlab", *args],
            user="nobody",
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    try:
        done = as_nobody("reset", "--yes")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        counted = as_nobody("query", "select count(*) as n from gateways", "-f", "csv")
        assert counted.stdout == "n\n6\n", counted.stderr
    finally:
        as_nobody("db", "stop")


def test_a_reset_right_after_the_server_was_killed_starts_it_again(homes):
    a = homes / "a"
    assert fleetlab(a, "reset", "--yes").returncode == 0
    pid = int((a / "pgdata" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, 9)  # its backends may live on for a moment, holding the shared memory
    observe("kill_points_tried")
    done = fleetlab(a, "reset", "--yes", "--seed", "5")
    assert done.returncode == 0, done.stderr
    assert seed_of(a / "pgdata") == 5
