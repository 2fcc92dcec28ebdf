"""Run the reliability suite and print its figures.

    uv run python scripts/reliability_report.py [extra pytest arguments]

The suite (tests/reliability) drives the real CLI and library against real PostgreSQL: wrong
targets, concurrent resets and migrations, drift, kills at chosen points, held locks, secrets,
leaks and a corpus of bad input. Each scenario records what it tried and what went wrong before
it asserts, so the figures below are counted, not assumed; a failing test still reports.

The output ends with exactly these seven lines:

    bad_inputs_tried: <n>
    tracebacks: <n>
    secrets_leaked: <n>
    kill_points_tried: <n>
    half_built_databases: <n>
    double_applied_migrations: <n>
    rows_lost_or_partial: <n>

Exit status: 0 when the suite passed and the goals hold (at least 50 bad inputs and 6 kill
points tried, zero in every other line), 1 otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.reliability.harness import METRICS  # noqa: E402  (the suite's own list of figures)

GOALS = {"bad_inputs_tried": 50, "kill_points_tried": 6}  # at least; every other figure must be 0


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="fleetlab-reliability-") as tmp:
        log = Path(tmp) / "figures.jsonl"
        log.touch()
        env = {**os.environ, "FLEETLAB_RELIABILITY_LOG": str(log)}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider", *argv],
            cwd=ROOT,
            env=env,
        )
        elapsed = time.perf_counter() - started
        figures = dict.fromkeys(METRICS, 0)
        for line in log.read_text().splitlines():
            record = json.loads(line)
            figures[record["metric"]] += record["n"]

    met = all(figures[m] >= GOALS[m] if m in GOALS else figures[m] == 0 for m in METRICS)
    print(
        f"\nsuite: {'passed' if proc.returncode == 0 else f'FAILED (pytest exit {proc.returncode})'} "
        f"in {elapsed:.0f}s; goals {'met' if met else 'NOT met'}"
    )
    for m in METRICS:
        print(f"{m}: {figures[m]}")
    return 0 if proc.returncode == 0 and met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
