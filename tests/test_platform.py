"""The real platform (RoninSTi/mti-monorepo) takes a fleetlab database as its own.

- every preset generates values the platform's API and acquisition client accept;
- the default scenario is the platform's seed, value for value (fixture: the rows its seed.ts wrote);
- what a reset writes, the platform's algorithm decrypts (Node's crypto, when node is installed);
- scenarios the schema cannot hold are refused before a database is created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from fleetlab import generate, load_scenario
from fleetlab.generation.acme import acme_fleet
from fleetlab.model import platform
from fleetlab.model.scenarios import list_scenarios
from fleetlab.store.crypto import keyring_for, load_keyring
from fleetlab.store.databases import build_name
from fleetlab.store.load import load

from .reliability.harness import cli_inprocess

SEED = json.loads((Path(__file__).parent / "fixtures" / "platform_seed.json").read_text(encoding="utf-8"))
AS_OF = "2026-03-01T12:00:00Z"


def preset_fleet(name: str):
    spec = load_scenario(name).override(as_of=AS_OF)
    if name == "large":  # the same generator and mixes, 3 of its 100 organizations
        spec = spec.override(organizations="3")
    return generate(spec)


@pytest.mark.parametrize("name", list(list_scenarios()))
def test_every_preset_follows_the_platforms_rules(name):
    fleet = preset_fleet(name)
    assert fleet.counts()["gateways"] > 0
    assert platform.problems(fleet) == []


@pytest.mark.parametrize("name", [n for n in list_scenarios() if n != "default"])
def test_generated_values_look_like_the_platforms(name):
    gw = preset_fleet(name).gateways
    assert gw["url"].str.starts_with("ws://").any() and gw["url"].str.starts_with("wss://").any()
    assert gw["firmware_version"].str.contains(r"^v\d+\.\d+\.\d+").all()
    active = gw.filter(pl.col("deleted_at").is_null())
    # names distinct within a factory (a rule) and, through the site in the name, nearly fleet-wide
    assert active["name"].n_unique() >= 0.99 * active.height


def test_the_rules_catch_what_the_platform_refuses():
    fleet = acme_fleet(datetime(2026, 1, 1, tzinfo=UTC))
    gw = fleet.gateways
    fleet.gateways = gw.with_columns(
        pl.Series(
            "url",
            [
                "https://a.example.com",
                "ws://ok.example.com:5000/x",
                "ws://bad host",
                "ws://h#frag",
                "ws://192.168.1.1:5000",
                "ws://x.example.com",
            ],
        ),
        pl.Series("email", ["ok@example.com", ".dot@example.com", "a..b@example.com", "no-at", "x@y", "x@y.com"]),
        pl.Series("model", ["m" * 101, "ok", None, "ok", "ok", "ok"]),
        pl.Series("firmware_version", ["v1.0.0", "v" * 51, "v1", "v1", "v1", "v1"]),
        pl.Series("metadata", ['{"a":1}', "[]", '"text"', "{", '{"b":2}', "{}"]),
        pl.Series("name", ["Same", "Same", "C", "D", "E", "F"]),  # the first two share a factory
    )
    errors = "\n".join(platform.problems(fleet, warnings=False))
    for expected in (
        "gateways: 1 row(s) with url is not a URL the API accepts, e.g. 'ws://bad host'",  # `new URL` refuses it
        "4 row(s) with email is not an address",
        "1 row(s) with model longer than 100",
        "1 row(s) with firmware_version longer than 50",
        "3 metadata value(s) that are not JSON objects",
    ):
        assert expected in errors, (expected, errors)
    # what the platform's API takes but fleetlab would not write: warnings
    warnings = [p for p in platform.problems(fleet) if p.startswith("warning: ")]
    assert warnings == [
        "warning: gateways: 2 row(s) with url is not a ws:// or wss:// URL the acquisition client takes, "
        "e.g. 'https://a.example.com', 'ws://h#frag'",
        "warning: gateways: 1 row(s) with url is not as fleetlab writes them (ws[s]://host[:port][/path]), "
        "e.g. 'ws://bad host'",
        "warning: gateways of one factory share a name: 1 case(s), e.g. 'Same'",
    ]
    assert not any("ws://ok.example.com:5000/x" in p or "x@y.com" in p for p in platform.problems(fleet))


# -- the default scenario is the platform's seed ----------------------------------------------------


def test_default_scenario_is_the_original_seed_value_for_value():
    as_of = datetime(2026, 3, 1, 12, tzinfo=UTC)
    fleet = generate(load_scenario("default").override(as_of=as_of.isoformat()))
    assert fleet.passwords.to_list() == ["admin123"] * fleet.gateways.height
    orgs = fleet.organizations.to_dicts()
    assert [(o["name"], json.loads(o["metadata"]), o["deleted_at"] is not None) for o in orgs] == [
        (o["name"], o["metadata"], o["deleted"]) for o in SEED["organizations"]
    ]
    facs = sorted(fleet.factories.to_dicts(), key=lambda f: f["name"])
    assert [(f["name"], f["location"], f["timezone"], json.loads(f["metadata"])) for f in facs] == [
        (f["name"], f["location"], f["timezone"], f["metadata"]) for f in SEED["factories"]
    ]
    names = {f["id"]: f["name"] for f in facs}
    gws = sorted(fleet.gateways.to_dicts(), key=lambda g: g["gateway_id"])
    ours = [
        {
            "factory": names[g["factory_id"]],
            **{k: g[k] for k in ("gateway_id", "name", "url", "email", "model", "firmware_version")},
            "metadata": json.loads(g["metadata"]),
            "last_seen_minutes_before_created": None
            if g["last_seen_at"] is None
            else (g["created_at"] - g["last_seen_at"]) / timedelta(minutes=1),
        }
        for g in gws
    ]
    theirs = [
        {k: v for k, v in g.items() if k not in ("password_encrypted", "deleted", "updated_equals_created")}
        for g in SEED["gateways"]
    ]
    assert ours == theirs
    for frame in fleet.frames().values():  # created at as_of, never updated since, none deleted
        assert frame["created_at"].to_list() == [as_of] * frame.height
        assert frame["updated_at"].to_list() == [as_of] * frame.height
        assert frame["deleted_at"].null_count() == frame.height


def test_the_platforms_seeded_passwords_decrypt():
    ring = load_keyring(None, (), None, create=False, platform_key=SEED["encryption_key"])
    assert {ring.decrypt(g["password_encrypted"]) for g in SEED["gateways"]} == {"admin123"}


def test_default_reset_rows_in_the_database(conn, settings):
    keys = keyring_for(settings, create=True)
    fleet = acme_fleet(datetime(2026, 3, 1, 12, tzinfo=UTC), seed=5)
    load(conn, fleet, keys)
    conn.commit()
    rows = conn.execute(
        "SELECT gateway_id, password_encrypted, metadata, created_at, updated_at FROM gateways ORDER BY gateway_id"
    ).fetchall()
    assert [r[0] for r in rows] == [g["gateway_id"] for g in SEED["gateways"]]
    assert [r[2] for r in rows] == [g["metadata"] for g in SEED["gateways"]]  # jsonb, compared as objects
    assert {keys.decrypt(r[1]) for r in rows} == {"admin123"}
    assert len({json.loads(r[1])["iv"] for r in rows}) == 6  # a fresh nonce per row
    assert {r[3] for r in rows} == {r[4] for r in rows} == {datetime(2026, 3, 1, 12, tzinfo=UTC)}


# -- the platform's algorithm, run by Node, on what a load wrote ----------------------------------

NODE_DECRYPT = r"""
// The platform's steps (encryption.ts decryptPassword after JSON.parse, as GatewayRepository does).
const crypto = require('crypto');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
const key = Buffer.from(process.env.ENCRYPTION_KEY, 'base64');
for (const line of lines) {
  const data = JSON.parse(line);
  if (!data.encrypted || !data.iv || !data.authTag) throw new Error('Invalid encrypted data structure');
  const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(data.iv, 'base64'));
  d.setAuthTag(Buffer.from(data.authTag, 'base64'));
  let out = d.update(data.encrypted, 'base64', 'utf8');
  out += d.final('utf8');
  process.stdout.write(JSON.stringify(out) + '\n');
}
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (CI machines have it)")
@pytest.mark.parametrize("scenario", ["default", "stale-fleet"])
def test_node_decrypts_every_password_a_load_wrote(conn, settings, scenario):
    from fleetlab.generation.fleets import plan
    from fleetlab.generation.keyed import keyed_password

    keys = keyring_for(settings, create=True)
    fleet = plan(load_scenario(scenario).override(as_of=AS_OF))
    load(conn, fleet, keys)  # the stale-fleet's 433 rows take the bulk (vectorised) encryption path too
    conn.commit()
    rows = conn.execute("SELECT id::text, password_encrypted FROM gateways ORDER BY id").fetchall()
    env = {**os.environ, "ENCRYPTION_KEY": settings.secret_key}
    done = subprocess.run(
        ["node", "-e", NODE_DECRYPT],
        input="\n".join(r[1] for r in rows),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    plaintexts = [json.loads(line) for line in done.stdout.splitlines()]
    expected = (
        ["admin123"] * len(rows) if scenario == "default" else [keyed_password(fleet.spec.seed, r[0]) for r in rows]
    )
    assert plaintexts == expected


def test_bulk_encryption_matches_the_platform_format(settings):
    """The vectorised path (1,000 rows and more) writes the same layout as the row-by-row one."""
    from fleetlab.store.load import encrypt_passwords

    keys = keyring_for(settings, create=True)
    ids = pl.DataFrame({"id": [f"00000000-0000-4000-8000-{i:012d}" for i in range(1500)]})
    from fleetlab.generation.keyed import keyed_password, keyed_passwords

    values = encrypt_passwords(keyed_passwords(3, ids["id"]), keys).to_list()

    for row_id, value in zip(ids["id"], values, strict=True):
        obj = json.loads(value)
        assert list(obj) == ["encrypted", "iv", "authTag", "kid"]
        assert keys.decrypt(value) == keyed_password(3, row_id)


# -- what the schema cannot hold is refused before any database is created -----------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[mix.models]\n"' + "M" * 300 + '" = 1', "the platform's column holds 100"),
        ('[mix.firmware]\n"v' + "1" * 60 + '" = 1', "the platform's column holds 50"),
        ('[mix.models]\n"bad\\u0000name" = 1', "NUL character"),
        ('description = "nul \\u0000 here"', "NUL character"),
        ('as_of = "0001-01-01T00:00:00Z"', "outside the times"),
        ('as_of = "9999-12-31T23:59:59Z"', "outside the times"),
    ],
)
def test_unstorable_scenarios_refused_before_any_database(tmp_path, cli_env, admin, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n' + toml + "\n", encoding="utf-8")
    target = "fltest_never_created_" + str(os.getpid())
    env = {**cli_env, "DATABASE_URL": cli_env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + target}
    done = cli_inprocess(["reset", "--yes", "--scenario", str(path)], env)  # the console script's code, here
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    made = admin.execute(
        "SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", ([target, build_name(target)],)
    ).fetchone()[0]
    assert made == 0


@pytest.mark.parametrize("scenario", ["international", "multi-tenant"])
def test_the_database_check_agrees_on_loaded_presets(conn, settings, scenario):
    """The SQL form of the rules (`fleetlab check`) passes what the frame form passed."""
    from fleetlab.generation.fleets import plan
    from fleetlab.store import checks

    load(conn, plan(load_scenario(scenario).override(as_of=AS_OF)), keyring_for(settings, create=True))
    conn.commit()
    result = checks.platform_values(conn)
    assert result.ok, result.detail
