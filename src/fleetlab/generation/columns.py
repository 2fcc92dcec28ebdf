"""Columns built without a Python loop: UUID text, passwords and other fixed-width strings.

numpy fills an (n, width) array of ASCII bytes; Arrow takes it as a string column with no copy per
row. This is what makes a million generated UUIDs or passwords cost milliseconds.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from .hashing import U64, draw

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuids(a: np.ndarray, b: np.ndarray) -> pl.Series:
    """Version-4-shaped UUID strings from two 64-bit words per row (vectorised formatting)."""
    n = len(a)
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :8] = a.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 8:] = b.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in (
        (slice(0, 8), slice(0, 8)),
        (slice(8, 12), slice(9, 13)),
        (slice(12, 16), slice(14, 18)),
        (slice(16, 20), slice(19, 23)),
        (slice(20, 32), slice(24, 36)),
    ):
        out[:, dst] = hexed[:, src]
    return fixed_width_strings(out)


def entity_uuids(ids: np.ndarray) -> pl.Series:
    """UUIDs from the id-lane keys of entities (two derived words: 128 bits of keyed identity)."""
    return uuids(*uuid_words(ids))


def uuid_words(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two 64-bit words (big-endian) of the UUIDs `entity_uuids` makes from `ids`, version and
    variant bits set: the UUIDs' 16 bytes, which key a gateway's password (`keyed.uuid_passwords`)."""
    a = (draw(ids, "uuid:hi") & ~U64(0xF000)) | U64(0x4000)
    b = (draw(ids, "uuid:lo") & U64(0x3FFF_FFFF_FFFF_FFFF)) | U64(0x8000_0000_0000_0000)
    return a, b


def fixed_width_strings(chars: np.ndarray) -> pl.Series:
    """A polars String series from an (n, width) uint8 array of ASCII, without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pl.Series(pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data)))
