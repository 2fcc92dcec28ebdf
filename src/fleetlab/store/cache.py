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
created, last used, hits, build time) as JSON in its COMMENT. Reset never targets one. The cache is
bounded by `Settings.cache_entries` and `cache_max_mb`: the least recently used templates go first.

Clone strategy by server version (measured at 1M gateways, 645 MB, ext4, 2 cores):
| server | statement                                                        | clone    |
|--------|------------------------------------------------------------------|----------|
| 18+    | STRATEGY FILE_COPY with file_copy_method = clone (copy if refused) | 0.34 s  |
| 15-17  | STRATEGY FILE_COPY (WAL_LOG, the default, writes it all to WAL)  | 0.8-1.1 s (WAL_LOG 1.4-4.9 s) |
| < 15   | CREATE DATABASE … TEMPLATE (a file copy)                         |          |
With file_copy_method = clone the kernel shares the blocks on copy-on-write filesystems (XFS with
reflink, btrfs, ZFS 2.2+, APFS), so a clone takes about the same time whatever the size; on others
(ext4 here) Linux copies in the kernel (copy_file_range), still faster than WAL_LOG.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .._version import __version__
from . import faults

PREFIX = "fleetlab_cache_"
PACKAGE = Path(__file__).resolve().parents[1]
CONTENT_LAYERS = ("model", "build", "store")  # what decides a database's content (read and app do not)
VALUE_LIBRARIES = ("faker", "numpy", "polars", "pyarrow")


@dataclass(frozen=True)
class Entry:
    """One cached template."""

    name: str
    key: str
    scenario: str
    spec: dict[str, Any]
    created: datetime
    last_used: datetime
    hits: int
    build_seconds: float
    size: int  # bytes

    @property
    def record(self) -> dict[str, Any]:
        return {
            "fleetlab_cache": 1, "key": self.key, "scenario": self.scenario, "spec": self.spec,
            "created": self.created.isoformat(), "last_used": self.last_used.isoformat(), "hits": self.hits,
            "build_seconds": round(self.build_seconds, 3),
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


def template_name(cache_key: str) -> str:
    return PREFIX + cache_key[:32]


# -- reading ----------------------------------------------------------------------------------


def entries(admin: psycopg.Connection) -> list[Entry]:
    """Every cached template on the server, most recently used first."""
    rows = admin.execute(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database'), pg_database_size(d.oid) "
        "FROM pg_database d WHERE starts_with(d.datname, %s)",
        (PREFIX,),
    ).fetchall()
    out = []
    for name, comment, size in rows:
        try:
            rec = json.loads(comment or "")
            out.append(Entry(
                name=name, key=rec["key"], scenario=rec.get("scenario") or "?", spec=rec.get("spec") or {},
                created=datetime.fromisoformat(rec["created"]), last_used=datetime.fromisoformat(rec["last_used"]),
                hits=int(rec.get("hits", 0)), build_seconds=float(rec.get("build_seconds", 0.0)), size=int(size),
            ))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            # a template being made (no record yet) or one whose record was damaged: not served, but listed
            epoch = datetime.fromtimestamp(0, UTC)
            out.append(Entry(name, "", "(incomplete)", {}, epoch, epoch, 0, 0.0, int(size)))
    return sorted(out, key=lambda e: e.last_used, reverse=True)


def lookup(admin: psycopg.Connection, cache_key: str) -> Entry | None:
    """The template of `cache_key`, if one is complete."""
    name = template_name(cache_key)
    return next((e for e in entries(admin) if e.name == name and e.key == cache_key), None)


# -- writing ----------------------------------------------------------------------------------


def clone(admin: psycopg.Connection, source: str, into: str) -> str:
    """CREATE DATABASE `into` as a copy of `source` (no session may be connected to it); returns the
    strategy used. See the module's table for the choice per server version."""
    version = admin.info.server_version
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(into), sql.Identifier(source))
    if version < 150000:
        admin.execute(create)
        return "file copy"
    create = create + sql.SQL(" STRATEGY FILE_COPY")
    if version >= 180000:
        try:
            admin.execute("SET file_copy_method = clone")
            try:
                admin.execute(create)
                return "file clone"
            finally:
                admin.execute("RESET file_copy_method")
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.ObjectInUse):
            raise
        except psycopg.Error:
            # a filesystem or platform that cannot clone ("could not clone file"): the plain file copy below
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(into)))
    admin.execute(create)
    return "file copy"


def keep(admin: psycopg.Connection, built: str, cache_key: str, scenario: dict[str, Any], build_seconds: float) -> str:
    """Keep a copy of the finished database `built` as the template of `cache_key`; returns its name."""
    name = template_name(cache_key)
    drop(admin, name)  # an incomplete one left by a killed run
    clone(admin, built, name)
    now = datetime.now(UTC)
    record = Entry(name, cache_key, str(scenario.get("name") or "?"), scenario.get("spec") or {}, now, now, 0,
                   build_seconds, 0).record
    admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true").format(sql.Identifier(name)))
    faults.reached("cache:before-record")
    _comment(admin, name, record)  # last: a template without its record is never served
    return name


def touch(admin: psycopg.Connection, entry: Entry) -> None:
    """Record a hit: the entry is now the most recently used."""
    record = {**entry.record, "hits": entry.hits + 1, "last_used": datetime.now(UTC).isoformat()}
    _comment(admin, entry.name, record)


def drop(admin: psycopg.Connection, name: str) -> bool:
    """Drop one template (False when it is in use by a clone right now, or gone)."""
    if not is_template_name(name):
        raise ValueError(f"{name!r} is not a fleetlab cache template")
    ident = sql.Identifier(name)
    try:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            return False
        admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(ident))
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
        return True
    except psycopg.errors.ObjectInUse:
        return False


def evict(admin: psycopg.Connection, max_entries: int, max_bytes: int, keep_name: str | None = None) -> list[str]:
    """Drop the least recently used templates until at most `max_entries` remain within `max_bytes`."""
    found = entries(admin)
    dropped = []
    total = sum(e.size for e in found)
    for entry in reversed(found):
        if (len(found) - len(dropped)) <= max_entries and total <= max_bytes:
            break
        if entry.name == keep_name:  # the one just built stays, even alone over the size limit
            continue
        if drop(admin, entry.name):
            dropped.append(entry.name)
            total -= entry.size
    return dropped


def clear(admin: psycopg.Connection) -> list[Entry]:
    """Drop every template; returns those dropped."""
    return [e for e in entries(admin) if drop(admin, e.name)]


def _comment(admin: psycopg.Connection, name: str, record: dict[str, Any]) -> None:
    admin.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(json.dumps(record)))
    )


def age(when: datetime, now: float | None = None) -> str:
    """'3 min', '2 h', '5 d': how long ago `when` was."""
    seconds = max(0.0, (now or time.time()) - when.timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"
