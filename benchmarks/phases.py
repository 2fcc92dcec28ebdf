"""Profile of a reset's phases, one after the other, single-threaded: where the time of a big seed goes.

    uv run python benchmarks/phases.py --gateways 1000000

On the embedded server (data under --home, default /tmp/fleetlab-bench) or DATABASE_URL's server:
plan (organizations and factories), generate the gateway chunks, encrypt their passwords, render the binary COPY rows,
COPY the rendered rows (indexes and foreign keys dropped, as the loader does), rebuild them, and swap
(ALTER DATABASE … RENAME). Each phase is timed alone, so their sum is more than a reset, which overlaps
rendering with the COPY. Prints one line per phase: seconds and share.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from fleetlab.store.crypto import keyring_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import bench_spec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=1_000_000)
    parser.add_argument(
        "--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench")
    )
    args = parser.parse_args()

    from psycopg import sql

    from fleetlab.config import Settings
    from fleetlab.generation.fleets import plan
    from fleetlab.model.fleet import PASSWORD, copy_columns
    from fleetlab.model.tables import TABLES
    from fleetlab.store import databases, db, marker, migrate, pgcopy
    from fleetlab.store.load import CHUNK_ROWS, defer_indexes, encrypt_passwords

    env = dict(os.environ)
    env.setdefault("FLEETLAB_HOME", args.home)
    settings = Settings.from_env(env)
    keys = keyring_for(settings, create=True)
    server = db.maintenance(db.resolve(settings))
    phases: dict[str, float] = {}

    t = time.perf_counter()
    fleet = plan(bench_spec(args.gateways))
    phases["plan (organizations, factories)"] = time.perf_counter() - t

    with tempfile.TemporaryDirectory(dir=args.home) as tmp:
        paths = {table: Path(tmp) / f"{table}.copy" for table in TABLES}
        gen = enc = render = 0.0
        for table in TABLES:
            with paths[table].open("wb") as out:
                out.write(pgcopy.SIGNATURE)
                chunks = fleet.chunks(table, CHUNK_ROWS)
                while True:
                    t = time.perf_counter()
                    frame = next(chunks, None)
                    gen += time.perf_counter() - t
                    if frame is None:
                        break
                    if table == "gateways":
                        t = time.perf_counter()
                        frame = frame.with_columns(encrypt_passwords(frame[PASSWORD], keys))
                        enc += time.perf_counter() - t
                    t = time.perf_counter()
                    out.write(pgcopy.encode(frame.select(copy_columns(table)), pgcopy.column_kinds(table)))
                    render += time.perf_counter() - t
                out.write(pgcopy.TRAILER)
        phases["generate gateway rows"] = gen
        phases["encrypt passwords"] = enc
        phases["render binary COPY rows"] = render

        name, side = "fleetlab_phases", "fleetlab_phases_side"
        with db.connect(server, autocommit=True) as admin:
            for n in (name, side):
                databases.drop(admin, n, ours="the benchmark's scratch database")
            databases.create(admin, side)
        with db.connect(server.with_dbname(side), autocommit=True) as conn:
            marker.create(conn)
            migrate.apply(conn)
            conn.autocommit = False
            with conn.cursor() as cur:
                restore = defer_indexes(cur)
                t = time.perf_counter()
                for table in TABLES:
                    cols = sql.SQL(", ").join(sql.Identifier(c) for c in copy_columns(table))
                    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(sql.Identifier(table), cols)
                    with cur.copy(stmt) as copy, paths[table].open("rb") as src:
                        while block := src.read(8 << 20):
                            copy.write(block)
                phases["COPY (one stream)"] = time.perf_counter() - t
                t = time.perf_counter()
                for ddl in restore.statements():
                    cur.execute(ddl)
                phases["indexes and foreign keys"] = time.perf_counter() - t
            t = time.perf_counter()
            conn.commit()
            phases["commit"] = time.perf_counter() - t
        with db.connect(server, autocommit=True) as admin:
            t = time.perf_counter()
            databases.rename(admin, side, name)
            phases["swap (rename)"] = time.perf_counter() - t
            databases.drop(admin, name, ours="the benchmark's scratch database")

    total = sum(phases.values())
    print(f"{args.gateways:,} gateways; phases timed one after the other (a reset overlaps rendering and COPY)")
    for phase, seconds in phases.items():
        print(f"{phase:<34} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    print(f"{'sum':<34} {total:7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
