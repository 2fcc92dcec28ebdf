"""Which part of the fleet a question is about (`Filter`), and `Query`: the one place a filtered
question's SQL gets its `$n` parameters.

A question writes its SQL with the pieces of a `Query` (`q.as_of()`, `q.status()`,
`q.gateways_with_parents()`, `q.param("days", 30, "int")`, …); each piece asks for the values it
needs by name and gets `$n::type` back, numbered in the order first asked for. The values go out with
the SQL (`q.values`), so no module knows another's parameter positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from ..errors import ConfigError
from ..model.status import STATUSES, Clock, status_sql, status_tests


@dataclass(frozen=True)
class Filter:
    """Which part of the fleet a question is about: organizations (by id), gateway models, firmware
    versions and connectivity statuses (`fleetlab.model.status`); None (or empty) means all. The
    notebooks' filters; every question of `fleetlab.read.workbench.Workbench` takes one.

    In SQL each is a text array, tested by `Query.organizations_kept` against an organization alias and
    by `Query.gateways_kept` against the gateways alias `g`; one not chosen is no test at all."""

    organizations: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    firmware: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.statuses or ()) - set(STATUSES))
        if unknown:
            raise ConfigError(f"unknown status {', '.join(unknown)}: choose from {', '.join(STATUSES)}.")

    @property
    def narrows_gateways(self) -> bool:
        """True when some models, firmware versions or statuses are chosen: a test on gateways, which
        organizations and factories have no column for."""
        return bool(self.models or self.firmware or self.statuses)

    @property
    def keeps_everything(self) -> bool:
        """True when nothing is chosen: the whole fleet."""
        return not (self.organizations or self.narrows_gateways)

    def for_status(self, status: str) -> Filter | None:
        """This filter as a question about gateways of one `status` sees it: without its statuses when
        `status` is among them (the rest cannot change the answer), None when the filter keeps no
        gateway of that status (the answer is empty, nothing to ask)."""
        if not self.statuses:
            return self
        return replace(self, statuses=None) if status in self.statuses else None


EVERYTHING = Filter()


def check_bounds(bounds: Sequence[timedelta]) -> list[timedelta]:
    """`bounds` of last-seen ages as a list, or ConfigError unless they are distinct and ascend."""
    bounds = list(bounds)
    seconds = [b.total_seconds() if isinstance(b, timedelta) else None for b in bounds]
    if not seconds or None in seconds or seconds != sorted(set(seconds)):
        raise ConfigError("bounds must be distinct durations in ascending order, e.g. [5 minutes, 1 hour].")
    return bounds


class Query:
    """The parameters of one filtered question, against `clock`, counting soft-deleted rows as active
    when `include_deleted`, keeping what `where` keeps. Its methods return SQL text."""

    def __init__(self, clock: Clock, include_deleted: bool = False, where: Filter = EVERYTHING):
        self.clock, self.deleted, self.where = clock, bool(include_deleted), where
        self.values: list[Any] = []
        self._refs: dict[str, tuple[str, Any]] = {}

    def param(self, name: str, value: Any, cast: str) -> str:
        """`$n::cast` holding `value`: numbered when `name` is first asked for, the same `$n` after."""
        if name in self._refs:
            ref, held = self._refs[name]
            if held is not value and held != value:
                raise ValueError(f"parameter {name} given two values")  # a programming error, not a user's
            return ref
        self.values.append(value)
        ref = f"${len(self.values)}::{cast}"
        self._refs[name] = (ref, value)
        return ref

    # -- the clock and the status ---------------------------------------------------------------

    def as_of(self) -> str:
        return self.param("as_of", self.clock.as_of, "timestamptz")

    def stale_before(self) -> str:
        return self.param("stale_before", self.clock.stale_before, "timestamptz")

    def status_counts(self, also: str = "TRUE") -> str:
        """online, recent, stale, never_seen: the gateways `g` of each status (and `also`), counted side by
        side with plain comparisons (`fleetlab.model.status.status_tests`), for a SELECT list."""
        online_since = self.param("online_since", self.clock.online_since, "timestamptz")
        tests = status_tests("g.last_seen_at", online_since, self.stale_before())
        return ", ".join(f"count(*) FILTER (WHERE ({also}) AND {tests[s]}) AS {s}" for s in STATUSES)

    def age_counts(self, bounds: Sequence[timedelta]) -> str:
        """age_0 … age_n: the gateways `g` last seen within bounds[0] before as_of (or after it), then
        above bounds[k-1] up to bounds[k], then (age_n) longer ago than the last bound; counted side by
        side with plain comparisons of instants, for a SELECT list (never seen: none of them). `bounds`
        ascend (`check_bounds`)."""
        since = [self.param(f"since_{k}", self.clock.as_of - b, "timestamptz") for k, b in enumerate(bounds)]
        tests = [f"g.last_seen_at >= {since[0]}"]
        tests += [f"g.last_seen_at < {since[k - 1]} AND g.last_seen_at >= {since[k]}" for k in range(1, len(since))]
        tests += [f"g.last_seen_at < {since[-1]}"]
        return ", ".join(f"count(*) FILTER (WHERE {t}) AS age_{k}" for k, t in enumerate(tests))

    def status(self, last_seen: str = "g.last_seen_at") -> str:
        """The status of the gateway whose last_seen_at is `last_seen` (`fleetlab.model.status`)."""
        online_since = self.param("online_since", self.clock.online_since, "timestamptz")
        return status_sql(last_seen, online_since, self.stale_before())

    # -- soft deletes and the filter ------------------------------------------------------------

    def include_deleted(self) -> str:
        """True when soft-deleted rows count as active."""
        return self.param("include_deleted", self.deleted, "boolean")

    def _kept(self, name: str, column: str, values: tuple[str, ...] | None) -> str:
        # nothing chosen keeps everything: no test at all, so the planner sees a plain scan
        if not values:
            return "TRUE"
        return f"{column} = ANY({self.param(name, list(values), 'text[]')})"

    def organizations_kept(self, alias: str) -> str:
        """The organization `alias` is one the filter keeps."""
        return self._kept("organizations", f"{alias}.id::text", self.where.organizations)

    def gateways_kept(self) -> str:
        """The gateway `g` has a model, firmware and status the filter keeps."""
        return " AND ".join(
            [
                self._kept("models", "g.model", self.where.models),
                self._kept("firmware", "g.firmware_version", self.where.firmware),
                self._statuses_kept(),
            ]
        )

    def _statuses_kept(self) -> str:
        """The gateway `g` has a status the filter keeps, as plain comparisons of instants (an index on
        last_seen_at can serve them); no test, and no parameter, when none is chosen."""
        chosen = set(self.where.statuses or ())
        if not chosen:
            return "TRUE"
        # only the instants the chosen tests compare with: a parameter the SQL does not use is refused
        online_since = (
            self.param("online_since", self.clock.online_since, "timestamptz") if chosen - {"never_seen"} else ""
        )
        stale_before = self.stale_before() if chosen & {"recent", "stale"} else ""
        tests = status_tests("g.last_seen_at", online_since, stale_before)
        return "(" + " OR ".join(f"({tests[s]})" for s in STATUSES if s in chosen) + ")"

    def gateways_with_parents(self, filtered: bool = True) -> str:
        """FROM gateways g with its factory f and organization o: only active rows (the gateway and both
        parents not soft-deleted) unless include_deleted; `filtered`: only the part the Filter keeps."""
        kept = f" AND {self.organizations_kept('o')} AND {self.gateways_kept()}" if filtered else ""
        return f"""
    FROM gateways g
    JOIN factories f ON f.id = g.factory_id
    JOIN organizations o ON o.id = f.organization_id
    WHERE ({self.include_deleted()} OR (g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL)){kept}"""

    def gateways_counted(self) -> str:
        """FROM gateways g, for a question that counts them and needs nothing of their parents: the rows
        `gateways_with_parents` keeps, the parents tested once per factory (a hashed list of the factories
        kept), not joined to every gateway."""
        return f"""
    FROM gateways g
    WHERE ({self.include_deleted()} OR g.deleted_at IS NULL)
      AND g.factory_id IN (
          SELECT f.id FROM factories f JOIN organizations o ON o.id = f.organization_id
          WHERE ({self.include_deleted()} OR (f.deleted_at IS NULL AND o.deleted_at IS NULL))
            AND {self.organizations_kept("o")})
      AND {self.gateways_kept()}"""

    def per_factory(self) -> str:
        """A CTE `per_factory`: one row per factory, its gateways (those the Filter's models, firmware
        and statuses keep) by status."""
        counted = f"{self.include_deleted()} OR g.deleted_at IS NULL"
        return f"""
    per_factory AS (
        SELECT g.factory_id,
               count(*) FILTER (WHERE {counted}) AS gateways,
               {self.status_counts(counted)},
               count(*) FILTER (WHERE g.deleted_at IS NOT NULL) AS deleted_gateways
        FROM gateways g
        WHERE {self.gateways_kept()}
        GROUP BY g.factory_id
    )"""
