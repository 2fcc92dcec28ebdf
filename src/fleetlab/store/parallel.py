"""Loading a big fleet into a reset's fresh database: over one COPY stream, or several at once.

A reset builds its database under a side name that nobody uses until the swap, so its load need
not be one transaction: the swap is what makes a reset all or nothing. A load that fails, or a
reset that is killed, leaves a side database that the reset (or the next one) drops, and the
previous database as it was. `fleetlab seed`, which replaces rows in place, keeps `load.load`'s
single transaction.

How, for N streams:
1. the tables' indexes, keys and foreign keys are dropped (`load.defer_indexes`) and that committed;
2. one stream (N = 1): this process truncates the tables and COPYs the three into them in that same
   transaction, so the rows are written frozen (and, with wal_level=minimal, without WAL); two threads
   render its gateway chunks in turn (`load.interleaved`);
   N streams: this process and N-1 helper processes (`python -m fleetlab.store.parallel`) each open one
   COPY and generate, encrypt and render numbered gateway chunks into it, each claiming the next number
   when ready, so a late or slow stream does less and the streams end together. This process loads
   the organizations and factories first, and reports everyone's progress;
3. indexes built on a connection per core at once (largest first, `load.build_indexes`); keys attached,
   foreign keys validated, tables analyzed.

A helper gets its job (plan, database URL, current key) as a pickle on its stdin, never in its
arguments or environment, then its chunk numbers one line at a time (`end` when there are no more),
and reports one line per chunk on stdout. A helper whose parent dies sees its stdin close and exits.
"""

from __future__ import annotations

import collections
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ..dsn import DatabaseURL
from ..errors import DatabaseError, DatabaseUnavailable, FleetlabError, scrub
from ..model.fleet import Loadable, copy_columns
from . import db, marker
from .crypto import Keyring
from .load import (
    CHUNK_ROWS,
    RENDER_THREADS,
    Progress,
    analyze,
    build_indexes,
    copy_chunks,
    defer_indexes,
    interleaved,
    prefetch,
    rendered_chunks,
)

AHEAD = 2  # chunk numbers a helper holds: one rendered while the other is copied
PARALLEL_ROWS = 200_000  # gateways from which a reset loads over several streams (a helper takes ~0.5 s to start)
MAX_AUTO_STREAMS = 8  # streams picked from the cores at most (FLEETLAB_LOAD_STREAMS sets any number)


@dataclass
class Loaded:
    """What a parallel load did: rows per table, streams, and each helper's peak memory (MiB)."""

    counts: dict[str, int]
    streams: int
    helpers_peak_mib: list[float] = field(default_factory=list)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def streams_for(fleet: Loadable, setting: int = 0) -> int:
    """How many COPY streams a reset of `fleet` uses: `setting` if given (FLEETLAB_LOAD_STREAMS,
    `reset --streams`), else one per two cores up to MAX_AUTO_STREAMS from PARALLEL_ROWS gateways, one
    below; never more than the fleet has gateway chunks.

    A stream keeps two cores busy: its renderers and the server process parsing its COPY. On two cores,
    two streams took as long as one (measured, `benchmarks/seed.py --streams`), and one stream loads
    tables truncated in its own transaction: rows written frozen, no WAL on the embedded server."""
    gateways = fleet.counts()["gateways"]
    chunks = -(-gateways // CHUNK_ROWS)
    if setting <= 0:
        setting = 1 if gateways < PARALLEL_ROWS else min(MAX_AUTO_STREAMS, cores() // 2)
    return max(1, min(setting, chunks))


def load(
    url: DatabaseURL, fleet: Loadable, keyring: Keyring, *, streams: int, progress: Progress | None = None
) -> Loaded:
    """Load `fleet` into the freshly migrated, empty database `url` over `streams` COPY streams.

    Only for a database nobody else uses yet (a reset's side database): each stream commits on its
    own. Returns the rows per table; the marker records `fleet.scenario` and them.
    """
    totals = fleet.counts()
    with db.connect(url) as conn:
        db.set_connection_check(conn)
        with conn.cursor() as cur:
            rebuild = defer_indexes(cur)
        conn.commit()
        numbers = _Numbers(-(-totals["gateways"] // CHUNK_ROWS))
        helpers = [_Helper(_Job(url, fleet, keyring.current, (k, streams)), numbers) for k in range(1, streams)]
        try:
            tracker = _Tracker(helpers, totals["gateways"], progress)
            counts: dict[str, int] = {}
            with conn.cursor() as cur:
                # one stream: its tables truncated in the COPY's transaction, so rows are written frozen (`copy_chunks`)
                # and, with wal_level=minimal (the embedded server's), skip the WAL
                frozen = not helpers
                if frozen:
                    cur.execute("TRUNCATE organizations, factories, gateways")
                for table in ("organizations", "factories"):
                    chunks = rendered_chunks(fleet, table, keyring, CHUNK_ROWS)
                    counts[table] = copy_chunks(
                        cur, table, copy_columns(table), chunks, progress, total=totals[table], freeze=frozen
                    )
                if helpers:
                    mine = prefetch(rendered_chunks(fleet, "gateways", keyring, CHUNK_ROWS, numbers), 1)
                else:
                    mine = interleaved(fleet, keyring, RENDER_THREADS)
                try:
                    copy_chunks(
                        cur,
                        "gateways",
                        copy_columns("gateways"),
                        mine,
                        tracker.mine,
                        total=totals["gateways"],
                        freeze=frozen,
                    )
                finally:
                    mine.close()
            conn.commit()
            counts["gateways"] = tracker.wait()
        except BaseException:
            for h in helpers:
                h.kill()
            raise
        finally:
            for h in helpers:
                h.close()
        if counts["gateways"] != totals["gateways"]:
            raise DatabaseError(
                f"the load's streams wrote {counts['gateways']:,} gateways of {totals['gateways']:,}; "
                "this is a bug in fleetlab, please report it. The previous database is unchanged."
            )
        build_indexes(url, rebuild, max(streams, min(cores(), MAX_AUTO_STREAMS)), progress)
        analyze(conn)
        marker.record_seed(conn, {**fleet.scenario, "counts": counts})
        conn.commit()
    return Loaded(counts, streams, [h.peak_mib for h in helpers])


class _Numbers:
    """The gateway chunks' numbers, each handed out once, to whichever stream asks next (thread-safe)."""

    def __init__(self, count: int):
        self.count = count
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self.count:
                return None
            self._next += 1
            return self._next - 1

    def __iter__(self) -> Iterator[int]:
        while (i := self.take()) is not None:
            yield i


@dataclass
class _Job:
    url: DatabaseURL
    fleet: Loadable
    key: bytes = field(repr=False)
    part: tuple[int, int]


class _Helper:
    """One helper process: its job written to its stdin (kept open: its end tells the helper that
    this process is gone), its report lines read from stdout by a thread into a queue."""

    def __init__(self, job: _Job, numbers: _Numbers):
        self.part = job.part
        self.secret = job.url.password
        self.numbers = numbers
        self._stdin = threading.Lock()
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.errors: collections.deque[str] = collections.deque(maxlen=20)
        self.rows = 0
        self.done = False
        self.peak_mib = 0.0
        # a fault point names the reset's own process, or with "stream:" its helpers (faults.py);
        # the helper is told where fleetlab lives
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAB_FAULT")}
        for name in ("FLEETLAB_FAULT", "FLEETLAB_FAULT_PAUSE"):
            if os.environ.get(name, "").startswith("stream:"):
                env[name] = "copy:" + os.environ[name].removeprefix("stream:")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")) if p
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleetlab.store.parallel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        threading.Thread(target=self._send, args=(payload,), daemon=True).start()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()

    def _send(self, payload: bytes) -> None:
        with self._stdin:
            self._write(payload)
        for _ in range(AHEAD):
            self.give()

    def give(self) -> None:
        """Hand the helper the next chunk number, or `end`."""
        i = self.numbers.take()
        with self._stdin:
            self._write(b"end\n" if i is None else b"%d\n" % i)

    def _write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the helper died or was closed: its exit is reported by the tracker

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("rows "):  # a chunk written: the next one
                self.give()
            self.lines.put(line)
        self.lines.put(None)

    def _read_errors(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("fleetlab-fault:"):  # a test waits for it on the reset's stderr
                print(line, file=sys.stderr, flush=True)
            self.errors.append(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> None:
        with self._stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Tracker:
    """Gathers the helpers' reports: progress of all streams, and their failures raised here."""

    def __init__(self, helpers: list[_Helper], total: int, progress: Progress | None):
        self.helpers = helpers
        self.total = total
        self.progress = progress
        self.own = 0

    def mine(self, table: str, done: int, total: int) -> None:
        """copy_chunks' progress for this process's own stream: add the helpers' and report all."""
        self.own = done
        self._drain()
        if self.progress:
            self.progress("gateways", self.own + sum(h.rows for h in self.helpers), self.total)

    def wait(self) -> int:
        """Block until every helper has finished; the gateways all streams wrote."""
        while not all(h.done for h in self.helpers):
            self._drain(block=True)
            if self.progress:
                self.progress("gateways", self.own + sum(h.rows for h in self.helpers), self.total)
        return self.own + sum(h.rows for h in self.helpers)

    def _drain(self, block: bool = False) -> None:
        for h in self.helpers:
            while not h.done:
                try:
                    line = h.lines.get(timeout=0.05) if block else h.lines.get_nowait()
                except queue.Empty:
                    break
                block = False
                self._take(h, line)

    def _take(self, h: _Helper, line: str | None) -> None:
        k, n = h.part
        where = f"stream {k + 1} of {n}"
        if line is None:  # stdout closed without "done": the helper died
            code = h.proc.wait()
            time.sleep(0.05)  # its last stderr lines
            said = scrub(next((ln for ln in reversed(h.errors) if ln.strip()), ""), h.secret)[:300]
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise DatabaseError(
                f"loading gateways failed: {where} {how}{f' ({said})' if said else ''}. Nothing was changed; "
                "run the reset again (FLEETLAB_LOAD_STREAMS=1 loads over one stream, without helper processes)."
            )
        kind, _, rest = line.partition(" ")
        if kind == "rows":
            h.rows = int(rest)
        elif kind == "done":
            rows, peak = rest.split()
            h.rows, h.peak_mib, h.done = int(rows), float(peak), True
        elif kind == "error":
            cls, _, message = rest.partition(" ")
            error = DatabaseUnavailable if cls == "DatabaseUnavailable" else DatabaseError
            raise error(f"loading gateways failed in {where}: {message} Nothing was changed.")


def _helper_main() -> int:
    """A helper: read the job from stdin, COPY its part of the gateways, report on stdout."""
    job: _Job = pickle.load(sys.stdin.buffer)

    def numbers() -> Iterator[int]:
        """The chunk numbers this process is given, until `end`; stdin closing means the parent is gone."""
        while line := sys.stdin.buffer.readline():
            if line.strip() == b"end":
                return
            yield int(line)
        os._exit(3)

    out = sys.stdout

    def report(table: str, done: int, total: int) -> None:
        out.write(f"rows {done}\n")
        out.flush()

    keyring = Keyring(current=job.key)
    try:
        with db.connect(job.url, application_name="fleetlab (load stream)") as conn:
            db.set_connection_check(conn)
            chunks = prefetch(rendered_chunks(job.fleet, "gateways", keyring, CHUNK_ROWS, numbers()), 1)
            try:
                with conn.cursor() as cur:
                    rows = copy_chunks(cur, "gateways", copy_columns("gateways"), chunks, report, total=0)
            finally:
                chunks.close()
            conn.commit()
    except FleetlabError as exc:
        out.write(f"error {type(exc).__name__} {_one_line(str(exc), job.url)}\n")
        return 1
    except psycopg.OperationalError as exc:
        out.write(f"error DatabaseUnavailable lost the connection: {_one_line(db.first_line(exc), job.url)}\n")
        return 1
    except psycopg.Error as exc:
        out.write(f"error DatabaseError PostgreSQL said: {_one_line(db.first_line(exc), job.url)}\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which words it
        out.write(f"error DatabaseError {type(exc).__name__}: {_one_line(str(exc), job.url)}\n")
        return 1
    import resource  # here: Unix only, like the helpers' use of it

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    out.write(f"done {rows} {peak:.1f}\n")
    out.flush()
    return 0


def _one_line(text: str, url: DatabaseURL) -> str:
    text = " ".join(scrub(text, url.password).split())
    return text if text.endswith((".", "!", "?")) else text + "."


if __name__ == "__main__":
    sys.exit(_helper_main())
