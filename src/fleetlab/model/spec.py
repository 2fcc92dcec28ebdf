"""The fleet specification: one frozen object saying what fleet to generate.

A spec comes from a scenario's TOML (`fleetlab.model.scenarios.load_scenario`), from a mapping
(`FleetSpec.from_mapping`) or from the constructor, and can take the CLI's overrides
(`spec.override(organizations="5", gateways_per_factory="10-20", ...)`, names in `OVERRIDES`). Every path checks the
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

Text must fit the platform's schema (`fleetlab.model.tables.WIDTHS`: a model name at most 100
characters, a firmware version at most 50) and hold no NUL character; `as_of` lies between 1950
and 9000. A spec that cannot be stored is refused before any database is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..errors import SpecError
from . import shape as shaping
from .counts import Count, bounded, parse_count, upper
from .shape import Shape
from .status import DEFAULT_STALE_AFTER_HOURS
from .tables import WIDTHS
from .values import (
    AS_OF_MAX,
    AS_OF_MIN,
    outside_times,
    parse_as_of,
    parse_locales,
    parse_mix,
    parse_seed,
    text_problems,
)

SOURCES = ("generated", "acme")

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
MAX_FACTORIES = 20_000_000
MAX_GATEWAYS = 1_000_000_000  # in total: far above a workbench (10 million load in about a minute)
FRACTIONS = (
    "online",
    "stale",
    "never_seen",
    "deleted_organizations",
    "deleted_factories",
    "deleted_gateways",
    "reused_gateway_ids",
)
NUMBERS = (*FRACTIONS, "stale_after_hours")  # stored as floats, whatever number type they came as
# what `override` takes: name → (the spec's field, its parser); app.options names a flag and a label for each
OVERRIDES = {
    "organizations": ("organizations", parse_count),
    "factories_per_organization": ("factories_per_organization", parse_count),
    "gateways_per_factory": ("gateways_per_factory", parse_count),
    "seed": ("seed", parse_seed),
    "as_of": ("as_of", parse_as_of),
    "locale": ("locales", parse_locales),
}


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
    stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS
    deleted_organizations: float = 0.0
    deleted_factories: float = 0.0
    deleted_gateways: float = 0.02
    reused_gateway_ids: float = 0.5
    models: tuple[tuple[str, float], ...] = DEFAULT_MODELS
    firmware: tuple[tuple[str, float], ...] = DEFAULT_FIRMWARE
    shape: Shape = field(default_factory=Shape)  # tiers, joint mixes, silences, metadata keys (`model.shape`)

    def __post_init__(self) -> None:
        # weighted lists in name order: the draws do not depend on how a file (or a JSONB
        # round trip, which reorders keys) happened to list them
        for name in ("locales", "models", "firmware"):
            value = getattr(self, name)
            if isinstance(value, tuple | list) and all(isinstance(p, tuple | list) and len(p) == 2 for p in value):
                object.__setattr__(self, name, tuple(sorted((str(k), w) for k, w in value)))
        for name in NUMBERS:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        problems = self.problems()
        if problems:
            raise SpecError(problems)

    def problems(self) -> list[str]:
        """Every problem of this spec (empty when valid): the one validator every path goes through."""
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
                bounded(count, f"counts.{name}", out)
        counts = [self.organizations, self.factories_per_organization, self.gateways_per_factory]
        if isinstance(self.shape, Shape) and self.shape.tiers:  # the tiers' counts replace the two per-parent ones
            counts[1:] = [max((getattr(t, n) for t in self.shape.tiers), key=upper) for n in _COUNTS[1:]]
        if all(isinstance(c, Count) for c in counts):
            factories = upper(counts[0]) * upper(counts[1])
            if factories > MAX_FACTORIES:
                out.append(
                    f"counts: up to {factories:,} factories in total; fleetlab holds the factories in memory while "
                    f"gateways stream, so at most {MAX_FACTORIES:,} (ask for more gateways per factory instead)"
                )
            elif (most := int(factories * upper(counts[2]) * _scale(self))) > MAX_GATEWAYS:
                out.append(
                    f"counts: up to {most:,} gateways in total, beyond what a workbench "
                    f"holds; fleetlab generates at most {MAX_GATEWAYS:,} (about 10 million take a minute)"
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
        if isinstance(self.shape, Shape) and isinstance(h, int | float) and not isinstance(h, bool):
            out += self.shape.problems(h)
        parse_locales(self.locales, "locales", out)
        for name in ("models", "firmware"):
            mix = getattr(self, name)
            parse_mix(dict(mix) if isinstance(mix, tuple | list) else mix, f"mix.{name}", out)
        out += self._storable()
        return out

    def _storable(self) -> list[str]:
        """Text the database could not hold: widths from the schema, no NUL anywhere (marker JSONB too)."""
        out: list[str] = []
        for field_name in ("name", "description"):
            value = getattr(self, field_name)
            if isinstance(value, str):
                out += text_problems(value, field_name, None)
        for mix_name, column in (("models", "model"), ("firmware", "firmware_version")):
            for value, _ in getattr(self, mix_name):
                out += text_problems(value, f"mix.{mix_name}", WIDTHS[("gateways", column)])
        if (
            isinstance(self.as_of, datetime)
            and self.as_of.tzinfo is not None
            and not AS_OF_MIN <= self.as_of < AS_OF_MAX
        ):
            out.append(outside_times("as_of", self.as_of.isoformat()))
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
        for key, value in self.shape.to_dict().items():  # only the parts that are set: older records stay as they were
            out[key] = {**out[key], **value} if key == "mix" else value
        return out

    # -- overrides ---------------------------------------------------------------------------

    def override(self, *, flags: Mapping[str, str] | None = None, **values: Any) -> FleetSpec:
        """A copy with fields replaced; values may be raw flag or form text ("5", "3-8", ISO times).

        The names are those of `OVERRIDES` (organizations, factories_per_organization,
        gateways_per_factory, seed, as_of, locale); None leaves a field as it is. `flags` maps them
        to the names used in messages (e.g. {"organizations": "--orgs"}). Overriding a count or the
        locale of the hand-written `acme` source switches it to generated. Raises SpecError listing
        every bad value.
        """
        flags = dict(flags or {})
        unknown = sorted(set(values) - set(OVERRIDES))
        if unknown:
            raise TypeError(f"override() takes {', '.join(OVERRIDES)}, not {', '.join(unknown)}")
        problems: list[str] = []
        changes: dict[str, Any] = {}
        for name, (field_name, parse) in OVERRIDES.items():
            raw = values.get(name)
            if raw is None:
                continue
            value = (
                raw if isinstance(raw, Count) and parse is parse_count else parse(raw, flags.get(name, name), problems)
            )
            if value is not None:
                changes[field_name] = value
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


def _scale(spec: FleetSpec) -> float:
    return spec.shape.scale if isinstance(spec.shape, Shape) else 1.0


_TOP = {
    "name",
    "description",
    "source",
    "seed",
    "as_of",
    "locales",
    "locale",
    "stale_after_hours",
    "counts",
    "fractions",
    "mix",
    *shaping.KEYS,
}
_COUNTS = ("organizations", "factories_per_organization", "gateways_per_factory")
_MIX = ("models", "firmware", *shaping.MIX_KEYS)


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
        values["stale_after_hours"] = data["stale_after_hours"]  # checked by FleetSpec.problems
    counts = _table(data, "counts", _COUNTS, problems, pre)
    for key, raw in counts.items():
        c = parse_count(raw, f"{pre}counts.{key}", problems)
        if c is not None:
            values[key] = c
    values.update(_table(data, "fractions", FRACTIONS, problems, pre))  # checked by FleetSpec.problems
    mix = _table(data, "mix", _MIX, problems, pre)
    for key, raw in mix.items():
        if key in ("models", "firmware"):
            m = parse_mix(raw, f"{pre}mix.{key}", problems)
            if m is not None:
                values[key] = m
    found = shaping.parse(data, problems, pre)
    if found:
        values["shape"] = found
    return values


def _table(
    data: Mapping[str, Any], key: str, allowed: tuple[str, ...], problems: list[str], pre: str
) -> dict[str, Any]:
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


def scenario_record(spec: FleetSpec, *, as_of_given: bool = True) -> dict[str, Any]:
    """What the marker records about a fleet: the spec's fields at the top (name, seed, as_of,
    stale_after_hours, ...) and the whole spec under "spec" (`FleetSpec.from_mapping(record["spec"])`
    gives it back). The top-level "counts" is left to the load, which records the rows it wrote.
    `as_of_given` says whether as_of was asked for or fixed at "now" (the scenario cache keeps only the former)."""
    full = spec.to_dict()
    return {**{k: v for k, v in full.items() if k != "counts"}, "spec": full, "as_of_given": as_of_given}
