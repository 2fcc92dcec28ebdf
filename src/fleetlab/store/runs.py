"""A test session's databases on one server: its run token and the lock that says it is alive, the
templates it clones (looked up once each), the databases it makes (sealed as the run's), the hits it
records when it ends, and the sweep of databases whose run is gone. The pytest plugin
(`fleetlab.pytest_plugin`) is its one user.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..config import Settings
from ..dsn import DatabaseURL
from ..errors import DatabaseError, FleetlabError, LockTimeout
from . import cache, databases, db
from .crypto import keyring_for

PREFIX = "fleetlab_test_"
NAME = re.compile(rf"^{PREFIX}([0-9a-f]{{12}})_\d+$")
# a failed test's database kept for a look (--fleetlab-keep-failed): out of the sweep's way, sealed as kept
KEPT_PREFIX = "fleetlab_kept_"
KEPT = re.compile(rf"^{KEPT_PREFIX}([0-9a-f]{{12}})_\d+$")
_counter = itertools.count()


@dataclass(frozen=True)
class Template:
    """A template this session clones: looked up (and checked as ours) once, then cloned by name; `oid`
    tells it from a database made again under its name since."""

    name: str
    key: str
    oid: int
    size: int


class Dropper:
    """Drops a session's used test databases in a thread of its own, on a connection of its own: a test's
    teardown returns at once, and the server drops one database while it clones the next test's (both are
    mostly file work: on two cores, side by side). `close` waits for every drop; what failed is returned
    (a sealed database of the run, which a later run sweeps)."""

    def __init__(self, server: DatabaseURL):
        self.server = server
        self.todo: queue.Queue[str | None] = queue.Queue()
        self.failed: list[str] = []
        self.thread = threading.Thread(target=self._work, name="fleetlab-drop", daemon=True)
        self.thread.start()

    def put(self, name: str) -> None:
        self.todo.put(name)

    def _work(self) -> None:
        conn = None
        while (name := self.todo.get()) is not None:
            try:
                conn = conn or db.connect(self.server, autocommit=True)
                databases.drop(conn, name, ours="a test's database, after the test")
            except (psycopg.Error, FleetlabError) as exc:
                self.failed.append(f"{name}: {db.first_line(exc)}")
        if conn is not None:
            conn.close()

    def close(self) -> list[str]:
        self.todo.put(None)
        self.thread.join()
        return self.failed


@dataclass
class Run:
    """This test session on the server: its token, the connection holding its lock, the templates it
    looked up (by spec), and how many clones of each it made (recorded once, when the session ends)."""

    server: DatabaseURL
    token: str
    conn: psycopg.Connection = field(repr=False)
    seal: cache.Seal | None = field(repr=False)
    templates: dict[Any, Template] = field(default_factory=dict)  # by spec (a frozen FleetSpec)
    hits: collections.Counter[Template] = field(default_factory=collections.Counter)
    shared: dict[Any, Any] = field(default_factory=dict)  # fleetlab_tx's databases (url, conn, name), by spec
    dropper: Dropper | None = field(default=None, repr=False)

    def drop_later(self, name: str) -> None:
        """Drop test database `name` in the background (`Dropper`)."""
        if self.dropper is None:
            self.dropper = Dropper(self.server)
        self.dropper.put(name)

    def finish_drops(self) -> list[str]:
        """Wait for the background drops; the ones that failed, with why."""
        failed = self.dropper.close() if self.dropper is not None else []
        self.dropper = None
        return failed

    def drop_shared(self) -> None:
        """Drop fleetlab_tx's databases (the session ends)."""
        for made in self.shared.values():
            made.conn.close()
            with contextlib.suppress(psycopg.Error, FleetlabError):
                databases.drop(self.conn, made.name, made.url, ours="a database fleetlab_tx's tests shared")
        self.shared.clear()

    def keep(self, name: str) -> tuple[DatabaseURL, bool]:
        """Keep a failed test's database for a look instead of dropping it: renamed `fleetlab_kept_…` (the
        next run's sweep leaves it; `fleetlab cache clear` drops it) and sealed as kept. Its URL, and
        whether the rename worked (when a session of the test's still holds it, it keeps its name, and the
        next run's sweep drops it)."""
        kept = KEPT_PREFIX + name.removeprefix(PREFIX)
        try:
            self.conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(kept))
            )
        except psycopg.Error:
            return self.server.with_dbname(name), False
        _seal(self.conn, self.seal, kept, {"fleetlab_kept": self.token})
        return self.server.with_dbname(kept), True

    def next_name(self) -> str:
        return f"{PREFIX}{self.token}_{next(_counter)}"

    def make(self, name: str, settings: Settings, spec) -> tuple[DatabaseURL, psycopg.Connection, str]:
        """Clone the template of `spec` into `name`, seal it as this run's, connect: (url, conn, template name)."""
        for attempt in (1, 2):
            template = self.template(settings, spec)
            if self.clone(template, name):
                break
            self.forget(spec)  # evicted, cleared or replaced since it was looked up: look again
            if attempt == 2:
                raise FleetlabError(f"its template {template.name} went away twice while this test cloned it")
        seal_test_database(self, name)
        url = self.server.with_dbname(name)
        return url, db.connect(url), template.name

    def template(self, settings: Settings, spec) -> Template:
        """The template of `spec`, looked up (or built) on the first ask of this session."""
        if spec not in self.templates:
            entry = template_for(settings, self.server, spec)
            self.templates[spec] = Template(entry.name, entry.key, self._oid(entry.name) or 0, entry.size)
        return self.templates[spec]

    def forget(self, spec) -> None:
        self.templates.pop(spec, None)

    def _oid(self, name: str) -> int | None:
        row = self.conn.execute("SELECT oid::bigint FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row[0] if row else None

    def clone(self, template: Template, name: str) -> bool:
        """Clone `template` into `name`; False (nothing left) when the template is gone or is no longer the
        database looked up (dropped, and made again under its name: never served)."""
        try:
            databases.clone(self.conn, template.name, name, size=template.size or None)
        except psycopg.errors.InvalidCatalogName:
            return False
        if self._oid(template.name) != template.oid:
            databases.drop(self.conn, name, self.server, ours="a clone of a template that was replaced")
            return False
        self.hits[template] += 1
        return True

    def record_hits(self) -> None:
        """Count this session's clones into the templates' records, one write per template."""
        if self.seal is None or not self.hits:
            return
        templates = cache.Cache(self.conn, self.seal)
        for template, n in self.hits.items():
            with contextlib.suppress(psycopg.Error, FleetlabError):
                entry = templates.lookup(template.key)
                if entry is not None and entry.name == template.name:
                    templates.touch(entry, hits=n)
        self.hits.clear()


def sweep(run: Run) -> list[str]:
    """Drop the test databases of ours whose test session is gone; returns their names."""
    if run.seal is None:
        return []
    dropped = []
    rows = run.conn.execute(
        "SELECT datname, oid::bigint, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE starts_with(datname, %s) AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
        (PREFIX,),
    ).fetchall()
    for name, oid, comment in rows:
        m = NAME.match(name)
        if not m or m.group(1) == run.token or not sealed(run.seal, name, oid, m.group(1), comment):
            continue
        try:
            with databases.advisory_lock(run.conn, databases.RUN_LOCK_CLASS, m.group(1), wait=0):  # its run is gone
                databases.drop(run.conn, name, run.server, ours="a sealed test database of a finished run")
                dropped.append(name)
        except (LockTimeout, DatabaseError):  # its run is alive, or the drop failed: left for a later run
            pass
    return dropped


def sealed(seal: cache.Seal, name: str, oid: int, token: str, comment: str | None, what: str = "fleetlab_test") -> bool:
    try:
        doc = json.loads(comment or "") if len(comment or "") < 4096 else None
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and seal.verifies(name, oid, {what: token}, doc.get("seal"))


def clear(conn: psycopg.Connection, seal: cache.Seal | None, server: DatabaseURL) -> list[str]:
    """Drop the test databases of this FLEETLAB_HOME that no running session holds: those a killed run
    left, and the failed tests' databases kept for a look (`fleetlab cache clear`). Their names."""
    if seal is None:
        return []
    import secrets

    dropped = sweep(Run(server, secrets.token_hex(6), conn, seal))
    rows = conn.execute(
        "SELECT datname, oid::bigint, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE starts_with(datname, %s) AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
        (KEPT_PREFIX,),
    ).fetchall()
    for name, oid, comment in rows:
        m = KEPT.match(name)
        if m and sealed(seal, name, oid, m.group(1), comment, "fleetlab_kept"):
            with contextlib.suppress(DatabaseError):
                databases.drop(conn, name, server, ours="a failed test's database kept for a look")
                dropped.append(name)
    return dropped


def template_for(settings: Settings, server: DatabaseURL, spec) -> cache.Entry:
    """The cache template of `spec` on `server`, built now (once, under a lock) if it is missing. The hit
    is not recorded here: a test session counts its clones and records them when it ends."""
    from ..model.spec import scenario_record
    from . import migrate
    from .reset import reset

    keys = keyring_for(settings, create=True)
    key = cache.key(scenario_record(spec), keys.current_id, migrate.fingerprint())
    assert key is not None, "spec_for pins as_of"
    with db.connect(server, autocommit=True) as admin:
        templates = cache.Cache(admin, cache.Seal.load(settings.home, create=True))
        why = "it was dropped meanwhile"
        with databases.advisory_lock(admin, databases.TEMPLATE_LOCK_CLASS, key):
            if templates.lookup(key) is None:
                scratch = server.with_dbname(templates.name_for(key).replace(cache.PREFIX, "fleetlab_tplbuild_")[:34])
                why = reset(settings, spec, url=scratch, origin="pytest").cache
                databases.drop(admin, scratch.database, scratch, ours="the database this template was built in")
            entry = templates.lookup(key)
            if entry is None:
                raise FleetlabError(f"could not keep a template of {spec.name!r} on {server.where} ({why})")
            return entry


def seal_test_database(run: Run, name: str) -> None:
    _seal(run.conn, run.seal, name, {"fleetlab_test": run.token})


def _seal(conn: psycopg.Connection, seal: cache.Seal | None, name: str, record: dict[str, str]) -> None:
    """Sign `record` for database `name` in its COMMENT (HMAC of FLEETLAB_HOME's seal): it is ours."""
    if seal is None:
        return
    oid = conn.execute("SELECT oid::bigint FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]
    doc = {**record, "seal": seal.sign(name, oid, record)}
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(json.dumps(doc))))
