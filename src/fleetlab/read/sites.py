"""Where factories are: their coordinates, and the fleet grouped by site for the explore notebook's map.

A generated factory's metadata holds the latitude and longitude of its city; the original seed's three
factories keep their metadata exactly as the platform seeds it, so theirs come from
`fleetlab.model.platform.SEED_SITES` by location. Metadata the platform's users wrote by hand may hold
anything: only numbers within range count as coordinates, everything else leaves a factory unplaced.
"""

from __future__ import annotations

import polars as pl

from ..model.platform import SEED_SITES


def _degrees(key: str, bound: int) -> str:
    value = f"(f.metadata->>'{key}')::float8"
    return (
        f"CASE WHEN jsonb_typeof(f.metadata->'{key}') = 'number' AND {value} BETWEEN -{bound} AND {bound} "
        f"THEN {value} END"
    )


def _known(column: int) -> str:
    cases = " ".join(f"WHEN '{where}' THEN {point[column]}" for where, point in SEED_SITES.items())
    return f"CASE f.location {cases} END"


# a factory `f`'s coordinates (NULL when it has none): its metadata's, else the original seed's sites'
COORDINATES = f"""coalesce({_degrees("latitude", 90)}, {_known(0)}) AS latitude,
           coalesce({_degrees("longitude", 180)}, {_known(1)}) AS longitude"""

COUNTS = ["gateways", "online", "recent", "stale", "never_seen"]


def sites(per_factory: pl.DataFrame, *, names: int = 3) -> pl.DataFrame:
    """A `gateways_per_factory` frame grouped by site (the same coordinates): one row per site with its
    factories, their gateways by status, and `silent` (the share of its gateways stale or never seen,
    0..1; null without gateways). `label` names up to `names` factories (by name, "+ N more").
    Factories without coordinates are left out (`unplaced` counts them). Largest sites first.

    Columns: latitude, longitude, label, organizations, factories, gateways, online, recent, stale,
    never_seen, silent."""
    placed = per_factory.filter(pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null())
    grouped = (
        placed.sort("factory")
        .group_by("latitude", "longitude")
        .agg(
            pl.col("factory").head(names).str.join(", ").alias("first"),
            pl.col("organization_id").n_unique().alias("organizations"),
            pl.len().alias("factories"),
            *[pl.col(c).sum() for c in COUNTS],
        )
    )
    more = pl.col("factories").cast(pl.Int64) - names  # pl.len() is unsigned: 1 - 3 would wrap to 4294967294
    return grouped.select(
        "latitude",
        "longitude",
        pl.when(more > 0).then(pl.format("{} + {} more", "first", more)).otherwise("first").alias("label"),
        "organizations",
        pl.col("factories").cast(pl.Int64),
        *[pl.col(c).cast(pl.Int64) for c in COUNTS],
        pl.when(pl.col("gateways") > 0)
        .then((pl.col("stale") + pl.col("never_seen")) / pl.col("gateways"))
        .alias("silent"),
    ).sort(["gateways", "factories", "latitude", "longitude"], descending=[True, True, False, False])


def unplaced(per_factory: pl.DataFrame) -> int:
    """How many factories of a `gateways_per_factory` frame have no coordinates."""
    return per_factory.filter(pl.col("latitude").is_null() | pl.col("longitude").is_null()).height


def at(per_factory: pl.DataFrame, chosen: pl.DataFrame) -> pl.DataFrame:
    """The factories of `per_factory` at the sites of `chosen` (rows with latitude and longitude, e.g. a
    map's selection); all of them when nothing is chosen."""
    if chosen is None or chosen.height == 0:
        return per_factory
    return per_factory.join(chosen.select("latitude", "longitude").unique(), on=["latitude", "longitude"], how="semi")
