"""Altair charts of a fleet, built from the frames of `fleetlab.read.workbench.Workbench` (marimo renders them natively)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import altair as alt
import polars as pl

from ..model import status

STATUSES = list(status.STATUSES)  # in their own order; Altair takes lists
STATUS_COLORS = ["#2e7d32", "#9ccc65", "#ef6c00", "#9e9e9e"]
# Age buckets of last_seen_at: (label, upper bound); a bucket holds ages up to its bound.
AGE_BUCKETS: list[tuple[str, timedelta | None]] = [
    ("≤ 5 min", timedelta(minutes=5)),
    ("5 min – 1 h", timedelta(hours=1)),
    ("1 h – 1 day", timedelta(days=1)),
    ("1 – 7 days", timedelta(days=7)),
    ("7 – 30 days", timedelta(days=30)),
    ("> 30 days", None),
]
NEVER = "never seen"
AGE_BOUNDS = [bound for _, bound in AGE_BUCKETS if bound is not None]  # for Workbench.last_seen_ages


COUNT_AXIS = alt.Axis(format=",d", tickMinStep=1)  # counts: whole ticks, never 0.2
# drawn as SVG, not on a canvas: crisp in screenshots and exports, and its labels are text a browser
# test (or a screen reader) can read
SVG = {"embedOptions": {"renderer": "svg"}}


def most_silent(frame: pl.DataFrame, *, by: str = "factory") -> pl.DataFrame:
    """Rows (factories, or organizations with `by="organization"`) with the most stale or never-seen
    gateways first, then the largest, then by name: sorted by trouble."""
    names = ["organization", "factory"] if by == "factory" else ["organization"]
    return (
        frame.with_columns(silent=pl.col("stale") + pl.col("never_seen"))
        .sort(["silent", "gateways", *names], descending=[True, True, *[False] * len(names)])
        .drop("silent")
    )


def most_common(frame: pl.DataFrame, column: str) -> list:
    """The values of `column` by their gateways summed, most first (ties by value)."""
    totals = frame.group_by(column).agg(pl.col("gateways").sum())
    return totals.sort(["gateways", column], descending=[True, False])[column].to_list()


def gateways_per_factory(per_factory: pl.DataFrame, *, top: int = 40) -> alt.Chart:
    """Stacked bars: each factory's active gateways by status, for the `top` factories with the most
    silent gateways (stale or never seen), then the largest, in that order: where to look first, not the
    alphabetically first of many equal factories. A factory name two organizations share is told apart
    by its organization's."""
    if per_factory.filter(pl.col("gateways") > 0).height == 0:
        return nothing("Gateways per factory", "No active gateway in what the filters keep.")
    frame = most_silent(per_factory).head(top)
    frame = frame.with_columns(label=pl.Series(_distinct_labels(frame, "factory")))
    long = frame.select(["organization", "factory", "label", *STATUSES]).unpivot(
        index=["organization", "factory", "label"], on=STATUSES, variable_name="status", value_name="gateways"
    )
    shown = f"top {frame.height} of {per_factory.height:,}" if per_factory.height > top else f"all {frame.height}"
    return (
        alt.Chart(long, title=f"Gateways per factory, most stale or never seen first ({shown})", usermeta=SVG)
        .mark_bar()
        .encode(
            x=alt.X("gateways:Q", title="gateways", axis=COUNT_AXIS),
            y=alt.Y("label:N", sort=frame["label"].to_list(), title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color("status:N", sort=STATUSES, scale=alt.Scale(domain=STATUSES, range=STATUS_COLORS)),
            tooltip=["organization", "factory", "status", alt.Tooltip("gateways:Q", format=",")],
        )
    )


def organization_health(summary: pl.DataFrame, *, statuses=None, top: int = 30) -> alt.Chart:
    """Each organization's active gateways as shares by status (bars of equal length, so a small tenant
    in trouble shows as plainly as a large one), least healthy first: the `top` organizations with the
    largest share stale or never seen. Under a status filter (`statuses`), shares would all be one
    colour: the bars are then the counts of those statuses per organization, most first."""
    if statuses:
        return _status_counts(summary, list(statuses), top)
    frame = (
        summary.filter(pl.col("gateways") > 0)
        .with_columns(silent=(pl.col("stale") + pl.col("never_seen")) / pl.col("gateways"))
        .sort(["silent", "gateways", "organization"], descending=[True, True, False])
        .head(top)
    )
    title = "Organizations by status of their gateways, most stale or never seen first"
    if frame.height == 0:
        return nothing(title, "No active gateway in what the filters keep.")
    long = (
        frame.select(["organization", "gateways", *STATUSES])
        .unpivot(index=["organization", "gateways"], on=STATUSES, variable_name="status", value_name="count")
        .with_columns(share=pl.col("count") / pl.col("gateways"))
    )
    total = summary.filter(pl.col("gateways") > 0).height
    shown = f"the {frame.height} least healthy of {total:,}" if total > top else f"all {frame.height}"
    return (
        alt.Chart(long, title=f"{title} ({shown})", usermeta=SVG)
        .mark_bar()
        .encode(
            x=alt.X(
                "share:Q",
                title="share of the organization's gateways",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("organization:N", sort=frame["organization"].to_list(), title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color("status:N", sort=STATUSES, scale=alt.Scale(domain=STATUSES, range=STATUS_COLORS)),
            tooltip=[
                "organization",
                "status",
                alt.Tooltip("count:Q", title="gateways", format=","),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
    )


def _status_counts(summary: pl.DataFrame, statuses: list[str], top: int) -> alt.Chart:
    """Bars of the chosen statuses' counts per organization, most first."""
    chosen = [s for s in STATUSES if s in statuses]
    title = f"{' and '.join(s.replace('_', ' ') for s in chosen).capitalize()} gateways per organization"
    frame = (
        summary.with_columns(chosen_n=pl.sum_horizontal(chosen))
        .filter(pl.col("chosen_n") > 0)
        .sort(["chosen_n", "organization"], descending=[True, False])
    )
    if frame.height == 0:
        return nothing(title, "No gateway has the chosen status in what the filters keep.")
    shown = frame.head(top)
    long = shown.select(["organization", *chosen]).unpivot(
        index="organization", on=chosen, variable_name="status", value_name="gateways"
    )
    more = f" (the {top} with most of {frame.height:,})" if frame.height > top else ""
    colors = [c for s, c in zip(STATUSES, STATUS_COLORS, strict=True) if s in chosen]
    return (
        alt.Chart(long, title=title + more, usermeta=SVG)
        .mark_bar()
        .encode(
            x=alt.X("gateways:Q", title="gateways", axis=COUNT_AXIS),
            y=alt.Y("organization:N", sort=shown["organization"].to_list(), title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color("status:N", sort=chosen, scale=alt.Scale(domain=chosen, range=colors)),
            tooltip=["organization", "status", alt.Tooltip("gateways:Q", format=",")],
        )
    )


def failure_rates(
    frame: pl.DataFrame, column: str, title: str, *, top: int = 20, statuses: Sequence[str] | None = None
) -> alt.Chart:
    """The share stale or never seen per value of `column` (a frame with gateways, stale, never_seen
    per value: `explore.collapse`, `gateways_per_factory`), highest first, beside a rule at the share of
    everything in the frame: a bad firmware stands out. Each bar says how many gateways it rests on.
    Under a status filter (`statuses`) that keeps only silent gateways every share would be 100 %: it
    says so instead."""
    if statuses and set(statuses) <= {"stale", "never_seen"}:
        return nothing(title, "Only stale or never-seen gateways are kept: clear the Status filter to compare rates.")
    counted = frame.filter(pl.col("gateways") > 0).with_columns(
        pl.col(column).cast(pl.String).fill_null("(none)").alias("value"),
        rate=(pl.col("stale") + pl.col("never_seen")) / pl.col("gateways"),
    )
    if counted.height == 0:
        return nothing(title, "No active gateway in what the filters keep.")
    overall = float((counted["stale"].sum() + counted["never_seen"].sum()) / counted["gateways"].sum())
    ranked = counted.sort(["rate", "gateways", "value"], descending=[True, True, False])
    shown = ranked.head(top)
    shown = shown.with_columns(
        value=pl.Series(_distinct_labels(shown, "value")),
        based=pl.Series([f"{n:,} gateways" for n in shown["gateways"]]),
    )
    more = f" (the {top} highest of {ranked.height:,})" if ranked.height > top else ""
    base = alt.Chart(shown).encode(
        y=alt.Y("value:N", sort=shown["value"].to_list(), title=None, axis=alt.Axis(labelLimit=280))
    )
    bars = base.mark_bar(color="#ef6c00").encode(
        x=alt.X("rate:Q", title="share stale or never seen", axis=alt.Axis(format="%"), scale=alt.Scale(domainMin=0)),
        tooltip=[
            alt.Tooltip("value:N", title=column.replace("_", " ")),
            alt.Tooltip("rate:Q", title="stale or never seen", format=".1%"),
            alt.Tooltip("gateways:Q", format=","),
            alt.Tooltip("stale:Q", format=","),
            alt.Tooltip("never_seen:Q", title="never seen", format=","),
        ],
    )
    counts = base.mark_text(align="left", dx=4, fontSize=10, color="#546e7a").encode(x="rate:Q", text="based:N")
    rule = alt.Chart(pl.DataFrame({"rate": [overall]})).mark_rule(color="#263238", strokeDash=[4, 3]).encode(x="rate:Q")
    return alt.layer(
        bars,
        counts,
        rule,
        title=alt.Title(f"{title}{more}", subtitle=f"dashed: {overall:.1%} of all the gateways shown here"),
        usermeta=SVG,
    ).properties(width=260)


def _distinct_labels(frame: pl.DataFrame, column: str) -> list[str]:
    """`column`'s values as bar labels, one per row: a value held by several rows (two organizations'
    factories of the same name) gets its organization, then a number, so that no two bars stack."""
    values = frame[column].to_list()
    if len(set(values)) == len(values):
        return values
    owners = frame["organization"].to_list() if "organization" in frame.columns else [None] * len(values)
    repeated = {v for v in values if values.count(v) > 1}
    labels = [f"{v} ({o})" if v in repeated and o else v for v, o in zip(values, owners, strict=True)]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def age_buckets(ages: pl.DataFrame) -> pl.DataFrame:
    """Labels for `Workbench.last_seen_ages(AGE_BOUNDS)`: columns age (AGE_BUCKETS' labels, then
    never seen), gateways."""
    names = pl.DataFrame(
        {
            "bucket": [*range(len(AGE_BUCKETS)), -1],
            "age": [label for label, _ in AGE_BUCKETS] + [NEVER],
        }
    ).with_row_index("order")
    joined = names.join(ages.cast({"bucket": pl.Int64}), on="bucket", how="left").sort("order")
    return joined.select("age", pl.col("gateways").fill_null(0).cast(pl.Int64))


def last_seen_ages(buckets: pl.DataFrame, as_of: datetime) -> alt.Chart:
    """Bars of `age_buckets`."""
    order = buckets["age"].to_list()
    return (
        alt.Chart(buckets, title=f"Time since last seen, as of {as_of:%Y-%m-%d %H:%M} UTC", usermeta=SVG)
        .mark_bar()
        .encode(
            # horizontal: the bucket names ("1 h – 1 day", "never seen") are too long to stand side by side
            y=alt.Y("age:N", sort=order, title=None),
            x=alt.X("gateways:Q", title="gateways", axis=COUNT_AXIS),
            color=alt.condition(alt.datum.age == NEVER, alt.value("#9e9e9e"), alt.value("#1565c0")),
            tooltip=["age", alt.Tooltip("gateways:Q", format=",")],
        )
    )


def mix(distribution: pl.DataFrame, column: str, title: str) -> alt.Chart:
    """Horizontal bars of a `model_distribution` / `firmware_distribution` frame by `column`."""
    if distribution.height == 0:
        return nothing(title, "No active gateway in what the filters keep.")
    count = "gateways" if "gateways" in distribution.columns else distribution.columns[-1]
    frame = distribution.with_columns(pl.col(column).fill_null("(none)"))
    return (
        alt.Chart(frame, title=title, usermeta=SVG)
        .mark_bar()
        .encode(
            x=alt.X(f"{count}:Q", title="gateways", axis=COUNT_AXIS),
            y=alt.Y(f"{column}:N", sort="-x", title=None),
            tooltip=[
                column,
                alt.Tooltip(f"{count}:Q", format=","),
                *([alt.Tooltip("share:Q", format=".1%")] if "share" in frame.columns else []),
            ],
        )
    )


def models_by_firmware(by_model: pl.DataFrame) -> alt.Chart:
    """A grid of models (rows) by firmware versions (columns) of a `firmware_distribution(by_model=True)`
    frame: each cell's colour and number say how many gateways run that pair. Which firmware is where, at
    a glance; empty cells are pairs no gateway runs."""
    if by_model.height == 0:
        return nothing("Gateways per model and firmware version", "No active gateway in what the filters keep.")
    frame = by_model.select(
        pl.col("model").fill_null("(none)"), pl.col("firmware_version").fill_null("(none)"), "gateways", "share"
    )
    base = alt.Chart(frame).encode(
        x=alt.X(
            "firmware_version:N",
            sort=most_common(frame, "firmware_version"),
            title="firmware",
            axis=alt.Axis(labelAngle=0, orient="top"),
        ),
        y=alt.Y("model:N", sort=most_common(frame, "model"), title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "gateways:Q", title="gateways", scale=alt.Scale(scheme="blues"), legend=alt.Legend(format=",d")
        ),
        tooltip=[
            "model",
            "firmware_version",
            alt.Tooltip("gateways:Q", format=","),
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )
    peak = frame["gateways"].max() or 0
    numbers = base.mark_text(fontSize=11).encode(
        text=alt.Text("gateways:Q", format=","),
        color=alt.condition(alt.datum.gateways > peak / 2, alt.value("white"), alt.value("#263238")),
    )
    return alt.layer(cells, numbers, title="Gateways per model and firmware version", usermeta=SVG).properties(
        width=alt.Step(80), height=alt.Step(28)
    )


def compared(
    long: pl.DataFrame, title: str, *, top: int = 12, of: str = "active gateways", order: list[str] | None = None
) -> alt.Chart:
    """Several fleets' shares of one dimension (a `compare.side_by_side` frame) as grouped bars on one
    shared scale, in per cent: the `top` values most common across the fleets, the rest as "other"; the
    values in `order` when given, else by size (statuses in their own order)."""
    given = order
    ranked = long.group_by("value").agg(pl.col("share").max()).sort(["share", "value"], descending=[True, False])
    keep = ranked.head(top)["value"]
    frame = (
        long.with_columns(
            pl.when(pl.col("value").is_in(keep.implode())).then("value").otherwise(pl.lit("other")).alias("value")
        )
        .group_by("fleet", "value")
        .agg(pl.col("gateways").sum(), pl.col("share").sum())
        .sort("fleet", "value")
    )
    order = [*keep.to_list(), *(["other"] if frame["value"].eq("other").any() else [])]
    if set(order) <= set(STATUSES):  # statuses in their own order, not by size
        order = [s for s in STATUSES if s in order]
    if given is not None:  # an order of the values' own (buckets of time), not by size
        order = [v for v in given if v in order] + [v for v in order if v not in given]
    return (
        alt.Chart(frame, title=title, usermeta=SVG, width=520)
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title=f"share of {of}", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("value:N", sort=order, title=None),
            yOffset=alt.YOffset("fleet:N"),
            color=alt.Color("fleet:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=["fleet", "value", alt.Tooltip("gateways:Q", format=","), alt.Tooltip("share:Q", format=".1%")],
        )
    )


def nothing(title: str, why: str) -> alt.Chart:
    """A chart with nothing to draw: its title, and a line saying why, where the bars would be (no
    axis floating over an empty plot)."""
    return (
        alt.Chart(pl.DataFrame({"why": [why]}), title=title, usermeta=SVG, width=640, height=60)
        .mark_text(color="#607d8b", fontSize=13)
        .encode(text="why:N")
    )


def went_silent(by_day: pl.DataFrame, clock: status.Clock, *, days: int = 366) -> alt.Chart:
    """Bars of `Workbench.silent_by_day`: the stale gateways by the day they were last seen, over the
    span they went silent in (by week when it is longer than 92 days), the `days` before the stale
    threshold at most; those that went silent earlier are counted in the title, never dropped unsaid."""
    title = "Went silent: stale gateways by the day they were last seen"
    total = int(by_day["gateways"].sum())
    if total == 0:
        return nothing(
            title,
            f"No gateway has been silent for more than {clock.stale_after} (as of {clock.as_of:%Y-%m-%d %H:%M} UTC).",
        )
    oldest = clock.stale_before.date() - timedelta(days=days - 1)
    drawn = by_day.filter(pl.col("day") >= oldest)
    earlier = total - int(drawn["gateways"].sum())
    span = (drawn["day"].max() - drawn["day"].min()).days if drawn.height else 0
    step, fmt = ("1w", "week of %Y-%m-%d") if span > 92 else ("1d", "%Y-%m-%d")
    binned = drawn.group_by(pl.col("day").dt.truncate(step)).agg(pl.col("gateways").sum()).sort("day")
    notes = [f"{total:,} stale" + (" by week" if step == "1w" else "")]
    if earlier:
        notes.append(f"{earlier:,} went silent before {oldest:%Y-%m-%d} and are not drawn")
    return (
        alt.Chart(binned, title=alt.Title(title, subtitle="; ".join(notes)), usermeta=SVG, width=640)
        .mark_bar(color="#ef6c00")
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%b %d")),
            y=alt.Y("gateways:Q", title="gateways", axis=COUNT_AXIS),
            tooltip=[alt.Tooltip("day:T", title="last seen", format=fmt), alt.Tooltip("gateways:Q", format=",")],
        )
    )


def deletions_timeline(by_month: pl.DataFrame) -> alt.Chart:
    """Stacked bars of `Workbench.deletions_by_month`: soft deletions per month and table."""
    if by_month.height == 0:
        return nothing("Soft deletions per month", "No soft-deleted row in what the filters keep.")
    return (
        alt.Chart(by_month, title="Soft deletions per month", usermeta=SVG, width=640)
        .mark_bar()
        .encode(
            x=alt.X("month:T", title=None, axis=alt.Axis(format="%Y-%m")),
            y=alt.Y("rows:Q", title="rows soft-deleted", axis=COUNT_AXIS),
            color=alt.Color("table:N", title=None, sort=["organizations", "factories", "gateways"]),
            tooltip=[alt.Tooltip("month:T", format="%Y-%m"), "table", alt.Tooltip("rows:Q", format=",")],
        )
    )
