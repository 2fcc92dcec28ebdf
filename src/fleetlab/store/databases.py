"""The databases fleetlab makes, in one place: their names, creating (plain or from a template), the atomic
swap, the sessions connected to them, dropping, "is it ours", and advisory locks.

Every CREATE, RENAME and DROP DATABASE of the library, the pytest plugin, the suite, the scripts and the
benchmarks goes through this module, and every advisory lock is taken with `advisory_lock`.

A reset builds under a side name (`build_name`) and swaps the result in with `swap`: one transaction
renames the old database aside (`previous_name`) and the new one into its place, so a kill at any
instant leaves one or the other under the workbench's name. Nothing is dropped (`drop`) unless the
caller says how it knows the database is its own, or `check_droppable` finds it fleetlab's (a marker,
not protected) or holding no tables at all; the cluster's own databases never are.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator

import psycopg
from psycopg import sql

from .. import faults
from ..dsn import RESERVED_DATABASES, DatabaseURL
from ..errors import DatabaseError, DatabaseUnavailable, LockTimeout, ResetRefused
from . import db, marker

# advisory lock namespaces ("fl", "fm", …): the first key of pg_advisory_lock(int, int), the second is
# hashtext() of the text key named here
RESET_LOCK_CLASS = 0x666C  # resetting one database, by its name (held in the maintenance database)
TEMPLATE_LOCK_CLASS = 0x666D  # the pytest plugin building one cache template, by cache key
KEEP_LOCK_CLASS = 0x666E  # keeping one cache template, by cache key
RUN_LOCK_CLASS = 0x666F  # a pytest session that is alive, by its run token
MIGRATE_LOCK_CLASS = 0x666C_6D69  # "flmi": migrating one database, by its name (held in that database)
SWAP_ATTEMPTS = 5  # sessions that reconnect between the end of their sessions and the rename


def build_name(name: str) -> str:
    """The side name the next database is built under (always within 63 bytes)."""
    return "fleetlab_build_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def previous_name(name: str) -> str:
    """The name the previous database is renamed to in the swap, until it is dropped."""
    return "fleetlab_prev_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def connect_admin(url: DatabaseURL) -> psycopg.Connection:
    """An autocommit session in the maintenance database of `url`'s server (template1 when it has none)."""
    try:
        return db.connect(db.maintenance(url), autocommit=True)
    except DatabaseUnavailable as exc:
        if "does not exist" not in str(exc):
            raise
        return db.connect(url.with_dbname("template1"), autocommit=True)


# -- creating -----------------------------------------------------------------------------------


SMALL_TEMPLATE = 64 * 2**20  # bytes: a template smaller than this is cloned through the WAL (see `clone`)


def _create_sql(name: str, template: str | None, encoding: str | None = None, strategy: str | None = None):
    stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    if encoding:
        stmt += sql.SQL(" ENCODING {}").format(sql.Literal(encoding))
    if strategy:
        stmt += sql.SQL(" STRATEGY {}").format(sql.SQL(strategy))
    return stmt


def create(
    admin: psycopg.Connection,
    name: str,
    url: DatabaseURL | None = None,
    *,
    template: str | None = None,
    encoding: str | None = None,
    strategy: str | None = None,
) -> None:
    """CREATE DATABASE `name` (a copy of `template`, by default the server's template1). PostgreSQL's
    refusal becomes DatabaseError; `clone` is the copy for a fast, whole-template clone."""
    with db.translate_errors(url, f"CREATE DATABASE {name}"):
        admin.execute(_create_sql(name, template, encoding, strategy))


def clone(admin: psycopg.Connection, source: str, into: str, *, size: int | None = None) -> str:
    """CREATE DATABASE `into` as a copy of `source` (no session may be connected to it); returns the
    strategy used. A template of `size` under SMALL_TEMPLATE bytes is copied through the WAL (WAL_LOG,
    on 15+): its cost follows its own size, where a file copy waits for two checkpoints, whose cost follows
    everything the server has written lately (on PostgreSQL 15, 8-40 MB templates: 25-170 ms against
    100-200 ms with the drop). A bigger one, or one of unknown size: on PostgreSQL 18 a file copy with
    `file_copy_method = clone` (blocks shared on copy-on-write filesystems, `copy_file_range` elsewhere;
    a plain copy if refused), on 15-17 STRATEGY FILE_COPY (WAL_LOG would write the whole copy to WAL),
    before 15 the default file copy. PostgreSQL's errors are raised as they are: the callers tell "in use"
    from "gone"."""
    version = admin.info.server_version
    if version < 150000:
        admin.execute(_create_sql(into, source))
        return "file copy"
    if size is not None and size < SMALL_TEMPLATE:
        admin.execute(_create_sql(into, source, strategy="WAL_LOG"))
        return "WAL copy"
    create = _create_sql(into, source, strategy="FILE_COPY")
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
            drop(admin, into, ours="the clone attempt that just failed")
    admin.execute(create)
    return "file copy"


def make_template(admin: psycopg.Connection, name: str) -> None:
    """Turn `name` into a template nobody but its owner (or a superuser) can connect to and change."""
    admin.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true").format(sql.Identifier(name))
    )


def rename(admin: psycopg.Connection, name: str, to: str) -> None:
    """ALTER DATABASE `name` RENAME TO `to` (transactional: `swap` renames two in one transaction)."""
    admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(to)))


# -- the swap -----------------------------------------------------------------------------------


def swap(admin: psycopg.Connection, name: str, side: str, url: DatabaseURL, end_sessions: bool) -> list[str]:
    """Put `side` in the place of `name` in one transaction; returns the sessions it ended.

    Renaming a database needs it free of sessions: those connected to the old one are ended first
    (refused instead when not `end_sessions`), and if one reconnects before the rename, again.
    A kill before the commit leaves the old database in place, after it the new one."""
    previous = previous_name(name)
    ended: list[str] = []
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        exists = db.database_exists(admin, name)
        if exists:
            if not end_sessions:
                refuse_if_in_use(admin, name, url, built_side=side)
            others = sessions(admin, name)
            ended += [s for s in others if s not in ended]
            terminate_sessions(admin, name, side, url)
        faults.reached("swap:after-end-sessions")
        try:
            with admin.transaction():
                if exists:
                    rename(admin, name, previous)
                    faults.reached("swap:after-rename-old")
                rename(admin, side, name)
                faults.reached("swap:before-commit")
            break
        except psycopg.errors.ObjectInUse:
            if attempt == SWAP_ATTEMPTS:
                discard(admin, side, url)
                raise DatabaseError(
                    f"sessions kept reconnecting to {name!r} at {url.where}, so it could not be replaced; "
                    "stop the program that reconnects and reset again. The previous database was kept."
                ) from None
            time.sleep(0.05 * attempt)
        except psycopg.Error as exc:
            discard(admin, side, url)
            raise DatabaseError(
                f"could not swap the new database in at {url.where}: {db.first_line(exc)}; "
                "the previous database was kept."
            ) from None
    faults.reached("swap:after-commit")
    if exists:
        try:
            drop(admin, previous, url, ours="the database this reset replaced")
        except DatabaseError:
            pass  # the swap is done; the next reset drops what is left of the previous database
    return ended


# -- sessions -----------------------------------------------------------------------------------


def sessions(admin: psycopg.Connection, name: str) -> list[str]:
    """The other clients' sessions connected to database `name`: application (user), one entry per session.

    Only client backends: an autovacuum worker (busy on a big fleet for a while after its load) is not a
    user, cannot be ended by a role without pg_signal_autovacuum_worker, and is ended by the server itself
    when the database is renamed or dropped."""
    rows = admin.execute(
        "SELECT coalesce(nullif(application_name, ''), 'a client') || ' (' || coalesce(usename, '?') || ')' "
        "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
        "ORDER BY backend_start",
        (name,),
    ).fetchall()
    return [r[0] for r in rows]


def terminate_sessions(admin: psycopg.Connection, name: str, side: str, url: DatabaseURL) -> None:
    """End every other session connected to `name`, waiting (5 s at most each) until they are gone."""
    try:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            (name,),
        )
    except psycopg.Error as exc:  # a superuser's session, when we are not one
        discard(admin, side, url)
        raise DatabaseError(
            f"could not end the sessions connected to {name!r} at {url.where}: {db.first_line(exc)}. "
            "Close them yourself and reset again; the previous database was kept."
        ) from None


def refuse_if_in_use(
    admin: psycopg.Connection, name: str, url: DatabaseURL, built_side: str | None = None, grace: float = 1.0
) -> None:
    """Refuse when other sessions stay connected to `name`.

    A client that has just disconnected is listed until its backend has exited, a few milliseconds later
    (a reset run right after another one sees the first one's backend). PostgreSQL's own DROP DATABASE waits
    for such backends; this waits `grace` seconds for them before refusing.
    """
    others = sessions(admin, name)
    deadline = time.monotonic() + grace
    while others and time.monotonic() < deadline:
        time.sleep(0.05)
        others = sessions(admin, name)
    if others:
        if built_side is not None:
            discard(admin, built_side, url)
        raise ResetRefused(
            f"{len(others)} other session(s) are connected to {name!r} at {url.where}: {', '.join(others[:5])}. "
            "Close them, or reset without --keep-sessions (the reset then ends them). Nothing was changed."
        )


# -- is it ours, dropping -----------------------------------------------------------------------


def check_droppable(admin: psycopg.Connection, url: DatabaseURL, name: str) -> None:
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


def drop(
    admin: psycopg.Connection,
    name: str,
    url: DatabaseURL | None = None,
    *,
    ours: str | None = None,
    force: bool = True,
) -> bool:
    """Drop database `name` if it exists: the one DROP DATABASE of fleetlab. Returns False when it was kept
    because sessions are connected to it and `force` is off (with `force`, they are ended).

    `ours` says how the caller knows the database is its own ("this test's database", "a sealed template
    of this FLEETLAB_HOME"); without it, `check_droppable` decides, connecting to it through `url`'s server.
    A template is made an ordinary database first. Raises ResetRefused for a database that is not ours
    (or the cluster's own), DatabaseError when PostgreSQL refuses."""
    where = f" at {url.where}" if url is not None else ""
    if name in RESERVED_DATABASES:
        raise ResetRefused(f"refusing to drop database {name!r}{where}: it belongs to the PostgreSQL cluster itself.")
    if ours is None:
        if url is None:
            raise ValueError("drop: give the URL to check the database with, or say why it is ours")
        check_droppable(admin, url, name)
    why = f" ({ours})" if ours else ""
    ident = sql.Identifier(name)
    try:
        row = admin.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if row is not None and row[0]:
            admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(ident))
        stmt = sql.SQL("DROP DATABASE IF EXISTS {}").format(ident)
        admin.execute(stmt + sql.SQL(" WITH (FORCE)") if force else stmt)
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.errors.ObjectInUse) and not force:
            return False
        raise DatabaseError(f"could not drop database {name!r}{why}{where}: {db.first_line(exc)}") from None
    return True


def discard(admin: psycopg.Connection, side: str, url: DatabaseURL) -> None:
    """Drop the half-built side database, best effort (a killed process leaves it to the next reset)."""
    try:
        with contextlib.ExitStack() as stack:
            if admin.closed or admin.broken:
                admin = stack.enter_context(connect_admin(url))
            drop(admin, side, url, ours="half-built by this process")
    except (DatabaseError, DatabaseUnavailable, psycopg.Error):
        pass


def foreign_objects(conn: psycopg.Connection, role: str) -> list[str]:
    """Objects in the connected database not owned by `role` (the first few): a clone is served only
    when this is empty. The `public` schema itself and plpgsql belong to the cluster, not the fleet."""
    rows = conn.execute(
        """
        SELECT what FROM (
          SELECT format('%%s %%I.%%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index'
                 WHEN 'v' THEN 'view' ELSE 'table' END, n.nspname, c.relname) AS what, c.relowner AS owner
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
          UNION ALL
          SELECT format('function %%I.%%I', n.nspname, p.proname), p.proowner
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          UNION ALL
          SELECT format('schema %%I', n.nspname), n.nspowner FROM pg_namespace n
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname !~ '^pg_'
          UNION ALL
          SELECT format('extension %%I', e.extname), e.extowner FROM pg_extension e WHERE e.extname <> 'plpgsql'
          UNION ALL
          SELECT format('event trigger %%I', t.evtname), 0 FROM pg_event_trigger t
        ) o
        WHERE o.owner IS DISTINCT FROM (SELECT oid FROM pg_roles WHERE rolname = %s)
        ORDER BY 1 LIMIT 5
        """,
        (role,),
    ).fetchall()
    return [r[0] for r in rows]


# -- advisory locks -----------------------------------------------------------------------------


@contextlib.contextmanager
def advisory_lock(
    conn: psycopg.Connection, lock_class: int, key: str, *, wait: float | None = None, busy: str | None = None
) -> Iterator[None]:
    """Hold the session-level advisory lock (`lock_class`, `key`) inside the block.

    `wait`: None waits as long as it takes, 0 tries once, otherwise at most `wait` seconds. A lock not
    taken raises LockTimeout(`busy`). The server is told to notice a dead client during a statement, so a
    holder killed in a long one lets go. The lock is released at the block's end explicitly: a closed
    session's locks go only once its backend has exited, which may be after the next taker asked."""
    lock = (lock_class, key)
    db.set_connection_check(conn)
    if wait == 0:
        taken = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", lock).fetchone()[0]
    elif wait is None:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", lock)
        taken = True
    else:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, round(wait * 1000))}ms",))
        try:
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", lock)
            taken = True
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
            taken = False
        finally:
            conn.execute("SELECT set_config('lock_timeout', '0', false)")
    if not taken:
        raise LockTimeout(busy or f"another session holds the advisory lock {lock_class:#x}/{key!r}; try again later.")
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)
            except psycopg.Error:
                pass
