"""How far a twin is from its source: every distribution `fleetlab profile` reproduces, measured on both.

With a scale, the source's gateway counts are multiplied by it before they are compared (the twin's
factories hold that many times as many gateways); at small scales a factory's few gateways round
to whole numbers, so the medians of small sizes move most.

Shares (statuses, model × firmware, time zones, countries, URL schemes, silences, soft-deleted and
reused shares, metadata keys, the biggest tenants' shares) by total-variation distance or absolute
difference, goal ≤ 0.03; sizes (row counts, and the mean, median and 90th percentile of
factories per organization, gateways per factory and gateways per organization) by relative
difference, goal ≤ 10 % (a size below 10 is measured against 10: whole numbers come no closer than one). A twin's categorical values outside the source's named ones count as "other".
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .shape import OTHER
from .twin import MIN_COUNT, SHARE_GOAL, SIZE_GOAL, TABLES, Survey, country, folded, tvd


@dataclass(frozen=True)
class Distance:
    name: str
    kind: str  # "share" (total variation or absolute difference) | "size" (relative difference)
    source: float
    twin: float
    distance: float

    @property
    def goal(self) -> float:
        return SHARE_GOAL if self.kind == "share" else SIZE_GOAL

    @property
    def ok(self) -> bool:
        return self.distance <= self.goal + 1e-12


def distances(source: Survey, twin: Survey, *, scale: float = 1.0, min_count: int = MIN_COUNT) -> list[Distance]:
    """Every distance between `source` (its sizes multiplied by `scale`) and `twin`."""
    out: list[Distance] = []

    def categorical(name: str, s_frame: pl.DataFrame, t_frame: pl.DataFrame, by: list[str]) -> None:
        s = folded(s_frame, by, min_count)
        t = folded(t_frame, by, min_count, named=set(s))
        out.append(Distance(name, "share", len(s), len(t), tvd(s, t)))

    out.append(
        Distance("status", "share", len(source.statuses), len(twin.statuses), tvd(source.statuses, twin.statuses))
    )
    categorical("model × firmware", source.pairs, twin.pairs, ["model", "firmware"])
    categorical("model", _sum(source.pairs, "model"), _sum(twin.pairs, "model"), ["model"])
    categorical("firmware", _sum(source.pairs, "firmware"), _sum(twin.pairs, "firmware"), ["firmware"])
    categorical("time zone", source.timezones, twin.timezones, ["timezone"])
    s_zones = folded(source.timezones, ["timezone"], min_count)
    t_zones = folded(twin.timezones, ["timezone"], min_count, named=set(s_zones))
    s, t = _countries(s_zones), _countries(t_zones)
    out.append(Distance("country", "share", len(s), len(t), tvd(s, t)))
    categorical("URL scheme", source.schemes, twin.schemes, ["scheme"])
    for status in ("online", "recent", "stale"):
        s, t = _silence(source, status), _silence(twin, status)
        if s:
            out.append(Distance(f"silence of {status}", "share", sum(s.values()), sum(t.values()), tvd(s, t)))
    for table in TABLES:
        s, t = _share(source.deleted[table], source.totals[table]), _share(twin.deleted[table], twin.totals[table])
        out.append(Distance(f"soft-deleted {table}", "share", s, t, abs(s - t)))
    s, t = _share(source.reused[1], source.reused[0]), _share(twin.reused[1], twin.reused[0])
    out.append(Distance("reused gateway ids (of soft-deleted)", "share", s, t, abs(s - t)))
    for table in TABLES:
        s_keys, t_keys = _keys(source, table, min_count), _keys(twin, table, 0)
        if s_keys:
            worst = max(s_keys, key=lambda k: abs(s_keys[k] - t_keys.get(k, 0)))
            s, t = s_keys[worst], t_keys.get(worst, 0)
            out.append(Distance(f"metadata keys of {table} (worst: {worst!r})", "share", s, t, abs(s - t)))
    s_org, t_org = _per_org(source), _per_org(twin)
    for top in (1, 5):
        s, t = _top(s_org, top), _top(t_org, top)
        out.append(
            Distance(f"gateways of the {'biggest tenant' if top == 1 else 'top five'}", "share", s, t, abs(s - t))
        )
    for table in TABLES:
        s, t = source.totals[table] * (scale if table == "gateways" else 1), twin.totals[table]
        out.append(Distance(f"{table} (rows)", "size", s, t, _rel(s, t)))
    s, t = source.active_gateways * scale, twin.active_gateways
    out.append(Distance("active gateways", "size", s, t, _rel(s, t)))
    sizes = (
        ("factories per organization", _live(source.orgs, "factories_active"), _live(twin.orgs, "factories_active"), 1),
        (
            "gateways per factory",
            _live(source.factories, "gateways_active"),
            _live(twin.factories, "gateways_active"),
            scale,
        ),
        ("active gateways per organization", s_org, t_org, scale),
    )
    for name, s_values, t_values, f in sizes:
        for stat in ("mean", "median", "p90"):
            s, t = _stat(s_values, stat) * f, _stat(t_values, stat)
            out.append(Distance(f"{name}: {stat}", "size", s, t, _rel(s, t)))
    return out


def table(found: list[Distance]) -> pl.DataFrame:
    """The distances as a frame (what the compare notebook and `fleetlab profile --compare` show)."""
    return pl.DataFrame(
        [(d.name, d.kind, d.source, d.twin, d.distance, d.goal, d.ok) for d in found],
        schema={
            "distribution": pl.String,
            "kind": pl.String,
            "source": pl.Float64,
            "twin": pl.Float64,
            "distance": pl.Float64,
            "goal": pl.Float64,
            "ok": pl.Boolean,
        },
        orient="row",
    )


def _sum(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.group_by(column).agg(pl.col("n").sum())


def _countries(zones: dict) -> dict:
    """Counts per country of folded zones ("other" stays other: the twin gives its rare zones other names)."""
    out: dict = {}
    for (zone,), n in zones.items():
        key = (OTHER if zone == OTHER else country(zone),)
        out[key] = out.get(key, 0) + n
    return out


def _silence(survey: Survey, status: str) -> dict:
    """Active gateways of `status` per fixed bucket of silence (EDGES), whatever finer edges the survey used."""
    import bisect

    from .twin import EDGES

    edges = survey.silence_edges
    out: dict = {}
    for _, bucket, n in survey.silence_histogram.filter(pl.col("status") == status).iter_rows():
        lower = edges[bucket - 1] if bucket >= 1 else -1.0
        key = (bisect.bisect_right(EDGES, lower),)
        out[key] = out.get(key, 0) + n
    return out


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _keys(survey: Survey, table: str, min_count: int) -> dict[str, float]:
    active = (survey.totals[table] - survey.deleted[table]) or 1
    per_key = survey.metadata_keys.filter(pl.col("table") == table).group_by("key").agg(pl.col("n").sum())
    return {k: n / active for k, n in per_key.iter_rows() if n >= min_count}


def _per_org(survey: Survey) -> pl.Series:
    return survey.orgs.filter(pl.col("active"))["gateways_active"].sort(descending=True)


def _top(per_org: pl.Series, k: int) -> float:
    total = per_org.sum()
    return float(per_org.head(k).sum() / total) if total else 0.0


def _live(frame: pl.DataFrame, column: str) -> pl.Series:
    """`column` of the active rows of `frame` (organizations, or factories counted `n` times each)."""
    live = frame.filter(pl.col("active"))
    return live[column] if "n" not in live.columns else live[column].repeat_by(live["n"]).explode()


def _stat(values: pl.Series, stat: str) -> float:
    if values.len() == 0:
        return 0.0
    if stat == "mean":
        return float(values.mean())
    if stat == "max":
        return float(values.max())
    return float(values.quantile(0.5 if stat == "median" else 0.9, interpolation="nearest"))


SMALL = 10  # sizes are whole numbers: below this, a difference is measured against it


def _rel(source: float, twin: float) -> float:
    """The relative difference, against the source's value or SMALL when it is below (one gateway off a
    median of 3 is not a 33 % error: whole numbers cannot come closer)."""
    if source == twin:
        return 0.0
    return abs(twin - source) / max(abs(source), SMALL)
