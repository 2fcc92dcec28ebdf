"""Loading a fleet: TRUNCATE and COPY organizations → factories → gateways in one transaction.

A failure, a lock timeout or a killed client leaves the previous rows in place: never a partial fleet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

import polars as pl
import psycopg
from psycopg import sql

from .. import faults
from ..dsn import DatabaseURL
from ..errors import ResetRefused
from ..model.fleet import PASSWORD, Loadable, copy_columns
from ..model.tables import TABLES
from . import db, marker, pgcopy
from .crypto import TAG_BYTES, Keyring
from .db import all_or_nothing, set_connection_check

CHUNK_ROWS = 10_000  # rows per COPY chunk (about 5 MB of binary COPY rows)
THREADED_CHUNK_ROWS = 25_000  # rows per chunk of `interleaved`: polars' and Arrow's work per call is amortised
# over more rows (generation, encryption and rendering of a million gateways: 3.3-3.5 s of CPU in chunks of
# 10,000, 2.9 in chunks of 25,000), at about 15 MB per chunk in flight
BULK_ROWS = 100_000  # from this many rows, indexes and foreign keys are rebuilt after the COPY
PREFETCH = 2  # chunks rendered ahead of the single-stream COPY
RENDER_THREADS = 2  # threads rendering the chunks of a reset's single COPY stream (`interleaved`)
INDEX_MEMORY = "256MB"  # maintenance_work_mem of each index build: a million rows' sort in memory

Progress = Callable[[str, int, int], None]  # (table, rows done, rows total)
T = TypeVar("T")


def encrypt_passwords(passwords: pl.Series, keyring: Keyring) -> pl.Series:
    """The password_encrypted column for a chunk's plaintext `PASSWORD` column, in the platform's JSON,
    fresh nonces. Same values as `Encryptor.encrypt` row by row, with the base64 and the JSON done by
    polars in bulk: only the AES-GCM call stays per row.
    """
    enc = keyring.encryptor()
    nonces, sealed = enc.seal_many(passwords.cast(pl.Binary).to_list())
    frame = pl.DataFrame({"sealed": sealed, "iv": nonces}, schema={"sealed": pl.Binary, "iv": pl.Binary})
    return frame.select(
        pl.format(
            enc.template,
            pl.col("sealed").bin.head(-TAG_BYTES).bin.encode("base64"),
            pl.col("iv").bin.encode("base64"),
            pl.col("sealed").bin.tail(TAG_BYTES).bin.encode("base64"),
        ).alias("password_encrypted")
    ).to_series()


def copy_chunks(
    cur: psycopg.Cursor,
    table: str,
    columns: list[str],
    chunks: Iterable[tuple[bytes, int]],
    progress: Progress | None = None,
    *,
    total: int,
    done: int = 0,
    freeze: bool = False,
) -> int:
    """COPY pre-rendered chunks (binary COPY rows, `pgcopy.encode`; rows) into `table`; returns the rows written.

    With `freeze` (only for a table truncated or created in the same transaction), the rows are written
    frozen and their pages marked all-visible: no hint bits to set on first reads, nothing for autovacuum
    to do after the load."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    options = sql.SQL("FORMAT binary, FREEZE" if freeze else "FORMAT binary")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(sql.Identifier(table), cols, options)
    with cur.copy(stmt) as copy:
        copy.write(pgcopy.SIGNATURE)
        for data, rows in chunks:
            copy.write(data)
            faults.reached(f"copy:{table}")
            done += rows
            if progress:
                progress(table, done, total)
        copy.write(pgcopy.TRAILER)
    return done


def rendered_chunks(
    fleet: Loadable, table: str, keyring: Keyring, rows: int = CHUNK_ROWS, which: Iterable[int] | None = None
) -> Iterator[tuple[bytes, int]]:
    """The rows of `table` as binary COPY chunks (`pgcopy`), passwords encrypted (gateways); with
    `which`, the chunks of those numbers only (one stream of a parallel load).

    The fleet makes its rows chunk by chunk, finished (a generator plan generates them as they are
    asked for), so memory stays flat however large the fleet: the store only encrypts and copies.
    """
    kinds = pgcopy.column_kinds(table)
    for frame in fleet.chunks(table, rows) if which is None else fleet.chunks(table, rows, which):
        yield pgcopy.encode(finished(frame, table, keyring), kinds), frame.height


def finished(frame: pl.DataFrame, table: str, keyring: Keyring) -> pl.DataFrame:
    """A chunk of `table` as it is written (`copy_columns`): a gateway's plaintext password encrypted."""
    if table == "gateways":
        frame = frame.with_columns(encrypt_passwords(frame[PASSWORD], keyring))
    return frame.select(copy_columns(table))


class _Done:
    pass


def prefetch(chunks: Iterator[T], depth: int = 3) -> Iterator[T]:
    """Run `chunks` in a worker thread, `depth` items ahead of the consumer.

    Generation, encryption and rendering then overlap with the COPY: while this thread
    waits on the socket (GIL released), the worker builds the next chunk. Errors in the worker
    are re-raised here; a consumer that stops early stops the worker.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in chunks:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_Done())
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=work, name="fleetlab-render", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def interleaved(fleet: Loadable, keyring: Keyring, threads: int) -> Iterator[tuple[bytes, int]]:
    """The gateway chunks (of THREADED_CHUNK_ROWS) in order, rendered by `threads` threads (thread k makes
    chunks k, k + threads, …), each a chunk ahead: polars, numpy and the AES calls release the interpreter's
    lock for much of their work, so a single COPY stream is fed faster than one thread feeds it."""
    chunks = -(-fleet.counts()["gateways"] // THREADED_CHUNK_ROWS)
    workers = [
        prefetch(rendered_chunks(fleet, "gateways", keyring, THREADED_CHUNK_ROWS, range(k, chunks, threads)), 1)
        for k in range(threads)
    ]
    try:
        for i in range(chunks):
            yield next(workers[i % threads])
    finally:
        for w in workers:
            w.close()


@dataclass
class Rebuild:
    """What `defer_indexes` dropped, as the statements that put it back, in the order they must run:
    `indexes` (each `(table, CREATE [UNIQUE] INDEX …)`, the keys' own indexes included; any order,
    and independent ones in parallel), then `attach` (each key made from its index: `ALTER TABLE …
    ADD CONSTRAINT … PRIMARY KEY USING INDEX …`, instant), then `fkeys` (one validating query each)."""

    indexes: list[tuple[str, str]] = field(default_factory=list)
    attach: list[str] = field(default_factory=list)
    fkeys: list[str] = field(default_factory=list)

    def statements(self) -> list[str]:
        return [*(ddl for _, ddl in self.indexes), *self.attach, *self.fkeys]


def defer_indexes(cur: psycopg.Cursor) -> Rebuild:
    """Drop the fleet tables' keys, foreign keys and indexes; return what puts them back, to run
    after the COPY (`Rebuild`).

    PostgreSQL's own advice for bulk loads ("Populating a Database"): building an index once from
    a million rows, by sorting, is several times faster than growing it row by row, and one
    validating query per foreign key is faster than a trigger per row. In one transaction, run it
    only after the TRUNCATE (which holds ACCESS EXCLUSIVE locks on the three tables), so no other
    session ever sees the tables without them; a failure anywhere, including a duplicate found
    while a unique index is rebuilt, rolls the whole transaction back, definitions included.

    A key is rebuilt as its unique index first (`CREATE UNIQUE INDEX` takes a SHARE lock, so the
    indexes of one table can be built side by side on several connections) and then attached as
    the constraint (`USING INDEX`): the same catalog as `ADD CONSTRAINT … PRIMARY KEY` makes.
    """
    cur.execute("SELECT set_config('maintenance_work_mem', '256MB', true)")
    tables = "('organizations'::regclass, 'factories'::regclass, 'gateways'::regclass)"
    constraints = cur.execute(
        f"""
        SELECT c.contype, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid),
               CASE WHEN c.contype IN ('p', 'u') AND NOT c.condeferrable THEN pg_get_indexdef(c.conindid) END
        FROM pg_constraint c
        WHERE c.contype IN ('p', 'u', 'f') AND c.conrelid IN {tables}
        ORDER BY c.contype = 'f' DESC, 2, 3
        """
    ).fetchall()
    indexes = cur.execute(
        f"""
        SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid IN {tables}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """
    ).fetchall()
    # dropped: foreign keys first (they depend on the keys); restored: indexes, keys, foreign keys
    out = Rebuild()
    for kind, table, name, ddl, index_ddl in constraints:
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
        if kind == "f":
            out.fkeys.append(add.as_string(cur) + ddl)
        elif index_ddl is None:  # a deferrable key cannot be made from an index: restored as it was
            out.attach.append(add.as_string(cur) + ddl)
        else:
            out.indexes.append((table, index_ddl))
            using = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            out.attach.append(add.as_string(cur) + f"{using} USING INDEX " + sql.Identifier(name).as_string(cur))
    for name, table, ddl in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        out.indexes.append((table, ddl))
    # the biggest table's first: the parallel rebuild starts the longest sorts soonest
    order = {t: i for i, t in enumerate(reversed(TABLES))}
    out.indexes.sort(key=lambda item: order.get(item[0], len(order)))
    return out


def build_indexes(url: DatabaseURL, rebuild: Rebuild, connections: int, progress: Progress | None = None) -> None:
    """Run `rebuild`: its indexes on up to `connections` connections at once (CREATE INDEX takes a SHARE
    lock, so builds on one table do not wait for each other), then the keys and foreign keys.

    On several connections each index is built by one process (no parallel workers): the builds share the
    cores instead of one build's workers, which saves their start and the merge of their sorts (five
    indexes of a million gateways on two cores: 1.4-1.6 s against 1.8-1.9 s one by one with two workers)."""
    total = len(rebuild.statements())
    if not total:
        return
    pool: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
    opened = []
    count = max(1, min(connections, len(rebuild.indexes)))
    try:
        for _ in range(count):
            conn = db.connect(url, autocommit=True)
            opened.append(conn)
            conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (INDEX_MEMORY,))
            if count > 1:
                conn.execute("SELECT set_config('max_parallel_maintenance_workers', '0', false)")
            pool.put(conn)

        def build(ddl: str) -> None:
            conn = pool.get()
            try:
                conn.execute(ddl)
            finally:
                pool.put(conn)

        done = 0
        with ThreadPoolExecutor(max_workers=len(opened), thread_name_prefix="fleetlab-index") as ex:
            futures = [ex.submit(build, ddl) for _, ddl in rebuild.indexes]
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in finished:
                    f.result()  # the first failure stops here; the caller drops the side database
                    done += 1
                    if progress:
                        progress("indexes", done, total)
        conn = opened[0]
        for ddl in [*rebuild.attach, *rebuild.fkeys]:
            conn.execute(ddl)
            done += 1
            if progress:
                progress("indexes", done, total)
    finally:
        for conn in opened:
            conn.close()


def analyze(cur) -> None:
    """The planner's statistics of the fleet tables, gathered as soon as they are loaded (inside the load's
    transaction): without them (autovacuum comes later, and never for 20 organizations) the planner guesses
    one organization and nests loops over every gateway. A sample of 3,000 rows a table (statistics target
    10) is enough for the fleet's questions, and takes 0.2 s at 1M gateways where the default 30,000 took 1.0 s."""
    cur.execute("SET LOCAL default_statistics_target = 10")
    cur.execute("ANALYZE organizations, factories, gateways")


def load(
    conn: psycopg.Connection,
    fleet: Loadable,
    keyring: Keyring,
    *,
    lock_timeout: float = 10.0,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Replace the three tables' rows with `fleet`, all in one transaction. Returns rows per table.

    `fleet` is any Loadable: a Fleet (frames), or a generator plan whose gateways are generated
    chunk by chunk while the COPY runs. The marker records `fleet.scenario` and the row counts.
    """
    if marker.read(conn) is None:
        conn.rollback()
        raise ResetRefused(
            f"database {conn.info.dbname!r} has no fleetlab marker; refusing to truncate its tables. "
            "Create it with `fleetlab reset`."
        )
    conn.rollback()
    set_connection_check(conn)
    if not conn.autocommit:
        conn.commit()  # so the block below is the outermost transaction and commits, not a savepoint
    counts: dict[str, int] = {}
    with all_or_nothing(conn, "seeding", lock_timeout=lock_timeout, holder="the fleet tables"), conn.transaction():
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout * 1000)}ms",))
        conn.execute("TRUNCATE organizations, factories, gateways")
        conn.execute("SELECT set_config('lock_timeout', '0', true)")
        totals = fleet.counts()
        with conn.cursor() as cur:
            restore = defer_indexes(cur).statements() if sum(totals.values()) >= BULK_ROWS else []
            for table in TABLES:
                chunks = prefetch(rendered_chunks(fleet, table, keyring, CHUNK_ROWS), PREFETCH)
                try:
                    counts[table] = copy_chunks(cur, table, copy_columns(table), chunks, progress, total=totals[table])
                finally:
                    chunks.close()
            for i, ddl in enumerate(restore, 1):
                cur.execute(ddl)
                if progress:
                    progress("indexes", i, len(restore))
            analyze(cur)
        marker.record_seed(conn, {**fleet.scenario, "counts": counts})
    return counts
