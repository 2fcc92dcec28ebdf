"""Rows the platform wrote, rows in fleetlab's earlier v1 format and fleetlab's own: all decrypt,
pass `fleetlab check`, and `fleetlab key rotate` puts them under the current key, all or nothing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlab.generation.acme import acme_fleet
from fleetlab.store import checks
from fleetlab.store.crypto import Keyring, key_id, keyring_for
from fleetlab.store.load import load
from fleetlab.store.rotate import rotate

from .conftest import TEST_KEY
from .reliability.harness import cli_inprocess
from .test_crypto import v1_token

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "platform_vectors.json").read_text(encoding="utf-8"))
NEW_KEY = base64.b64encode(bytes(range(100, 132))).decode()


def cli(env, *args):
    """The console script's code in this process (what each command does and says)."""
    return cli_inprocess(list(args), env)


@pytest.fixture
def mixed(conn, settings):
    """The default fleet under TEST_KEY, then one gateway written by the platform (its vector, its key)
    and one left in fleetlab's v1 format."""
    load(conn, acme_fleet(datetime(2026, 1, 1, tzinfo=UTC)), keyring_for(settings, create=True))
    conn.commit()
    vector = VECTORS["platform_encrypt"][4]  # a key of its own, a non-ASCII password
    spr = conn.execute("SELECT id::text FROM gateways WHERE gateway_id = 'GW-SPR-001'").fetchone()[0]
    conn.execute(
        "INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted) "
        "SELECT factory_id, 'GW-API-001', 'API Gateway', 'ws://10.0.0.5:5000', 'ops@example.com', %s "
        "FROM gateways WHERE gateway_id = 'GW-SPR-001'",
        (vector["stored"],),
    )
    conn.execute(
        "UPDATE gateways SET password_encrypted = %s WHERE id = %s",
        (v1_token(base64.b64decode(TEST_KEY), "legacy-pw", spr), spr),
    )
    conn.execute("UPDATE gateways SET updated_at = '2026-01-01Z'")
    conn.commit()
    return vector


def test_check_passes_with_the_platforms_key_among_the_keys(conn, mixed):
    keys = Keyring(base64.b64decode(TEST_KEY), previous=(base64.b64decode(mixed["key"]),))
    report = checks.run(conn, keys)
    assert report.ok, report.render()
    assert "added since the seed (by the platform or by hand): 1 gateways" in report.render()
    without = checks.run(conn, Keyring(base64.b64decode(TEST_KEY)))
    failed = {r.name: r.text for r in without.failed}
    assert list(failed) == ["every password decrypts"]
    assert "1 of 7 passwords do not decrypt" in failed["every password decrypts"]
    assert "gateway GW-API-001: the ciphertext does not authenticate" in failed["every password decrypts"]
    assert "ENCRYPTION_KEY" in failed["every password decrypts"]


def test_rotate_puts_every_row_under_the_current_key(conn, mixed):
    old = [base64.b64decode(TEST_KEY), base64.b64decode(mixed["key"])]
    new = Keyring(base64.b64decode(NEW_KEY), previous=tuple(old))
    before = dict(conn.execute("SELECT gateway_id, updated_at FROM gateways").fetchall())
    done = rotate(conn, new)
    assert (done.total, done.rewritten, done.from_v1, done.key_id) == (7, 7, 1, key_id(base64.b64decode(NEW_KEY)))
    rows = dict(conn.execute("SELECT gateway_id, password_encrypted FROM gateways").fetchall())
    only_new = Keyring(base64.b64decode(NEW_KEY))
    plain = {g: only_new.decrypt(v) for g, v in rows.items()}
    assert plain["GW-API-001"] == mixed["plaintext"] and plain["GW-SPR-001"] == "legacy-pw"
    assert {plain[g] for g in rows if g not in ("GW-API-001", "GW-SPR-001")} == {"admin123"}
    assert all(json.loads(v)["kid"] == done.key_id for v in rows.values())
    assert dict(conn.execute("SELECT gateway_id, updated_at FROM gateways").fetchall()) == before
    assert rotate(conn, new).rewritten == 0  # nothing left to do


def test_platform_rows_under_the_current_key_stay_as_written(conn, settings):
    platform_key = base64.b64decode(VECTORS["platform_encrypt"][0]["key"])
    load(conn, acme_fleet(datetime(2026, 1, 1, tzinfo=UTC)), Keyring(platform_key))
    conn.execute(
        "UPDATE gateways SET password_encrypted = %s WHERE gateway_id = 'GW-DET-001'",
        (VECTORS["platform_encrypt"][0]["stored"],),
    )
    conn.commit()
    done = rotate(conn, Keyring(platform_key))
    assert (done.total, done.rewritten) == (6, 0)


def test_a_row_no_key_opens_stops_the_rotation_before_anything_is_written(conn, mixed):
    before = conn.execute("SELECT gateway_id, password_encrypted FROM gateways ORDER BY 1").fetchall()
    from fleetlab.errors import SecretError

    with pytest.raises(SecretError, match="1 of 7 passwords do not decrypt.*GW-API-001.*Nothing was rotated"):
        rotate(conn, Keyring(base64.b64decode(NEW_KEY), previous=(base64.b64decode(TEST_KEY),)))
    assert conn.execute("SELECT gateway_id, password_encrypted FROM gateways ORDER BY 1").fetchall() == before


def test_key_rotate_command(cli_env, conn, mixed):
    env = {
        **cli_env,
        "FLEETLAB_SECRET_KEY": NEW_KEY,
        "ENCRYPTION_KEY": mixed["key"],
        "FLEETLAB_PREVIOUS_SECRET_KEYS": TEST_KEY,
    }
    done = cli(env, "key", "rotate")
    assert done.returncode == 0, done.stderr
    assert (
        "re-encrypted 7 of 7 gateway passwords" in done.stdout and "1 from fleetlab's earlier v1 format" in done.stdout
    )
    for secret in (NEW_KEY, mixed["key"], TEST_KEY, mixed["plaintext"]):
        assert secret not in done.stdout + done.stderr
    # afterwards the new key alone reads everything, and the platform's own key is no longer needed
    after = cli({**cli_env, "FLEETLAB_SECRET_KEY": NEW_KEY}, "check")
    assert after.returncode == 0, after.stdout
    decrypted = cli({**cli_env, "FLEETLAB_SECRET_KEY": NEW_KEY}, "decrypt", "GW-API-001")
    assert decrypted.stdout.strip() == mixed["plaintext"]


def test_key_rotate_refuses_a_database_without_marker(cli_env, conn):
    conn.execute("DROP TABLE fleetlab_meta.fleetlab_marker")
    conn.commit()
    done = cli(cli_env, "key", "rotate")
    assert done.returncode != 0 and "no fleetlab marker" in done.stderr and "Traceback" not in done.stderr
