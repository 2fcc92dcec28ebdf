"""Comparing scenarios without loading them: built fleets side by side (the compare notebook)."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from ..model.status import clock_of, status_expr
from ..model.tables import TABLES
from . import options


def scenario_fleet(name: str, as_of: str | None = None):
    """The fleet of scenario `name` (at `as_of`, ISO-8601, when given), built but not loaded."""
    from ..generation.fleets import plan

    return plan(options.spec_for(name, {"as_of": as_of}))


DIMENSIONS = ("status", "model", "firmware_version", "locale")


def aggregates(fleet, as_of: str | None = None) -> dict[str, pl.DataFrame]:
    """Exact figures of a fleet, every gateway counted (its chunks streamed once, never all in memory):

    - "sizes": rows per table, active and soft-deleted (a row is active when it and its parents are);
    - per dimension (status, model, firmware_version, locale of the organization): active gateways
      per value, with their share.

    Statuses are `fleetlab.model.status`'s, against `as_of` (ISO-8601 with a time zone; else the
    fleet's own as_of, else now) and the scenario's stale_after_hours (else 24 h)."""
    clock = clock_of(fleet.scenario, as_of or None)
    orgs, factories = fleet.organizations, fleet.factories
    org_rows = orgs.select(
        pl.col("id").alias("organization_id"),
        pl.col("deleted_at").is_not_null().alias("org_deleted"),
        pl.col("metadata").str.json_path_match("$.locale").fill_null("(none)").alias("locale"),
    )
    parents = factories.select(
        pl.col("id").alias("factory_id"), "organization_id", pl.col("deleted_at").is_not_null().alias("factory_deleted")
    ).join(org_rows, on="organization_id", how="left")
    status = status_expr(clock)
    parts: dict[str, list[pl.DataFrame]] = {d: [] for d in DIMENSIONS}
    total = deleted = 0
    for chunk in fleet.chunks("gateways", 100_000):
        rows = chunk.select("factory_id", "model", "firmware_version", "last_seen_at", "deleted_at").join(
            parents, on="factory_id", how="left"
        )
        total += rows.height
        deleted += rows.filter(pl.col("deleted_at").is_not_null()).height
        active = rows.filter(pl.col("deleted_at").is_null() & ~pl.col("factory_deleted") & ~pl.col("org_deleted"))
        active = active.with_columns(status.alias("status"))
        for d in DIMENSIONS:
            parts[d].append(active.group_by(d).len("gateways"))
    out = {}
    for d in DIMENSIONS:
        counted = pl.concat(parts[d]) if parts[d] else pl.DataFrame(schema={d: pl.String, "gateways": pl.UInt32})
        out[d] = (
            counted.group_by(d)
            .agg(pl.col("gateways").sum().cast(pl.Int64))
            .with_columns(pl.col(d).cast(pl.String).fill_null("(none)"))
            .with_columns((pl.col("gateways") / pl.col("gateways").sum()).alias("share"))
            .sort(["gateways", d], descending=[True, False])
        )
    active_factories = parents.filter(~pl.col("factory_deleted") & ~pl.col("org_deleted")).height
    out["sizes"] = pl.DataFrame(
        {
            "table": list(TABLES),
            "rows": [orgs.height, factories.height, total],
            "active": [
                org_rows.filter(~pl.col("org_deleted")).height,
                active_factories,
                int(out["status"]["gateways"].sum()),
            ],
            "soft_deleted": [org_rows["org_deleted"].sum(), parents["factory_deleted"].sum(), deleted],
        }
    )
    return out


def side_by_side(figures: Mapping[str, Mapping[str, pl.DataFrame]], dimension: str) -> pl.DataFrame:
    """One dimension of several fleets' `aggregates` in one long frame: fleet, value, gateways, share."""
    return pl.concat(
        [
            f[dimension]
            .rename({dimension: "value"})
            .with_columns(pl.lit(label).alias("fleet"))
            .select("fleet", "value", "gateways", "share")
            for label, f in figures.items()
        ]
    )


def sizes(figures: Mapping[str, Mapping[str, pl.DataFrame]]) -> pl.DataFrame:
    """The fleets' "sizes" one under the other, each table's two fleets together: columns table, fleet,
    rows, active, soft-deleted (narrow enough to read whole, where seven columns side by side were not)."""
    parts = [
        f["sizes"]
        .select(
            pl.Series("table", list(TABLES)),
            pl.lit(label).alias("fleet"),
            "rows",
            "active",
            pl.col("soft_deleted").alias("soft-deleted"),
        )
        .with_row_index("order")
        for label, f in figures.items()
    ]
    return pl.concat(parts).sort("order", maintain_order=True).drop("order")
