"""Counts of children: a fixed number, a uniform range or a Poisson mean, and their parsing.

`parse_count` reads every form a scenario file or a flag may use (7, "7", "3-8", {min, max},
{distribution = "poisson", mean}) and appends a problem (prefixed with `where`) instead of raising,
so a spec can report every problem at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_COUNT = 100_000_000  # per level; a sanity bound, far above what a workbench needs


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


_RANGE = re.compile(r"^\s*(-?[0-9]+)\s*-\s*(-?[0-9]+)\s*$")  # ASCII digits: int() would take any script's


def parse_count(value: Any, where: str, problems: list[str]) -> Count | None:
    """A Count from 7, "7", "3-8", {min, max}, {distribution = "poisson", mean}; problems appended."""
    if isinstance(value, bool):
        problems.append(f'{where}: expected a count such as 7, "3-8" or a distribution, not {value!r}')
        return None
    if isinstance(value, int):
        return bounded(Count.fixed(value), where, problems)
    if isinstance(value, float):
        if value.is_integer():
            return bounded(Count.fixed(int(value)), where, problems)
        problems.append(f"{where}: a count must be a whole number, not {value!r}")
        return None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?[0-9]+", text):
            return bounded(Count.fixed(int(text)), where, problems)
        m = re.fullmatch(r"poisson\(\s*([0-9]*\.?[0-9]+)\s*\)", text)
        if m:  # str(Count) of a poisson count, so that a printed count reads back
            return bounded(Count.poisson(float(m.group(1))), where, problems)
        m = _RANGE.match(text)
        if m:
            return bounded(Count.uniform(int(m.group(1)), int(m.group(2))), where, problems)
        if not text or re.fullmatch(r"[0-9]*\s*-\s*[0-9]*", text):
            problems.append(f"{where}: empty range {value!r}; write N or MIN-MAX, e.g. 3-8")
            return None
        problems.append(f"{where}: {value!r} is not a number or a MIN-MAX range (e.g. 10 or 3-8)")
        return None
    if isinstance(value, Mapping):
        return _count_from_mapping(value, where, problems)
    problems.append(f'{where}: expected a count such as 7, "3-8" or a distribution, not {value!r}')
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
                f'{where}: a distribution table needs distribution = "uniform" (min, max), '
                f'"poisson" (mean) or "fixed" (n); got keys {sorted(keys)}'
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
        return bounded(Count.uniform(value["min"], value["max"]), where, problems)
    mean = value["mean"]
    if isinstance(mean, bool) or not isinstance(mean, int | float) or not math.isfinite(mean):
        problems.append(f"{where}: the poisson mean must be a number, not {mean!r}")
        return None
    return bounded(Count.poisson(mean), where, problems)


def bounded(count: Count, where: str, problems: list[str]) -> Count | None:
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


def upper(count: Count) -> int:
    """A practical upper bound of a count's draws."""
    if count.kind == "poisson":
        return int(count.mean + 10 * math.sqrt(count.mean) + 10)
    return count.high
