"""Invariants of a seeded fleet database, checked and reported (`fleetlab check`).

Each check returns a Result with a one-line detail; `run` returns them all in a Report, and a
failing check never stops the others. The schema's foreign keys and unique index make the
first three impossible to break through fleetlab, but a database edited by hand, restored from
a partial dump or migrated by another tool can break them; the check is for that database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from ..model.tables import TABLES
from . import marker
from .crypto import Keyring, Tally

EXAMPLES = 3  # ids quoted per failing check
BATCH = 10_000
_SINGULAR = {"organizations": "organization", "factories": "factory", "gateways": "gateway"}


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    where: str
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def render(self) -> str:
        lines = [f"fleetlab check of {self.where}"]
        width = max((len(r.name) for r in self.results), default=0)
        for r in self.results:
            lines.append(f"  {'ok  ' if r.ok else 'FAIL'}  {r.name:<{width}}  {r.detail}")
        n, bad = len(self.results), len(self.failed)
        lines.append(f"all {n} checks passed." if not bad else f"{bad} of {n} checks failed.")
        return "\n".join(lines)


def run(conn: psycopg.Connection, keyring: Keyring | None, *, where: str = "", key_problem: str = "") -> Report:
    """Check every invariant of the database behind `conn`.

    keyring: the keys to decrypt passwords with; None makes that check fail with `key_problem`.
    """
    report = Report(where or conn.info.dbname)
    for check in (
        lambda: schema_matches_platform(conn),
        lambda: orphans(conn, "factories", "organization_id", "organizations"),
        lambda: orphans(conn, "gateways", "factory_id", "factories"),
        lambda: unique_active_gateway_ids(conn),
        lambda: counts_match_marker(conn),
        lambda: passwords_decrypt(conn, keyring, key_problem),
        lambda: platform_values(conn),
    ):
        try:
            report.results.append(check())
        finally:
            conn.rollback()
    return report


def schema_matches_platform(conn: psycopg.Connection) -> Result:
    """The tables, columns, widths, constraints, indexes, triggers and trigger function are the
    real platform's, names included (fleetlab's history and marker tables aside)."""
    from .schema import describe, differences

    name = "schema is the platform's"
    diff = differences(describe(conn))
    if not diff:
        return Result(name, True, "tables, columns, indexes, triggers and function as the platform's migrations make them")
    more = f" and {len(diff) - EXAMPLES:,} more" if len(diff) > EXAMPLES else ""
    return Result(name, False, f"{len(diff)} difference(s): {'; '.join(diff[:EXAMPLES])}{more} (run `fleetlab migrate`?)")


def platform_values(conn: psycopg.Connection) -> Result:
    """Every row holds values the platform's API and acquisition client accept (fleetlab.model.platform)."""
    from ..model.platform import SQL_RULES

    name = "values the platform accepts"
    broken = []
    for table, what, bad, show in SQL_RULES:
        n, examples = conn.execute(  # no parameters: the rules' LIKE patterns hold % signs
            f"SELECT count(*), (array_agg(t.{show}::text ORDER BY t.id))[1:{EXAMPLES}] FROM {table} t WHERE {bad}"
        ).fetchone()
        if n:
            broken.append(f"{n:,} {table} with {what} (e.g. {', '.join(map(repr, examples))})")
    if broken:
        return Result(name, False, "; ".join(broken))
    return Result(name, True, "ids, URLs, e-mail addresses, metadata and names as its API and client take them")


def orphans(conn: psycopg.Connection, table: str, column: str, parent: str) -> Result:
    """Rows of `table` whose `column` points at no row of `parent`."""
    name = f"every {_SINGULAR[table]} has its {_SINGULAR[parent]}"
    rows = conn.execute(
        f"SELECT c.id::text, c.{column}::text FROM {table} c "
        f"WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = c.{column}) ORDER BY c.id"
    ).fetchall()
    if not rows:
        total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return Result(name, True, f"{total:,} {table}, none orphaned")
    examples = ", ".join(f"{r[0]} (→ {r[1]})" for r in rows[:EXAMPLES])
    more = f" and {len(rows) - EXAMPLES:,} more" if len(rows) > EXAMPLES else ""
    return Result(name, False, f"{len(rows):,} {table} point at a missing {_SINGULAR[parent]}: {examples}{more}")


def unique_active_gateway_ids(conn: psycopg.Connection) -> Result:
    """No two active (not soft-deleted) gateways share a gateway_id."""
    name = "active gateway_id unique"
    rows = conn.execute(
        "SELECT gateway_id, count(*) FROM gateways WHERE deleted_at IS NULL "
        "GROUP BY gateway_id HAVING count(*) > 1 ORDER BY gateway_id"
    ).fetchall()
    if not rows:
        n = conn.execute("SELECT count(*) FROM gateways WHERE deleted_at IS NULL").fetchone()[0]
        return Result(name, True, f"{n:,} active gateways, each gateway_id once")
    examples = ", ".join(f"{g} ×{n}" for g, n in rows[:EXAMPLES])
    more = f" and {len(rows) - EXAMPLES:,} more" if len(rows) > EXAMPLES else ""
    return Result(name, False, f"{len(rows):,} gateway_id(s) shared by active gateways: {examples}{more}")


def counts_match_marker(conn: psycopg.Connection) -> Result:
    """No table has fewer rows than the seed recorded in the marker.

    More rows pass: the platform adds rows through its API (and only soft-deletes), so a database
    in use grows; a table with fewer rows lost some to a hard DELETE or a partial restore.
    """
    name = "counts match the recorded scenario"
    m = marker.read(conn)
    if m is None:
        return Result(name, False, "no fleetlab marker: this database was not made by `fleetlab reset`.")
    scenario = m.scenario or {}
    expected = scenario.get("counts")
    if not isinstance(expected, dict) or not all(isinstance(expected.get(t), int) for t in TABLES):
        return Result(name, False, "the marker records no seeded row counts; seed with `fleetlab reset` or `fleetlab seed`.")
    actual = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    label = f"scenario {scenario['name']!r}" if isinstance(scenario.get("name"), str) else "the scenario"
    wrong = [f"{t} {actual[t]:,} (recorded {expected[t]:,})" for t in TABLES if actual[t] < expected[t]]
    if wrong:
        return Result(name, False, f"{label} recorded more rows than there are: " + ", ".join(wrong))
    added = [f"{actual[t] - expected[t]:,} {t}" for t in TABLES if actual[t] > expected[t]]
    since = f"; added since the seed (by the platform or by hand): {', '.join(added)}" if added else ""
    return Result(name, True, f"{label}: " + ", ".join(f"{expected[t]:,} {t}" for t in TABLES) + since)


def passwords_decrypt(conn: psycopg.Connection, keyring: Keyring | None, key_problem: str = "") -> Result:
    """Every gateway's password_encrypted decrypts with the keyring (rows the platform wrote included)."""
    name = "every password decrypts"
    if keyring is None:
        return Result(name, False, key_problem or "no secret key to decrypt with.")
    tally = Tally()
    with conn.cursor(name="fleetlab_check_passwords") as cur:
        cur.itersize = BATCH
        cur.execute("SELECT id::text, gateway_id, password_encrypted FROM gateways ORDER BY id")
        for row_id, gateway_id, token in cur:
            tally.open(keyring, token, row_id, gateway_id)
    if not tally.failed:
        return Result(name, True, f"{tally.total:,} passwords decrypt")
    return Result(name, False, tally.summary(EXAMPLES))
