"""`fleetlab profile`: a twin from a platform database that fleetlab did not make (tests/platform_source.py),
its distances to the source, what never leaves the source, and the scenario format's new parts."""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from fleetlab.config import Settings
from fleetlab.errors import SpecError
from fleetlab.generation.fleets import plan
from fleetlab.model import toml_text, twin
from fleetlab.model.distances import distances
from fleetlab.model.spec import FleetSpec
from fleetlab.model.values import parse_as_of
from fleetlab.store import databases, db
from fleetlab.store.reset import reset
from fleetlab.store.survey import survey

from . import platform_source
from .conftest import OURS, TEST_KEY
from .reliability.harness import base_env, cli_inprocess

AS_OF: datetime = parse_as_of(platform_source.AS_OF, "AS_OF", [])


@pytest.fixture(scope="module")
def source(admin, server_url):
    """A platform database shaped unlike the presets, made by SQL alone (no fleetlab marker or table)."""
    name = f"fltest_{os.getpid()}_profile_source"
    databases.drop(admin, name, ours=OURS)
    databases.create(admin, name)
    url = server_url.with_dbname(name)
    with db.connect(url) as conn:
        platform_source.make(conn, 1)
    yield url
    databases.drop(admin, name, ours=OURS)


def twin_of(source_url, new_db, home: Path, **options) -> tuple[str, object]:
    """The twin's TOML text, and the URL of a database reset with it."""
    found = survey(source_url, AS_OF)
    mapping = twin.scenario(found, **options)
    text = toml_text.dumps(mapping, twin.header(mapping, "twin.toml", twin.MIN_COUNT, options.get("scale", 1.0)))
    url = new_db(create=False)
    spec = FleetSpec.from_mapping(tomllib.loads(text))
    settings = Settings(database_url=url.render(masked=False), home=home, secret_key=TEST_KEY, cache_entries=0)
    reset(settings, plan(spec))
    return text, url


@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0])
def test_a_twin_is_within_every_goal_of_its_source(source, new_db, tmp_path, scale):
    _, url = twin_of(source, new_db, tmp_path / "home", scale=scale)
    found = distances(survey(source, AS_OF), survey(url, AS_OF), scale=scale)
    beyond = [f"{d.name}: {d.source:.4g} → {d.twin:.4g} ({d.distance:.3f} > {d.goal})" for d in found if not d.ok]
    assert not beyond, beyond
    assert len(found) >= 30


def test_no_source_value_reaches_the_scenario_or_the_twin(source, new_db, tmp_path):
    text, url = twin_of(source, new_db, tmp_path / "home")
    with db.connect(source) as conn:
        values = _text_values(conn)
    assert len(values) > 20_000
    # every name, location, email, gateway id, URL, metadata text and id of the source
    leaked = sorted(v for v in values if len(v) >= 6 and v in text)
    assert not leaked, [line for line in text.splitlines() if any(v in line for v in leaked)][:5]
    with db.connect(url) as conn:
        in_twin = _text_values(conn)
    assert not (values & in_twin), sorted(values & in_twin)[:5]
    assert "Plant 7 local time" not in text  # free text in the time zone column is no time zone
    head = text.split("\n\n")[0]
    assert "aggregates only" in head and "No row was copied" in head


def _text_values(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        """SELECT id::text FROM organizations UNION SELECT name FROM organizations
           UNION SELECT id::text FROM factories UNION SELECT name FROM factories UNION SELECT location FROM factories
           UNION SELECT id::text FROM gateways UNION SELECT gateway_id FROM gateways UNION SELECT name FROM gateways
           UNION SELECT url FROM gateways UNION SELECT email FROM gateways
           UNION SELECT substring(url FROM '://([^/:]+)') FROM gateways
           UNION SELECT e.value #>> '{}' FROM gateways, jsonb_each(metadata) AS e WHERE jsonb_typeof(e.value) = 'string'
           UNION SELECT e.value #>> '{}' FROM organizations, jsonb_each(metadata) AS e"""
    ).fetchall()
    return {v for (v,) in rows if v is not None}


def test_values_held_by_fewer_than_k_rows_are_folded(source):
    found = survey(source, AS_OF)
    rare = ("v1.0-custom-build", "Pacific/Chatham", "Antarctica/Troll", "vendor_note", "http =")
    text = toml_text.dumps(twin.scenario(found))
    assert not [r for r in rare if r in text]
    assert "other = " in text  # the rare time zones' bucket
    shown = toml_text.dumps(twin.scenario(found, min_count=1))
    assert all(r in shown for r in rare)


def test_profile_needs_nothing_but_select_and_writes_nothing(source, admin, tmp_path):
    reader = f"fltest_reader_{os.getpid()}"
    ident = sql.Identifier(reader)
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    try:
        with db.connect(source, autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
            conn.execute(sql.SQL("GRANT SELECT ON organizations, factories, gateways TO {}").format(ident))
            before = _fingerprint(conn)
        as_reader = dataclasses.replace(source, user=reader, password=None).render(masked=False)
        out = cli_inprocess(
            ["profile", as_reader, "--as-of", platform_source.AS_OF, "-o", str(tmp_path / "t.toml")],
            base_env(FLEETLAB_HOME=str(tmp_path / "home")),
        )
        assert out.returncode == 0, out.output
        assert "wrote" in out.output and (tmp_path / "t.toml").is_file()
        FleetSpec.from_mapping(tomllib.loads((tmp_path / "t.toml").read_text()))
        with db.connect(source, autocommit=True) as conn:
            assert _fingerprint(conn) == before
    finally:
        with db.connect(source, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))  # its grants here
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO PUBLIC"))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


def _fingerprint(conn: psycopg.Connection) -> tuple:
    """Every row of the three tables, hashed: any write would change it."""
    return conn.execute(
        "SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM organizations t),"
        " (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM factories t),"
        " (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM gateways t)"
    ).fetchone()


def test_a_database_that_is_not_the_platforms_is_refused_with_a_message(new_db, tmp_path):
    url = new_db()
    out = cli_inprocess(["profile", url.render(masked=False), "-o", str(tmp_path / "t.toml")], base_env())
    assert out.returncode == 1
    assert "is not a database of the platform" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "t.toml").exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--scale", "0"], "--scale takes a number above 0"),
        (["--scale", "nan"], "--scale takes a number above 0"),
        (["--min-count", "0"], "--min-count takes a whole number"),
        (["--as-of", "yesterday"], "--as-of"),
        ([], "give --output FILE"),
    ],
)
def test_bad_options_are_refused_before_connecting(argv, says, tmp_path):
    out = cli_inprocess(
        ["profile", "postgresql://nobody@127.0.0.1:1/none", *argv, *(["-o", str(tmp_path / "t.toml")] if argv else [])],
        base_env(),
    )
    assert out.returncode != 0 and says in out.output, out.output
    assert "Traceback" not in out.output


def test_an_existing_output_is_kept_without_overwrite(source, tmp_path):
    target = tmp_path / "t.toml"
    target.write_text("mine")
    out = cli_inprocess(["profile", source.render(masked=False), "-o", str(target)], base_env())
    assert out.returncode != 0 and "--overwrite" in out.output
    assert target.read_text() == "mine"


def test_toml_text_reads_back_any_text():
    weird = 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f unicode Ünïcødé 東京 "' + "'"
    data = {
        "name": weird,
        "mix": {"models": {weird: 1, "plain": 2.5}, "pairs": [{"model": weird, "firmware": "v1", "weight": 3}]},
        "tiers": [{"share": 1.0, "factories_per_organization": {"distribution": "empirical", "bins": [[1, 2, 3]]}}],
        "metadata": {"gateways": {weird: {"share": 0.5, "type": "string"}}},
    }
    assert tomllib.loads(toml_text.dumps(data, "a header\nof two lines")) == data


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ({"silence": {"stale": [[3, 10, 1]]}}, "silence.stale: bin [3, 10] lies outside"),
        ({"silence": {"online": [[0, 1, 1]]}}, "silence.online"),
        ({"silence": {"asleep": [[0, 1, 1]]}}, "unknown status"),
        ({"mix": {"url_schemes": {"ftp": 1}}}, "mix.url_schemes: 'ftp'"),
        ({"mix": {"pairs": [{"model": "A"}]}}, "mix.pairs[1]"),
        ({"mix": {"pairs": [{"model": "A", "weight": 1}, {"model": "A", "weight": 2}]}}, "listed twice"),
        ({"tiers": [{"share": 0.5, "factories_per_organization": 1, "gateways_per_factory": 1}]}, "sum to 0.5"),
        ({"tiers": [{"share": 1, "factories_per_organization": 1}]}, "needs gateways_per_factory"),
        ({"counts": {"gateways_per_factory": {"distribution": "empirical", "bins": [[5, 2, 1]]}}}, "0 <= low <= high"),
        ({"counts": {"gateways_per_factory": {"distribution": "empirical", "bins": []}}}, "bins must be a list"),
        ({"metadata": {"gateways": {"k": {"share": 2, "type": "string"}}}}, "metadata.gateways.k"),
        ({"metadata": {"devices": {}}}, "tables are organizations, factories, gateways"),
        ({"scale": 0}, "scale must be a number above 0"),
    ],
)
def test_the_shape_parts_of_a_scenario_say_what_is_wrong(mapping, says):
    with pytest.raises(SpecError) as exc:
        FleetSpec.from_mapping(mapping)
    assert says in str(exc.value)


def test_a_shaped_scenario_by_hand_gives_what_it_asks():
    spec = FleetSpec.from_mapping(
        {
            "seed": 4,
            "as_of": "2026-01-01T00:00:00Z",
            "counts": {"organizations": 10},
            "tiers": [
                {"share": 0.1, "factories_per_organization": 5, "gateways_per_factory": 100},
                {
                    "share": 0.9,
                    "factories_per_organization": 1,
                    "gateways_per_factory": {"distribution": "empirical", "bins": [[3, 3, 1], [7, 7, 1]]},
                },
            ],
            "mix": {
                "pairs": [{"model": "M1", "firmware": "f1", "weight": 3}, {"firmware": "f2", "weight": 1}],
                "url_schemes": {"https": 1},
                "timezones": {"Asia/Tokyo": 1, "Europe/Berlin": 1},
            },
            "silence": {"stale": [[100, 100, 1]]},
            "metadata": {
                "gateways": {"rack": {"share": 1.0, "type": "number"}, "ip": {"share": 1.0, "type": "string"}},
                "factories": {"lines": {"share": 1.0, "type": "number"}, "note": {"share": 0.5, "type": "boolean"}},
                "organizations": {"tier": {"share": 0.6, "type": "string"}},
            },
            "scale": 2,
        }
    )
    fleet = plan(spec).materialize()
    g, f = fleet.gateways, fleet.factories
    assert f.height == 14 and sorted(f["timezone"].value_counts()["count"].to_list()) == [7, 7]
    # 9 small organizations of one factory: 3 and 7 gateways in equal parts (to one), all doubled
    assert g.height in (2 * (500 + 5 * 3 + 4 * 7), 2 * (500 + 4 * 3 + 5 * 7))
    assert set(g["url"].str.slice(0, 8).to_list()) == {"https://"}
    assert g.filter(g["model"].is_null())["firmware_version"].unique().to_list() == ["f2"]
    assert all(m.startswith('{"ip":"10.') and '"rack":' in m for m in g["metadata"].to_list())
    factory_meta = [json.loads(m) for m in f["metadata"]]
    assert all(set(m) <= {"lines", "note"} and isinstance(m["lines"], int) for m in factory_meta)
    assert sum("note" in m for m in factory_meta) == 7  # half of 14, exactly: even draws
    org_meta = [json.loads(m) for m in fleet.organizations["metadata"]]
    assert sum(set(m) == {"tier"} and isinstance(m["tier"], str) for m in org_meta) == 6
    assert sum(m == {} for m in org_meta) == 4
    silent = g.filter(g["last_seen_at"] < spec.as_of - timedelta(hours=24))["last_seen_at"]
    assert silent.len() > 0 and set(silent.to_list()) == {spec.as_of - timedelta(hours=100)}


def test_an_empty_platform_database_gives_an_empty_twin(new_db, tmp_path):
    url = new_db()
    with db.connect(url) as conn:
        for path in platform_source.PLATFORM:
            conn.execute(path.read_text(encoding="utf-8"))
        conn.commit()
    for rows in ("", "INSERT INTO organizations (name) VALUES ('only one')"):
        if rows:
            with db.connect(url, autocommit=True) as conn:
                conn.execute(rows)
        out = cli_inprocess(
            ["profile", url.render(masked=False), "-o", str(tmp_path / "t.toml"), "--overwrite"], base_env()
        )
        assert out.returncode == 0, out.output
        spec = FleetSpec.from_mapping(tomllib.loads((tmp_path / "t.toml").read_text()))
        assert plan(spec).counts() == {"organizations": 1 if rows else 0, "factories": 0, "gateways": 0}


def test_the_compare_notebooks_twin_part_shows_both_fleets(source, new_db, tmp_path):
    from fleetlab.app import charts, twin_view

    _, url = twin_of(source, new_db, tmp_path / "home")
    pair = twin_view.survey_pair(source.render(masked=False), url.render(masked=False), platform_source.AS_OF)
    assert pair.source_where == source.where and "@" not in pair.twin_where
    frame = twin_view.distance_frame(pair)
    assert frame.height >= 30 and frame["ok"].all()
    assert twin_view.verdict(pair).startswith(f"**{frame.height} of {frame.height}**")
    for what in ("status", "model / firmware", "time zone", "URL scheme"):
        long = twin_view.shares(pair, what)
        assert set(long["fleet"]) == {"source", "twin"}
        assert abs(long.filter(long["fleet"] == "twin")["share"].sum() - 1) < 1e-9
        charts.compared(long, what).to_dict()  # draws
    assert "Plant 7 local time" not in twin_view.shares(pair, "time zone")["value"].to_list()
    stale = twin_view.silence(pair, "stale")
    assert set(stale["value"]) <= set(twin_view.silence_order()) and stale.height > 4
    curve = twin_view.tenants(pair)
    assert curve.filter(curve["fleet"] == "source")["gateways"].max() == 1.0
    twin_view.tenant_chart(curve).to_dict()


def test_the_compare_notebook_says_what_is_wrong(new_db):
    from fleetlab.app import twin_view
    from fleetlab.errors import FleetlabError

    with pytest.raises(FleetlabError, match="give the URL of the source"):
        twin_view.survey_pair("  ")
    empty = new_db()
    with pytest.raises(FleetlabError, match="is not a database of the platform"):
        twin_view.survey_pair(empty.render(masked=False), empty.render(masked=False), "2026-01-01T00:00:00Z")
    with pytest.raises(FleetlabError, match="as_of"):
        twin_view.survey_pair(empty.render(masked=False), empty.render(masked=False), "yesterday")
