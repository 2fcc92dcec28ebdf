"""How fast `fleetlab.read_sql` reads the gateways table, against raw ADBC and pl.read_database.

    uv run python benchmarks/query.py [--gateways N] [--repeat K]

Seeds N gateways once (SQL `INSERT … SELECT generate_series`, so the seed costs seconds, not
minutes) into a scratch database `fleetlab_bench_query` on the configured server (the embedded
one under FLEETLAB_HOME, or DATABASE_URL's server), then in the same run times, best of K:

- fleetlab_s:      read_sql("select * from gateways"), typed (uuid → str, jsonb → str, UTC times);
- adbc_raw_s:      the same query through the ADBC driver into a pyarrow Table, no conversion;
- read_database_s: pl.read_database over a SQLAlchemy (psycopg 3) connection.

The last five lines are the figures. The scratch database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import polars as pl
from psycopg import sql

from fleetlab.config import Settings
from fleetlab.read.engine import engine
from fleetlab.read.query import read_sql
from fleetlab.store import databases, db, marker, migrate

BENCH_DB = "fleetlab_bench_query"
OURS = "the benchmark's scratch database"
QUERY = "select * from gateways"

# 100 gateways per factory, 50 factories per organization; a realistic spread of nulls,
# silence and soft deletes so the columns carry the work they do in a real fleet.
SEED_SQL = """
INSERT INTO organizations (id, name, metadata)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(o), 12, '0'))::uuid,
       'Organization ' || o,
       jsonb_build_object('plan', (ARRAY['free', 'team', 'enterprise'])[1 + o % 3], 'region', 'eu-' || o % 4)
FROM generate_series(0, {orgs} - 1) AS o;

INSERT INTO factories (id, organization_id, name, location, timezone, metadata)
SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(f), 12, '0'))::uuid,
       ('00000000-0000-4000-8000-' || lpad(to_hex(f / 50), 12, '0'))::uuid,
       'Factory ' || f,
       CASE WHEN f % 7 = 0 THEN NULL ELSE 'Site ' || f || ', Springfield' END,
       (ARRAY['UTC', 'Europe/Berlin', 'America/Chicago', 'Asia/Tokyo'])[1 + f % 4],
       jsonb_build_object('lines', 1 + f % 6, 'code', 'F' || f)
FROM generate_series(0, {factories} - 1) AS f;

INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model,
                      firmware_version, last_seen_at, metadata, deleted_at)
SELECT ('00000000-0000-4000-a000-' || lpad(to_hex(g), 12, '0'))::uuid,
       ('00000000-0000-4000-9000-' || lpad(to_hex(g / 100), 12, '0'))::uuid,
       'GW-' || lpad(g::text, 8, '0'),
       'Gateway ' || g,
       'https://gw-' || g || '.example.com:8443',
       'gw-' || g || '@example.com',
       'v1.000000000000.' || translate(encode(sha256(g::text::bytea) || sha256(('p' || g)::bytea), 'base64'), '+/=', '-_'),
       CASE WHEN g % 20 = 0 THEN NULL
            ELSE (ARRAY['Siemens SIMATIC IOT2050', 'Moxa UC-8210', 'Advantech UNO-2271G', 'HMS Ewon Flexy 205'])[1 + g % 4] END,
       CASE WHEN g % 25 = 0 THEN NULL ELSE '1.' || g % 5 || '.' || g % 3 END,
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE timestamptz '2026-01-01 00:00:00+00' - make_interval(secs => (g::bigint * 7919) % 864000) END,
       jsonb_build_object('protocol', (ARRAY['opc-ua', 'modbus-tcp', 'mqtt'])[1 + g % 3],
                          'ip', '10.' || g / 65536 % 256 || '.' || g / 256 % 256 || '.' || g % 256,
                          'tags', jsonb_build_array('line-' || g % 8, 'production')),
       CASE WHEN g % 50 = 0 THEN timestamptz '2025-12-01 00:00:00+00' END
FROM generate_series(0, {gateways} - 1) AS g;
"""


def seed(settings: Settings, n: int):
    """Create the scratch database with the fleetlab schema and N gateways; returns its URL."""
    url = db.resolve(settings).with_dbname(BENCH_DB)
    with db.connect(db.maintenance(url), autocommit=True) as admin:
        databases.drop(admin, BENCH_DB, url, ours=OURS)
        databases.create(admin, BENCH_DB, url)
    factories = max(1, -(-n // 100))
    orgs = max(1, -(-factories // 50))
    with db.connect(url, autocommit=True) as conn:
        marker.create(conn)
        migrate.apply(conn)
        conn.autocommit = False
        with conn.transaction():
            counts = {"orgs": orgs, "factories": factories, "gateways": n}
            conn.execute(sql.SQL(SEED_SQL).format(**{k: sql.Literal(v) for k, v in counts.items()}))
            marker.record_seed(
                conn,
                {"name": "benchmark", "counts": {"organizations": orgs, "factories": factories, "gateways": n}},
            )
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return url


def drop(url) -> None:
    with db.connect(db.maintenance(url), autocommit=True) as admin:
        databases.drop(admin, BENCH_DB, url, ours=OURS)


def timed(fn) -> tuple[float, object]:
    gc.collect()
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=1_000_000, help="rows in gateways (default 1,000,000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs of read_sql and raw ADBC; the best counts (default 5)"
    )
    parser.add_argument(
        "--slow-repeat", type=int, default=1, help="timed runs of pl.read_database, the slow baseline (default 1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args(argv)
    if min(args.gateways, args.repeat, args.slow_repeat) < 1:
        parser.error("--gateways, --repeat and --slow-repeat must be positive")

    settings = Settings.from_env()
    t = time.perf_counter()
    url = seed(settings, args.gateways)
    print(f"seeded {args.gateways:,} gateways into {url.where} in {time.perf_counter() - t:.1f}s", flush=True)

    try:

        def fleetlab_read():
            return read_sql(QUERY, url=url)

        def adbc_read():
            import adbc_driver_postgresql.dbapi

            with adbc_driver_postgresql.dbapi.connect(url.render(masked=False)) as conn, conn.cursor() as cur:
                cur.execute(QUERY)
                return cur.fetch_arrow_table()

        eng = engine(url)

        def read_database():
            with eng.connect() as conn:
                return pl.read_database(QUERY, conn)

        # the two fast readers alternate, so a busy neighbour on the machine slows both alike
        fleetlab_s = adbc_s = read_database_s = float("inf")
        for _ in range(args.repeat):
            seconds, frame = timed(fleetlab_read)
            fleetlab_s = min(fleetlab_s, seconds)
            assert frame.height == args.gateways, frame.height
            del frame
            seconds, table = timed(adbc_read)
            adbc_s = min(adbc_s, seconds)
            assert table.num_rows == args.gateways, table.num_rows
            del table
        frame = read_sql(QUERY + " limit 1", url=url)
        print("read_sql schema: " + ", ".join(f"{k}={v}" for k, v in frame.schema.items()), flush=True)
        for _ in range(args.slow_repeat):
            seconds, frame = timed(read_database)
            read_database_s = min(read_database_s, seconds)
            assert frame.height == args.gateways, frame.height
            del frame
        eng.dispose()
    finally:
        if not args.keep:
            drop(url)

    print(f"fleetlab_s: {fleetlab_s:.3f}")
    print(f"adbc_raw_s: {adbc_s:.3f}")
    print(f"read_database_s: {read_database_s:.3f}")
    print(f"ratio_vs_adbc: {fleetlab_s / adbc_s:.2f}")
    print(f"speedup_vs_read_database: {read_database_s / fleetlab_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
