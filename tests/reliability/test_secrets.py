"""Section 6 — secrets: AES-256-GCM at volume, tamper detection, bad keys refused unprinted, rotation."""

from __future__ import annotations

import base64
import os

import pytest

from fleetlab import db
from fleetlab.crypto import Keyring, decode_key, key_id, load_keyring, new_key, password_aad
from fleetlab.errors import SecretError

from .harness import cli, observe

N = 10_000


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring(os.urandom(32))


@pytest.fixture(scope="module")
def tokens(keyring):
    enc = keyring.encryptor()
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(N)]
    plains = [f"password-{i % 100}" for i in range(N)]  # many equal passwords
    return ids, plains, [enc.encrypt(p, password_aad(r)) for p, r in zip(plains, ids, strict=True)]


def _blob(token: str) -> bytes:
    data = token.split(".")[2]
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def test_ten_thousand_passwords_decrypt_with_unique_nonces(keyring, tokens):
    ids, plains, toks = tokens
    assert [keyring.decrypt(t, password_aad(r)) for t, r in zip(toks, ids, strict=True)] == plains
    nonces = {_blob(t)[:12] for t in toks}
    assert len(nonces) == N
    assert len(set(toks)) == N  # equal passwords, different ciphertexts


def _refused(keyring, token, aad, plaintext):
    with pytest.raises(SecretError) as exc:
        keyring.decrypt(token, aad)
    msg = str(exc.value)
    if plaintext in msg:
        observe("secrets_leaked")
    assert plaintext not in msg and msg
    return msg


def test_swapped_ciphertext_is_refused(keyring, tokens):
    ids, plains, toks = tokens
    assert "another row" in _refused(keyring, toks[1], password_aad(ids[0]), plains[1])


def test_every_flipped_bit_is_refused(keyring, tokens):
    ids, plains, toks = tokens
    token, aad = toks[7], password_aad(ids[7])
    prefix, blob = token.rsplit(".", 1)[0], _blob(token)
    for i in range(len(blob) * 8):
        b = bytearray(blob)
        b[i // 8] ^= 1 << (i % 8)
        bad = prefix + "." + base64.urlsafe_b64encode(bytes(b)).rstrip(b"=").decode()
        _refused(keyring, bad, aad, plains[7])
    for bad in (token[:-4], token + "AAAA", token.replace("v1.", "v2.", 1), "v1..", "garbage", ""):
        _refused(keyring, bad, aad, plains[7])


def test_wrong_key_is_refused(keyring, tokens):
    ids, plains, toks = tokens
    other = Keyring(os.urandom(32))
    assert "not in the keyring" in _refused(other, toks[0], password_aad(ids[0]), plains[0])
    # a forged key id pointing at the wrong key still fails authentication
    forged = f"v1.{other.current_id}.{toks[0].split('.')[2]}"
    _refused(other, forged, password_aad(ids[0]), plains[0])


BAD_KEYS = {
    "not base64": "this is not base64 !!",
    "16 bytes": base64.b64encode(b"k" * 16).decode(),
    "31 bytes": base64.b64encode(b"k" * 31).decode(),
    "33 bytes": base64.b64encode(b"k" * 33).decode(),
    "64 bytes": base64.b64encode(b"k" * 64).decode(),
    "hex": "ab" * 32,
    "padding": base64.b64encode(b"k" * 32).decode().rstrip("=") + "===",
    "spaces inside": "AAEC AwQF BgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
}


@pytest.mark.parametrize("name", list(BAD_KEYS))
def test_bad_key_refused_without_printing_it(name, tmp_path):
    value = BAD_KEYS[name]
    try:
        raw = decode_key(value, "FLEETLAB_SECRET_KEY")
    except SecretError as exc:
        msg = str(exc)
        if value in msg:
            observe("secrets_leaked")
        assert value not in msg and "FLEETLAB_SECRET_KEY" in msg
    else:
        assert len(raw) == 32, name  # a lenient but exact decoding is acceptable
    # a key file with the same content
    f = tmp_path / "secret.key"
    f.write_text(value + "\n")
    f.chmod(0o600)
    try:
        load_keyring(None, (), f, create=False)
    except SecretError as exc:
        assert value not in str(exc) and str(f) in str(exc)


def test_missing_key_is_refused(tmp_path):
    with pytest.raises(SecretError, match="FLEETLAB_SECRET_KEY"):
        load_keyring(None, (), tmp_path / "absent.key", create=False)
    f = tmp_path / "open.key"
    f.write_text(new_key())
    f.chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        load_keyring(None, (), f, create=False)


def test_rotation_keeps_old_rows_readable(seeded, env):
    """Seeded under key A; with A moved to FLEETLAB_PREVIOUS_SECRET_KEYS and a new current key B, rows still decrypt."""
    a = env["FLEETLAB_SECRET_KEY"]
    b = new_key()
    old = cli(["decrypt", "GW-SPR-001"], env)
    assert old.returncode == 0 and old.stdout.strip()
    rotated = {**env, "FLEETLAB_SECRET_KEY": b, "FLEETLAB_PREVIOUS_SECRET_KEYS": a}
    run = cli(["decrypt", "GW-SPR-001"], rotated)
    assert run.returncode == 0 and run.stdout == old.stdout, run.output
    # without the old key: a clear error naming the key id, not the key
    run = cli(["decrypt", "GW-SPR-001"], {**env, "FLEETLAB_SECRET_KEY": b})
    assert run.returncode != 0 and not run.traceback
    assert key_id(base64.b64decode(a)) in run.stderr and a not in run.output and b not in run.output
    assert old.stdout.strip() not in run.output
    # a seed under the rotated keyring writes with B and still reads everything
    assert cli(["seed", "--yes"], rotated).returncode == 0
    with db.connect(seeded) as c:
        kids = {t.split(".")[1] for (t,) in c.execute("SELECT password_encrypted FROM gateways")}
    assert kids == {key_id(base64.b64decode(b))}
    assert cli(["decrypt", "GW-SPR-001"], rotated).returncode == 0
