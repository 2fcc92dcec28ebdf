"""Keyed determinism: every value derives from (seed, the entity's path), never from a shared stream.

Adding a gateway, a factory or a new field therefore changes no existing row.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from functools import cache

import polars as pl

from ..model.fleet import PASSWORD


def digest(seed: int, *path: object) -> bytes:
    """32 bytes determined by the seed and the path, e.g. digest(7, "org", 3, "factory", 2)."""
    key = f"fleetlab:{seed}".encode()
    msg = "/".join(str(p) for p in path).encode()
    return hashlib.blake2b(msg, key=key[:64], digest_size=32).digest()


def keyed_uuid(seed: int, *path: object) -> str:
    """A version-4-shaped UUID fixed by the seed and the path."""
    return str(uuid.UUID(bytes=digest(seed, "uuid", *path)[:16], version=4))


def keyed_password(seed: int, row_id: str) -> str:
    """A gateway's plaintext password: fixed by the seed and the row's UUID, 24 URL-safe characters."""
    return keyed_passwords(seed, [row_id])[0]


def keyed_passwords(seed: int, row_ids) -> pl.Series:
    """keyed_password for many rows at once (a list or polars Series of UUID text)."""
    ids = row_ids if isinstance(row_ids, list) else list(row_ids)
    if not ids:
        return pl.Series(PASSWORD, [], dtype=pl.String)
    words = _uuid_words(ids)
    return uuid_passwords(seed, words[:, 0], words[:, 1])


def uuid_passwords(seed: int, a, b) -> pl.Series:
    """The passwords of the gateways whose UUIDs' 16 bytes are the 64-bit words `a` and `b` (big-endian):
    the generator's `password` column, made from the words before they become UUID text.

    Vectorised, as every gateway of a large fleet has one: the UUID's 128 bits, hashed with the seed
    (splitmix64, `fleetlab.generation.hashing`), give three 64-bit lanes, whose first 18 bytes are the
    password in URL-safe base64 (144 bits)."""
    import numpy as np

    from .columns import fixed_width_strings
    from .hashing import mix, root, tag

    n = len(a)
    base = mix(mix(a ^ root(seed, "password")) ^ b)
    lanes = np.stack([mix(base ^ tag(f"password:{i}")) for i in range(3)], axis=1).astype(">u8")
    raw = lanes.view(np.uint8).reshape(n, 24)[:, :18]
    text = base64.urlsafe_b64encode(raw.tobytes())  # 18 bytes → exactly 24 characters each
    return fixed_width_strings(np.frombuffer(text, dtype=np.uint8).reshape(n, 24)).alias(PASSWORD)


def _uuid_words(ids: list[str]):
    """The two 64-bit words (big-endian) of each UUID in `ids`, as an (n, 2) uint64 array."""
    import numpy as np

    text = "".join(ids).encode("utf-8")
    if len(text) == 36 * len(ids):  # canonical text: parsed in bulk
        chars = np.frombuffer(text, dtype=np.uint8).reshape(len(ids), 36)
        value = _hex_values()[np.delete(chars, [8, 13, 18, 23], axis=1)]
        if not (value > 15).any() and (chars[:, [8, 13, 18, 23]] == ord("-")).all():
            raw = ((value[:, 0::2] << 4) | value[:, 1::2]).astype(np.uint8)
            return np.ascontiguousarray(raw).view(">u8").astype(np.uint64)
    # anything else (braces, no dashes): one by one, as the uuid module reads it; raises on a non-UUID
    raw = b"".join(uuid.UUID(i).bytes for i in ids)
    return np.frombuffer(raw, dtype=">u8").reshape(len(ids), 2).astype(np.uint64)


@cache
def _hex_values():
    """The value of each hex digit by its ASCII code (16 for any other byte)."""
    import numpy as np

    table = np.full(256, 16, dtype=np.uint16)
    for i, c in enumerate(b"0123456789abcdef"):
        table[c] = table[c - 32 if c >= ord("a") else c] = i
    return table
