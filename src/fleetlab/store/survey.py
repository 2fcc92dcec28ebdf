"""Read a fleet's aggregates (a `fleetlab.model.twin.Survey`) from any database: the platform's own,
a fleetlab twin, on any server.

Everything is read in one read-only, repeatable-read transaction (a consistent snapshot), with
plain SELECTs: a role that may do nothing but SELECT on the three tables is enough, and nothing is
written, not even a temporary table. Only aggregates leave the server: counts grouped by
organization and factory come back without their ids (an ordinal stands for the organization), and
the only values that come back are the categorical ones a twin may name (models, firmware versions,
time zones, URL schemes, metadata keys and JSON types). Each query is one pass over its table, so a
million gateways take seconds and the client's memory depends on the number of factories, not rows.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg

from ..dsn import DatabaseURL
from ..errors import DatabaseError
from ..model.shape import SCHEMES
from ..model.status import ONLINE_WITHIN
from ..model.twin import EDGES, QUANTILES, Survey
from .db import connect, translate_errors

NEEDED = {
    "organizations": ("id", "metadata", "deleted_at"),
    "factories": ("id", "organization_id", "timezone", "metadata", "deleted_at"),
    "gateways": (
        "id",
        "factory_id",
        "gateway_id",
        "url",
        "model",
        "firmware_version",
        "last_seen_at",
        "metadata",
        "deleted_at",
    ),
}

_STATUS = """CASE WHEN last_seen_at IS NULL THEN 'never_seen'
     WHEN last_seen_at >= %(as_of)s - %(online)s THEN 'online'
     WHEN last_seen_at >= %(as_of)s - %(stale)s THEN 'recent' ELSE 'stale' END"""
_HOURS = "extract(epoch FROM (%(as_of)s - last_seen_at)) / 3600.0"
# a URL's scheme, when it is one a twin may name (any other text before "://" could be a customer's)
_SCHEME = "CASE WHEN lower(left(url, strpos(url, '://') - 1)) IN ({}) THEN lower(left(url, strpos(url, '://') - 1)) ELSE 'other' END".format(
    ", ".join(f"'{s}'" for s in SCHEMES)
)


def known_zones() -> set[str]:
    """IANA time zone names: a factory's time zone leaves the server only when it is one of them (the
    column is free text: anything else could be a customer's words, and counts as "other")."""
    import zoneinfo

    from ..model.values import known_locales, shipped_locales

    zones = {z for zs in (shipped_locales() or known_locales()).values() for z in zs}
    return zones | zoneinfo.available_timezones() | {"UTC"}


def survey(url: DatabaseURL, as_of: datetime, stale_after_hours: float = 24.0) -> Survey:
    """The aggregates of the fleet at `url`, statuses measured against `as_of`."""
    with connect(url) as conn, translate_errors(url, "the profile's reads"):
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            _check_tables(conn, url)
            return _read(conn, as_of, stale_after_hours)


def _check_tables(conn: psycopg.Connection, url: DatabaseURL) -> None:
    rows = conn.execute(
        "SELECT table_name::text, column_name::text FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        (list(NEEDED),),
    ).fetchall()
    have: dict[str, set[str]] = {}
    for table, column in rows:
        have.setdefault(table, set()).add(column)
    missing = [f"{t}.{c}" if t in have else t for t, cols in NEEDED.items() for c in cols if c not in have.get(t, ())]
    missing = list(dict.fromkeys(m if "." in m else f"table {m}" for m in missing))
    if missing:
        raise DatabaseError(
            f"{url.where} is not a database of the platform (missing: {', '.join(missing[:6])}): "
            "give the URL of the database its migrations made, with SELECT on organizations, factories and gateways."
        )


def _frame(conn: psycopg.Connection, sql: str, params: dict, schema: dict) -> pl.DataFrame:
    rows = conn.execute(sql, params).fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


def _read(conn: psycopg.Connection, as_of: datetime, stale_after_hours: float) -> Survey:
    from datetime import timedelta

    p = {"as_of": as_of, "online": ONLINE_WITHIN, "stale": timedelta(hours=stale_after_hours)}
    totals, deleted = {}, {}
    for table in ("organizations", "factories"):  # the gateways' come with their factories below
        n, d = conn.execute(f"SELECT count(*), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM {table}").fetchone()
        totals[table], deleted[table] = int(n), int(d)
    per_factory = """
        WITH gf AS (SELECT factory_id, count(*) AS g, count(*) FILTER (WHERE deleted_at IS NULL) AS ga
                    FROM gateways GROUP BY factory_id),
             o AS (SELECT id, row_number() OVER (ORDER BY id) AS org, deleted_at IS NULL AS active FROM organizations)
        SELECT o.org, f.deleted_at IS NULL AS active, coalesce(gf.g, 0), coalesce(gf.ga, 0), count(*)
        FROM factories f JOIN o ON o.id = f.organization_id LEFT JOIN gf ON gf.factory_id = f.id
        GROUP BY 1, 2, 3, 4"""
    factories = _frame(
        conn,
        per_factory,
        p,
        {"org": pl.Int64, "active": pl.Boolean, "gateways": pl.Int64, "gateways_active": pl.Int64, "n": pl.Int64},
    )
    orgs = _frame(
        conn,
        "SELECT row_number() OVER (ORDER BY id), deleted_at IS NULL FROM organizations",
        p,
        {"org": pl.Int64, "active": pl.Boolean},
    )
    totals["gateways"] = int((factories["gateways"] * factories["n"]).sum())
    deleted["gateways"] = totals["gateways"] - int((factories["gateways_active"] * factories["n"]).sum())
    live = factories.filter(pl.col("active"))
    orgs = (
        orgs.join(
            factories.group_by("org").agg(
                pl.col("n").sum().alias("factories"), (pl.col("gateways") * pl.col("n")).sum().alias("gateways")
            ),
            on="org",
            how="left",
        )
        .join(
            live.group_by("org").agg(
                pl.col("n").sum().alias("factories_active"),
                (pl.col("gateways_active") * pl.col("n")).sum().alias("gateways_active"),
            ),
            on="org",
            how="left",
        )
        .fill_null(0)
    )
    quantiles = {
        s: list(q)
        for s, q in conn.execute(
            f"SELECT {_STATUS}, percentile_cont(%(q)s::float8[]) WITHIN GROUP (ORDER BY {_HOURS})"
            " FROM gateways WHERE deleted_at IS NULL AND last_seen_at IS NOT NULL GROUP BY 1",
            {**p, "q": list(QUANTILES)},
        ).fetchall()
    }
    # one pass over the active gateways for statuses, silences, models, firmware and URL schemes at once;
    # silences in buckets cut at the fixed EDGES and at every status's quantiles (`Survey.silence_edges`)
    edges = sorted({float(e) for e in EDGES} | {float(x) for q in quantiles.values() for x in q})
    combined = _frame(
        conn,
        f"SELECT {_STATUS}, width_bucket({_HOURS}, %(edges)s::float8[]), model::text, firmware_version::text,"
        f" {_SCHEME}, count(*) FROM gateways WHERE deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5",
        {**p, "edges": edges},
        {
            "status": pl.String,
            "bucket": pl.Int64,
            "model": pl.String,
            "firmware": pl.String,
            "scheme": pl.String,
            "n": pl.Int64,
        },
    )
    statuses = dict(combined.group_by("status").agg(pl.col("n").sum()).iter_rows())
    histogram = combined.group_by("status", "bucket").agg(pl.col("n").sum())
    pairs = combined.group_by("model", "firmware").agg(pl.col("n").sum())
    schemes = combined.group_by("scheme").agg(pl.col("n").sum())
    zones = _frame(
        conn,
        "SELECT CASE WHEN timezone = ANY(%(zones)s) THEN timezone::text ELSE 'other' END, count(*)"
        " FROM factories WHERE deleted_at IS NULL GROUP BY 1",
        {"zones": sorted(known_zones())},
        {"timezone": pl.String, "n": pl.Int64},
    )
    keys = pl.concat(
        [
            _frame(
                conn,
                f"SELECT '{table}', k, jsonb_typeof(t.metadata -> k), count(*) FROM {table} t,"
                " jsonb_object_keys(CASE WHEN jsonb_typeof(t.metadata) = 'object' THEN t.metadata ELSE '{}' END) AS k"
                " WHERE t.deleted_at IS NULL GROUP BY 2, 3",
                p,
                {"table": pl.String, "key": pl.String, "type": pl.String, "n": pl.Int64},
            )
            for table in NEEDED
        ]
    )
    reused = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM gateways a"
        " WHERE a.gateway_id = d.gateway_id AND a.deleted_at IS NULL))"
        " FROM gateways d WHERE d.deleted_at IS NOT NULL"
    ).fetchone()
    return Survey(
        as_of=as_of,
        stale_after_hours=stale_after_hours,
        totals=totals,
        deleted=deleted,
        orgs=orgs,
        factories=factories,
        statuses={s: int(n) for s, n in statuses.items()},
        silence_quantiles=quantiles,
        silence_histogram=histogram,
        silence_edges=edges,
        pairs=pairs,
        timezones=zones,
        schemes=schemes,
        metadata_keys=keys,
        reused=(int(reused[0]), int(reused[1])),
    )
