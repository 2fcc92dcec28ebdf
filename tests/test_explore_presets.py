"""The explore notebook on every preset scenario: every cell runs clean, and its figures agree with SQL.

The notebook runs in this process (marimo's `app.run()`, as a script runs it), against the test database
(DATABASE_URL of `cli_env`), reset to a small version of each preset.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psycopg
import pytest

from fleetlab.generation.fleets import plan
from fleetlab.model.scenarios import list_scenarios, load_scenario
from fleetlab.store.reset import reset

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.py"
ACTIVE = """
    FROM gateways g JOIN factories f ON f.id = g.factory_id JOIN organizations o ON o.id = f.organization_id
    WHERE g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL"""


def run_explore():
    spec = importlib.util.spec_from_file_location("explore_notebook", NOTEBOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, defs = module.app.run()  # a cell's error is raised here
    return defs


@pytest.mark.parametrize("preset", list_scenarios())
def test_every_cell_runs_and_every_figure_is_what_sql_counts(preset, settings, cli_env, monkeypatch):
    scenario = load_scenario(preset)
    if scenario.source != "acme":  # small versions of the generated presets (the shape stays the preset's)
        scenario = scenario.override(organizations="4")
    reset(settings, plan(scenario.override(as_of="2026-01-01T00:00:00Z")))
    for name, value in cli_env.items():
        monkeypatch.setenv(name, value)

    defs = run_explore()

    with psycopg.connect(settings.database_url) as conn:  # the reset swapped the database in: a new session
        counted = {
            "gateways": f"SELECT count(*) {ACTIVE}",
            "never_seen": f"SELECT count(*) {ACTIVE} AND g.last_seen_at IS NULL",
            "factories": "SELECT count(*) FROM factories f JOIN organizations o ON o.id = f.organization_id "
            "WHERE f.deleted_at IS NULL AND o.deleted_at IS NULL",
            "organizations": "SELECT count(*) FROM organizations WHERE deleted_at IS NULL",
        }
        gateways, never, factories, organizations = (conn.execute(q).fetchone()[0] for q in counted.values())
    assert gateways > 0
    assert defs["summary"].height == organizations and defs["summary"]["gateways"].sum() == gateways
    assert defs["per_factory"].height == factories
    assert defs["site_frame"]["factories"].sum() == factories  # every factory is on the map
    assert defs["site_frame"]["gateways"].sum() == gateways
    assert defs["ages"]["gateways"].sum() == gateways
    assert defs["pairs"]["gateways"].sum() == gateways and defs["pairs"]["never_seen"].sum() == never
    stale = defs["summary"]["stale"].sum()
    assert defs["silent"]["gateways"].sum() == stale
    # the silent list is a page: the most silent, as many as there are up to its size, then never seen
    listed = defs["stale"]
    assert listed.height == min(stale, 500) + min(never, 500)
    # the SQL cell's example: the 50 gateways silent longest, stale ones first as in the list
    k = min(stale, 50)
    assert defs["query_result"].height == min(50, gateways - never)
    assert defs["query_result"]["gateway_id"].head(k).to_list() == listed["gateway_id"].head(k).to_list()
    # the factory shown unasked is one with the most stale or never-seen gateways
    silent = defs["per_factory"]["stale"] + defs["per_factory"]["never_seen"]
    chosen = defs["per_factory"].filter(defs["per_factory"]["factory_id"] == defs["chosen"]["id"])
    assert chosen["stale"][0] + chosen["never_seen"][0] == silent.max()
