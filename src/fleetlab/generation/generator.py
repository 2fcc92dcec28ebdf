"""Generated fleets: organizations and factories built at once, gateways chunk by chunk.

Every value of an entity derives from (seed, the entity's path) through `fleetlab.generation.hashing`,
so the same spec gives the same rows on every run and machine, and adding a gateway, a factory or
a field changes no existing row. Names, places and companies come from per-locale Faker pools
(`fleetlab.generation.pools`), picked by keyed index with numpy and polars string expressions.

`plan(spec)` returns a `FleetPlan` (a `fleetlab.model.fleet.Loadable`): organizations and
factories as frames, gateways produced by `FleetPlan.chunks("gateways", rows)` when loaded, so
loading 10 million gateways keeps memory flat. `fleetlab.generation.fleets` is the front door.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..model.fleet import (
    FACTORY_SCHEMA,
    GATEWAY_ROWS,
    ORGANIZATION_SCHEMA,
    PASSWORD,
    Fleet,
    check_shard,
    shard_record,
)
from ..model.spec import FleetSpec, scenario_record
from . import shaped
from .columns import entity_uuids
from .gateways import deleted_gateways, gateways
from .hashing import child, counts_for, pick, root, unit, weighted
from .pools import INDUSTRIES, PLANS, POOL_SIZE, Pool, per_locale
from .times import DAY_US, created, soft_deleted, times, us

SITE_STRIDE = 97  # odd, so coprime with POOL_SIZE: an organization's sites never repeat
CHUNK_ROWS = 50_000
# an organization joined 500-2000 days before as_of; its factories up to ONBOARDING_DAYS after it,
# their gateways up to that long after the factory: always before any last_seen_at or deleted_at
ORG_AGE_DAYS = (500, 2000)


@dataclass
class FleetPlan:
    """A generated fleet whose gateways are produced chunk by chunk (flat memory when loading).

    A `fleetlab.model.fleet.Loadable`.
    """

    spec: FleetSpec
    organizations: pl.DataFrame
    factories: pl.DataFrame
    _parents: dict[str, np.ndarray] = field(repr=False)
    _org_domains: pl.Series = field(repr=False)
    _factory_rows: pl.DataFrame = field(repr=False)  # every factory of the fleet, in its order (a shard's
    # gateways look their factory up by its row there)
    scenario: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "organizations": self.organizations.height,
            "factories": self.factories.height,
            "gateways": int(self._parents["n_gateways"].sum()),
        }

    def deleted_counts(self) -> dict[str, int]:
        """Soft-deleted rows per table (own `deleted_at` set), the gateways' from their keys alone."""
        return {
            "organizations": self.organizations["deleted_at"].is_not_null().sum(),
            "factories": self.factories["deleted_at"].is_not_null().sum(),
            "gateways": deleted_gateways(self.spec, self._parents),
        }

    def chunks(self, table: str, rows: int = CHUNK_ROWS, which: Iterable[int] | None = None) -> Iterator[pl.DataFrame]:
        """The rows of `table` in frames of `rows` rows; with `which`, only the frames of those
        numbers, the others not even made (`fleetlab.model.fleet.Loadable.chunks`)."""
        if table != "gateways":
            frame = self.organizations if table == "organizations" else self.factories
            for i in range(-(-frame.height // rows)) if which is None else which:
                yield frame.slice(i * rows, rows)
            return
        n = self._parents["n_gateways"]
        ends = np.cumsum(n)
        begins = ends - n
        total = int(ends[-1]) if len(n) else 0
        # chunks cut the fleet's gateway sequence at fixed offsets, through factories if need be,
        # so one huge factory does not make one huge chunk
        for i in range(-(-total // rows)) if which is None else which:
            a, b = i * rows, min(i * rows + rows, total)
            first = int(np.searchsorted(ends, a, side="right"))
            last = int(np.searchsorted(ends, b - 1, side="right"))
            sel = np.arange(first, last + 1)
            start = np.maximum(a - begins[sel], 0)
            stop = np.minimum(b - begins[sel], n[sel])
            part = {k: v[sel] for k, v in self._parents.items()}
            yield gateways(self.spec, part, start, stop - start, self._factory_rows, self._org_domains)

    def materialize(self) -> Fleet:
        """The whole fleet as frames (what `generate` returns)."""
        parts = list(self.chunks("gateways", 1_000_000))
        rows = pl.concat(parts) if parts else pl.DataFrame(schema=GATEWAY_ROWS)
        return Fleet(
            organizations=self.organizations,
            factories=self.factories,
            gateways=rows.drop(PASSWORD),
            passwords=rows[PASSWORD],
            scenario=self.scenario,
        )


def plan(spec: FleetSpec, shard: tuple[int, int] | None = None, pools: Path | None = None) -> FleetPlan:
    """The generated fleet of `spec`: organizations and factories built, gateways to come chunk by chunk.

    With `shard=(k, n)`, the k-th of n disjoint parts: every n-th organization from the k-th, with its
    factories and gateways, every value as in the whole fleet (values are keyed by entity, not by position).
    `pools`: a folder where Faker's pools are kept between runs (`pools.pool`); the rows are the same.
    """
    given, spec = spec.as_of is not None, spec.at()
    orgs = _organizations(spec, pools)
    all_factories, parents = _factories(spec, orgs, pools)
    organizations, factories, record = orgs.frame, all_factories, scenario_record(spec, as_of_given=given)
    if shard is not None:
        k, n = shard
        check_shard(k, n)
        mine = np.arange(organizations.height) % n == k
        organizations = organizations.filter(pl.Series(mine))
        theirs = mine[parents["org"]]
        factories = all_factories.filter(pl.Series(theirs))
        parents = {name: values[theirs] for name, values in parents.items()}
        record = shard_record(record, k, n)
    return FleetPlan(
        spec=spec,
        organizations=organizations,
        factories=factories,
        _parents=parents,
        _org_domains=orgs.domains,
        _factory_rows=all_factories,
        scenario=record,
    )


@dataclass(frozen=True)
class _Organizations:
    """The organizations' frame and the per-row arrays their factories derive from."""

    frame: pl.DataFrame
    keys: np.ndarray  # value lane
    ids: np.ndarray  # id lane
    locale: np.ndarray  # index into the spec's locales
    created_us: np.ndarray
    domains: pl.Series
    tier: np.ndarray | None  # each organization's tier (`model.shape`), when the spec has tiers


def _organizations(spec: FleetSpec, pools: Path | None) -> _Organizations:
    locales = [loc for loc, _ in spec.locales]
    n_orgs = int(counts_for(root(spec.seed, "values"), "organizations", spec.organizations)[0])
    o = np.arange(n_orgs)
    keys = child(root(spec.seed, "values"), o, "org")
    ids = child(root(spec.seed, "ids"), o, "org")
    locale = weighted(keys, "locale", [w for _, w in spec.locales]) if n_orgs else np.zeros(0, dtype=np.int64)

    def from_pool(fn) -> pl.Series:
        return per_locale(locale, locales, spec.seed, fn, pools)

    company = from_pool(lambda p, r: p.companies.gather(pick(keys[r], "company", POOL_SIZE)))
    domain = from_pool(lambda p, r: p.domains.gather(pick(keys[r], "domain", POOL_SIZE)))
    city = from_pool(lambda p, r: p.cities.gather(pick(keys[r], "hq", POOL_SIZE)))
    country = from_pool(lambda p, r: pl.Series([p.country] * len(r), dtype=pl.String))
    as_of_us = us(spec.as_of)
    lo, hi = ORG_AGE_DAYS
    created_us = as_of_us - ((lo + unit(keys, "created_at") * (hi - lo)) * DAY_US).astype(np.int64)
    tier = shaped.tier_of(n_orgs, spec.shape) if spec.shape.tiers else None
    deleted_share = (
        spec.deleted_organizations
        if tier is None
        else shaped.tier_deleted(tier, spec.shape, spec.deleted_organizations)
    )
    _, deleted_at = soft_deleted(keys, deleted_share, as_of_us)
    raw = pl.DataFrame(
        {
            "id": entity_uuids(ids),
            "name": company,
            "industry": pl.Series(INDUSTRIES).gather(pick(keys, "industry", len(INDUSTRIES))),
            "plan": pl.Series(PLANS[0]).gather(weighted(keys, "plan", PLANS[1])),
            "hq": city,
            "country": country,
            "domain": domain,
            "locale": pl.Series(locales, dtype=pl.String).gather(locale),
            **times(created_us, deleted_at),
        }
    ).with_columns(
        headquarters=pl.concat_str("hq", "country", separator=", "),
        contact_email=pl.concat_str(pl.lit("ops@"), "domain"),
    )
    raw, meta = _metadata(
        spec, "organizations", raw, keys, ("industry", "plan", "locale", "headquarters", "contact_email")
    )
    frame = raw.select("id", "name", meta.alias("metadata"), "created_at", "updated_at", "deleted_at").cast(
        ORGANIZATION_SCHEMA
    )  # type: ignore[arg-type]
    # Faker's pools repeat companies: a fleet's second "Carter Group" becomes "Carter Group 2", so every
    # organization of a fleet has its own name (lists, charts and GROUP BY name stay right); an
    # organization's name depends only on those before it, so adding organizations renames none
    seen = pl.int_range(pl.len()).over("name")
    frame = frame.with_columns(
        pl.when(seen > 0).then(pl.format("{} {}", "name", seen + 1)).otherwise("name").alias("name")
    )
    return _Organizations(frame, keys, ids, locale, created_us, domain, tier)


def _factories(spec: FleetSpec, orgs: _Organizations, pools: Path | None) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """The factories' frame, and the per-factory arrays their gateways derive from."""
    shape = spec.shape
    if orgs.tier is None:
        n_fac = counts_for(orgs.keys, "factories", spec.factories_per_organization)
    else:
        n_fac = shaped.tier_counts(orgs.keys, orgs.tier, shape, "factories_per_organization", "factories")
    f_org = np.repeat(np.arange(len(orgs.keys)), n_fac)
    f_idx = np.arange(len(f_org)) - np.repeat(np.cumsum(n_fac) - n_fac, n_fac)
    f_keys = child(orgs.keys[f_org], f_idx, "factory")
    f_ids = child(orgs.ids[f_org], f_idx, "factory")
    nf = len(f_org)

    def site(p: Pool, r: np.ndarray) -> pl.Series:
        # an organization's sites walk the pool from a keyed start with an odd stride, so its
        # factories never share a city and street (up to POOL_SIZE of them), and a factory's
        # site still depends only on its organization and its own index
        i = (pick(orgs.keys[f_org[r]], "site", POOL_SIZE) + f_idx[r] * SITE_STRIDE) % POOL_SIZE
        if zones is not None:  # a city of the factory's drawn zone, where its country's pool has one
            i = shaped.cities_in_zones(p.timezones, zones[r], f_keys[r], i)
        return _site(p, i, f_keys[r])

    locales = [loc for loc, _ in spec.locales]
    # a twin's few hundred factories: the deleted share exact (`shaped.evenly`), not drawn one by one, and
    # the time zones in exact shares among the active ones and among the deleted ones
    gone = shaped.evenly(f_keys, "deleted", spec.deleted_factories) if shape else None
    zones, site_locale = None, orgs.locale[f_org]
    if shape.timezones:
        zones, site_locale, locales = shaped.factory_zones(shape, f_keys, site_locale, locales, gone)
    site_parts = per_locale(site_locale, locales, spec.seed, site, pools).str.split_exact("\x1f", 4)
    sites = (
        pl.DataFrame({"s": site_parts}).unnest("s")
        if nf
        else pl.DataFrame({f"field_{i}": [] for i in range(5)}, schema={f"field_{i}": pl.String for i in range(5)})
    )
    f_created = created(orgs.created_us[f_org], f_keys)
    _, deleted_at = soft_deleted(f_keys, spec.deleted_factories, us(spec.as_of), gone)
    raw = pl.DataFrame(
        {
            "id": entity_uuids(f_ids),
            "organization_id": orgs.frame["id"].gather(f_org) if nf else pl.Series([], dtype=pl.String),
            "name": sites["field_0"],
            "location": sites["field_1"],
            "timezone": sites["field_2"] if zones is None else shaped.zone_column(zones, sites["field_2"], spec.shape),
            "code": pl.Series(f_org, dtype=pl.Int64).cast(pl.String).str.zfill(4)
            + "-"
            + pl.Series(f_idx, dtype=pl.Int64).cast(pl.String).str.zfill(3),
            "lines": pl.Series(1 + pick(f_keys, "lines", 8)),
            "shifts": pl.Series(1 + pick(f_keys, "shifts", 3)),
            "area_m2": pl.Series(2_000 + 100 * pick(f_keys, "area", 400)),
            "iso50001": pl.Series(unit(f_keys, "iso50001") < 0.4),
            # where the site is (WGS 84 degrees, its city's): the explore notebook's map
            "latitude": sites["field_3"].replace("", None).cast(pl.Float64),
            "longitude": sites["field_4"].replace("", None).cast(pl.Float64),
            **times(f_created, deleted_at),
        }
    )
    known = ("code", "lines", "shifts", "area_m2", "iso50001", "latitude", "longitude")
    raw, meta = _metadata(spec, "factories", raw, f_keys, known)
    factories = raw.select(
        "id",
        "organization_id",
        "name",
        "location",
        "timezone",
        meta.alias("metadata"),
        "created_at",
        "updated_at",
        "deleted_at",
    ).cast(FACTORY_SCHEMA)  # type: ignore[arg-type]
    # Faker's pools repeat some cities: an organization's second "Springfield Plant" becomes
    # "Springfield Plant 2", so the platform's name-ordered lists see distinct names
    seen = pl.int_range(pl.len()).over("organization_id", "name")
    factories = factories.with_columns(
        pl.when(seen > 0).then(pl.format("{} {}", "name", seen + 1)).otherwise("name").alias("name")
    )
    n_gateways = (
        counts_for(f_keys, "gateways", spec.gateways_per_factory)
        if orgs.tier is None
        else shaped.tier_gateways(f_keys, orgs.tier[f_org], f_org, f_idx, shape, orgs.keys)
    )
    if shape.scale != 1.0:  # rounded up or down by a keyed draw: totals stay in proportion
        n_gateways = np.floor(n_gateways * shape.scale + unit(f_keys, "scale")).astype(np.int64)
    parents = {
        "keys": f_keys,
        "ids": f_ids,
        "org": f_org,
        "idx": f_idx,
        "n_gateways": n_gateways,
        "start": np.cumsum(n_gateways) - n_gateways,  # each factory's first gateway's place in the fleet
        "factory_row": np.arange(nf),
        "created_us": f_created,
    }
    return factories, parents


def _metadata(
    spec: FleetSpec, table: str, raw: pl.DataFrame, keys: np.ndarray, known: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.Expr]:
    """The metadata of a table's rows: fleetlab's own fields (`known`, columns of `raw`) as a JSON object,
    or, when the spec's shape gives the table's keys, those keys (`shaped.metadata`)."""
    if not spec.shape.metadata_of(table):
        return raw, pl.struct(*known).struct.json_encode()
    draws = shaped.Ranked(keys)
    extra, meta = shaped.metadata(spec.shape, table, keys, draws, {k: shaped.json_value(k) for k in known})
    return raw.with_columns(**extra), meta


def _site(p: Pool, i: np.ndarray, keys: np.ndarray) -> pl.Series:
    """Factory sites from pool `p` (entries `i`): name, location, time zone, latitude and longitude
    (the city's; empty when unknown) joined by \\x1f."""
    frame = pl.DataFrame(
        {
            "city": p.cities.gather(i),
            "street": p.streets.gather(i),
            "postcode": p.postcodes.gather(pick(keys, "postcode", POOL_SIZE)),
            "kind": p.kinds.gather(pick(keys, "kind", len(p.kinds))),
            # most sites in a country's main zone (Faker lists it first), the rest spread
            "tz": p.timezones.gather(i),  # the city's own zone
            "lat": p.latitudes.gather(i).round(5).cast(pl.String),
            "lon": p.longitudes.gather(i).round(5).cast(pl.String),
        }
    )
    if p.locale.startswith("en_"):
        loc = pl.concat_str("street", "city", "postcode", separator=", ")
    elif p.locale.startswith("ja_"):
        loc = pl.concat_str(pl.lit("〒"), "postcode", pl.lit(" "), "city", pl.lit(" "), "street")  # romanized city
    else:
        loc = pl.concat_str(pl.col("street"), pl.concat_str("postcode", "city", separator=" "), separator=", ")
    return frame.select(
        pl.concat_str(
            pl.concat_str("city", "kind", separator=" "),  # the city is in Latin script everywhere
            pl.concat_str(loc, pl.lit(p.country), separator=", "),
            "tz",
            pl.col("lat").fill_null(""),
            pl.col("lon").fill_null(""),
            separator="\x1f",
        )
    ).to_series()
