"""Benchmark: fleetlab's generate + load against a raw COPY and against the naive way.

    uv run python benchmarks/seed.py --gateways 1000000

In one run, on the embedded server (data under $FLEETLAB_HOME, default /tmp/fleetlab-bench):
1. fleetlab: spec → plan → `seed` (TRUNCATE + streamed COPY, one transaction), end to end, in a
   child process so its peak resident memory is its own;
2. the limit: a raw COPY of the very same rows, rendered to CSV files beforehand (passwords
   encrypted), in the same kind of transaction (TRUNCATE, then COPY the three tables);
3. the naive baseline a user would write: Faker calls per row + psycopg `executemany`, on a
   sample large enough for a stable per-row rate.

The limit uses the same index strategy as fleetlab (drop secondary indexes and foreign keys,
COPY, rebuild); the plain COPY into the indexed tables is printed too, for information.
The last six lines are the figures (rates count the rows of all three tables).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

AS_OF = "2026-01-01T00:00:00Z"


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
    from fleetlab.store.config import Settings

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FLEETLAB_HOME"] = str(home)
    return Settings.from_env(env)


def phase_fleetlab(args) -> None:
    """Child process: generate and load, print seconds, rows and peak RSS as JSON."""
    from fleetlab.build.fleets import plan
    from fleetlab.store.reset import seed

    settings = settings_for(Path(args.home))
    started = time.perf_counter()
    result = seed(settings, plan(bench_spec(args.gateways)))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": sum(result.counts.values()), "peak_rss_mib": peak}))


def raw_copy(settings, gateways: int, workdir: Path, *, defer: bool) -> tuple[float, int]:
    """Render the same rows to CSV files (untimed), then time TRUNCATE + COPY of them.

    With `defer`, indexes and foreign keys are dropped and rebuilt around the COPY, as fleetlab's
    load does for large fleets: the fastest COPY there is, so the strictest limit to compare with.
    """
    from fleetlab.build.fleets import plan
    from fleetlab.model.fleet import copy_columns
    from fleetlab.model.tables import TABLES
    from fleetlab.store import db
    from fleetlab.store.load import defer_indexes, rendered_chunks
    from fleetlab.store.reset import target

    fleet = plan(bench_spec(gateways))
    keys = settings.keyring(create=True)
    files = {}
    for table in TABLES:
        files[table] = workdir / f"{table}.csv"
        if files[table].exists():
            continue
        with files[table].open("wb") as fh:
            for data, _ in rendered_chunks(fleet, table, keys):
                fh.write(data)
    rows = sum(fleet.counts().values())
    url = target(settings)
    with db.connect(url) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("TRUNCATE organizations, factories, gateways")
            restore = defer_indexes(cur) if defer else []
            for table in TABLES:
                cols = ", ".join(copy_columns(table))
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy, \
                        files[table].open("rb") as fh:
                    while block := fh.read(1 << 20):
                        copy.write(block)
            for ddl in restore:
                cur.execute(ddl)
        seconds = time.perf_counter() - started
    return seconds, rows


def naive(settings, sample: int) -> tuple[float, int]:
    """What one would write first: Faker per row, executemany, one transaction."""
    from faker import Faker

    from fleetlab.store import db
    from fleetlab.store.reset import target

    fake = Faker("en_US")
    Faker.seed(0)
    random.seed(0)
    enc = settings.keyring(create=True).encryptor()
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
                    (fid, org_id, f"{fake.city()} Plant", fake.address().replace("\n", ", "), fake.timezone(),
                     json.dumps({"lines": fake.random_int(1, 8)}))
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
                        json.dumps({"protocol": fake.random_element(["opc-ua", "mqtt", "modbus-tcp"]),
                                    "ip": fake.ipv4_private(), "mac": fake.mac_address(),
                                    "tags": fake.words(3)}),
                    )
                )
            cur.executemany(
                "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model, "
                "firmware_version, last_seen_at, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        seconds = time.perf_counter() - started
    return seconds, 1 + n_factories + sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=1_000_000, help="gateways to generate and load (default 1,000,000)")
    parser.add_argument("--naive-sample", type=int, default=20_000, help="gateways for the naive baseline (default 20,000)")
    parser.add_argument("--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench"))
    parser.add_argument("--phase", choices=["fleetlab"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "fleetlab":
        phase_fleetlab(args)
        return 0

    from fleetlab.build.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store import reset as reset_mod

    home = Path(args.home)
    settings = settings_for(home)
    print(f"embedded server under {home}; {args.gateways:,} gateways", flush=True)
    reset_mod.reset(settings, plan(load_scenario("default").override(as_of=AS_OF)))  # a fresh workbench

    child = subprocess.run(
        [sys.executable, __file__, "--phase", "fleetlab", "--gateways", str(args.gateways), "--home", str(home)],
        check=True, capture_output=True, text=True,
    )
    fl = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"fleetlab: {fl['rows']:,} rows in {fl['seconds']:.2f}s", flush=True)

    with tempfile.TemporaryDirectory(dir=home) as tmp:
        indexed_s, _ = raw_copy(settings, args.gateways, Path(tmp), defer=False)
        print(f"raw COPY into the indexed tables: {indexed_s:.2f}s (for information)", flush=True)
        copy_s, copy_rows = raw_copy(settings, args.gateways, Path(tmp), defer=True)
    print(f"raw COPY, indexes rebuilt after (the limit): {copy_rows:,} rows in {copy_s:.2f}s", flush=True)

    naive_s, naive_rows = naive(settings, args.naive_sample)
    print(f"naive:    {naive_rows:,} rows in {naive_s:.2f}s", flush=True)

    fl_rate = fl["rows"] / fl["seconds"]
    naive_rate = naive_rows / naive_s
    print(f"fleetlab_rows_per_s: {fl_rate:.0f}")
    print(f"copy_limit_rows_per_s: {copy_rows / copy_s:.0f}")
    print(f"naive_rows_per_s: {naive_rate:.0f}")
    print(f"ratio_vs_copy: {fl['seconds'] / copy_s:.2f}")
    print(f"speedup_vs_naive: {fl_rate / naive_rate:.1f}")
    print(f"peak_rss_mib: {fl['peak_rss_mib']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
