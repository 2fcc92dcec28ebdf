"""How long `fleetlab profile` takes, and how much memory, against a plain count(*) scan of gateways.

    uv run python benchmarks/profile.py [--sizes 100000,1000000] [--repeat 3]

For each size, fills a scratch database `fleetlab_bench_profile` on the configured server (the
embedded one under FLEETLAB_HOME, or DATABASE_URL's server) with tests/platform_source.py's
production-like fleet (the platform's schema, no fleetlab marker), then in the same run times, best
of K, in turn:

- count_scan_s:   `SELECT count(*) FROM gateways` (the baseline: one plain pass over the table);
- survey_s:       fleetlab's survey in process (every aggregate the profile reads);
- profile_cli_s:  the whole `fleetlab profile URL --output FILE` process;
- profile_peak_mib: the peak resident memory of that process (flat in the fleet's size is the goal).

The last lines are the figures and ratios. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fleetlab.config import Settings
from fleetlab.model.values import parse_as_of
from fleetlab.store import databases, db
from fleetlab.store.survey import survey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import platform_source  # noqa: E402

BENCH_DB = "fleetlab_bench_profile"
OURS = "the benchmark's scratch database"
GATEWAYS_PER_SCALE = 18_900  # about, at platform_source scale 1 (the giant's and large tenants' factories scale)


def fill(url, gateways: int) -> int:
    """The scratch database with about `gateways` gateways; returns how many it holds."""
    with db.connect(db.maintenance(url), autocommit=True) as admin:
        databases.drop(admin, BENCH_DB, url, ours=OURS)
        databases.create(admin, BENCH_DB, url)
    with db.connect(url) as conn:
        platform_source.make(conn, max(1, round(gateways / GATEWAYS_PER_SCALE)))
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        return conn.execute("SELECT count(*) FROM gateways").fetchone()[0]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cli(url, out: Path) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one `fleetlab profile` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetlab",
            "profile",
            url.render(masked=False),
            "--as-of",
            platform_source.AS_OF,
            "-o",
            str(out),
            "--overwrite",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"fleetlab profile failed: {proc.stdout}{proc.stderr}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="gateways per round, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the best counts (default 3)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    url = db.resolve(Settings.from_env()).with_dbname(BENCH_DB)
    as_of = parse_as_of(platform_source.AS_OF, "as_of", [])
    rows = []
    try:
        for size in sizes:
            t = time.perf_counter()
            n = fill(url, size)
            print(f"filled {n:,} gateways into {url.where} in {time.perf_counter() - t:.1f}s", flush=True)
            with db.connect(url, autocommit=True) as conn:
                scan = best(lambda c=conn: c.execute("SELECT count(*) FROM gateways").fetchone(), args.repeat)
            in_process = best(lambda: survey(url, as_of), args.repeat)
            with tempfile.TemporaryDirectory() as tmp:
                runs = [cli(url, Path(tmp) / "twin.toml") for _ in range(args.repeat)]
            wall = min(r[0] for r in runs)
            peak = max(r[1] for r in runs)  # RUSAGE_CHILDREN: the biggest child so far (this size's or before)
            rows.append((n, scan, in_process, wall, peak))
            print(
                f"{n:>10,} gateways: count_scan_s {scan:.3f}  survey_s {in_process:.3f}  profile_cli_s {wall:.3f}"
                f"  profile_peak_mib {peak:.0f}  survey_vs_count_scan {in_process / scan:.1f}",
                flush=True,
            )
    finally:
        with db.connect(db.maintenance(url), autocommit=True) as admin:
            databases.drop(admin, BENCH_DB, url, ours=OURS)
    n, scan, in_process, wall, peak = rows[-1]
    print(f"gateways {n}")
    print(f"count_scan_s {scan:.3f}")
    print(f"survey_s {in_process:.3f}")
    print(f"profile_cli_s {wall:.3f}")
    print(f"profile_peak_mib {peak:.0f}")
    print(f"survey_vs_count_scan {in_process / scan:.2f}")
    if len(rows) > 1:
        print(
            f"peak_growth {rows[-1][4] / rows[0][4]:.2f} (peak at {rows[-1][0]:,} over peak at {rows[0][0]:,} gateways)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
