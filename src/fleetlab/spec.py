"""The fleet specification: one frozen object saying what fleet to generate.

A spec comes from a scenario's TOML (`fleetlab.scenarios.load_scenario`), from a mapping
(`FleetSpec.from_mapping`) or from the constructor, and can take the CLI's overrides
(`spec.override(organizations="5", gateways_per_factory="10-20", ...)`). Every path checks the
whole spec and raises one SpecError listing every problem, before anything touches a database.

The mapping form (the TOML layout, and what `to_dict()` returns for the marker):

    name = "multi-tenant"
    description = "one line"
    source = "generated"            # or "acme": the original seed's hand-written rows
    seed = 0
    as_of = "2026-01-01T00:00:00Z"  # optional; default: now
    locales = { en_US = 3, de_DE = 1 }   # or "en_US", or ["en_US", "de_DE"] (equal weights)
    stale_after_hours = 24

    [counts]                        # totals, soft-deleted rows included
    organizations = 5               # N, "MIN-MAX", or { distribution = "poisson", mean = 5 }
    factories_per_organization = "2-6"
    gateways_per_factory = { distribution = "poisson", mean = 40 }

    [fractions]
    online = 0.7                    # last seen within 5 minutes of as_of
    stale = 0.1                     # last seen longer than stale_after_hours ago
    never_seen = 0.05               # last_seen_at NULL (the rest: seen recently)
    deleted_organizations = 0.0
    deleted_factories = 0.0
    deleted_gateways = 0.02
    reused_gateway_ids = 0.5        # of the soft-deleted gateways: share an active gateway_id

    [mix.models]                    # weights
    "Siemens SIMATIC IOT2050" = 3
    [mix.firmware]
    "v1.3.1" = 2

Text must fit the platform's schema (`fleetlab.schema.WIDTHS`: a model name at most 100
characters, a firmware version at most 50) and hold no NUL character; `as_of` lies between 1950
and 9000. A spec that cannot be stored is refused before any database is touched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from .errors import SpecError

SOURCES = ("generated", "acme")
MAX_SEED = 2**63 - 1
MAX_COUNT = 100_000_000  # per level; a sanity bound, far above what a workbench needs

DEFAULT_MODELS: tuple[tuple[str, float], ...] = (
    ("Siemens SIMATIC IOT2050", 4.0),
    ("Moxa UC-8210", 3.0),
    ("Advantech UNO-2271G", 2.0),
    ("HMS Ewon Flexy 205", 1.5),
    ("Phoenix Contact PLCnext AXC F 2152", 1.0),
    ("Beckhoff CX7000", 0.5),
)
DEFAULT_FIRMWARE: tuple[tuple[str, float], ...] = (  # the platform's vX.Y.Z style
    ("v1.3.1", 3.0),
    ("v2.4.0", 3.0),
    ("v2.3.5", 1.5),
    ("v3.1.2", 2.0),
    ("v14.6.2", 1.0),
    ("v0.9.8-beta", 0.2),
)
# as_of and every time derived from it (years of history before it) must fit a timestamptz and a
# Python datetime: a generous window around today
AS_OF_MIN = datetime(1950, 1, 1, tzinfo=UTC)
AS_OF_MAX = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Count:
    """How many children: fixed, uniform over [low, high], or poisson with a mean (drawn keyed)."""

    kind: str = "fixed"  # fixed | uniform | poisson
    low: int = 0
    high: int = 0
    mean: float = 0.0

    @classmethod
    def fixed(cls, n: int) -> Count:
        return cls("fixed", n, n)

    @classmethod
    def uniform(cls, low: int, high: int) -> Count:
        return cls("uniform", low, high)

    @classmethod
    def poisson(cls, mean: float) -> Count:
        return cls("poisson", mean=float(mean))

    @property
    def expected(self) -> float:
        return self.mean if self.kind == "poisson" else (self.low + self.high) / 2

    def to_value(self) -> Any:
        """The compact mapping form: 7, "3-8" or {distribution = "poisson", mean = 4.0}."""
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return f"{self.low}-{self.high}"
        return {"distribution": "poisson", "mean": self.mean}

    def __str__(self) -> str:
        v = self.to_value()
        return f"poisson({self.mean:g})" if isinstance(v, dict) else str(v)


_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def parse_count(value: Any, where: str, problems: list[str]) -> Count | None:
    """A Count from 7, "7", "3-8", {min, max}, {distribution = "poisson", mean}; problems appended."""
    if isinstance(value, bool):
        problems.append(f"{where}: expected a count such as 7, \"3-8\" or a distribution, not {value!r}")
        return None
    if isinstance(value, int):
        return _bounded(Count.fixed(value), where, problems)
    if isinstance(value, float):
        if value.is_integer():
            return _bounded(Count.fixed(int(value)), where, problems)
        problems.append(f"{where}: a count must be a whole number, not {value!r}")
        return None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return _bounded(Count.fixed(int(text)), where, problems)
        m = re.fullmatch(r"poisson\(\s*([0-9]*\.?[0-9]+)\s*\)", text)
        if m:  # str(Count) of a poisson count, so that a printed count reads back
            return _bounded(Count.poisson(float(m.group(1))), where, problems)
        m = _RANGE.match(text)
        if m:
            return _bounded(Count.uniform(int(m.group(1)), int(m.group(2))), where, problems)
        if not text or re.fullmatch(r"\d*\s*-\s*\d*", text):
            problems.append(f"{where}: empty range {value!r}; write N or MIN-MAX, e.g. 3-8")
            return None
        problems.append(f"{where}: {value!r} is not a number or a MIN-MAX range (e.g. 10 or 3-8)")
        return None
    if isinstance(value, Mapping):
        return _count_from_mapping(value, where, problems)
    problems.append(f"{where}: expected a count such as 7, \"3-8\" or a distribution, not {value!r}")
    return None


def _count_from_mapping(value: Mapping[str, Any], where: str, problems: list[str]) -> Count | None:
    dist = value.get("distribution")
    keys = set(value)
    if dist is None:
        if keys == {"poisson"}:
            dist, value = "poisson", {"mean": value["poisson"]}
            keys = {"mean"}
        elif keys == {"fixed"}:
            return parse_count(value["fixed"], where, problems)
        elif keys == {"min", "max"}:
            dist = "uniform"
        else:
            problems.append(
                f"{where}: a distribution table needs distribution = \"uniform\" (min, max), "
                f"\"poisson\" (mean) or \"fixed\" (n); got keys {sorted(keys)}"
            )
            return None
    allowed = {"fixed": {"n"}, "uniform": {"min", "max"}, "poisson": {"mean"}}.get(dist)
    if allowed is None:
        problems.append(f"{where}: unknown distribution {dist!r}; use fixed, uniform or poisson")
        return None
    unknown = keys - allowed - {"distribution"}
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)} for a {dist} distribution")
    missing = allowed - keys
    if missing:
        problems.append(f"{where}: a {dist} distribution needs {', '.join(sorted(missing))}")
        return None
    if dist == "fixed":
        return parse_count(value["n"], where, problems)
    if dist == "uniform":
        bad = [k for k in ("min", "max") if isinstance(value[k], bool) or not isinstance(value[k], int)]
        if bad:
            problems.append(f"{where}: min and max must be whole numbers, not {value['min']!r}, {value['max']!r}")
            return None
        return _bounded(Count.uniform(value["min"], value["max"]), where, problems)
    mean = value["mean"]
    if isinstance(mean, bool) or not isinstance(mean, int | float) or not math.isfinite(mean):
        problems.append(f"{where}: the poisson mean must be a number, not {mean!r}")
        return None
    return _bounded(Count.poisson(mean), where, problems)


def _bounded(count: Count, where: str, problems: list[str]) -> Count | None:
    before = len(problems)
    if count.kind == "poisson":
        if count.mean < 0:
            problems.append(f"{where}: the poisson mean must not be negative, got {count.mean:g}")
        elif count.mean > MAX_COUNT:
            problems.append(f"{where}: the poisson mean {count.mean:g} is above {MAX_COUNT:,}")
    elif count.low < 0 or count.high < 0:
        problems.append(f"{where}: counts must not be negative, got {count}")
    elif count.kind == "uniform" and count.high < count.low:
        problems.append(f"{where}: inverted range {count} (max below min); write {count.high}-{count.low}")
    elif count.high > MAX_COUNT:
        problems.append(f"{where}: {count} is above {MAX_COUNT:,}")
    return count if len(problems) == before else None


@cache
def known_locales() -> dict[str, tuple[str, ...]]:
    """Faker locales that name a country fleetlab knows time zones for: locale → IANA zones."""
    from faker.config import AVAILABLE_LOCALES
    from faker.providers.date_time import Provider

    zones = {c.alpha_2_code: tuple(c.timezones) for c in Provider.countries}
    out: dict[str, tuple[str, ...]] = {}
    for loc in AVAILABLE_LOCALES:
        country = loc.split("_")[-1] if "_" in loc else ""
        if country in zones:
            out[loc] = zones[country]
    return out


def _known_for(names: Iterable[Any]) -> Mapping[str, Any]:
    """The locales to validate `names` against. en_US alone (the default scenario) needs no
    look-up: importing Faker would cost every default reset 0.15 s."""
    return {"en_US": ()} if all(name == "en_US" for name in names) else known_locales()


def parse_locales(value: Any, where: str, problems: list[str]) -> tuple[tuple[str, float], ...] | None:
    """Locales from "de_DE", "en_US,de_DE", ["en_US", "de_DE"] or {en_US = 3, de_DE = 1}."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if isinstance(value, list | tuple):
        pairs = []
        for v in value:
            if isinstance(v, list | tuple) and len(v) == 2:
                pairs.append((v[0], v[1]))
            else:
                pairs.append((v, 1.0))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        problems.append(f"{where}: expected a locale such as \"en_US\", a list, or a table of weights")
        return None
    if not pairs:
        problems.append(f"{where}: at least one locale is needed, e.g. en_US")
        return None
    before = len(problems)
    known = _known_for(name for name, _ in pairs)
    out = []
    for name, weight in pairs:
        if not isinstance(name, str) or name not in known:
            hint = _near(name, known) if isinstance(name, str) else ""
            problems.append(f"{where}: unknown locale {name!r}{hint}")
            continue
        w = _weight(weight, f"{where}: weight of {name}", problems)
        if w is not None:
            out.append((name, w))
    if len(problems) == before and sum(w for _, w in out) <= 0:
        problems.append(f"{where}: the locale weights must not all be zero")
    return tuple(out) if len(problems) == before else None


def _near(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else " (use a Faker locale such as en_US, de_DE, ja_JP)"


def _weight(value: Any, where: str, problems: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        problems.append(f"{where} must be a non-negative number, not {value!r}")
        return None
    return float(value)


def parse_mix(value: Any, where: str, problems: list[str]) -> tuple[tuple[str, float], ...] | None:
    """A weighted mix from {name = weight, ...}."""
    if not isinstance(value, Mapping) or not value:
        problems.append(f"{where}: expected a table of name = weight, e.g. {{ \"Moxa UC-8210\" = 2 }}")
        return None
    before = len(problems)
    out = []
    for name, weight in value.items():
        if not str(name).strip():
            problems.append(f"{where}: names must not be empty")
            continue
        w = _weight(weight, f"{where}: weight of {name!r}", problems)
        if w is not None:
            out.append((str(name), w))
    if len(problems) == before and sum(w for _, w in out) <= 0:
        problems.append(f"{where}: the weights must not all be zero")
    return tuple(out) if len(problems) == before else None


def parse_as_of(value: Any, where: str, problems: list[str]) -> datetime | None:
    """An aware datetime from ISO-8601 text (Z allowed) or a TOML datetime; naive means UTC."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            problems.append(f"{where}: {value!r} is not an ISO-8601 time such as 2026-01-01T00:00:00Z")
            return None
    else:
        problems.append(f"{where}: expected an ISO-8601 time such as 2026-01-01T00:00:00Z, not {value!r}")
        return None
    try:
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (OverflowError, ValueError):
        dt = None
    if dt is None or not AS_OF_MIN <= dt < AS_OF_MAX:
        problems.append(f"{where}: {value!r} is outside the times fleetlab generates for (1950 to 9000)")
        return None
    return dt


def _text_problems(value: str, where: str, width: int | None) -> list[str]:
    """Why `value` cannot be stored in a column of `width` characters (or in JSONB, without one)."""
    out = []
    if "\x00" in value:
        out.append(f"{where}: {value[:40]!r} holds a NUL character, which PostgreSQL text cannot store")
    if width is not None and len(value) > width:
        out.append(f"{where}: {value[:40]!r}… is {len(value)} characters; the platform's column holds {width}")
    return out


def parse_seed(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        problems.append(f"{where}: the seed must be a whole number from 0 to {MAX_SEED}, not {value!r}")
        return None
    return value


MAX_FACTORIES = 20_000_000


def _upper(count: Count) -> int:
    """A practical upper bound of a count's draws."""
    if count.kind == "poisson":
        return int(count.mean + 10 * math.sqrt(count.mean) + 10)
    return count.high


FRACTIONS = (
    "online",
    "stale",
    "never_seen",
    "deleted_organizations",
    "deleted_factories",
    "deleted_gateways",
    "reused_gateway_ids",
)


@dataclass(frozen=True)
class FleetSpec:
    """What fleet to generate. Construct it directly, from a mapping, or from a scenario.

    Validated on construction: an invalid spec raises SpecError listing every problem.
    """

    name: str = "custom"
    description: str = ""
    source: str = "generated"
    seed: int = 0
    as_of: datetime | None = None  # None: now, fixed when the fleet is generated
    locales: tuple[tuple[str, float], ...] = (("en_US", 1.0),)
    organizations: Count = field(default_factory=lambda: Count.fixed(1))
    factories_per_organization: Count = field(default_factory=lambda: Count.fixed(3))
    gateways_per_factory: Count = field(default_factory=lambda: Count.fixed(2))
    online: float = 0.6
    stale: float = 0.15
    never_seen: float = 0.05
    stale_after_hours: float = 24.0
    deleted_organizations: float = 0.0
    deleted_factories: float = 0.0
    deleted_gateways: float = 0.02
    reused_gateway_ids: float = 0.5
    models: tuple[tuple[str, float], ...] = DEFAULT_MODELS
    firmware: tuple[tuple[str, float], ...] = DEFAULT_FIRMWARE

    def __post_init__(self) -> None:
        # weighted lists in name order: the draws do not depend on how a file (or a JSONB
        # round trip, which reorders keys) happened to list them
        for name in ("locales", "models", "firmware"):
            value = getattr(self, name)
            if isinstance(value, tuple | list) and all(isinstance(p, tuple | list) and len(p) == 2 for p in value):
                object.__setattr__(self, name, tuple(sorted((str(k), w) for k, w in value)))
        problems = self.problems()
        if problems:
            raise SpecError(problems)

    def problems(self) -> list[str]:
        """Every semantic problem of this spec (empty when valid)."""
        out: list[str] = []
        if self.source not in SOURCES:
            out.append(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")
        parse_seed(self.seed, "seed", out)
        if self.as_of is not None and (not isinstance(self.as_of, datetime) or self.as_of.tzinfo is None):
            out.append("as_of must be a timezone-aware datetime")
        for name in ("organizations", "factories_per_organization", "gateways_per_factory"):
            count = getattr(self, name)
            if not isinstance(count, Count):
                out.append(f"counts.{name} must be a Count")
            else:
                _bounded(count, f"counts.{name}", out)
        counts = [self.organizations, self.factories_per_organization]
        if all(isinstance(c, Count) for c in counts) and _upper(counts[0]) * _upper(counts[1]) > MAX_FACTORIES:
            out.append(
                f"counts: up to {_upper(counts[0]) * _upper(counts[1]):,} factories in total; fleetlab holds the "
                f"factories in memory while gateways stream, so at most {MAX_FACTORIES:,} (ask for more gateways "
                "per factory instead)"
            )
        for name in FRACTIONS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0.0 <= v <= 1.0):
                out.append(f"fractions.{name} must be a number between 0 and 1, not {v!r}")
        seen = [getattr(self, n) for n in ("online", "stale", "never_seen")]
        if all(isinstance(v, int | float) and 0 <= v <= 1 for v in seen) and sum(seen) > 1 + 1e-9:
            out.append(
                f"fractions online + stale + never_seen sum to {sum(seen):g}, above 1 "
                "(the rest of the gateways are 'seen recently')"
            )
        h = self.stale_after_hours
        if isinstance(h, bool) or not isinstance(h, int | float) or not (0 < h <= 24 * 365):
            out.append(f"stale_after_hours must be a number of hours in (0, 8760], not {h!r}")
        known = _known_for(loc for loc, _ in self.locales)
        for loc, w in self.locales:
            if loc not in known:
                out.append(f"unknown locale {loc!r}{_near(loc, known)}")
            elif not isinstance(w, int | float) or w < 0:
                out.append(f"locale weight of {loc} must be a non-negative number")
        if not self.locales or sum(w for _, w in self.locales) <= 0:
            out.append("at least one locale with a positive weight is needed")
        for name in ("models", "firmware"):
            mix = getattr(self, name)
            if not mix or sum(w for _, w in mix) <= 0 or any(w < 0 for _, w in mix):
                out.append(f"mix.{name} needs at least one entry with a positive weight, and none negative")
        out += self._storable()
        return out

    def _storable(self) -> list[str]:
        """Text the database could not hold: widths from the schema, no NUL anywhere (marker JSONB too)."""
        from .schema import WIDTHS

        out: list[str] = []
        for field_name in ("name", "description"):
            value = getattr(self, field_name)
            if isinstance(value, str):
                out += _text_problems(value, field_name, None)
        for mix_name, column in (("models", "model"), ("firmware", "firmware_version")):
            for value, _ in getattr(self, mix_name):
                out += _text_problems(value, f"mix.{mix_name}", WIDTHS[("gateways", column)])
        if isinstance(self.as_of, datetime) and self.as_of.tzinfo is not None and not AS_OF_MIN <= self.as_of < AS_OF_MAX:
            out.append(f"as_of {self.as_of.isoformat()} is outside the times fleetlab generates for (1950 to 9000)")
        return out

    # -- mapping form -----------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "") -> FleetSpec:
        """A spec from its mapping form (see the module docstring). Unknown keys are errors."""
        problems: list[str] = []
        pre = f"{where}: " if where else ""
        values = _parse_mapping(data, problems, pre)
        return _build(values, problems)

    def to_dict(self) -> dict[str, Any]:
        """The mapping form, JSON-able (as_of as ISO-8601 text); from_mapping(to_dict()) == self."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "seed": self.seed,
        }
        if self.as_of is not None:
            out["as_of"] = self.as_of.isoformat().replace("+00:00", "Z")
        out["locales"] = dict(self.locales)
        out["stale_after_hours"] = self.stale_after_hours
        out["counts"] = {
            "organizations": self.organizations.to_value(),
            "factories_per_organization": self.factories_per_organization.to_value(),
            "gateways_per_factory": self.gateways_per_factory.to_value(),
        }
        out["fractions"] = {n: getattr(self, n) for n in FRACTIONS}
        out["mix"] = {"models": dict(self.models), "firmware": dict(self.firmware)}
        return out

    # -- overrides ---------------------------------------------------------------------------

    def override(
        self,
        *,
        organizations: Any = None,
        factories_per_organization: Any = None,
        gateways_per_factory: Any = None,
        seed: Any = None,
        as_of: Any = None,
        locale: Any = None,
        flags: Mapping[str, str] | None = None,
    ) -> FleetSpec:
        """A copy with the given fields replaced; values may be raw CLI text ("5", "3-8", ISO times).

        `flags` maps field names to the names used in messages (e.g. {"organizations": "--orgs"}).
        Overriding a count or the locale of the hand-written `acme` source switches it to generated.
        Raises SpecError listing every bad value.
        """
        flags = dict(flags or {})
        problems: list[str] = []
        changes: dict[str, Any] = {}
        for name, raw in (
            ("organizations", organizations),
            ("factories_per_organization", factories_per_organization),
            ("gateways_per_factory", gateways_per_factory),
        ):
            if raw is not None:
                c = raw if isinstance(raw, Count) else parse_count(raw, flags.get(name, name), problems)
                if c is not None:
                    changes[name] = c
        if seed is not None:
            s = parse_seed(seed, flags.get("seed", "seed"), problems)
            if s is not None:
                changes["seed"] = s
        if as_of is not None:
            t = parse_as_of(as_of, flags.get("as_of", "as_of"), problems)
            if t is not None:
                changes["as_of"] = t
        if locale is not None:
            loc = parse_locales(locale, flags.get("locale", "locale"), problems)
            if loc is not None:
                changes["locales"] = loc
        if problems:
            raise SpecError(problems)
        if self.source == "acme" and set(changes) - {"seed", "as_of"}:
            changes["source"] = "generated"
        return replace(self, **changes) if changes else self

    def at(self, as_of: datetime | None = None) -> FleetSpec:
        """This spec with `as_of` fixed (to `as_of`, or now when the spec has none)."""
        if self.as_of is not None and as_of is None:
            return self
        return replace(self, as_of=as_of or datetime.now(UTC).replace(microsecond=0))


_TOP = {"name", "description", "source", "seed", "as_of", "locales", "locale", "stale_after_hours", "counts", "fractions", "mix"}
_COUNTS = ("organizations", "factories_per_organization", "gateways_per_factory")
_MIX = ("models", "firmware")


def _parse_mapping(data: Mapping[str, Any], problems: list[str], pre: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        problems.append(f"{pre}a fleet specification must be a table")
        return values
    for key in data:
        if key not in _TOP:
            problems.append(f"{pre}unknown key {key!r} (allowed: {', '.join(sorted(_TOP - {'locale'}))})")
    for key in ("name", "description"):
        if key in data:
            if isinstance(data[key], str):
                values[key] = data[key]
            else:
                problems.append(f"{pre}{key} must be text")
    if "source" in data:
        if data["source"] in SOURCES:
            values["source"] = data["source"]
        else:
            problems.append(f"{pre}source must be one of {', '.join(SOURCES)}, not {data['source']!r}")
    if "seed" in data:
        s = parse_seed(data["seed"], f"{pre}seed", problems)
        if s is not None:
            values["seed"] = s
    if "as_of" in data:
        t = parse_as_of(data["as_of"], f"{pre}as_of", problems)
        if t is not None:
            values["as_of"] = t
    if "locales" in data and "locale" in data:
        problems.append(f"{pre}give either locale or locales, not both")
    for key in ("locales", "locale"):
        if key in data:
            loc = parse_locales(data[key], f"{pre}{key}", problems)
            if loc is not None:
                values["locales"] = loc
    if "stale_after_hours" in data:
        h = data["stale_after_hours"]
        if isinstance(h, bool) or not isinstance(h, int | float) or not (0 < h <= 24 * 365):
            problems.append(f"{pre}stale_after_hours must be a number of hours in (0, 8760], not {h!r}")
        else:
            values["stale_after_hours"] = float(h)
    counts = _table(data, "counts", _COUNTS, problems, pre)
    for key, raw in counts.items():
        c = parse_count(raw, f"{pre}counts.{key}", problems)
        if c is not None:
            values[key] = c
    fractions = _table(data, "fractions", FRACTIONS, problems, pre)
    bad_fraction = False
    for key, raw in fractions.items():
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not (0.0 <= raw <= 1.0):
            problems.append(f"{pre}fractions.{key} must be a number between 0 and 1, not {raw!r}")
            bad_fraction = True
        else:
            values[key] = float(raw)
    if bad_fraction:
        # the sum check below would only repeat what was said; keep the spec buildable
        for key in ("online", "stale", "never_seen"):
            values.setdefault(key, 0.0)
    mix = _table(data, "mix", _MIX, problems, pre)
    for key, raw in mix.items():
        m = parse_mix(raw, f"{pre}mix.{key}", problems)
        if m is not None:
            values[key] = m
    return values


def _table(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], problems: list[str], pre: str) -> dict[str, Any]:
    if key not in data:
        return {}
    table = data[key]
    if not isinstance(table, Mapping):
        problems.append(f"{pre}{key} must be a table ([{key}])")
        return {}
    for k in table:
        if k not in allowed:
            problems.append(f"{pre}unknown key {key}.{k} (allowed: {', '.join(allowed)})")
    return {k: v for k, v in table.items() if k in allowed}


def _build(values: dict[str, Any], problems: list[str]) -> FleetSpec:
    """Construct, merging parse problems with the constructor's semantic ones into one SpecError."""
    try:
        spec = FleetSpec(**values)
    except SpecError as exc:
        raise SpecError(problems + [p for p in exc.problems if p not in problems]) from None
    if problems:
        raise SpecError(problems)
    return spec


SPEC_FIELDS = tuple(f.name for f in fields(FleetSpec))


def scenario_record(spec: FleetSpec) -> dict[str, Any]:
    """What the marker records about a fleet: the spec's fields at the top (name, seed, as_of,
    stale_after_hours, ...) and the whole spec under "spec" (`FleetSpec.from_mapping(record["spec"])`
    gives it back). The top-level "counts" is left to the load, which records the rows it wrote."""
    full = spec.to_dict()
    return {**{k: v for k, v in full.items() if k != "counts"}, "spec": full}
