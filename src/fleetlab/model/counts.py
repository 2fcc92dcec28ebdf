"""Counts of children: a fixed number, a uniform range, a Poisson mean or an empirical histogram, and their parsing.

`parse_count` reads every form a scenario file or a flag may use (7, "7", "3-8", {min, max},
{distribution = "poisson", mean}, {distribution = "empirical", bins = [[LOW, HIGH, WEIGHT], ...]})
and appends a problem (prefixed with `where`) instead of raising,
so a spec can report every problem at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_COUNT = 100_000_000  # per level; a sanity bound, far above what a workbench needs
MAX_BINS = 1_000  # bins of an empirical distribution


@dataclass(frozen=True)
class Count:
    """How many children: fixed, uniform over [low, high], poisson with a mean, or empirical: a bin
    [low, high] chosen in proportion to its weight, then a whole number uniform within it (drawn keyed).
    `fleetlab profile` writes empirical counts: a measured distribution, not just its mean."""

    kind: str = "fixed"  # fixed | uniform | poisson | empirical
    low: int = 0
    high: int = 0
    mean: float = 0.0
    bins: tuple[tuple[int, int, float], ...] = ()  # empirical: (low, high, weight), lows ascending

    @classmethod
    def fixed(cls, n: int) -> Count:
        return cls("fixed", n, n)

    @classmethod
    def uniform(cls, low: int, high: int) -> Count:
        return cls("uniform", low, high)

    @classmethod
    def poisson(cls, mean: float) -> Count:
        return cls("poisson", mean=float(mean))

    @classmethod
    def empirical(cls, bins) -> Count:
        bins = tuple(sorted((int(lo), int(hi), float(w)) for lo, hi, w in bins))
        return cls("empirical", min(b[0] for b in bins), max(b[1] for b in bins), bins=bins)

    @property
    def expected(self) -> float:
        if self.kind == "empirical":
            total = sum(w for _, _, w in self.bins)
            return sum(w * (lo + hi) / 2 for lo, hi, w in self.bins) / total
        return self.mean if self.kind == "poisson" else (self.low + self.high) / 2

    def to_value(self) -> Any:
        """The compact mapping form: 7, "3-8" or {distribution = "poisson", mean = 4.0}."""
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return f"{self.low}-{self.high}"
        if self.kind == "empirical":
            return {"distribution": "empirical", "bins": [[lo, hi, _number(w)] for lo, hi, w in self.bins]}
        return {"distribution": "poisson", "mean": self.mean}

    def __str__(self) -> str:
        if self.kind == "empirical":
            return f"empirical({self.low}-{self.high}, mean {self.expected:.3g})"
        v = self.to_value()
        return f"poisson({self.mean:g})" if isinstance(v, dict) else str(v)


def _number(w: float) -> int | float:
    return int(w) if float(w).is_integer() else w


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
                f'"poisson" (mean), "empirical" (bins) or "fixed" (n); got keys {sorted(keys)}'
            )
            return None
    allowed = {"fixed": {"n"}, "uniform": {"min", "max"}, "poisson": {"mean"}, "empirical": {"bins"}}.get(dist)
    if allowed is None:
        problems.append(f"{where}: unknown distribution {dist!r}; use fixed, uniform, poisson or empirical")
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
    if dist == "empirical":
        bins = parse_bins(value["bins"], where, problems, whole=True)
        return None if bins is None else bounded(Count.empirical(bins), where, problems)
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


def parse_bins(value: Any, where: str, problems: list[str], *, whole: bool) -> list[tuple] | None:
    """Histogram bins [[LOW, HIGH, WEIGHT], ...]: LOW <= HIGH, not negative (whole numbers when
    `whole`), weights positive; at least one bin, at most MAX_BINS."""
    example = "bins = [[1, 1, 10], [2, 5, 4]] (low, high, weight)"
    if not isinstance(value, list | tuple) or not value:
        problems.append(f"{where}: bins must be a list of [low, high, weight] triples, e.g. {example}")
        return None
    if len(value) > MAX_BINS:
        problems.append(f"{where}: {len(value):,} bins; at most {MAX_BINS:,}")
        return None
    out: list[tuple] = []
    for i, b in enumerate(value):
        nums = isinstance(b, list | tuple) and len(b) == 3 and all(_real(x) for x in b)
        if not nums:
            problems.append(f"{where}: bin {i + 1} is {b!r}, not [low, high, weight] numbers; e.g. {example}")
            return None
        lo, hi, w = b
        if whole and not all(float(x).is_integer() for x in (lo, hi)):
            problems.append(f"{where}: bin {i + 1}'s low and high must be whole numbers, not {lo!r}, {hi!r}")
            return None
        if lo < 0 or hi < lo or w <= 0:
            problems.append(f"{where}: bin {i + 1} [{lo}, {hi}, {w}] needs 0 <= low <= high and a weight above 0")
            return None
        out.append((int(lo), int(hi), float(w)) if whole else (float(lo), float(hi), float(w)))
    return out


def _real(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float) and math.isfinite(x)


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
