"""Keyed determinism: every value derives from (seed, the entity's path), never from a shared stream.

Adding a gateway, a factory or a new field therefore changes no existing row.
"""

from __future__ import annotations

import base64
import hashlib
import uuid


def digest(seed: int, *path: object) -> bytes:
    """32 bytes determined by the seed and the path, e.g. digest(7, "org", 3, "factory", 2)."""
    key = f"fleetlab:{seed}".encode()
    msg = "/".join(str(p) for p in path).encode()
    return hashlib.blake2b(msg, key=key[:64], digest_size=32).digest()


def keyed_uuid(seed: int, *path: object) -> str:
    """A version-4-shaped UUID fixed by the seed and the path."""
    return str(uuid.UUID(bytes=digest(seed, "uuid", *path)[:16], version=4))


def keyed_password(seed: int, row_id: str) -> str:
    """A gateway's plaintext password: fixed by the seed and the row, 24 URL-safe characters."""
    return base64.urlsafe_b64encode(digest(seed, "password", row_id)[:18]).decode()


def keyed_passwords(seed: int, row_ids: list[str]) -> list[bytes]:
    """keyed_password for many rows at once, as ASCII bytes (the hot path of a large load)."""
    base = hashlib.blake2b(key=f"fleetlab:{seed}".encode()[:64], digest_size=32)
    digests = []
    for rid in row_ids:
        h = base.copy()
        h.update(f"password/{rid}".encode())
        digests.append(h.digest()[:18])
    text = base64.urlsafe_b64encode(b"".join(digests))  # 18 bytes → exactly 24 characters each
    return [text[i : i + 24] for i in range(0, len(text), 24)]
