"""The reset app's look before it leaps: what the workbench database holds now, the confirmation that
replacing a fleet needs (as `fleetlab reset` asks on the terminal), and the preview's row counts.

Counting is done by PostgreSQL (`count(*)`), never by reading rows: the database may hold a million
gateways. Headless runs (a script, a kernel) are confirmed by their flags, as the CLI's `--yes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from ..config import Settings
from ..errors import DatabaseUnavailable, FleetlabError, shown
from ..model.tables import TABLES
from .failures import clean
from .notebook import headless, volatile

NONE = "none"  # no database yet: the reset creates it
NO_FLEET = "no fleet"  # a database without the fleet tables, or with empty ones: nothing to lose
FLEET = "fleet"  # a database holding rows: replacing it needs a confirmation
UNKNOWN = "unknown"  # the server did not answer, or the target could not be checked: confirm too


@dataclass(frozen=True)
class Current:
    """What the workbench database holds now. `counts` is table → (rows, soft-deleted rows), the
    soft-deleted ones being those whose own `deleted_at` is set; `problem` says why the state is UNKNOWN."""

    state: str
    where: str
    scenario: str = ""
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    problem: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return self.state in (FLEET, UNKNOWN)

    @property
    def summary(self) -> str:
        """ "multi-tenant (seed 7), 2,668 gateways": the fleet in a few words."""
        gateways = self.counts.get("gateways", (0, 0))[0]
        return f"{self.scenario or 'a fleet of no recorded scenario'}, {gateways:,} gateways"


def current_database(settings: Settings | None = None) -> Current:
    """What the reset would replace, asked of PostgreSQL in two cheap statements; never raises for a
    server that cannot be reached (UNKNOWN, with the reason, secrets scrubbed). The embedded server is
    started when its data directory exists (the reset would start it); a missing one means no database yet."""
    settings = settings or Settings.from_env()
    if settings.embedded and not (settings.pgdata / "PG_VERSION").exists():
        return Current(NONE, f"the embedded server in {settings.home}")
    where = "the workbench database"
    try:
        from ..store.reset import target

        url = target(settings)
        where = url.where
        return _ask(url)
    except FleetlabError as exc:
        return Current(UNKNOWN, where, problem=_problem(exc))


def _problem(exc: FleetlabError) -> str:
    text = clean(str(exc))
    return f"the server did not answer: {text}" if isinstance(exc, DatabaseUnavailable) else text


def _ask(url) -> Current:
    from ..store import db, marker

    with db.connect(db.maintenance(url), autocommit=True) as admin, db.translate_errors(url, "the check"):
        if not db.database_exists(admin, url.database):
            return Current(NONE, url.where)
    with db.connect(url, autocommit=True) as conn, db.translate_errors(url, "the count of rows"):
        present = conn.execute(
            "SELECT count(*) FROM unnest(%s::text[]) t WHERE to_regclass('public.' || t) IS NOT NULL", (list(TABLES),)
        ).fetchone()[0]
        if present < len(TABLES):
            return Current(NO_FLEET, url.where)
        rows = conn.execute(
            " UNION ALL ".join(
                f"(SELECT count(*), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM {t})" for t in TABLES
            )
        ).fetchall()
        counts = {t: (int(n), int(deleted)) for t, (n, deleted) in zip(TABLES, rows, strict=True)}
        if not any(n for n, _ in counts.values()):
            return Current(NO_FLEET, url.where, counts=counts)
        found = marker.read(conn)
    return Current(FLEET, url.where, scenario=_scenario(found.scenario if found else None), counts=counts)


def _scenario(record: Mapping | None) -> str:
    """The marker's scenario in a few words, "multi-tenant (seed 7)"; anyone may have edited it."""
    if not isinstance(record, Mapping) or not record.get("name"):
        return ""
    seed = record.get("seed")
    return shown(record["name"], 40) + (f" (seed {shown(seed, 20)})" if seed is not None else "")


def describe(current: Current) -> str:
    """Markdown: what the database holds now, and whether replacing it needs a confirmation."""
    where = volatile(current.where)
    if current.state == NONE:
        return f"No database yet at {where}: the reset creates it; nothing needs confirming."
    if current.state == NO_FLEET:
        what = "empty fleet tables" if current.counts else "no fleet tables"
        return f"The database {where} holds no fleet ({what}): nothing to lose, nothing needs confirming."
    if current.state == UNKNOWN:
        return (
            f"Could not tell what {where} holds — {current.problem}\n\n"
            "The reset will try it anyway, once confirmed below."
        )
    return (
        f"The database {where} holds **{current.summary}**; the reset replaces all of it "
        "(soft-deleted rows are those with `deleted_at` set):"
    )


def counts_frame(counts: Mapping[str, tuple[int, int]]) -> pl.DataFrame:
    """Rows per table as a frame: table, rows, active, soft-deleted (`counts`: table → (rows, soft-deleted))."""
    return pl.DataFrame(
        {
            "table": list(counts),
            "rows": [n for n, _ in counts.values()],
            "active": [n - d for n, d in counts.values()],
            "soft-deleted": [d for _, d in counts.values()],
        }
    )


def current_view(current: Current):
    """The description, and the counts when the database holds a fleet."""
    import marimo as mo

    parts = [mo.md(describe(current))]
    if current.state == FLEET:
        parts.append(counts_frame(current.counts))
    return mo.vstack(parts)


def preview_counts(fleet) -> pl.DataFrame:
    """The rows a fleet would load per table, its soft-deleted ones among them (from the plan's own
    `deleted_at` marks, not from any database)."""
    rows, deleted = fleet.counts(), fleet.deleted_counts()
    return counts_frame({t: (rows[t], deleted[t]) for t in TABLES})


# -- the confirmation -----------------------------------------------------------------------


def question(current: Current) -> str:
    """The confirmation's wording (the CLI asks "This will reset database …; its data will be replaced. Continue?")."""
    if current.state == UNKNOWN:
        return "Replace the workbench database, whatever it holds (it could not be checked)?"
    return f"Replace the workbench database holding {current.summary}?"


def confirmation(current: Current, on_change: Callable[[bool], None]):
    """A checkbox to tick before a reset replaces a database that holds a fleet (or could not be
    checked), its value sent to `on_change`; None when nothing needs confirming or nobody can tick."""
    if headless() or not current.needs_confirmation:
        return None
    import marimo as mo

    return mo.ui.checkbox(label=question(current), on_change=on_change)


def refusal(current: Current, confirmed: bool) -> str | None:
    """Markdown: why a reset must not run now (a fleet, not confirmed); None when it may."""
    if confirmed or not current.needs_confirmation:
        return None
    return f"**Nothing was changed.** Tick “{question(current)}” above, then press **Reset the database** again."


def gate_confirmed(confirmed: bool, on_refused: Callable[[], None] | None = None) -> None:
    """The reset cell's second gate, after its button: headless runs pass (their flags confirm, as the
    CLI's --yes). In the app the database is checked again now; one holding a fleet the user has not
    confirmed stops the cell (`on_refused` is called first: let it refresh the description above)."""
    if headless():
        return
    why = refusal(current_database(), confirmed)
    if why is None:
        return
    if on_refused is not None:
        on_refused()
    import marimo as mo

    mo.stop(True, mo.callout(mo.md(why), kind="warn"))
