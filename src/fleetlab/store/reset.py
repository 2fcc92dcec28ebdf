"""Reset: build a fresh database beside the old one (create, migrate, seed), then swap it in.

The new database is built under a side name and renamed over the old one at the very end, so
a reset that fails or is killed leaves the previous database complete (or, in the instant
between drop and rename, no database at all): never a half-built one.

Guards, in order, before anything is dropped:
- a non-local host is refused before any connection unless FLEETLAB_ALLOW_REMOTE_RESET=1;
- names PostgreSQL would truncate (over 63 bytes) and the cluster's own databases are refused;
- a reset lock in the maintenance database stops two resets of the same database interleaving;
- an existing database with tables but no fleetlab marker, or a protected marker, is kept.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..errors import DatabaseError, DatabaseUnavailable, LockTimeout, ResetRefused
from ..model.fleet import Loadable
from . import cache, db, faults, marker, migrate, parallel, schema
from .config import Settings
from .dsn import DatabaseURL, check_database_name
from .load import Progress, load

RESET_LOCK_CLASS = 0x666C  # "fl": advisory lock namespace for resets, per database name


@dataclass
class ResetResult:
    url: DatabaseURL
    counts: dict[str, int]
    elapsed: float
    steps: dict[str, float] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)  # the other sessions the swap ended ("psql (alice)")
    cache: str = ""  # how the scenario cache served this reset, in one line
    streams: int = 1  # COPY streams the load used (fleetlab.store.parallel)
    helpers_peak_mib: list[float] = field(default_factory=list)  # each load helper process's peak memory


def target(settings: Settings) -> DatabaseURL:
    """The database a destructive command would act on, after the checks that need no connection."""
    if settings.database_url is None:
        # the embedded server: fleetlab connects to its socket by path, whatever PGHOST or a service say
        return db.resolve(settings)
    env = dict(settings.libpq_target)
    url = DatabaseURL.parse(settings.database_url)
    check_database_name(url.database)
    if not url.reaches_local(env) and not settings.allow_remote_reset:
        via = f" (via {', '.join(f'{k}={v}' for k, v in env.items())})" if env else ""
        raise ResetRefused(
            f"refusing to reset {url.where}{via}: the host is not this machine. fleetlab resets destroy data; "
            "if this server really is a disposable development server, set FLEETLAB_ALLOW_REMOTE_RESET=1."
        )
    return db.resolve(settings)


def build_name(name: str) -> str:
    """The side name the next database is built under (always within 63 bytes)."""
    return "fleetlab_build_" + hashlib.sha256(name.encode()).hexdigest()[:16]


@db.translate_errors(None, "the reset")  # the steps without their own wording
def reset(
    settings: Settings,
    fleet: Loadable | Callable[[], Loadable],
    *,
    confirm: Callable[[DatabaseURL], bool] | None = None,
    progress: Progress | None = None,
    url: DatabaseURL | None = None,
    end_sessions: bool = True,
    use_cache: bool = True,
) -> ResetResult:
    """Drop and recreate the workbench database, migrate it and load `fleet`.

    `fleet` may be a callable, so generation errors surface before anything is touched.
    `confirm` is asked once the target is known; returning False aborts with nothing changed.
    Other sessions connected to the old database are ended at the swap and listed in the result's
    `ended`; with `end_sessions=False` their presence refuses the reset instead, nothing changed.
    With the scenario cache (`fleetlab.store.cache`: on unless `use_cache` is False or the settings turn
    it off), the same fleet built before is cloned from its template instead of loaded, and a new one is
    kept as a template after its build; the result's `cache` says which.
    """
    started = time.perf_counter()
    steps: dict[str, float] = {}
    streams, helpers_peak = 1, []
    url = url or target(settings)
    check_database_name(url.database)
    _refuse_a_template(url)
    keys = settings.keyring(create=True)
    built = fleet() if callable(fleet) else fleet
    if confirm is not None and not confirm(url):
        raise ResetRefused("reset cancelled; nothing was changed.")
    steps["prepare"] = time.perf_counter() - started

    name, side = url.database, build_name(url.database)
    caching = use_cache and settings.cache_entries > 0
    cache_key = cache.key(built.scenario, keys.current_id, migrate.fingerprint()) if caching else None
    if not use_cache:
        note = "cache: not used, as asked (--no-cache)"
    elif not caching:
        note = "cache: off (FLEETLAB_CACHE_ENTRIES=0)"
    elif cache_key is None:
        note = "cache: not used, as_of is 'now' (give --as-of to cache this fleet)"
    admin = _connect_admin(url)
    try:
        _take_reset_lock(admin, name, url)
        t = time.perf_counter()
        _check_droppable(admin, url, name)
        if not end_sessions:
            _refuse_if_in_use(admin, name, url)
        if db.database_exists(admin, side):
            _check_droppable(admin, url, side)
            _drop(admin, side, url)
        hit = cache.lookup(admin, cache_key) if cache_key else None
        faults.reached("reset:before-create")
        if hit is not None:
            try:
                with db.translate_errors(url, f"cloning {hit.name} into {side}"):
                    how = cache.clone(admin, hit.name, side)
            except DatabaseError:
                if cache.lookup(admin, cache_key) is not None:
                    raise
                hit = None  # evicted by another process since the lookup: build it after all
        if hit is None:
            with db.translate_errors(url, f"CREATE DATABASE {side}"):
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(side)))
        faults.reached("reset:after-create")
        steps["clone" if hit else "create"] = time.perf_counter() - t

        t = time.perf_counter()
        try:
            with db.connect(url.with_dbname(side), autocommit=True) as conn:
                if hit is not None:
                    counts = marker.restamp(conn)
                    if progress:
                        for table, n in counts.items():
                            progress(table, n, n)
                else:
                    marker.create(conn)
                    migrate.apply(conn, lock_timeout=settings.lock_timeout)
                    steps["migrate"] = time.perf_counter() - t
                    t = time.perf_counter()
                    streams = parallel.streams_for(built, settings.load_streams)
                    if streams > 1:
                        loaded = parallel.load(url.with_dbname(side), built, keys, streams=streams, progress=progress)
                        counts, helpers_peak = loaded.counts, loaded.helpers_peak_mib
                    else:
                        conn.autocommit = False
                        counts = load(conn, built, keys, lock_timeout=settings.lock_timeout, progress=progress)
                    steps["seed"] = time.perf_counter() - t
            if hit is not None:
                cache.touch(admin, hit)
                note = f"cache: cloned {hit.scenario!r} from {hit.name} ({how}, built {cache.age(hit.created)} ago)"
            elif cache_key:
                note = _keep(admin, side, cache_key, built.scenario, sum(steps.values()), settings, steps)
        except BaseException:  # an error or Ctrl-C while building: the half-built side database goes
            _discard(admin, side, url)
            raise

        t = time.perf_counter()
        ended: list[str] = []
        if db.database_exists(admin, name):
            if not end_sessions:
                _refuse_if_in_use(admin, name, url, built_side=side)
            ended = _sessions(admin, name)
            _drop(admin, name, url)
        faults.reached("reset:after-drop")
        with db.translate_errors(url, f"renaming {side} to {name}"):
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(side), sql.Identifier(name)))
        steps["swap"] = time.perf_counter() - t
    finally:
        _release_reset_lock(admin)
        admin.close()
    return ResetResult(url=url, counts=counts, elapsed=time.perf_counter() - started, steps=steps, ended=ended,
                       cache=note, streams=streams, helpers_peak_mib=helpers_peak)


def _keep(admin, side: str, cache_key: str, scenario: dict, build_seconds: float, settings: Settings,
          steps: dict[str, float]) -> str:
    """Keep the finished side database as the template of `cache_key`, then bound the cache. A failure
    here (a full disk, a template another reset is making) costs the cache entry, never the reset."""
    t = time.perf_counter()
    try:
        name = cache.keep(admin, side, cache_key, scenario, build_seconds)
        evicted = cache.evict(admin, settings.cache_entries, settings.cache_max_mb * 1024 * 1024, keep_name=name)
    except psycopg.Error as exc:
        return f"cache: built; not kept ({db.first_line(exc)})"
    finally:
        steps["cache"] = time.perf_counter() - t
    gone = f"; evicted {len(evicted)} least recently used" if evicted else ""
    return f"cache: built, and kept as {name} for the next reset of this fleet{gone}"


@db.translate_errors(None, "the seed")
def seed(settings: Settings, fleet: Loadable | Callable[[], Loadable], *, progress: Progress | None = None) -> ResetResult:
    """Replace the rows of the workbench database with `fleet` (truncate + COPY, one transaction)."""
    started = time.perf_counter()
    url = target(settings)
    _refuse_a_template(url)
    keys = settings.keyring(create=True)
    built = fleet() if callable(fleet) else fleet
    with db.connect(url) as conn:
        m = marker.read(conn)
        conn.rollback()
        if m is None:
            raise ResetRefused(
                f"database {url.where} has no fleetlab marker, so it was not made by fleetlab; refusing to "
                "replace its rows. Create the workbench with `fleetlab reset`."
            )
        if m.protected:
            raise ResetRefused(f"database {url.where} is marked protected; refusing to replace its rows.")
        pend = migrate.status(conn)
        if pend.pending or pend.drift:
            raise ResetRefused(
                f"database {url.where} is not fully migrated; run `fleetlab migrate` (or `fleetlab reset`) first."
            )
        # what the load relies on: a table of the team's own beside the fleet's is no reason to refuse
        changed = [d for d in schema.differences(schema.describe(conn)) if not d.endswith("not in the platform schema")
                   or not d.startswith("table ")]
        if changed:
            more = f" and {len(changed) - 2} more" if len(changed) > 2 else ""
            raise ResetRefused(
                f"database {url.where} is not the schema its migrations make ({'; '.join(changed[:2])}{more}): "
                "it was changed by hand. `fleetlab reset` rebuilds it; `fleetlab status` lists the differences."
            )
        counts = load(conn, built, keys, lock_timeout=settings.lock_timeout, progress=progress)
    return ResetResult(url=url, counts=counts, elapsed=time.perf_counter() - started)


def _refuse_a_template(url: DatabaseURL) -> None:
    if cache.is_template_name(url.database):
        raise ResetRefused(
            f"refusing to write to {url.database!r}: it is a template of fleetlab's scenario cache, which resets "
            "clone. Point DATABASE_URL at your workbench database; `fleetlab cache clear` removes templates."
        )


def _connect_admin(url: DatabaseURL) -> psycopg.Connection:
    try:
        return db.connect(db.maintenance(url), autocommit=True)
    except DatabaseUnavailable as exc:
        if "does not exist" not in str(exc):
            raise
        return db.connect(url.with_dbname("template1"), autocommit=True)


def _release_reset_lock(admin: psycopg.Connection) -> None:
    # explicitly: a closed session's locks are released only once its backend has exited,
    # which may be after the next reset in this process already asked for the lock
    if not admin.closed and not admin.broken:
        try:
            admin.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            pass


def _take_reset_lock(admin: psycopg.Connection, name: str, url: DatabaseURL) -> None:
    got = admin.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (RESET_LOCK_CLASS, name)).fetchone()[0]
    if not got:
        raise LockTimeout(
            f"a reset of {url.where} is in progress in another process; wait for it to finish and try again."
        )


def _check_droppable(admin: psycopg.Connection, url: DatabaseURL, name: str) -> None:
    """Refuse unless `name` is absent, empty of tables, or carries an unprotected fleetlab marker."""
    if not db.database_exists(admin, name):
        return
    with db.connect(url.with_dbname(name), autocommit=True) as conn:
        m = marker.read(conn)
        if m is None:
            tables = marker.user_tables(conn)
            if tables:
                raise ResetRefused(
                    f"refusing to drop database {name!r} at {url.where}: it has tables ({', '.join(tables[:5])}) "
                    "but no fleetlab marker, so it was not made by fleetlab. Point DATABASE_URL at another "
                    "database name, or drop this one yourself if you are sure."
                )
        elif m.protected:
            raise ResetRefused(
                f"refusing to drop database {name!r} at {url.where}: its fleetlab marker says protected. "
                "Run `fleetlab db unprotect` first if you really mean it."
            )


def _sessions(admin: psycopg.Connection, name: str) -> list[str]:
    """The other sessions connected to database `name`: application (user), one entry per session."""
    rows = admin.execute(
        "SELECT coalesce(nullif(application_name, ''), 'a client') || ' (' || coalesce(usename, '?') || ')' "
        "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() ORDER BY backend_start",
        (name,),
    ).fetchall()
    return [r[0] for r in rows]


def _refuse_if_in_use(admin: psycopg.Connection, name: str, url: DatabaseURL, built_side: str | None = None) -> None:
    others = _sessions(admin, name)
    if others:
        if built_side is not None:
            _discard(admin, built_side, url)
        raise ResetRefused(
            f"{len(others)} other session(s) are connected to {name!r} at {url.where}: {', '.join(others[:5])}. "
            "Close them, or reset without --keep-sessions (the reset then ends them). Nothing was changed."
        )


def _discard(admin: psycopg.Connection, side: str, url: DatabaseURL) -> None:
    """Drop the half-built side database, best effort (a killed process leaves it to the next reset)."""
    try:
        if admin.closed or admin.broken:
            admin = _connect_admin(url)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(side)))
    except (psycopg.Error, DatabaseUnavailable):
        pass


def _drop(admin: psycopg.Connection, name: str, url: DatabaseURL) -> None:
    stmt = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    try:
        admin.execute(stmt)
    except psycopg.Error as exc:
        raise DatabaseError(f"could not drop database {name!r} at {url.where}: {db.first_line(exc)}") from None
