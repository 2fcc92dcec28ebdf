"""What the explore notebook shows: its first check, its filters, and frames made for reading.

The queries themselves are the methods of `fleetlab.read.workbench.Workbench`; this module turns their answers into what a
fleet engineer reads (names before ids, per cent, durations) and wires the notebook's UI elements.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ..errors import DatabaseUnavailable, FleetlabError
from ..model.status import STATUSES
from ..read.filters import Filter
from .charts import most_common, most_silent
from .failures import clean
from .notebook import headless

NO_FLEET_HINT = (
    "Reset the workbench first: `uv run fleetlab reset`, or the reset app "
    "(`uv run marimo run notebooks/reset.py`); then run this notebook again."
)
NO_SERVER_HINT = (
    "The server did not answer: start it (without DATABASE_URL, `uv run fleetlab reset` or "
    "`uv run fleetlab db url` starts the embedded one), or correct DATABASE_URL; then run this notebook again."
)


def no_fleet_hint(error: FleetlabError) -> str:
    """What to do when the page has no fleet: reach the server first, or reset the workbench."""
    return NO_SERVER_HINT if isinstance(error, DatabaseUnavailable) else NO_FLEET_HINT


# the explore notebook's SQL cell: active gateways and never-seen ones per organization, by id (two
# tenants may share a name elsewhere), counting only rows whose parents are active too
ORGANIZATIONS_SQL = """\
SELECT o.name AS organization,
       count(g.id) AS gateways,
       count(g.id) FILTER (WHERE g.last_seen_at IS NULL) AS never_seen
FROM organizations o
JOIN factories f ON f.organization_id = o.id AND f.deleted_at IS NULL
JOIN gateways g ON g.factory_id = f.id AND g.deleted_at IS NULL
WHERE o.deleted_at IS NULL
GROUP BY o.id, o.name
ORDER BY gateways DESC, organization"""

ID_COLUMNS = ("id", "organization_id", "factory_id", "parent_id")


def workbench(url=None):
    """An explore notebook's first cell: the `fleetlab.read.workbench.Workbench` every later cell
    reads through, checked to hold a fleet. In the app, a database that cannot be reached or holds no
    fleet stops every cell that uses it, behind one callout saying what to do; headless, the error
    propagates."""
    from ..read.workbench import Workbench

    try:
        return Workbench(url).check_fleet()
    except FleetlabError as exc:
        if headless():
            raise
        import marimo as mo

        mo.stop(
            True, mo.callout(mo.md(f"**No fleet to explore.** {clean(str(exc))}\n\n{no_fleet_hint(exc)}"), kind="warn")
        )


def run_sql(db, text: str) -> tuple[pl.DataFrame | None, str | None]:
    """The SQL editor's query, read-only on the page's handle: (its rows, None), or (None, what
    PostgreSQL said, secrets scrubbed) when it fails; never raises for a bad query."""
    try:
        return db.read_sql(text), None
    except FleetlabError as exc:
        return None, clean(str(exc)).replace(
            " pass --write (read_sql(..., writes=True))", " use `fleetlab query --write`"
        )


def sql_outcome(rows: pl.DataFrame | None, error: str | None):
    """What the editor shows under it: PostgreSQL's message when the last query failed, and the last
    good result (kept through a failure, so a typo loses nothing)."""
    import marimo as mo

    parts = []
    if error is not None:
        parts.append(
            mo.callout(
                mo.md(f"**The query failed; the result below is the last one that ran.** {error}"), kind="danger"
            )
        )
    if rows is not None:
        parts.append(mo.ui.table(rows, selection=None, pagination=True, page_size=10))
    return mo.vstack(parts)


def filters(summary: pl.DataFrame, mix: pl.DataFrame):
    """The explore notebook's filters, one multiselect each for organizations (`fleet_summary` rows),
    models and firmware versions (a `firmware_distribution(by_model=True)`), most common first, and
    connectivity statuses; none chosen keeps everything. Give the element to `where()`."""
    import marimo as mo

    names = _labels(summary["organization"].to_list(), summary["organization_id"].to_list())
    return mo.ui.dictionary(
        {
            "organizations": mo.ui.multiselect(options=names, label="Organizations", full_width=True),
            "models": mo.ui.multiselect(
                options=[m for m in most_common(mix, "model") if m], label="Models", full_width=True
            ),
            "firmware": mo.ui.multiselect(
                options=[f for f in most_common(mix, "firmware_version") if f], label="Firmware", full_width=True
            ),
            "statuses": mo.ui.multiselect(
                options={s.replace("_", " "): s for s in STATUSES}, label="Status", full_width=True
            ),
        }
    )


def where(chosen):
    """The `fleetlab.read.filters.Filter` of the `filters()` element's value."""
    value = chosen.value if hasattr(chosen, "value") else chosen
    return Filter(**{k: tuple(v) or None for k, v in value.items()})


def _labels(names: list[str], ids: list[str]) -> dict[str, str]:
    """label → id, names as they are unless two rows share one (then the id's start tells them apart)."""
    out: dict[str, str] = {}
    for name, rid in zip(names, ids, strict=True):
        out[name if name not in out else f"{name} ({rid[:8]})"] = rid
    return out


def readable(
    frame: pl.DataFrame,
    *,
    percent: Sequence[str] = ("share",),
    durations: Sequence[str] = (),
    hide: Sequence[str] = ID_COLUMNS,
) -> pl.DataFrame:
    """`frame` for reading: id columns dropped (names say which row it is), `percent` columns (0..1) as
    "9.5 %", `durations` as "3 h 12 min", times to the second in UTC ("2026-01-01 09:14:03", not
    microseconds and an offset)."""
    out = frame.drop([c for c in hide if c in frame.columns])
    times = [c for c, t in out.schema.items() if isinstance(t, pl.Datetime)]
    return out.with_columns(
        *[percent_text(pl.col(c)).alias(c) for c in percent if c in out.columns],
        *[duration_text(pl.col(c)).alias(c) for c in durations if c in out.columns],
        *[pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S").alias(c) for c in times],
    )


def percent_text(share: pl.Expr) -> pl.Expr:
    """A share 0..1 as text with one decimal: 0.0952 → "9.5 %"."""
    return pl.format("{} %", (share * 100).round(1))


def duration_text(duration: pl.Expr) -> pl.Expr:
    """A Duration as text in its two largest units: "2 d 4 h", "3 h 12 min", "12 min", "45 s" (null stays null)."""
    s = duration.dt.total_seconds()
    d, h, m = s // 86_400, (s % 86_400) // 3_600, (s % 3_600) // 60
    return (
        pl.when(s.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when((d > 0) & (h > 0))
        .then(pl.format("{} d {} h", d, h))
        .when(d > 0)
        .then(pl.format("{} d", d))
        .when((h > 0) & (m > 0))
        .then(pl.format("{} h {} min", h, m))
        .when(h > 0)
        .then(pl.format("{} h", h))
        .when(m > 0)
        .then(pl.format("{} min", m))
        .otherwise(pl.format("{} s", s))
    )


def describe(db) -> str:
    """One paragraph of markdown about a `Workbench`: its recorded scenario and its clock."""
    scenario, clock = db.scenario, db.clock
    if not scenario:
        return "This database records no scenario (was it seeded by fleetlab?). Statuses are relative to now."
    counts = scenario.get("counts", {})
    loaded = ", ".join(f"{n:,} {t}" for t, n in counts.items() if isinstance(n, int))
    return (
        f"Scenario **{scenario.get('name', '?')}**, seed {scenario.get('seed', '?')}, as of "
        f"{clock.as_of:%Y-%m-%d %H:%M} UTC: {loaded or 'counts not recorded'}. "
        f"A gateway is *online* when seen within {_span(clock.online_within)} of that time, *stale* after "
        f"{_span(clock.stale_after)}. Soft-deleted rows are left out unless a table says otherwise; times are UTC."
    )


def _span(delta) -> str:
    """A timedelta the way `duration_text` writes durations: "5 min", "1 d 0 h"."""
    return pl.select(duration_text(pl.lit(delta, dtype=pl.Duration("us")))).item()


def silent_table(stale: pl.DataFrame, clock):
    """A `stale_gateways(include_never_seen=True)` frame under a line saying what it lists: how many are
    silent past the clock's threshold, and how many were never seen (they come last)."""
    import marimo as mo

    never = stale["last_seen_at"].null_count()
    heading = (
        f"**{stale.height - never:,} gateways not seen for more than {_span(clock.stale_after)}**, longest "
        f"silent first, then **{never:,} never seen**."
    )
    return mo.vstack([mo.md(heading), readable(stale, durations=["silent_for"])])


def organizations_table(summary: pl.DataFrame):
    """The organizations (a `fleet_summary`) as a table to select some from (several at once): the map,
    the factories and their charts below then show only theirs (`of_organizations`)."""
    import marimo as mo

    return mo.ui.table(
        readable(summary),
        selection="multi",
        page_size=10,
        label="Select organizations to narrow the map and the factories below to theirs",
    )


def of_organizations(per_factory: pl.DataFrame, selected: pl.DataFrame | None) -> pl.DataFrame:
    """The rows of `per_factory` whose organization an `organizations_table` selection holds (by name:
    names are distinct within a fleet); all of them when nothing is selected."""
    if selected is None or selected.height == 0:
        return per_factory
    return per_factory.join(selected.select("organization").unique(), on="organization", how="semi")


def factories_table(per_factory: pl.DataFrame):
    """The factories as a table to pick one from (single selection), most stale or never seen first
    like the chart; readable (no ids: a factory's organization and name say which it is)."""
    import marimo as mo

    ordered = most_silent(per_factory)
    shown = readable(ordered.drop("latitude", "longitude", strict=False))
    return mo.ui.table(shown, selection="single", page_size=10, label="Select a factory to list its gateways")


def chosen_factory(per_factory: pl.DataFrame, selected: pl.DataFrame | None) -> dict[str, str] | None:
    """The factory a `factories_table` selection picked (else the first of `most_silent`), as
    {"id", "label"}; None when there are no factories. Organization names are distinct within a fleet
    and factory names within an organization, so the two names find its row."""
    if selected is not None and selected.height:
        row = per_factory.join(selected.select("organization", "factory").head(1), on=["organization", "factory"])
    else:
        row = most_silent(per_factory).head(1)
    if row.height == 0:
        return None
    return {"id": row["factory_id"][0], "label": f"{row['organization'][0]} / {row['factory'][0]}"}
