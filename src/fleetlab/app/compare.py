"""Comparing scenarios without loading them: built fleets side by side (the compare notebook)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from ..model.fleet import head
from ..model.tables import TABLES
from . import options


def scenario_fleet(name: str, as_of: str | None = None):
    """The fleet of scenario `name` (at `as_of`, ISO-8601, when given), built but not loaded."""
    from ..build.fleets import plan

    return plan(options.spec_for(name, {"as_of": as_of}))


def compare_counts(fleets: Mapping[str, Any]) -> pl.DataFrame:
    """Rows per table of each fleet {label: fleet}, one column per fleet."""
    return pl.DataFrame({"table": list(TABLES), **{label: [f.counts()[t] for t in TABLES] for label, f in fleets.items()}})


def sample_gateways(fleet, n: int = 20_000) -> pl.DataFrame:
    """Up to `n` gateways of `fleet` (in order): enough for a mix, cheap for a million."""
    return head(fleet, "gateways", n)


def mix_of(gateways: pl.DataFrame, column: str) -> pl.DataFrame:
    """Gateways per value of `column`, most common first, with its share."""
    return (
        gateways.group_by(column)
        .len("gateways")
        .with_columns((pl.col("gateways") / pl.col("gateways").sum()).alias("share"))
        .sort(["gateways", column], descending=[True, False])
    )
