"""Invariants of a seeded fleet database, checked and reported (`fleetlab check`).

Each check returns a Result with a one-line detail and, when it fails, its findings one per line, and a
severity: an **error** (the platform would refuse the database or could not work with it: a schema or
behaviour that is not its own, orphans, a shared active gateway_id, a password it cannot decrypt, a value
its API refuses) fails the check and makes `fleetlab check` exit 1; a **warning** (what only fleetlab's
realism flags: rows the platform's API accepts that fleetlab would not write, rows lost since the seed)
is listed and passes. `run` returns them all in a Report, and a failing check never stops the others: a check that needs
a table or column that is missing is skipped (the schema check names what is missing), and one the
server refuses (a column of another type…) fails with the server's one-line message. The schema's
foreign keys and unique index make the orphan and gateway_id checks impossible to break through
fleetlab, but a database edited by hand, restored from a partial dump or migrated by another tool
can break them; the check is for that database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psycopg

from ..dsn import DatabaseURL
from ..errors import shown
from ..model.platform import ERROR, WARNING, Severity
from ..model.tables import TABLES
from . import marker
from .crypto import Keyring
from .db import connect, first_line, translate_errors
from .tally import Tally

EXAMPLES = 3  # ids quoted per failing check
FINDINGS = 20  # finding lines a check shows
BATCH = 10_000
_SINGULAR = {"organizations": "organization", "factories": "factory", "gateways": "gateway"}

SCHEMA = "schema is the platform's"
BEHAVIOUR = "behaves as the platform's"
UNIQUE = "active gateway_id unique"
COUNTS = "counts match the recorded scenario"
PASSWORDS = "every password decrypts"
VALUES = "values the platform accepts"
REALISM = "values as fleetlab writes them"  # warnings only: the platform's API takes these rows
LABELS = {ERROR: "FAIL", WARNING: "warn"}


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    findings: tuple[str, ...] = ()  # one line each: what is wrong, where
    skipped: bool = False  # not run: what it needs is missing (never ok, always an error)
    severity: Severity = ERROR  # when not ok: an error fails the database, a warning is listed and passes

    @property
    def status(self) -> str:
        """'ok', 'skipped', 'error' or 'warning'."""
        return "ok" if self.ok else "skipped" if self.skipped else self.severity

    @property
    def text(self) -> str:
        """The detail and the findings, one per line."""
        return "\n".join((self.detail, *self.findings))


@dataclass
class Report:
    where: str
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error: warnings do not count."""
        return not self.failed

    @property
    def failed(self) -> list[Result]:
        """The checks with errors or that could not run."""
        return [r for r in self.results if r.status in ("error", "skipped")]

    @property
    def warned(self) -> list[Result]:
        """The checks with warnings only."""
        return [r for r in self.results if r.status == "warning"]

    @property
    def counts(self) -> tuple[int, int]:
        """(errors, warnings): a failed check counts its findings (one when it has none), so does a warned one."""
        errors = sum(max(len(r.findings), 1) for r in self.failed)
        return errors, sum(max(len(r.findings), 1) for r in self.warned)

    def render(self) -> str:
        """The report: one line per check, its findings under it (a warning's start with 'warning:'),
        and a last line '2 errors, 1 warning: 1 of 9 checks failed.'"""
        lines = [f"fleetlab check of {self.where}"]
        width = max((len(r.name) for r in self.results), default=0)
        for r in self.results:
            label = "ok  " if r.ok else "skip" if r.skipped else LABELS[r.severity]
            prefix = "warning: " if r.status == "warning" else ""
            lines.append(f"  {label}  {r.name:<{width}}  {r.detail}")
            lines += [f"          - {prefix}{f}" for f in r.findings[:FINDINGS]]
            if len(r.findings) > FINDINGS:
                lines.append(f"          … and {len(r.findings) - FINDINGS:,} more")
        n, skipped = len(self.results), sum(r.skipped for r in self.results)
        errors, warnings = self.counts
        tally = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}: "
        if not self.failed:
            lines.append(tally + f"all {n} checks passed" + (" (warnings do not fail)." if warnings else "."))
        else:
            bad = len(self.failed) - skipped
            lines.append(tally + f"{bad} of {n} checks failed" + (f", {skipped} could not run." if skipped else "."))
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# a check: its name, the columns it reads per table (an empty tuple: the table only), and the check itself
Check = tuple[str, Mapping[str, tuple[str, ...]], Callable[[], Result]]


def run_at(url: DatabaseURL, keyring: Keyring | None, *, key_problem: str = "") -> Report:
    """`run` in the database at `url` (`fleetlab check`), over a connection of its own."""
    with connect(url) as conn, translate_errors(url, "the checks"):
        return run(conn, keyring, where=url.where, key_problem=key_problem)


def run(conn: psycopg.Connection, keyring: Keyring | None, *, where: str = "", key_problem: str = "") -> Report:
    """Check every invariant of the database behind `conn`.

    keyring: the keys to decrypt passwords with; None makes that check fail with `key_problem`.
    """
    report = Report(where or conn.info.dbname)
    have = present(conn)
    conn.rollback()
    checks: list[Check] = [
        (SCHEMA, {}, lambda: schema_matches_platform(conn)),
        (BEHAVIOUR, {}, lambda: behaves_as_platform(conn)),
        (
            _orphan_name("factories", "organizations"),
            {"factories": ("id", "organization_id"), "organizations": ("id",)},
            lambda: orphans(conn, "factories", "organization_id", "organizations"),
        ),
        (
            _orphan_name("gateways", "factories"),
            {"gateways": ("id", "factory_id"), "factories": ("id",)},
            lambda: orphans(conn, "gateways", "factory_id", "factories"),
        ),
        (UNIQUE, {"gateways": ("gateway_id", "deleted_at")}, lambda: unique_active_gateway_ids(conn)),
        (COUNTS, {}, lambda: counts_match_marker(conn, have)),
        (
            PASSWORDS,
            {"gateways": ("id", "gateway_id", "password_encrypted")},
            lambda: passwords_decrypt(conn, keyring, key_problem),
        ),
        (VALUES, {}, lambda: platform_values(conn, have)),
        (REALISM, {}, lambda: platform_values(conn, have, WARNING)),
    ]
    for name, needs, check in checks:
        report.results.append(_attempt(conn, name, _missing(needs, have), check))
    return report


def present(conn: psycopg.Connection) -> dict[str, set[str]]:
    """The platform's tables in the database, each with its columns."""
    have: dict[str, set[str]] = {}
    for table, column in conn.execute(
        """
        SELECT c.relname, a.attname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
        """,
        (list(TABLES),),
    ).fetchall():
        have.setdefault(table, set()).update([column] if column else [])
    return have


def _missing(needs: Mapping[str, tuple[str, ...]], have: dict[str, set[str]]) -> list[str]:
    """What of `needs` the database does not have: 'table factories', 'column gateways.url'."""
    out = []
    for table, columns in needs.items():
        if table not in have:
            out.append(f"table {table}")
        else:
            out += [f"column {table}.{c}" for c in columns if c not in have[table]]
    return out


def _attempt(conn: psycopg.Connection, name: str, missing: list[str], check: Callable[[], Result]) -> Result:
    """Run one check: skipped when what it reads is missing, a failure when the server refuses it."""
    if missing:
        return Result(name, False, f"not checked: {', '.join(missing)} missing (see {SCHEMA!r})", skipped=True)
    try:
        return check()
    except psycopg.Error as exc:
        if conn.broken:  # the connection is gone: no other check can run either
            raise
        return Result(name, False, f"PostgreSQL refused this check: {shown(first_line(exc), 200)}")
    finally:
        if not conn.broken:
            conn.rollback()


def _orphan_name(table: str, parent: str) -> str:
    return f"every {_SINGULAR[table]} has its {_SINGULAR[parent]}"


def schema_matches_platform(conn: psycopg.Connection) -> Result:
    """The tables, columns, widths, constraints, indexes, triggers and trigger function are the
    real platform's, names included (fleetlab's history and marker tables aside)."""
    from .schema import describe, differences

    diff = differences(describe(conn))
    if not diff:
        return Result(
            SCHEMA, True, "tables, columns, indexes, triggers and function as the platform's migrations make them"
        )
    how = "(`fleetlab migrate` applies pending ones, `fleetlab reset` rebuilds)"
    return Result(SCHEMA, False, f"{len(diff)} difference(s) from the platform's migrations {how}:", tuple(diff))


def behaves_as_platform(conn: psycopg.Connection) -> Result:
    """Triggers fire, no rules, policies or row-level security, tables logged, the trigger function
    with the caller's rights and settings, columns with their default collation (store.behaviour)."""
    from .behaviour import differences

    diff = differences(conn)
    if not diff:
        return Result(
            BEHAVIOUR,
            True,
            "triggers fire; no rules, policies or row-level security; tables logged; "
            "trigger function SECURITY INVOKER; default collations",
        )
    return Result(BEHAVIOUR, False, f"{len(diff)} difference(s) in what the tables do:", tuple(diff))


def platform_values(
    conn: psycopg.Connection, have: dict[str, set[str]] | None = None, severity: Severity = ERROR
) -> Result:
    """Every row holds values the platform accepts (fleetlab.model.platform's errors, the default) or, with
    severity WARNING, values as fleetlab writes them (its warnings: the acquisition client's URLs, names
    within a factory…).

    A rule that reads a missing column is skipped (and said so), one the server refuses fails alone.
    """
    from ..model.platform import SQL_RULES

    warnings = severity == WARNING
    name = REALISM if warnings else VALUES
    have = present(conn) if have is None else have
    broken, refused, skipped = [], [], []
    for rule in (r for r in SQL_RULES if r.severity == severity):
        missing = _missing({rule.table: ("id", *rule.needs)}, have)  # examples are ordered by id
        if missing:
            skipped += [m for m in missing if m not in skipped]
            continue
        try:
            with conn.transaction():
                n, examples = conn.execute(  # no parameters: the rules' LIKE patterns hold % signs
                    f"SELECT count(*), (array_agg(left(({rule.show})::text, 61) ORDER BY t.id))[1:{EXAMPLES}] "
                    f"FROM {rule.table} t WHERE {rule.bad}"
                ).fetchone()
        except psycopg.Error as exc:
            if conn.broken:
                raise
            refused.append(f"{rule.table} with {rule.what}: not checked, PostgreSQL refused: {shown(first_line(exc))}")
            continue
        if n:
            broken.append(f"{n:,} {rule.table} with {rule.what} (e.g. {', '.join(map(_example, examples))})")
    unchecked = f" (the rules that read {', '.join(skipped)}: not checked, missing)" if skipped else ""
    if broken or refused:
        counts = [f"{len(broken)} rule(s) broken"] * bool(broken) + [f"{len(refused)} refused by PostgreSQL"] * bool(
            refused
        )
        return Result(name, False, f"{', '.join(counts)}{unchecked}:", (*broken, *refused), severity=severity)
    what = (
        "URLs the acquisition client dials, names distinct within a factory or organization, metadata objects"
        if warnings
        else "ids, timestamps, URLs, ports, e-mail addresses, metadata, names and widths as its API takes them"
    )
    return Result(name, True, what + unchecked, severity=severity)


def _example(value: str | None) -> str:
    """A value quoted in a finding: at most 60 characters, escaped."""
    if value is None:
        return "NULL"
    return repr(value[:60]) + ("…" if len(value) > 60 else "")


def orphans(conn: psycopg.Connection, table: str, column: str, parent: str) -> Result:
    """Rows of `table` whose `column` points at no row of `parent`."""
    name = _orphan_name(table, parent)
    rows = conn.execute(
        f"SELECT c.id::text, c.{column}::text FROM {table} c "
        f"WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = c.{column}) ORDER BY c.id"
    ).fetchall()
    if not rows:
        total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return Result(name, True, f"{total:,} {table}, none orphaned")
    examples = ", ".join(f"{shown(r[0])} (→ {shown(r[1])})" for r in rows[:EXAMPLES])
    more = f" and {len(rows) - EXAMPLES:,} more" if len(rows) > EXAMPLES else ""
    return Result(name, False, f"{len(rows):,} {table} point at a missing {_SINGULAR[parent]}: {examples}{more}")


def unique_active_gateway_ids(conn: psycopg.Connection) -> Result:
    """No two active (not soft-deleted) gateways share a gateway_id."""
    name = UNIQUE
    rows = conn.execute(
        "SELECT gateway_id, count(*) FROM gateways WHERE deleted_at IS NULL "
        "GROUP BY gateway_id HAVING count(*) > 1 ORDER BY gateway_id"
    ).fetchall()
    if not rows:
        n = conn.execute("SELECT count(*) FROM gateways WHERE deleted_at IS NULL").fetchone()[0]
        return Result(name, True, f"{n:,} active gateways, each gateway_id once")
    examples = ", ".join(f"{shown(g)} ×{n}" for g, n in rows[:EXAMPLES])
    more = f" and {len(rows) - EXAMPLES:,} more" if len(rows) > EXAMPLES else ""
    return Result(name, False, f"{len(rows):,} gateway_id(s) shared by active gateways: {examples}{more}")


def counts_match_marker(conn: psycopg.Connection, have: dict[str, set[str]] | None = None) -> Result:
    """No table has fewer rows than the seed recorded in the marker (a missing table has none).

    More rows pass: the platform adds rows through its API (and only soft-deletes), so a database
    in use grows; a table with fewer rows lost some to a hard DELETE or a partial restore. That is a
    warning, not an error: the platform works on any number of rows (what a lost row can break, a
    child left without its parent, is the orphan checks' error); the database is only no longer the
    scenario its marker records, which matters to fleetlab's readers, not to the platform. A marker
    with no counts to compare is a warning too; a missing table is the schema check's error.
    """
    name = COUNTS
    m = marker.read(conn)
    if m is None:  # the platform's own database, loaded from an export's load.sql, say: nothing recorded
        return Result(name, True, "no fleetlab marker, so no recorded counts to compare (not made by `fleetlab reset`)")
    scenario = m.scenario or {}
    expected = scenario.get("counts")
    if not isinstance(expected, dict) or not all(isinstance(expected.get(t), int) for t in TABLES):
        return Result(
            name,
            False,
            "the marker records no seeded row counts; seed with `fleetlab reset` or `fleetlab seed`.",
            severity=WARNING,
        )
    have = present(conn) if have is None else have
    actual = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] if t in have else None for t in TABLES}
    label = f"scenario {scenario['name']!r}" if isinstance(scenario.get("name"), str) else "the scenario"
    wrong = [
        f"{t} {'missing' if actual[t] is None else f'{actual[t]:,}'} (recorded {expected[t]:,})"
        for t in TABLES
        if actual[t] is None or actual[t] < expected[t]
    ]
    if wrong:
        return Result(name, False, f"{label} recorded more rows than there are: " + ", ".join(wrong), severity=WARNING)
    added = [f"{actual[t] - expected[t]:,} {t}" for t in TABLES if actual[t] > expected[t]]
    since = f"; added since the seed (by the platform or by hand): {', '.join(added)}" if added else ""
    return Result(name, True, f"{label}: " + ", ".join(f"{expected[t]:,} {t}" for t in TABLES) + since)


def passwords_decrypt(conn: psycopg.Connection, keyring: Keyring | None, key_problem: str = "") -> Result:
    """Every gateway's password_encrypted decrypts with the keyring (rows the platform wrote included)."""
    name = PASSWORDS
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
    lines = tally.per_row(FINDINGS - 1)  # and a line for the rest
    return Result(name, False, f"{tally.failed:,} of {tally.total:,} passwords do not decrypt:", tuple(lines))
