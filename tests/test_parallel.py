"""A reset's parallel load: N COPY streams (this process and helper processes), indexes rebuilt side by side.

The rows must be exactly those of a single-stream load, the schema exactly the platform's, and a
failure in any stream must leave the previous database as it was.
"""

from __future__ import annotations

import pytest

from fleetlab.errors import DatabaseError
from fleetlab.generation.fleets import plan
from fleetlab.generation.keyed import keyed_password
from fleetlab.store import db, parallel, schema
from fleetlab.store.crypto import decrypt_password, keyring_for
from fleetlab.store.databases import build_name
from fleetlab.store.load import CHUNK_ROWS, build_indexes, defer_indexes
from fleetlab.store.reset import reset

from .test_load import analyzed, rows, schema_objects, spec

# 3 organizations × 4 factories × 6,000 gateways: 72,000 gateways, eight chunks of CHUNK_ROWS (10,000)
BIG = {"organizations": "3", "factories_per_organization": "4", "gateways_per_factory": "6000"}
# what the resets below load over 2 and 3 streams: 36,000 gateways, four chunks (the last one short), so
# that a stream takes a second chunk from the shared numbers; the streams are set, not picked from the size
LOADED = {"organizations": "3", "factories_per_organization": "2", "gateways_per_factory": "6000"}


def test_streams_for_follows_the_setting_the_cores_and_the_size(monkeypatch):
    small, big = plan(spec()), plan(spec(**BIG))
    assert parallel.streams_for(small, 0) == 1  # under PARALLEL_ROWS: one stream
    assert parallel.streams_for(small, 4) == 1  # one chunk of gateways cannot be split
    assert parallel.streams_for(big, 2) == 2
    assert parallel.streams_for(big, 64) == 8  # no more streams than chunks
    assert parallel.streams_for(big, 0) == 1  # auto: 72,000 < PARALLEL_ROWS
    assert -(-big.counts()["gateways"] // CHUNK_ROWS) == 8
    monkeypatch.setattr(parallel, "PARALLEL_ROWS", 10_000)  # big enough: a stream per two cores
    for cores, streams in ((1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (32, 8)):
        monkeypatch.setattr(parallel, "cores", lambda n=cores: n)
        assert parallel.streams_for(big, 0) == streams


def test_chunks_by_number_are_the_chunks():
    fleet = plan(spec(**BIG))
    whole = [f["id"].to_list() for f in fleet.chunks("gateways", 10_000)]
    assert len(whole) == 8 and len(whole[-1]) == 2_000
    assert [f["id"].to_list() for f in fleet.chunks("gateways", 10_000, [7, 0, 3])] == [whole[7], whole[0], whole[3]]
    orgs = [f["id"].to_list() for f in fleet.chunks("organizations", 2, [1, 0])]
    assert orgs == [fleet.organizations["id"].to_list()[2:], fleet.organizations["id"].to_list()[:2]]
    materialized = fleet.materialize()
    assert [f["id"].to_list() for f in materialized.chunks("gateways", 10_000, [7, 0])] == [whole[7], whole[0]]


def test_streams_share_the_chunks_each_once():
    numbers = parallel._Numbers(1_000)
    taken: list[int] = []

    def take() -> None:
        taken.extend(numbers)

    import threading

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1_000)) and numbers.take() is None


def test_a_big_fleet_over_one_stream_is_rendered_by_threads_in_order(settings, db_url, monkeypatch):
    """From BULK_ROWS rows, one stream goes through the parallel load (its tables truncated in the COPY's
    transaction, indexes rebuilt after the commit), its chunks rendered by several threads: the same rows
    and catalog as the plain load, laid down in the generator's order."""
    from fleetlab.store import load as load_mod

    fleet = plan(spec(**LOADED))
    reset(settings.replace(load_streams=1), fleet)
    plain_rows, plain_schema = rows(db_url), schema_objects(db_url)
    monkeypatch.setattr(load_mod, "BULK_ROWS", 1_000)
    monkeypatch.setattr(parallel, "RENDER_THREADS", 3)
    monkeypatch.setattr(load_mod, "THREADED_CHUNK_ROWS", 5_000)  # 8 chunks over 3 threads
    result = reset(settings.replace(load_streams=1), fleet)
    assert result.streams == 1 and result.counts == {"organizations": 3, "factories": 6, "gateways": 36_000}
    assert rows(db_url) == plain_rows and schema_objects(db_url) == plain_schema
    with db.connect(db_url) as c:
        laid = [r[0] for r in c.execute("SELECT id::text FROM gateways ORDER BY ctid")]
        assert schema.differences(schema.describe(c)) == []
        # written frozen (COPY … FREEZE): the pages all-visible, as ANALYZE counted them after the load (all but
        # the few a multi-insert batch went back to)
        pages = c.execute("SELECT relpages, relallvisible FROM pg_class WHERE oid = 'gateways'::regclass").fetchone()
        assert pages[0] > 0 and pages[1] >= 0.9 * pages[0]
    assert laid == [i for f in fleet.chunks("gateways", 10_000) for i in f["id"].to_list()]


@pytest.mark.parametrize("streams", [2, 3])
def test_parallel_reset_loads_the_same_rows_as_one_stream(settings, db_url, streams):
    fleet = plan(spec(**LOADED))
    one = reset(settings.replace(load_streams=1), fleet)
    assert one.streams == 1
    serial_rows, serial_schema = rows(db_url), schema_objects(db_url)

    result = reset(settings.replace(load_streams=streams), fleet)
    assert result.streams == streams and len(result.helpers_peak_mib) == streams - 1
    assert result.counts == one.counts == {"organizations": 3, "factories": 6, "gateways": 36_000}
    assert rows(db_url) == serial_rows
    assert schema_objects(db_url) == serial_schema
    with db.connect(db_url) as c:
        assert schema.differences(schema.describe(c)) == []  # keys attached to their indexes: the platform's catalog
        marker = c.execute("SELECT scenario FROM fleetlab_meta.fleetlab_marker").fetchone()[0]
        assert marker["counts"] == result.counts
        assert analyzed(c)["gateways"] == 11  # the statistics gathered, from a small sample, as one stream does
        sample = c.execute(
            "SELECT id::text, password_encrypted FROM gateways TABLESAMPLE SYSTEM (2) REPEATABLE (1) LIMIT 300"
        ).fetchall()
    keys = keyring_for(settings, create=False)
    assert sample and all(decrypt_password(keys, token, rid) == keyed_password(42, rid) for rid, token in sample)


def test_a_stream_killed_fails_the_reset_and_keeps_the_previous_database(settings, db_url, admin, monkeypatch):
    reset(settings, plan(spec()))
    before, objects = rows(db_url), schema_objects(db_url)
    monkeypatch.setenv("FLEETLAB_FAULT", "stream:gateways")  # the helper SIGKILLs itself at its first chunk
    with pytest.raises(DatabaseError, match=r"stream 2 of 2 was killed by signal 9.*Nothing was changed"):
        reset(settings.replace(load_streams=2), plan(spec(**LOADED)))
    assert rows(db_url) == before and schema_objects(db_url) == objects
    assert build_name(db_url.database) not in {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
    monkeypatch.delenv("FLEETLAB_FAULT")
    assert reset(settings.replace(load_streams=2), plan(spec(**LOADED))).counts["gateways"] == 36_000


def test_the_indexes_rebuilt_side_by_side_are_the_platforms(settings, db_url):
    """build_indexes on its own: every index and key back, the same catalog, whatever the connections."""
    reset(settings, plan(spec()))
    objects = schema_objects(db_url)
    for connections in (1, 4):
        with db.connect(db_url) as c:
            with c.cursor() as cur:
                rebuild = defer_indexes(cur)
            c.commit()
            assert schema_objects(db_url) != objects
            assert len(rebuild.indexes) == 12 and len(rebuild.attach) == 3 and len(rebuild.fkeys) == 2
            assert rebuild.indexes[0][0] == "gateways"  # the biggest table's first
        build_indexes(db_url, rebuild, connections)
        assert schema_objects(db_url) == objects
