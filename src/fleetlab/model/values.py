"""The scalar values of a fleet spec: seed, reference time, locales, weighted mixes, stored text.

Each `parse_*` turns what a scenario file or a flag gives into the spec's type and appends a
problem (prefixed with `where`) instead of raising; `FleetSpec.problems` reuses the same checks,
so a rule is written once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

MAX_SEED = 2**63 - 1
# as_of and every time derived from it (years of history before it) must fit a timestamptz and a
# Python datetime: a generous window around today
AS_OF_MIN = datetime(1950, 1, 1, tzinfo=UTC)
AS_OF_MAX = datetime(9000, 1, 1, tzinfo=UTC)


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


@cache
def shipped_locales() -> Mapping[str, Any]:
    """`known_locales()` as written into faker_locales.json from the Faker the lock pins, when that is the
    Faker installed ({} otherwise): a spec is checked without importing Faker, which takes 0.1-0.7 s
    (a reset served by the scenario cache imports nothing of the generator). tests/test_spec.py
    checks the file against the installed Faker; `scripts/faker_locales.py` writes it again."""
    from importlib import metadata

    data = json.loads(resources.files(__package__).joinpath("faker_locales.json").read_text(encoding="utf-8"))
    try:
        installed = metadata.version("faker")
    except metadata.PackageNotFoundError:
        return {}
    return data["locales"] if data.get("faker") == installed else {}


def _known_for(names: Iterable[Any]) -> Mapping[str, Any]:
    """The locales to validate `names` against: the shipped list when it holds them all, else Faker's own."""
    shipped = shipped_locales()
    return shipped if all(isinstance(n, str) and n in shipped for n in names) else known_locales()


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
        problems.append(f'{where}: expected a locale such as "en_US", a list, or a table of weights')
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
    _finite_total(out, where, problems)
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


def _finite_total(pairs: list[tuple[str, float]], where: str, problems: list[str]) -> None:
    """Weights are relative: their sum must be a finite number (1e308 + 1e308 is not)."""
    if pairs and not math.isfinite(sum(w for _, w in pairs)):
        problems.append(
            f"{where}: the weights add up to more than a number can hold; use smaller ones (they are relative)"
        )


def parse_mix(value: Any, where: str, problems: list[str]) -> tuple[tuple[str, float], ...] | None:
    """A weighted mix from {name = weight, ...}."""
    if not isinstance(value, Mapping) or not value:
        problems.append(f'{where}: expected a table of name = weight, e.g. {{ "Moxa UC-8210" = 2 }}')
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
    _finite_total(out, where, problems)
    return tuple(out) if len(problems) == before else None


def parse_as_of(value: Any, where: str, problems: list[str]) -> datetime | None:
    """An aware datetime, in UTC, from ISO-8601 text (Z allowed) or a TOML datetime, with its time zone:
    a time without one ("2026-01-01T00:00:00") is ambiguous by hours and refused."""
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
    if dt.tzinfo is None:
        problems.append(
            f"{where}: {value if isinstance(value, str) else dt.isoformat()!r} has no time zone; add Z for UTC "
            "(2026-01-01T00:00:00Z) or an offset such as +01:00"
        )
        return None
    try:
        dt = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        dt = None
    if dt is None or not AS_OF_MIN <= dt < AS_OF_MAX:
        problems.append(outside_times(where, value))
        return None
    return dt


def outside_times(where: str, value: Any) -> str:
    """The problem of an as_of outside AS_OF_MIN .. AS_OF_MAX."""
    return f"{where}: {value!r} is outside the times fleetlab generates for (1950 to 9000)"


def text_problems(value: str, where: str, width: int | None) -> list[str]:
    """Why `value` cannot be stored in a column of `width` characters (or in JSONB, without one)."""
    out = []
    if "\x00" in value:
        out.append(f"{where}: {value[:40]!r} holds a NUL character, which PostgreSQL text cannot store")
    if width is not None and len(value) > width:
        out.append(f"{where}: {value[:40]!r}… is {len(value)} characters; the platform's column holds {width}")
    return out


def parse_seed(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        problems.append(f"{where}: the seed must be a whole number from 0 to {MAX_SEED}, not {value!r}")
        return None
    return value
