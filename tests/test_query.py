"""read_sql: types and NULLs column by column on the three tables, parameters, errors, the engine."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import psycopg
import pytest

from fleetlab.app import output
from fleetlab.dsn import DatabaseURL
from fleetlab.errors import ConfigError, DatabaseError, DatabaseUnavailable
from fleetlab.read.engine import engine
from fleetlab.read.query import read_sql

ORG_A = "0a000000-0000-4000-8000-00000000000a"
ORG_B = "0b000000-0000-4000-8000-00000000000b"
FAC_A = "fa000000-0000-4000-8000-0000000000fa"
FAC_B = "fb000000-0000-4000-8000-0000000000fb"
GW_A = "ca000000-0000-4000-8000-0000000000ca"
GW_B = "cb000000-0000-4000-8000-0000000000cb"
T1 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
T2 = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)

UTC_TS = pl.Datetime("us", "UTC")


@pytest.fixture
def rows(conn: psycopg.Connection):
    """Two rows per table: one with every nullable column filled, one with every nullable column NULL."""
    # a non-UTC session zone: values must still come back as the same instants, in UTC
    conn.execute("SET TIME ZONE 'America/Chicago'")
    conn.execute(
        "INSERT INTO organizations (id, name, metadata, created_at, updated_at, deleted_at) VALUES"
        ' (%s, \'Org A\', \'{"plan": "enterprise", "n": 3, "tags": ["a", "b"]}\', %s, %s, NULL),'
        " (%s, 'Org B', '{}', %s, %s, %s)",
        (ORG_A, T1, T1, ORG_B, T2, T2, T1),
    )
    conn.execute(
        "INSERT INTO factories (id, organization_id, name, location, timezone, metadata, created_at, updated_at, deleted_at)"
        " VALUES (%s, %s, 'Plant A', 'Springfield, IL', 'America/Chicago', '{\"lines\": 4}', %s, %s, NULL),"
        " (%s, %s, 'Plant B', NULL, DEFAULT, DEFAULT, %s, %s, %s)",
        (FAC_A, ORG_A, T1, T1, FAC_B, ORG_B, T2, T2, T1),
    )
    conn.execute(
        "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model,"
        " firmware_version, last_seen_at, metadata, created_at, updated_at, deleted_at) VALUES"
        " (%s, %s, 'GW-A', 'Gateway A', 'https://a:8443', 'a@example.com', 'v1.k.x', 'Moxa UC-8210', '2.4.0',"
        '  %s, \'{"protocol": "mqtt", "ip": "10.0.0.1"}\', %s, %s, NULL),'
        " (%s, %s, 'GW-B', 'Gateway B', 'https://b:8443', 'b@example.com', 'v1.k.y', NULL, NULL,"
        "  NULL, DEFAULT, %s, %s, %s)",
        (GW_A, FAC_A, T1, T1, T1, GW_B, FAC_B, T2, T2, T2),
    )
    conn.commit()


def test_organizations_types_and_nulls(db_url, rows):
    df = read_sql("select * from organizations order by name", url=db_url)
    assert df.schema == pl.Schema(
        {
            "id": pl.String,
            "name": pl.String,
            "metadata": pl.String,
            "created_at": UTC_TS,
            "updated_at": UTC_TS,
            "deleted_at": UTC_TS,
        }
    )
    a, b = df.to_dicts()
    assert a["id"] == ORG_A and b["id"] == ORG_B
    assert a["name"] == "Org A"
    assert json.loads(a["metadata"]) == {"plan": "enterprise", "n": 3, "tags": ["a", "b"]}
    assert json.loads(b["metadata"]) == {}
    assert a["created_at"] == T1 and a["updated_at"] == T1 and b["created_at"] == T2
    assert a["deleted_at"] is None and b["deleted_at"] == T1


def test_factories_types_and_nulls(db_url, rows):
    df = read_sql("select * from factories order by name", url=db_url)
    assert df.schema == pl.Schema(
        {
            "id": pl.String,
            "organization_id": pl.String,
            "name": pl.String,
            "location": pl.String,
            "timezone": pl.String,
            "metadata": pl.String,
            "created_at": UTC_TS,
            "updated_at": UTC_TS,
            "deleted_at": UTC_TS,
        }
    )
    a, b = df.to_dicts()
    assert (a["id"], a["organization_id"]) == (FAC_A, ORG_A)
    assert (b["id"], b["organization_id"]) == (FAC_B, ORG_B)
    assert a["location"] == "Springfield, IL" and b["location"] is None
    assert a["timezone"] == "America/Chicago" and b["timezone"] == "UTC"
    assert json.loads(a["metadata"]) == {"lines": 4} and json.loads(b["metadata"]) == {}
    assert a["created_at"] == T1 and b["updated_at"] == T2
    assert a["deleted_at"] is None and b["deleted_at"] == T1


def test_gateways_types_and_nulls(db_url, rows):
    df = read_sql("select * from gateways order by gateway_id", url=db_url)
    assert df.schema == pl.Schema(
        {
            "id": pl.String,
            "factory_id": pl.String,
            "gateway_id": pl.String,
            "name": pl.String,
            "url": pl.String,
            "email": pl.String,
            "password_encrypted": pl.String,
            "model": pl.String,
            "firmware_version": pl.String,
            "last_seen_at": UTC_TS,
            "metadata": pl.String,
            "created_at": UTC_TS,
            "updated_at": UTC_TS,
            "deleted_at": UTC_TS,
        }
    )
    a, b = df.to_dicts()
    assert (a["id"], a["factory_id"], b["id"], b["factory_id"]) == (GW_A, FAC_A, GW_B, FAC_B)
    assert (a["gateway_id"], a["name"], a["url"], a["email"]) == (
        "GW-A",
        "Gateway A",
        "https://a:8443",
        "a@example.com",
    )
    assert a["password_encrypted"] == "v1.k.x"
    assert (a["model"], a["firmware_version"]) == ("Moxa UC-8210", "2.4.0")
    assert (b["model"], b["firmware_version"]) == (None, None)
    assert a["last_seen_at"] == T1 and b["last_seen_at"] is None
    assert json.loads(a["metadata"]) == {"protocol": "mqtt", "ip": "10.0.0.1"} and json.loads(b["metadata"]) == {}
    assert a["deleted_at"] is None and b["deleted_at"] == T2
    assert df.null_count().row(0, named=True) == {
        c: (1 if c in ("model", "firmware_version", "last_seen_at", "deleted_at") else 0) for c in df.columns
    }


def test_uuid_strings_match_the_servers_text_form_across_batches_and_nulls(db_url):
    # enough rows for several Arrow batches, with NULLs scattered through them
    sql = """
        select g, case when g % 7 = 0 then null else u end as u, u::text as text
        from (select g, gen_random_uuid() as u from generate_series(1, 60000) g) s order by g
    """
    df = read_sql(sql, url=db_url)
    assert df.schema["u"] == pl.String
    expected = df.select(pl.when(pl.col("g") % 7 == 0).then(None).otherwise(pl.col("text")).alias("u"))
    assert df["u"].equals(expected["u"])
    assert df["u"].null_count() == 60000 // 7
    assert df["u"].drop_nulls().str.contains(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").all()


def test_other_types(db_url):
    df = read_sql(
        """
        select 1::int4 as i4, 2::int8 as i8, 1.5::float8 as f, true as b, null::int as n,
               2.25::numeric(5, 2) as dec, 1.5::numeric as num, date '2026-01-02' as d,
               timestamp '2026-01-02 03:04:05' as naive, interval '1 day 2 hours' as iv,
               array['a', 'b'] as arr, array[gen_random_uuid(), null] as uuids
        """,
        url=db_url,
    )
    s = df.schema
    assert (s["i4"], s["i8"], s["f"], s["b"]) == (pl.Int32, pl.Int64, pl.Float64, pl.Boolean)
    assert s["dec"] == pl.Decimal(5, 2) and s["num"] == pl.Float64
    assert s["naive"] == pl.Datetime("us") and s["iv"] == pl.Duration("us")
    assert s["uuids"] == pl.List(pl.String)
    row = df.row(0, named=True)
    assert row["n"] is None and row["dec"] == Decimal("2.25") and row["num"] == 1.5
    assert row["naive"] == datetime(2026, 1, 2, 3, 4, 5) and row["iv"] == timedelta(days=1, hours=2)
    assert row["arr"] == ["a", "b"] and len(row["uuids"][0]) == 36 and row["uuids"][1] is None


def test_decode_json(db_url, rows):
    df = read_sql("select id, metadata from organizations order by name", url=db_url, decode_json=True)
    assert isinstance(df.schema["metadata"], pl.Struct)
    assert df["metadata"][0]["plan"] == "enterprise" and df["metadata"][0]["tags"] == ["a", "b"]
    named = read_sql("select metadata, metadata::text as t from gateways", url=db_url, decode_json=["metadata"])
    assert isinstance(named.schema["metadata"], pl.Struct) and named.schema["t"] == pl.String
    # the documented path for a frame read without decoding
    raw = read_sql("select metadata from gateways order by gateway_id", url=db_url)
    decoded = raw.with_columns(raw["metadata"].str.json_decode(infer_schema_length=None))
    assert decoded["metadata"][0]["protocol"] == "mqtt"
    with pytest.raises(ConfigError, match="nope"):
        read_sql("select 1 as x", url=db_url, decode_json=["nope"])


def test_duplicate_names_get_suffixes(db_url, rows):
    df = read_sql("select * from factories f join organizations o on o.id = f.organization_id", url=db_url)
    assert [c for c in df.columns if c.startswith(("id", "name"))] == ["id", "name", "id_2", "name_2"]


def test_parameters_are_bound_not_formatted(db_url, rows):
    hostile = "GW-A' OR '1'='1"
    assert read_sql("select * from gateways where gateway_id = $1", url=db_url, params=[hostile]).height == 0
    one = read_sql(
        "select gateway_id from gateways where id = $1::uuid and last_seen_at = $2", url=db_url, params=[GW_A, T1]
    )
    assert one["gateway_id"].to_list() == ["GW-A"]
    assert read_sql("select $1::int is null as missing", url=db_url, params=[None])["missing"][0] is True
    with pytest.raises(ConfigError, match="params"):
        read_sql("select $1", url=db_url, params="GW-A")


def test_default_url_is_the_workbench_database(db_url, rows, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url.render(masked=False))
    assert read_sql("select count(*) as n from gateways")["n"][0] == 2


def test_bad_sql_gives_the_servers_message(db_url):
    with pytest.raises(DatabaseError) as exc:
        read_sql("selec 1", url=db_url)
    assert 'syntax error at or near "selec"' in str(exc.value) and "42601" in str(exc.value)
    assert "Query was" not in str(exc.value) and "INVALID_ARGUMENT" not in str(exc.value)
    with pytest.raises(DatabaseError, match='relation "nope" does not exist'):
        read_sql("select * from nope", url=db_url)
    with pytest.raises(DatabaseError, match="division by zero"):
        read_sql("select 1 / 0", url=db_url)
    with pytest.raises(DatabaseError, match="empty"):
        read_sql("  ", url=db_url)


def test_connection_errors_hide_the_password():
    url = DatabaseURL(host="127.0.0.1", port=1, user="someone", password="pa55-secret-word", dbname="x")
    with pytest.raises(DatabaseUnavailable) as exc:
        read_sql("select 1", url=url)
    assert "pa55-secret-word" not in str(exc.value) and "127.0.0.1" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        read_sql("select 1", url="postgresql://someone:pa55-secret-word@host:notaport/x")
    assert "pa55-secret-word" not in str(exc.value)


def test_engine_for_sqlalchemy_and_marimo(db_url, rows):
    eng = engine(db_url)
    try:
        with eng.connect() as c:
            df = pl.read_database("select gateway_id from gateways order by gateway_id", c)
        assert df["gateway_id"].to_list() == ["GW-A", "GW-B"]
        with eng.connect() as c:
            ts = pl.read_database("select last_seen_at from gateways order by gateway_id", c)
        assert ts["last_seen_at"][0] == T1 and ts.schema["last_seen_at"].time_zone == "UTC"
        assert eng.dialect.name == "postgresql" and eng.dialect.driver == "psycopg"
    finally:
        eng.dispose()
    secret = DatabaseURL(host="db.example", user="u", password="pa55-secret-word", dbname="fleetlab")
    shown = engine(secret)
    assert "pa55-secret-word" not in str(shown.url) and "pa55-secret-word" not in repr(shown)
    assert shown.url.password == "pa55-secret-word"  # handed to the driver, not printed


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "parquet"])
def test_write_frame_formats(db_url, rows, fmt, tmp_path):
    df = read_sql("select id, gateway_id, last_seen_at, metadata from gateways order by gateway_id", url=db_url)
    path = tmp_path / f"out.{fmt}"
    with open(path, "wb") as out:
        output.write_frame(df, fmt, out)
    if fmt == "csv":
        assert pl.read_csv(path)["gateway_id"].to_list() == ["GW-A", "GW-B"]
    elif fmt == "json":
        data = json.loads(path.read_text())
        assert data[0]["id"] == GW_A and data[1]["last_seen_at"] is None
    elif fmt == "parquet":
        assert pl.read_parquet(path).equals(df)
    else:
        assert "GW-A" in path.read_text() and GW_A in path.read_text()


# -- the CLI ---------------------------------------------------------------------------------


def cli(env, *args):
    """`fleetlab query ARGS` with `env` as the whole environment, in this process: the console script's code
    without its start-up (tests/reliability's own tests run the console script itself)."""
    from .reliability.harness import cli_inprocess

    return cli_inprocess(["query", *args], env)


def test_cli_query_formats_and_parameters(cli_env, rows, tmp_path):
    done = cli(cli_env, "select gateway_id, model from gateways where gateway_id = $1", "-p", "GW-B", "-f", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "gateway_id,model\nGW-B,\n"
    done = cli(cli_env, "select id, last_seen_at from gateways order by gateway_id", "--format", "json")
    assert json.loads(done.stdout) == [{"id": GW_A, "last_seen_at": T1.isoformat()}, {"id": GW_B, "last_seen_at": None}]
    table = cli(cli_env, "select * from gateways order by gateway_id")
    assert table.returncode == 0 and GW_A in table.stdout and "shape: (2, 14)" in table.stdout
    out = tmp_path / "gateways.parquet"
    done = cli(cli_env, "select * from gateways", "--output", str(out))
    assert done.returncode == 0 and "wrote 2 rows × 14 columns" in done.stderr
    assert pl.read_parquet(out).schema["id"] == pl.String


def test_cli_query_bad_sql(cli_env):
    done = cli(cli_env, "select * from gateway")
    assert done.returncode == 1
    assert 'relation "gateway" does not exist' in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    done = cli(cli_env, "select 1", "--format", "xml")
    assert done.returncode == 2 and "invalid choice" in done.stderr


# -- read-only by default --------------------------------------------------------------------


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize(
    "statement",
    [
        "drop table gateways",
        "delete from gateways",
        "truncate gateways cascade",
        "update gateways set name = 'x'",
        "with d as (delete from gateways returning 1) select * from d",
        "select 1; drop table gateways",
        "select * from gateways; delete from gateways",
        "copy gateways to '/tmp/fleetlab-copy-out'",
        "do $$ begin delete from gateways; end $$",
        "set default_transaction_read_only = off",
    ],
)
def test_queries_cannot_change_the_database(db_url, rows, conn, statement):
    with pytest.raises(DatabaseError, match="--write"):
        read_sql(statement, url=db_url)
    conn.rollback()
    assert count(conn, "gateways") == 2 and count(conn, "organizations") == 2


@pytest.mark.parametrize(
    "statement",
    [
        "select pg_read_file('/etc/hostname')",
        "select lo_import('/etc/hostname')",
        "select pg_ls_dir('.')",
        "select nextval('pg_catalog.pg_class_oid_seq')",
    ],
)
def test_queries_cannot_reach_the_servers_files(db_url, rows, statement):
    with pytest.raises(DatabaseError) as exc:
        read_sql(statement, url=db_url)
    assert "--write" in str(exc.value) or "does not exist" in str(exc.value), exc.value


def test_writes_run_when_asked(db_url, rows, conn):
    read_sql("create table scratch (x int)", url=db_url, writes=True)
    read_sql("insert into scratch values (1), (2)", url=db_url, writes=True)
    assert read_sql("select count(*) as n from scratch", url=db_url)["n"][0] == 2


def test_every_parameter_needs_exactly_one_value(db_url, rows):
    with pytest.raises(ConfigError, match=r"takes 0 parameters and 1 value was given"):
        read_sql("select 1", url=db_url, params=["extra"])
    with pytest.raises(ConfigError, match=r"takes 2 parameters \(\$1, \$2\) and 1 value was given"):
        read_sql("select $1::int + $2::int", url=db_url, params=[1])
    with pytest.raises(ConfigError) as exc:
        read_sql("select $1::int", url=db_url)
    assert "COPY" not in str(exc.value) and "takes 1 parameter ($1) and 0 values" in str(exc.value)


def test_cli_query_refuses_writes_and_says_how(cli_env, rows, conn):
    done = cli(cli_env, "drop table gateways")
    assert done.returncode == 1 and "--write" in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert count(conn, "gateways") == 2
    done = cli(cli_env, "select 1", "-p", "5")
    assert done.returncode == 2 and "takes 0 parameters and 1 value was given" in done.stderr
    done = cli(cli_env, "create table scratch (x int)", "--write")
    assert done.returncode == 0, done.stderr
    conn.rollback()
    assert count(conn, "scratch") == 0


def test_cli_query_output_never_replaces_a_file_unasked(cli_env, rows, tmp_path):
    out = tmp_path / "rows.csv"
    out.write_text("precious\n")
    done = cli(cli_env, "select gateway_id from gateways", "--output", str(out))
    assert done.returncode == 2 and "--overwrite" in done.stderr and out.read_text() == "precious\n"
    done = cli(cli_env, "select * from nope", "--output", str(out), "--overwrite")
    assert done.returncode == 1 and out.read_text() == "precious\n"  # a failed query loses nothing
    done = cli(cli_env, "select gateway_id from gateways order by 1", "--output", str(out), "--overwrite")
    assert done.returncode == 0 and out.read_text() == "gateway_id\nGW-A\nGW-B\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]  # no temporary file left beside it


def test_cli_query_output_stays_out_of_the_servers_and_fleetlabs_folders(cli_env, rows, admin, tmp_path):
    home = cli_env["FLEETLAB_HOME"]
    done = cli(cli_env, "select 1", "--output", f"{home}/secret.key", "--overwrite")
    assert done.returncode == 2 and "refusing to write" in done.stderr
    data = admin.execute("SELECT current_setting('data_directory')").fetchone()[0]
    target = f"{data}/fleetlab-was-here.csv"
    done = cli(cli_env, "select 1", "--output", target)
    assert done.returncode == 2 and "refusing to write" in done.stderr
    assert not os.path.exists(target)


def test_on_the_embedded_server_queries_log_in_as_a_role_that_is_not_superuser(cli_env):
    # the suite's own embedded server, used as fleetlab's default one: no DATABASE_URL
    import subprocess
    import sys

    import suite_server

    env = {k: v for k, v in cli_env.items() if k != "DATABASE_URL"} | {"FLEETLAB_HOME": str(suite_server.home())}
    with suite_server.embedded():  # running already, unless the suite runs against TEST_DATABASE_URL
        done = subprocess.run(
            [sys.executable, "-m", "fleetlab", "reset", "--yes"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        who = "select current_user as u, (select rolsuper from pg_roles where rolname = current_user) as s"
        assert cli(env, who, "-f", "csv").stdout == "u,s\nfleetlab_reader,false\n"
        assert cli(env, "select count(*) as n from gateways", "-f", "csv").stdout == "n\n6\n"
        # a superuser could undo SET ROLE from inside a query; a login role cannot become one
        escape = "select set_config('role', 'postgres', false) as r"
        assert cli(env, escape).returncode == 1
        assert cli(env, "select pg_read_file('PG_VERSION')").returncode == 1
        assert cli(env, who, "-f", "csv", "--write").stdout == "u,s\nfleetlab,false\n"  # the database owner
        owner = "select pg_get_userbyid(datdba) as o from pg_database where datname = current_database()"
        assert cli(env, owner, "-f", "csv", "--write").stdout == "o\nfleetlab\n"
        # writing as the owner: its own tables, but no server program and no server file
        assert cli(env, "copy (select 1) to program 'id'", "--write").returncode == 1
        assert cli(env, "select pg_read_file('PG_VERSION')", "--write").returncode == 1
        assert cli(env, "delete from gateways where false", "--write").returncode == 0


def test_errors_are_one_line_with_where_in_the_statement(cli_env, rows):
    for sql, start, end in [
        ("select * from gatewayz", 'relation "gatewayz" does not exist (line 1, column 15)', "(SQLSTATE 42P01)"),
        ("select\n  nope from gateways", 'column "nope" does not exist (line 2, column 3)', "(SQLSTATE 42703)"),
        ("selec 1", 'syntax error at or near "selec" (line 1, column 1)', "(SQLSTATE 42601)"),
    ]:
        done = cli(cli_env, sql)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(f"fleetlab: error: {start}") and done.stderr.endswith(f"{end}\n"), done.stderr
