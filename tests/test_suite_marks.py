"""The suite's `server` mark: what .ci/run's second pass (`-m server`, against another PostgreSQL) runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "tests/test_schema.py": "all",  # every test on a cloned database
    "tests/notebooks/reset.ipynb": "all",  # every cell on its world's database
    "tests/test_reset.py": "some",  # most on a database, the remote-host refusals on none
    "tests/test_spec.py": "none",  # spec parsing
    "tests/reliability/test_server_identity.py": "none",  # embedded servers of their own
}


def collected(*args: str) -> set[str]:
    # collecting connects to nothing; an unreachable TEST_DATABASE_URL keeps the embedded server unstarted
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["TEST_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/postgres"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider", *args, *FILES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return {line for line in run.stdout.splitlines() if "::" in line}


def test_the_second_pass_runs_the_tests_that_reach_the_server_and_only_those():
    everything, marked = collected(), collected("-m", "server")
    assert marked < everything
    for path, expected in FILES.items():
        mine = {t for t in everything if t.startswith(f"{path}::")}
        chosen = mine & marked
        assert mine, path
        got = "all" if chosen == mine else "none" if not chosen else "some"
        assert got == expected, f"{path}: {got} of its tests marked server, expected {expected}: {sorted(chosen)}"
    reset_marked = {t for t in marked if t.startswith("tests/test_reset.py::")}
    assert not any("remote_host_refused" in t for t in reset_marked)
    assert any("test_reset_loads_the_original_seed" in t for t in reset_marked)
