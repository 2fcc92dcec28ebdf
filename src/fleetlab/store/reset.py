"""Reset: build a fresh database beside the old one (create, migrate, seed), then swap it in.

The new database is built under a side name (`build_name`) and swapped in at the very end, in one
transaction that renames the old database aside (`previous_name`) and the new one into its place
(PostgreSQL renames databases transactionally): a reset that fails or is killed at any instant
leaves the workbench database with the previous fleet or the new one, never none and never a
half-built one. The previous database is dropped after the swap; one left by a kill there is
dropped by the next reset.

Guards, in order, before anything is dropped:
- a non-local host is refused before any connection unless FLEETLAB_ALLOW_REMOTE_RESET=1;
- names PostgreSQL would truncate (over 63 bytes) and the cluster's own databases are refused;
- a reset lock in the maintenance database stops two resets of the same database interleaving;
- an existing database with tables but no fleetlab marker, or a protected marker, is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from .. import faults
from ..config import Settings
from ..dsn import DatabaseURL, check_database_name
from ..errors import DatabaseError, ResetRefused
from ..model.spec import FleetSpec
from ..model.tables import TABLES
from . import cache, db, marker, migrate, schema
from .crypto import keyring_for
from .databases import (
    RESET_LOCK_CLASS,
    advisory_lock,
    build_name,
    check_droppable,
    clone,
    connect_admin,
    create,
    discard,
    drop,
    foreign_objects,
    previous_name,
    refuse_if_in_use,
    sessions,
    swap,
)
from .planning import Planned

if TYPE_CHECKING:
    from ..model.fleet import Loadable
    from .load import Progress


@dataclass
class ResetResult:
    url: DatabaseURL
    counts: dict[
        str, int
    ]  # rows per table of the database the reset produced: as its load wrote, or counted in a clone
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


@dataclass
class _Job:
    """One reset under way: what it works with, and what it made under the side name."""

    settings: Settings
    url: DatabaseURL
    fleet: Planned
    keys: Any  # the keyring the passwords are encrypted with
    admin: psycopg.Connection
    progress: Progress | None
    steps: dict[str, float]  # seconds per step, in order
    side: str = ""
    templates: cache.Cache | None = None  # the scenario cache, when this reset may use it
    cache_key: str | None = None
    how: str = "built"  # "built" or "cloned"
    note: str = ""  # the result's cache line
    streams: int = 1
    helpers_peak: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows per table the load wrote, or counted in the clone


@db.translate_errors(None, "the reset")  # the steps without their own wording
def reset(
    settings: Settings,
    fleet: FleetSpec | Loadable | Callable[[], Loadable],
    *,
    confirm: Callable[[DatabaseURL], bool] | None = None,
    progress: Progress | None = None,
    url: DatabaseURL | None = None,
    end_sessions: bool = True,
    use_cache: bool = True,
    origin: str = "reset",
) -> ResetResult:
    """Drop and recreate the workbench database, migrate it and load `fleet`.

    `fleet` is a spec (planned only when the reset builds, while the database is being created), a fleet,
    or a callable returning one (called first, so its errors surface before anything is touched).
    `confirm` is asked once the target is known; returning False aborts with nothing changed.
    Other sessions connected to the old database are ended at the swap and listed in the result's
    `ended`; with `end_sessions=False` their presence refuses the reset instead, nothing changed.
    With the scenario cache (`fleetlab.store.cache`: on unless `use_cache` is False or the settings turn
    it off), the same fleet built before is cloned from its template instead of loaded, and a new one is
    kept as a template after its build (counted with the other templates of `origin`); the result's
    `cache` says which.
    """
    started = time.perf_counter()
    url = url or target(settings)
    check_database_name(url.database)
    _refuse_a_template(url)
    # a bad key fails here, before anything changes; a missing key file is made only once confirmed
    keys = None if settings.key_file_missing else keyring_for(settings, create=False)
    wanted = Planned(fleet, pools=settings.home / "pools")
    if confirm is not None and not confirm(url):
        raise ResetRefused("reset cancelled; nothing was changed.")
    keys = keys or keyring_for(settings, create=True)
    steps = {"prepare": time.perf_counter() - started}
    busy = f"a reset of {url.where} is in progress in another process; wait for it to finish and try again."
    with connect_admin(url) as admin, advisory_lock(admin, RESET_LOCK_CLASS, url.database, wait=0, busy=busy):
        _clear_the_way(admin, url, end_sessions)
        job = _Job(settings, url, wanted, keys, admin, progress, steps, side=build_name(url.database))
        _open_cache(job, use_cache)
        _make_side(job)
        counts = _finish_side(job, origin)
        t = time.perf_counter()
        ended = swap(admin, url.database, job.side, url, end_sessions)
        steps["swap"] = time.perf_counter() - t
    return ResetResult(
        url=url,
        counts=counts,
        elapsed=time.perf_counter() - started,
        steps=steps,
        ended=ended,
        cache=job.note,
        streams=job.streams,
        helpers_peak_mib=job.helpers_peak,
    )


def _clear_the_way(admin: psycopg.Connection, url: DatabaseURL, end_sessions: bool) -> None:
    """Refuse a target that is not fleetlab's (or in use, when sessions are to be kept); drop what a killed
    reset left under the side and previous names, when it is fleetlab's."""
    check_droppable(admin, url, url.database)
    if not end_sessions:
        refuse_if_in_use(admin, url.database, url)
    for leftover in (build_name(url.database), previous_name(url.database)):
        drop(admin, leftover, url)


def _open_cache(job: _Job, use_cache: bool) -> None:
    """The scenario cache this reset may clone from and keep into, or the line saying why not."""
    caching = use_cache and job.settings.cache_entries > 0
    if caching:
        job.cache_key = cache.key(job.fleet.scenario, job.keys.current_id, migrate.fingerprint())
    if job.cache_key:
        job.templates = cache.Cache(job.admin, cache.Seal.load(job.settings.home, create=True))
    job.note = _cache_off(use_cache, caching, job.cache_key, job.templates)
    if job.note:  # the cache cannot serve it: plan now, while the database is made
        job.fleet.start()


def _make_side(job: _Job) -> None:
    """Clone the cached template of the fleet into the side database, else build it there."""
    hit = job.templates.lookup(job.cache_key) if job.templates is not None else None
    faults.reached("reset:before-create")
    if hit is not None:
        _clone_side(job, hit)
    if job.how != "cloned":
        job.fleet.start()
        _build_side(job)


def _finish_side(job: _Job, origin: str) -> dict[str, int]:
    """Keep a new build as a template; returns the rows per table (those its load wrote, or counted in a
    clone). On any failure the side database goes."""
    try:
        counts = job.counts
        if job.how == "cloned" and job.progress:
            for table, n in counts.items():
                job.progress(table, n, n)
        if job.how == "built" and job.templates is not None and not job.note:  # (a note: the template was refused)
            job.note = _keep(job, origin)
        faults.reached("reset:before-swap")
    except BaseException:
        discard(job.admin, job.side, job.url)
        raise
    return counts


def _cache_off(use_cache: bool, caching: bool, cache_key: str | None, templates: cache.Cache | None) -> str:
    """The cache line of a reset the cache cannot serve ("" when it may)."""
    if not use_cache:
        return "cache: not used, as asked (--no-cache)"
    if not caching:
        return "cache: off (FLEETLAB_CACHE_ENTRIES=0)"
    if cache_key is None:
        return "cache: not used, as_of is 'now' (give --as-of to cache this fleet)"
    if templates is not None and templates.seal is None:
        return "cache: not used, FLEETLAB_HOME's cache.seal is unreadable (remove it: a new one is made)"
    return ""


def _clone_side(job: _Job, hit: cache.Entry) -> None:
    """Clone the template `hit` into the side database; when it cannot be (in use, evicted, not ours
    inside), say why in `job.note` and leave the side database absent for the build."""
    admin, side, url, templates = job.admin, job.side, job.url, job.templates
    assert templates is not None
    t = time.perf_counter()
    try:
        how = clone(admin, hit.name, side, size=hit.size or None)
    except psycopg.errors.ObjectInUse:
        users = sessions(admin, hit.name)
        job.note = (
            f"cache: not served, {len(users) or 'a'} session(s) are connected to its template {hit.name} "
            f"({', '.join(users[:3]) or 'another clone'}); built instead"
        )
        return
    except psycopg.errors.InvalidCatalogName:  # evicted by another process since the lookup
        job.note = f"cache: its template {hit.name} was dropped meanwhile; built instead"
        return
    except psycopg.Error as exc:
        raise DatabaseError(f"PostgreSQL rejected cloning {hit.name} into {side}: {db.first_line(exc)}") from None
    faults.reached("reset:after-create")
    try:
        with db.connect(url.with_dbname(side), autocommit=True) as conn:
            foreign = foreign_objects(conn, templates.role)
            if not foreign:  # counted, not taken from the record: the template's owner may have changed its rows
                marker.restamp(conn)
                job.counts = _count(conn)
    except BaseException:
        discard(admin, side, url)
        raise
    if foreign:
        discard(admin, side, url)
        job.note = (
            f"cache: not served, its template {hit.name} holds objects not owned by {templates.role} "
            f"({', '.join(foreign[:3])}); built instead"
        )
        return
    templates.touch(hit)
    job.steps["clone"] = time.perf_counter() - t
    job.how = "cloned"
    job.note = f"cache: cloned {hit.scenario!r} from {hit.name} ({how}, built {cache.age(hit.created)} ago)"


def _build_side(job: _Job) -> None:
    """Create the side database, migrate it and load the fleet into it; on any failure nothing of it is left."""
    side, url, settings, steps = job.side, job.url, job.settings, job.steps
    t = time.perf_counter()
    create(job.admin, side, url, template="template0", encoding="UTF8")
    steps["create"] = time.perf_counter() - t
    faults.reached("reset:after-create")
    try:
        t = time.perf_counter()
        with db.connect(url.with_dbname(side), autocommit=True) as conn:
            marker.create(conn)
            migrate.apply_fresh(conn)  # a new database: all of them in one round trip
            steps["migrate"] = time.perf_counter() - t
            t = time.perf_counter()
            built = job.fleet.get()
            from . import parallel  # (polars: imported by the plan's thread while the database was made)
            from .load import BULK_ROWS, load

            steps["plan"] = time.perf_counter() - t  # what is left of the plan once the database is ready
            t = time.perf_counter()
            job.streams = parallel.streams_for(built, settings.load_streams)
            # several streams, or a big fleet over one (its indexes rebuilt after the commit)
            if job.streams > 1 or sum(built.counts().values()) >= BULK_ROWS:
                loaded = parallel.load(
                    url.with_dbname(side), built, job.keys, streams=job.streams, progress=job.progress
                )
                job.helpers_peak, job.counts = loaded.helpers_peak_mib, loaded.counts
            else:
                conn.autocommit = False
                job.counts = load(conn, built, job.keys, lock_timeout=settings.lock_timeout, progress=job.progress)
            steps["seed"] = time.perf_counter() - t
    except BaseException:  # an error or Ctrl-C while building: the half-built side database goes
        discard(job.admin, side, url)
        raise


def _count(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per table of the connected database, counted."""
    row = conn.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)).fetchone()
    return dict(zip(TABLES, row, strict=True))


def _keep(job: _Job, origin: str) -> str:
    """Keep the finished side database as the template of its cache key, then bound the cache. A failure
    here (a full disk, a database of that name that is not ours) costs the cache entry, never the reset."""
    templates, settings = job.templates, job.settings
    assert templates is not None and job.cache_key is not None
    build_seconds = sum(job.steps.values())
    t = time.perf_counter()
    try:
        with db.connect(job.url.with_dbname(job.side), autocommit=True) as conn:
            # frozen, with its visibility map: every clone counts its rows through an index (80 → 25 ms at 1M)
            # and its first reads write no hint bits
            conn.execute("VACUUM (FREEZE)")
        name = templates.keep(job.side, job.cache_key, job.fleet.get().scenario, build_seconds, origin)
        if name is None:
            return "cache: built; not kept (another process is keeping this fleet right now)"
        evicted = templates.evict(settings.cache_entries, settings.cache_max_mb * 1024 * 1024, origin, keep_name=name)
    except cache.CacheBlocked as exc:
        return f"cache: built; not kept ({exc})"
    except (psycopg.Error, DatabaseError) as exc:
        return f"cache: built; not kept ({db.first_line(exc)})"
    except OSError as exc:
        return f"cache: built; not kept (FLEETLAB_HOME: {exc.strerror or exc})"
    finally:
        job.steps["cache"] = time.perf_counter() - t
    gone = f"; evicted {len(evicted)} least recently used" if evicted else ""
    return f"cache: built, and kept as {name} for the next reset of this fleet{gone}"


@db.translate_errors(None, "the seed")
def seed(
    settings: Settings, fleet: Loadable | Callable[[], Loadable], *, progress: Progress | None = None
) -> ResetResult:
    """Replace the rows of the workbench database with `fleet` (truncate + COPY, one transaction)."""
    started = time.perf_counter()
    url = target(settings)
    _refuse_a_template(url)
    keys = keyring_for(settings, create=True)
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
        changed = [
            d
            for d in schema.differences(schema.describe(conn))
            if not d.endswith("not in the platform schema") or not d.startswith("table ")
        ]
        if changed:
            more = f" and {len(changed) - 2} more" if len(changed) > 2 else ""
            raise ResetRefused(
                f"database {url.where} is not the schema its migrations make ({'; '.join(changed[:2])}{more}): "
                "it was changed by hand. `fleetlab reset` rebuilds it; `fleetlab status` lists the differences."
            )
        from .load import load

        counts = load(conn, built, keys, lock_timeout=settings.lock_timeout, progress=progress)
    return ResetResult(url=url, counts=counts, elapsed=time.perf_counter() - started)


def _refuse_a_template(url: DatabaseURL) -> None:
    if cache.is_template_name(url.database):
        raise ResetRefused(
            f"refusing to write to {url.database!r}: it is a template of fleetlab's scenario cache, which resets "
            "clone. Point DATABASE_URL at your workbench database; `fleetlab cache clear` removes templates."
        )
