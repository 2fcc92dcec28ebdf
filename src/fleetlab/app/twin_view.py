"""A source and its synthetic twin side by side (the compare notebook's second part): both surveyed
read-only (`fleetlab.store.survey`), every distance (`fleetlab.model.distances`), and the frames and
charts that show them. URLs are shown by where they point, never with a password."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from typing import NamedTuple

import altair as alt
import polars as pl

from ..config import Settings
from ..errors import ConfigError
from ..model.distances import Distance, distances, table
from ..model.shape import OTHER
from ..model.twin import EDGES, MIN_COUNT, Survey, folded

SVG = {"embedOptions": {"renderer": "svg"}}
SOURCE, TWIN = "source", "twin"


class Pair(NamedTuple):
    source: Survey
    twin: Survey
    source_where: str  # host/database, no password
    twin_where: str
    scale: float


def survey_pair(source_url: str, twin_url: str = "", as_of: str = "", scale: float = 1.0) -> Pair:
    """Survey `source_url` and `twin_url` (empty: the workbench's own database) against `as_of` (ISO-8601;
    empty: the twin's recorded as_of, else now). Raises a FleetlabError with a message on bad input."""
    from ..dsn import DatabaseURL
    from ..model.values import parse_as_of
    from ..store import db, marker
    from ..store.survey import survey

    if not source_url.strip():
        raise ConfigError("give the URL of the source database (the one `fleetlab profile` read).")
    if not scale > 0:
        raise ConfigError(f"the scale must be a number above 0, not {scale!r}.")
    source = DatabaseURL.parse(source_url.strip())
    twin = DatabaseURL.parse(twin_url.strip()) if twin_url.strip() else db.resolve(Settings.from_env())
    when = None
    if as_of.strip():
        problems: list[str] = []
        when = parse_as_of(as_of.strip(), "as_of", problems)
        if problems:
            raise ConfigError(problems[0])
    else:
        with db.connect(twin, autocommit=True) as conn:
            recorded = marker.recorded_scenario(conn).get("as_of")
        when = parse_as_of(recorded, "as_of", []) if recorded else datetime.now(UTC).replace(microsecond=0)
    return Pair(survey(source, when), survey(twin, when), source.where, twin.where, scale)


def distance_frame(pair: Pair) -> pl.DataFrame:
    """Every distance, those beyond their goal first."""
    return table(_found(pair)).sort("ok", maintain_order=True).with_columns(pl.col("distance").round(4))


def verdict(pair: Pair) -> str:
    found = _found(pair)
    bad = [d.name for d in found if not d.ok]
    head = f"**{len(found) - len(bad)} of {len(found)}** distributions within their goal (shares ≤ 0.03, sizes ≤ 10 %)"
    return head + (f"; beyond: {', '.join(bad)}." if bad else ".")


def _found(pair: Pair) -> list[Distance]:
    return distances(pair.source, pair.twin, scale=pair.scale)


def shares(pair: Pair, what: str, *, min_count: int = MIN_COUNT) -> pl.DataFrame:
    """A long frame (fleet, value, gateways, share) of one categorical distribution of both fleets, as
    `charts.compared` draws it; values named as the source's (its rare ones and the twin's others: "other").
    `what`: status, model / firmware, time zone, URL scheme."""
    frames = {
        "status": lambda s: pl.DataFrame({"status": list(s.statuses), "n": list(s.statuses.values())}),
        "model / firmware": lambda s: s.pairs.select(
            pl.concat_str(
                pl.col("model").fill_null("(none)"), pl.lit(" / "), pl.col("firmware").fill_null("(none)")
            ).alias(what),
            "n",
        ),
        "time zone": lambda s: s.timezones.rename({"timezone": what}),
        "URL scheme": lambda s: s.schemes.rename({"scheme": what}),
    }
    column = "status" if what == "status" else what
    source = folded(frames[what](pair.source), [column], min_count)
    twin = folded(frames[what](pair.twin), [column], min_count, named=set(source))
    return pl.concat([_long(SOURCE, source), _long(TWIN, twin)])


def _long(label: str, counts: dict) -> pl.DataFrame:
    total = sum(counts.values()) or 1
    rows = [(label, str(k[0]), n, n / total) for k, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return pl.DataFrame(
        rows, schema={"fleet": pl.String, "value": pl.String, "gateways": pl.Int64, "share": pl.Float64}, orient="row"
    )


def silence(pair: Pair, status: str) -> pl.DataFrame:
    """How long gateways of `status` have been silent, both fleets, in the distances' fixed buckets."""
    parts = []
    for label, survey in ((SOURCE, pair.source), (TWIN, pair.twin)):
        counts: dict = {}
        for _, bucket, n in survey.silence_histogram.filter(pl.col("status") == status).iter_rows():
            lower = survey.silence_edges[bucket - 1] if bucket >= 1 else -1.0
            key = (_bucket_label(bisect.bisect_right(EDGES, lower)),)
            counts[key] = counts.get(key, 0) + n
        parts.append(_long(label, counts))
    return pl.concat(parts)


def silence_order() -> list[str]:
    """The silence buckets' labels, shortest silence first."""
    return [_bucket_label(i) for i in range(len(EDGES) + 1)]


def _bucket_label(i: int) -> str:
    def hours(h: float) -> str:
        return f"{h * 60:g} min" if h < 1 else f"{h:g} h" if h < 48 else f"{h / 24:g} d"

    if i <= 0:
        return "future"
    if i >= len(EDGES):
        return f"over {hours(EDGES[-1])}"
    return f"{hours(EDGES[i - 1])} – {hours(EDGES[i])}"


def tenants(pair: Pair) -> pl.DataFrame:
    """Tenant inequality: organizations from the biggest, their cumulative share of active gateways, per
    fleet (x: share of organizations, y: share of gateways)."""
    parts = []
    for label, survey in ((SOURCE, pair.source), (TWIN, pair.twin)):
        sizes = survey.orgs.filter(pl.col("active"))["gateways_active"].sort(descending=True)
        n, total = sizes.len(), max(int(sizes.sum()), 1)
        parts.append(
            pl.DataFrame(
                {
                    "fleet": [label] * (n + 1),
                    "organizations": [i / max(n, 1) for i in range(n + 1)],
                    "gateways": [0.0, *(sizes.cum_sum() / total).to_list()],
                }
            )
        )
    return pl.concat(parts)


def tenant_chart(frame: pl.DataFrame) -> alt.Chart:
    """The tenants' cumulative shares as two curves: the further above the diagonal, the more unequal."""
    return (
        alt.Chart(frame, title="Tenants, biggest first: share of active gateways", usermeta=SVG, width=520, height=260)
        .mark_line(interpolate="step-after", point=False)
        .encode(
            x=alt.X("organizations:Q", title="share of organizations", axis=alt.Axis(format="%")),
            y=alt.Y("gateways:Q", title="share of active gateways", axis=alt.Axis(format="%")),
            color=alt.Color("fleet:N", title=None, legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("fleet:N", legend=None),
        )
    )


def other_note() -> str:
    return (
        f'Values held by fewer than {MIN_COUNT} rows of the source are counted as "{OTHER}", as the profile folds them.'
    )
