"""The draws behind a spec's finer shape (`fleetlab.model.shape`): tiers of organizations, factories'
time zones, model × firmware pairs, URL schemes, silences per status and metadata keys.

Each function is used only when its part of the shape is set, so a spec without one generates the
rows it always did. Every draw is keyed by the entity, as everywhere in the generator.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

from ..model.counts import Count
from ..model.shape import OTHER, Shape
from ..model.values import known_locales, shipped_locales
from .hashing import counts_for, draw, pick, root, unit

HOUR_US = 3_600_000_000
_PRIMES = [p for p in range(2, 8000) if all(p % d for d in range(2, int(p**0.5) + 1))]


class Even:
    """A twin's draws for its gateways' categories: a Weyl sequence per field, frac(position × √p + offset),
    over each gateway's position in the fleet. Shares come out exact to a few gateways (independent draws
    of 2,000 gateways over 35 model × firmware pairs stray by 0.04 in total variation), fields stay
    independent of each other (distinct primes), and chunks need nothing from each other."""

    def __init__(self, position: np.ndarray, seed: int):
        self.position, self.seed = position.astype(np.float64), seed

    def take(self, rows: np.ndarray) -> Even:
        return Even(self.position[rows], self.seed)

    def unit(self, name: str) -> np.ndarray:
        h = int(draw(root(self.seed, "even"), name)[0])
        alpha = math.sqrt(_PRIMES[h % len(_PRIMES)]) % 1.0
        offset = (h >> 11) / (1 << 53)
        return (self.position * alpha + offset) % 1.0

    def weighted(self, name: str, weights: list[float]) -> np.ndarray:
        cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
        return np.minimum(np.searchsorted(cdf / cdf[-1], self.unit(name), side="right"), len(weights) - 1)


def quota(keys: np.ndarray, name: str, weights: list[float], groups: np.ndarray | None = None) -> np.ndarray:
    """A keyed index into `weights` per entity, in exact proportions (to a row; within each of `groups`,
    when given): the entities in the order of a keyed draw, cut at the weights' cumulative shares. A few
    hundred factories drawn one by one would stray from a twin's shares by several percent; these do not."""
    if groups is not None:
        out = np.zeros(len(keys), dtype=np.int64)
        for group in np.unique(groups):
            rows = np.flatnonzero(groups == group)
            out[rows] = quota(keys[rows], name, weights)
        return out
    n = len(keys)
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    bounds = np.rint(cdf / cdf[-1] * n).astype(np.int64)
    out = np.empty(n, dtype=np.int64)
    out[np.argsort(unit(keys, name), kind="stable")] = np.searchsorted(bounds, np.arange(n), side="right")
    return np.minimum(out, len(weights) - 1)


def evenly(keys: np.ndarray, name: str, fraction: float, groups: np.ndarray | None = None) -> np.ndarray:
    """Which entities are chosen: every 1/fraction-th of them (to one, overall) in the order of their
    group, then of a keyed draw, so that each group gets its share too (systematic sampling)."""
    order = np.argsort(unit(keys, name), kind="stable")
    if groups is not None:
        order = order[np.argsort(groups.astype(str)[order], kind="stable")]
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    offset = unit(keys[:1], f"{name}:offset")[0] if len(keys) else 0.0
    return np.floor((rank + 1) * fraction + offset) > np.floor(rank * fraction + offset)


def quota_counts(keys: np.ndarray, name: str, count: Count) -> np.ndarray:
    """`counts_for`, with an empirical count's bins taken in exact proportions (`quota`)."""
    if count.kind != "empirical":
        return counts_for(keys, name, count)
    lo, hi, w = (np.array(c) for c in zip(*count.bins, strict=True))
    b = quota(keys, name, list(w))
    return (lo[b] + pick(keys, f"{name}:within", 1 << 30) % (hi[b] - lo[b] + 1)).astype(np.int64)


def spaced(factory_keys: np.ndarray, g: np.ndarray, fraction: float) -> np.ndarray:
    """Which gateways of their factories are soft-deleted in a twin: every 1/fraction-th from a keyed
    offset per factory (systematic sampling), so each factory loses its share to a gateway, not a
    random number of them: small tenants keep their size."""
    offset = unit(factory_keys, "deleted_offset")
    return np.floor((g + 1) * fraction + offset) > np.floor(g * fraction + offset)


class Ranked:
    """Draws for entities made all at once (organizations, factories): each one's rank in a keyed order,
    as a point of an even grid over [0, 1), so that `unit(name) < share` holds for share × n of them exactly."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys

    def unit(self, name: str) -> np.ndarray:
        rank = np.empty(len(self.keys), dtype=np.float64)
        rank[np.argsort(unit(self.keys, name), kind="stable")] = np.arange(len(self.keys))
        return (rank + 0.5) / max(len(self.keys), 1)


def tier_of(n: int, shape: Shape) -> np.ndarray:
    """Each of `n` organizations' tier, by position: the first share of them the first tier's, and so on
    (exact counts, so a tier of one biggest tenant holds exactly one organization)."""
    bounds = np.rint(np.cumsum([t.share for t in shape.tiers]) * n).astype(np.int64)
    bounds[-1] = n
    return np.searchsorted(bounds, np.arange(n), side="right").astype(np.int64)


def tier_counts(keys: np.ndarray, tier: np.ndarray, shape: Shape, which: str, name: str) -> np.ndarray:
    """Each organization's factories (`which` = "factories_per_organization"), drawn in its tier's exact
    proportions."""
    out = np.zeros(len(keys), dtype=np.int64)
    for i, t in enumerate(shape.tiers):
        sel = np.flatnonzero(tier == i)
        out[sel] = quota_counts(keys[sel], name, getattr(t, which))
    return out


def tier_gateways(
    keys: np.ndarray, tier: np.ndarray, org: np.ndarray, idx: np.ndarray, shape: Shape, org_keys: np.ndarray
) -> np.ndarray:
    """Each factory's gateways: its tier's sizes in exact proportions, dealt to the tier's organizations
    biggest first in a snake order (forward, then back), so that organizations of one tier, which were
    of about one size in the source, stay so (a random deal would make their totals stray); with the
    tier's gateways_per_organization, each organization's sizes then scaled to its drawn total."""
    out = np.zeros(len(keys), dtype=np.int64)
    for i, t in enumerate(shape.tiers):
        sel = np.flatnonzero(tier == i)
        if not len(sel):
            continue
        sizes = np.sort(quota_counts(keys[sel], "gateways", t.gateways_per_factory))[::-1]
        rank = np.unique(org[sel], return_inverse=True)[1]  # the organization's place in its tier
        deal = np.lexsort((np.where(idx[sel] % 2 == 0, rank, -rank), idx[sel]))  # round by round, snaking
        out[sel[deal]] = sizes
        if t.gateways_per_organization is not None:
            orgs = np.unique(org[sel])
            totals = quota_counts(org_keys[orgs], "gateways_per_organization", t.gateways_per_organization)
            out[sel] = scaled_to(out[sel], rank, totals)
    return out


def scaled_to(sizes: np.ndarray, group: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """`sizes` scaled within each `group` (0..k-1) to add up to `totals[group]`, rounded by largest
    remainder (a group whose sizes are all 0 shares its total evenly)."""
    sums = np.bincount(group, weights=sizes, minlength=len(totals))
    members = np.bincount(group, minlength=len(totals))
    share = np.where(sums[group] > 0, sizes / np.maximum(sums[group], 1), 1.0 / members[group])
    raw = share * totals[group]
    base = np.floor(raw).astype(np.int64)
    short = totals - np.bincount(group, weights=base, minlength=len(totals)).astype(np.int64)
    order = np.lexsort((-(raw - base), group))  # by group, biggest remainder first
    starts = np.cumsum(members) - members
    place = np.empty(len(sizes), dtype=np.int64)
    place[order] = np.arange(len(sizes)) - starts[group[order]]
    return base + (place < short[group])


def tier_deleted(tier: np.ndarray, shape: Shape, default: float) -> np.ndarray:
    """The soft-deleted share that applies to each organization: its tier's, else `default`."""
    return np.array([default if t.deleted is None else t.deleted for t in shape.tiers], dtype=np.float64)[tier]


def zone_locale(zone: str, preferred: list[str]) -> str | None:
    """A Faker locale of `zone`'s country: one of `preferred` if any, else an English one, else the first."""
    found = sorted(loc for loc, zones in (shipped_locales() or known_locales()).items() if zone in zones)
    for pool in (preferred, [f for f in found if f.startswith("en_")], found):
        for loc in pool:
            if loc in found:
                return loc
    return None


def factory_zones(shape: Shape, keys: np.ndarray, org_locale: np.ndarray, locales: list[str], gone: np.ndarray):
    """Each factory's drawn time zone (None for "other": its site's own), and the locale its site comes
    from (its zone's country's; its organization's for "other" or a zone no locale knows), as an index
    into the returned list of locales (the spec's, then the zones')."""
    names = [z for z, _ in shape.timezones]
    drawn = quota(keys, "timezone", [w for _, w in shape.timezones], gone)
    all_locales = list(locales)
    zone_loc = []
    for z in names:
        loc = None if z == OTHER else zone_locale(z, locales)
        if loc is not None and loc not in all_locales:
            all_locales.append(loc)
        zone_loc.append(-1 if loc is None else all_locales.index(loc))
    loc_of_zone = np.array(zone_loc, dtype=np.int64)[drawn]
    site_locale = np.where(loc_of_zone >= 0, loc_of_zone, org_locale)
    zones = np.array([None if z == OTHER else z for z in names], dtype=object)[drawn]
    return zones, site_locale, all_locales


def zone_column(zones: np.ndarray, own: pl.Series, shape: Shape) -> pl.Series:
    """The factories' time zones: the drawn ones, and for "other" the site's own zone unless the mix names
    it (then "UTC", the platform's default), so "other" stays other."""
    named = [z for z, _ in shape.timezones if z != OTHER]
    other = pl.when(own.is_in(named)).then(pl.lit("UTC")).otherwise(own)
    return pl.select(pl.Series("z", zones, dtype=pl.String).fill_null(other)).to_series().alias(own.name)


def cities_in_zones(pool_zones: pl.Series, zones: np.ndarray, keys: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """A pool city in each row's zone (keyed) where the pool has one, else the row's `fallback` city."""
    out = fallback.copy()
    pz = pool_zones.to_numpy()
    for z in {z for z in zones if z is not None}:
        candidates = np.flatnonzero(pz == z)
        rows = np.flatnonzero(zones == z)
        if len(candidates) and len(rows):
            out[rows] = candidates[pick(keys[rows], "zone_city", len(candidates))]
    return out


def pairs(shape: Shape, even: Even) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Model and firmware drawn together: (model names, each row's model index, firmware names, index)."""
    drawn = even.weighted("model_firmware", [w for _, _, w in shape.pairs])
    models = list(dict.fromkeys(m for m, _, _ in shape.pairs))  # None (NULL) among them
    firmware = list(dict.fromkeys(f for _, f, _ in shape.pairs))
    m = np.array([models.index(p[0]) for p in shape.pairs], dtype=np.int64)[drawn]
    f = np.array([firmware.index(p[1]) for p in shape.pairs], dtype=np.int64)[drawn]
    return models, m, firmware, f


def schemes(shape: Shape, even: Even) -> pl.Series:
    names = [s for s, _ in shape.url_schemes]
    return pl.Series(names, dtype=pl.String).gather(even.weighted("scheme", [w for _, w in shape.url_schemes]))


def silences(shape: Shape, even: Even, u: np.ndarray, spans: dict, ago: np.ndarray, limits: dict) -> np.ndarray:
    """`ago` (µs before as_of) with the statuses that have silence bins drawn from them instead, kept
    inside their status's `limits` (µs: status → (low, high)). A gateway's bin comes from where its
    status draw `u` fell inside its status's span of [0, 1) (`spans`: status → (low, high)): the same
    even sequence, so a status of a few hundred gateways fills its bins in exact proportions too."""
    out = ago.copy()
    for s, bins in shape.silence:
        a, b = spans[s]
        rows = np.flatnonzero((u >= a) & (u < b))
        if not len(rows):
            continue
        lo, hi, w = (np.array(c, dtype=np.float64) for c in zip(*bins, strict=True))
        cdf = np.cumsum(w) / w.sum()
        k = np.minimum(np.searchsorted(cdf, (u[rows] - a) / (b - a), side="right"), len(w) - 1)
        hours = lo[k] + even.take(rows).unit(f"silence_in:{s}") * (hi[k] - lo[k])
        low, high = limits[s]
        out[rows] = np.clip((hours * HOUR_US).astype(np.int64), low, high)
    return out


def json_value(column: str) -> pl.Expr:
    """The JSON text of `column`'s value (a string quoted and escaped, a number as is, null as null)."""
    prefix = len(json.dumps({column: 0}, ensure_ascii=False, separators=(",", ":"))) - 2  # {"column":
    return pl.struct(pl.col(column)).struct.json_encode().str.slice(prefix).str.strip_suffix("}")


def metadata(shape: Shape, table: str, keys: np.ndarray, even: Even, known: dict[str, pl.Expr]) -> tuple[dict, pl.Expr]:
    """A table's metadata with the shape's keys: each present in its share of rows, with fleetlab's own value
    for a key it knows (`known`: key → expression giving the JSON text of the value) and a made-up value of
    the key's JSON type for others (never a source value). Returns the columns to add and the expression."""
    columns: dict[str, pl.Series] = {}
    members = []
    for i, (key, share, kind) in enumerate(shape.metadata_of(table)):
        present = pl.Series(even.unit(f"meta:{table}:{key}") < share)
        columns[f"_has{i}"] = present
        if key in known:
            value = known[key]
        elif kind == "string":
            columns[f"_v{i}"] = pl.Series(pick(keys, f"meta_value:{key}", 1 << 24))
            value = pl.format('"{}"', pl.col(f"_v{i}").cast(pl.String).str.zfill(8))
        elif kind == "number":
            columns[f"_v{i}"] = pl.Series(pick(keys, f"meta_value:{key}", 1000))
            value = pl.col(f"_v{i}").cast(pl.String)
        elif kind == "boolean":
            columns[f"_v{i}"] = pl.Series(unit(keys, f"meta_value:{key}") < 0.5)
            value = pl.when(pl.col(f"_v{i}")).then(pl.lit("true")).otherwise(pl.lit("false"))
        else:
            value = pl.lit({"array": "[]", "object": "{}", "null": "null"}[kind])
        member = pl.concat_str(pl.lit(json.dumps(key, ensure_ascii=False) + ":"), value)
        members.append(pl.when(pl.col(f"_has{i}")).then(member))
    body = pl.concat_str(members, separator=",", ignore_nulls=True) if members else pl.lit("")
    return columns, pl.concat_str(pl.lit("{"), body, pl.lit("}"))
