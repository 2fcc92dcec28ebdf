"""The compare notebook's exact figures: counted in memory from the generated fleet, they must be what
PostgreSQL counts once the same fleet is loaded (issue 14)."""

from __future__ import annotations

import polars as pl

from fleetlab.app import charts, compare
from fleetlab.read.query import read_sql
from fleetlab.read.workbench import Workbench
from fleetlab.store.reset import seed

AS_OF = "2026-01-01T00:00:00Z"


def test_aggregates_are_the_loaded_fleets_figures(settings, db_url):
    fleet = compare.scenario_fleet("multi-tenant", AS_OF)
    figures = compare.aggregates(fleet, AS_OF)
    seed(settings, fleet)

    summary = Workbench(db_url).fleet_summary()
    status = figures["status"].select("status", "gateways").sort("status")
    from_sql = (
        summary.select([pl.col(s).sum().alias(s) for s in charts.STATUSES])
        .unpivot(variable_name="status", value_name="gateways")
        .sort("status")
    )
    assert status.equals(from_sql.cast(status.schema))
    for dimension, frame in (
        ("model", Workbench(db_url).model_distribution()),
        ("firmware_version", Workbench(db_url).firmware_distribution()),
    ):
        mine = figures[dimension].select(dimension, "gateways").sort(dimension)
        assert mine.equals(frame.select(dimension, "gateways").sort(dimension).cast(mine.schema)), dimension
        assert abs(figures[dimension]["share"].sum() - 1) < 1e-9
    locales = read_sql(
        """SELECT o.metadata->>'locale' AS locale, count(*) AS gateways
           FROM gateways g JOIN factories f ON f.id = g.factory_id JOIN organizations o ON o.id = f.organization_id
           WHERE g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL GROUP BY 1""",
        url=db_url,
    ).sort("locale")
    mine = figures["locale"].select("locale", "gateways").sort("locale")
    assert mine.equals(locales.cast(mine.schema))

    sizes = figures["sizes"]
    with_deleted = read_sql(
        "SELECT (SELECT count(*) FROM organizations) AS o, (SELECT count(*) FROM factories) AS f, "
        "(SELECT count(*) FROM gateways) AS g, (SELECT count(*) FROM gateways WHERE deleted_at IS NOT NULL) AS dg",
        url=db_url,
    ).row(0)
    assert sizes["rows"].to_list() == list(with_deleted[:3])
    assert sizes["soft_deleted"][2] == with_deleted[3]
    assert sizes["active"].to_list() == [summary.height, summary["factories"].sum(), summary["gateways"].sum()]


def test_two_fleets_share_one_scale():
    figures = {
        label: compare.aggregates(compare.scenario_fleet(name, AS_OF), AS_OF)
        for label, name in (("left", "default"), ("right", "stale-fleet"))
    }
    long = compare.side_by_side(figures, "status")
    assert set(long["fleet"]) == {"left", "right"}
    spec = charts.compared(long, "Connectivity status").to_dict()
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 1] and spec["encoding"]["x"]["axis"]["format"] == "%"
    table = compare.sizes(figures)
    assert table.columns == ["table", "fleet", "rows", "active", "soft-deleted"]
    assert table.select("table", "fleet").rows()[:3] == [
        ("organizations", "left"),
        ("organizations", "right"),
        ("factories", "left"),
    ]
    right = table.filter(pl.col("fleet") == "right")
    assert right["rows"].to_list() == figures["right"]["sizes"]["rows"].to_list()
