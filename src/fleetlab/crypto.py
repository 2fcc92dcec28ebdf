"""Gateway passwords, encrypted for real: AES-256-GCM with a key id for rotation.

A stored value looks like `v1.<key id>.<base64url(nonce || ciphertext || tag)>`:
- a fresh 12-byte random nonce per value, so equal passwords give different ciphertexts;
- associated data that binds the value to its row (`gateways:<row id>:password`), so a
  ciphertext copied to another row does not decrypt;
- the key id (a fingerprint of the key, not the key) picks the key out of a keyring, so
  rows written under an earlier key stay readable after a rotation.

Keys are 32 random bytes, base64-encoded, from FLEETLAB_SECRET_KEY (previous ones in
FLEETLAB_PREVIOUS_SECRET_KEYS) or, for the embedded default, a key file under FLEETLAB_HOME
created with mode 0600. Key material never appears in messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import SecretError

VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (HMAC, so it reveals nothing about the key)."""
    return hmac.new(key, b"fleetlab key id", hashlib.sha256).hexdigest()[:12]


def decode_key(text: str, source: str) -> bytes:
    """Decode a base64 key; the message names the source, never the value."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is None:
        try:
            raw = base64.urlsafe_b64decode(text.strip())
        except (binascii.Error, ValueError):
            raise SecretError(
                f"{source} is not valid base64. Generate a key with `fleetlab key new` (32 random bytes, base64)."
            ) from None
    if len(raw) != KEY_BYTES:
        raise SecretError(
            f"{source} decodes to {len(raw)} bytes; an AES-256 key is exactly {KEY_BYTES} bytes. "
            "Generate one with `fleetlab key new`."
        )
    return raw


def new_key() -> str:
    """A fresh random key, base64-encoded."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


@dataclass(frozen=True)
class Keyring:
    """The current key (encrypts) and earlier keys (still decrypt)."""

    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def __repr__(self) -> str:
        return f"Keyring(current_id={self.current_id!r}, previous={len(self.previous)})"

    def _by_id(self) -> dict[str, bytes]:
        keys = {key_id(k): k for k in self.previous}
        keys[self.current_id] = self.current
        return keys

    def encryptor(self) -> Encryptor:
        return Encryptor(self.current)

    def encrypt(self, plaintext: str, aad: str) -> str:
        return self.encryptor().encrypt(plaintext, aad)

    def decrypt(self, token: str, aad: str) -> str:
        """The plaintext of `token`, or SecretError if it was tampered with or the key is unknown."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != VERSION:
            raise SecretError("not a fleetlab ciphertext (expected v1.<key id>.<data>).")
        kid, data = parts[1], parts[2]
        key = self._by_id().get(kid)
        if key is None:
            raise SecretError(
                f"this value was encrypted with key {kid}, which is not in the keyring; set that key in "
                "FLEETLAB_SECRET_KEY or FLEETLAB_PREVIOUS_SECRET_KEYS."
            )
        try:
            blob = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            raise SecretError("the ciphertext is not valid base64: it was altered.") from None
        if len(blob) < NONCE_BYTES + 16:
            raise SecretError("the ciphertext is too short: it was altered or truncated.")
        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise SecretError(
                "the ciphertext does not authenticate: it was altered, belongs to another row, or was "
                "encrypted with another key of the same id."
            ) from None
        return plain.decode("utf-8")


class Encryptor:
    """Encrypts many values with one key; reuses the AESGCM object (the hot path of a large seed)."""

    def __init__(self, key: bytes):
        self._aes = AESGCM(key)
        self._prefix = f"{VERSION}.{key_id(key)}."

    def encrypt(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._aes.encrypt(nonce, plaintext.encode("utf-8"), aad.encode())
        return self._prefix + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()

    @property
    def prefix(self) -> str:
        """`v1.<key id>.`: what every value encrypted here starts with."""
        return self._prefix

    def seal_many(self, plaintexts: list[bytes], aads: list[bytes]) -> list[bytes]:
        """nonce || ciphertext || tag for each value, fresh random nonces: `encrypt` in bulk, before
        base64 (the caller encodes and prefixes; see load.encrypt_passwords)."""
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        seal = self._aes.encrypt
        out = []
        for i, (plain, aad) in enumerate(zip(plaintexts, aads, strict=True)):
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            out.append(nonce + seal(nonce, plain, aad))
        return out


def password_aad(row_id: str) -> str:
    """The associated data binding a gateway password to its row."""
    return f"gateways:{row_id}:password"


def load_keyring(secret_key: str | None, previous: tuple[str, ...], key_file: Path | None, *, create: bool) -> Keyring:
    """The keyring from the environment's keys or, without FLEETLAB_SECRET_KEY, the key file.

    With `create`, a missing key file is generated (mode 0600).
    """
    prev = tuple(decode_key(p, f"key #{i + 1} of FLEETLAB_PREVIOUS_SECRET_KEYS") for i, p in enumerate(previous))
    if secret_key is not None:
        return Keyring(decode_key(secret_key, "FLEETLAB_SECRET_KEY"), prev)
    if key_file is None:
        raise SecretError("no secret key: set FLEETLAB_SECRET_KEY (generate one with `fleetlab key new`).")
    if not key_file.exists():
        if not create:
            raise SecretError(
                f"no secret key: {key_file} does not exist and FLEETLAB_SECRET_KEY is not set. "
                "Run `fleetlab reset` to create one, or set FLEETLAB_SECRET_KEY."
            )
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key() + "\n")
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        raise SecretError(f"the key file {key_file} is readable by others (mode {mode:o}); run `chmod 600 {key_file}`.")
    return Keyring(decode_key(key_file.read_text(), f"the key file {key_file}"), prev)


def decrypt_password(keyring: Keyring, token: str, row_id: str) -> str:
    """Inspect a stored gateway password: the plaintext of `token` for the gateway row `row_id`."""
    return keyring.decrypt(token, password_aad(str(row_id)))
