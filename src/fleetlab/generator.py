"""Generating fleets: keyed, vectorised, from pools of Faker values.

Every value of an entity derives from (seed, the entity's path): organization o has the key
K(o) = child(root(seed), o), factory f of it K(o, f), gateway g of that K(o, f, g), and each field
is a hash of the entity's key and the field's name. So the same spec gives the same rows on
every run and machine, and adding a gateway, a factory or a field changes no existing row.

Per-row Faker calls are far too slow for millions of rows (about 290 µs a row), so Faker fills
small per-locale *pools* (companies, cities, streets, ...; the pool itself keyed by seed and
locale) once, and rows pick from them by keyed index with numpy, 64-bit splitmix hashing
(stable across numpy/polars versions, unlike polars' own hash) and polars string expressions.

- `generate(spec)` — the whole fleet as polars frames (a preview; no database).
- `plan(spec)` — organizations and factories as frames, gateways produced chunk by chunk when
  loaded (`FleetPlan.chunks("gateways", rows)`), so loading 10 million gateways keeps memory flat.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import numpy as np
import polars as pl

from .fleet import FACTORY_SCHEMA, GATEWAY_SCHEMA, ORGANIZATION_SCHEMA, Fleet
from .load import fixed_width_strings
from .spec import Count, FleetSpec, known_locales, scenario_record

U64 = np.uint64
GOLDEN = 0x9E3779B97F4A7C15
POOL_SIZE = 512
SITE_STRIDE = 97  # odd, so coprime with POOL_SIZE
CHUNK_ROWS = 50_000
ONLINE_MINUTES = 5  # "online": seen within this many minutes of as_of
STALE_MAX_DAYS = 90  # stale gateways were last seen between the threshold and this long ago
DELETED_MAX_DAYS = 365
# an organization joined 500-2000 days before as_of; its factories up to 60 days after it, their
# gateways up to 60 days after the factory: always before any last_seen_at or deleted_at
ORG_AGE_DAYS = (500, 2000)
ONBOARDING_DAYS = 60
WSS_SHARE = 0.2  # gateways reached through a TLS endpoint (wss://host); the rest ws://<ip>:5000 on the plant LAN
DAY_US = 86_400_000_000

# -- keyed hashing ------------------------------------------------------------------------------


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic): a stable 64-bit hash."""
    x = np.asarray(x, dtype=U64)
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


@cache
def tag(name: str) -> np.uint64:
    """A field's or level's 64-bit constant (blake2b of its name: stable, independent of order)."""
    return U64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little"))


def root(seed: int, lane: str) -> np.ndarray:
    """The key of the fleet for `seed`; `lane` keeps independent key chains (ids vs. values)."""
    return mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=U64) ^ tag(lane))


def child(parent: np.ndarray, index: np.ndarray, level: str) -> np.ndarray:
    """Keys of children `index` (0-based) of `parent` keys at `level` ("org", "factory", "gateway")."""
    idx = np.asarray(index, dtype=U64)
    return mix(parent ^ mix((idx + U64(1)) * U64(GOLDEN) ^ tag(level)))


def draw(keys: np.ndarray, name: str) -> np.ndarray:
    """The 64-bit hash of field `name` for entities `keys`."""
    return mix(keys ^ tag(name))


def unit(keys: np.ndarray, name: str) -> np.ndarray:
    """A keyed uniform float in [0, 1) per entity."""
    return (draw(keys, name) >> U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def pick(keys: np.ndarray, name: str, n: int) -> np.ndarray:
    """A keyed index in range(n) per entity."""
    return (draw(keys, name) % U64(n)).astype(np.int64)


def weighted(keys: np.ndarray, name: str, weights: list[float]) -> np.ndarray:
    """A keyed index into `weights`, chosen in proportion to them."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, unit(keys, name), side="right"), len(weights) - 1)


def counts_for(keys: np.ndarray, name: str, count: Count) -> np.ndarray:
    """Keyed draws of `count` (fixed, uniform or poisson) per parent."""
    n = len(keys)
    if count.kind == "fixed":
        return np.full(n, count.low, dtype=np.int64)
    if count.kind == "uniform":
        return count.low + pick(keys, name, count.high - count.low + 1)
    return poisson_quantile(unit(keys, name), count.mean)


def poisson_quantile(u: np.ndarray, mean: float) -> np.ndarray:
    """The Poisson(mean) quantile of `u` (inverse CDF, so a keyed uniform gives a keyed draw)."""
    if mean <= 0:
        return np.zeros(len(u), dtype=np.int64)
    if mean > 10_000:  # the normal approximation is exact enough here, and needs no huge table
        from statistics import NormalDist

        z = np.array([NormalDist().inv_cdf(x) for x in np.clip(u, 1e-12, 1 - 1e-12)])
        return np.maximum(np.rint(mean + math.sqrt(mean) * z), 0).astype(np.int64)
    hi = int(mean + 12 * math.sqrt(mean) + 20)
    k = np.arange(hi + 1)
    logpmf = k * math.log(mean) - mean - np.array([math.lgamma(i + 1) for i in k])
    cdf = np.cumsum(np.exp(logpmf))
    return np.searchsorted(cdf, u * cdf[-1], side="right").clip(0, hi).astype(np.int64)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuids(a: np.ndarray, b: np.ndarray) -> pl.Series:
    """Version-4-shaped UUID strings from two 64-bit words per row (vectorised formatting)."""
    n = len(a)
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :8] = a.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 8:] = b.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((slice(0, 8), slice(0, 8)), (slice(8, 12), slice(9, 13)), (slice(12, 16), slice(14, 18)),
                     (slice(16, 20), slice(19, 23)), (slice(20, 32), slice(24, 36))):
        out[:, dst] = hexed[:, src]
    return fixed_width_strings(out)


def entity_uuids(ids: np.ndarray) -> pl.Series:
    """UUIDs from the id-lane keys of entities (two derived words: 128 bits of keyed identity)."""
    return uuids(draw(ids, "uuid:hi"), draw(ids, "uuid:lo"))


# -- pools of Faker values, per locale ------------------------------------------------------------

FACTORY_KINDS = {
    "en": ["Plant", "Assembly", "Facility", "Works", "Mill", "Fabrication Center"],
    "de": ["Werk", "Montagewerk", "Fertigung", "Produktionsstätte"],
    "fr": ["Usine", "Site de production", "Atelier"],
    "es": ["Planta", "Fábrica", "Centro de producción"],
    "it": ["Stabilimento", "Fabbrica", "Impianto"],
    "pt": ["Fábrica", "Planta", "Unidade Industrial"],
    "nl": ["Fabriek", "Productielocatie"],
    "ja": ["工場", "製作所", "事業所"],
    "zh": ["工厂", "制造基地", "生产基地"],
    "ko": ["공장", "생산기지"],
}
CJK = ("ja", "zh", "ko")  # languages that write a place and "plant" without a space
LINES = [
    "Press Line", "Paint Shop", "Body Shop", "Final Assembly", "CNC Cell", "Packaging", "Welding Cell",
    "Injection Molding", "Quality Lab", "Warehouse", "Boiler House", "Compressor Room", "Test Bench",
    "Stamping", "Machining", "Logistics Dock",
]
PROTOCOLS = (["opc-ua", "modbus-tcp", "mqtt", "profinet", "ethernet-ip"], [0.4, 0.25, 0.22, 0.08, 0.05])
ENVIRONMENTS = (["production", "staging", "test"], [0.85, 0.1, 0.05])
INDUSTRIES = [
    "automotive components", "food and beverage", "pharmaceuticals", "electronics", "plastics",
    "metal fabrication", "chemicals", "aerospace", "textiles", "packaging", "machinery", "energy",
]
PLANS = (["enterprise", "business", "team", "trial"], [0.3, 0.35, 0.25, 0.1])
HEX2 = pl.Series([f"{i:02x}" for i in range(256)])
MAC_VENDORS = ["00:1b:1b", "00:90:e8", "00:d0:c9", "00:30:de", "00:a0:45", "00:01:05"]  # Siemens, Moxa, Advantech, ...


@dataclass(frozen=True)
class Pool:
    """Faker values for one locale: coherent tuples, picked by keyed index."""

    locale: str
    companies: pl.Series
    domains: pl.Series
    cities: pl.Series
    streets: pl.Series
    postcodes: pl.Series
    timezones: pl.Series
    kinds: pl.Series
    country: str
    country_code: str


@lru_cache(maxsize=32)
def pool(locale: str, seed: int) -> Pool:
    """The pools for `locale`: Faker seeded by (seed, locale), so they are keyed like the rows."""
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(int.from_bytes(hashlib.blake2b(f"{seed}:{locale}".encode(), digest_size=8).digest(), "little"))

    def flat(text: str) -> str:
        return " ".join(text.split())

    companies = [flat(fake.company()) for _ in range(POOL_SIZE)]
    domains = [fake.domain_name() for _ in range(POOL_SIZE)]
    cities = [flat(fake.city()) for _ in range(POOL_SIZE)]
    if locale.startswith("ja_"):  # Faker's ja_JP street_address is "<n> <surname> Street"
        streets = [f"{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}" for _ in range(POOL_SIZE)]
    else:
        streets = [flat(fake.street_address()) for _ in range(POOL_SIZE)]
    postcodes = [flat(fake.postcode()) for _ in range(POOL_SIZE)]
    country_code = locale.split("_")[-1]
    try:
        country = fake.current_country()
    except (AttributeError, ValueError):
        country = country_code
    zones = list(known_locales()[locale])
    kinds = FACTORY_KINDS.get(locale.split("_")[0], FACTORY_KINDS["en"])
    return Pool(
        locale=locale,
        companies=pl.Series(companies, dtype=pl.String),
        domains=pl.Series(domains, dtype=pl.String),
        cities=pl.Series(cities, dtype=pl.String),
        streets=pl.Series(streets, dtype=pl.String),
        postcodes=pl.Series(postcodes, dtype=pl.String),
        timezones=pl.Series(zones, dtype=pl.String),
        kinds=pl.Series(kinds, dtype=pl.String),
        country=country,
        country_code=country_code,
    )


def _per_locale(locale_idx: np.ndarray, locales: list[str], seed: int, fn) -> pl.Series:
    """Apply `fn(pool, mask)` per locale and stitch the String results back in row order."""
    out = pl.Series([None] * len(locale_idx), dtype=pl.String)
    if len(locale_idx) == 0:
        return out
    parts = []
    order = []
    for i, loc in enumerate(locales):
        rows = np.flatnonzero(locale_idx == i)
        if len(rows):
            parts.append(fn(pool(loc, seed), rows))
            order.append(rows)
    values = pl.concat(parts)
    positions = np.concatenate(order)
    return values.gather(pl.Series(np.argsort(positions, kind="stable")))


# -- the fleet ---------------------------------------------------------------------------------


def _us(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def _created(parent_us: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Creation times (µs) of children onboarded up to ONBOARDING_DAYS after their parents."""
    return parent_us + (unit(keys, "created_at") * ONBOARDING_DAYS * DAY_US).astype(np.int64)


def _times(created_us: np.ndarray, deleted: pl.Series) -> dict[str, pl.Series]:
    """created_at, updated_at (the soft delete is the last update) and deleted_at columns."""
    created = pl.Series(created_us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    return {"created_at": created, "updated_at": deleted.fill_null(created), "deleted_at": deleted}


def _timestamps(as_of_us: int, ago_us: np.ndarray, keep: np.ndarray) -> pl.Series:
    """as_of - ago where `keep`, else NULL, as a UTC microsecond Datetime series."""
    values = pl.Series(as_of_us - ago_us.astype(np.int64), dtype=pl.Int64)
    values = values.set(pl.Series(~keep), None) if not keep.all() else values
    return values.cast(pl.Datetime("us", "UTC"))


@dataclass
class FleetPlan:
    """A generated fleet whose gateways are produced chunk by chunk (flat memory when loading).

    Has the interface `load` uses: organizations, factories, seed, scenario, counts(), chunks().
    """

    spec: FleetSpec
    organizations: pl.DataFrame
    factories: pl.DataFrame
    _parents: dict[str, np.ndarray] = field(repr=False)
    _org_domains: pl.Series = field(repr=False)
    seed: int = 0
    scenario: dict[str, Any] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)  # None: keyed per gateway

    def counts(self) -> dict[str, int]:
        return {
            "organizations": self.organizations.height,
            "factories": self.factories.height,
            "gateways": int(self._parents["n_gateways"].sum()),
        }

    def chunks(self, table: str, rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
        """The rows of `table` in frames of about `rows` rows (gateways: whole factories per chunk)."""
        if table != "gateways":
            frame = self.organizations if table == "organizations" else self.factories
            for offset in range(0, frame.height, rows):
                yield frame.slice(offset, rows)
            return
        n = self._parents["n_gateways"]
        ends = np.cumsum(n)
        begins = ends - n
        total = int(ends[-1]) if len(n) else 0
        # chunks cut the fleet's gateway sequence at fixed offsets, through factories if need be,
        # so one huge factory does not make one huge chunk
        for a in range(0, total, rows):
            b = min(a + rows, total)
            first = int(np.searchsorted(ends, a, side="right"))
            last = int(np.searchsorted(ends, b - 1, side="right"))
            sel = np.arange(first, last + 1)
            start = np.maximum(a - begins[sel], 0)
            stop = np.minimum(b - begins[sel], n[sel])
            part = {k: v[sel] for k, v in self._parents.items()}
            yield _gateways(self.spec, part, start, stop - start, self.factories, self._org_domains)

    def materialize(self) -> Fleet:
        """The whole fleet as frames (what `generate` returns)."""
        gateways = list(self.chunks("gateways", 1_000_000))
        return Fleet(
            organizations=self.organizations,
            factories=self.factories,
            gateways=pl.concat(gateways) if gateways else pl.DataFrame(schema=GATEWAY_SCHEMA),
            seed=self.seed,
            scenario=self.scenario,
        )


def plan(spec: FleetSpec) -> FleetPlan | Fleet:
    """The fleet of `spec` with organizations and factories built and gateways to come, chunk by chunk.

    The hand-written `acme` source returns its (small) Fleet directly.
    """
    spec = spec.at()
    scenario = scenario_record(spec)
    if spec.source == "acme":
        from .acme import from_spec

        return from_spec(spec)
    locales = [loc for loc, _ in spec.locales]
    weights = [w for _, w in spec.locales]

    # organizations
    n_orgs = int(counts_for(root(spec.seed, "values"), "organizations", spec.organizations)[0])
    o = np.arange(n_orgs)
    org_keys = child(root(spec.seed, "values"), o, "org")
    org_ids = child(root(spec.seed, "ids"), o, "org")
    org_locale = weighted(org_keys, "locale", weights) if n_orgs else np.zeros(0, dtype=np.int64)
    org_company = _per_locale(org_locale, locales, spec.seed, lambda p, r: p.companies.gather(pick(org_keys[r], "company", POOL_SIZE)))
    org_domain = _per_locale(org_locale, locales, spec.seed, lambda p, r: p.domains.gather(pick(org_keys[r], "domain", POOL_SIZE)))
    org_city = _per_locale(org_locale, locales, spec.seed, lambda p, r: p.cities.gather(pick(org_keys[r], "hq", POOL_SIZE)))
    org_country = _per_locale(org_locale, locales, spec.seed, lambda p, r: pl.Series([p.country] * len(r), dtype=pl.String))
    as_of_us = _us(spec.as_of)
    day = DAY_US
    org_deleted = unit(org_keys, "deleted") < spec.deleted_organizations
    org_deleted_ago = day + (unit(org_keys, "deleted_at") * (DELETED_MAX_DAYS - 1) * day).astype(np.int64)
    lo, hi = ORG_AGE_DAYS
    org_created = as_of_us - ((lo + unit(org_keys, "created_at") * (hi - lo)) * DAY_US).astype(np.int64)
    organizations = pl.DataFrame(
        {
            "id": entity_uuids(org_ids),
            "name": org_company,
            "industry": pl.Series(INDUSTRIES).gather(pick(org_keys, "industry", len(INDUSTRIES))),
            "plan": pl.Series(PLANS[0]).gather(weighted(org_keys, "plan", PLANS[1])),
            "hq": org_city,
            "country": org_country,
            "domain": org_domain,
            "locale": pl.Series(locales, dtype=pl.String).gather(org_locale),
            **_times(org_created, _timestamps(as_of_us, org_deleted_ago, org_deleted)),
        }
    ).select(
        "id",
        "name",
        pl.struct(
            pl.col("industry"),
            pl.col("plan"),
            pl.col("locale"),
            headquarters=pl.concat_str("hq", "country", separator=", "),
            contact_email=pl.concat_str(pl.lit("ops@"), "domain"),
        ).struct.json_encode().alias("metadata"),
        "created_at",
        "updated_at",
        "deleted_at",
    ).cast(ORGANIZATION_SCHEMA)  # type: ignore[arg-type]

    # factories
    n_fac = counts_for(org_keys, "factories", spec.factories_per_organization)
    f_org = np.repeat(o, n_fac)
    f_idx = np.arange(len(f_org)) - np.repeat(np.cumsum(n_fac) - n_fac, n_fac)
    f_keys = child(org_keys[f_org], f_idx, "factory")
    f_ids = child(org_ids[f_org], f_idx, "factory")
    f_locale = org_locale[f_org]
    nf = len(f_org)

    def site(p: Pool, r: np.ndarray) -> pl.Series:
        # an organization's sites walk the pool from a keyed start with an odd stride, so its
        # factories never share a city and street (up to POOL_SIZE of them), and a factory's
        # site still depends only on its organization and its own index
        i = (pick(org_keys[f_org[r]], "site", POOL_SIZE) + f_idx[r] * SITE_STRIDE) % POOL_SIZE
        frame = pl.DataFrame(
            {
                "city": p.cities.gather(i),
                "street": p.streets.gather(i),
                "postcode": p.postcodes.gather(pick(f_keys[r], "postcode", POOL_SIZE)),
                "kind": p.kinds.gather(pick(f_keys[r], "kind", len(p.kinds))),
                # most sites in a country's main zone (Faker lists it first), the rest spread
                "tz": p.timezones.gather(
                    np.where(unit(f_keys[r], "main_zone") < 0.7, 0, pick(f_keys[r], "timezone", len(p.timezones)))
                ),
            }
        )
        if p.locale.startswith("en_"):
            loc = pl.concat_str("street", "city", "postcode", separator=", ")
        elif p.locale.startswith("ja_"):
            loc = pl.concat_str(pl.lit("〒"), "postcode", pl.lit(" "), "city", "street")
        else:
            loc = pl.concat_str(pl.col("street"), pl.concat_str("postcode", "city", separator=" "), separator=", ")
        return frame.select(
            pl.concat_str(
                pl.concat_str("city", "kind", separator="" if p.locale[:2] in CJK else " "),
                pl.concat_str(loc, pl.lit(p.country), separator=", "),
                "tz",
                separator="\x1f",
            )
        ).to_series()

    site_parts = _per_locale(f_locale, locales, spec.seed, site).str.split_exact("\x1f", 2)
    sites = pl.DataFrame({"s": site_parts}).unnest("s") if nf else pl.DataFrame(
        {"field_0": [], "field_1": [], "field_2": []}, schema={f"field_{i}": pl.String for i in range(3)}
    )
    f_deleted = unit(f_keys, "deleted") < spec.deleted_factories
    f_deleted_ago = day + (unit(f_keys, "deleted_at") * (DELETED_MAX_DAYS - 1) * day).astype(np.int64)
    f_created = _created(org_created[f_org], f_keys)
    org_id_strings = organizations["id"]
    factories = pl.DataFrame(
        {
            "id": entity_uuids(f_ids),
            "organization_id": org_id_strings.gather(f_org) if nf else pl.Series([], dtype=pl.String),
            "name": sites["field_0"],
            "location": sites["field_1"],
            "timezone": sites["field_2"],
            "code": pl.Series(f_org, dtype=pl.Int64).cast(pl.String).str.zfill(4)
            + "-"
            + pl.Series(f_idx, dtype=pl.Int64).cast(pl.String).str.zfill(3),
            "lines": pl.Series(1 + pick(f_keys, "lines", 8)),
            "shifts": pl.Series(1 + pick(f_keys, "shifts", 3)),
            "area_m2": pl.Series(2_000 + 100 * pick(f_keys, "area", 400)),
            "iso50001": pl.Series(unit(f_keys, "iso50001") < 0.4),
            **_times(f_created, _timestamps(as_of_us, f_deleted_ago, f_deleted)),
        }
    ).select(
        "id",
        "organization_id",
        "name",
        "location",
        "timezone",
        pl.struct("code", "lines", "shifts", "area_m2", "iso50001").struct.json_encode().alias("metadata"),
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

    n_gw = counts_for(f_keys, "gateways", spec.gateways_per_factory)
    parents = {
        "keys": f_keys,
        "ids": f_ids,
        "org": f_org,
        "idx": f_idx,
        "n_gateways": n_gw,
        "factory_row": np.arange(nf),
        "created_us": f_created,
    }
    return FleetPlan(
        spec=spec,
        organizations=organizations,
        factories=factories,
        _parents=parents,
        _org_domains=org_domain,
        seed=spec.seed,
        scenario=scenario,
    )


def _gateways(
    spec: FleetSpec,
    parents: dict[str, np.ndarray],
    first: np.ndarray,
    count: np.ndarray,
    factories: pl.DataFrame,
    org_domains: pl.Series,
) -> pl.DataFrame:
    """Gateways first .. first + count - 1 of each factory in `parents` (the plan's per-factory arrays)."""
    total = int(count.sum())
    if total == 0:
        return pl.DataFrame(schema=GATEWAY_SCHEMA)
    rep = np.repeat(np.arange(len(count)), count)
    g = first[rep] + np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    keys = child(parents["keys"][rep], g, "gateway")
    ids = child(parents["ids"][rep], g, "gateway")
    org = parents["org"][rep]
    fac = parents["idx"][rep]
    frow = parents["factory_row"][rep]

    as_of_us = _us(spec.as_of)
    minute, hour, day = 60_000_000, 3_600_000_000, 86_400_000_000
    threshold = int(spec.stale_after_hours * hour)
    online_us = ONLINE_MINUTES * minute

    # last seen: online / recent / stale / never, in proportions of the spec
    u = unit(keys, "seen")
    t = unit(keys, "seen_at")
    c1 = spec.online
    c2 = c1 + spec.stale
    c3 = c2 + spec.never_seen
    online = u < c1
    stale = (u >= c1) & (u < c2)
    never = (u >= c2) & (u < c3)
    recent_span = max(threshold - online_us, 1)
    stale_span = max(STALE_MAX_DAYS * day - threshold, 1)
    ago = np.where(
        online,
        (t * online_us).astype(np.int64),
        np.where(stale, threshold + 1 + (t * stale_span).astype(np.int64), online_us + (t * recent_span).astype(np.int64)),
    )
    deleted = unit(keys, "deleted") < spec.deleted_gateways
    deleted_ago = day + (unit(keys, "deleted_at") * (DELETED_MAX_DAYS - 1) * day).astype(np.int64)
    # a soft-deleted gateway may be the predecessor of the next one on its line: same device id.
    # Active gateways always carry their own (org, factory, index) id, so they stay unique.
    reuse = deleted & (g > 0) & (unit(keys, "reuse") < spec.reused_gateway_ids)
    gid_index = g - reuse.astype(np.int64)

    model_names = [m for m, _ in spec.models]
    fw_names = [f for f, _ in spec.firmware]
    model = weighted(keys, "model", [w for _, w in spec.models])
    firmware = weighted(keys, "firmware", [w for _, w in spec.firmware])
    protocol = weighted(keys, "protocol", PROTOCOLS[1])
    env = weighted(keys, "environment", ENVIRONMENTS[1])
    line = pick(keys, "line", len(LINES))
    h_ip = draw(keys, "ip")
    h_mac = draw(keys, "mac")

    def byte(h: np.ndarray, shift: int) -> pl.Series:
        return HEX2.gather(((h >> U64(shift)) & U64(255)).astype(np.int64))

    def num(x: np.ndarray) -> pl.Series:
        return pl.Series(x.astype(np.int64)).cast(pl.String)

    frame = pl.DataFrame(
        {
            "id": entity_uuids(ids),
            "factory_id": factories["id"].gather(frow),
            "site": factories["name"].gather(frow),
            "gid": "GW-" + num(org).str.zfill(4) + "-" + num(fac).str.zfill(3) + "-" + num(gid_index).str.zfill(4),
            "line": pl.Series(LINES).gather(line),
            "slug": pl.Series([x.lower().replace(" ", "-") for x in LINES]).gather(line),
            "n": num(g + 1).str.zfill(3),
            "domain": org_domains.gather(org),
            "model": pl.Series(model_names, dtype=pl.String).gather(model),
            "firmware_version": pl.Series(fw_names, dtype=pl.String).gather(firmware),
            "last_seen_at": _timestamps(as_of_us, ago, ~never),
            "protocol": pl.Series(PROTOCOLS[0]).gather(protocol),
            "env": pl.Series(ENVIRONMENTS[0]).gather(env),
            "ip": "10." + num((h_ip >> U64(8)) & U64(255)) + "." + num((h_ip >> U64(16)) & U64(255)) + "."
            + num(((h_ip >> U64(24)) % U64(253)) + U64(1)),
            "mac": pl.Series(MAC_VENDORS).gather(model % len(MAC_VENDORS))
            + ":" + byte(h_mac, 0) + ":" + byte(h_mac, 8) + ":" + byte(h_mac, 16),
            "wss": pl.Series(unit(keys, "tls") < WSS_SHARE),
            **_times(_created(parents["created_us"][rep], keys), _timestamps(as_of_us, deleted_ago, deleted)),
        }
    )
    lower = pl.col("gid").str.to_lowercase()
    return frame.select(
        "id",
        "factory_id",
        pl.col("gid").alias("gateway_id"),
        # distinct within the factory (the number), and rarely shared across the fleet (the site):
        # the platform pages its gateway lists ordered by name
        pl.concat_str("site", pl.lit(" "), "line", pl.lit(" "), "n", pl.lit(" Gateway")).alias("name"),
        # the platform's acquisition client takes only ws:// and wss:// URLs
        pl.when("wss")
        .then(pl.concat_str(pl.lit("wss://"), lower, pl.lit("."), "domain"))
        .otherwise(pl.concat_str(pl.lit("ws://"), "ip", pl.lit(":5000")))
        .alias("url"),
        pl.concat_str(lower, pl.lit("@"), "domain").alias("email"),
        "model",
        "firmware_version",
        "last_seen_at",
        # every value comes from a fixed list or is digits/hex: no JSON escaping needed, and
        # formatting is about three times faster than struct.json_encode on the hot path
        pl.format(
            '{{"protocol":"{}","ip":"{}","mac":"{}","line":"{}","tags":["{}","{}","{}"]}}',
            "protocol", "ip", "mac", "line", "protocol", "slug", "env",
        ).alias("metadata"),
        "created_at",
        "updated_at",
        "deleted_at",
    )


def generate(spec: FleetSpec) -> Fleet:
    """The fleet of `spec` as polars frames, without touching a database (a preview to inspect).

    With `spec.as_of` unset, "now" is fixed once for the whole fleet.
    """
    p = plan(spec)
    return p if isinstance(p, Fleet) else p.materialize()


__all__ = ["FleetPlan", "generate", "plan", "scenario_record"]
