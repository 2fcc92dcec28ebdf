"""The databases fleetlab makes: their names, creating by clone, ending sessions, the atomic swap, dropping.

A reset builds under a side name (`build_name`) and swaps the result in with `swap`: one transaction
renames the old database aside (`previous_name`) and the new one into its place, so a kill at any
instant leaves one or the other under the workbench's name. Nothing is dropped unless `check_droppable`
says it is fleetlab's (a marker, not protected) or holds no tables at all.
"""

from __future__ import annotations

import hashlib
import time

import psycopg
from psycopg import sql

from ..errors import DatabaseError, DatabaseUnavailable, LockTimeout, ResetRefused
from . import db, faults, marker
from .dsn import DatabaseURL

RESET_LOCK_CLASS = 0x666C  # "fl": advisory lock namespace for resets, per database name
SWAP_ATTEMPTS = 5  # sessions that reconnect between the end of their sessions and the rename


def build_name(name: str) -> str:
    """The side name the next database is built under (always within 63 bytes)."""
    return "fleetlab_build_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def previous_name(name: str) -> str:
    """The name the previous database is renamed to in the swap, until it is dropped."""
    return "fleetlab_prev_" + hashlib.sha256(name.encode()).hexdigest()[:16]


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
                    admin.execute(
                        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(previous))
                    )
                    faults.reached("swap:after-rename-old")
                admin.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(side), sql.Identifier(name))
                )
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
            drop(admin, previous, url)
        except DatabaseError:
            pass  # the swap is done; the next reset drops what is left of the previous database
    return ended


def terminate_sessions(admin: psycopg.Connection, name: str, side: str, url: DatabaseURL) -> None:
    """End every other session connected to `name`, waiting (5 s at most each) until they are gone."""
    try:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    except psycopg.Error as exc:  # a superuser's session, when we are not one
        discard(admin, side, url)
        raise DatabaseError(
            f"could not end the sessions connected to {name!r} at {url.where}: {db.first_line(exc)}. "
            "Close them yourself and reset again; the previous database was kept."
        ) from None


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


def connect_admin(url: DatabaseURL) -> psycopg.Connection:
    try:
        return db.connect(db.maintenance(url), autocommit=True)
    except DatabaseUnavailable as exc:
        if "does not exist" not in str(exc):
            raise
        return db.connect(url.with_dbname("template1"), autocommit=True)


def release_reset_lock(admin: psycopg.Connection) -> None:
    # explicitly: a closed session's locks are released only once its backend has exited,
    # which may be after the next reset in this process already asked for the lock
    if not admin.closed and not admin.broken:
        try:
            admin.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            pass


def take_reset_lock(admin: psycopg.Connection, name: str, url: DatabaseURL) -> None:
    got = admin.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (RESET_LOCK_CLASS, name)).fetchone()[0]
    if not got:
        raise LockTimeout(
            f"a reset of {url.where} is in progress in another process; wait for it to finish and try again."
        )


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


def sessions(admin: psycopg.Connection, name: str) -> list[str]:
    """The other sessions connected to database `name`: application (user), one entry per session."""
    rows = admin.execute(
        "SELECT coalesce(nullif(application_name, ''), 'a client') || ' (' || coalesce(usename, '?') || ')' "
        "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() ORDER BY backend_start",
        (name,),
    ).fetchall()
    return [r[0] for r in rows]


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


def discard(admin: psycopg.Connection, side: str, url: DatabaseURL) -> None:
    """Drop the half-built side database, best effort (a killed process leaves it to the next reset)."""
    try:
        if admin.closed or admin.broken:
            admin = connect_admin(url)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(side)))
    except (psycopg.Error, DatabaseUnavailable):
        pass


def drop(admin: psycopg.Connection, name: str, url: DatabaseURL) -> None:
    stmt = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    try:
        admin.execute(stmt)
    except psycopg.Error as exc:
        raise DatabaseError(f"could not drop database {name!r} at {url.where}: {db.first_line(exc)}") from None


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
