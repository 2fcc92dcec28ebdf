"""The explore notebook's charts say what their titles say: their data, order and labels (no server needed)."""

from __future__ import annotations

import json

import polars as pl

from fleetlab.app import charts, explore


def per_factory() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "organization_id": ["o1", "o1", "o2", "o2"],
            "organization": ["Acme", "Acme", "Bolt", "Bolt"],
            "factory_id": ["f1", "f2", "f3", "f4"],
            "factory": ["Berlin Werk", "Austin Plant", "Berlin Werk", "Lyon Usine"],
            "gateways": [10, 50, 20, 5],
            "online": [9, 40, 5, 5],
            "recent": [0, 5, 5, 0],
            "stale": [1, 5, 6, 0],
            "never_seen": [0, 0, 4, 0],
        }
    )


def values(chart) -> list[dict]:
    spec = chart.to_dict()
    return next(iter(spec["datasets"].values()))


def test_gateways_per_factory_puts_the_most_silent_first_and_tells_shared_names_apart():
    spec = charts.gateways_per_factory(per_factory(), top=3).to_dict()
    order = spec["encoding"]["y"]["sort"]
    # silent = stale + never seen: Bolt's Berlin 10, Acme's Austin 5, Acme's Berlin 1 (Lyon, 0, is cut)
    assert order == ["Berlin Werk (Bolt)", "Austin Plant", "Berlin Werk (Acme)"]
    assert "top 3 of 4" in spec["title"]
    assert {v["label"] for v in next(iter(spec["datasets"].values()))} == set(order)


def test_failure_rates_give_factories_of_the_same_name_a_bar_each():
    """Two organizations' "Berlin Werk" are two bars (a shared label would stack them past 100 %)."""
    rows = values(charts.failure_rates(per_factory(), "factory", "Per factory").layer[0])
    labels = [r["value"] for r in rows]
    assert sorted(labels) == ["Austin Plant", "Berlin Werk (Acme)", "Berlin Werk (Bolt)", "Lyon Usine"]
    assert all(0 <= r["rate"] <= 1 for r in rows)
    silent_only = charts.failure_rates(per_factory(), "factory", "Per factory", statuses=("stale",)).to_dict()
    assert "clear the Status filter" in json.dumps(silent_only)
    assert charts.failure_rates(per_factory(), "factory", "x", statuses=("stale", "online")).to_dict()["layer"]
    same = per_factory().with_columns(organization=pl.lit("Acme"))  # one organization, one name twice
    assert len(set(charts._distinct_labels(same, "factory"))) == 4


def test_organization_health_shows_shares_least_healthy_first():
    summary = (
        per_factory().group_by("organization").agg(pl.col("gateways", "online", "recent", "stale", "never_seen").sum())
    )
    chart = charts.organization_health(summary)
    rows = pl.DataFrame(values(chart))
    assert chart.to_dict()["encoding"]["y"]["sort"] == ["Bolt", "Acme"]  # 10/25 silent before 6/60
    shares = rows.group_by("organization").agg(pl.col("share").sum())
    assert (shares["share"] - 1).abs().max() < 1e-12


def test_models_by_firmware_has_a_cell_per_pair_with_its_count():
    mix = pl.DataFrame(
        {
            "model": ["A", "A", "B", None],
            "firmware_version": ["v1", "v2", "v1", "v1"],
            "gateways": [5, 3, 2, 1],
            "share": [5 / 11, 3 / 11, 2 / 11, 1 / 11],
        }
    )
    spec = charts.models_by_firmware(mix).to_dict()
    cells = {(v["model"], v["firmware_version"]): v["gateways"] for v in next(iter(spec["datasets"].values()))}
    assert cells == {("A", "v1"): 5, ("A", "v2"): 3, ("B", "v1"): 2, ("(none)", "v1"): 1}
    layer = spec["layer"][0]["encoding"]
    assert layer["y"]["sort"] == ["A", "B", "(none)"] and layer["x"]["sort"] == ["v1", "v2"]


def test_selections_drill_down_by_name():
    frame = per_factory()
    chosen = explore.of_organizations(frame, pl.DataFrame({"organization": ["Bolt"], "gateways": [25]}))
    assert chosen["factory_id"].to_list() == ["f3", "f4"]
    assert explore.of_organizations(frame, None).height == 4
    picked = explore.chosen_factory(frame, pl.DataFrame({"organization": ["Acme"], "factory": ["Berlin Werk"]}))
    assert picked == {"id": "f1", "label": "Acme / Berlin Werk"}
    assert explore.chosen_factory(frame, None)["id"] == "f3"  # nothing picked: the most silent
    assert explore.chosen_factory(frame.head(0), None) is None


def tooltips(spec) -> list[dict]:
    """Every tooltip entry of a chart spec (layers included)."""
    found = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "tooltip":
                found += value if isinstance(value, list) else [value]
            else:
                found += tooltips(value)
    elif isinstance(spec, list):
        for value in spec:
            found += tooltips(value)
    return found


def test_counts_in_tooltips_read_as_the_tables_print_them():
    """55,180 in a tooltip as in a table, never 55180 (shares as percentages)."""
    from datetime import UTC, datetime

    from fleetlab.app import maps
    from fleetlab.read import sites

    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    mix = pl.DataFrame({"model": ["A", "B"], "gateways": [55_180, 3], "share": [0.9, 0.1]})
    summary = (
        per_factory().group_by("organization").agg(pl.col("gateways", "online", "recent", "stale", "never_seen").sum())
    )
    placed = per_factory().with_columns(latitude=pl.Series([1.0, 2.0, 3.0, 3.0]), longitude=pl.lit(0.0))
    made = [
        charts.gateways_per_factory(per_factory()),
        charts.organization_health(summary),
        charts.mix(mix, "model", "Gateway models"),
        charts.models_by_firmware(mix.with_columns(firmware_version=pl.lit("v1"))),
        charts.last_seen_ages(pl.DataFrame({"age": ["≤ 5 min", "never seen"], "gateways": [55_180, 2]}), as_of),
        maps.site_map(sites.sites(placed)),
    ]
    for chart in made:
        for tip in tooltips(chart.to_dict()):
            if isinstance(tip, dict) and tip.get("type") == "quantitative":
                wanted = ".1%" if tip["field"] in ("share", "silent") else ","
                assert tip.get("format") == wanted, (tip, chart.to_dict().get("title"))


def test_the_maps_size_legend_counts_in_whole_gateways():
    from fleetlab.app import maps
    from fleetlab.read import sites

    placed = per_factory().with_columns(latitude=pl.Series([1.0, 2.0, 3.0, 3.0]), longitude=pl.lit(0.0))
    legends = [
        layer["encoding"]["size"]["legend"]
        for layer in maps.site_map(sites.sites(placed)).to_dict()["layer"]
        if "size" in layer.get("encoding", {})
    ]
    assert legends and all(legend.get("tickMinStep") == 1 and legend.get("format") == ",d" for legend in legends)
