"""Keyed determinism: every value derives from (seed, the entity's path), never from a shared stream.

Adding a gateway, a factory or a new field therefore changes no existing row.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

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
    """keyed_password for many rows at once (a list or polars Series of UUID text): what the generator
    made from the UUIDs' words (`uuid_passwords`), made again from their text."""
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
    """The two 64-bit words (big-endian) of each UUID in `ids`, as an (n, 2) uint64 array (as the uuid
    module reads the text; raises on a non-UUID). Not a hot path: a fleet's rows are made from the words."""
    import numpy as np

    raw = b"".join(uuid.UUID(i).bytes for i in ids)
    return np.frombuffer(raw, dtype=">u8").reshape(len(ids), 2).astype(np.uint64)
