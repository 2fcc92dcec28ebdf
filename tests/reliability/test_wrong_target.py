"""Section 1 — wrong target: fleetlab never drops or rewrites a database that is not its own."""

from __future__ import annotations

import socket
import threading

import pytest

from fleetlab.store import db, marker, server
from fleetlab.store.databases import build_name
from fleetlab.store.databases import create as create_database
from fleetlab.store.databases import drop as drop_database

from .harness import base_env, cli, cli_inprocess, content_hash, databases, observe


class Listener:
    """A TCP port that counts the connections it receives (to prove none were attempted)."""

    def __init__(self, host: str = "0.0.0.0"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


def _non_loopback_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))  # no packet is sent for UDP connect
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


def test_remote_hosts_refused_before_any_connection(listener, tmp_path):
    ip = _non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback address to listen on")
    p = listener.port
    remote = [
        (f"postgresql://u:pw@{ip}:{p}/fleetlab", {}),
        (f"postgresql://u:pw@localhost,{ip}:{p}/fleetlab".replace(f"{ip}:{p}", ip) + f"?port={p}", {}),
        (f"postgresql://u:pw@localhost:{p}/fleetlab?host={ip}", {}),
        (f"postgresql://u:pw@localhost.{ip}.nip.io:{p}/fleetlab", {}),
        # libpq fills a missing host from PGHOST and overrides it with PGHOSTADDR
        ("postgresql:///fleetlab", {"PGHOST": ip, "PGPORT": str(p)}),
        (f"postgresql://u:pw@localhost:{p}/fleetlab", {"PGHOSTADDR": ip}),
        ("postgresql://u:pw@localhost/fleetlab", {"PGSERVICE": "production"}),
    ]
    problems = []
    for url, extra in remote:
        for command in (["reset", "--yes"], ["seed", "--yes"]):
            e = base_env(FLEETLAB_HOME=str(tmp_path), **extra) | ({"DATABASE_URL": url} if url else {})
            run = cli_inprocess(command, e)
            observe("bad_inputs_tried")
            if run.returncode == 0 or "FLEETLAB_ALLOW_REMOTE_RESET" not in run.stderr:
                problems.append(f"{url} {extra} {command}: exit {run.returncode}: {run.stderr.strip()}")
    assert listener.accepted == 0, f"{listener.accepted} connection(s) reached the remote listener"
    assert not problems, "\n".join(problems)

    # the listener does see a connection once the refusal is lifted: the check above is meaningful
    run = cli_inprocess(
        ["seed", "--yes"],
        base_env(
            DATABASE_URL=f"postgresql://u:pw@{ip}:{p}/fleetlab",
            FLEETLAB_HOME=str(tmp_path),
            FLEETLAB_ALLOW_REMOTE_RESET="1",
            FLEETLAB_SECRET_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
    )
    assert run.returncode != 0 and not run.traceback
    assert listener.accepted >= 1


def _unmarked(admin, new_db):
    url = new_db()
    with db.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE precious (id int PRIMARY KEY, note text)")
        c.execute("INSERT INTO precious VALUES (1, 'the only copy')")
    return url


def test_database_with_tables_and_no_marker_is_kept(admin, new_db, env):
    url = _unmarked(admin, new_db)
    env = {**env, "DATABASE_URL": url.render(masked=False)}
    before = content_hash(url)
    for command in (["reset", "--yes"], ["seed", "--yes"]):
        run = cli(command, env)
        assert run.returncode != 0 and not run.traceback, run.output
        assert "marker" in run.stderr, run.stderr
        assert content_hash(url) == before


def test_an_empty_marker_table_planted_in_fleetlabs_schema_does_not_make_a_database_ours(admin, new_db, env):
    """fleetlab's bookkeeping schema holds the marker now; a marker table there without its row is no
    marker, as one in public never was."""
    url = _unmarked(admin, new_db)
    with db.connect(url, autocommit=True) as c:
        c.execute(marker.DDL)  # the table, not the row
    env = {**env, "DATABASE_URL": url.render(masked=False)}
    before = content_hash(url)
    for command in (["reset", "--yes"], ["seed", "--yes"]):
        run = cli_inprocess(command, env)
        assert run.returncode != 0 and not run.traceback and "no fleetlab marker" in run.stderr, run.output
        assert content_hash(url) == before


def test_a_marker_planted_in_fleetlabs_schema_does_not_unprotect_an_old_workbench(new_db, env):
    """A workbench of the old layout (marker in public) marked protected stays protected when an
    unprotected marker is planted in fleetlab_meta beside it; `fleetlab db unprotect` clears both."""
    from ..test_migrate import old_layout

    url = new_db()
    with db.connect(url, autocommit=True) as c:
        old_layout(c)
        c.execute("INSERT INTO organizations (name) VALUES ('the only copy')")
        c.execute("UPDATE public.fleetlab_marker SET protected = true")
        marker.create(c)  # fleetlab_meta.fleetlab_marker, protected = false
    env = {**env, "DATABASE_URL": url.render(masked=False)}
    before = content_hash(url)
    for command in (["reset", "--yes"], ["seed", "--yes"]):
        run = cli_inprocess(command, env)
        assert run.returncode != 0 and not run.traceback and "protected" in run.stderr, run.output
        assert content_hash(url) == before
    assert cli_inprocess(["db", "unprotect"], env).returncode == 0
    with db.connect(url, autocommit=True) as c:
        assert marker.read(c).protected is False
        assert c.execute("SELECT protected FROM public.fleetlab_marker").fetchone()[0] is False


def test_unmarked_database_under_the_side_name_is_kept(admin, new_db, seeded, env):
    """A database of someone else's that happens to have the build name is not dropped either."""
    side = seeded.with_dbname(build_name(seeded.database))
    create_database(admin, side.database)
    with db.connect(side, autocommit=True) as c:
        c.execute("CREATE TABLE precious (id int)")
    before, before_side = content_hash(seeded), content_hash(side)
    run = cli(["reset", "--yes"], env)
    assert run.returncode != 0 and not run.traceback and "no fleetlab marker" in run.stderr, run.output
    assert content_hash(seeded) == before and content_hash(side) == before_side


def test_protected_marker_is_kept(seeded, env):
    assert cli(["db", "protect"], env).returncode == 0
    before = content_hash(seeded)
    for command in (["reset", "--yes"], ["seed", "--yes"]):
        run = cli(command, env)
        assert run.returncode != 0 and not run.traceback, run.output
        assert "protected" in run.stderr
        assert content_hash(seeded) == before
    assert cli(["db", "unprotect"], env).returncode == 0
    assert cli(["reset", "--yes"], env).returncode == 0


LONG_NAMES = [
    "a" * 64,
    "fleetlab_" + "x" * 60,
    "é" * 32,  # 32 characters, 64 bytes
    "数据库" * 7 + "a",  # 22 characters, 64 bytes
]


def test_names_postgresql_would_truncate_are_refused(admin, server_url, env):
    """`aaa…a` (63) is someone's database; `aaa…a_x` would be truncated onto it by PostgreSQL."""
    kept = "t" * 63
    drop_database(admin, kept, ours="this test's stand-in for someone's database")
    create_database(admin, kept)
    try:
        with db.connect(server_url.with_dbname(kept), autocommit=True) as c:
            c.execute("CREATE TABLE precious (id int)")
        before = content_hash(server_url.with_dbname(kept))
        names = [*LONG_NAMES, kept + "_x", kept + "y"]
        problems = []
        for name in names:
            e = {**env, "DATABASE_URL": server_url.with_dbname(name).render(masked=False)}
            for command in (
                ["reset", "--yes"],
                ["seed", "--yes"],
                ["migrate"],
                ["status"],
                ["db", "protect"],
                ["query", "create table intruder (id int)"],
                ["check"],
                ["decrypt", "GW-SPR-001"],
            ):
                run = cli_inprocess(command, e)
                observe("bad_inputs_tried")
                if run.returncode == 0 or run.traceback or "63" not in run.stderr:
                    problems.append(f"{name!r} {command}: exit {run.returncode}: {run.stderr.strip()[:200]}")
        assert not problems, "\n".join(problems)
        assert content_hash(server_url.with_dbname(kept)) == before
    finally:
        drop_database(admin, kept, ours="this test's stand-in for someone's database")


HOSTILE_NAMES = [
    'fl"quote',
    "fl'apos",
    "fl; DROP DATABASE postgres; --",
    "fl lab",
    "Fleetlab_Case",
    "flëet_ü",
    "数据库",
    "fl$1",
    "fl\\back",
    "fl%pct",
    "-fl",
]


def test_hostile_names_are_quoted(admin, server_url, env, seeded):
    before = databases(server_url)
    kept = {"postgres", "template1", seeded.database}
    try:
        for i, name in enumerate(HOSTILE_NAMES):
            e = {**env, "DATABASE_URL": server_url.with_dbname(name).render(masked=False)}
            run = (cli if i < 3 else cli_inprocess)(["reset", "--yes"], e)  # a few in a real process
            assert run.returncode == 0, f"{name!r}: {run.output}"
            after = databases(server_url)
            assert name in after, f"{name!r} was not created under its exact name"
            # other test sessions may share the server: judge only names this reset could have made
            related = {
                d for d in after - before if d != name and (d.lower() in name.lower() or name.lower() in d.lower())
            }
            assert not related, f"{name!r}: also created {related}"
            assert build_name(name) not in after
            assert kept <= after, f"{name!r}: dropped {kept - after}"
            assert cli_inprocess(["seed", "--yes"], e).returncode == 0
            drop_database(admin, name, ours="the database this test reset")
    finally:
        for name in HOSTILE_NAMES:
            drop_database(admin, name, ours="the database this test reset")


REFUSED_NAMES = ["postgres", "template0", "template1", "", "fl%00nul", "fl%0Anewline"]


def test_cluster_and_unusable_names_are_refused(admin, server_url, env):
    before = databases(server_url)
    tpl = content_hash(server_url.with_dbname("template1"))
    problems = []
    for name in REFUSED_NAMES:
        url = server_url.render(masked=False).rsplit("/", 1)
        raw = url[0] + "/" + name + ("?" + url[1].split("?", 1)[1] if "?" in url[1] else "")
        for command in (["reset", "--yes"], ["seed", "--yes"]):
            run = cli_inprocess(command, {**env, "DATABASE_URL": raw})
            observe("bad_inputs_tried")
            if run.returncode == 0 or run.traceback or not run.stderr.strip():
                problems.append(f"{name!r} {command}: exit {run.returncode}: {run.output.strip()[:300]}")
    assert not problems, "\n".join(problems)
    assert {"postgres", "template0", "template1"} <= databases(server_url)
    # (what other tests running beside this one make has its own prefix)
    made = {
        n
        for n in databases(server_url) - before
        if not n.startswith(
            (
                "fltest_",
                "fleetlab_build_",
                "fleetlab_prev_",
                "fleetlab_cache_",
                "fleetlab_test_",
                "fleetlab_tplbuild_",
                "fleetlab_snapshot_",
            )
        )
    }
    assert not made
    assert content_hash(server_url.with_dbname("template1")) == tpl


def test_the_embedded_server_is_reached_through_its_socket_whatever_libpq_variables_say(listener, tmp_path):
    """PGHOSTADDR (or a service's hostaddr) would send a socket connection elsewhere: fleetlab pins its
    own server's socket, so a reset goes there, never to the listener, and no message names a placeholder."""
    ip = _non_loopback_ip() or "127.0.0.1"
    home = tmp_path / "home"
    service = tmp_path / "pg_service.conf"
    service.write_text(f"[production]\nhostaddr={ip}\nport={listener.port}\n")
    env = base_env(FLEETLAB_HOME=str(home), PGHOSTADDR=ip, PGSERVICEFILE=str(service), PGSERVICE="production")
    try:
        for command in (["reset", "--yes"], ["seed", "--yes"], ["query", "select count(*) as n from gateways"]):
            run = cli_inprocess(command, env)
            observe("bad_inputs_tried")
            assert run.returncode == 0, run.stderr
            assert "embedded-server-socket" not in run.stderr + run.stdout
        assert listener.accepted == 0, f"{listener.accepted} connection(s) reached the listener"
    finally:
        server.stop(home.resolve() / "pgdata", mode="immediate")
