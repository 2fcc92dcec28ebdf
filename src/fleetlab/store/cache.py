"""The scenario cache: a built database kept as a template, cloned by the next reset of the same thing.

"The same thing" is `key()`: a digest of everything that decides a database's content, namely
- the full spec, `as_of` included: a fleet whose `as_of` was not given ("now") is never cached;
- the code that turns a spec into rows and rows into tables (`code_fingerprint()`: the sources of
  fleetlab's model, build and store layers, the migrations and schema data with them, and the versions
  of the libraries that make values: Faker, numpy, polars, pyarrow);
- the migrations' checksums, and the id of the key the passwords are encrypted with.
A new migration, an edited generator, another library version or another key gives another key, so
an old template is never served for it.

A template is a database named `fleetlab_cache_<key>`: marked like every fleetlab database (it is a
finished build), with connections disallowed and IS_TEMPLATE set, and its record (scenario, spec,
created, last used, hits, build time, who made it) as JSON in its COMMENT. Reset never targets one.
The cache is bounded by `Settings.cache_entries` and `cache_max_mb`: the least recently used templates
go first, counted apart for the workbench's resets and for the pytest plugin (`origin`), so a test run
never evicts the workbench's templates.

Only what fleetlab made is served or dropped. A template is ours when
- the database is owned by the role fleetlab connects as, refuses connections and is a template
  (nobody but its owner or a superuser can then connect to it and change what is inside), and
- its record carries a seal: an HMAC-SHA256, with a secret of FLEETLAB_HOME (`Seal`), over the record,
  the database's name and its oid (so a record copied onto another database, or onto a database made
  again under an old name, does not verify).
Everything else carrying the prefix is listed as "not ours" with the reason, and never served nor
dropped, whatever its record says. A keep that was killed between the copy and its record leaves a
database the seal cannot vouch for: the keep writes a note into FLEETLAB_HOME first (`pending/`), so
the next run knows that name as its own unfinished work, and drops it (never serves it).
After a clone, the reset checks that every object in the copy is owned by that role too (`databases.foreign_objects`).

A clone is `databases.clone` (its strategy per server version is written there); `benchmarks/reset_cache.py`
measures a cached reset against a raw `CREATE DATABASE … TEMPLATE`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .. import faults
from .._version import __version__
from ..errors import LockTimeout
from . import databases
from .databases import KEEP_LOCK_CLASS
from .seal import Seal

PREFIX = "fleetlab_cache_"
LIST_ATTEMPTS = 5  # reads of the templates' list, when databases are dropped while it is read
PACKAGE = Path(__file__).resolve().parents[1]
CONTENT_LAYERS = ("model", "generation", "store")  # what decides a database's content (read and app do not)
VALUE_LIBRARIES = ("faker", "numpy", "polars", "pyarrow")
ORIGINS = ("reset", "pytest")  # who keeps a template: the workbench's resets, or the pytest plugin
MAX_RECORD = 65536  # bytes; a longer comment is not a record of ours
EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True)
class Entry:
    """One database carrying the template prefix: a template of ours when `problem` is empty."""

    name: str
    size: int  # bytes (0 when the server does not let us see it)
    owner: str  # the role owning the database
    key: str = ""
    scenario: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    created: datetime = EPOCH
    last_used: datetime = EPOCH
    hits: int = 0
    build_seconds: float = 0.0
    origin: str = "reset"
    problem: str = ""  # why it is not ours; "" when it is
    unfinished: bool = False  # ours, but its keep was interrupted: dropped, never served

    @property
    def ours(self) -> bool:
        return not self.problem

    @property
    def servable(self) -> bool:
        return self.ours and not self.unfinished

    @property
    def record(self) -> dict[str, Any]:
        return {
            "key": self.key, "scenario": self.scenario, "spec": self.spec, "created": self.created.isoformat(),
            "last_used": self.last_used.isoformat(), "hits": self.hits, "build_seconds": round(self.build_seconds, 3),
            "origin": self.origin,
        }  # fmt: skip


def is_template_name(name: str) -> bool:
    return name.startswith(PREFIX)


@cache
def code_fingerprint() -> str:
    """A digest of the code and libraries that turn a spec into a database's content (once per process)."""
    return fingerprint_of(PACKAGE)


def fingerprint_of(package: Path) -> str:
    """`code_fingerprint` of the fleetlab package in the folder `package`."""
    digest = hashlib.sha256(f"fleetlab {__version__}\n".encode())
    for layer in CONTENT_LAYERS:
        for path in sorted((package / layer).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sql", ".json", ".toml"):
                digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for library in VALUE_LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library}=={version}\n".encode())
    return digest.hexdigest()


def key(scenario: dict[str, Any], key_id: str, migrations: list[tuple[int, str]]) -> str | None:
    """The cache key of a fleet (its marker's `scenario` record), or None when it must not be cached."""
    spec = scenario.get("spec")
    if not spec or not scenario.get("as_of_given"):
        return None
    payload = json.dumps(
        {"spec": spec, "code": code_fingerprint(), "key_id": key_id, "migrations": migrations},
        sort_keys=True, default=str,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


# -- reading ----------------------------------------------------------------------------------


class Cache:
    """The templates on one server, as seen by the role of `admin` with the seal of one FLEETLAB_HOME."""

    def __init__(self, admin: psycopg.Connection, seal: Seal | None):
        self.admin, self.seal = admin, seal
        self.role = admin.execute("SELECT current_user").fetchone()[0]

    def name_for(self, cache_key: str) -> str:
        """The template name of `cache_key` for this FLEETLAB_HOME: a second home on the same server has
        its own names (no clash), and nobody without the seal can guess one to take it first."""
        assert self.seal is not None
        return PREFIX + self.seal.tag("template " + cache_key)[:32]

    def entries(self, name: str | None = None) -> list[Entry]:
        """Every database carrying the prefix (or only `name`), ours (most recently used first) then the others.

        A database dropped by another session while this reads (its row seen, then its size asked for) fails
        the query with "database with OID … does not exist": read again, without it."""
        for attempt in range(1, LIST_ATTEMPTS + 1):
            try:
                with self.admin.transaction():
                    rows = self.admin.execute(
                        "SELECT d.datname, d.oid::bigint, pg_get_userbyid(d.datdba), d.datallowconn, d.datistemplate, "
                        "shobj_description(d.oid, 'pg_database'), "
                        "CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END "
                        "FROM pg_database d WHERE starts_with(d.datname, %s) AND d.datname = coalesce(%s, d.datname)",
                        (PREFIX, name),
                    ).fetchall()
                break
            except psycopg.errors.UndefinedObject:
                if attempt == LIST_ATTEMPTS:
                    raise
        out = [self._entry(*row) for row in rows]
        return sorted(out, key=lambda e: (not e.ours, -e.last_used.timestamp(), e.name))

    def _entry(
        self, name: str, oid: int, owner: str, allow: bool, template: bool, comment: str | None, size: int | None
    ) -> Entry:
        base = Entry(name=name, size=int(size or 0), owner=owner)
        if owner != self.role:
            return _not_ours(base, f"owned by {owner}, not by {self.role}")
        if self.seal is None:
            return _not_ours(base, "this FLEETLAB_HOME has no cache seal to check its record with")
        if not comment:
            if self.seal.pending(name):
                return Entry(name, base.size, owner, scenario="(unfinished)", unfinished=True)
            return _not_ours(base, "no record")
        record, seal = _parse(comment)
        if record is None or not self.seal.verifies(name, oid, record, seal):
            return _not_ours(base, "its record is not one this FLEETLAB_HOME signed (missing, forged or unreadable)")
        entry = _from_record(base, record)
        if entry is None or self.name_for(entry.key) != name:
            return _not_ours(base, "its record is malformed")
        if allow or not template:
            return _not_ours(entry, "it was changed to accept connections or to be no template")
        return entry

    def lookup(self, cache_key: str) -> Entry | None:
        """The template of `cache_key`, if one of ours is complete."""
        if self.seal is None:
            return None
        name = self.name_for(cache_key)
        return next((e for e in self.entries(name) if e.servable and e.key == cache_key), None)

    # -- writing --------------------------------------------------------------------------------

    def keep(
        self, built: str, cache_key: str, scenario: dict[str, Any], build_seconds: float, origin: str = "reset"
    ) -> str | None:
        """Keep a copy of the finished database `built` as the template of `cache_key`; returns its name,
        or None when another process is keeping it right now. Raises CacheBlocked when a database of that
        name exists that is not ours."""
        if self.seal is None:
            raise CacheBlocked("FLEETLAB_HOME has no usable cache seal")
        name = self.name_for(cache_key)
        try:
            with databases.advisory_lock(self.admin, KEEP_LOCK_CLASS, cache_key, wait=0):
                self._keep(name, built, cache_key, scenario, build_seconds, origin)
        except LockTimeout:
            return None
        return name

    def _keep(
        self, name: str, built: str, cache_key: str, scenario: dict[str, Any], build_seconds: float, origin: str
    ) -> None:
        found = next(iter(self.entries(name)), None)
        if found is not None and not found.ours:
            raise CacheBlocked(f"a database named {name} exists that is not ours ({found.problem})")
        if found is not None and not self.drop(found):  # unfinished, or complete under an older record
            raise CacheBlocked(f"{name} is in use right now")
        assert self.seal is not None
        self.seal.begin(name)
        databases.clone(self.admin, built, name)
        databases.make_template(self.admin, name)
        faults.reached("cache:before-record")
        now = datetime.now(UTC)
        entry = Entry(
            name, 0, self.role, cache_key, str(scenario.get("name") or "?"), scenario.get("spec") or {}, now, now, 0,
            build_seconds, origin,
        )  # fmt: skip
        self._write(entry)  # last: a template without its record is never served
        self.seal.end(name)

    def touch(self, entry: Entry, hits: int = 1) -> None:
        """Record `hits` clones: the entry is now the most recently used."""
        self._write(Entry(**{**entry.__dict__, "hits": entry.hits + hits, "last_used": datetime.now(UTC)}))

    def drop(self, entry: Entry) -> bool:
        """Drop one template of ours (False when it is not ours, in use by a clone right now, or gone)."""
        current = next(iter(self.entries(entry.name)), None)
        if current is None or not current.ours:
            return False
        if not databases.drop(self.admin, entry.name, ours="a sealed template of this FLEETLAB_HOME", force=False):
            return False
        if self.seal is not None:
            self.seal.end(entry.name)
        return True

    def evict(self, max_entries: int, max_bytes: int, origin: str, keep_name: str | None = None) -> list[str]:
        """Drop the least recently used templates of `origin` until at most `max_entries` of them remain,
        within `max_bytes` together."""
        found = [e for e in self.entries() if e.ours and e.origin == origin]
        dropped = []
        total = sum(e.size for e in found)
        for entry in reversed(found):
            if (len(found) - len(dropped)) <= max_entries and total <= max_bytes:
                break
            if entry.name == keep_name:  # the one just built stays, even alone over the size limit
                continue
            if self.drop(entry):
                dropped.append(entry.name)
                total -= entry.size
        return dropped

    def clear(self) -> list[Entry]:
        """Drop every template of ours; returns those dropped."""
        return [e for e in self.entries() if e.ours and self.drop(e)]

    def _write(self, entry: Entry) -> None:
        assert self.seal is not None
        oid = self.admin.execute("SELECT oid::bigint FROM pg_database WHERE datname = %s", (entry.name,)).fetchone()[0]
        record = entry.record
        text = json.dumps({"fleetlab_cache": 2, "record": record, "seal": self.seal.sign(entry.name, oid, record)})
        self.admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(entry.name), sql.Literal(text))
        )


class CacheBlocked(Exception):
    """A template cannot be kept; the reset goes on without keeping it."""


def _not_ours(entry: Entry, why: str) -> Entry:
    return Entry(
        entry.name,
        entry.size,
        entry.owner,
        entry.key,
        entry.scenario or "(not ours)",
        entry.spec,
        entry.created,
        entry.last_used,
        entry.hits,
        entry.build_seconds,
        entry.origin,
        problem=why,
    )


def _parse(comment: str) -> tuple[dict[str, Any] | None, Any]:
    """The record and seal of a template's comment; (None, None) when it is not one."""
    if len(comment) > MAX_RECORD or not comment.lstrip().startswith("{"):
        return None, None
    try:
        doc = json.loads(comment)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(doc, dict) or doc.get("fleetlab_cache") != 2 or not isinstance(doc.get("record"), dict):
        return None, None
    return doc["record"], doc.get("seal")


def _from_record(base: Entry, rec: dict[str, Any]) -> Entry | None:
    """`base` with the record's fields, or None when a field has the wrong type."""
    try:
        key, scenario, spec, origin = rec["key"], rec["scenario"], rec["spec"], rec["origin"]
        hits, build_seconds = rec["hits"], rec["build_seconds"]
        created, last_used = _instant(rec["created"]), _instant(rec["last_used"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (
        isinstance(key, str)
        and isinstance(scenario, str)
        and isinstance(spec, dict)
        and origin in ORIGINS
        and type(hits) is int
        and hits >= 0
        and type(build_seconds) in (int, float)
    ):
        return None
    return Entry(
        base.name, base.size, base.owner, key, scenario, spec, created, last_used, hits, float(build_seconds), origin
    )


def _instant(text: Any) -> datetime:
    when = datetime.fromisoformat(text)  # TypeError for a non-string
    if when.tzinfo is None:
        raise ValueError("a time without its zone")
    return when


def age(when: datetime, now: float | None = None) -> str:
    """'3 min', '2 h', '5 d': how long ago `when` was."""
    seconds = max(0.0, (now or time.time()) - when.timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"
