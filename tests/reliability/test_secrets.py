"""Section 6 — secrets: AES-256-GCM at volume, tamper detection, bad keys refused unprinted, rotation."""

from __future__ import annotations

import base64
import json
import os

import pytest

from fleetlab.errors import SecretError
from fleetlab.store import db
from fleetlab.store.crypto import Keyring, decode_key, key_id, load_keyring, new_key

from .harness import cli_inprocess, observe

N = 10_000


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring(os.urandom(32))


@pytest.fixture(scope="module")
def tokens(keyring):
    enc = keyring.encryptor()
    plains = [f"password-{i % 100}" for i in range(N)]  # many equal passwords
    return plains, [enc.encrypt(p) for p in plains]


def _parts(token: str) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in json.loads(token).items() if k != "kid"}


def _token(parts: dict[str, bytes], kid: str) -> str:
    return json.dumps(
        {**{k: base64.b64encode(v).decode() for k, v in parts.items()}, "kid": kid}, separators=(",", ":")
    )


def test_ten_thousand_passwords_decrypt_with_unique_nonces(keyring, tokens):
    plains, toks = tokens
    assert [keyring.decrypt(t) for t in toks] == plains
    nonces = {_parts(t)["iv"] for t in toks}
    assert len(nonces) == N and all(len(n) == 12 for n in nonces)
    assert len(set(toks)) == N  # equal passwords, different ciphertexts


def _refused(keyring, token, plaintext):
    with pytest.raises(SecretError) as exc:
        keyring.decrypt(token)
    msg = str(exc.value)
    if plaintext in msg:
        observe("secrets_leaked")
    assert plaintext not in msg and msg
    return msg


def test_swapped_tag_is_refused(keyring, tokens):
    """Another value's tag (or iv) does not authenticate this ciphertext."""
    plains, toks = tokens
    for part in ("authTag", "iv"):
        mixed = {**_parts(toks[1]), part: _parts(toks[0])[part]}
        assert "does not authenticate" in _refused(keyring, _token(mixed, keyring.current_id), plains[1])


def test_every_flipped_bit_is_refused(keyring, tokens):
    plains, toks = tokens
    token, parts = toks[7], _parts(toks[7])
    for part, raw in parts.items():
        for i in range(len(raw) * 8):
            b = bytearray(raw)
            b[i // 8] ^= 1 << (i % 8)
            _refused(keyring, _token({**parts, part: bytes(b)}, keyring.current_id), plains[7])
    for bad in (token[:-4], token + "AAAA", token.replace('"iv"', '"IV"'), "v1..", "garbage", "", "{}", "null"):
        _refused(keyring, bad, plains[7])


def test_wrong_key_is_refused(keyring, tokens):
    plains, toks = tokens
    other = Keyring(os.urandom(32))
    assert "not in the keyring" in _refused(other, toks[0], plains[0])
    # a forged key id pointing at the wrong key still fails authentication, and so does no key id
    _refused(other, _token(_parts(toks[0]), other.current_id), plains[0])
    anonymous = json.dumps({k: v for k, v in json.loads(toks[0]).items() if k != "kid"})
    assert "any key of the keyring" in _refused(other, anonymous, plains[0])


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
    old = cli_inprocess(["decrypt", "GW-SPR-001"], env)
    assert old.returncode == 0 and old.stdout.strip()
    rotated = {**env, "FLEETLAB_SECRET_KEY": b, "FLEETLAB_PREVIOUS_SECRET_KEYS": a}
    run = cli_inprocess(["decrypt", "GW-SPR-001"], rotated)
    assert run.returncode == 0 and run.stdout == old.stdout, run.output
    # without the old key: a clear error naming the key id, not the key
    run = cli_inprocess(["decrypt", "GW-SPR-001"], {**env, "FLEETLAB_SECRET_KEY": b})
    assert run.returncode != 0 and not run.traceback
    assert key_id(base64.b64decode(a)) in run.stderr and a not in run.output and b not in run.output
    assert old.stdout.strip() not in run.output
    # a seed under the rotated keyring writes with B and still reads everything
    assert cli_inprocess(["seed", "--yes"], rotated).returncode == 0
    with db.connect(seeded) as c:
        kids = {json.loads(t)["kid"] for (t,) in c.execute("SELECT password_encrypted FROM gateways")}
    assert kids == {key_id(base64.b64decode(b))}
    assert cli_inprocess(["decrypt", "GW-SPR-001"], rotated).returncode == 0
