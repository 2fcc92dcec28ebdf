"""Generation: keyed determinism, locale fit, fractions, unique active gateway ids, flat chunks."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fleetlab.generation.fleets import generate, plan
from fleetlab.generation.keyed import keyed_password, keyed_passwords
from fleetlab.model.counts import Count
from fleetlab.model.fleet import GATEWAY_ROWS, PASSWORD, head
from fleetlab.model.spec import FleetSpec
from fleetlab.model.status import ONLINE_WITHIN, clock_of, status_expr
from fleetlab.model.values import known_locales

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**changes) -> FleetSpec:
    base = FleetSpec(seed=42, as_of=AS_OF).override(
        organizations="5", factories_per_organization="4", gateways_per_factory="10"
    )
    return FleetSpec.from_mapping({**base.to_dict(), **changes}) if changes else base


def frames_equal(a, b) -> bool:
    return all(a.frames()[t].equals(b.frames()[t]) for t in ("organizations", "factories", "gateways"))


def test_counts_and_schema():
    fleet = generate(spec())
    assert fleet.counts() == {"organizations": 5, "factories": 20, "gateways": 200}
    assert fleet.gateways.null_count()["gateway_id"][0] == 0
    assert set(fleet.factories["organization_id"]) <= set(fleet.organizations["id"])
    assert set(fleet.gateways["factory_id"]) <= set(fleet.factories["id"])
    assert fleet.gateways["id"].n_unique() == 200
    for table in ("organizations", "factories", "gateways"):
        for text in fleet.frames()[table]["metadata"]:
            assert isinstance(json.loads(text), dict)


def test_same_spec_same_rows():
    assert frames_equal(generate(spec()), generate(spec()))


def test_other_seed_other_rows():
    a, b = generate(spec()), generate(FleetSpec.from_mapping({**spec().to_dict(), "seed": 43}))
    assert not set(a.gateways["id"]) & set(b.gateways["id"])
    assert not a.organizations["name"].equals(b.organizations["name"])


def test_more_gateways_keep_the_earlier_ones():
    small = generate(spec()).gateways
    big = generate(spec().override(gateways_per_factory="11")).gateways
    assert big.height == 220
    kept = big.join(small.select("id"), on="id", how="semi")
    assert kept.sort("id").equals(small.sort("id"))


def test_more_factories_and_orgs_keep_the_earlier_ones():
    small = generate(spec())
    big = generate(spec().override(organizations="6", factories_per_organization="5"))
    for table in ("organizations", "factories", "gateways"):
        s, b = small.frames()[table], big.frames()[table]
        assert b.join(s.select("id"), on="id", how="semi").sort("id").equals(s.sort("id")), table


def test_chunked_generation_equals_the_whole():
    s = spec().override(gateways_per_factory="3-17")
    fleet = generate(s)
    for rows in (1, 7, 50, 10_000):
        chunks = list(plan(s).chunks("gateways", rows))
        assert pl.concat(chunks).equals(fleet.gateways.with_columns(fleet.passwords)), rows
        assert max(c.height for c in chunks) <= rows


def test_one_huge_factory_is_cut_into_chunks():
    s = spec().override(organizations="1", factories_per_organization="2", gateways_per_factory="0-3000")
    chunks = list(plan(s).chunks("gateways", 1000))
    assert max(c.height for c in chunks) <= 1000
    fleet = generate(s)
    assert pl.concat(chunks).equals(fleet.gateways.with_columns(fleet.passwords))


def test_gateways_come_with_their_passwords_and_previews_without():
    s = spec()
    chunk = next(plan(s).chunks("gateways", 50))
    assert chunk.schema == pl.Schema(GATEWAY_ROWS)
    # made from the UUIDs' words where the ids are made: the same as keyed by the ids' text
    assert chunk[PASSWORD].to_list() == [keyed_password(s.seed, i) for i in chunk["id"]]
    fleet = generate(s)
    assert fleet.passwords.to_list() == keyed_passwords(s.seed, fleet.gateways["id"]).to_list()
    assert PASSWORD not in fleet.gateways.columns and PASSWORD not in head(plan(s), "gateways", 5).columns
    with pytest.raises(ValueError, match="one password per gateway"):
        replace(fleet, passwords=fleet.passwords.head(-1))


def test_default_scenario_is_acme():
    from fleetlab.generation.acme import acme_fleet

    fleet = generate(FleetSpec(source="acme", as_of=AS_OF, seed=3))
    assert frames_equal(fleet, acme_fleet(AS_OF, 3))


@pytest.mark.parametrize("locale", ["de_DE", "ja_JP", "fr_FR", "pt_BR"])
def test_locale_fit(locale):
    fleet = generate(spec().override(locale=locale))
    zones = set(known_locales()[locale])
    assert set(fleet.factories["timezone"]) <= zones
    country_tld = locale.split("_")[1].lower()
    meta = fleet.organizations["metadata"].str
    assert (meta.json_path_match("$.locale") == locale).all()
    country = meta.json_path_match("$.headquarters")[0].split(", ")[-1]
    assert fleet.factories["location"].str.ends_with(country).all()
    # Faker's domains for a locale use its country's TLD or a generic one
    tlds = set(fleet.gateways["email"].str.extract(r"\.([a-z]+)$"))
    assert tlds <= {country_tld, "com", "net", "org", "info", "biz", "jp", "de", "fr", "br"}, tlds


@pytest.mark.parametrize("locale", ["en_US", "ja_JP", "de_DE", "hu_HU", "pt_BR"])
def test_factory_coordinates_are_their_citys(locale):
    """A generated factory's metadata has the latitude and longitude of the real place its location
    names, and the factory keeps that place's time zone (hu_HU: a country Faker lists no place of)."""
    from fleetlab.generation.places import places

    fleet = generate(spec().override(organizations="8", locale=locale))
    country = locale.split("_")[1]
    known = {(p.latitude, p.longitude): p for p in places(country, known_locales()[locale])}
    meta = [json.loads(m) for m in fleet.factories["metadata"]]
    for name, location, tz, m in zip(
        fleet.factories["name"], fleet.factories["location"], fleet.factories["timezone"], meta, strict=True
    ):
        place = known[(m["latitude"], m["longitude"])]
        assert name.startswith(place.name + " ") and place.name in location, (name, location, place)
        assert tz == place.timezone
        assert -90 <= m["latitude"] <= 90 and -180 <= m["longitude"] <= 180


def test_every_known_locale_has_real_places():
    """No locale falls back to invented cities without coordinates."""
    from fleetlab.generation.places import places

    missing = [loc for loc, zones in known_locales().items() if not places(loc.split("_")[1], zones)]
    assert missing == []


def test_weighted_locales_each_org_consistent():
    fleet = generate(spec().override(organizations="40", locale="en_US,de_DE,ja_JP"))
    orgs = fleet.organizations.select("id", locale=pl.col("metadata").str.json_path_match("$.locale"))
    assert set(orgs["locale"]) == {"en_US", "de_DE", "ja_JP"}
    joined = fleet.factories.join(orgs, left_on="organization_id", right_on="id")
    for loc, tz in joined.select("locale", "timezone").iter_rows():
        assert tz in known_locales()[loc]


def test_fractions_of_last_seen():
    s = FleetSpec(
        seed=1,
        as_of=AS_OF,
        organizations=Count.fixed(4),
        factories_per_organization=Count.fixed(10),
        gateways_per_factory=Count.fixed(500),
        online=0.5,
        stale=0.2,
        never_seen=0.1,
        stale_after_hours=12,
    )
    fleet = generate(s)
    g = fleet.gateways
    seen = g["last_seen_at"]
    # the statuses the read layer computes (model.status), against the clock the fleet records
    clock = clock_of(fleet.scenario)
    assert (clock.as_of, clock.stale_after, clock.online_within) == (AS_OF, timedelta(hours=12), ONLINE_WITHIN)
    share = g.select(status_expr(clock).alias("status"))["status"].value_counts(normalize=True, name="share")
    share = dict(share.iter_rows())
    assert abs(share["online"] - 0.5) < 0.03
    assert abs(share["stale"] - 0.2) < 0.03
    assert abs(share["never_seen"] - 0.1) < 0.02
    assert abs(share["recent"] - 0.2) < 0.03
    assert (seen.drop_nulls() <= AS_OF).all()


def test_soft_deleted_fractions_and_unique_active_gateway_ids():
    s = FleetSpec(
        seed=2,
        as_of=AS_OF,
        organizations=Count.fixed(20),
        factories_per_organization=Count.fixed(10),
        gateways_per_factory=Count.fixed(50),
        deleted_organizations=0.25,
        deleted_factories=0.1,
        deleted_gateways=0.2,
        reused_gateway_ids=1.0,
    )
    fleet = generate(s)
    g = fleet.gateways
    deleted = g.filter(pl.col("deleted_at").is_not_null())
    active = g.filter(pl.col("deleted_at").is_null())
    assert abs(deleted.height / g.height - 0.2) < 0.03
    assert 0.05 < fleet.factories["deleted_at"].is_not_null().mean() < 0.2
    assert 1 <= fleet.organizations["deleted_at"].is_not_null().sum() <= 10
    assert active["gateway_id"].n_unique() == active.height
    reused = deleted.join(active.select("gateway_id"), on="gateway_id", how="semi")
    assert reused.height > 0.5 * deleted.height
    assert (deleted["deleted_at"] < AS_OF).all()


@pytest.mark.parametrize("shard", [None, (1, 3)])
def test_a_plan_counts_its_soft_deleted_rows_without_making_them(shard):
    s = FleetSpec(
        seed=5,
        as_of=AS_OF,
        organizations=Count.fixed(12),
        factories_per_organization=Count.uniform(1, 9),
        gateways_per_factory=Count.uniform(0, 40),
        deleted_organizations=0.2,
        deleted_factories=0.15,
        deleted_gateways=0.1,
    )
    planned = plan(s, shard)
    made = planned.materialize()
    expected = {t: f["deleted_at"].is_not_null().sum() for t, f in made.frames().items()}
    assert planned.deleted_counts() == made.deleted_counts() == expected
    assert all(n > 0 for n in expected.values()) or shard is not None
    # a few factories at a time gives the same count
    from fleetlab.generation.gateways import deleted_gateways

    assert deleted_gateways(planned.spec, planned._parents, factories_at_once=2) == expected["gateways"]


def test_count_distributions_are_respected():
    s = FleetSpec(
        seed=3,
        as_of=AS_OF,
        organizations=Count.fixed(200),
        factories_per_organization=Count.uniform(2, 5),
        gateways_per_factory=Count.poisson(6),
    )
    p = plan(s)
    per_org = p.factories.group_by("organization_id").len()["len"]
    assert per_org.min() >= 2 and per_org.max() <= 5 and per_org.n_unique() == 4
    mean = p.counts()["gateways"] / p.counts()["factories"]
    assert 5.5 < mean < 6.5


def test_zero_counts():
    fleet = generate(spec().override(gateways_per_factory="0"))
    assert fleet.counts() == {"organizations": 5, "factories": 20, "gateways": 0}
    assert generate(spec().override(organizations="0")).counts() == {"organizations": 0, "factories": 0, "gateways": 0}


def test_without_as_of_now_is_fixed_once():
    fleet = generate(FleetSpec(seed=1))
    as_of = datetime.fromisoformat(fleet.scenario["as_of"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - as_of) < timedelta(minutes=5)


def test_factories_of_an_organization_never_share_a_site():
    from fleetlab.model.scenarios import load_scenario

    spec = load_scenario("multi-tenant").override(factories_per_organization="30", seed="3", locale="en_US")
    factories = generate(spec).factories.with_columns(street=pl.col("location").str.split(", ").list.first())
    shared = factories.group_by("organization_id", "street").len().filter(pl.col("len") > 1)
    assert factories.height == 25 * 30
    assert shared.height == 0


def test_organization_names_are_distinct_within_a_fleet():
    """Faker's pools repeat companies; a fleet never shows two organizations under one name (issue 14)."""
    from fleetlab.model.scenarios import load_scenario

    big = plan(
        load_scenario("multi-tenant").override(
            organizations="600", factories_per_organization="1", gateways_per_factory="0"
        )
    )
    names = big.organizations["name"]
    assert names.n_unique() == names.len() == 600
    renamed = names.filter(names.str.contains(r" \d+$"))
    assert renamed.len() > 0  # 600 organizations from pools of 512 companies per locale: some repeat
    smaller = plan(
        load_scenario("multi-tenant").override(
            organizations="300", factories_per_organization="1", gateways_per_factory="0"
        )
    )
    assert big.organizations["name"].head(300).to_list() == smaller.organizations["name"].to_list()


def test_faker_pools_kept_in_a_folder_give_the_same_fleet_without_faker(tmp_path):
    """A plan given a folder keeps Faker's pools there; the next plan of that seed reads them (Faker is not
    even imported) and makes the very same rows; a file that is not a pool is made again."""
    import subprocess
    import sys

    from fleetlab.generation import pools

    fresh = replace(spec(), organizations=Count.fixed(12), locales=(("de_DE", 1.0), ("ja_JP", 1.0)), seed=77)
    without = plan(fresh)
    kept = plan(fresh, pools=tmp_path)
    files = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    assert files == ["de_DE", "ja_JP"]
    pools.pool.cache_clear()
    again = plan(fresh, pools=tmp_path)
    for made in (kept, again):
        assert made.organizations.equals(without.organizations) and made.factories.equals(without.factories)
        assert next(made.chunks("gateways")).equals(next(without.chunks("gateways")))
    probe = (
        "import json, sys; from pathlib import Path; from fleetlab.generation.fleets import plan; "
        "from fleetlab.model.spec import FleetSpec; "
        f"plan(FleetSpec.from_mapping(json.loads({json.dumps(fresh.to_dict(), default=str)!r})), "
        f"pools=Path({str(tmp_path)!r})); print('faker' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
    broken = next(tmp_path.glob("de_DE-*"))
    broken.write_text('{"companies": [1, 2]}')
    pools.pool.cache_clear()
    assert plan(fresh, pools=tmp_path).organizations.equals(without.organizations)
    assert len(json.loads(broken.read_text())["companies"]) == pools.POOL_SIZE  # made again, kept again


def test_a_pools_folder_keeps_the_newest_pools_of_this_maker_only(tmp_path, monkeypatch):
    from fleetlab.generation import pools

    (tmp_path / "de_DE-1-0000000000000000.json").write_text("{}")  # made by another Faker or fleetlab
    monkeypatch.setattr(pools, "KEPT_POOLS", 2)
    for seed in (1, 2, 3):
        pools.pool("de_DE", seed, tmp_path)
    assert sorted(p.name.split("-")[1] for p in tmp_path.iterdir()) == ["2", "3"]


def test_a_pool_is_never_written_through_a_planted_link(tmp_path):
    """The pool's file is written aside under a predictable name first: a link planted there is not followed
    (the file it points to is left as it was), and the plan still makes its rows."""
    import os

    from fleetlab.generation import pools

    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    folder = tmp_path / "pools"
    folder.mkdir()
    name = f"de_DE-{5:x}-{pools._maker()}.json"
    (folder / f".{name}.{os.getpid()}").symlink_to(victim)
    made = pools.pool("de_DE", 5, folder)
    assert victim.read_text() == "mine"
    assert len(made.companies) == pools.POOL_SIZE
