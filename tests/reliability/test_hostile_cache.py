"""Hostile trials of the scenario cache on a shared server: it serves and drops only what fleetlab made.

Another role on the server makes databases named like templates, copies records, plants malformed
ones, connects to a template, or slips an object of its own into one. None of it is served, none of
it is dropped, and no command breaks.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from psycopg import sql

from fleetlab.generation.acme import acme_fleet
from fleetlab.store import cache, db
from fleetlab.store.databases import create as create_database
from fleetlab.store.databases import drop as drop_database
from fleetlab.store.reset import reset

from ..conftest import drop_templates
from .conftest import AS_OF
from .harness import cli_inprocess as cli  # the console script's code without its start-up
from .harness import databases, observe

FLAGS = ["--as-of", "2026-01-01T00:00:00Z", "--seed", str(300_000 + os.getpid() % 100_000)]


@pytest.fixture
def cached_env(env, settings, admin):
    yield {**env, "FLEETLAB_CACHE_ENTRIES": "4"}
    drop_templates(admin, settings.home)


def _wait_for_no_session(admin, name: str) -> None:
    """The server ends a backend a moment after its client closes: wait until none is left on `name`."""
    for _ in range(200):
        if admin.execute("SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = %s", [name]).fetchone()[0]:
            return
        time.sleep(0.05)


def _templates(admin, settings) -> cache.Cache:
    return cache.Cache(admin, cache.Seal.load(settings.home, create=True))


def _make(admin, name: str, owner: str | None = None, comment: str | None = None, template: bool = True) -> None:
    drop_database(admin, name, ours="planted by this test", force=False)
    create_database(admin, name)
    # what an attacker does by hand: another owner, a forged record, the template flags
    if owner:
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(owner)))
    if comment is not None:
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(comment)))
    if template:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true").format(sql.Identifier(name))
        )


def _unmake(admin, name: str) -> None:
    drop_database(admin, name, ours="planted by this test")


def _kept(env, settings, admin) -> cache.Entry:
    run = cli(["reset", "--yes", *FLAGS], env)
    assert run.returncode == 0 and "kept as" in run.stdout, run.output
    return next(e for e in _templates(admin, settings).entries() if e.ours and e.spec.get("seed") == int(FLAGS[-1]))


def _record(entry: cache.Entry, **changes) -> str:
    return json.dumps({"fleetlab_cache": 2, "record": {**entry.record, **changes}, "seal": "0" * 64})


def test_a_database_merely_named_like_a_template_is_never_dropped_nor_served(
    cached_env, settings, admin, alice, server_url
):
    real = _kept(cached_env, settings, admin)
    record = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (real.name,)
    ).fetchone()[0]
    planted = {
        f"{cache.PREFIX}alice_{os.getpid()}": (alice, None),  # another role's, no record
        f"{cache.PREFIX}copied_{os.getpid()}": (alice, record),  # another role's, our record copied
        f"{cache.PREFIX}mine_{os.getpid()}": (None, None),  # our role's, no record
        f"{cache.PREFIX}forged_{os.getpid()}": (None, record),  # our role's, a record of another database
    }
    for name, (owner, comment) in planted.items():
        _make(admin, name, owner, comment)
    try:
        listed = cli(["cache", "list"], cached_env)
        assert listed.returncode == 0 and not listed.traceback, listed.output
        observe("bad_inputs_tried", len(planted))
        for name in planted:
            assert name in listed.stdout.split("not ours:")[1], listed.stdout
        assert real.name in listed.stdout.split("not ours:")[0]
        # the real template's record, copied onto our own database, does not verify there
        assert _templates(admin, settings).lookup(real.key).name == real.name
        # clear drops ours and nothing else
        cleared = cli(["cache", "clear"], cached_env)
        kept = int(cleared.stdout.split("kept ")[1].split()[0])  # these, and other tests' own on this server
        assert cleared.returncode == 0 and kept >= len(planted), cleared.output
        left = databases(server_url)
        assert set(planted) <= left and real.name not in left
        # eviction too: a reset that keeps with a limit of 1 drops only what is ours
        assert cli(["reset", "--yes", *FLAGS], {**cached_env, "FLEETLAB_CACHE_ENTRIES": "1"}).returncode == 0
        assert set(planted) <= databases(server_url)
    finally:
        for name in planted:
            _unmake(admin, name)


MALFORMED = {
    "bad json": "{not json",
    "deep": "[" * 100_000 + "]" * 100_000,
    "not an object": json.dumps([1, 2, 3]),
    "huge": json.dumps({"fleetlab_cache": 2, "record": {"x": "y" * 200_000}}),
    "no seal": json.dumps({"fleetlab_cache": 2, "record": {"key": "k"}}),
}


def test_malformed_records_break_no_command(cached_env, settings, admin, server_url):
    real = _kept(cached_env, settings, admin)
    seal = cache.Seal.load(settings.home, create=False)
    names = {}
    for i, (_what, comment) in enumerate(MALFORMED.items()):
        names[f"{cache.PREFIX}bad{i}_{os.getpid()}"] = comment
    # sealed with our own secret, as a bug could write them: the types are checked too
    signed_bad = {
        "zone-less time": {"created": "2026-01-01T00:00:00"},
        "spec not a mapping": {"spec": ["a"]},
        "hits a string": {"hits": "3"},
        "unknown origin": {"origin": "someone"},
    }
    for i, (_what, change) in enumerate(signed_bad.items()):
        name = f"{cache.PREFIX}sbad{i}_{os.getpid()}"
        _make(admin, name, comment="")
        oid = admin.execute("SELECT oid::bigint FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]
        record = {**real.record, "key": real.key, **change}
        doc = {"fleetlab_cache": 2, "record": record, "seal": seal.sign(name, oid, record)}
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(json.dumps(doc)))
        )
        names[name] = None
    for name, comment in names.items():
        if comment is not None:
            _make(admin, name, comment=comment)
    observe("bad_inputs_tried", len(names))
    try:
        for args in (["cache", "list"], ["reset", "--yes", *FLAGS], ["cache", "clear"]):
            run = cli(args, cached_env)
            assert run.returncode == 0 and not run.traceback, run.output
        assert set(names) <= databases(server_url)
        found = {e.name: e for e in _templates(admin, settings).entries()}
        assert all(not found[n].ours for n in names), {n: found[n].problem for n in names}
    finally:
        for name in names:
            _unmake(admin, name)


def test_a_template_with_a_session_connected_is_built_instead_and_says_why(cached_env, settings, admin, server_url):
    real = _kept(cached_env, settings, admin)
    ident = sql.Identifier(real.name)
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
    squatter = db.connect(server_url.with_dbname(real.name), autocommit=True, application_name="squatter")
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
    try:
        run = cli(["reset", "--yes", *FLAGS], cached_env)
        assert run.returncode == 0 and not run.traceback, run.output
        assert "lost the connection" not in run.output
        assert f"cache: not served, 1 session(s) are connected to its template {real.name}" in run.stdout, run.stdout
        assert "squatter" in run.stdout and "built instead" in run.stdout
    finally:
        squatter.close()
    _wait_for_no_session(admin, real.name)
    run = cli(["reset", "--yes", *FLAGS], cached_env)
    assert "cache: cloned" in run.stdout, run.output


def test_a_template_holding_an_object_of_another_role_is_not_served(
    cached_env, settings, admin, alice, server_url, db_url
):
    real = _kept(cached_env, settings, admin)
    ident = sql.Identifier(real.name)
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
    with db.connect(server_url.with_dbname(real.name), autocommit=True) as conn:
        conn.execute("CREATE FUNCTION public.trap() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        conn.execute(sql.SQL("ALTER FUNCTION public.trap() OWNER TO {}").format(sql.Identifier(alice)))
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
    try:
        run = cli(["reset", "--yes", *FLAGS], cached_env)
        assert run.returncode == 0 and not run.traceback, run.output
        assert "holds objects not owned by" in run.stdout and "function public.trap" in run.stdout, run.stdout
        with db.connect(db_url) as conn:
            assert conn.execute("SELECT to_regprocedure('public.trap()')").fetchone()[0] is None
    finally:
        drop_templates(admin, settings.home)  # before alice goes: it holds her function


def test_the_reset_prints_the_counts_it_measured(cached_env, settings, admin, server_url):
    real = _kept(cached_env, settings, admin)
    ident = sql.Identifier(real.name)
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
    with db.connect(server_url.with_dbname(real.name), autocommit=True) as conn:  # the record says 6
        conn.execute("DELETE FROM gateways WHERE id IN (SELECT id FROM gateways LIMIT 2)")
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
    _wait_for_no_session(admin, real.name)
    run = cli(["reset", "--yes", *FLAGS], cached_env)
    assert run.returncode == 0 and "cache: cloned" in run.stdout, run.output
    gateways = next(line for line in run.stdout.splitlines() if line.strip().startswith("gateways"))
    assert gateways.split()[1] == "4", run.stdout


def test_as_a_role_that_is_no_superuser_clear_and_list_go_on_past_other_roles_databases(
    settings, admin, alice, server_url, new_db
):
    """fleetlab connecting as a plain CREATEDB role, as on a shared server: another role's database
    named like a template is listed as not ours; clear does not fail on it."""
    me = f"fltest_me_{os.getpid()}"
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(me)))
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(me)))
    theirs = f"{cache.PREFIX}theirs_{os.getpid()}"
    _make(admin, theirs, alice, comment="")
    mine = new_db(create=False).database
    url = server_url.with_dbname(mine)
    env = {
        "DATABASE_URL": f"postgresql://{me}@{url.host}:{url.port}/{mine}"
        if not url.host.startswith("/")
        else f"postgresql://{me}@/{mine}?host={url.host}&port={url.port}"
    }
    from .harness import base_env

    e = base_env(
        **env, FLEETLAB_HOME=str(settings.home), FLEETLAB_SECRET_KEY=settings.secret_key, FLEETLAB_CACHE_ENTRIES="4"
    )
    try:
        built = cli(["reset", "--yes", *FLAGS], e)
        assert built.returncode == 0 and "kept as" in built.stdout, built.output
        for args in (["cache", "list"], ["cache", "clear"]):
            run = cli(args, e)
            assert run.returncode == 0 and not run.traceback, run.output
            assert theirs in run.stdout or "not ours" in run.stdout
        assert theirs in databases(server_url)
        assert not [
            n
            for n in databases(server_url)
            if n.startswith(cache.PREFIX)
            and n != theirs
            and admin.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (n,)).fetchone()[0]
            == me
        ]
    finally:
        _unmake(admin, theirs)
        drop_database(admin, mine, ours="made by this test's other role")
        for (n,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)", (me,)
        ).fetchall():
            drop_database(admin, n, ours="made by this test's other role")
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(me)))


def test_a_keep_killed_before_its_record_leaves_a_database_the_next_run_knows_as_its_own(settings, db_url, admin):
    """The unfinished template is ours by the note in FLEETLAB_HOME: never served, dropped by the next keep."""
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario

    cached = settings.replace(cache_entries=4)
    spec = load_scenario("default").override(as_of="2026-01-01T00:00:00Z", seed=int(FLAGS[-1]) + 1)
    result = reset(cached, plan(spec))
    name = result.cache.split(" kept as ")[1].split()[0]
    admin.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(sql.Identifier(name)))  # as if killed before
    templates = _templates(admin, cached)
    templates.seal.begin(name)  # the note the keep writes first
    try:
        entry = next(e for e in templates.entries() if e.name == name)
        assert entry.ours and entry.unfinished and templates.lookup(templates.entries()[0].key or "x") is None
        again = reset(cached, plan(spec))
        assert again.cache.startswith("cache: built, and kept as"), again.cache
    finally:
        drop_templates(admin, cached.home)
    assert reset(cached.replace(cache_entries=0), acme_fleet(AS_OF)).counts["gateways"] == 6


def test_cache_clear_is_refused_for_a_server_that_is_not_on_this_machine(env):
    run = cli(["cache", "clear"], {**env, "DATABASE_URL": "postgresql://me:hunter2-x@db.example.invalid/fleetlab"})
    assert run.returncode == 1 and not run.traceback, run.output
    assert "the host is not this machine" in run.stderr and "hunter2-x" not in run.output, run.output
