"""Gateway passwords, encrypted for real, in the platform's own format.

The platform (RoninSTi/mti-monorepo, `encryption.ts` / `GatewayRepository.ts`) stores in
`gateways.password_encrypted` the JSON text of

    {"encrypted":"<base64 ciphertext>","iv":"<base64 12-byte nonce>","authTag":"<base64 16-byte tag>"}

AES-256-GCM, no associated data, the key 32 bytes given base64-encoded in `ENCRYPTION_KEY`. fleetlab
writes exactly that (same key order, compact JSON, standard base64 with padding), a fresh random
nonce per value, plus one extra field the platform ignores: `"kid"`, a public fingerprint of the
key, so rows written under an earlier key stay readable after a rotation. Values without `kid`
(written by the platform) are tried against every key of the keyring.

fleetlab's earlier format, `v1.<key id>.<base64url(nonce || ciphertext || tag)>` with associated
data `gateways:<row id>:password`, is still read (and `fleetlab key rotate` rewrites it).

Keys are 32 random bytes, base64-encoded: FLEETLAB_SECRET_KEY or the platform's ENCRYPTION_KEY,
earlier ones in FLEETLAB_PREVIOUS_SECRET_KEYS, or, for the embedded default, a key file under
FLEETLAB_HOME created with mode 0600. Key material never appears in messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import Settings
from ..errors import BadKey, SecretError

NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
LEGACY_VERSION = "v1"
# the platform's JSON.stringify of {encrypted, iv, authTag}, then fleetlab's key id: three {} to fill
_TEMPLATE = '{{"encrypted":"{}","iv":"{}","authTag":"{}","kid":"%s"}}'
_B64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
_KID = re.compile(r"^[0-9a-f]{1,64}$")
# the longest stored value read: the JSON of a password of some 750,000 characters. Longer text is not
# parsed (nor decoded) at all: a value that size was altered, and parsing it costs memory and time
MAX_STORED = 1 << 20


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (HMAC, so it reveals nothing about the key)."""
    return hmac.new(key, b"fleetlab key id", hashlib.sha256).hexdigest()[:12]


def decode_key(text: str, source: str) -> bytes:
    """Decode a base64 key (standard or URL-safe, padding optional, white space around it ignored);
    the message names the source, never the value."""
    text = text.strip()
    broken = any(c.isspace() for c in text)  # a key wrapped or pasted in pieces
    raw = _b64_lenient("".join(text.split()) if broken else text)
    if raw is None:
        raise BadKey(f"{source} is not valid base64. Generate a key with `fleetlab key new` (32 random bytes, base64).")
    if broken:
        raise BadKey(
            f"{source} has white space inside it (a space, tab or line break): a key is one base64 word. "
            "Copy it again without the break, or generate one with `fleetlab key new`."
        )
    if len(raw) != KEY_BYTES:
        raise BadKey(
            f"{source} decodes to {len(raw)} bytes; an AES-256 key is exactly {KEY_BYTES} bytes. "
            "Generate one with `fleetlab key new`."
        )
    return raw


def new_key() -> str:
    """A fresh random key, base64-encoded (the form the platform's ENCRYPTION_KEY takes)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64_lenient(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional (Node's Buffer.from(…, 'base64') reads both);
    None when `text` is not base64."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)  # the common case: standard, padded
    except (binascii.Error, ValueError):
        pass
    if _B64.match(text):
        text = text.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
    return None


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise SecretError(f"the stored password's {what} is {_json_type(text)}, not a string: it was altered.")
    raw = _b64_lenient(text)
    if raw is None:
        raise SecretError(f"the stored password's {what} is not valid base64: it was altered.")
    return raw


def _json_type(value: object) -> str:
    """What a parsed JSON value is, in words (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string" if isinstance(value, str) else type(value).__name__


def _looks_like(text: str) -> str:
    """What stored text that is not an encrypted password looks like, in words (never the text)."""
    if not text:
        return "empty text"
    first = text[0]
    if first == "[":
        return "a JSON array"
    if first == '"':
        return "a JSON string"
    if first in "-0123456789":
        return "a number"
    if text in ("null", "true", "false"):
        return f"JSON {text}"
    return f"{len(text):,} characters of other text"


def _shown_kid(kid: str) -> str:
    """A key id fit to print: fleetlab's are hex; anything else in that place is not echoed."""
    return kid[:16] if _KID.match(kid) else "(an id that is not fleetlab's)"


@dataclass(frozen=True)
class Opened:
    """A decrypted stored password: the plaintext, the id of the key that opened it, its format."""

    plaintext: str = field(repr=False)
    key_id: str
    format: str  # "json" (the platform's) or "v1" (fleetlab's earlier one)
    has_kid: bool


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

    @cached_property
    def _by_id(self) -> dict[str, bytes]:
        keys = {key_id(k): k for k in self.previous}
        keys[self.current_id] = self.current
        return keys

    @cached_property
    def _ciphers(self) -> dict[bytes, AESGCM]:
        """One AESGCM per key, made once: checking a million rows must not redo the key schedule."""
        return {k: AESGCM(k) for k in (self.current, *self.previous)}

    def encryptor(self) -> Encryptor:
        return Encryptor(self.current)

    def encrypt(self, plaintext: str) -> str:
        """The platform's JSON for `plaintext` under the current key, with a fresh nonce."""
        return self.encryptor().encrypt(plaintext)

    def decrypt(self, token: str, row_id: str | None = None) -> str:
        """The plaintext of a stored password, or SecretError (altered, or no key opens it).

        `row_id` (the gateway row's id) is needed only by fleetlab's earlier `v1.` values.
        """
        return self.open(token, row_id).plaintext

    def open(self, token: str, row_id: str | None = None) -> Opened:
        """Like decrypt, and say which key opened the value and in which format it was stored."""
        if not isinstance(token, str):
            what = "NULL" if token is None else f"not text ({type(token).__name__})"
            raise SecretError(f"the stored password is {what}.")
        if len(token) > MAX_STORED:
            raise SecretError(
                f"the stored password is {len(token):,} characters long, more than any encrypted password "
                f"({MAX_STORED:,} at most): it was altered."
            )
        text = token.strip()
        if text.startswith("{"):
            return self._open_json(text)
        if text.startswith(LEGACY_VERSION + "."):
            if row_id is None:
                raise SecretError("this value is in fleetlab's earlier v1 format, which needs the gateway row's id.")
            return self._open_v1(text, password_aad(str(row_id)))
        raise SecretError(
            f"not an encrypted password ({_looks_like(text)}): expected the platform's JSON "
            '{"encrypted", "iv", "authTag"} (or fleetlab\'s earlier v1.<key id>.<data>).'
        )

    def _open_json(self, text: str) -> Opened:
        try:
            obj = json.loads(text)
        except RecursionError:  # the C parser's depth guard: the platform's object is flat
            raise SecretError(
                "the stored password is JSON nested too deeply to be the platform's: it was altered."
            ) from None
        except ValueError:  # malformed JSON, and integers of more than 4,300 digits
            raise SecretError("the stored password is not valid JSON: it was altered or truncated.") from None
        if not isinstance(obj, dict):
            raise SecretError("the stored password is not a JSON object with encrypted, iv and authTag.")
        encrypted, iv, auth_tag = obj.get("encrypted"), obj.get("iv"), obj.get("authTag")
        if not (encrypted and iv and auth_tag):  # the platform's own test
            missing = [k for k, v in (("encrypted", encrypted), ("iv", iv), ("authTag", auth_tag)) if not v]
            raise SecretError(
                f"the stored password has no {', '.join(missing)} (the platform's format needs all three)."
            )
        ciphertext = _unb64(encrypted, "ciphertext")
        nonce = _unb64(iv, "iv")
        tag = _unb64(auth_tag, "authTag")
        if len(tag) != TAG_BYTES:
            raise SecretError(f"the stored password's authTag is {len(tag)} bytes, not {TAG_BYTES}: it was altered.")
        if not 8 <= len(nonce) <= 128:
            raise SecretError(f"the stored password's iv is {len(nonce)} bytes: it was altered.")
        kid = obj.get("kid")
        if kid is not None:
            if not isinstance(kid, str):
                raise SecretError(f"the stored password's kid is {_json_type(kid)}, not a key id: it was altered.")
            key = self._by_id.get(kid)
            if key is None:
                raise SecretError(
                    f"this value was encrypted with key {_shown_kid(kid)}, which is not in the keyring; set that key "
                    "in FLEETLAB_SECRET_KEY (or ENCRYPTION_KEY) or FLEETLAB_PREVIOUS_SECRET_KEYS."
                )
            candidates = [key]
        else:  # written by the platform: whichever of our keys authenticates it
            candidates = [self.current, *self.previous]
        for key in candidates:
            try:
                plain = self._ciphers[key].decrypt(nonce, ciphertext + tag, None)
            except InvalidTag:
                continue
            return Opened(_utf8(plain), key_id(key), "json", kid is not None)
        if kid is not None:
            raise SecretError(
                "the ciphertext does not authenticate: it was altered, or encrypted with another key of the same id."
            )
        raise SecretError(
            f"the ciphertext does not authenticate with any key of the keyring ({1 + len(self.previous)} key(s)): "
            "it was altered, or written with another key; give the platform's ENCRYPTION_KEY to fleetlab "
            "(as ENCRYPTION_KEY, FLEETLAB_SECRET_KEY or in FLEETLAB_PREVIOUS_SECRET_KEYS)."
        )

    def _open_v1(self, text: str, aad: str) -> Opened:
        parts = text.split(".")
        if len(parts) != 3:
            raise SecretError("not a fleetlab v1 ciphertext (expected v1.<key id>.<data>).")
        kid, data = parts[1], parts[2]
        key = self._by_id.get(kid)
        if key is None:
            raise SecretError(
                f"this value was encrypted with key {_shown_kid(kid)}, which is not in the keyring; set that key in "
                "FLEETLAB_SECRET_KEY or FLEETLAB_PREVIOUS_SECRET_KEYS."
            )
        try:
            blob = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            raise SecretError("the ciphertext is not valid base64: it was altered.") from None
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise SecretError("the ciphertext is too short: it was altered or truncated.")
        try:
            plain = self._ciphers[key].decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise SecretError(
                "the ciphertext does not authenticate: it was altered, belongs to another row, or was "
                "encrypted with another key of the same id."
            ) from None
        return Opened(_utf8(plain), kid, "v1", True)


def _utf8(plain: bytes) -> str:
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError("the decrypted password is not UTF-8 text.") from None


class Encryptor:
    """Encrypts many values with one key; reuses the AESGCM object (the hot path of a large seed)."""

    def __init__(self, key: bytes):
        self._aes = AESGCM(key)
        self.key_id = key_id(key)
        self.template = _TEMPLATE % self.key_id

    def encrypt(self, plaintext: str, nonce: bytes | None = None) -> str:
        """The stored form of `plaintext`. `nonce` is for test vectors only: never reuse one."""
        if not plaintext:
            raise SecretError("a gateway password must not be empty (the platform cannot decrypt an empty one).")
        nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
        return self.stored(nonce, self._aes.encrypt(nonce, plaintext.encode("utf-8"), None))

    def stored(self, nonce: bytes, sealed: bytes) -> str:
        """The stored JSON of a nonce and its ciphertext || tag (what `seal_many` returns per value)."""
        return self.template.format(_b64(sealed[:-TAG_BYTES]), _b64(nonce), _b64(sealed[-TAG_BYTES:]))

    def seal_many(self, plaintexts: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        """A fresh random nonce and ciphertext || tag per value: `encrypt` in bulk before base64 (the
        caller encodes into `template`; see load.encrypt_passwords)."""
        joined = os.urandom(NONCE_BYTES * len(plaintexts))
        nonces = [joined[i : i + NONCE_BYTES] for i in range(0, len(joined), NONCE_BYTES)]
        seal = self._aes.encrypt
        return nonces, [seal(nonce, plain, None) for nonce, plain in zip(nonces, plaintexts, strict=True)]


def password_aad(row_id: str) -> str:
    """The associated data of fleetlab's earlier v1 format, which bound a password to its row."""
    return f"gateways:{row_id}:password"


def keyring_for(settings: Settings, *, create: bool) -> Keyring:
    """The keys for gateway passwords that `settings` name (see load_keyring); `create` makes a missing key file."""
    return load_keyring(
        settings.secret_key,
        settings.previous_secret_keys,
        settings.key_file,
        create=create,
        platform_key=settings.platform_key,
    )


def load_keyring(
    secret_key: str | None,
    previous: tuple[str, ...],
    key_file: Path | None,
    *,
    create: bool,
    platform_key: str | None = None,
) -> Keyring:
    """The keyring from the environment's keys or, without one, the key file.

    FLEETLAB_SECRET_KEY (`secret_key`) wins over the platform's ENCRYPTION_KEY (`platform_key`); when
    both are set and differ, ENCRYPTION_KEY still decrypts. With `create`, a missing key file is
    generated (mode 0600).
    """
    prev = [decode_key(p, f"key #{i + 1} of FLEETLAB_PREVIOUS_SECRET_KEYS") for i, p in enumerate(previous)]
    platform = decode_key(platform_key, "ENCRYPTION_KEY") if platform_key is not None else None
    if secret_key is not None:
        current = decode_key(secret_key, "FLEETLAB_SECRET_KEY")
        if platform is not None and platform != current:
            prev.insert(0, platform)
        return Keyring(current, tuple(prev))
    if platform is not None:
        return Keyring(platform, tuple(prev))
    if key_file is None:
        raise SecretError(
            "no secret key: set FLEETLAB_SECRET_KEY or ENCRYPTION_KEY (generate one with `fleetlab key new`)."
        )
    if not key_file.exists():
        if not create:
            raise SecretError(
                f"no secret key: {key_file} does not exist and neither FLEETLAB_SECRET_KEY nor ENCRYPTION_KEY is "
                "set. Run `fleetlab reset` to create one, or set FLEETLAB_SECRET_KEY."
            )
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key() + "\n")
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        raise SecretError(f"the key file {key_file} is readable by others (mode {mode:o}); run `chmod 600 {key_file}`.")
    return Keyring(decode_key(key_file.read_text(), f"the key file {key_file}"), tuple(prev))


def decrypt_password(keyring: Keyring, token: str, row_id: str | None = None) -> str:
    """Inspect a stored gateway password: its plaintext (`row_id` only for fleetlab's earlier v1 values)."""
    return keyring.decrypt(token, None if row_id is None else str(row_id))
