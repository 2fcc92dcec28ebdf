"""A fleet's finer shape: what a scenario may add to its counts and fractions to look like a real fleet.

`fleetlab profile` writes these from a production database's aggregates (see `fleetlab.model.twin`);
they are as usable by hand in any scenario. Every part is optional: a spec without them generates
exactly what it did before they existed.

    scale = 0.1                 # every factory's gateways multiplied (rounded up or down, keyed, so that
                                # totals stay in proportion): a smaller or bigger fleet of the same tenants

    [[tiers]]                   # organizations by size, biggest first; `share` of the organizations
    share = 0.05                # each (by position: the first 5 % are this tier's), with their own
    factories_per_organization = { distribution = "empirical", bins = [[30, 40, 1]] }
    gateways_per_factory = "200-400"
    gateways_per_organization = "6000-9000"   # optional: each organization's total, its factories' sizes
                                # (drawn as above) scaled to add up to it    deleted = 0.0               # optional: this tier's soft-deleted share (else fractions.deleted_organizations)

    [mix]                       # model and firmware drawn together (replaces mix.models and mix.firmware);
    pairs = [{ model = "Moxa UC-8210", firmware = "v2.4.0", weight = 7 }, { firmware = "v1.0", weight = 1 }]
                                # a pair without model (or firmware) leaves that column NULL
    [mix.timezones]             # factories' time zones (IANA names); "other": the site's own zone
    "Europe/Berlin" = 3
    [mix.url_schemes]           # gateway URL schemes: ws and http dial the LAN address, wss and https a host name
    ws = 8
    wss = 2

    [silence]                   # hours since last seen, per status: bins [low, high, weight]
    online = [[0, 0.05, 1]]     # within online's 5 minutes
    recent = [[0.1, 2, 3], [2, 24, 1]]   # between 5 minutes and stale_after_hours
    stale = [[24, 72, 2], [72, 2160, 1]] # beyond stale_after_hours

    [metadata.gateways]         # the keys of a table's metadata (gateways, factories, organizations): the
    protocol = { share = 1.0, type = "string" }   # share of rows holding each, and its JSON type; a key
    rack = { share = 0.3, type = "number" }       # fleetlab knows gets fleetlab's value, others a made-up one
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .counts import Count, parse_bins, parse_count
from .status import ONLINE_WITHIN
from .tables import WIDTHS
from .values import parse_mix, text_problems

OTHER = "other"  # the bucket of categorical values too rare to name (fewer than k rows in a profile)
SCHEMES = ("ws", "wss", "http", "https")  # ws/http: ws://<LAN ip>:5000; wss/https: <scheme>://<host name>
JSON_TYPES = ("string", "number", "boolean", "array", "object", "null")
STATUSES = ("online", "recent", "stale")
ONLINE_HOURS = ONLINE_WITHIN.total_seconds() / 3600
MAX_HOURS = 24 * 365 * 100
KEYS = ("scale", "tiers", "silence", "metadata")  # top-level keys; mix gains MIX_KEYS
MAX_SCALE = 1_000_000.0
MIX_KEYS = ("pairs", "timezones", "url_schemes")
MAX_KEY = 200  # characters of a metadata key
METADATA_TABLES = ("organizations", "factories", "gateways")


@dataclass(frozen=True)
class Tier:
    share: float  # of the organizations
    factories_per_organization: Count
    gateways_per_factory: Count
    deleted: float | None = None  # of this tier's organizations; None: fractions.deleted_organizations
    gateways_per_organization: Count | None = None  # each organization's total; None: the sum of its factories'

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "share": self.share,
            "factories_per_organization": self.factories_per_organization.to_value(),
            "gateways_per_factory": self.gateways_per_factory.to_value(),
        }
        if self.gateways_per_organization is not None:
            out["gateways_per_organization"] = self.gateways_per_organization.to_value()
        return out if self.deleted is None else {**out, "deleted": self.deleted}


@dataclass(frozen=True)
class Shape:
    tiers: tuple[Tier, ...] = ()
    pairs: tuple[tuple[str | None, str | None, float], ...] = ()  # (model, firmware, weight); None: NULL
    timezones: tuple[tuple[str, float], ...] = ()
    url_schemes: tuple[tuple[str, float], ...] = ()
    silence: tuple[tuple[str, tuple[tuple[float, float, float], ...]], ...] = ()  # status → bins in hours
    metadata: tuple[
        tuple[str, tuple[tuple[str, float, str], ...]], ...
    ] = ()  # table → its keys' (key, share, JSON type)
    scale: float = 1.0  # every factory's gateways multiplied by this

    def __bool__(self) -> bool:
        parts = (self.tiers, self.pairs, self.timezones, self.url_schemes, self.silence, self.metadata)
        return any(parts) or self.scale != 1.0

    def metadata_of(self, table: str) -> tuple[tuple[str, float, str], ...]:
        return dict(self.metadata).get(table, ())

    def silence_of(self, status: str) -> tuple[tuple[float, float, float], ...]:
        return dict(self.silence).get(status, ())

    def to_dict(self) -> dict[str, Any]:
        """The parts that are set, in the scenario's mapping form (`mix` holds only the new mixes)."""
        out: dict[str, Any] = {}
        if self.scale != 1.0:
            out["scale"] = self.scale
        if self.tiers:
            out["tiers"] = [t.to_dict() for t in self.tiers]
        mix: dict[str, Any] = {}
        if self.pairs:
            mix["pairs"] = [
                {**({} if m is None else {"model": m}), **({} if f is None else {"firmware": f}), "weight": w}
                for m, f, w in self.pairs
            ]
        if self.timezones:
            mix["timezones"] = dict(self.timezones)
        if self.url_schemes:
            mix["url_schemes"] = dict(self.url_schemes)
        if mix:
            out["mix"] = mix
        if self.silence:
            out["silence"] = {s: [list(b) for b in bins] for s, bins in self.silence}
        if self.metadata:
            out["metadata"] = {t: {k: {"share": s, "type": j} for k, s, j in keys} for t, keys in self.metadata}
        return out

    def problems(self, stale_after_hours: float) -> list[str]:
        """What this shape asks that no fleet can be (the statuses' silences against their thresholds…)."""
        out: list[str] = []
        if self.tiers and not math.isclose(sum(t.share for t in self.tiers), 1.0, abs_tol=1e-6):
            out.append(f"tiers: their shares sum to {sum(t.share for t in self.tiers):g}; they must sum to 1")
        for m, f, _ in self.pairs:
            out += text_problems(m or "", "mix.pairs model", WIDTHS[("gateways", "model")])
            out += text_problems(f or "", "mix.pairs firmware", WIDTHS[("gateways", "firmware_version")])
        for tz, _ in self.timezones:
            out += text_problems(tz, "mix.timezones", WIDTHS[("factories", "timezone")])
        limits = {"online": (0, ONLINE_HOURS), "recent": (ONLINE_HOURS, stale_after_hours)}
        limits["stale"] = (stale_after_hours, MAX_HOURS)
        for status, bins in self.silence:
            lo, hi = limits[status]
            bad = [b for b in bins if b[0] < lo - 1e-9 or b[1] > hi + 1e-9]
            if bad:
                out.append(
                    f"silence.{status}: bin [{bad[0][0]:g}, {bad[0][1]:g}] lies outside {status}'s "
                    f"{lo:g}-{hi:g} hours (online: within 5 minutes; stale: beyond stale_after_hours)"
                )
        return out


def parse(data: Mapping[str, Any], problems: list[str], pre: str) -> Shape:
    """The shape parts of a scenario mapping (unknown keys inside them are problems)."""
    parts: dict[str, Any] = {}
    if "scale" in data:
        f = data["scale"]
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0 < f <= MAX_SCALE:
            problems.append(f"{pre}scale must be a number above 0 (at most {MAX_SCALE:,.0f}), not {f!r}")
        else:
            parts["scale"] = float(f)
    if "tiers" in data:
        parts["tiers"] = _tiers(data["tiers"], problems, pre)
    mix = data.get("mix")
    if isinstance(mix, Mapping):
        if "pairs" in mix:
            parts["pairs"] = _pairs(mix["pairs"], problems, f"{pre}mix.pairs")
        for key in ("timezones", "url_schemes"):
            if key in mix:
                parsed = parse_mix(mix[key], f"{pre}mix.{key}", problems)
                parts[key] = tuple(sorted(parsed)) if parsed else None
        bad = sorted({k for k, _ in parts.get("url_schemes", ())} - set(SCHEMES))
        if bad:
            problems.append(f"{pre}mix.url_schemes: {', '.join(map(repr, bad))} (schemes: {', '.join(SCHEMES)})")
    if "silence" in data:
        parts["silence"] = _silence(data["silence"], problems, f"{pre}silence")
    if "metadata" in data:
        parts["metadata"] = _metadata(data["metadata"], problems, f"{pre}metadata")
    return Shape(**{k: v for k, v in parts.items() if v is not None})


def _table(value: Any, where: str, problems: list[str]) -> Mapping[str, Any] | None:
    if not isinstance(value, Mapping):
        problems.append(f"{where} must be a table")
        return None
    return value


def _tiers(value: Any, problems: list[str], pre: str) -> tuple[Tier, ...] | None:
    if not isinstance(value, list | tuple) or not value:
        problems.append(f"{pre}tiers must be a list of tables ([[tiers]] with share, factories_per_organization, …)")
        return None
    out = []
    optional = {"deleted", "gateways_per_organization"}
    allowed = {"share", "factories_per_organization", "gateways_per_factory", *optional}
    for i, t in enumerate(value):
        where = f"{pre}tiers[{i + 1}]"
        if _table(t, where, problems) is None:
            return None
        unknown = sorted(set(t) - allowed)
        missing = sorted(allowed - optional - set(t))
        if unknown or missing:
            problems.append(
                f"{where}: "
                + "; ".join(
                    ([f"unknown key(s) {unknown}"] if unknown else [])
                    + ([f"needs {', '.join(missing)}"] if missing else [])
                )
            )
            return None
        share, deleted = t["share"], t.get("deleted")
        names = ("factories_per_organization", "gateways_per_factory", "gateways_per_organization")
        counts = [parse_count(t[k], f"{where}.{k}", problems) if k in t else 0 for k in names]
        if not _fraction(share) or share == 0:
            problems.append(f"{where}.share must be a number in (0, 1], not {share!r}")
        elif deleted is not None and not _fraction(deleted):
            problems.append(f"{where}.deleted must be a number between 0 and 1, not {deleted!r}")
        elif None not in counts:
            total = counts[2] if "gateways_per_organization" in t else None
            out.append(Tier(float(share), counts[0], counts[1], None if deleted is None else float(deleted), total))
            continue
        return None
    return tuple(out)


def _fraction(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and 0 <= v <= 1


def _pairs(value: Any, problems: list[str], where: str) -> tuple | None:
    """[{ model, firmware, weight }]: a pair without `model` (or `firmware`) leaves that column NULL."""
    if not isinstance(value, list | tuple) or not value:
        problems.append(f'{where} must be a list of {{ model = "…", firmware = "…", weight = N }}')
        return None
    out = {}
    for i, p in enumerate(value):
        ok = isinstance(p, Mapping) and "weight" in p and set(p) <= {"model", "firmware", "weight"}
        ok = ok and all(isinstance(p.get(k, ""), str) for k in ("model", "firmware"))
        w = p.get("weight") if isinstance(p, Mapping) else None
        if not ok or isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w <= 0:
            problems.append(
                f"{where}[{i + 1}]: expected {{ model = text, firmware = text, weight = a number above 0 }}"
            )
            return None
        key = (p.get("model"), p.get("firmware"))
        if key in out:
            problems.append(f"{where}: the pair {key[0]!r} / {key[1]!r} is listed twice")
            return None
        out[key] = float(w)
    return tuple(sorted(((m, f, w) for (m, f), w in out.items()), key=_pair_order))


def _pair_order(p: tuple) -> tuple:
    return (p[0] is not None, p[0] or "", p[1] is not None, p[1] or "")


def _silence(value: Any, problems: list[str], where: str) -> tuple | None:
    if _table(value, where, problems) is None:
        return None
    unknown = sorted(set(value) - set(STATUSES))
    if unknown:
        problems.append(f"{where}: unknown status(es) {unknown} (statuses: {', '.join(STATUSES)})")
        return None
    out = []
    for status in STATUSES:
        if status in value:
            bins = parse_bins(value[status], f"{where}.{status}", problems, whole=False)
            if bins is None:
                return None
            out.append((status, tuple(bins)))
    return tuple(out)


def _metadata(value: Any, problems: list[str], where: str) -> tuple | None:
    if _table(value, where, problems) is None:
        return None
    unknown = sorted(set(value) - set(METADATA_TABLES))
    if unknown:
        problems.append(f"{where}: tables are {', '.join(METADATA_TABLES)}, not {unknown}")
        return None
    out = []
    for table in METADATA_TABLES:
        if table not in value:
            continue
        keys = _table(value[table], f"{where}.{table}", problems)
        if keys is None:
            return None
        found = []
        for key, spec in keys.items():
            ok = isinstance(spec, Mapping) and set(spec) == {"share", "type"} and _fraction(spec["share"])
            if not ok or spec["type"] not in JSON_TYPES:
                problems.append(
                    f"{where}.{table}.{key}: expected {{ share = 0..1, type = one of {', '.join(JSON_TYPES)} }}"
                )
                return None
            more = text_problems(key, f"{where}.{table} key", MAX_KEY)
            if more:
                problems += more
                return None
            found.append((key, float(spec["share"]), spec["type"]))
        out.append((table, tuple(sorted(found))))
    return tuple(out)
