"""Where factories are: coordinates read back from PostgreSQL, sites grouped from them (checked against
SQL), the status filter, and a map that needs no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from fleetlab.app import maps
from fleetlab.errors import ConfigError
from fleetlab.generation.acme import acme_fleet
from fleetlab.generation.fleets import plan
from fleetlab.model.platform import SEED_SITES
from fleetlab.model.scenarios import load_scenario
from fleetlab.read import sites
from fleetlab.read.filters import Filter
from fleetlab.read.workbench import Workbench
from fleetlab.store.crypto import keyring_for
from fleetlab.store.load import load
from fleetlab.store.reset import reset

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def international(settings):
    reset(settings, plan(load_scenario("international").override(organizations="6", as_of="2026-01-01T00:00:00Z")))
    return settings.database_url


def test_generated_factories_are_where_their_metadata_says(international, conn):
    per_factory = Workbench(international).gateways_per_factory()
    stored = pl.DataFrame(
        conn.execute(
            "SELECT id::text, (metadata->>'latitude')::float8, (metadata->>'longitude')::float8 FROM factories "
            "WHERE deleted_at IS NULL"
        ).fetchall(),
        schema=["factory_id", "lat", "lon"],
        orient="row",
    )
    joined = per_factory.join(stored, on="factory_id")
    assert joined.height == per_factory.height > 0
    assert (joined["latitude"] == joined["lat"]).all() and (joined["longitude"] == joined["lon"]).all()
    assert sites.unplaced(per_factory) == 0


def test_sites_add_up_to_what_sql_counts_per_coordinate(international, conn):
    per_factory = Workbench(international).gateways_per_factory()
    grouped = sites.sites(per_factory)
    expected = pl.DataFrame(
        conn.execute(
            """
            SELECT (f.metadata->>'latitude')::float8, (f.metadata->>'longitude')::float8,
                   count(DISTINCT f.id), count(DISTINCT f.organization_id), count(g.id)
            FROM factories f JOIN organizations o ON o.id = f.organization_id
            LEFT JOIN gateways g ON g.factory_id = f.id AND g.deleted_at IS NULL
            WHERE f.deleted_at IS NULL AND o.deleted_at IS NULL
            GROUP BY 1, 2
            """
        ).fetchall(),
        schema=["latitude", "longitude", "factories", "organizations", "gateways"],
        orient="row",
    )
    got = grouped.select(expected.columns).cast(expected.schema).sort("latitude", "longitude")
    assert got.equals(expected.sort("latitude", "longitude"))
    silent = (grouped["stale"] + grouped["never_seen"]) / grouped["gateways"]
    assert (grouped["silent"] - silent).abs().max() < 1e-12
    several = grouped.filter(pl.col("factories") > 3).row(0, named=True) if (grouped["factories"] > 3).any() else None
    if several:
        assert several["label"].endswith(f"+ {several['factories'] - 3} more")


def test_a_chosen_site_keeps_exactly_its_factories(international):
    per_factory = Workbench(international).gateways_per_factory()
    grouped = sites.sites(per_factory)
    chosen = grouped.head(1)
    at = sites.at(per_factory, chosen)
    assert at.height == chosen["factories"][0]
    assert (at["latitude"] == chosen["latitude"][0]).all()
    assert sites.at(per_factory, grouped.head(0)).height == per_factory.height  # nothing chosen: all


def test_the_original_seed_keeps_its_metadata_and_is_placed_by_location(conn, settings):
    fleet = acme_fleet(AS_OF, seed=7)
    load(conn, fleet, keyring_for(settings, create=True))
    conn.commit()
    metadata = dict(conn.execute("SELECT name, metadata FROM factories").fetchall())
    assert metadata["Springfield Plant"] == {"manager": "John Smith", "phone": "555-0101"}
    assert metadata["Austin Facility"] == {"type": "R&D"}
    per_factory = Workbench(settings.database_url).gateways_per_factory()
    for location, (lat, lon) in SEED_SITES.items():
        row = per_factory.filter(pl.col("location") == location)
        assert (row["latitude"][0], row["longitude"][0]) == (lat, lon)


def test_hand_written_metadata_never_breaks_the_map(conn, settings, db_url):
    """Coordinates only when numbers within range: a string, an out-of-range value or a missing key
    leaves the factory unplaced (and counted as such), never an error."""
    conn.execute("INSERT INTO organizations (id, name) VALUES ('0e000000-0000-4000-8000-000000000000', 'Hand Co')")
    for name, meta in [
        ("Text", {"latitude": "north", "longitude": 3}),
        ("Far", {"latitude": 91, "longitude": 3}),
        ("None", {}),
        ("Good", {"latitude": 48.1, "longitude": 11.6}),
    ]:
        conn.execute(
            "INSERT INTO factories (organization_id, name, metadata) VALUES "
            "('0e000000-0000-4000-8000-000000000000', %s, %s::jsonb)",
            (name, json.dumps(meta)),
        )
    conn.commit()
    per_factory = Workbench(db_url).gateways_per_factory()
    assert sites.unplaced(per_factory) == 3
    assert sites.sites(per_factory).select("latitude", "longitude", "factories", "gateways").rows() == [
        (48.1, 11.6, 1, 0)
    ]
    assert sites.sites(per_factory)["silent"][0] is None  # no gateways: no share


def test_status_filter_counts_only_gateways_of_those_statuses(international):
    whole = Workbench(international).fleet_summary()
    stale = Workbench(international).fleet_summary(where=Filter(statuses=("stale", "never_seen")))
    assert stale["gateways"].to_list() == (whole["stale"] + whole["never_seen"]).to_list()
    assert stale["online"].sum() == 0
    models = Workbench(international).model_distribution(where=Filter(statuses=("online",)))
    assert models["gateways"].sum() == whole["online"].sum()
    listed = Workbench(international).stale_gateways(include_never_seen=True, where=Filter(statuses=("never_seen",)))
    assert listed.height == whole["never_seen"].sum() and listed["last_seen_at"].null_count() == listed.height
    with pytest.raises(ConfigError, match="unknown status asleep: choose from online, recent, stale, never_seen"):
        Filter(statuses=("asleep",))


def test_the_map_needs_no_network_and_fits_its_sites():
    frame = pl.DataFrame(
        {
            "latitude": [40.9, 47.7],
            "longitude": [-73.9, -122.2],
            "label": ["A", "B"],
            "organizations": [1, 1],
            "factories": [1, 2],
            "gateways": [10, 20],
            "silent": [0.1, 0.4],
        }
    )
    spec = maps.site_map(frame, unplaced=2).to_dict()
    text = json.dumps(spec)
    assert '"url"' not in text  # every dataset inline: the countries come from the package's own file
    assert "2 factories without coordinates not shown" in spec["title"]
    ring = spec["projection"]["fit"]["geometry"]["coordinates"]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert min(lons) < -122.2 and max(lons) > -73.9 and min(lats) < 40.9 and max(lats) > 47.7
    assert len(json.loads(maps.world())["objects"]["countries"]["geometries"]) > 170


def test_a_site_with_fewer_factories_than_its_label_names_says_no_more():
    """`+ N more` only when there are more than the label names (pl.len() is unsigned: 1 - 3 wrapped once)."""
    rows = [
        {"latitude": float(lat), "longitude": 0.0, "factory": f"F{lat}-{i}", "organization_id": "o"}
        | {c: 1 for c in sites.COUNTS}
        for lat, n in ((1, 1), (2, 2), (3, 3), (4, 5))
        for i in range(n)
    ]
    labels = dict(sites.sites(pl.DataFrame(rows)).select("latitude", "label").iter_rows())
    assert labels == {1.0: "F1-0", 2.0: "F2-0, F2-1", 3.0: "F3-0, F3-1, F3-2", 4.0: "F4-0, F4-1, F4-2 + 2 more"}
