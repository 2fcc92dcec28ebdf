"""Benchmark: how fast fleetlab's commands start and finish, against `python -c pass` run the same way.

    uv run python benchmarks/startup.py [--runs 15]

Each command runs as a whole process, with this interpreter and this environment (PYTHONDONTWRITEBYTECODE
as it is set), in turn with the others (so the machine's mood is shared), --runs times; the embedded
server in --home is started beforehand (a user's server is already up):
- `python -c pass`, the floor of any Python command;
- `fleetlab --help`;
- `fleetlab reset --yes`, the default fleet (the platform's own seed, as of now: built every time);
- `fleetlab reset --yes --as-of …`, the default fleet served by the scenario cache.
The last lines are the medians and the ratios to `python -c pass`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2026-01-01T00:00:00Z"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds to wait between rounds (ext4 slows file creation for ~30 s after many deletions: every "
        "reset creates and drops a database of ~300 files, so back-to-back resets measure that, not fleetlab)",
    )
    parser.add_argument(
        "--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench")
    )
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL"))}
    env["FLEETLAB_HOME"] = args.home
    fleetlab = [sys.executable, "-m", "fleetlab"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "fleetlab --help": [*fleetlab, "--help"],
        "fleetlab reset (default)": [*fleetlab, "reset", "--yes"],
        "fleetlab reset (cached)": [*fleetlab, "reset", "--yes", "--as-of", AS_OF],
    }
    # the server up, the key made, the cached fleet's template kept: what a user's second command finds
    for words in (commands["fleetlab reset (default)"], commands["fleetlab reset (cached)"]):
        subprocess.run(words, env=env, check=True, capture_output=True)
    print(f"{sys.executable}, PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', '')}; home {args.home}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for r in range(args.runs):
        if r and args.pause:
            time.sleep(args.pause)
        for name, words in commands.items():
            started = time.perf_counter()
            done = subprocess.run(words, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
    floor = statistics.median(times["python -c pass"])
    for name, ts in times.items():
        print(f"{name}: median {statistics.median(ts):.3f}s (min {min(ts):.3f}, max {max(ts):.3f})")
    print(f"python_pass_s: {floor:.3f}")
    print(f"help_s: {statistics.median(times['fleetlab --help']):.3f}")
    print(f"default_reset_s: {statistics.median(times['fleetlab reset (default)']):.3f}")
    print(f"cached_default_reset_s: {statistics.median(times['fleetlab reset (cached)']):.3f}")
    print(f"help_vs_python: {statistics.median(times['fleetlab --help']) / floor:.2f}")
    print(f"default_reset_vs_python: {statistics.median(times['fleetlab reset (default)']) / floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
