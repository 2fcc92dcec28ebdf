"""Which part of the fleet a question is about (`Filter`), and the SQL pieces the questions of
`fleetlab.read.inspect` and `fleetlab.read.sites` share.

Every filtered question runs with one parameter layout (`run`): $1-$3 the Clock (as_of,
online_within, stale_after), $4 include_deleted, $5-$8 the Filter (organizations, models,
firmware, statuses), then the question's own parameters from $9.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from ..errors import ConfigError
from .clock import STATUS, clock
from .query import URLLike, connect, fetch

STATUSES = ("online", "recent", "stale", "never_seen")


@dataclass(frozen=True)
class Filter:
    """Which part of the fleet a question is about: organizations (by id), gateway models, firmware
    versions and connectivity statuses (see `fleetlab.read.inspect`); None (or empty) means all. The
    notebooks' filters; every question of `fleetlab.read.inspect` takes one.

    In SQL it is four JSON-array parameters (`params()`; `[]` keeps everything), tested by
    `organizations_sql` against an organization alias and by `gateways_sql` against the gateways alias
    `g`."""

    organizations: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    firmware: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.statuses or ()) - set(STATUSES))
        if unknown:
            raise ConfigError(f"unknown status {', '.join(unknown)}: choose from {', '.join(STATUSES)}.")

    def params(self) -> list[str]:
        """$5 organizations, $6 models, $7 firmware, $8 statuses (in `run`'s layout)."""
        return [json.dumps(list(v or ())) for v in (self.organizations, self.models, self.firmware, self.statuses)]

    @staticmethod
    def organizations_sql(alias: str, p: int = 5) -> str:
        return _kept(f"{alias}.id::text", p)

    @staticmethod
    def gateways_sql(p: int = 6) -> str:
        """Models at $p, firmware at $p+1, statuses at $p+2 (the Clock at $1-$3)."""
        return f"{_kept('g.model', p)} AND {_kept('g.firmware_version', p + 1)} AND {_kept(f'({STATUS})', p + 2)}"


def _kept(column: str, p: int) -> str:
    return f"(${p}::jsonb = '[]'::jsonb OR {column} IN (SELECT jsonb_array_elements_text(${p}::jsonb)))"


EVERYTHING = Filter()


def gateways_with_parents(filtered: bool = True) -> str:
    """FROM gateways g with its factory f and organization o: only active rows (the gateway and both
    parents not soft-deleted) unless $4 (include_deleted) is true; `filtered`: only the part of the
    fleet the Filter at $5-$8 keeps."""
    kept = f" AND {Filter.organizations_sql('o')} AND {Filter.gateways_sql()}" if filtered else ""
    return f"""
    FROM gateways g
    JOIN factories f ON f.id = g.factory_id
    JOIN organizations o ON o.id = f.organization_id
    WHERE ($4::boolean OR (g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL)){kept}"""


# one row per factory: its gateways (those the Filter's models, firmware and statuses keep) by status
PER_FACTORY = f"""
    per_factory AS (
        SELECT g.factory_id,
               count(*) FILTER (WHERE counted) AS gateways,
               count(*) FILTER (WHERE counted AND status = 'online') AS online,
               count(*) FILTER (WHERE counted AND status = 'recent') AS recent,
               count(*) FILTER (WHERE counted AND status = 'stale') AS stale,
               count(*) FILTER (WHERE counted AND status = 'never_seen') AS never_seen,
               count(*) FILTER (WHERE g.deleted_at IS NOT NULL) AS deleted_gateways
        FROM (SELECT g.factory_id, g.deleted_at, ($4::boolean OR g.deleted_at IS NULL) AS counted,
                     {STATUS} AS status
              FROM gateways g
              WHERE {Filter.gateways_sql()}) g
        GROUP BY g.factory_id
    )"""


def run(
    sql: str,
    url: URLLike,
    as_of: datetime | None = None,
    stale_after: timedelta | float | None = None,
    include_deleted: bool = False,
    where: Filter = EVERYTHING,
    extra: list[Any] | None = None,
) -> pl.DataFrame:
    """`sql` with $1-$3 the clock, $4 include_deleted, $5-$8 the filter, then `extra` from $9."""
    with connect(url) as conn:
        c = clock(conn, as_of, stale_after)
        return fetch(conn, sql, [*c.params(), bool(include_deleted), *where.params(), *(extra or [])])
