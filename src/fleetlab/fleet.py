"""A fleet: the rows of the three tables as polars frames, ready to COPY.

Columns are those of the tables minus `password_encrypted` (encrypted at load time from the
plaintext, so a preview of a fleet never holds a secret). `created_at` and `updated_at` come from
the scenario too (not the database's `now()`), so the same scenario gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

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
SCHEMAS = {"organizations": ORGANIZATION_SCHEMA, "factories": FACTORY_SCHEMA, "gateways": GATEWAY_SCHEMA}
TABLES = ("organizations", "factories", "gateways")


@dataclass
class Fleet:
    """Generated rows of one scenario. `seed` keys the gateway passwords, unless `password` gives
    one plaintext for every gateway (the original seed's)."""

    organizations: pl.DataFrame
    factories: pl.DataFrame
    gateways: pl.DataFrame
    seed: int = 0
    scenario: dict[str, Any] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)

    def frames(self) -> dict[str, pl.DataFrame]:
        return {"organizations": self.organizations, "factories": self.factories, "gateways": self.gateways}

    def counts(self) -> dict[str, int]:
        return {name: frame.height for name, frame in self.frames().items()}


def plan(spec) -> Fleet:
    """The fleet of `spec`, ready to load: the hand-written Acme rows, or a generator plan whose
    gateways are made chunk by chunk. The generator (and numpy) is imported only when needed,
    which keeps the default reset quick to start."""
    if spec.source == "acme":
        from .acme import from_spec

        return from_spec(spec)
    from .generator import plan as generated

    return generated(spec)
