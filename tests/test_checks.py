"""`fleetlab check`: a good database passes; each deliberately broken one fails the right check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetlab.generation.acme import acme_fleet
from fleetlab.store import checks
from fleetlab.store.crypto import Keyring, keyring_for
from fleetlab.store.load import load

from .reliability.harness import cli_inprocess

CHECKS = [
    "schema is the platform's",
    "behaves as the platform's",
    "every factory has its organization",
    "every gateway has its factory",
    "active gateway_id unique",
    "counts match the recorded scenario",
    "every password decrypts",
    "values the platform accepts",
    "values as fleetlab writes them",
]


@pytest.fixture
def keys(settings):
    return keyring_for(settings, create=True)


@pytest.fixture
def seeded(conn, keys):
    fleet = acme_fleet(datetime(2026, 1, 1, tzinfo=UTC), seed=3)
    load(conn, fleet, keys)
    conn.commit()
    return fleet


def results(conn, keys, **kw) -> dict[str, checks.Result]:
    report = checks.run(conn, keys, **kw)
    assert [r.name for r in report.results] == CHECKS
    return {r.name: r for r in report.results}


def failing(conn, keys, **kw) -> set[str]:
    return {name for name, r in results(conn, keys, **kw).items() if not r.ok}


def cli(env, *args):
    """The console script's code in this process (what each command does and says)."""
    return cli_inprocess(list(args), env)


def test_a_good_database_passes(conn, keys, seeded):
    report = checks.run(conn, keys, where="here")
    assert report.ok, report.render()
    text = report.render()
    assert text.splitlines()[0] == "fleetlab check of here"
    assert "6 passwords decrypt" in text and "1 organizations, 3 factories, 6 gateways" in text
    assert text.endswith("all 9 checks passed.")


def test_cli_on_a_good_database(cli_env, seeded):
    done = cli(cli_env, "check")
    assert done.returncode == 0, done.stderr
    assert "all 9 checks passed." in done.stdout and "FAIL" not in done.stdout


def test_orphan_gateway(conn, keys, seeded):
    conn.execute("ALTER TABLE gateways DROP CONSTRAINT gateways_factory_id_fkey")
    conn.execute(
        "INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted)"
        " VALUES ('99999999-0000-4000-8000-000000000000', 'GW-ORPHAN', 'x', 'x', 'x', 'v1.x.y')"
    )
    conn.commit()
    res = results(conn, keys)
    assert not res["every gateway has its factory"].ok
    assert "1 gateways point at a missing factory" in res["every gateway has its factory"].detail
    assert "99999999-0000-4000-8000-000000000000" in res["every gateway has its factory"].detail
    assert res["every factory has its organization"].ok and res["active gateway_id unique"].ok


def test_orphan_factories(conn, keys, seeded):
    conn.execute("ALTER TABLE factories DROP CONSTRAINT factories_organization_id_fkey")
    conn.execute("DELETE FROM organizations")
    conn.commit()
    res = results(conn, keys)
    assert failing(conn, keys) == {
        "schema is the platform's",
        "every factory has its organization",
        "counts match the recorded scenario",
    }
    assert "factories.factories_organization_id_fkey: missing" in res["schema is the platform's"].text
    assert res["every factory has its organization"].detail.startswith("3 factories point at a missing organization")
    assert "organizations 0 (recorded 1)" in res["counts match the recorded scenario"].detail


def test_duplicate_active_gateway_id(conn, keys, seeded):
    conn.execute("DROP INDEX gateways_gateway_id_unique_idx")
    conn.execute("UPDATE gateways SET gateway_id = 'GW-SPR-001' WHERE gateway_id = 'GW-SPR-002'")
    conn.commit()
    res = results(conn, keys)
    assert failing(conn, keys) == {"active gateway_id unique", "schema is the platform's"}
    assert "GW-SPR-001 ×2" in res["active gateway_id unique"].detail


def test_a_soft_deleted_duplicate_is_fine(conn, keys, seeded):
    conn.execute("UPDATE gateways SET deleted_at = now() WHERE gateway_id = 'GW-SPR-002'")
    conn.execute("UPDATE gateways SET gateway_id = 'GW-SPR-001' WHERE gateway_id = 'GW-SPR-002'")
    conn.commit()
    assert failing(conn, keys) == set()


def test_corrupted_ciphertexts(conn, keys, seeded):
    # one with its ciphertext altered, one with its tag altered, one cut short
    for gateway_id, field in (("GW-DET-001", "encrypted"), ("GW-AUS-002", "authTag")):
        conn.execute(
            "UPDATE gateways SET password_encrypted = jsonb_set(password_encrypted::jsonb, %s, "
            "to_jsonb('AAAA' || substr(password_encrypted::jsonb ->> %s, 5)))::text WHERE gateway_id = %s",
            ([field], field, gateway_id),
        )
    conn.execute(
        "UPDATE gateways SET password_encrypted = left(password_encrypted, 30) WHERE gateway_id = 'GW-SPR-002'"
    )
    conn.commit()
    tokens = [r[0] for r in conn.execute("SELECT password_encrypted FROM gateways").fetchall()]
    conn.rollback()
    res = results(conn, keys)
    assert failing(conn, keys) == {"every password decrypts"}
    detail = res["every password decrypts"].text
    assert detail.startswith("3 of 6 passwords do not decrypt") and all(
        g in detail for g in ("GW-DET-001", "GW-AUS-002", "GW-SPR-002")
    )
    assert "not valid JSON" in detail and "does not authenticate" in detail
    assert not any(t in detail for t in tokens)


def test_a_value_copied_from_another_row_decrypts(conn, keys, seeded):
    """The platform's format binds no row (no associated data): a copied value is that row's password."""
    conn.execute(
        "UPDATE gateways SET password_encrypted = (SELECT password_encrypted FROM gateways WHERE gateway_id = 'GW-SPR-001')"
        " WHERE gateway_id = 'GW-AUS-002'"
    )
    conn.commit()
    assert failing(conn, keys) == set()


def test_values_the_platform_would_refuse(conn, keys, seeded):
    conn.execute("UPDATE gateways SET url = 'https://gw.example.com' WHERE gateway_id = 'GW-SPR-001'")
    conn.execute(
        "UPDATE gateways SET email = 'no..dots@example.com', name = 'North Wing Gateway' "
        "WHERE gateway_id = 'GW-SPR-002'"
    )
    conn.execute("UPDATE gateways SET url = '10.0.0.5' WHERE gateway_id = 'GW-DET-001'")
    conn.execute("UPDATE factories SET metadata = '[1, 2]' WHERE name = 'Austin Facility'")
    # the platform's API answers 500 for a whole list holding an id that is not an RFC UUID
    conn.execute("INSERT INTO organizations (id, name) VALUES ('11111111-1111-1111-1111-111111111111', 'Odd Id')")
    conn.commit()
    res = results(conn, keys)
    assert failing(conn, keys) == {"values the platform accepts", "values as fleetlab writes them"}
    errors = res["values the platform accepts"]
    assert errors.severity == "error"
    assert "1 gateways with email is not an address the API accepts (e.g. 'no..dots@example.com')" in errors.text
    assert "1 factories with metadata is not a JSON object" in errors.text
    assert "1 organizations with id is not an RFC UUID (e.g. '11111111-1111-1111-1111-111111111111')" in errors.text
    # an address without a scheme: zod's url() (WHATWG `new URL`) refuses it
    assert "1 gateways with url is not a URL the API accepts (e.g. '10.0.0.5')" in errors.text
    # what the platform's API takes, but fleetlab would not write: warnings
    warnings = res["values as fleetlab writes them"]
    assert warnings.severity == "warning"
    assert "2 gateways with url is not a ws:// or wss:// URL the acquisition client takes" in warnings.text
    assert "'https://gw.example.com'" in warnings.text
    assert "2 gateways with a name another gateway of its factory has (e.g. 'North Wing Gateway'" in warnings.text


def test_rows_the_api_takes_are_warnings_and_check_passes(conn, keys, seeded, cli_env):
    """An https URL passes the platform's zod schema (its API writes it): check lists it and exits 0."""
    conn.execute("UPDATE gateways SET url = 'https://gw-1.example.com/live' WHERE gateway_id = 'GW-SPR-001'")
    conn.execute("UPDATE gateways SET url = 'ws://10.0.0.1:0' WHERE gateway_id = 'GW-SPR-002'")
    conn.commit()
    report = checks.run(conn, keys)
    assert report.ok and not report.failed
    assert [r.name for r in report.warned] == ["values as fleetlab writes them"]
    done = cli(cli_env, "check")
    assert done.returncode == 0, done.output
    assert "  warn  values as fleetlab writes them" in done.stdout
    assert "- warning: 1 gateways with url is not a ws:// or wss:// URL the acquisition client takes" in done.stdout
    assert "- warning: 1 gateways with a url whose port is 0 (nothing to dial)" in done.stdout
    assert done.stdout.splitlines()[-1] == "0 errors, 2 warnings: all 9 checks passed (warnings do not fail)."


def test_a_renamed_index_breaks_the_schema_check(conn, keys, seeded):
    conn.execute("ALTER INDEX gateways_last_seen_at_idx RENAME TO gateways_last_seen_at_index")
    conn.commit()
    res = results(conn, keys)
    assert failing(conn, keys) == {"schema is the platform's"}
    assert "gateways.gateways_last_seen_at_idx: missing" in res["schema is the platform's"].text


def test_wrong_key(conn, seeded):
    other = Keyring(bytes(range(100, 132)))
    detail = results(conn, other)["every password decrypts"].text
    assert detail.startswith("6 of 6 passwords do not decrypt") and "not in the keyring" in detail


def test_counts_differ_from_the_recorded_scenario(conn, keys, seeded, cli_env):
    """A row deleted by hand: a warning (the platform works on any number of rows), check passes."""
    conn.execute("DELETE FROM gateways WHERE gateway_id = 'GW-AUS-002'")
    conn.commit()
    res = results(conn, keys)
    assert failing(conn, keys) == {"counts match the recorded scenario"}
    counts = res["counts match the recorded scenario"]
    assert counts.status == "warning" and "gateways 5 (recorded 6)" in counts.detail
    assert checks.run(conn, keys).ok
    done = cli(cli_env, "check")
    assert done.returncode == 0, done.output
    assert "  warn  counts match the recorded scenario" in done.stdout


def test_rows_added_since_the_seed_pass(conn, keys, seeded):
    """The platform adds gateways through its API: a database in use grows."""
    conn.execute(
        "INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted) "
        "SELECT factory_id, 'GW-NEW-001', 'New Gateway', 'ws://10.0.0.9:5000', 'ops@example.com', password_encrypted "
        "FROM gateways WHERE gateway_id = 'GW-SPR-001'"
    )
    conn.commit()
    res = results(conn, keys)
    assert failing(conn, keys) == set()
    assert (
        "added since the seed (by the platform or by hand): 1 gateways"
        in res["counts match the recorded scenario"].detail
    )


def test_soft_deletes_do_not_change_counts(conn, keys, seeded):
    conn.execute("UPDATE gateways SET deleted_at = now() WHERE gateway_id = 'GW-AUS-002'")
    conn.commit()
    assert failing(conn, keys) == set()


def test_unseeded_database_and_missing_key(conn):
    res = results(conn, None, key_problem="no secret key: set FLEETLAB_SECRET_KEY.")
    assert res["counts match the recorded scenario"].status == "warning"
    assert "records no seeded row counts" in res["counts match the recorded scenario"].detail
    assert res["every password decrypts"].detail == "no secret key: set FLEETLAB_SECRET_KEY."
    assert res["every gateway has its factory"].ok  # an empty fleet has no orphans


def test_no_marker(conn, keys):
    conn.execute("DROP TABLE fleetlab_meta.fleetlab_marker")
    conn.commit()
    counts = results(conn, keys)["counts match the recorded scenario"]
    assert counts.ok and "no fleetlab marker, so no recorded counts" in counts.detail  # nothing recorded


def test_cli_on_a_broken_database(cli_env, conn, seeded):
    conn.execute("DROP INDEX gateways_gateway_id_unique_idx")
    conn.execute("UPDATE gateways SET gateway_id = 'GW-SPR-001' WHERE gateway_id = 'GW-SPR-002'")
    conn.execute("DELETE FROM gateways WHERE gateway_id = 'GW-AUS-002'")
    conn.commit()
    done = cli(cli_env, "check")
    assert done.returncode == 1
    assert "FAIL  active gateway_id unique" in done.stdout
    assert "warn  counts match the recorded scenario" in done.stdout  # a warning: no failure of its own
    assert done.stdout.splitlines()[-1] == "2 errors, 1 warning: 2 of 9 checks failed."
    assert "Traceback" not in done.stderr


def test_cli_without_a_key(cli_env, seeded):
    env = {k: v for k, v in cli_env.items() if k != "FLEETLAB_SECRET_KEY"}
    done = cli(env, "check")
    assert done.returncode == 1
    assert "FAIL  every password decrypts" in done.stdout and "FLEETLAB_SECRET_KEY" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.fleetlab(scenario="multi-tenant", organizations=4, seed=11)
def test_a_generated_fleet_passes_every_check(fleetlab_db):
    # fleetlab_db: the pytest plugin's seeded clone (fleetlab.pytest_plugin), as users' suites get it
    report = checks.run(fleetlab_db.conn, keyring_for(fleetlab_db.settings, create=False))
    assert [r.name for r in report.results] == CHECKS
    assert all(r.ok for r in report.results), [r for r in report.results if not r.ok]
    assert fleetlab_db.read_sql("SELECT * FROM organizations").height == 4
