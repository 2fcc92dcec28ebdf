"""`fleetlab check`, `decrypt` and `key rotate` on a database someone changed by hand.

Each case changes a seeded database the way a person with psql might (a trigger disabled, a rule, a
column renamed, a table dropped, a column widened and filled, a password value replaced by anything
at all) and expects a named finding on its own line, exit 1, every other check still run, and no
traceback, no secret and no stored value echoed in full.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
import suite_server

from fleetlab.generation.acme import acme_fleet
from fleetlab.model import platform
from fleetlab.store import db
from fleetlab.store.crypto import keyring_for
from fleetlab.store.load import load

from .harness import cli, cli_inprocess, judge

TEST_KEY = suite_server.TEST_KEY


@pytest.fixture
def seeded(db_url, settings):
    """The test's database with the default fleet loaded (into the migrated clone: quicker than a reset)."""
    with db.connect(db_url) as conn:
        load(conn, acme_fleet(datetime(2026, 1, 1, tzinfo=UTC)), keyring_for(settings, create=False))
        conn.commit()
    return db_url


def hand(url, *statements: str) -> None:
    """Run `statements` as a person would in psql (autocommit, as the superuser of the test server)."""
    with db.connect(url, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def checked(env, *, subprocess: bool = False):
    """`fleetlab check`: exit 1 with findings, no traceback, no key in the output."""
    run = (cli if subprocess else cli_inprocess)(["check"], env)
    assert run.returncode == 1, run.output
    assert not run.traceback and "unexpected error" not in run.output, run.output
    assert TEST_KEY not in run.output
    assert "PostgreSQL rejected" not in run.output, run.output
    return run


def findings(run) -> list[str]:
    """The report's finding lines, without their indentation and dash."""
    return [line.strip()[2:] for line in run.stdout.splitlines() if line.startswith("          - ")]


def status(run, name: str) -> str:
    """'ok', 'FAIL', 'warn' or 'skip' for check `name` in the report."""
    for line in run.stdout.splitlines():
        if line[8:].startswith(name):
            return line[2:6].strip()
    raise AssertionError(f"no check {name!r} in:\n{run.stdout}")


# -- behaviour: what the catalog comparison does not see ----------------------------------------

BEHAVIOUR = {
    "trigger disabled": (
        ["ALTER TABLE gateways DISABLE TRIGGER update_gateways_updated_at"],
        "trigger update_gateways_updated_at on gateways is disabled: updated_at no longer changes on UPDATE "
        "(ALTER TABLE gateways ENABLE TRIGGER update_gateways_updated_at)",
    ),
    "trigger for replicas only": (
        ["ALTER TABLE factories ENABLE REPLICA TRIGGER update_factories_updated_at"],
        "trigger update_factories_updated_at on factories fires only in replica sessions",
    ),
    "every trigger disabled": (
        ["ALTER TABLE gateways DISABLE TRIGGER ALL"],
        "foreign key gateways_factory_id_fkey is not enforced on gateways: its triggers are disabled "
        "(ALTER TABLE gateways ENABLE TRIGGER ALL)",
    ),
    "rule": (
        ["CREATE RULE keep_gateways AS ON DELETE TO gateways DO INSTEAD NOTHING"],
        "rule keep_gateways on gateways rewrites every DELETE (DO INSTEAD) (DROP RULE keep_gateways ON gateways)",
    ),
    "row-level security": (
        ["ALTER TABLE organizations ENABLE ROW LEVEL SECURITY"],
        "row-level security is enabled on organizations",
    ),
    "row-level security forced": (
        ["ALTER TABLE organizations FORCE ROW LEVEL SECURITY"],
        "row-level security is forced on organizations",
    ),
    "policy": (
        ["CREATE POLICY only_mine ON factories USING (false)"],
        "policy only_mine on factories: filters rows whenever row-level security is on",
    ),
    "unlogged": (
        ["ALTER TABLE gateways SET UNLOGGED"],
        "table gateways is UNLOGGED: a crash empties it and replicas never get its rows (ALTER TABLE gateways SET LOGGED)",
    ),
    "security definer": (
        ["ALTER FUNCTION update_updated_at_column() SECURITY DEFINER"],
        "function update_updated_at_column() is SECURITY DEFINER",
    ),
    "search_path": (
        ["ALTER FUNCTION update_updated_at_column() SET search_path = pg_temp"],
        "function update_updated_at_column() sets search_path=pg_temp while it runs",
    ),
    "collation": (
        ['ALTER TABLE gateways ALTER COLUMN name TYPE varchar(255) COLLATE "C"'],
        "column gateways.name sorts and compares with collation \"C\", the platform's with the database's default",
    ),
    "inheriting table": (
        ["CREATE TABLE gateways_archive () INHERITS (gateways)"],
        "table gateways_archive inherits from gateways: its rows show up in every query on gateways",
    ),
}


@pytest.mark.parametrize("case", list(BEHAVIOUR))
def test_a_change_in_behaviour_is_a_named_finding(case, seeded, env):
    statements, expected = BEHAVIOUR[case]
    hand(seeded, *statements)
    run = checked(env)
    assert status(run, "behaves as the platform's") == "FAIL", run.stdout
    assert any(f.startswith(expected) for f in findings(run)), run.stdout
    # the rest of the report is as before: the fleet itself is sound
    for name in ("every gateway has its factory", "every password decrypts", "values the platform accepts"):
        assert status(run, name) == "ok", run.stdout


def test_the_trigger_functions_language_is_named(seeded, env):
    hand(
        seeded,
        "CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger "
        "LANGUAGE internal AS 'suppress_redundant_updates_trigger'",
    )
    run = checked(env)
    assert (
        "function update_updated_at_column(): language internal, platform: plpgsql; body differs from the "
        "platform's" in findings(run)
    ), run.stdout


def test_many_findings_each_on_a_line(seeded, env):
    hand(seeded, *(s for statements, _ in BEHAVIOUR.values() for s in statements))
    run = checked(env)
    lines = findings(run)
    for _, expected in BEHAVIOUR.values():
        assert sum(f.startswith(expected) for f in lines) == 1, (expected, run.stdout)


# -- missing or renamed tables and columns: findings, and the other checks still run ------------

MISSING = {
    "renamed column": (
        ["ALTER TABLE gateways RENAME COLUMN password_encrypted TO pw"],
        [
            "column gateways.password_encrypted: absent, platform: text NOT NULL",
            "column gateways.pw: text NOT NULL, platform: absent",
        ],
        {
            "every password decrypts": "skip",
            "every gateway has its factory": "ok",
            "active gateway_id unique": "ok",
            "counts match the recorded scenario": "ok",
            "values the platform accepts": "ok",
        },
    ),
    "dropped table": (
        ["DROP TABLE factories CASCADE"],
        [
            "table factories: missing (dropped or renamed?), and with it its constraints, indexes and triggers",
            "constraint gateways.gateways_factory_id_fkey: missing",
        ],
        {
            "every factory has its organization": "skip",
            "every gateway has its factory": "skip",
            "every password decrypts": "ok",
            "counts match the recorded scenario": "warn",  # rows lost: a warning (the schema check fails)
            "values the platform accepts": "ok",
        },
    ),
    "renamed table": (
        ["ALTER TABLE organizations RENAME TO orgs"],
        [
            "table organizations: missing (dropped or renamed?), and with it its constraints, indexes and triggers",
            "table orgs: not in the platform schema",
        ],
        {
            "every factory has its organization": "skip",
            "every gateway has its factory": "ok",
            "every password decrypts": "ok",
            "counts match the recorded scenario": "warn",  # rows lost: a warning (the schema check fails)
        },
    ),
    "dropped column": (
        ["ALTER TABLE gateways DROP COLUMN deleted_at"],
        ["column gateways.deleted_at: absent, platform: timestamp with time zone"],
        {"active gateway_id unique": "skip", "every password decrypts": "ok", "every gateway has its factory": "ok"},
    ),
    "a column of another type": (
        [
            "ALTER TABLE gateways DROP CONSTRAINT gateways_factory_id_fkey",
            "ALTER TABLE factories ALTER COLUMN id TYPE text",
        ],
        ["column factories.id: text NOT NULL DEFAULT "],
        {
            "every gateway has its factory": "FAIL",
            "every factory has its organization": "ok",
            "every password decrypts": "ok",
        },
    ),
}


@pytest.mark.parametrize("case", list(MISSING))
def test_what_is_missing_is_a_finding_and_the_rest_is_checked(case, seeded, env):
    statements, expected, statuses = MISSING[case]
    hand(seeded, *statements)
    run = checked(env)
    assert status(run, "schema is the platform's") == "FAIL"
    for line in expected:  # a prefix: how a default is shown differs between PostgreSQL versions
        assert any(f.startswith(line) for f in findings(run)), (line, run.stdout)
    for name, want in statuses.items():
        assert status(run, name) == want, (name, run.stdout)
    assert "could not run." in run.stdout.splitlines()[-1] or "skip" not in statuses.values()


def test_a_skipped_check_says_what_it_needs(seeded, env):
    hand(seeded, "ALTER TABLE gateways RENAME COLUMN password_encrypted TO pw", "DROP TABLE organizations CASCADE")
    run = checked(env)
    line = next(x for x in run.stdout.splitlines() if "every password decrypts" in x)
    assert line.startswith("  skip") and line.endswith(
        'not checked: column gateways.password_encrypted missing (see "schema is the platform\'s")'
    ), run.stdout
    assert "organizations missing (recorded 1)" in run.stdout
    values = next(x for x in run.stdout.splitlines() if "values the platform accepts" in x)
    assert values.startswith("  ok") and values.endswith(
        "(the rules that read table organizations: not checked, missing)"
    )
    assert run.stdout.splitlines()[-1].endswith(": 1 of 9 checks failed, 2 could not run.")  # counts: a warning


def test_a_check_the_server_refuses_fails_alone(seeded, env):
    hand(
        seeded,
        "ALTER TABLE gateways DROP CONSTRAINT gateways_factory_id_fkey",
        "ALTER TABLE factories ALTER COLUMN id TYPE text",
    )
    run = checked(env)
    line = next(x for x in run.stdout.splitlines() if "every gateway has its factory" in x)
    assert "PostgreSQL refused this check: operator does not exist: text = uuid" in line, run.stdout


# -- the platform's value rules: widths and ports ------------------------------------------------


def test_values_longer_than_the_platforms_widths(seeded, env):
    hand(
        seeded,
        "ALTER TABLE gateways ALTER COLUMN model TYPE varchar(500)",
        "UPDATE gateways SET model = repeat('M', 300) WHERE gateway_id = 'GW-SPR-001'",
        "ALTER TABLE gateways ALTER COLUMN url TYPE text",
        "UPDATE gateways SET url = 'ws://gw.example.com/' || repeat('p', 200000) WHERE gateway_id LIKE 'GW-DET-%'",
        "ALTER TABLE organizations ALTER COLUMN name TYPE text",
        "UPDATE organizations SET name = repeat('N', 256)",
    )
    run = checked(env)
    lines = findings(run)
    assert f"1 gateways with model longer than 100 characters (e.g. {'M' * 60!r}…)" in lines, run.stdout
    assert any(
        f.startswith("2 gateways with url longer than 500 characters (e.g. 'ws://gw.example.com/ppp") for f in lines
    )
    assert any(f.startswith("1 organizations with name longer than 255 characters") for f in lines), run.stdout
    assert "p" * 100 not in run.output and len(run.output) < 10_000  # quoted, never echoed in full


def test_url_ports_outside_1_to_65535(seeded, env):
    hand(
        seeded,
        "UPDATE gateways SET url = 'ws://192.168.1.100:70000' WHERE gateway_id = 'GW-SPR-001'",
        "UPDATE gateways SET url = 'ws://gw.example.com:0/live' WHERE gateway_id = 'GW-SPR-002'",
        "UPDATE gateways SET url = 'wss://gw.example.com:65535/ok' WHERE gateway_id = 'GW-DET-001'",
    )
    run = checked(env)
    assert run.returncode == 1  # the API's `new URL` refuses port 70000: an error
    assert "1 gateways with a url whose port is above 65535 (e.g. 'ws://192.168.1.100:70000')" in findings(run)
    # port 0 parses (the API takes it) but nothing listens there: a warning
    assert "warning: 1 gateways with a url whose port is 0 (nothing to dial) (e.g. 'ws://gw.example.com:0/live')" in (
        findings(run)
    ), run.stdout
    assert "65535/ok" not in run.stdout


def test_the_frame_rules_know_the_ports_too():
    """The polars form of the rules (what a spec's fleet is checked with before loading) agrees."""
    fleet = acme_fleet(datetime(2026, 1, 1, tzinfo=UTC))
    urls = ["ws://192.168.1.100:70000", "ws://gw.example.com:0/live", "wss://gw.example.com:65535/ok"]
    fleet.gateways = fleet.gateways.with_columns(pl.Series("url", [*urls, *fleet.gateways["url"][3:]]))
    assert platform.problems(fleet) == [
        "gateways: 1 row(s) with a url whose port is above 65535, e.g. 'ws://192.168.1.100:70000'",
        "warning: gateways: 1 row(s) with a url whose port is 0 (nothing to dial), e.g. 'ws://gw.example.com:0/live'",
    ]


# -- stored passwords, however odd ----------------------------------------------------------------

_TAIL = '"iv":"AAAAAAAAAAAAAAAA","authTag":"AAAAAAAAAAAAAAAAAAAAAA=="'
ODD_PASSWORDS = {
    "deep JSON array": "[" * 100_000 + "]" * 100_000,
    "deep JSON in an object": '{"encrypted":' + "[" * 100_000 + "]" * 100_000 + "," + _TAIL + "}",
    "deep JSON object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "megabytes of text": "x" * 3_000_000,
    "megabytes of base64": '{"encrypted":"' + "A" * 3_000_000 + '",' + _TAIL + "}",
    "binary garbage": "".join(map(chr, range(1, 256))) * 50,
    "escapes of no character": '{"encrypted":"\\udc80\\ud800","iv":"\\u0000","authTag":"\\uffff"}',
    "a key id of no character": '{"encrypted":"AAAA",' + _TAIL + ',"kid":"\\ud800\\u001b[31m\\n"}',
    "a number": "12345",
    "null": "null",
    "an array": '["encrypted", "iv", "authTag"]',
    "an empty object": "{}",
    "numbers for fields": '{"encrypted":1,"iv":2,"authTag":3}',
    "arrays and objects for fields": '{"encrypted":["QUFB"],"iv":{"b":"QUFB"},"authTag":[[[1]]]}',
    "a number for kid": '{"encrypted":"AAAA",' + _TAIL + ',"kid":12}',
    "nested kid": '{"encrypted":"AAAA",' + _TAIL + ',"kid":' + "[" * 500 + "]" * 500 + "}",
    "an integer of 5,000 digits": '{"encrypted":' + "9" * 5000 + "}",
    "v1 of garbage": "v1.\u00e9\u0007x.\U0001f600",
}


def _id(i: int) -> str:
    """A row id that sorts before the seeded rows' random ones (the report lists rows by id)."""
    return f"00000000-0000-4000-8000-{i:012}"


@pytest.fixture
def odd(seeded):
    """The seeded database plus, sorted first by id, a gateway with no gateway_id, one whose gateway_id
    is 100,000 characters long, and one per odd password (GW-ODD-00…, then a NULL one)."""
    hand(
        seeded,
        "ALTER TABLE gateways ALTER COLUMN gateway_id TYPE text",
        "ALTER TABLE gateways ALTER COLUMN gateway_id DROP NOT NULL",
        "ALTER TABLE gateways ALTER COLUMN password_encrypted DROP NOT NULL",
    )
    rows = [(None, "null"), ("G" * 100_000, "null")]
    rows += [(f"GW-ODD-{i:02}", value) for i, value in enumerate([*ODD_PASSWORDS.values(), None])]
    with db.connect(seeded, autocommit=True) as conn:
        for i, (gateway_id, value) in enumerate(rows):
            conn.execute(
                "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted) "
                "SELECT %s, factory_id, %s, %s, url, email, %s FROM gateways WHERE gateway_id = 'GW-SPR-001'",
                (_id(i), gateway_id, f"Odd {i}", value),
            )
    return seeded


def test_check_gives_each_odd_password_a_reason(odd, env):
    run = checked(env, subprocess=True)  # the real console script: its stdout encodes what is printed
    n = len(ODD_PASSWORDS) + 3
    line = next(x for x in run.stdout.splitlines() if "every password decrypts" in x)
    assert line.startswith("  FAIL") and line.endswith(f"{n} of {n + 6} passwords do not decrypt:"), run.stdout
    reasons = dict(f.split(": ", 1) for f in findings(run) if f.startswith("gateway "))
    assert list(reasons)[:2] == [f"gateway row {_id(0)}", f"gateway {'G' * 40}…"]
    assert list(reasons)[2:] == [f"gateway GW-ODD-{i:02}" for i in range(17)]  # the report's first 19 rows
    assert "nested too deeply" in reasons["gateway GW-ODD-01"] and "nested too deeply" in reasons["gateway GW-ODD-02"]
    assert "3,000,000 characters long" in reasons["gateway GW-ODD-03"]
    assert "not a JSON object" in reasons["gateway GW-ODD-08"] or "a number" in reasons["gateway GW-ODD-08"]
    assert "the stored password's kid is a number" in reasons["gateway GW-ODD-14"]
    assert "the stored password's kid is an array" in reasons["gateway GW-ODD-15"]
    assert "an id that is not fleetlab's" in reasons["gateway GW-ODD-07"]
    assert any(f.startswith("… and 2 more; over all 21: ") for f in findings(run)), run.stdout
    assert "x" * 100 not in run.output and "A" * 100 not in run.output and "G" * 100 not in run.output
    assert "\x1b" not in run.output and len(run.output) < 20_000


def test_decrypt_gives_each_odd_password_a_reason(odd, env):
    problems = {}
    for i, name in enumerate([*ODD_PASSWORDS, "NULL"]):
        run = cli_inprocess(["decrypt", f"GW-ODD-{i:02}"], env)
        found = judge(run, [TEST_KEY])
        if run.returncode != 1:
            found.append(f"exit {run.returncode}")
        if not run.stderr.startswith(f"fleetlab: error: the password of gateway 'GW-ODD-{i:02}' does not decrypt: "):
            found.append(f"no reason for the gateway: {run.stderr[:200]!r}")
        if len(run.output) > 1_000 or "\x1b" in run.output:
            found.append("the value echoed")
        if found:
            problems[name] = found
    assert problems == {}


def test_key_rotate_refuses_with_a_reason_per_row(odd, env):
    run = cli_inprocess(["key", "rotate"], env)
    assert judge(run, [TEST_KEY]) == [], run.output
    assert run.returncode == 1
    assert "Nothing was rotated" in run.stderr and "Why, per row:" in run.stderr
    assert f"\n  gateway row {_id(0)}: the stored password is not an encrypted password" not in run.stderr
    assert "\n  gateway GW-ODD-01: the stored password is JSON nested too deeply" in run.stderr, run.stderr
    assert "x" * 100 not in run.output and "G" * 100 not in run.output and len(run.output) < 10_000
