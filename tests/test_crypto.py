"""AES-256-GCM passwords: round trip, tamper detection, key handling, rotation."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from fleetlab.crypto import Keyring, decode_key, decrypt_password, key_id, load_keyring, new_key, password_aad
from fleetlab.errors import SecretError

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_round_trip_and_format():
    ring = Keyring(KEY)
    token = ring.encrypt("hunter2-but-longer", password_aad("row-1"))
    version, kid, data = token.split(".")
    assert (version, kid) == ("v1", key_id(KEY))
    blob = base64.urlsafe_b64decode(data + "==")
    assert len(blob) == 12 + len("hunter2-but-longer") + 16  # nonce + ciphertext + tag
    assert "hunter2" not in token
    assert decrypt_password(ring, token, "row-1") == "hunter2-but-longer"


def test_equal_plaintexts_give_different_ciphertexts():
    ring = Keyring(KEY)
    tokens = {ring.encrypt("same", password_aad("r")) for _ in range(200)}
    assert len(tokens) == 200
    nonces = {base64.urlsafe_b64decode(t.split(".")[2] + "==")[:12] for t in tokens}
    assert len(nonces) == 200


def test_ciphertext_is_bound_to_its_row():
    ring = Keyring(KEY)
    token = ring.encrypt("pw", password_aad("row-1"))
    with pytest.raises(SecretError, match="does not authenticate"):
        decrypt_password(ring, token, "row-2")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_flipped_bit_is_detected(position):
    ring = Keyring(KEY)
    token = ring.encrypt("pw-pw-pw", password_aad("r"))
    head, data = token.rsplit(".", 1)
    blob = bytearray(base64.urlsafe_b64decode(data + "=="))
    blob[position] ^= 0x01
    bad = head + "." + base64.urlsafe_b64encode(bytes(blob)).rstrip(b"=").decode()
    with pytest.raises(SecretError) as info:
        ring.decrypt(bad, password_aad("r"))
    assert "pw-pw-pw" not in str(info.value)


def test_wrong_key_is_refused_by_id_and_by_tag():
    token = Keyring(KEY).encrypt("pw", password_aad("r"))
    with pytest.raises(SecretError, match="not in the keyring"):
        Keyring(OTHER).decrypt(token, password_aad("r"))
    forged = token.replace(key_id(KEY), key_id(OTHER))
    with pytest.raises(SecretError, match="does not authenticate"):
        Keyring(OTHER).decrypt(forged, password_aad("r"))


@pytest.mark.parametrize(
    "garbage",
    ["", "PLACEHOLDER_ENCRYPTED_PASSWORD", "v2.x.y", "v1.abc", f"v1.{key_id(KEY)}.!!!!", f"v1.{key_id(KEY)}.AAAA"],
)
def test_garbage_tokens_refused(garbage):
    with pytest.raises(SecretError):
        Keyring(KEY).decrypt(garbage, password_aad("r"))


def test_rotation_keeps_old_rows_readable():
    old = Keyring(KEY).encrypt("old-pw", password_aad("r"))
    rotated = Keyring(OTHER, previous=(KEY,))
    new = rotated.encrypt("new-pw", password_aad("r"))
    assert new.split(".")[1] == key_id(OTHER)
    assert rotated.decrypt(old, password_aad("r")) == "old-pw"
    assert rotated.decrypt(new, password_aad("r")) == "new-pw"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not base64 at all!!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
        (base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes"),
    ],
)
def test_bad_keys_refused_without_echo(text, match):
    with pytest.raises(SecretError, match=match) as info:
        decode_key(text, "FLEETLAB_SECRET_KEY")
    assert text not in str(info.value)
    assert "FLEETLAB_SECRET_KEY" in str(info.value)


def test_key_file_created_0600_and_reused(tmp_path):
    f = tmp_path / "home" / "secret.key"
    ring = load_keyring(None, (), f, create=True)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert load_keyring(None, (), f, create=True).current == ring.current
    assert len(base64.b64decode(f.read_text())) == 32


def test_key_file_readable_by_others_refused(tmp_path):
    f = tmp_path / "secret.key"
    f.write_text(new_key())
    os.chmod(f, 0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        load_keyring(None, (), f, create=False)


def test_env_key_wins_and_previous_keys_decode():
    ring = load_keyring(base64.b64encode(OTHER).decode(), (base64.b64encode(KEY).decode(),), None, create=False)
    assert ring.current == OTHER and ring.previous == (KEY,)
    assert "current_id" in repr(ring) and str(KEY) not in repr(ring)
