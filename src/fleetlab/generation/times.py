"""Time columns of generated rows, in microseconds since the epoch (the unit of a timestamptz).

Every time is keyed and relative to the spec's `as_of`: an organization joined years before it,
its factories and gateways were onboarded after their parents, deletions and sightings come after.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from .hashing import unit

DAY_US = 86_400_000_000
ONBOARDING_DAYS = 60  # children are created up to this many days after their parents
DELETED_MAX_DAYS = 365  # soft deletes happened up to this long before as_of


def us(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def created(parent_us: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Creation times (µs) of children onboarded up to ONBOARDING_DAYS after their parents."""
    return parent_us + (unit(keys, "created_at") * ONBOARDING_DAYS * DAY_US).astype(np.int64)


def times(created_us: np.ndarray, deleted: pl.Series) -> dict[str, pl.Series]:
    """created_at, updated_at (the soft delete is the last update) and deleted_at columns."""
    created = pl.Series(created_us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    return {"created_at": created, "updated_at": deleted.fill_null(created), "deleted_at": deleted}


def timestamps(as_of_us: int, ago_us: np.ndarray, keep: np.ndarray) -> pl.Series:
    """as_of - ago where `keep`, else NULL, as a UTC microsecond Datetime series."""
    values = pl.Series(as_of_us - ago_us.astype(np.int64), dtype=pl.Int64)
    values = values.set(pl.Series(~keep), None) if not keep.all() else values
    return values.cast(pl.Datetime("us", "UTC"))


def deleted_mask(keys: np.ndarray, fraction: float) -> np.ndarray:
    """Which entities are soft-deleted: a keyed `fraction` of them (no timestamps made)."""
    return unit(keys, "deleted") < fraction


def soft_deleted(
    keys: np.ndarray, fraction: float, as_of_us: int, chosen: np.ndarray | None = None
) -> tuple[np.ndarray, pl.Series]:
    """Which entities are soft-deleted (a keyed `fraction` of them, or those `chosen`) and their deleted_at
    (else NULL): between a day and DELETED_MAX_DAYS before as_of."""
    deleted = deleted_mask(keys, fraction) if chosen is None else chosen
    ago = DAY_US + (unit(keys, "deleted_at") * (DELETED_MAX_DAYS - 1) * DAY_US).astype(np.int64)
    return deleted, timestamps(as_of_us, ago, deleted)
