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


# the explore notebook's SQL cell: the longest silent active gateways with where they are (an index
# serves the order, so it is instant at any fleet size), counting only rows whose parents are active too
EXAMPLE_SQL = """\
SELECT o.name AS organization, f.name AS factory, g.gateway_id, g.model,
       g.firmware_version, g.last_seen_at
FROM gateways g
JOIN factories f ON f.id = g.factory_id AND f.deleted_at IS NULL
JOIN organizations o ON o.id = f.organization_id AND o.deleted_at IS NULL
WHERE g.deleted_at IS NULL AND g.last_seen_at IS NOT NULL
ORDER BY g.last_seen_at, g.gateway_id
LIMIT 50"""

ID_COLUMNS = ("id", "organization_id", "factory_id", "parent_id")


def connect(url=None):
    """The page's `fleetlab.read.workbench.Workbench`, checked to hold a fleet, or the FleetlabError
    saying why there is none (a value, not raised: the SQL editor shows it, `workbench()` stops on it)."""
    from ..read.workbench import Workbench

    try:
        return Workbench(url).check_fleet()
    except FleetlabError as exc:
        return exc


def workbench(connection=None):
    """An explore notebook's handle: `connection` from `connect()` (or a URL, None for the workbench
    database). In the app, a database that cannot be reached or holds no fleet stops every cell that uses
    it, behind one callout saying what to do; headless, the error propagates."""
    if not isinstance(connection, FleetlabError) and (connection is None or not hasattr(connection, "check_fleet")):
        connection = connect(connection)
    if not isinstance(connection, FleetlabError):
        return connection
    if headless():
        raise connection
    import marimo as mo

    mo.stop(True, mo.callout(mo.md(f"**No fleet to explore.** {why(connection)}"), kind="warn"))


def why(error: FleetlabError) -> str:
    """What went wrong, secrets scrubbed, and what to do."""
    return f"{clean(str(error))}\n\n{no_fleet_hint(error)}"


def editor(connection):
    """The SQL editor: a form to run a read-only query on the page's database; without one, a disabled
    editor under a line saying why."""
    import marimo as mo

    if isinstance(connection, FleetlabError):
        return mo.vstack(
            [
                mo.callout(
                    mo.md("**The editor is off: there is no fleet to query.** The callout at the top says what to do."),
                    kind="neutral",
                ),
                mo.ui.code_editor(value=EXAMPLE_SQL, language="sql", min_height=160, disabled=True),
            ]
        )
    return mo.ui.code_editor(value=EXAMPLE_SQL, language="sql", min_height=160).form(
        submit_button_label="Run query", bordered=False
    )


def replaced_notice(db, tick=None):
    """A callout when the database under the page was reset or re-seeded since it was read (the
    marker's stamp), saying to reload; nothing otherwise. `tick` is not read: the notebook passes its
    refresh element's value so that the cell asks again on every tick."""
    import marimo as mo

    if not db.replaced():
        return mo.md("")
    return mo.callout(
        mo.md(
            "**The database was replaced since this page read it** (a reset or a seed): what the page shows "
            "mixes the old fleet with the new. Reload the page to read the new fleet."
        ),
        kind="danger",
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
    """`frame` for reading: id columns and columns empty in every row dropped, `percent` columns (0..1) as
    "9.5 %", `durations` as "3 h 12 min", times to the second in UTC ("2026-01-01 09:14:03", not
    microseconds and an offset)."""
    out = frame.drop([c for c in hide if c in frame.columns])
    if out.height:  # a column with nothing in any row says nothing (deleted_at of active rows)
        out = out.drop([c for c in out.columns if out[c].null_count() == out.height])
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


# rows a page lists at most where a fleet may hold millions (the most silent, the latest deleted)
SHOWN = 500


def silent_table(stale: pl.DataFrame, clock, summary: pl.DataFrame):
    """A `stale_gateways(include_never_seen=True, limit=SHOWN)` page under a line saying how many are
    silent in all (the `fleet_summary` of the same filter counts them) and how many it lists: where
    they are first (organization, factory), then for how long."""
    import marimo as mo

    stale_n, never_n = int(summary["stale"].sum()), int(summary["never_seen"].sum())
    listed_never = stale["last_seen_at"].null_count()
    listed_stale = stale.height - listed_never
    page = f" (the {listed_stale:,} longest silent listed)" if listed_stale < stale_n else ""
    page_never = f" (the first {listed_never:,} by device id listed)" if listed_never < never_n else ""
    heading = (
        f"**{stale_n:,} gateways not seen for more than {_span(clock.stale_after)}**{page}, longest silent "
        f"first, then **{never_n:,} never seen**{page_never}. All of them: `Workbench().stale_gateways()`."
    )
    first = ["organization", "factory", "gateway_id", "silent_for", "last_seen_at", "model", "firmware_version"]
    ordered = stale.select(*first, pl.exclude(first))
    return mo.vstack([mo.md(heading), readable(ordered, durations=["silent_for"])])


def deleted_table(rows: pl.DataFrame, by_month: pl.DataFrame):
    """A `deleted_rows(limit=SHOWN)` page under a line saying how many rows are soft-deleted in all
    (`deletions_by_month` of the same filter) and how many it lists: where each was, and when."""
    import marimo as mo

    total = int(by_month["rows"].sum())
    listed = f" (the latest {rows.height:,} listed)" if rows.height < total else ""
    first = ["table", "organization", "factory", "name", "gateway_id", "deleted_at"]
    heading = f"**{total:,} soft-deleted rows**{listed}, latest first, with the organization and factory they were in."
    return mo.vstack([mo.md(heading), readable(rows.select(*first, pl.exclude(first)))])


def reuse(where: Filter, unfiltered, question, **kwargs):
    """`unfiltered` (the page's first answer to `question`) when `where` keeps everything, else
    `question(where=where, **kwargs)`: the same question is not asked of PostgreSQL twice."""
    return unfiltered if where.keeps_everything else question(where=where, **kwargs)


def collapse(pairs: pl.DataFrame, column: str) -> pl.DataFrame:
    """A `Workbench.breakdown()` frame summed by one of its columns (model or firmware_version), most
    common first: gateways and their statuses, and share of all."""
    counts = ["gateways", *STATUSES]
    out = pairs.group_by(column).agg(pl.col(c).sum() for c in counts)
    return out.with_columns(share=pl.col("gateways") / pl.col("gateways").sum()).sort(
        ["gateways", column], descending=[True, False], nulls_last=True
    )


def status_line(summary: pl.DataFrame) -> str:
    """The fleet's (or the filtered part's) status counts in one line of markdown, the silent share last."""
    total = int(summary["gateways"].sum())
    parts = " · ".join(f"{int(summary[s].sum()):,} {s.replace('_', ' ')}" for s in STATUSES)
    silent = int(summary["stale"].sum() + summary["never_seen"].sum())
    share = f"{silent / total:.1%}" if total else "0.0%"
    return f"**{total:,} active gateways**: {parts}. **{share} stale or never seen.**"


def narrowed(per_factory: pl.DataFrame, where: Filter) -> pl.DataFrame:
    """The factories a filter leaves something in: under a model, firmware or status filter, those
    without one such gateway go (they would count as sites and rows of nothing)."""
    if where.narrows_gateways:
        return per_factory.filter(pl.col("gateways") > 0)
    return per_factory


def organizations_table(summary: pl.DataFrame):
    """The organizations (a `fleet_summary`) as a table to select some from (several at once): the map,
    the factories and their charts below then show only theirs (`of_organizations`)."""
    import marimo as mo

    return mo.ui.table(
        readable(most_silent(summary, by="organization")),
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
    shown = readable(ordered.drop("latitude", "longitude", "location", strict=False))
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
