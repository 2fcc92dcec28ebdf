"""A fleet: the rows of the three tables as polars frames, and what a loader needs of one.

Columns (`SCHEMAS`) are those of the tables minus `password_encrypted`. Rows come finished from
whoever made them: a fleet's gateway chunks (`Loadable.chunks`) also carry each gateway's password in
the clear (`PASSWORD`, made with the other values), which the store only encrypts and copies. Frames
for people (a `Fleet`'s `gateways`, `head`) leave it out, so a preview of a fleet never holds a
secret. `created_at` and `updated_at` come from the scenario too (not the database's `now()`), so
the same scenario gives the same rows.

Two kinds of fleet are `Loadable`: a `Fleet` (every row in memory, e.g. the original seed's) and a
generator plan (`fleetlab.generation.generator.FleetPlan`: organizations and factories in memory,
gateways made chunk by chunk while they load). Loading, previews and samples use only the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from ..errors import SpecError
from .tables import TABLES

TIMESTAMPS: dict[str, pl.DataType] = {
    "created_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
    "deleted_at": pl.Datetime("us", "UTC"),
}
ORGANIZATION_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "name": pl.String(),
    "metadata": pl.String(),  # JSON text
    **TIMESTAMPS,
}
FACTORY_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "organization_id": pl.String(),
    "name": pl.String(),
    "location": pl.String(),
    "timezone": pl.String(),
    "metadata": pl.String(),
    **TIMESTAMPS,
}
GATEWAY_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "factory_id": pl.String(),
    "gateway_id": pl.String(),
    "name": pl.String(),
    "url": pl.String(),
    "email": pl.String(),
    "model": pl.String(),
    "firmware_version": pl.String(),
    "last_seen_at": pl.Datetime("us", "UTC"),
    "metadata": pl.String(),
    **TIMESTAMPS,
}
SCHEMAS = dict(zip(TABLES, (ORGANIZATION_SCHEMA, FACTORY_SCHEMA, GATEWAY_SCHEMA), strict=True))
PASSWORD = "password"  # a gateway chunk's plaintext password, the store's to encrypt (never in SCHEMAS)
GATEWAY_ROWS: dict[str, pl.DataType] = {**GATEWAY_SCHEMA, PASSWORD: pl.String()}  # a gateway chunk's columns


def copy_columns(table: str) -> list[str]:
    """The columns a load writes into `table`: the frame's, and the encrypted password for gateways."""
    return [*SCHEMAS[table], "password_encrypted"] if table == "gateways" else list(SCHEMAS[table])


class Loadable(Protocol):
    """Something `fleetlab.store.load` can write: finished rows per table, in chunks; `scenario` is
    what the marker records."""

    scenario: dict[str, Any]

    def counts(self) -> dict[str, int]: ...

    def deleted_counts(self) -> dict[str, int]:
        """Rows per table whose own `deleted_at` is set (soft-deleted), as `counts()` counts all rows."""
        ...

    def chunks(self, table: str, rows: int, which: Iterable[int] | None = None) -> Iterator[pl.DataFrame]:
        """The rows of `table` in frames of `rows` rows (the last one shorter), gateways with their
        plaintext `PASSWORD` too (`GATEWAY_ROWS`); with `which`, only the frames of those numbers
        (from 0), in that order, the others not even made: the parallel loader's streams claim
        frames one by one."""
        ...

    def materialize(self) -> Fleet: ...


@dataclass
class Fleet:
    """Rows of one scenario, every one in memory; `passwords` is the gateways' plaintext `PASSWORD`
    column (from whoever made the rows), one per row of `gateways`, in order."""

    organizations: pl.DataFrame
    factories: pl.DataFrame
    gateways: pl.DataFrame
    passwords: pl.Series = field(repr=False)
    scenario: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.passwords) != self.gateways.height:
            raise ValueError(
                f"a fleet needs one password per gateway: {len(self.passwords)} for {self.gateways.height}"
            )

    def frames(self) -> dict[str, pl.DataFrame]:
        return {"organizations": self.organizations, "factories": self.factories, "gateways": self.gateways}

    def counts(self) -> dict[str, int]:
        return {name: frame.height for name, frame in self.frames().items()}

    def deleted_counts(self) -> dict[str, int]:
        return {name: frame["deleted_at"].is_not_null().sum() for name, frame in self.frames().items()}

    def chunks(self, table: str, rows: int, which: Iterable[int] | None = None) -> Iterator[pl.DataFrame]:
        """The rows of `table` in slices of `rows` (with `which`, the slices of those numbers)."""
        frame = self.frames()[table]
        if table == "gateways":
            frame = frame.with_columns(self.passwords.alias(PASSWORD))
        for i in range(-(-frame.height // rows)) if which is None else which:
            yield frame.slice(i * rows, rows)

    def materialize(self) -> Fleet:
        return self

    def shard(self, k: int, n: int) -> Fleet:
        """The k-th of n disjoint parts (see `check_shard`): every n-th organization from the k-th,
        with its factories and their gateways."""
        check_shard(k, n)
        orgs = self.organizations.filter(pl.int_range(pl.len()) % n == k)
        factories = self.factories.filter(pl.col("organization_id").is_in(orgs["id"].implode()))
        theirs = self.gateways["factory_id"].is_in(factories["id"].implode())
        gateways, passwords = self.gateways.filter(theirs), self.passwords.filter(theirs)
        return Fleet(orgs, factories, gateways, passwords, shard_record(self.scenario, k, n))


def check_shard(k: object, n: object) -> None:
    """A shard is (k, n): the k-th (0 <= k < n) of n parts split by organization, every n-th from the k-th."""
    if not (isinstance(k, int) and isinstance(n, int)) or isinstance(k, bool) or isinstance(n, bool):
        raise SpecError([f"a shard is two whole numbers K/N, not {k!r}/{n!r}"])
    if not 1 <= n <= 100_000 or not 0 <= k < n:
        raise SpecError(
            [f"shard {k}/{n}: N must be between 1 and 100000 and K between 0 and N-1 (shards are numbered from 0)"]
        )


def shard_record(scenario: dict[str, Any], k: int, n: int) -> dict[str, Any]:
    """The marker's record of a shard: the whole fleet's, and which part this is."""
    return {**scenario, "shard": [k, n]} if n > 1 else dict(scenario)


def head(fleet: Loadable, table: str, n: int) -> pl.DataFrame:
    """The first `n` rows of `table` in `fleet` (made, not loaded: for previews and samples), without
    the passwords."""
    return next(iter(fleet.chunks(table, n)), pl.DataFrame(schema=SCHEMAS[table])).head(n).select(list(SCHEMAS[table]))
