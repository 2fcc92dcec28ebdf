"""Loading generated fleets: streamed COPY in one transaction, identical rows, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetlab.errors import DatabaseError
from fleetlab.generation.fleets import plan
from fleetlab.generation.generator import FleetPlan
from fleetlab.generation.keyed import keyed_password
from fleetlab.model.spec import FleetSpec
from fleetlab.store import db
from fleetlab.store import load as load_mod
from fleetlab.store.crypto import decrypt_password, keyring_for
from fleetlab.store.reset import reset, seed

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = {
    "organizations": "id, name, metadata::text, deleted_at",
    "factories": "id, organization_id, name, location, timezone, metadata::text, deleted_at",
    "gateways": "id, factory_id, gateway_id, name, url, email, model, firmware_version, last_seen_at, metadata::text, deleted_at",
}


def spec(**overrides) -> FleetSpec:
    base = FleetSpec(seed=42, as_of=AS_OF, deleted_gateways=0.2, reused_gateway_ids=1.0, deleted_factories=0.1)
    args = {"organizations": "5", "factories_per_organization": "4", "gateways_per_factory": "10", **overrides}
    return base.override(**args)


def rows(url) -> dict[str, list[tuple]]:
    with db.connect(url) as c:
        return {t: c.execute(f"SELECT {cols} FROM {t} ORDER BY id").fetchall() for t, cols in COLUMNS.items()}


def schema_objects(url) -> list[tuple]:
    with db.connect(url) as c:
        return c.execute(
            """
            SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL
            SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace
            ORDER BY 1, 2
            """
        ).fetchall()


def analyzed(conn) -> dict[str, int]:
    """Per fleet table, how many bounds its statistics hold at most (0: never analyzed): a load gathers them
    with a small sample (statistics target 10: at most 11 bounds), not the default 100."""
    rows = conn.execute(
        "SELECT t, coalesce((SELECT max(cardinality(histogram_bounds::text::text[])) FROM pg_stats"
        " WHERE schemaname = 'public' AND tablename = t), 0)"
        " FROM unnest(ARRAY['organizations', 'factories', 'gateways']) t"
    ).fetchall()
    return dict(rows)


def test_a_load_leaves_the_planner_statistics_of_a_small_sample(settings, db_url):
    seed(settings, plan(spec(gateways_per_factory="2000")))  # 40,000 gateways: more values than any target
    with db.connect(db_url) as c:
        bounds = analyzed(c)
    assert bounds["gateways"] == 11 and 0 < bounds["factories"] <= 11 and bounds["organizations"] > 0


def test_generated_fleet_loads(settings, db_url):
    result = seed(settings, plan(spec()))
    assert result.counts == {"organizations": 5, "factories": 20, "gateways": 200}
    with db.connect(db_url) as c:
        recorded = c.execute("SELECT scenario FROM fleetlab_meta.fleetlab_marker").fetchone()[0]
        assert recorded["counts"] == result.counts
        assert FleetSpec.from_mapping(recorded["spec"]) == spec()
        token, row_id = c.execute("SELECT password_encrypted, id::text FROM gateways LIMIT 1").fetchone()
        active_dupes = c.execute(
            "SELECT count(*) FROM gateways g JOIN gateways h ON g.gateway_id = h.gateway_id AND g.id <> h.id "
            "WHERE g.deleted_at IS NOT NULL AND h.deleted_at IS NULL"
        ).fetchone()[0]
    assert decrypt_password(keyring_for(settings, create=True), token, row_id) == keyed_password(42, row_id)
    assert active_dupes > 0  # soft-deleted gateways reusing an active gateway_id went through the index


def test_same_command_same_rows_and_keyed_growth(settings, db_url):
    reset(settings, plan(spec()))
    first = rows(db_url)
    reset(settings, plan(spec()))
    assert rows(db_url) == first
    reset(settings, plan(spec(gateways_per_factory="11")))
    grown = rows(db_url)
    assert len(grown["gateways"]) == 220
    assert set(first["gateways"]) <= set(grown["gateways"])
    assert grown["factories"] == first["factories"]
    reset(settings, plan(FleetSpec.from_mapping({**spec().to_dict(), "seed": 43})))
    assert not set(rows(db_url)["gateways"]) & set(first["gateways"])


def test_bulk_path_rebuilds_indexes_and_constraints(settings, db_url, monkeypatch):
    before = schema_objects(db_url)
    monkeypatch.setattr(load_mod, "BULK_ROWS", 0)
    seed(settings, plan(spec()))
    assert schema_objects(db_url) == before
    small = rows(db_url)
    monkeypatch.setattr(load_mod, "BULK_ROWS", 10**9)
    seed(settings, plan(spec()))
    assert rows(db_url) == small


@pytest.mark.parametrize("bulk", [False, True])
def test_failed_load_keeps_the_previous_rows(settings, db_url, monkeypatch, bulk):
    """A duplicate active gateway_id is only caught by the unique index: row by row, or at the rebuild."""
    monkeypatch.setattr(load_mod, "BULK_ROWS", 0 if bulk else 10**9)
    seed(settings, plan(spec()))
    before, objects = rows(db_url), schema_objects(db_url)

    class Broken(FleetPlan):
        def chunks(self, table, rows=load_mod.CHUNK_ROWS):
            for frame in super().chunks(table, rows):
                if table == "gateways":
                    frame = frame.with_columns(
                        gateway_id=frame["gateway_id"].gather([0] * frame.height), deleted_at=None
                    )
                yield frame

    good = plan(spec(organizations="6"))
    broken = Broken(**{k: getattr(good, k) for k in good.__dataclass_fields__})
    with pytest.raises(DatabaseError, match="rolled back"):
        seed(settings, broken)
    assert rows(db_url) == before
    assert schema_objects(db_url) == objects


def test_generator_failure_midway_keeps_the_previous_rows(settings, db_url):
    seed(settings, plan(spec()))
    before = rows(db_url)

    class Exploding(FleetPlan):
        def chunks(self, table, rows=load_mod.CHUNK_ROWS):
            if table == "gateways":
                yield next(iter(super().chunks(table, 5)))
                raise RuntimeError("generator broke")
            yield from super().chunks(table, rows)

    good = plan(spec(organizations="7"))
    exploding = Exploding(**{k: getattr(good, k) for k in good.__dataclass_fields__})
    with pytest.raises(RuntimeError, match="generator broke"):
        seed(settings, exploding)
    assert rows(db_url) == before


def test_prefetch_stops_its_worker_when_abandoned():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    it = load_mod.prefetch(items(), depth=2)
    assert next(it) == 0
    it.close()
    assert len(produced) < 10


def test_binary_copy_rows_read_back_as_the_values_written(conn):
    """pgcopy.encode: what the server reads from the binary rows is what the frame held: uuids, unicode and
    empty text, JSON (nested, unicode), timestamps before 2000 and far ahead, NULLs in every nullable kind."""
    import polars as pl
    import psycopg

    from fleetlab.store import pgcopy

    frame = pl.DataFrame(
        {
            "id": ["4d2f7c1e-9a3b-4c5d-8e6f-0a1b2c3d4e5f", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
            "name": ["Müller & Söhne ✓", "", "工場"],
            "location": [None, "x" * 500, "line\nbreak, \"quoted\""],
            "metadata": ['{"a": [1, {"b": "ü"}], "n": null}', "{}", '{"k": "\\\\N"}'],
            "created_at": [datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC), datetime(2300, 6, 1, 12, 0, 0, 1, tzinfo=UTC)],
            "deleted_at": [None, datetime(2026, 1, 1, tzinfo=UTC), None],
        },
        schema_overrides={"created_at": pl.Datetime("us", "UTC"), "deleted_at": pl.Datetime("us", "UTC")},
    )  # fmt: skip
    kinds = {"id": "uuid", "name": "text", "location": "text", "metadata": "jsonb"}
    kinds |= {"created_at": "timestamp with time zone", "deleted_at": "timestamp with time zone"}
    conn.execute(
        "CREATE TEMP TABLE t (id uuid, name varchar(255), location varchar(500), metadata jsonb, "
        "created_at timestamptz, deleted_at timestamptz)"
    )
    with conn.cursor() as cur, cur.copy("COPY t FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(pgcopy.SIGNATURE)
        copy.write(pgcopy.encode(frame, kinds))
        copy.write(pgcopy.TRAILER)
    got = conn.execute("SELECT id::text, name, location, metadata::text, created_at, deleted_at FROM t").fetchall()
    want = [
        (r["id"], r["name"], r["location"], conn.execute("SELECT %s::jsonb::text", (r["metadata"],)).fetchone()[0],
         r["created_at"], r["deleted_at"])
        for r in frame.iter_rows(named=True)
    ]  # fmt: skip
    assert got == want
    # varchar's limit holds for binary input too
    with (
        pytest.raises(psycopg.errors.StringDataRightTruncation),
        conn.cursor() as cur,
        cur.copy("COPY t (name) FROM STDIN WITH (FORMAT binary)") as copy,
    ):
        copy.write(pgcopy.SIGNATURE)
        copy.write(pgcopy.encode(pl.DataFrame({"name": ["y" * 256]}), {"name": "text"}))
        copy.write(pgcopy.TRAILER)


def test_the_row_by_row_and_the_columnar_binary_renderings_are_the_same_bytes():
    """pgcopy renders a small chunk row by row (no pyarrow) and a big one a column at a time: one format."""
    import random
    from datetime import timedelta

    import polars as pl

    from fleetlab.store import pgcopy

    rnd = random.Random(7)
    n = pgcopy.SMALL + 500
    frame = pl.DataFrame(
        {
            "id": [str(__import__("uuid").UUID(int=rnd.getrandbits(128))) for _ in range(n)],
            "parent": [rnd.choice([None, str(__import__("uuid").UUID(int=rnd.getrandbits(128))).upper()])
                       for _ in range(n)],
            "name": [rnd.choice(["a", "Müller", "工場", "", None, "x" * 300]) for _ in range(n)],
            "metadata": [rnd.choice(["{}", '{"x": [1, "ü"], "y": null}']) for _ in range(n)],
            "at": [rnd.choice([None, datetime(1990, 1, 1, tzinfo=UTC) + timedelta(microseconds=rnd.getrandbits(50))])
                   for _ in range(n)],
        },
        schema_overrides={"at": pl.Datetime("us", "UTC")},
    )  # fmt: skip
    kinds = {"id": "uuid", "parent": "uuid", "name": "text", "metadata": "jsonb", "at": "timestamp with time zone"}
    assert bytes(pgcopy.encode(frame, kinds)) == pgcopy._encode_rows(frame, kinds)
    assert bytes(pgcopy.encode(frame.head(3), kinds)) == pgcopy._encode_rows(frame.head(3), kinds)


def test_uuids_in_any_case_or_shape_render_as_the_server_reads_them(conn):
    """pgcopy's numpy path takes canonical uuid text in either case; anything else (braces, no dashes) goes
    the general way: the server reads the same uuid from every spelling."""
    import uuid as uuid_mod

    import polars as pl

    from fleetlab.store import pgcopy

    ids = [uuid_mod.UUID(int=i * 0x1F2E3D4C5B6A7988 + 7) for i in range(pgcopy.SMALL + 10)]
    for spelling in (str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: "{" + str(u) + "}"):
        frame = pl.DataFrame({"id": [spelling(u) for u in ids]})
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS u (id uuid)")
        conn.execute("TRUNCATE u")
        with conn.cursor() as cur, cur.copy("COPY u FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(pgcopy.SIGNATURE)
            copy.write(pgcopy.encode(frame, {"id": "uuid"}))
            copy.write(pgcopy.TRAILER)
        assert [r[0] for r in conn.execute("SELECT id FROM u")] == ids
