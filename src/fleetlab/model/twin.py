"""A synthetic twin: a production fleet's aggregates (a `Survey`) turned into a scenario, and the
distances between two surveys (a source and its twin).

A Survey holds only aggregates, never a row: counts per organization and per factory (without ids),
shares of statuses, silences as quantiles and histograms, and the categorical values that are not
about a customer (models, firmware versions, time zones, URL schemes, metadata keys), each with its
count. `fleetlab.store.survey` reads one from any database in one read-only transaction.

`scenario(survey, …)` writes the scenario mapping of its twin; a categorical value held by fewer than
`min_count` rows is folded into "other" first, so no rare value (which could single out a customer)
leaves the source. `distances(source, twin)` measures every distribution on active rows, the twin's
values outside the source's named categories counted as "other": total-variation distance for
shares (goal ≤ 0.03), relative difference for sizes (goal ≤ 10 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from .shape import OTHER, SCHEMES
from .values import known_locales, shipped_locales

SHARE_GOAL = 0.03
SIZE_GOAL = 0.10
MIN_COUNT = 5
QUANTILES = tuple(i / 40 for i in range(41))  # silence bins: 40 of equal weight
MAX_BINS = 24  # bins of a count distribution
SIZE_TIERS = 20  # organizations below the five biggest, split in this many tiers by size
TABLES = ("organizations", "factories", "gateways")
# fixed buckets of hours since last seen, per status, for distances: minutes while online, then doubling
EDGES = [
    0,
    1 / 60,
    2 / 60,
    3 / 60,
    4 / 60,
    5 / 60,
    0.25,
    0.5,
    1,
    2,
    4,
    8,
    12,
    16,
    20,
    24,
    48,
    96,
    192,
    384,
    768,
    1536,
    3072,
    6144,
]


@dataclass
class Survey:
    """What `fleetlab profile` reads of a fleet: aggregates only (see the module docstring)."""

    as_of: datetime
    stale_after_hours: float
    totals: dict[str, int]  # rows per table, soft-deleted included
    deleted: dict[str, int]  # rows with their own deleted_at set
    orgs: (
        pl.DataFrame
    )  # one row per organization: org (an ordinal), active, factories, factories_active, gateways_active
    factories: pl.DataFrame  # (org, active, gateways, gateways_active, n): factories of that shape
    statuses: dict[str, int]  # active gateways per status
    silence_quantiles: dict[str, list[float]]  # status → QUANTILES of hours since last seen
    silence_histogram: pl.DataFrame  # (status, bucket, n): active gateways per bucket of silence_edges
    silence_edges: list[float]  # hours: fixed edges (distances) and each status's quantiles (the twin's bins)
    pairs: pl.DataFrame  # (model, firmware, n) of active gateways; NULL kept
    timezones: pl.DataFrame  # (timezone, n) of active factories
    schemes: pl.DataFrame  # (scheme, n) of active gateways' URLs
    metadata_keys: pl.DataFrame  # (table, key, type, n): active rows whose metadata holds key with a value of type
    reused: tuple[int, int] = (0, 0)  # soft-deleted gateways, and those sharing an active one's gateway_id
    notes: list[str] = field(default_factory=list)

    @property
    def active_gateways(self) -> int:
        return sum(self.statuses.values())


# -- categorical values, folded -------------------------------------------------------------------


def folded(frame: pl.DataFrame, by: list[str], min_count: int, named: set | None = None) -> dict[tuple, int]:
    """Counts per value of `by`, each column's values held by fewer than `min_count` rows (or, with
    `named`, outside those named values: a twin measured against its source) folded into "other"."""
    out = frame
    for column in by:
        if named is None:
            totals = out.group_by(column).agg(pl.col("n").sum())
            keep = set(totals.filter(pl.col("n") >= min_count)[column].to_list())
        else:
            keep = {k[by.index(column)] for k in named}
        out = out.with_columns(
            pl.when(
                pl.col(column).is_in([k for k in keep if k is not None]) | (pl.col(column).is_null() & (None in keep))
            )
            .then(pl.col(column))
            .otherwise(pl.lit(OTHER))
            .alias(column)
        )
    rows = out.group_by(by).agg(pl.col("n").sum()).iter_rows()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def shares(counts: dict, keys=None) -> dict:
    total = sum(counts.values()) or 1
    return {k: counts.get(k, 0) / total for k in (keys or counts)}


def tvd(a: dict, b: dict) -> float:
    """Total-variation distance between two count tables (½ Σ |p - q|)."""
    pa, pb = shares(a), shares(b)
    return 0.5 * sum(abs(pa.get(k, 0) - pb.get(k, 0)) for k in set(pa) | set(pb))


# -- the twin's scenario ---

HEADER = """fleetlab profile: the scenario of a synthetic twin. Make the twin with:
  fleetlab reset --scenario {file} --yes
Read from the source, in one read-only transaction, statuses measured at {as_of}: aggregates only
(rows per table; factories per organization and gateways per factory and organization, without ids;
shares of statuses, soft-deleted rows and reused gateway ids; quantiles of how long gateways have been
silent; counts of models, firmware versions, time zones, URL schemes and metadata keys).
No row was copied: no name, location, email, gateway id, host, IP address, metadata value or id of the
source is in this file. A value held by fewer than {k} rows is folded into "other".{scaled}"""


def header(mapping: dict[str, Any], file: str, min_count: int, scale: float) -> str:
    """The comment at the top of a twin's scenario: what was read, and that no row was copied."""
    scaled = f"\nScaled by {scale:g}: every factory's gateways multiplied; tenants, factories and shares kept."
    return HEADER.format(file=file, as_of=mapping["as_of"], k=min_count, scaled=scaled if scale != 1 else "")


def bins(values: list[int], weights: list[int] | None = None, most: int = MAX_BINS) -> list[list]:
    """An empirical histogram of whole numbers: exact when they take at most `most` values, else
    `most` bins of about equal weight, each [low, high, weight]."""
    weights = weights or [1] * len(values)
    frame = pl.DataFrame({"v": values, "w": weights}).group_by("v").agg(pl.col("w").sum()).sort("v")
    if frame.height <= most:
        return [[int(v), int(v), int(w)] for v, w in frame.iter_rows()]
    total = frame["w"].sum()
    group = (frame["w"].cum_sum() - frame["w"]) * most // total
    out = (
        frame.with_columns(g=group)
        .group_by("g")
        .agg(pl.col("v").min(), pl.col("v").max().alias("hi"), pl.col("w").sum())
    )
    return [[int(lo), int(hi), int(w)] for _, lo, hi, w in out.sort("g").iter_rows()]


def count(values: list[int], weights: list[int] | None = None) -> Any:
    """A count's mapping form: the one value all take, else their empirical histogram (0 for none)."""
    if not values:
        return 0
    b = bins(values, weights)
    if len(b) == 1 and b[0][0] == b[0][1]:
        return b[0][0]
    return {"distribution": "empirical", "bins": b}


def scenario(survey: Survey, *, scale: float = 1.0, min_count: int = MIN_COUNT, seed: int = 0) -> dict[str, Any]:
    """The scenario mapping of `survey`'s twin (`scale` multiplies every factory's gateways: the same
    tenants and factories, and every share kept)."""
    active = survey.active_gateways
    st = survey.statuses
    orgs_total = survey.totals["organizations"]
    deleted = {t: survey.deleted[t] / survey.totals[t] if survey.totals[t] else 0.0 for t in TABLES}
    n_gw, n_fac = survey.totals["gateways"], int(survey.factories.filter(pl.col("gateways") > 0)["n"].sum())
    # a soft-deleted gateway shares an active one's id when it reuses its predecessor's (it has one unless
    # it is its factory's first) and that one is active (a twin's deletions are evenly spaced: below a
    # half, a deleted gateway's predecessor is active)
    d = deleted["gateways"]
    scaled = n_gw * scale  # the twin's gateways: a factory's first is a bigger share of fewer
    reachable = (1 - min(1.0, n_fac / scaled)) * (min(1.0, (1 - d) / d) if d else 1.0) if n_gw else 0
    deleted_gw, reused = survey.reused
    reuse = min(1.0, reused / deleted_gw / reachable) if deleted_gw and reachable > 0 else 0.0
    pairs = folded(survey.pairs, ["model", "firmware"], min_count)
    zones = folded(survey.timezones, ["timezone"], min_count)
    schemes = {k: v for k, v in folded(survey.schemes, ["scheme"], min_count).items() if k[0] in SCHEMES}
    out: dict[str, Any] = {
        "name": "twin",
        "description": f"A synthetic twin of a fleet of {survey.totals['gateways']:,} gateways"
        + (f", scaled by {scale:g}" if scale != 1 else ""),
        "seed": seed,
        "as_of": survey.as_of.isoformat().replace("+00:00", "Z"),
        "locales": _locales(zones) or {"en_US": 1},
        "stale_after_hours": survey.stale_after_hours,
        "counts": {
            "organizations": orgs_total,
            "factories_per_organization": count(survey.orgs["factories"].to_list()),
            "gateways_per_factory": count(survey.factories["gateways"].to_list(), survey.factories["n"].to_list()),
        },
        "fractions": {
            "online": st.get("online", 0) / active if active else 0.0,
            "stale": st.get("stale", 0) / active if active else 0.0,
            "never_seen": st.get("never_seen", 0) / active if active else 0.0,
            "deleted_organizations": deleted["organizations"],
            "deleted_factories": deleted["factories"],
            "deleted_gateways": deleted["gateways"],
            "reused_gateway_ids": reuse,
        },
        **({"scale": scale} if scale != 1 else {}),
        "tiers": tiers(survey, min_count),
        "mix": _mixes(pairs, zones, schemes),
        "silence": _silence(survey),
        "metadata": {t: keys for t in TABLES if (keys := _metadata(survey, t, min_count))},
    }
    for key in ("silence", "metadata"):
        if not any(out[key].values()):
            del out[key]
    if not out["tiers"]:  # no organization at all
        del out["tiers"]
    return out


def _mixes(pairs: dict, zones: dict, schemes: dict) -> dict[str, Any]:
    mix: dict[str, Any] = {}
    models: dict[str, int] = {}
    firmware: dict[str, int] = {}
    for (m, f), n in pairs.items():
        models[m or OTHER] = models.get(m or OTHER, 0) + n
        firmware[f or OTHER] = firmware.get(f or OTHER, 0) + n
    if pairs:  # the marginals for a reader (the pairs are what is drawn)
        mix["models"], mix["firmware"] = models, firmware
        mix["pairs"] = [
            {**({} if m is None else {"model": m}), **({} if f is None else {"firmware": f}), "weight": n}
            for (m, f), n in sorted(pairs.items(), key=lambda kv: -kv[1])
        ]
    timezones = {(z if z is not None else OTHER): n for (z,), n in zones.items()}
    if timezones:
        mix["timezones"] = timezones
    if schemes:
        mix["url_schemes"] = {s: n for (s,), n in schemes.items()}
    return mix


def tiers(survey: Survey, min_count: int = MIN_COUNT) -> list[dict[str, Any]]:
    """Organizations by size, biggest first: the biggest, the next four, then up to SIZE_TIERS tiers of
    about equal numbers of organizations, at least `min_count` each; the soft-deleted organizations in a
    tier of their own."""
    orgs = survey.orgs.sort(["active", "gateways_active"], descending=True)
    total = orgs.height
    live = orgs.filter(pl.col("active"))
    groups = []
    rest = max(live.height - 5, 0)
    n = max(1, min(SIZE_TIERS, rest // max(min_count, 1)))
    cuts = [0, 1, 5] + [5 + math.ceil(rest * (i + 1) / n) for i in range(n)]
    for a, b in zip(cuts, cuts[1:], strict=False):
        if min(b, live.height) > a:
            groups.append((live.slice(a, min(b, live.height) - a), 0.0))
    gone = orgs.filter(~pl.col("active"))
    if gone.height:
        groups.append((gone, 1.0))
    out = []
    for members, deleted in groups:
        fac = survey.factories.join(members.select("org"), on="org")
        gpf = count(fac["gateways"].to_list(), fac["n"].to_list()) if fac.height else 0
        out.append(
            {
                "share": members.height / total,
                "factories_per_organization": count(members["factories"].to_list()),
                "gateways_per_factory": gpf,
                "gateways_per_organization": count(members["gateways"].to_list()),
                "deleted": deleted,
            }
        )
    return out


def _silence(survey: Survey) -> dict[str, list]:
    """Per status, bins [low, high, gateways] in hours: the source's exact counts between consecutive edges
    (its quantiles and the fixed edges distances use), each bin within the status's own range."""
    edges = survey.silence_edges
    out = {}
    for status, q in survey.silence_quantiles.items():
        if status == "never_seen" or not q:
            continue
        low, high = max(0.0, q[0]), max(0.0, q[-1])
        rows = survey.silence_histogram.filter(pl.col("status") == status).sort("bucket")
        bins = []
        for _, bucket, n in rows.iter_rows():
            lo = edges[bucket - 1] if bucket >= 1 else low
            hi = edges[bucket] if bucket < len(edges) else high
            bins.append([min(max(lo, low), high), max(min(hi, high), low), int(n)])
        if bins:
            out[status] = bins
    return out


def _metadata(survey: Survey, table: str, min_count: int) -> dict[str, Any]:
    """The keys of `table`'s metadata held by at least `min_count` active rows: their share, their usual type."""
    active = survey.totals[table] - survey.deleted[table]
    keys = survey.metadata_keys.filter(pl.col("table") == table).sort("n", descending=True)
    by_key = keys.group_by("key", maintain_order=True).agg(pl.col("n").sum(), pl.col("type").first())
    return {
        k: {"share": min(1.0, n / active), "type": t} for k, n, t in by_key.iter_rows() if n >= min_count and active
    }


def _locales(zones: dict) -> dict[str, int]:
    """Faker locales in proportion to the factories' time zones (an English one where a zone has several)."""
    from .shape import OTHER as _other

    known = shipped_locales() or known_locales()
    out: dict[str, int] = {}
    for (zone,), n in zones.items():
        if zone in (None, _other):
            continue
        found = sorted(loc for loc, zs in known.items() if zone in zs)
        if found:
            loc = next((f for f in found if f.startswith("en_")), found[0])
            out[loc] = out.get(loc, 0) + n
    return out


def country(zone: str | None) -> str:
    """The country code of an IANA zone, as Faker's country list gives it ("?" when unknown)."""
    if zone is None:
        return "?"
    for loc, zones in (shipped_locales() or known_locales()).items():
        if zone in zones:
            return loc.split("_")[-1]
    return "?"
