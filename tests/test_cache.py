"""The scenario cache: a second reset of the same fleet clones its template, gives exactly a fresh
build's content, and nothing that changes the content is ever served from an old template.

Every fleet here has a seed of this test session's own, so a suite running at the same time on a
shared server never meets these templates; each test drops the ones it made.
"""

from __future__ import annotations

import os
import shutil
import sys

import psycopg
import pytest

from fleetlab.errors import ResetRefused
from fleetlab.generation.fleets import plan
from fleetlab.model.scenarios import load_scenario
from fleetlab.store import cache, databases, db, migrate
from fleetlab.store.crypto import Keyring, decrypt_password, keyring_for
from fleetlab.store.reset import reset

from .conftest import drop_templates
from .reliability.harness import cli, cli_inprocess

AS_OF = "2026-01-01T00:00:00Z"
SEED = 100_000 + os.getpid() % 100_000  # this session's own
ROWS = {
    "organizations": "SELECT * FROM organizations ORDER BY id",
    "factories": "SELECT * FROM factories ORDER BY id",
    # everything but the ciphertext (fresh nonces each build), compared decrypted below
    "gateways": "SELECT id, factory_id, gateway_id, name, url, email, model, firmware_version, last_seen_at, "
    "metadata, created_at, updated_at, deleted_at FROM gateways ORDER BY id",
}


def spec(seed: int = SEED, **fields):
    return load_scenario("multi-tenant").override(organizations=3, seed=seed, as_of=AS_OF, **fields)


@pytest.fixture
def cached(settings, admin):
    """Settings with the cache on; the templates the test made are dropped afterwards."""
    yield settings.replace(cache_entries=4)
    drop_templates(admin, settings.home)


def entries(admin, settings) -> list[cache.Entry]:
    """The templates on the test server as the test's FLEETLAB_HOME sees them."""
    return cache.Cache(admin, cache.Seal.load(settings.home, create=False)).entries()


def content(url, key: bytes) -> dict:
    with db.connect(url) as conn:
        out = {t: conn.execute(q).fetchall() for t, q in ROWS.items()}
        stored = conn.execute("SELECT id, password_encrypted FROM gateways ORDER BY id").fetchall()
    keys = Keyring(key)
    out["passwords"] = [(i, decrypt_password(keys, p)) for i, p in stored]
    return out


def test_a_second_reset_clones_and_gives_exactly_a_fresh_builds_content(cached, db_url, new_db):
    import base64

    first = reset(cached, plan(spec()))
    assert first.cache.startswith("cache: built, and kept as fleetlab_cache_"), first.cache
    second = reset(cached, plan(spec()))
    assert second.cache.startswith("cache: cloned 'multi-tenant' from fleetlab_cache_"), second.cache
    assert second.counts == first.counts and list(second.counts) == ["organizations", "factories", "gateways"]
    assert "clone" in second.steps and "seed" not in second.steps

    fresh_url = new_db(create=False)
    fresh = reset(cached.replace(database_url=fresh_url.render(masked=False)), plan(spec()), use_cache=False)
    assert fresh.cache == "cache: not used, as asked (--no-cache)"
    key = base64.b64decode(cached.secret_key)
    assert content(db_url, key) == content(fresh_url, key)
    with db.connect(db_url) as conn:  # the clone says it was created now, by this reset
        created = conn.execute(
            "SELECT created_at > now() - interval '1 minute' FROM fleetlab_meta.fleetlab_marker"
        ).fetchone()[0]
    assert created


def test_nothing_that_changes_the_content_is_served_from_an_old_template(cached, admin):
    base = plan(spec())
    keys = keyring_for(cached, create=True)
    k = cache.key(base.scenario, keys.current_id, migrate.fingerprint())
    assert k == cache.key(plan(spec()).scenario, keys.current_id, migrate.fingerprint())  # stable
    other_key = Keyring(b"\x01" * 32).current_id
    assert (
        len(
            {
                k,
                cache.key(plan(spec(seed=SEED + 1)).scenario, keys.current_id, migrate.fingerprint()),  # another spec
                cache.key(plan(spec(locale="de_DE")).scenario, keys.current_id, migrate.fingerprint()),
                cache.key(base.scenario, other_key, migrate.fingerprint()),  # another key
                cache.key(
                    base.scenario, keys.current_id, [*migrate.fingerprint(), (1999999999999, "new")]
                ),  # a migration
            }
        )
        == 5
    )
    now = plan(load_scenario("multi-tenant").override(organizations=2, seed=SEED))  # as_of: "now"
    assert cache.key(now.scenario, keys.current_id, migrate.fingerprint()) is None


def test_an_edited_generator_or_another_library_version_changes_the_key(tmp_path, monkeypatch):
    edited, untouched = tmp_path / "edited", tmp_path / "untouched"
    for copy in (edited, untouched):
        shutil.copytree(cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert cache.fingerprint_of(edited) == cache.code_fingerprint()
    generator = edited / "generation" / "gateways.py"
    generator.write_text(generator.read_text() + "\n# one more line\n")
    assert cache.fingerprint_of(edited) != cache.code_fingerprint()
    reader = untouched / "read" / "workbench.py"  # the read layer does not decide content
    reader.write_text(reader.read_text() + "\n# a comment\n")
    assert cache.fingerprint_of(untouched) == cache.code_fingerprint()

    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == "faker" else real(name))
    with_other_faker = cache.fingerprint_of(untouched)
    monkeypatch.undo()
    assert with_other_faker != cache.fingerprint_of(untouched)


def test_another_key_or_spec_builds_again(cached, settings):
    assert reset(cached, plan(spec())).cache.startswith("cache: built")
    assert reset(cached, plan(spec(seed=SEED + 1))).cache.startswith("cache: built")
    other = cached.replace(secret_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
    assert reset(other, plan(spec())).cache.startswith("cache: built")
    assert reset(cached, plan(spec())).cache.startswith("cache: cloned")


def test_now_is_never_cached_and_the_line_says_how_to_cache(cached, admin):
    before = {e.name for e in entries(admin, cached)}
    result = reset(cached, plan(load_scenario("multi-tenant").override(organizations=2, seed=SEED)))
    assert result.cache == "cache: not used, as_of is 'now' (give --as-of to cache this fleet)"
    # no template of this fleet (another worker's tests may keep templates of their own meanwhile)
    added = [e for e in entries(admin, cached) if e.name not in before]
    assert not [e for e in added if e.spec.get("seed") == SEED], added
    assert reset(cached.replace(cache_entries=0), plan(spec())).cache == "cache: off (FLEETLAB_CACHE_ENTRIES=0)"


def test_least_recently_used_templates_are_evicted(cached, admin):
    small = cached.replace(cache_entries=2)
    names = []
    for i in range(3):
        names.append(reset(small, plan(spec(seed=SEED + 10 + i))).cache.split(" kept as ")[1].split()[0])
        if i == 1:  # use the first one again: the second becomes the least recently used
            assert reset(small, plan(spec(seed=SEED + 10))).cache.startswith("cache: cloned")
    mine = {e.name for e in entries(admin, cached)} & set(names)
    assert mine == {names[0], names[2]}


def test_a_template_is_never_a_reset_target_and_refuses_connections(cached, admin, server_url):
    reset(cached, plan(spec()))
    name = next(e.name for e in entries(admin, cached) if e.spec.get("seed") == SEED)
    target = cached.replace(database_url=server_url.with_dbname(name).render(masked=False))
    with pytest.raises(ResetRefused, match="template of fleetlab's scenario cache"):
        reset(target, plan(spec()))
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        psycopg.connect(server_url.with_dbname(name).render(masked=False))


def test_the_cli_lists_clears_and_says_what_each_reset_did(cached, cli_env, admin):
    # the console script's code in-process: what each command says, not the console script itself
    env = {**cli_env, "FLEETLAB_CACHE_ENTRIES": "4"}
    flags = ["--scenario", "multi-tenant", "--orgs", "2", "--seed", str(SEED + 50), "--as-of", AS_OF]
    built = cli_inprocess(["reset", "--yes", *flags], env)
    assert built.returncode == 0 and "cache: built, and kept as" in built.stdout, built.output
    again = cli_inprocess(["reset", "--yes", *flags], env)
    assert again.returncode == 0 and "cache: cloned 'multi-tenant'" in again.stdout, again.output
    assert "gateways" in again.stdout
    off = cli_inprocess(["reset", "--yes", "--no-cache", *flags], env)
    assert "cache: not used, as asked (--no-cache)" in off.stdout
    listed = cli_inprocess(["cache", "list"], env)
    assert listed.returncode == 0 and f"multi-tenant (seed {SEED + 50}, as of {AS_OF})" in listed.stdout
    assert "1     " in listed.stdout or " 1 " in listed.stdout  # one hit
    bad = cli_inprocess(["cache", "list"], {**env, "FLEETLAB_CACHE_ENTRIES": "lots"})
    assert bad.returncode != 0 and "FLEETLAB_CACHE_ENTRIES must be a whole number" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_reset_killed_while_keeping_or_cloning_leaves_the_previous_database_whole(cached, cli_env, db_url, admin):
    from .reliability.harness import content_hash, fleet_state

    env = {**cli_env, "FLEETLAB_CACHE_ENTRIES": "4"}
    flags = ["--scenario", "multi-tenant", "--orgs", "2", "--seed", str(SEED + 60), "--as-of", AS_OF]
    # the kills in a process of their own (FLEETLAB_FAULT), the resets around them in this one
    assert (
        cli_inprocess(["reset", "--yes", "--seed", "3"], env).returncode == 0
    )  # the previous data (not cached: "now")
    before = content_hash(db_url)
    # 1. killed between copying the template and writing its record
    run = cli(["reset", "--yes", *flags], {**env, "FLEETLAB_FAULT": "cache:before-record"})
    assert run.returncode == -9, run.output
    assert content_hash(db_url) == before
    assert [e for e in entries(admin, cached) if e.unfinished]  # listed, never served
    run = cli_inprocess(["reset", "--yes", *flags], env)
    assert run.returncode == 0 and "cache: built, and kept as" in run.stdout, run.output  # built again, kept whole
    assert not [e for e in entries(admin, cached) if e.unfinished]
    assert fleet_state(db_url) == "complete"
    # 2. killed after cloning the template into the side database, before the swap
    assert cli_inprocess(["reset", "--yes", "--seed", "4"], env).returncode == 0
    before = content_hash(db_url)
    run = cli(["reset", "--yes", *flags], {**env, "FLEETLAB_FAULT": "reset:after-create"})
    assert run.returncode == -9, run.output
    assert content_hash(db_url) == before
    run = cli_inprocess(["reset", "--yes", *flags], env)
    assert run.returncode == 0 and "cache: cloned" in run.stdout, run.output
    assert fleet_state(db_url) == "complete"


@pytest.mark.skipif(sys.platform != "linux", reason="the strategy table is measured on Linux")
def test_the_clone_strategy_follows_the_server_version(admin, new_db):
    source = new_db()
    into = f"{source.database}_copy"
    try:
        how = databases.clone(admin, source.database, into)
    finally:
        databases.drop(admin, into, ours="this test's clone")
    version = admin.info.server_version
    assert how == ("file clone" if version >= 180000 else "file copy")


class _RefusesToClone:
    """The maintenance connection of a server whose filesystem cannot clone files (macOS on HFS+, a
    PostgreSQL built without copy_file_range): the clone attempt fails as PostgreSQL reports it there; every
    other statement runs on the real server. Used only with PostgreSQL 18, the first with file_copy_method."""

    def __init__(self, conn):
        self.conn, self.info = conn, conn.info
        self.cloning = False

    def execute(self, query, *args):
        text = query if isinstance(query, str) else query.as_string(self.conn)
        if text.startswith("SET file_copy_method"):
            self.cloning = True
        elif text.startswith("RESET file_copy_method"):
            self.cloning = False
        elif self.cloning and text.startswith("CREATE DATABASE"):
            raise psycopg.errors.FeatureNotSupported('could not clone file "base/1/1259": Operation not supported')
        return self.conn.execute(query, *args)


def test_a_server_that_cannot_clone_files_gets_a_plain_file_copy(admin, new_db):
    if admin.info.server_version < 180000:
        pytest.skip("file_copy_method is PostgreSQL 18's")
    source = new_db()
    with db.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
    into = f"{source.database}_copy"
    try:
        assert databases.clone(_RefusesToClone(admin), source.database, into) == "file copy"
        with db.connect(source.with_dbname(into)) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1000
    finally:
        databases.drop(admin, into, ours="this test's clone")


# what a reset served from the cache imports: the key needs only the spec (issue 25)
_WATCH = (
    "import sys; from fleetlab.app.cli import main; code = main(sys.argv[1:]); "
    "print('IMPORTED', *sorted(m for m in ('polars', 'faker', 'numpy', 'fleetlab.generation.fleets') "
    "if m in sys.modules)); sys.exit(code)"
)


def test_a_reset_served_by_the_cache_plans_nothing_and_imports_neither_polars_nor_faker(cli_env, admin, settings):
    import subprocess

    env = {**cli_env, "FLEETLAB_CACHE_ENTRIES": "4"}
    flags = ["reset", "--yes", "--scenario", "multi-tenant", "--orgs", "2", "--seed", str(SEED + 7), "--as-of", AS_OF]
    try:
        runs = [subprocess.run([sys.executable, "-c", _WATCH, *flags], env=env, capture_output=True, text=True, timeout=120)
                for _ in range(2)]  # fmt: skip
        built, served = (r.stdout + r.stderr for r in runs)
        assert runs[0].returncode == 0 and "kept as" in built, built
        # the build plans (in its thread): the generator, numpy and polars are there
        assert "IMPORTED faker fleetlab.generation.fleets numpy polars" in built, built
        assert runs[1].returncode == 0 and "cache: cloned 'multi-tenant'" in served, served
        assert "IMPORTED\n" in served, served  # nothing of the generator, nor its libraries
    finally:
        drop_templates(admin, settings.home)
