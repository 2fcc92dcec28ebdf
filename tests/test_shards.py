"""Shards: n disjoint parts of a fleet, split by organization, that together are exactly the fleet;
and `fleetlab export`, whose files COPY into any PostgreSQL and pass `fleetlab check`."""

from __future__ import annotations

import json

import polars as pl
import pytest

import fleetlab
from fleetlab.errors import SpecError
from fleetlab.model.scenarios import load_scenario
from fleetlab.model.tables import TABLES
from fleetlab.store import db

from .reliability.harness import cli_inprocess as cli  # the console script's code, in this process

AS_OF = "2026-01-01T00:00:00Z"


def spec():
    return load_scenario("multi-tenant").override(organizations=7, as_of=AS_OF, seed=5)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_the_shards_are_disjoint_and_together_exactly_the_fleet(n):
    whole = fleetlab.generate(spec())
    parts = [fleetlab.generate(spec(), shard=(k, n)) for k in range(n)]
    for table in TABLES:
        union = pl.concat([getattr(p, table) for p in parts]).sort("id")
        assert union.equals(getattr(whole, table).sort("id")), table  # every value keyed as in the whole
        assert union["id"].n_unique() == union.height
    for p in parts:  # each part carries its own factories and gateways
        assert set(p.factories["organization_id"]) <= set(p.organizations["id"])
        assert set(p.gateways["factory_id"]) <= set(p.factories["id"])
    if n > 1:
        assert [p.scenario["shard"] for p in parts] == [[k, n] for k in range(n)]


def test_the_platforms_own_seed_splits_too():
    default = load_scenario("default").override(as_of=AS_OF)
    first, second = (fleetlab.generate(default, shard=(k, 2)) for k in range(2))
    assert first.counts() == fleetlab.generate(default).counts() and sum(second.counts().values()) == 0


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0), ("0", 2), (True, 2)])
def test_a_shard_that_does_not_exist_is_refused(shard):
    with pytest.raises(SpecError, match="shard"):
        fleetlab.generate(spec(), shard=shard)


def test_export_shards_copy_into_postgresql_and_pass_fleetlab_check(tmp_path, cli_env, new_db):
    flags = ["--scenario", "multi-tenant", "--orgs", "7", "--seed", "5", "--as-of", AS_OF]
    n = 3
    for k in range(n):
        run = cli(["export", str(tmp_path / f"shard-{k}"), "--shard", f"{k}/{n}", *flags], cli_env)
        assert run.returncode == 0 and f"exported (shard {k}/{n})" in run.stdout, run.output
    # any PostgreSQL: the schema and an empty fleet by fleetlab, then the files by COPY (psql's \copy)
    url = new_db(create=False)
    env = {**cli_env, "DATABASE_URL": url.render(masked=False)}
    assert cli(["reset", "--yes", "--scenario", "multi-tenant", "--orgs", "0", "--as-of", AS_OF], env).returncode == 0
    with db.connect(url) as conn:
        for k in range(n):
            record = json.loads((tmp_path / f"shard-{k}" / "fleet.json").read_text())
            assert record["shard"] == [k, n] and len(record["copy"]) == 3
            for table, statement in zip(TABLES, record["copy"], strict=True):
                path = (tmp_path / f"shard-{k}" / f"{table}.csv").resolve()
                # psql's `\copy … FROM '/abs/file'` is COPY … FROM STDIN with the file sent by the client
                sql = statement.replace("\\copy", "COPY", 1).replace(f"FROM '{path}'", "FROM STDIN")
                with conn.cursor().copy(sql) as copy:
                    copy.write(path.read_bytes())
        conn.commit()
        loaded = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert loaded == fleetlab.generate(spec()).counts()
    check = cli(["check"], env)
    assert check.returncode == 0 and "all 9 checks passed" in check.stdout, check.output


def test_parquet_export_holds_the_same_rows_and_refuses_to_overwrite(tmp_path, cli_env):
    flags = ["--scenario", "multi-tenant", "--orgs", "3", "--seed", "5", "--as-of", AS_OF, "--shard", "1/2"]
    assert cli(["export", str(tmp_path / "p"), "--format", "parquet", *flags], cli_env).returncode == 0
    gateways = pl.read_parquet(tmp_path / "p" / "gateways.parquet")
    part = fleetlab.generate(load_scenario("multi-tenant").override(organizations=3, seed=5, as_of=AS_OF), shard=(1, 2))
    assert gateways.drop("password_encrypted").sort("id").equals(part.gateways.sort("id"))
    assert gateways["password_encrypted"].str.starts_with('{"encrypted":').all()
    again = cli(["export", str(tmp_path / "p"), "--format", "parquet", *flags], cli_env)
    assert again.returncode != 0 and "--overwrite" in again.stderr and "Traceback" not in again.stderr
    bad = cli(["export", str(tmp_path / "q"), "--shard", "3/2"], cli_env)
    assert bad.returncode == 2 and "--shard 3/2" in bad.stderr and not (tmp_path / "q").exists()
