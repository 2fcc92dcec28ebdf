"""AES-256-GCM passwords in the platform's format: vectors from the platform's own code, round trip,
tamper detection, key handling, rotation, fleetlab's earlier v1 format."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fleetlab.errors import SecretError
from fleetlab.store.crypto import Encryptor, Keyring, decrypt_password, key_id, load_keyring, new_key, password_aad

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
VECTORS = json.loads((Path(__file__).parent / "fixtures" / "platform_vectors.json").read_text(encoding="utf-8"))


def v1_token(key: bytes, plaintext: str, row_id: str) -> str:
    """A value in fleetlab's earlier format (v1.<key id>.<base64url(nonce || ct || tag)>, row-bound)."""
    nonce = os.urandom(12)
    blob = nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), password_aad(row_id).encode())
    return f"v1.{key_id(key)}." + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


# -- the platform's vectors, both directions ----------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["platform_encrypt"], ids=lambda v: repr(v["plaintext"][:12]))
def test_fleetlab_decrypts_what_the_platform_wrote(vector):
    """Rows the platform's encryptPassword wrote (no key id) decrypt with that key as ENCRYPTION_KEY."""
    ring = load_keyring(None, (), None, create=False, platform_key=vector["key"])
    assert ring.decrypt(vector["stored"]) == vector["plaintext"]
    assert "kid" not in json.loads(vector["stored"])


@pytest.mark.parametrize("vector", VECTORS["fixed_iv"], ids=lambda v: repr(v["plaintext"][:12]))
def test_same_nonce_gives_the_platforms_bytes(vector):
    """With the nonce Node used, fleetlab writes the very same JSON (plus its key id field)."""
    key = base64.b64decode(vector["key"])
    ours = json.loads(Encryptor(key).encrypt(vector["plaintext"], nonce=base64.b64decode(vector["iv"])))
    assert ours.pop("kid") == key_id(key)
    assert json.dumps(ours, separators=(",", ":"), ensure_ascii=False) == vector["stored"]
    assert list(ours) == ["encrypted", "iv", "authTag"]  # JSON.stringify's key order


@pytest.mark.parametrize("vector", VECTORS["fleetlab_encrypt"], ids=lambda v: repr(v["plaintext"][:12]))
def test_the_platform_decrypted_what_fleetlab_wrote(vector):
    """Values fleetlab wrote, which the platform's decryptPassword turned back into the plaintext."""
    assert vector["platform_plaintext"] == vector["plaintext"]
    assert Keyring(base64.b64decode(vector["key"])).decrypt(vector["stored"]) == vector["plaintext"]


def test_platform_key_and_fleetlab_key_together():
    """FLEETLAB_SECRET_KEY wins for writing; a different ENCRYPTION_KEY still decrypts."""
    platform = VECTORS["platform_encrypt"][0]
    ring = load_keyring(base64.b64encode(OTHER).decode(), (), None, create=False, platform_key=platform["key"])
    assert ring.current == OTHER
    assert ring.decrypt(platform["stored"]) == platform["plaintext"]
    same = load_keyring(platform["key"], (), None, create=False, platform_key=platform["key"])
    assert same.previous == ()


# -- round trip and tampering ---------------------------------------------------------------


def test_round_trip_and_format():
    ring = Keyring(KEY)
    token = ring.encrypt("hunter2-but-longer")
    obj = json.loads(token)
    assert list(obj) == ["encrypted", "iv", "authTag", "kid"]
    assert token == json.dumps(obj, separators=(",", ":"))  # compact, like JSON.stringify
    assert len(base64.b64decode(obj["iv"])) == 12 and len(base64.b64decode(obj["authTag"])) == 16
    assert len(base64.b64decode(obj["encrypted"])) == len("hunter2-but-longer")
    assert obj["kid"] == key_id(KEY)
    assert "hunter2" not in token
    assert decrypt_password(ring, token) == "hunter2-but-longer"


def test_equal_plaintexts_give_different_ciphertexts():
    ring = Keyring(KEY)
    tokens = {ring.encrypt("same") for _ in range(200)}
    assert len(tokens) == 200
    assert len({json.loads(t)["iv"] for t in tokens}) == 200


def test_empty_password_refused():
    with pytest.raises(SecretError, match="must not be empty"):
        Keyring(KEY).encrypt("")


@pytest.mark.parametrize("field", ["encrypted", "iv", "authTag"])
@pytest.mark.parametrize("position", [0, -1])
def test_flipped_bit_is_detected(field, position):
    ring = Keyring(KEY)
    obj = json.loads(ring.encrypt("pw-pw-pw"))
    raw = bytearray(base64.b64decode(obj[field]))
    raw[position] ^= 0x01
    obj[field] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SecretError) as info:
        ring.decrypt(json.dumps(obj))
    assert "pw-pw-pw" not in str(info.value)


def test_wrong_key_is_refused_by_id_and_by_tag():
    token = Keyring(KEY).encrypt("pw")
    with pytest.raises(SecretError, match="not in the keyring"):
        Keyring(OTHER).decrypt(token)
    forged = token.replace(key_id(KEY), key_id(OTHER))
    with pytest.raises(SecretError, match="does not authenticate"):
        Keyring(OTHER).decrypt(forged)
    anonymous = json.dumps({k: v for k, v in json.loads(token).items() if k != "kid"})
    with pytest.raises(SecretError, match="any key of the keyring"):
        Keyring(OTHER).decrypt(anonymous)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "PLACEHOLDER_ENCRYPTED_PASSWORD",
        "v2.x.y",
        "{",
        "[]",
        '"text"',
        "{}",
        '{"encrypted":"","iv":"AAAAAAAAAAAAAAAA","authTag":"AAAAAAAAAAAAAAAAAAAAAA=="}',
        '{"encrypted":"!!!!","iv":"AAAAAAAAAAAAAAAA","authTag":"AAAAAAAAAAAAAAAAAAAAAA=="}',
        '{"encrypted":"AAAA","iv":"AAAAAAAAAAAAAAAA","authTag":"AAAA"}',
        '{"encrypted":"AAAA","iv":5,"authTag":"AAAAAAAAAAAAAAAAAAAAAA=="}',
    ],
)
def test_garbage_tokens_refused(garbage):
    with pytest.raises(SecretError):
        Keyring(KEY).decrypt(garbage, "r")


def test_rotation_keeps_old_rows_readable():
    old = Keyring(KEY).encrypt("old-pw")
    rotated = Keyring(OTHER, previous=(KEY,))
    new = rotated.encrypt("new-pw")
    assert json.loads(new)["kid"] == key_id(OTHER)
    assert rotated.decrypt(old) == "old-pw"
    assert rotated.decrypt(new) == "new-pw"
    opened = rotated.open(old)
    assert (opened.key_id, opened.format) == (key_id(KEY), "json")


# -- fleetlab's earlier v1 format ---------------------------------------------------------------


def test_v1_values_still_decrypt_bound_to_their_row():
    token = v1_token(KEY, "legacy-pw", "row-1")
    ring = Keyring(OTHER, previous=(KEY,))
    assert ring.decrypt(token, "row-1") == "legacy-pw"
    assert ring.open(token, "row-1").format == "v1"
    with pytest.raises(SecretError, match="does not authenticate"):
        ring.decrypt(token, "row-2")
    with pytest.raises(SecretError, match="needs the gateway row's id"):
        ring.decrypt(token)
    with pytest.raises(SecretError, match="not in the keyring"):
        Keyring(OTHER).decrypt(token, "row-1")


# -- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not base64 at all!!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
        (base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes"),
    ],
)
@pytest.mark.parametrize("source", ["FLEETLAB_SECRET_KEY", "ENCRYPTION_KEY"])
def test_bad_keys_refused_without_echo(text, match, source):
    with pytest.raises(SecretError, match=match) as info:
        if source == "ENCRYPTION_KEY":
            load_keyring(None, (), None, create=False, platform_key=text)
        else:
            load_keyring(text, (), None, create=False)
    assert text not in str(info.value)
    assert source in str(info.value)


def test_key_file_created_0600_and_reused(tmp_path):
    f = tmp_path / "home" / "secret.key"
    ring = load_keyring(None, (), f, create=True)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert load_keyring(None, (), f, create=True).current == ring.current
    assert len(base64.b64decode(f.read_text().strip(), validate=True)) == 32  # standard base64, as ENCRYPTION_KEY needs


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


def test_platform_key_alone_is_the_current_key(tmp_path):
    ring = load_keyring(None, (), tmp_path / "absent.key", create=True, platform_key=base64.b64encode(KEY).decode())
    assert ring.current == KEY
    assert not (tmp_path / "absent.key").exists()
