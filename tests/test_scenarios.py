"""Scenarios: the shipped presets, TOML files, and the CLI's --scenario and override flags."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetlab.errors import SpecError
from fleetlab.generation.fleets import generate, plan
from fleetlab.model.counts import Count
from fleetlab.model.scenarios import list_scenarios, load_scenario

from .reliability.harness import cli_inprocess

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
PRESETS = {"default", "multi-tenant", "stale-fleet", "international", "large"}


def run(env, *args):
    """The console script's code in this process (what each command does and says)."""
    return cli_inprocess(list(args), env)


def test_presets_are_listed_with_a_description():
    presets = list_scenarios()
    assert set(presets) >= PRESETS
    assert next(iter(presets)) == "default"
    for name, description in presets.items():
        assert description and "\n" not in description, name


@pytest.mark.parametrize("name", sorted(PRESETS - {"large"}))
def test_presets_generate(name):
    fleet = generate(load_scenario(name).override(as_of=AS_OF))
    assert fleet.gateways.height > 0
    assert fleet.scenario["name"] == name


def test_default_is_exactly_the_acme_seed():
    from fleetlab.generation.acme import acme_fleet

    fleet = generate(load_scenario("default").override(as_of=AS_OF))
    expected = acme_fleet(AS_OF, 0)
    for table, frame in expected.frames().items():
        assert fleet.frames()[table].equals(frame), table


def test_large_has_a_million_gateways():
    spec = load_scenario("large")
    assert spec.organizations == Count.fixed(100)
    assert plan(spec.override(as_of=AS_OF)).counts() == {"organizations": 100, "factories": 5000, "gateways": 1_000_000}


def test_scenario_from_a_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "mine"\nseed = 9\n[counts]\norganizations = 2\nfactories_per_organization = 1\n'
        'gateways_per_factory = "2-3"\n'
    )
    spec = load_scenario(path)
    assert spec.name == "mine" and spec.seed == 9 and spec.gateways_per_factory == Count.uniform(2, 3)
    assert load_scenario(str(path)) == spec


def test_malformed_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[counts\norganizations = 2\n")
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_scenario(path)


def test_unknown_keys_in_toml(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("sed = 3\n[counts]\norganisations = 2\n[fractions]\nonline = 2\n")
    with pytest.raises(SpecError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "unknown key 'sed'" in text and "unknown key counts.organisations" in text and "fractions.online" in text
    assert str(path) in text


def test_unknown_scenario_names_the_presets():
    with pytest.raises(SpecError, match="unknown scenario 'nope'.*multi-tenant"):
        load_scenario("nope")
    with pytest.raises(SpecError, match="no scenario file"):
        load_scenario("missing/file.toml")


def test_cli_lists_scenarios(cli_env):
    out = run(cli_env, "scenarios")
    assert out.returncode == 0, out.stderr
    for name in PRESETS:
        assert name in out.stdout


def test_cli_bad_input_all_at_once_and_nothing_touched(cli_env, conn):
    out = run(
        cli_env,
        "seed",
        "--yes",
        "--scenario",
        "nope",
        "--orgs",
        "-5",
        "--factories-per-org",
        "8-3",
        "--gateways-per-factory",
        "many",
        "--seed",
        "x",
        "--as-of",
        "soon",
        "--locale",
        "xx_XX",
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    for fragment in [
        "7 problems",
        "unknown scenario 'nope'",
        "--orgs",
        "inverted range 8-3",
        "'many'",
        "--seed",
        "'soon'",
        "unknown locale 'xx_XX'",
    ]:
        assert fragment in out.stderr, out.stderr
    assert conn.execute("SELECT scenario FROM fleetlab_meta.fleetlab_marker").fetchone()[0] is None


def test_cli_seed_with_overrides(cli_env, conn):
    args = [
        "seed",
        "--yes",
        "--orgs",
        "2",
        "--factories-per-org",
        "3",
        "--gateways-per-factory",
        "1-4",
        "--seed",
        "42",
        "--as-of",
        "2026-01-01T00:00:00Z",
        "--locale",
        "de_DE",
    ]
    out = run(cli_env, *args)
    assert out.returncode == 0, out.stderr
    assert conn.execute("SELECT count(*) FROM factories").fetchone()[0] == 6
    assert conn.execute("SELECT count(*) FROM factories WHERE timezone <> 'Europe/Berlin'").fetchone()[0] == 0
    scenario = conn.execute("SELECT scenario FROM fleetlab_meta.fleetlab_marker").fetchone()[0]
    assert scenario["seed"] == 42 and scenario["counts"]["factories"] == 6
    assert scenario["as_of"] == "2026-01-01T00:00:00Z"
