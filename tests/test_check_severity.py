"""`fleetlab check` agrees with the real platform: what its API wrote passes (with warnings), what it
refuses or cannot serve is an error.

The facts come from the platform itself (RoninSTi/mti-monorepo 991b05e, its API run on a fleetlab
database): tests/fixtures/platform_api_writes.json holds the rows its POST /api/factories and
/api/gateways wrote, what it refused, and which hand-edited rows its GETs could still serve;
tests/fixtures/platform_zod_verdicts.json the verdicts of its zod schemas over a corpus of values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg.types.json import Jsonb

from fleetlab.generation.acme import acme_fleet
from fleetlab.model import platform
from fleetlab.model.tables import WIDTHS
from fleetlab.store import checks
from fleetlab.store.crypto import Keyring, keyring_for
from fleetlab.store.load import load

from .reliability.harness import cli_inprocess

FIXTURES = Path(__file__).parent / "fixtures"
API = json.loads((FIXTURES / "platform_api_writes.json").read_text(encoding="utf-8"))
ZOD = json.loads((FIXTURES / "platform_zod_verdicts.json").read_text(encoding="utf-8"))
API_FACTORIES = [f["id"] for f in API["factories"]]
PORT0 = next(g for g in API["gateways"] if g["gateway_id"] == "GW-API-PORT0")  # the row `served` edits
SPARE = next(f for f in API["factories"] if f["name"] == "Austin Facility")  # a factory without gateways
GATEWAY = ("id", "gateway_id", "name", "url", "email", "model", "firmware_version", "metadata", "last_seen_at")
FACTORY = ("id", "name", "location", "timezone", "metadata")


@pytest.fixture
def keys(settings):
    return keyring_for(settings, create=True)


@pytest.fixture
def seeded(conn, keys):
    """The platform's seed (Acme Manufacturing), as a fleetlab reset loads it."""
    load(conn, acme_fleet(datetime(2026, 1, 1, tzinfo=UTC), seed=3), keys)
    conn.commit()


def cli(env, *args):
    return cli_inprocess(list(args), env)


def _insert(conn, table: str, values: dict, sql: dict[str, str], parent: tuple[str, str]) -> None:
    """One row: `values` bound, `sql` as SQL expressions (which may read `created_at`, the insert's now())."""
    columns = [c for c in values if c not in sql]
    params = [Jsonb(values[c]) if c == "metadata" else values[c] for c in columns]
    column, parent_sql = parent
    conn.execute(
        f"INSERT INTO {table} ({', '.join([column, *columns, *sql])}) "
        f"SELECT {parent_sql}, {', '.join(['%s'] * len(columns) + list(sql.values()))} FROM (SELECT now() AS created_at) base",
        params,
    )


def insert_factory(conn, row: dict, sql: dict[str, str] | None = None) -> None:
    values = {c: row[c] for c in FACTORY if c in row}
    _insert(conn, "factories", values, sql or {}, ("organization_id", "(SELECT id FROM organizations LIMIT 1)"))


def insert_gateway(conn, keys: Keyring, row: dict, sql: dict[str, str] | None = None) -> None:
    """A gateway as POST /api/gateways wrote it; its password encrypted as the platform does."""
    values = {c: row[c] for c in GATEWAY if c in row} | {"password_encrypted": keys.encrypt("from-the-api")}
    if "factory_id" in row:
        parent = f"'{row['factory_id']}'::uuid"
    else:  # a factory of the seed, by name (not one the API wrote under the same name)
        ids = ", ".join(f"'{i}'" for i in API_FACTORIES)
        parent = f"(SELECT id FROM factories WHERE name = '{row['factory']}' AND id NOT IN ({ids}))"
    _insert(conn, "gateways", values, sql or {}, ("factory_id", parent))


def insert_api_writes(conn, keys) -> None:
    for row in API["factories"]:
        insert_factory(conn, row)
    for row in API["gateways"]:
        insert_gateway(conn, keys, row)
    conn.commit()


def status(stdout: str, name: str) -> str:
    line = next(x for x in stdout.splitlines() if x[8:].startswith(name))
    return line[2:6].strip()


# -- what the platform's API wrote passes, with warnings ---------------------------------------------


def test_what_the_real_platform_api_wrote_passes_with_warnings(conn, keys, seeded, cli_env):
    insert_api_writes(conn, keys)
    done = cli(cli_env, "check")
    assert done.returncode == 0, done.output
    assert status(done.stdout, "values the platform accepts") == "ok"
    assert status(done.stdout, "values as fleetlab writes them") == "warn"
    warnings = [x.strip() for x in done.stdout.splitlines() if x.startswith("          - ")]
    assert [w.split(" (e.g.")[0] for w in warnings] == [
        "- warning: 6 gateways with url is not a ws:// or wss:// URL the acquisition client takes",
        "- warning: 6 gateways with url is not as fleetlab writes them (ws[s]://host[:port][/path])",
        "- warning: 1 gateways with a url whose port is 0 (nothing to dial)",
        "- warning: 2 gateways with a name another gateway of its factory has",
        "- warning: 2 factories with a name another factory of its organization has",
    ], done.stdout
    assert done.stdout.splitlines()[-1] == "0 errors, 5 warnings: all 9 checks passed (warnings do not fail)."
    assert "hunter2" not in done.output  # a URL's password is never quoted

    report = checks.run(conn, keys)
    assert report.ok and report.counts == (0, 5)
    assert {r.name: r.status for r in report.results if not r.ok} == {checks.REALISM: "warning"}


def test_a_url_is_quoted_without_its_credentials_or_query(conn, keys, seeded, cli_env):
    url = "https://ops:s3cr3t@gw.example.com/live?token=t0k3n"
    insert_gateway(conn, keys, {k: v for k, v in PORT0.items() if k != "id"} | {"gateway_id": "GW-SECRET", "url": url})
    conn.commit()
    done = cli(cli_env, "check")
    assert done.returncode == 0, done.output
    assert "'https://***@gw.example.com/live?***'" in done.stdout
    assert "s3cr3t" not in done.output and "t0k3n" not in done.output and "ops:" not in done.output


# -- what it refused, or cannot serve, is an error ---------------------------------------------------


def _widen(conn, table: str, sent: dict) -> None:
    """Widen the columns a refused value does not fit (as someone with psql might), so it can be stored."""
    for column, value in sent.items():
        if isinstance(value, str) and len(value) > WIDTHS.get((table, column), len(value)):
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text")


@pytest.mark.parametrize("case", API["refused"], ids=lambda c: c["sent"].get("gateway_id") or str(c["sent"])[:40])
def test_what_the_real_platform_api_refused_is_an_error(conn, keys, seeded, cli_env, case):
    table, sent = case["path"].split("/")[-1], case["sent"]
    if any(isinstance(v, str) and "\x00" in v for v in sent.values()):
        with pytest.raises(psycopg.DataError):  # PostgreSQL refuses a NUL, as it did the API's insert
            insert_gateway(conn, keys, {k: v for k, v in (PORT0 | sent).items() if k != "id"})
        return
    if case["answer"].startswith("500") and "23505" in case["answer"]:  # a duplicate active gateway_id
        conn.execute("DROP INDEX gateways_gateway_id_unique_idx")
    _widen(conn, table, sent)
    if table == "factories":
        insert_factory(conn, {k: v for k, v in (SPARE | sent).items() if k != "id"})
    else:
        insert_gateway(conn, keys, {k: v for k, v in (PORT0 | sent).items() if k != "id"})
    conn.commit()
    done = cli(cli_env, "check")
    assert done.returncode == 1, done.output
    if "23505" in case["answer"]:
        assert status(done.stdout, "active gateway_id unique") == "FAIL"
    else:
        assert status(done.stdout, "values the platform accepts") == "FAIL", done.stdout
    assert done.stdout.splitlines()[-1].split(":")[0].split(",")[0] != "0 errors"


@pytest.mark.parametrize("case", API["served"], ids=lambda c: f"{c['table']} {c['set']}")
def test_a_row_the_api_cannot_serve_is_an_error(conn, keys, seeded, cli_env, case):
    """The edits the platform's GETs answered 500 for (a timestamp past 9999, metadata 1, an id of
    version 0…) fail the check; those it served (9999-12-31, metadata null, the nil UUID…) pass."""
    column, expression = case["set"].split(" = ", 1)
    if case["table"] == "gateways":
        insert_gateway(conn, keys, {k: v for k, v in PORT0.items() if k != column}, {column: expression})
    else:
        insert_factory(conn, {k: v for k, v in SPARE.items() if k != column}, {column: expression})
    conn.commit()
    done = cli(cli_env, "check")
    served = case["list"] == 200
    assert done.returncode == (0 if served else 1), done.output
    assert status(done.stdout, "values the platform accepts") == ("ok" if served else "FAIL"), done.stdout


def test_a_password_the_platform_cannot_decrypt_is_an_error(conn, keys, seeded, cli_env):
    other = Keyring(bytes(range(100, 132)))  # not the test key
    insert_gateway(conn, other, {k: v for k, v in PORT0.items() if k != "id"})
    conn.commit()
    done = cli(cli_env, "check")
    assert done.returncode == 1, done.output
    assert status(done.stdout, "every password decrypts") == "FAIL"
    assert "from-the-api" not in done.output and '"encrypted"' not in done.output
    assert done.stdout.splitlines()[-1].startswith("1 error, 1 warning: 1 of 9 checks failed")


# -- the rules against the verdicts of the platform's own zod schemas -------------------------------


def _flagged(conn, table: str) -> set[str]:
    """The gateway_id (gateways) or name (factories) of every row an error rule of `table` flags."""
    key = "gateway_id" if table == "gateways" else "name"
    out: set[str] = set()
    for rule in platform.SQL_RULES:
        if rule.table == table and rule.severity == platform.ERROR:
            out |= {r[0] for r in conn.execute(f"SELECT t.{key} FROM {table} t WHERE {rule.bad}").fetchall()}
    return out


def test_the_error_rules_agree_with_the_platforms_zod(conn, keys, seeded):
    conn.execute("ALTER TABLE gateways ALTER COLUMN name TYPE text")  # a 256-character name, refused
    conn.execute("ALTER TABLE factories ALTER COLUMN name TYPE text")
    expected: dict[str, bool] = {}  # gateway_id or factory name → refused
    base = {k: v for k, v in PORT0.items() if k != "id"}
    for kind, column in (("url", "url"), ("email", "email"), ("name", "name"), ("uuid", "id")):
        for verdict in ("accepted", "refused"):
            for i, value in enumerate(ZOD[kind][verdict]):
                if kind == "uuid" and value != value.lower():
                    continue  # PostgreSQL's uuid type keeps lowercase only: zod reads what it prints
                key = f"{kind}-{verdict}-{i}"
                insert_gateway(conn, keys, base | {"gateway_id": key, column: value})
                expected[key] = verdict == "refused"
    for verdict in ("accepted", "refused"):
        for value in ZOD["factory_name"][verdict]:
            insert_factory(conn, {"name": value, "metadata": {}})
            expected[value] = verdict == "refused"
    flagged = _flagged(conn, "gateways") | _flagged(conn, "factories")
    wrong = {
        k: "missed" if refused else "flagged although zod takes it"
        for k, refused in expected.items()
        if (k in flagged) != refused
    }
    assert not wrong, wrong


@pytest.mark.parametrize("kind, column", [("url", "url"), ("email", "email"), ("name", "name"), ("uuid", "id")])
def test_the_frame_rules_agree_with_the_platforms_zod(kind, column):
    fleet = acme_fleet(datetime(2026, 1, 1, tzinfo=UTC))
    one = fleet.gateways.head(1)
    wrong = []
    for verdict in ("accepted", "refused"):
        for value in ZOD[kind][verdict]:
            fleet.gateways = one.with_columns(pl.lit(value, pl.String).alias(column))
            errors = [line for s, line in platform.findings(fleet) if s == platform.ERROR]
            if bool(errors) != (verdict == "refused"):
                wrong.append((value, verdict, errors))
    assert not wrong, wrong
